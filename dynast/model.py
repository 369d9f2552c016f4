"""The DynaST generator (paper section 3, SPEC sections 2-4), read top to bottom.

1. Two feature pyramids encode the target semantics S_tgt (queries) and the reference
   [I_ref, S_ref] (keys/values) at four scales: level 4 (H/8) ... level 1 (H).
2. Coarse to fine, each level refines both with SPADE residual blocks, adds a position
   embedding, and runs ``n_layers`` transformer blocks that match target to reference:
   dense at level 4; at finer levels the first block is inter-scale sparse (candidates
   inherited from the coarser level's top-k), the rest inner-scale sparse (candidates
   from the neighbours' top-k). Each block prunes links with a learned gate D.
3. A decoder path collects every level's result and turns it into the image.

Besides the image, the model can return, for every block, the reference image warped by
the block's matching (Eq. 12-13), the confidence map, and the kept candidates.
"""
from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

from dynast.attention import (
    Matches,
    dense_attention,
    inner_scale_candidates,
    inter_scale_candidates,
    sparse_attention,
)
from dynast.config import LEVEL_STRIDES, DynaSTConfig
from dynast.layers import (
    SPADE,
    FeaturePyramid,
    ResidualBlock,
    SPADEResBlock,
    Upsample,
    conv3x3,
    l2_normalize,
    memory_format_of,
    positional_norm,
)

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
DENSE_MATCHES_KEPT = 16  # candidates per query kept for inspection in dense blocks


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


def _tokens(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, H*W, C)."""
    return x.flatten(2).transpose(1, 2).contiguous()


class TransformerBlock(nn.Module):
    """One dynamic (sparse) transformer block (Eq. 2-9).

    query = [l2norm(x), pos], key = [l2norm(kv), pos]; q = alpha(query), k = beta(key),
    v = eta(kv); pruning features Omega(query), Phi(key). The attention output joins a
    SPADE fallback weighted by the missing confidence:
        y = PN(Ã v + (1 - conf) * SPADE(x, S_tgt) + x);  out = ResidualBlock(y).
    """

    def __init__(self, cfg: DynaSTConfig, level: int, kind: str) -> None:
        super().__init__()
        c = cfg.channels(level)
        qk = c + cfg.pos_dim * cfg.multiplier(level)
        prune = cfg.prune_dim * cfg.multiplier(level)
        self.kind = kind
        self.level = level
        self.temperature = None if kind == "dense" else cfg.sparse_temperature
        self.prune = cfg.prune
        self.to_q = nn.Conv2d(qk, qk, 1)  # alpha
        self.to_k = nn.Conv2d(qk, qk, 1)  # beta
        self.to_v = nn.Conv2d(c, c, 1)  # eta
        self.prune_q = nn.Conv2d(qk, prune, 1)  # Omega
        self.prune_k = nn.Conv2d(qk, prune, 1)  # Phi
        self.spade = SPADE(c, cfg.semantic_nc)
        self.res_block = ResidualBlock(c)

    def _projection_precision(self, x: torch.Tensor) -> contextlib.AbstractContextManager:
        """Autocast off for a sparse block's projections: its logits are q.k / 0.01, so bf16
        rounding of q and k would be magnified 100x. Dense blocks keep the autocast dtype."""
        if self.kind == "dense":
            return contextlib.nullcontext()
        return torch.autocast(x.device.type, enabled=False)

    def _project(self, x: torch.Tensor, kv: torch.Tensor, pos: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """x, kv: (B, C, h, w); pos: (B, P, h, w) -> tokens q, k (B, hw, C+P), v (B, hw, C),
        q_prune, k_prune (B, hw, prune). In the weights' dtype when autocast is off."""
        if not torch.is_autocast_enabled(x.device.type):
            x, kv, pos = (t.to(self.to_q.weight.dtype) for t in (x, kv, pos))
        # Same layout as x (channels-last makes _tokens of the projections free).
        layout = memory_format_of(x)
        query = torch.cat([l2_normalize(x), pos], dim=1).contiguous(memory_format=layout)
        key = torch.cat([l2_normalize(kv), pos], dim=1).contiguous(memory_format=layout)
        return (
            _tokens(self.to_q(query)),
            _tokens(self.to_k(key)),
            _tokens(self.to_v(kv)),
            _tokens(self.prune_q(query)),
            _tokens(self.prune_k(key)),
        )

    def forward(
        self,
        x: torch.Tensor,
        kv: torch.Tensor,
        pos: torch.Tensor,
        target_semantics: torch.Tensor,
        links: torch.Tensor | None,
        *,
        top_k: int,
        warp_source: torch.Tensor | None,
        return_matches: bool,
    ):
        """x, kv: (B, C, h, w); pos: (1, P, h, w); links: previous matches (B, N', k) or None.

        Returns (out (B, C, h, w), AttentionResult with top_k (B, h*w, k) when top_k > 0).
        """
        b, _, h, w = x.shape
        with self._projection_precision(x):
            args = self._project(x, kv, pos.expand(b, -1, -1, -1))
        source = None if warp_source is None else _tokens(warp_source)
        if self.kind == "dense":
            result = dense_attention(
                *args,
                prune=self.prune,
                warp_source=source,
                top_k=top_k,
                keep_matches=DENSE_MATCHES_KEPT if return_matches else 0,
            )
        else:
            make = inter_scale_candidates if self.kind == "inter" else inner_scale_candidates
            result = sparse_attention(
                *args,
                make(links, h, w),
                temperature=self.temperature,
                prune=self.prune,
                warp_source=source,
                top_k=top_k,
                return_matches=return_matches,
            )
        attended = result.output.transpose(1, 2).reshape(b, -1, h, w)
        conf = result.confidence.view(b, 1, h, w)
        y = positional_norm(attended + (1 - conf) * self.spade(x, target_semantics) + x)
        return self.res_block(y), result


class MatchingLevel(nn.Module):
    """One scale: refine target and reference features, match them, fuse into the decoder."""

    def __init__(self, cfg: DynaSTConfig, level: int) -> None:
        super().__init__()
        c = cfg.channels(level)
        ref_nc = 3 + cfg.ref_semantic_nc
        self.level = level
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
        self.blocks = nn.ModuleList(TransformerBlock(cfg, level, kind) for kind in kinds)

    @staticmethod
    def block_kinds(cfg: DynaSTConfig, level: int) -> list[str]:
        if level == 4:
            return ["dense"] * cfg.n_layers
        rest = "inner" if cfg.inner_scale else "inter"
        return ["inter"] + [rest] * (cfg.n_layers - 1)


class DynaST(nn.Module):
    """The DynaST generator. See the module docstring for the walk-through."""

    def __init__(self, config: DynaSTConfig) -> None:
        super().__init__()
        self.config = cfg = config
        widths = [cfg.channels(level) for level in (1, 2, 3, 4)]
        ref_nc = 3 + cfg.ref_semantic_nc
        self.target_encoder = FeaturePyramid(cfg.semantic_nc, widths)
        self.reference_encoder = FeaturePyramid(ref_nc, widths)
        gh, gw = cfg.train_size[0] // 8, cfg.train_size[1] // 8
        self.pos_embed = nn.Parameter(torch.randn(1, cfg.pos_dim * cfg.multiplier(4), gh, gw))
        self.levels = nn.ModuleDict({f"level{level}": MatchingLevel(cfg, level) for level in (4, 3, 2, 1)})
        self.to_image = conv3x3(cfg.ngf, 3)

    # ------------------------------------------------------------------ forward
    def forward(
        self,
        ref_image: torch.Tensor,
        ref_semantics: torch.Tensor | None,
        target_semantics: torch.Tensor,
        return_warps: bool = False,
        return_matches: bool = False,
    ) -> DynaSTOutput:
        """Generate the target image.

        Args:
            ref_image: (B, 3, H, W) in [-1, 1], the exemplar.
            ref_semantics: (B, ref_semantic_nc, H, W), or None when ref_semantic_nc == 0.
            target_semantics: (B, semantic_nc, H, W). H and W: multiples of 8.
            return_warps: also return every block's warped reference.
            return_matches: also return every block's candidates for inspection.
        """
        self._check_inputs(ref_image, ref_semantics, target_semantics)
        # Spectral-normed weights are computed once per forward in eval (level 1's target
        # block runs twice); training recomputes them per call, as the release does.
        cache = contextlib.nullcontext() if self.training else parametrize.cached()
        with cache:
            return self._generate(
                *(None if t is None else t.contiguous(memory_format=torch.channels_last)
                  for t in (ref_image, ref_semantics, target_semantics)),
                return_warps,
                return_matches,
            )

    def _generate(
        self,
        ref_image: torch.Tensor,
        ref_semantics: torch.Tensor | None,
        target_semantics: torch.Tensor,
        return_warps: bool,
        return_matches: bool,
    ) -> DynaSTOutput:
        """``forward`` on checked, channels-last inputs (the convolutions' fastest layout)."""
        reference = ref_image if ref_semantics is None else torch.cat([ref_image, ref_semantics], 1)
        targets = self.target_encoder(target_semantics)  # finest first
        references = self.reference_encoder(reference)
        height, width = ref_image.shape[-2:]
        out = DynaSTOutput(image=ref_image)  # image set below

        pos = self.position_grid(height // 8, width // 8).contiguous(memory_format=torch.channels_last)
        links = None  # the previous block's top-k matches
        q = kv = x = None
        for level in (4, 3, 2, 1):
            stage = self.levels[f"level{level}"]
            if level == 4:
                q = stage.target_embed(targets[3], target_semantics)
                kv = stage.reference_embed(references[3], reference)
            else:
                q = stage.target_embed(stage.target_up(q) + targets[level - 1], target_semantics)
                kv = stage.reference_embed(stage.reference_up(kv) + references[level - 1], reference)
                if len(stage.blocks):
                    pos = stage.pos_up(pos)
            y, links = self._match(stage, q, kv, pos, target_semantics, links, ref_image, out, return_warps, return_matches)
            if level == 4:
                x = y
            else:
                fuse = stage.fuse if level > 1 else stage.target_embed
                x = fuse(stage.decoder_up(x) + y, target_semantics)
        out.image = torch.tanh(self.to_image(x)).contiguous()
        return out

    def _match(self, stage, q, kv, pos, target_semantics, links, ref_image, out, return_warps, return_matches):
        """Run a level's transformer blocks; returns (features, top-k matches for the next block)."""
        cfg = self.config
        stride = LEVEL_STRIDES[stage.level]
        y = q
        h, w = q.shape[-2:]
        source = None
        if return_warps:
            source = ref_image if stride == 1 else F.avg_pool2d(ref_image, stride, stride)
        coarse_links = links
        for i, block in enumerate(stage.blocks):
            last_block = i == len(stage.blocks) - 1
            needs_top_k = not (last_block and self._is_finest_matching_level(stage.level))
            block_links = coarse_links if block.kind == "inter" else links
            y, result = block(
                y, kv, pos, target_semantics, block_links,
                top_k=cfg.top_k if needs_top_k else 0,
                warp_source=source,
                return_matches=return_matches,
            )
            links = result.top_k
            b = y.shape[0]
            out.blocks.append(BlockInfo(stage.level, block.kind, h, w, stride))
            out.confidence.append(result.confidence.view(b, 1, h, w))
            if result.warp is not None:
                out.warps.append(result.warp.transpose(1, 2).reshape(b, -1, h, w))
            if result.matches is not None:
                out.matches.append(result.matches)
        return y, links

    def _is_finest_matching_level(self, level: int) -> bool:
        return LEVEL_STRIDES[level] == self.config.finest_match_stride

    def position_grid(self, height: int, width: int) -> torch.Tensor:
        """The learned level-4 position embedding at (height, width): (1, 8*pos_dim, height, width).

        Resized bilinearly when the input size differs from the training size.
        """
        if self.pos_embed.shape[-2:] == (height, width):
            return self.pos_embed
        return F.interpolate(self.pos_embed, size=(height, width), mode="bilinear", align_corners=False)

    def _check_inputs(self, ref_image, ref_semantics, target_semantics) -> None:
        cfg = self.config
        if ref_image.dim() != 4 or ref_image.shape[1] != 3:
            raise ValueError(f"ref_image must be (B, 3, H, W), got {tuple(ref_image.shape)}")
        if target_semantics.dim() != 4 or target_semantics.shape[1] != cfg.semantic_nc:
            raise ValueError(
                f"target_semantics must be (B, {cfg.semantic_nc}, H, W) for this model, got {tuple(target_semantics.shape)}"
            )
        if cfg.ref_semantic_nc == 0:
            if ref_semantics is not None:
                raise ValueError("this model takes no reference semantics (ref_semantic_nc=0); pass ref_semantics=None")
        elif ref_semantics is None or ref_semantics.dim() != 4 or ref_semantics.shape[1] != cfg.ref_semantic_nc:
            got = None if ref_semantics is None else tuple(ref_semantics.shape)
            raise ValueError(f"ref_semantics must be (B, {cfg.ref_semantic_nc}, H, W) for this model, got {got}")
        shapes = {"ref_image": ref_image.shape, "target_semantics": target_semantics.shape}
        if ref_semantics is not None:
            shapes["ref_semantics"] = ref_semantics.shape
        sizes = {name: tuple(s[-2:]) for name, s in shapes.items()}
        batches = {name: s[0] for name, s in shapes.items()}
        if len(set(sizes.values())) != 1:
            raise ValueError(f"reference and target sizes differ: {sizes}; resize them to one size")
        if len(set(batches.values())) != 1:
            raise ValueError(f"batch sizes differ: {batches}")
        h, w = sizes["ref_image"]
        if h % 8 or w % 8 or h < 16 or w < 16:
            raise ValueError(
                f"image size {h}x{w} is not supported: height and width must be multiples of 8 and at least 16"
                " (e.g. 256x256, 256x176, 512x512)"
            )

    # ------------------------------------------------------------- persistence
    def save_pretrained(self, directory: str | Path, dtype: torch.dtype | None = None) -> None:
        """Write ``config.json`` and ``model.safetensors`` into ``directory``.

        ``dtype`` (e.g. torch.float16) stores floating-point tensors smaller; ``from_pretrained``
        loads them back into float32.
        """
        from safetensors.torch import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.config.save(directory / CONFIG_NAME)
        state = {}
        for k, v in self.state_dict().items():
            v = v.detach().contiguous().cpu()
            state[k] = v.to(dtype) if dtype is not None and v.is_floating_point() else v
        save_file(state, str(directory / WEIGHTS_NAME), metadata={"format": "pt", "dynast_config": json.dumps(self.config.to_dict())})

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | Path,
        *,
        device: str | torch.device = "cpu",
        dtype: torch.dtype | None = None,
        revision: str | None = None,
    ) -> "DynaST":
        """Load a model saved by ``save_pretrained``: a local directory or a Hugging Face repo id.

        A local directory never touches the network. The model is returned in eval mode.
        """
        from safetensors.torch import load_file

        directory = Path(name_or_path)
        if not directory.is_dir():
            if directory.exists() or str(name_or_path).count("/") != 1:
                raise FileNotFoundError(
                    f"{name_or_path} is neither a directory with {CONFIG_NAME} and {WEIGHTS_NAME} nor a Hub repo id "
                    "(owner/name). Convert the authors' checkpoint with `python -m dynast.convert`."
                )
            from huggingface_hub import snapshot_download

            directory = Path(
                snapshot_download(str(name_or_path), revision=revision, allow_patterns=[CONFIG_NAME, WEIGHTS_NAME])
            )
        missing = [n for n in (CONFIG_NAME, WEIGHTS_NAME) if not (directory / n).is_file()]
        if missing:
            raise FileNotFoundError(f"{directory} lacks {missing}; expected the output of save_pretrained")
        model = cls(DynaSTConfig.load(directory / CONFIG_NAME))
        state = load_file(str(directory / WEIGHTS_NAME))
        state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
        model.load_state_dict(state, strict=True)
        model.to(device=device)
        if dtype is not None:
            model.to(dtype=dtype)
        return model.eval()
