"""Checks on the generator's inputs and checkpoints: every problem a ``ValueError`` subclass
that names what was wrong and what to do."""

from __future__ import annotations

import math

import torch

from dynast.config import DynaSTConfig

MAX_INPUT_MAGNITUDE = 1e4  # far outside [-1, 1], short of values that overflow in the network


class InvalidInputError(ValueError):
    """The tensors given to ``DynaST.forward`` cannot be used (shape, size, batch, values)."""


class InvalidCheckpointError(ValueError):
    """A checkpoint file exists but cannot be read (truncated, corrupt, wrong format)."""


def check_top_k(top_k: object, default: int, size: tuple[int, int]) -> int:
    """The top-k of a call: ``default`` (the config's) when ``top_k`` is None, else a positive
    int (not a bool, not a float like 2.5); either way no more than the coarsest level's
    (H/8 * W/8) positions of an input of ``size`` (H, W), the candidates of its first block."""
    if top_k is None:
        top_k = default
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise InvalidInputError(f"top_k must be a positive integer, got {top_k!r}")
    h, w = size
    if top_k > (h // 8) * (w // 8):
        raise InvalidInputError(
            f"top_k={top_k} is more than the {(h // 8) * (w // 8)} candidates an {h}x{w} input "
            f"has at its coarsest level (H/8 x W/8); use a top_k of at most "
            f"{(h // 8) * (w // 8)} or a larger input"
        )
    return top_k


def check_inputs(
    cfg: DynaSTConfig,
    ref_image: torch.Tensor,
    ref_semantics: torch.Tensor | None,
    target_semantics: torch.Tensor | None,
) -> None:
    """Raise ``InvalidInputError`` unless the inputs fit a model with ``cfg``.

    ref_image: (B, 3, H, W); ref_semantics: (B, ref_semantic_nc, H, W) or None when
    ref_semantic_nc == 0; target_semantics: (B, semantic_nc, H, W), or None to check the
    reference alone; B >= 1; H, W multiples of 8 and >= 16; floating point and finite.
    """
    named = {
        "ref_image": ref_image,
        "ref_semantics": ref_semantics,
        "target_semantics": target_semantics,
    }
    for name, t in named.items():
        if t is not None and not isinstance(t, torch.Tensor):
            raise InvalidInputError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if ref_image.dim() != 4 or ref_image.shape[1] != 3:
        raise InvalidInputError(f"ref_image must be (B, 3, H, W), got {tuple(ref_image.shape)}")
    if target_semantics is not None and (
        target_semantics.dim() != 4 or target_semantics.shape[1] != cfg.semantic_nc
    ):
        raise InvalidInputError(
            f"target_semantics must be (B, {cfg.semantic_nc}, H, W) for this model, "
            f"got {tuple(target_semantics.shape)}"
        )
    if cfg.ref_semantic_nc == 0:
        if ref_semantics is not None:
            raise InvalidInputError(
                "this model takes no reference semantics (ref_semantic_nc=0); "
                "pass ref_semantics=None"
            )
    elif (
        ref_semantics is None
        or ref_semantics.dim() != 4
        or ref_semantics.shape[1] != cfg.ref_semantic_nc
    ):
        got = None if ref_semantics is None else tuple(ref_semantics.shape)
        raise InvalidInputError(
            f"ref_semantics must be (B, {cfg.ref_semantic_nc}, H, W) for this model, got {got}"
        )
    present = {name: t for name, t in named.items() if t is not None}
    sizes = {name: tuple(t.shape[-2:]) for name, t in present.items()}
    batches = {name: t.shape[0] for name, t in present.items()}
    if len(set(sizes.values())) != 1:
        raise InvalidInputError(
            f"reference and target sizes differ: {sizes}; resize them to one size"
        )
    if len(set(batches.values())) != 1:
        raise InvalidInputError(f"batch sizes differ: {batches}")
    if ref_image.shape[0] == 0:
        raise InvalidInputError("the batch is empty (batch size 0); pass at least one image")
    h, w = sizes["ref_image"]
    if h % 8 or w % 8 or h < 16 or w < 16:
        raise InvalidInputError(
            f"image size {h}x{w} is not supported: height and width must be multiples of 8 and at "
            "least 16 (e.g. 256x256, 256x176, 512x512)"
        )
    for name, t in present.items():
        if not t.is_floating_point():
            raise InvalidInputError(f"{name} must be a floating-point tensor, got {t.dtype}")
        # Two reductions instead of an elementwise isfinite: NaN or inf anywhere makes the
        # extremes non-finite; finite values far outside the image range overflow inside.
        lo, hi = (float(v) for v in torch.aminmax(t))
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise InvalidInputError(
                f"{name} contains NaN or infinite values; clean the input first"
            )
        if max(-lo, hi) > MAX_INPUT_MAGNITUDE:
            raise InvalidInputError(
                f"{name} has values up to {max(-lo, hi):.3g}; images are in [-1, 1] and "
                f"semantics in [0, 1] (at most {MAX_INPUT_MAGNITUDE:g} is accepted): "
                "normalise the input"
            )


def check_target(
    cfg: DynaSTConfig, target_semantics: torch.Tensor, size: tuple[int, int], ref_batch: int
) -> None:
    """Raise ``InvalidInputError`` unless ``target_semantics`` (B, semantic_nc, H, W) fits a
    reference encoded at ``size`` (H, W) with batch ``ref_batch`` (1, or B)."""
    if not isinstance(target_semantics, torch.Tensor):
        raise InvalidInputError(
            f"target_semantics must be a torch.Tensor, got {type(target_semantics).__name__}"
        )
    if target_semantics.dim() != 4 or target_semantics.shape[1] != cfg.semantic_nc:
        raise InvalidInputError(
            f"target_semantics must be (B, {cfg.semantic_nc}, H, W) for this model, "
            f"got {tuple(target_semantics.shape)}"
        )
    b, (h, w) = target_semantics.shape[0], target_semantics.shape[-2:]
    if (h, w) != tuple(size):
        raise InvalidInputError(
            f"the reference was encoded at {size[0]}x{size[1]} but the target is {h}x{w}; "
            "encode the reference at the target's size"
        )
    if b == 0 or ref_batch not in (1, b):
        raise InvalidInputError(
            f"a reference of batch {ref_batch} cannot serve {b} targets (use batch 1 or {b})"
        )
    if not target_semantics.is_floating_point():
        raise InvalidInputError(
            f"target_semantics must be a floating-point tensor, got {target_semantics.dtype}"
        )
    if not bool(torch.isfinite(target_semantics.sum(dtype=torch.float32))):
        raise InvalidInputError("target_semantics contains NaN or infinite values; clean it first")
