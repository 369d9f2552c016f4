"""Style-transfer semantics: the content image itself (SPEC section 1)."""
from __future__ import annotations

import numpy as np

from dynast.semantics.image_io import ImageSource, default_size, fit_to_size, load_image

__all__ = ["STYLE_CHANNELS", "style_semantics"]

STYLE_CHANNELS = 3


def style_semantics(image: ImageSource, size: tuple[int, int] | None = None) -> np.ndarray:
    """The content image as semantics: float32 (3, H, W) RGB in [-1, 1].

    ``size``: (H, W), multiples of 8; the image is fitted with ``fit_to_size`` (edge padding;
    call it yourself for the transform). Default: the image's own size padded up to
    multiples of 8, scaled down to the size limits of
    :func:`~dynast.semantics.image_io.check_bounded` if needed.
    """
    rgb = load_image(image)
    height, width = size if size is not None else default_size(*rgb.shape[:2])[0]
    fitted, _ = fit_to_size(rgb, height, width)
    return fitted.transpose(2, 0, 1).astype(np.float32) / np.float32(127.5) - 1.0
