"""One matching level of the generator (paper section 3.2; SPEC section 3): refine the target
and reference features with SPADE residual blocks, add the position embedding, run the level's
transformer blocks (dense, inter-scale, inner-scale), and fuse the result into the decoder path.
``dynast.model.DynaST`` runs four of them, coarse to fine.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from dynast.attention import AttentionKernels
from dynast.config import LEVEL_STRIDES, DynaSTConfig
from dynast.layers import SPADEResBlock, Upsample
from dynast.output import BlockInfo, BlockRecord, ReferenceLevel
from dynast.transformer import TransformerBlock

__all__ = ["LevelState", "MatchingLevel"]


@dataclass
class LevelState:
    """What a level hands to the next finer one. Features (B, C, h, w), channels-last.

    target: the refined target features (queries); decoded: the decoder path; links: the
    last block's top-k matches (B, h*w, k), or None.
    """

    target: torch.Tensor | None
    decoded: torch.Tensor | None
    links: torch.Tensor | None


class MatchingLevel(nn.Module):
    """One scale: refine target and reference features, match them, fuse into the decoder."""

    def __init__(self, cfg: DynaSTConfig, level: int, kernels: AttentionKernels) -> None:
        super().__init__()
        c = cfg.channels(level)
        ref_nc = 3 + cfg.ref_semantic_nc
        self.level = level
        self.stride = LEVEL_STRIDES[level]
        self.is_finest_matching = self.stride == cfg.finest_match_stride
        self.target_embed = SPADEResBlock(c, cfg.semantic_nc)
        self.reference_embed = SPADEResBlock(c, ref_nc)
        matches = cfg.matches_at(level)
        if level < 4:
            coarser = cfg.channels(level + 1)
            self.target_up = Upsample(coarser, c)
            self.reference_up = Upsample(coarser, c)
            self.decoder_up = Upsample(coarser, c)
            if matches:
                pos_coarse = cfg.pos_dim * cfg.multiplier(level + 1)
                self.pos_up = Upsample(pos_coarse, cfg.pos_dim * cfg.multiplier(level), leaky=True)
        if level in (2, 3):
            # Level 1 fuses with its own target_embed, as the released generator does.
            self.fuse = SPADEResBlock(c, cfg.semantic_nc)
        kinds = self.block_kinds(cfg, level) if matches else []
        self.blocks = nn.ModuleList(TransformerBlock(cfg, level, kind, kernels) for kind in kinds)

    @staticmethod
    def block_kinds(cfg: DynaSTConfig, level: int) -> list[str]:
        if level == 4:
            return ["dense"] * cfg.n_layers
        rest = "inner" if cfg.inner_scale else "inter"
        return ["inter"] + [rest] * (cfg.n_layers - 1)

    def encode_reference(
        self,
        coarser: ReferenceLevel | None,
        reference_features: torch.Tensor,
        reference: torch.Tensor,
        position: torch.Tensor,
    ) -> ReferenceLevel:
        """The reference side of this level, which no target changes.

        coarser: the coarser level's (None at level 4); reference_features: the reference
        encoder's (B, C, h, w) at this scale; reference: [I_ref, S_ref] (B, 3 + S_ref, H, W);
        position: level 4's position grid (1, P, H/8, W/8), used at level 4 only.
        Returns the refined reference features (B, C, h, w) and this level's position grid.
        """
        kv, pos = reference_features, position
        if coarser is not None:  # every level but the coarsest
            kv = self.reference_up(coarser.features) + kv
            pos = self.pos_up(coarser.position) if len(self.blocks) else coarser.position
        return ReferenceLevel(self.reference_embed(kv, reference), pos)

    def forward(
        self,
        coarser: LevelState,
        target_features: torch.Tensor,
        ref_level: ReferenceLevel,
        target_semantics: torch.Tensor,
        *,
        top_k: int,
        ref_image: torch.Tensor | None,
        return_matches: bool,
    ) -> tuple[LevelState, list[BlockRecord]]:
        """Refine the target, match it to the reference and fuse at this level.

        coarser: the coarser level's state (level 4: empty).
        target_features: the target encoder's (B, C, h, w) at this scale.
        ref_level: this level's :meth:`encode_reference` (batch B, or 1 for every target).
        target_semantics: (B, S, H, W).
        top_k: matches each block hands on; the finest matching block hands on none.
        ref_image: (B or 1, 3, H, W) to warp with each block's weights, or None (no warps).
        """
        q = target_features
        del target_features  # not held once q is refined
        if coarser.target is not None:  # every level but the coarsest
            q = self.target_up(coarser.target) + q
        q = self.target_embed(q, target_semantics)
        kv, pos = ref_level.features, ref_level.position
        if kv.shape[0] != q.shape[0]:  # one reference for a batch of targets
            kv = kv.expand(q.shape[0], -1, -1, -1)

        source = None
        if ref_image is not None:
            source = (
                ref_image if self.stride == 1 else F.avg_pool2d(ref_image, self.stride, self.stride)
            )
            if source.shape[0] != q.shape[0]:
                source = source.expand(q.shape[0], -1, -1, -1)
        y, links, records = q, coarser.links, []
        h, w = q.shape[-2:]
        for i, block in enumerate(self.blocks):
            last = i == len(self.blocks) - 1
            y, result = block(
                y,
                kv,
                pos,
                target_semantics,
                coarser.links if block.kind == "inter" else links,
                top_k=0 if last and self.is_finest_matching else top_k,
                warp_source=source,
                return_matches=return_matches,
            )
            links = result.top_k
            info = BlockInfo(self.level, block.kind, h, w, self.stride)
            records.append(BlockRecord(info, result.confidence, result.warp, result.matches))
            del result  # its attention output is consumed: free it before the next block

        if coarser.decoded is None:
            decoded = y
        else:
            fuse = self.fuse if self.level > 1 else self.target_embed
            decoded = fuse(self.decoder_up(coarser.decoded) + y, target_semantics)
        return LevelState(q, decoded, links), records
