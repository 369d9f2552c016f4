"""Face-edge semantics from a hand-drawn line drawing; layout in face_layout.

Dark lines on a light background and light lines on a dark background are both accepted: the
background is the majority side of an Otsu threshold. The drawing is fitted to the output
size (padding counts as background), binarised with Otsu and thinned to 1-pixel lines
(Zhang-Suen), so that it looks like the 1-pixel lines drawn for photos. Parts are unknown:
their channels are 1 (see :mod:`dynast.semantics.face_layout`).
"""
from __future__ import annotations

import cv2
import numpy as np

from dynast.semantics.errors import NoFaceFound
from dynast.semantics.face_layout import assemble_face
from dynast.semantics.image_io import (
    ImageSource,
    check_min_side,
    default_size,
    fit_to_size,
    load_image,
)

__all__ = ["face_semantics_from_sketch", "sketch_ink"]

MAX_INK_FRACTION = 0.35
# Share of clearly coloured pixels (HSV saturation > 64 and value > 48) above which the
# "drawing" is taken for a colour photo: 0 for drawings, 0.37-0.78 for the face photos
# in examples/.
MAX_COLOUR_FRACTION = 0.15


def colour_fraction(rgb: np.ndarray) -> float:
    """Share of the pixels of ``rgb`` (H, W, 3) uint8 that are clearly coloured."""
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    return float(((hsv[..., 1] > 64) & (hsv[..., 2] > 48)).mean())


def sketch_ink(gray: np.ndarray) -> tuple[np.ndarray, bool]:
    """The drawing as light lines on black, uint8 (H, W), and whether its lines were dark.

    ``gray``: uint8 (H, W). The background is the majority side of an Otsu threshold.
    """
    _, binary = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    dark_lines = bool((binary > 0).mean() > 0.5)
    return (255 - gray if dark_lines else gray), dark_lines


def face_semantics_from_sketch(
    image: ImageSource, size: tuple[int, int] | None = None
) -> tuple[np.ndarray, list[str]]:
    """Face-edge semantics of a line drawing: float32 (FACE_CHANNELS, H, W) in [0, 1], warnings.

    ``size``: (H, W), multiples of 8; the drawing is fitted into it keeping its aspect ratio.
    Default: the drawing's own size padded up to multiples of 8 (within the size limits of
    :func:`~dynast.semantics.image_io.check_bounded`). Raises :class:`NoFaceFound`
    when the drawing has no lines.
    """
    rgb = load_image(image)
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    check_min_side(gray, "the drawing")
    (height, width), warnings = (size, []) if size is not None else default_size(*gray.shape)
    if int(gray.max()) - int(gray.min()) < 32:
        raise NoFaceFound(
            "the drawing has no visible lines; draw the face's outlines in dark lines on "
            "white (or white lines on black)"
        )
    ink, _ = sketch_ink(gray)
    fitted, _ = fit_to_size(ink, height, width, pad="black")
    _, binary = cv2.threshold(fitted, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    lines = binary > 0
    if colour_fraction(rgb) > MAX_COLOUR_FRACTION:
        warnings.append(
            "this looks like a colour photo, not a line drawing; the result may be poor. Give "
            "it as a face photo instead (its edges are then traced), or draw dark lines on white."
        )
    elif lines.mean() > MAX_INK_FRACTION:
        warnings.append(
            "this does not look like a line drawing (too much ink); the result may be poor. "
            "Use thin lines on a plain background."
        )
    thin = cv2.ximgproc.thinning(
        lines.astype(np.uint8) * 255, thinningType=cv2.ximgproc.THINNING_ZHANGSUEN
    )
    return assemble_face(None, thin > 0), warnings
