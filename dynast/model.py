"""The DynaST generator (paper section 3, SPEC sections 2-4), read top to bottom.

1. Two feature pyramids encode the target semantics S_tgt (queries) and the reference
   [I_ref, S_ref] (keys/values) at four scales: level 4 (H/8) ... level 1 (H).
2. Coarse to fine, each level (:mod:`dynast.level`) refines both with SPADE residual blocks,
   adds a position embedding, and runs ``n_layers`` transformer blocks that match target to
   reference:
   dense at level 4; at finer levels the first block is inter-scale sparse (candidates
   inherited from the coarser level's top-k), the rest inner-scale sparse (candidates
   from the neighbours' top-k). Each block prunes links with a learned gate D.
3. A decoder path collects every level's result and turns it into the image.

Besides the image, the model can return, for every block, the reference image warped by
the block's matching (Eq. 12-13), the confidence map, and the kept candidates.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

from dynast.attention import AttentionKernels
from dynast.cast import InferenceCopies
from dynast.config import DynaSTConfig
from dynast.inputs import InvalidInputError, check_inputs, check_target, check_top_k
from dynast.layers import FeaturePyramid, conv3x3
from dynast.level import LevelState, MatchingLevel
from dynast.output import (
    BlockInfo,
    BlockRecord,
    DynaSTOutput,
    ReferenceFeatures,
    ReferenceLevel,
    collect_output,
)
from dynast.persistence import WEIGHTS_NAME, load_checked, load_pretrained, save_pretrained
from dynast.precision import autocast_off

__all__ = ["BlockInfo", "DynaST", "DynaSTOutput", "ReferenceFeatures"]


class DynaST(nn.Module):
    """The DynaST generator. See the module docstring for the walk-through.

    ``kernels`` chooses the attention implementation (default: ``dynast.attention``'s).
    """

    # Stay float32 in bf16 / fp16 inference (dynast.cast) and run with autocast off: the
    # transformer blocks' projections and the position path feeding them (dynast.precision).
    _keep_in_fp32_modules = ("pos_embed", "pos_up", "to_q", "to_k", "to_v", "prune_q", "prune_k")

    def __init__(self, config: DynaSTConfig, *, kernels: AttentionKernels | None = None) -> None:
        super().__init__()
        self.config = cfg = config
        self.kernels = kernels = kernels or AttentionKernels()
        self._inference_copies = InferenceCopies()
        widths = [cfg.channels(level) for level in (1, 2, 3, 4)]
        ref_nc = 3 + cfg.ref_semantic_nc
        self.target_encoder = FeaturePyramid(cfg.semantic_nc, widths)
        self.reference_encoder = FeaturePyramid(ref_nc, widths)
        gh, gw = cfg.train_size[0] // 8, cfg.train_size[1] // 8
        self.pos_embed = nn.Parameter(torch.randn(1, cfg.pos_dim * cfg.multiplier(4), gh, gw))
        self.levels = nn.ModuleDict(
            {f"level{level}": MatchingLevel(cfg, level, kernels) for level in (4, 3, 2, 1)}
        )
        self.to_image = conv3x3(cfg.ngf, 3)

    # ------------------------------------------------------------------ forward
    def forward(
        self,
        ref_image: torch.Tensor,
        ref_semantics: torch.Tensor | None,
        target_semantics: torch.Tensor,
        return_warps: bool = False,
        return_matches: bool = False,
        *,
        top_k: int | None = None,
        on_level: Callable[[int, int], None] | None = None,
    ) -> DynaSTOutput:
        """Generate the target image.

        Args:
            ref_image: (B, 3, H, W) in [-1, 1], the exemplar.
            ref_semantics: (B, ref_semantic_nc, H, W), or None when ref_semantic_nc == 0.
            target_semantics: (B, semantic_nc, H, W). H and W: multiples of 8.
            return_warps: also return every block's warped reference.
            return_matches: also return every block's candidates for inspection.
            top_k: matches kept per query between blocks; None: the config's ``top_k``.
            on_level: called as ``on_level(done, total)`` after each level (progress reports).

        Raises ``InvalidInputError`` (a ValueError) naming any problem with the inputs.
        """
        check_inputs(self.config, ref_image, ref_semantics, target_semantics)
        top_k = check_top_k(top_k, self.config.top_k, ref_image.shape[-2:])
        runner = self._runner(ref_image.device)
        if runner is not self:
            with autocast_off(ref_image.device):
                return runner(
                    ref_image,
                    ref_semantics,
                    target_semantics,
                    return_warps,
                    return_matches,
                    top_k=top_k,
                    on_level=on_level,
                )
        # Spectral-normed weights are computed once per forward in eval (level 1's target
        # block runs twice); training recomputes them per call, as the release does.
        with self._weights_cached():
            reference = self._encode_reference(ref_image, ref_semantics)
            return self._generate(reference, target_semantics, return_warps, return_matches,
                                  top_k, on_level)

    def encode_reference(
        self, ref_image: torch.Tensor, ref_semantics: torch.Tensor | None
    ) -> ReferenceFeatures:
        """Everything the generator computes from the exemplar alone, to reuse for many
        targets with :meth:`generate` (a video: one reference, a pose per frame).

        ref_image: (B, 3, H, W) in [-1, 1]; ref_semantics: (B, ref_semantic_nc, H, W) or
        None. Call it in the same precision context as :meth:`generate`.
        """
        check_inputs(self.config, ref_image, ref_semantics, None)
        runner = self._runner(ref_image.device)
        if runner is not self:
            with autocast_off(ref_image.device):
                return runner.encode_reference(ref_image, ref_semantics)
        with self._weights_cached():
            return self._encode_reference(ref_image, ref_semantics)

    def generate(
        self,
        reference: ReferenceFeatures,
        target_semantics: torch.Tensor,
        return_warps: bool = False,
        return_matches: bool = False,
        *,
        top_k: int | None = None,
        on_level: Callable[[int, int], None] | None = None,
    ) -> DynaSTOutput:
        """:meth:`forward` with the reference side already computed by
        :meth:`encode_reference`: the same output as ``forward(ref_image, ref_semantics,
        target_semantics, ...)``. ``target_semantics``: (B, semantic_nc, H, W); a reference
        of batch 1 serves every target of the batch.
        """
        check_target(self.config, target_semantics, reference.size, reference.batch)
        top_k = check_top_k(top_k, self.config.top_k, target_semantics.shape[-2:])
        runner = self._runner(target_semantics.device)
        if runner is not self:
            with autocast_off(target_semantics.device):
                return runner.generate(reference, target_semantics, return_warps,
                                       return_matches, top_k=top_k, on_level=on_level)
        if reference.dtype != self.to_image.weight.dtype:
            raise InvalidInputError(
                f"the reference was encoded in {reference.dtype} but this call runs in "
                f"{self.to_image.weight.dtype}; encode it in the same precision context"
            )
        with self._weights_cached():
            return self._generate(reference, target_semantics, return_warps, return_matches,
                                  top_k, on_level)

    def _weights_cached(self) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext() if self.training else parametrize.cached()

    def _encode_reference(
        self, ref_image: torch.Tensor, ref_semantics: torch.Tensor | None
    ) -> ReferenceFeatures:
        dtype = self.to_image.weight.dtype
        ref_image, ref_semantics = (
            None if t is None else t.to(dtype).contiguous(memory_format=torch.channels_last)
            for t in (ref_image, ref_semantics)
        )
        reference = ref_image if ref_semantics is None else torch.cat([ref_image, ref_semantics], 1)
        features = self.reference_encoder(reference)  # finest first
        h, w = ref_image.shape[-2:]
        pos = self.position_grid(h // 8, w // 8).contiguous(memory_format=torch.channels_last)
        levels: list[ReferenceLevel] = []
        for level in self.levels.values():  # coarse (H/8) to fine (H)
            coarser = levels[-1] if levels else None
            levels.append(level.encode_reference(coarser, features.pop(), reference, pos))
        return ReferenceFeatures(ref_image, levels)

    def _generate(
        self,
        reference: ReferenceFeatures,
        target_semantics: torch.Tensor,
        return_warps: bool,
        return_matches: bool,
        top_k: int,
        on_level: Callable[[int, int], None] | None,
    ) -> DynaSTOutput:
        dtype = self.to_image.weight.dtype
        target_semantics = target_semantics.to(dtype).contiguous(memory_format=torch.channels_last)
        targets = self.target_encoder(target_semantics)  # finest first
        state = LevelState(None, None, None)
        records: list[BlockRecord] = []
        for i, (level, ref_level) in enumerate(zip(self.levels.values(), reference.levels)):
            state, done = level(
                state,
                targets.pop(),  # popped: each scale's features are freed after its level
                ref_level,
                target_semantics,
                top_k=top_k,
                ref_image=reference.image if return_warps else None,
                return_matches=return_matches,
            )
            records.extend(done)
            if on_level is not None:
                on_level(i + 1, len(self.levels))
        image = torch.tanh(self.to_image(state.decoded)).contiguous()
        return collect_output(image, records)

    def _runner(self, device: torch.device) -> "DynaST":
        """self; or, under autocast in eval mode with gradients off, this model's copy cast
        once to the autocast dtype (``dynast.cast``), rebuilt when the weights change."""
        if self.training or torch.is_grad_enabled() or not torch.is_autocast_enabled(device.type):
            return self
        return self._inference_copies.get(self, torch.get_autocast_dtype(device.type))

    def position_grid(self, height: int, width: int) -> torch.Tensor:
        """The learned level-4 position embedding at (height, width): (1, 8*pos_dim, height, width).

        Resized bilinearly when the input size differs from the training size.
        """
        if self.pos_embed.shape[-2:] == (height, width):
            return self.pos_embed
        return F.interpolate(
            self.pos_embed, size=(height, width), mode="bilinear", align_corners=False
        )

    # ------------------------------------------------------------- persistence
    def save_pretrained(
        self, directory: str | Path, dtype: torch.dtype | None = None, task: str | None = None
    ) -> None:
        """Write ``config.json`` and ``model.safetensors`` into ``directory``.

        ``dtype`` (e.g. torch.float16) stores floating-point tensors smaller; ``from_pretrained``
        loads them back into float32. ``task``: the :mod:`dynast.tasks` entry it serves.
        """
        save_pretrained(self, directory, dtype, task)

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | Path,
        *,
        device: str | torch.device = "cpu",
        dtype: torch.dtype | None = None,
        revision: str | None = None,
        kernels: AttentionKernels | None = None,
    ) -> "DynaST":
        """Load a model saved by ``save_pretrained``: a local directory or a Hugging Face repo id.

        A local directory never touches the network. The model is returned in eval mode.
        A missing directory or file raises FileNotFoundError; an unreadable (e.g. truncated)
        weights file, a bad config.json or tensors that do not fit ``InvalidCheckpointError``.
        """
        config, state = load_pretrained(name_or_path, revision=revision)
        model = cls(config, kernels=kernels)
        load_checked(model, state, f"{name_or_path}/{WEIGHTS_NAME}")
        model.to(device=device)
        if dtype is not None:
            model.to(dtype=dtype)
        return model.eval()
