"""What the generator returns: the image and, per transformer block, where it sits, its
confidence, warp and matches."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from dynast.attention import Matches


@dataclass(frozen=True)
class BlockInfo:
    """Where a transformer block sits: its level, kind ('dense' | 'inter' | 'inner') and grid."""

    level: int
    kind: str
    height: int
    width: int
    stride: int


@dataclass
class DynaSTOutput:
    """The generator's output.

    image: (B, 3, H, W) in [-1, 1].
    blocks: one BlockInfo per transformer block, coarse to fine.
    confidence: per block (B, 1, h, w), the sum of the pruned attention D*A per pixel.
    warps: per block (B, 3, h, w), the reference (average-pooled to the block's scale)
        warped with W = D exp(C) / (sum D exp(C) + eps); zero where every link is pruned.
        Empty unless ``return_warps``.
    matches: per block, each target pixel's candidates (indices into the block's reference
        grid, A, D, W), (B, h*w, n); dense blocks keep the 16 with the largest A. Empty
        unless ``return_matches``.
    """

    image: torch.Tensor
    blocks: list[BlockInfo] = field(default_factory=list)
    confidence: list[torch.Tensor] = field(default_factory=list)
    warps: list[torch.Tensor] = field(default_factory=list)
    matches: list[Matches] = field(default_factory=list)


@dataclass
class ReferenceLevel:
    """The reference side of one level: the refined reference features (B, C, h, w) that
    its blocks match against, and the level's position grid (1, P, h, w)."""

    features: torch.Tensor
    position: torch.Tensor


@dataclass
class ReferenceFeatures:
    """What ``DynaST.encode_reference`` computes once for many targets.

    image: the exemplar (B, 3, H, W) in the model's dtype (the source of the warps);
    levels: one :class:`ReferenceLevel` per level, coarse (H/8) to fine (H).
    """

    image: torch.Tensor
    levels: list[ReferenceLevel]

    @property
    def size(self) -> tuple[int, int]:
        """(H, W) of the exemplar."""
        return int(self.image.shape[-2]), int(self.image.shape[-1])

    @property
    def batch(self) -> int:
        return int(self.image.shape[0])

    @property
    def dtype(self) -> torch.dtype:
        return self.image.dtype


@dataclass
class BlockRecord:
    """What the output keeps of one transformer block (not its attention output, which the
    block consumes): its place, confidence (B, h*w), warp (B, h*w, 3) or None, matches."""

    info: BlockInfo
    confidence: torch.Tensor
    warp: torch.Tensor | None
    matches: Matches | None


def collect_output(image: torch.Tensor, records: list[BlockRecord]) -> DynaSTOutput:
    """The output object from the image and every block's record, coarse to fine."""
    out = DynaSTOutput(image=image, blocks=[r.info for r in records])
    for r in records:
        b, h, w = image.shape[0], r.info.height, r.info.width
        out.confidence.append(r.confidence.view(b, 1, h, w))
        if r.warp is not None:
            out.warps.append(r.warp.transpose(1, 2).reshape(b, -1, h, w))
        if r.matches is not None:
            out.matches.append(r.matches)
    return out
