"""User inputs as every task loads them: one image loader, one way to label errors."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
from PIL import Image

from dynast.errors import PipelineError
from dynast.semantics.errors import SemanticsError
from dynast.semantics.image_io import ImageSource, load_image

__all__ = ["MIN_SIDE", "MAX_SEMANTICS_SIDE", "load_user_image", "labelled", "to_uint8_preview"]

MIN_SIDE = 16  # smaller inputs carry no usable content
MAX_SEMANTICS_SIDE = 2048  # larger photos are downscaled (with a notice) before extraction

T = TypeVar("T")


def labelled(label: str, fn: Callable[..., T], *args: Any) -> T:
    """Call ``fn(*args)``; a :class:`SemanticsError` gets ``label`` ("Reference photo", ...)
    put in front of its message, so the user knows which input it is about."""
    try:
        return fn(*args)
    except SemanticsError as exc:
        msg = str(exc)
        raise type(exc)(f"{label}: {msg[:1].upper()}{msg[1:]}") from exc


def load_user_image(source: ImageSource | None, what: str, warnings: list[str]) -> np.ndarray:
    """Load a user image as RGB uint8 (H, W, 3), refusing tiny ones and downscaling huge ones
    (with a notice appended to ``warnings``). ``what`` names the input ("reference photo")."""
    if source is None:
        raise PipelineError(f"No {what} was given: upload one (PNG, JPEG or WebP).")
    img = labelled(f"The {what}", load_image, source)
    h, w = img.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise PipelineError(
            f"The {what} is only {w}x{h} pixels, too small to show anything; upload an image "
            f"at least {MIN_SIDE} pixels on each side (a few hundred is best)."
        )
    if max(h, w) > MAX_SEMANTICS_SIDE:
        s = MAX_SEMANTICS_SIDE / max(h, w)
        nw, nh = max(1, round(w * s)), max(1, round(h * s))
        img = np.asarray(Image.fromarray(img).resize((nw, nh), Image.Resampling.LANCZOS))
        warnings.append(
            f"The {what} is {w}x{h} pixels; it was downscaled to {nw}x{nh} (the model works "
            "at a few hundred pixels anyway)."
        )
    return img


def to_uint8_preview(semantics: np.ndarray) -> np.ndarray:
    """float (3, H, W) in [-1, 1] -> uint8 (H, W, 3), to show image-like semantics."""
    arr = (np.asarray(semantics, np.float32).transpose(1, 2, 0) + 1.0) * 127.5
    return np.clip(arr + 0.5, 0, 255).astype(np.uint8)
