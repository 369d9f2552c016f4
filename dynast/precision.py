"""The precision policy of the generator, for inference and training alike.

**Why parts stay in float32.** A sparse attention block's logits are ``q.k / t`` with the
release's temperature ``t = 0.01`` (``DynaSTConfig.sparse_temperature``): every rounding error
in the query and key projections is multiplied by 100 before the softmax, the pruning gates
take their signs, and the top-k matches chosen from those logits are inherited by every finer
level. bf16 or fp16 rounding (8 or 11 mantissa bits), and TF32's 10-bit mantissa on CUDA, flip
matches there. So, whatever the precision asked for:

- the modules the model lists in ``_keep_in_fp32_modules`` (the transformer blocks'
  projections and the position path) keep float32 weights in the lower-precision copy
  (:mod:`dynast.cast`) and run with autocast off (:func:`autocast_off`);
- the attention itself (logits, softmax, top-k, the warps) runs in float32 (:func:`float32`);
- TF32 is off around the attention blocks on CUDA (:func:`tf32_disabled`).

Everything else (the encoders, SPADE, the decoder: the convolutions that cost the time) runs
in the precision asked for: ``autocast(device, precision)`` wraps a model call, in inference
(:func:`dynast.inference.runtime.precision_context`) and in training.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Literal

import torch

Precision = Literal["fp32", "bf16", "fp16"]
PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "fp16")
DTYPES: dict[str, torch.dtype] = {
    "fp32": torch.float32,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
}


def autocast(device: torch.device | str, precision: str) -> contextlib.AbstractContextManager:
    """The context a model call runs in for ``precision`` on ``device``: autocast off for fp32,
    ``torch.autocast(device.type, dtype)`` for bf16 / fp16 (an eval-mode DynaST with gradients
    off then runs on its weights cast once, see ``DynaST.forward``)."""
    if precision not in DTYPES:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    device_type = torch.device(device).type
    if precision == "fp32":
        return torch.autocast(device_type, enabled=False)
    return torch.autocast(device_type, dtype=DTYPES[precision])


def autocast_off(device: torch.device | str) -> contextlib.AbstractContextManager:
    """Autocast off: the enclosed operations run in their inputs' dtypes."""
    return torch.autocast(torch.device(device).type, enabled=False)


@contextlib.contextmanager
def float32(*tensors: torch.Tensor) -> Iterator[list[torch.Tensor]]:
    """Autocast off, and ``tensors`` promoted to at least float32 (float64 stays)."""
    with autocast_off(tensors[0].device):
        yield [t.to(torch.promote_types(t.dtype, torch.float32)) for t in tensors]


def _tf32_switches() -> list[tuple[object, str, object]]:
    """(object, attribute, value meaning 'no TF32') for cuDNN convolutions and CUDA matmuls."""
    conv = getattr(torch.backends.cudnn, "conv", None)
    if conv is not None and hasattr(conv, "fp32_precision"):  # torch >= 2.9
        return [
            (conv, "fp32_precision", "ieee"),
            (torch.backends.cuda.matmul, "fp32_precision", "ieee"),
        ]
    return [
        (torch.backends.cudnn, "allow_tf32", False),
        (torch.backends.cuda.matmul, "allow_tf32", False),
    ]


def tf32_enabled() -> bool:
    """Whether cuDNN convolutions or CUDA matmuls may use TF32 now."""
    return any(getattr(obj, attr) != off for obj, attr, off in _tf32_switches())


@contextlib.contextmanager
def tf32_disabled() -> Iterator[None]:
    """TF32 off inside for cuDNN convolutions and CUDA float32 matmuls (Ampere and later use
    it by default for convolutions; see the module docstring). Process-wide flags, restored on
    exit; no effect on CPU computations."""
    switches = _tf32_switches()
    saved = [getattr(obj, attr) for obj, attr, _ in switches]
    try:
        for obj, attr, off in switches:
            setattr(obj, attr, off)
        yield
    finally:
        for (obj, attr, _), value in zip(switches, saved):
            setattr(obj, attr, value)
