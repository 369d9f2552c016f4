"""Load user images safely and fit them to the model size.

:func:`load_image` turns a path, bytes, a PIL image or a numpy array into an RGB uint8 array
(H, W, 3): EXIF orientation applied; transparency composited on white; L, P, CMYK, 16-bit
and float inputs converted (a float image whose values lie in [0, 1] is scaled by 255).
Only regular files are read (never a FIFO or device), at most ``MAX_BYTES``. Decompression
bombs and absurd sizes raise :class:`~dynast.semantics.errors.ImageTooLarge`; anything
undecodable raises :class:`~dynast.semantics.errors.UnreadableImage`. Nothing is executed
or unpickled.

Output sizes (the semantics' H x W) are bounded everywhere: at most ``MAX_SIZE_SIDE`` pixels
on a side and ``MAX_SIZE_PIXELS`` pixels in all (:func:`check_bounded`); without a size the
input's own size is used, scaled down to fit those limits if needed (:func:`default_size`).

:func:`fit_to_size` scales an image to fit inside H x W (multiples of 8) keeping its aspect
ratio, pads the rest, and returns a :class:`FitTransform` that maps pixel coordinates,
keypoints and outputs between the original image and the fitted one.
"""
from __future__ import annotations

import io
import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from PIL import Image, ImageOps

from dynast.files import read_regular_file
from dynast.semantics.errors import ImageTooLarge, ImageTooSmall, InvalidSize, UnreadableImage
from dynast.semantics.keypoints import Keypoints

__all__ = [
    "MAX_PIXELS",
    "MAX_BYTES",
    "MAX_SIZE_SIDE",
    "MAX_SIZE_PIXELS",
    "MIN_IMAGE_SIDE",
    "ImageSource",
    "FitTransform",
    "load_image",
    "fit_to_size",
    "plan_fit",
    "check_size",
    "check_bounded",
    "check_min_side",
    "default_size",
    "parse_size",
    "padded_size",
]

MAX_PIXELS = 50_000_000
MAX_BYTES = 100 * 1024 * 1024
MAX_SIZE_SIDE = 4096  # largest output side (semantics H or W)
MAX_SIZE_PIXELS = 2048 * 2048  # largest output H * W (20 pose channels: 336 MB of float32)
MIN_IMAGE_SIDE = 16  # smaller photos and drawings carry no usable content
ImageSource = str | Path | bytes | Image.Image | np.ndarray
PadMode = Literal["edge", "white", "black"]


def _too_large(w: int, h: int) -> ImageTooLarge:
    return ImageTooLarge(
        f"image is {w}x{h} = {w * h} pixels, more than the limit of {MAX_PIXELS}; "
        "downscale it (a few megapixels is plenty) and try again"
    )


def _open_pil(source: str | Path | bytes) -> Image.Image:
    if isinstance(source, bytes):
        if len(source) > MAX_BYTES:
            raise ImageTooLarge(
                f"image data is {len(source)} bytes, over {MAX_BYTES}; use a smaller file"
            )
        data, name = source, "the uploaded data"
    else:
        name = str(source)
        data = read_regular_file(source, MAX_BYTES, UnreadableImage, ImageTooLarge)
    stream = io.BytesIO(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(stream)
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise _too_large(w, h)
            img.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLarge(
            f"{name} declares an enormous size ({exc}); downscale it and try again"
        ) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, ImageTooLarge):
            raise
        raise UnreadableImage(
            f"{name} is not a readable image ({_reason(exc)}); upload a JPEG, PNG or WebP file"
        ) from exc
    return img


def _reason(exc: BaseException) -> str:
    """PIL's reason without its internals ("cannot identify image file <_io.BytesIO object at
    0x7f...>" becomes "not a known image format")."""
    if isinstance(exc, Image.UnidentifiedImageError):
        return "not a known image format"
    return re.sub(r"\s*<[^<>]* object at 0x[0-9a-fA-F]+>", "", str(exc)) or "damaged data"


def _pil_to_rgb(img: Image.Image) -> np.ndarray:
    try:
        img = ImageOps.exif_transpose(img)
    except Exception:  # noqa: BLE001 - a broken EXIF block must not reject the image
        pass
    try:
        return _convert_pil(img)
    except (OSError, ValueError) as exc:
        raise UnreadableImage(
            f"cannot convert a {img.mode} image to RGB ({exc}); save it as an RGB PNG or JPEG"
        ) from exc


def _convert_pil(img: Image.Image) -> np.ndarray:
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return _gray_to_rgb(_wide_gray_to_u8(np.asarray(img, dtype=np.float64), img.mode))
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))


def _wide_gray_to_u8(arr: np.ndarray, mode: str) -> np.ndarray:
    """16-bit, 32-bit integer or float gray (H, W) to uint8 (H, W).

    16-bit data spans 0..65535; float data within [0, 1] is scaled by 255; other integer or
    float data is taken as 0..255 if it fits, else as 0..65535.
    """
    if not np.isfinite(arr).all():
        raise UnreadableImage("the image contains NaN or infinite values; save it as 8-bit")
    lo, hi = float(arr.min(initial=0)), float(arr.max(initial=0))
    if mode.startswith("I;16") or hi > 255:
        peak = 65535.0
    elif mode == "F" and lo >= 0.0 and hi <= 1.0:
        peak = 1.0
    else:
        peak = 255.0
    return np.clip(arr / peak * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _gray_to_rgb(gray: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))


def _array_to_rgb(arr: np.ndarray) -> np.ndarray:
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise UnreadableImage(
            f"an image array must be (H, W), (H, W, 3) or (H, W, 4), got shape {arr.shape}"
        )
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise UnreadableImage(f"image array is empty (shape {arr.shape})")
    if arr.shape[0] * arr.shape[1] > MAX_PIXELS:
        raise _too_large(arr.shape[1], arr.shape[0])
    if arr.dtype == np.uint8:
        u8 = arr
    elif arr.dtype == np.uint16:
        u8 = (arr.astype(np.uint32) * 255 + 32767) // 65535
    elif np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise UnreadableImage("image array contains NaN or infinite values")
        u8 = np.clip(arr.astype(np.float64) * 255.0 + 0.5, 0, 255)
    else:
        raise UnreadableImage(
            f"image arrays must be uint8, uint16 or float in [0, 1], got {arr.dtype}"
        )
    u8 = np.asarray(u8).astype(np.uint8)
    if u8.ndim == 2:
        return _gray_to_rgb(u8)
    if u8.shape[2] == 4:
        alpha = u8[:, :, 3:4].astype(np.float32) / 255.0
        return (u8[:, :, :3] * alpha + 255.0 * (1 - alpha) + 0.5).astype(np.uint8)
    return np.ascontiguousarray(u8)


def load_image(source: ImageSource) -> np.ndarray:
    """Load an image as RGB uint8 (H, W, 3), values 0..255.

    ``source``: a file path, the file's bytes, a PIL image, or a numpy array ((H, W) gray,
    (H, W, 3) RGB or (H, W, 4) RGBA; uint8, uint16, or float in [0, 1]).
    """
    if isinstance(source, np.ndarray):
        return _array_to_rgb(source)
    if isinstance(source, Image.Image):
        w, h = source.size
        if w * h > MAX_PIXELS:
            raise _too_large(w, h)
        return _pil_to_rgb(source)
    if isinstance(source, (str, Path, bytes)):
        return _pil_to_rgb(_open_pil(source))
    raise UnreadableImage(
        f"cannot load an image from a {type(source).__name__}; pass a path, bytes, a PIL "
        "image or a numpy array"
    )


def check_bounded(height: int, width: int) -> None:
    """Raise :class:`InvalidSize` unless H and W are positive integers within the limits.

    Limits: each side at most ``MAX_SIZE_SIDE`` and H * W at most ``MAX_SIZE_PIXELS``.
    """
    ok = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (height, width))
    if not ok or height < 1 or width < 1:
        raise InvalidSize(f"size must be two positive integers, got {height!r}x{width!r} (HxW)")
    if max(height, width) > MAX_SIZE_SIDE or height * width > MAX_SIZE_PIXELS:
        raise InvalidSize(
            f"size {height}x{width} (HxW) is too large: at most {MAX_SIZE_SIDE} pixels on a "
            f"side and {MAX_SIZE_PIXELS} pixels in all (e.g. 2048x2048); the models work at "
            "a few hundred pixels"
        )


def check_size(height: int, width: int) -> None:
    """Raise :class:`InvalidSize` unless both are positive multiples of 8 within the limits."""
    check_bounded(height, width)
    if height % 8 or width % 8:
        raise InvalidSize(
            f"model size must be positive multiples of 8, got {height}x{width} (HxW); "
            "e.g. 256x256 or 512x384"
        )


def default_size(height: int, width: int) -> tuple[tuple[int, int], list[str]]:
    """The output size used when none is given, and warnings.

    The image's own size padded up to multiples of 8; if that exceeds the limits of
    :func:`check_bounded`, the largest multiple-of-8 size of the same aspect within them
    (and a warning says so).
    """
    size = padded_size(height, width)
    h, w = size
    if max(h, w) <= MAX_SIZE_SIDE and h * w <= MAX_SIZE_PIXELS:
        return size, []
    scale = min(MAX_SIZE_SIDE / max(height, width), math.sqrt(MAX_SIZE_PIXELS / (height * width)))
    new = (max(8, 8 * math.floor(height * scale / 8)), max(8, 8 * math.floor(width * scale / 8)))
    return new, [
        f"the image is {width}x{height} pixels; its semantics are made at {new[1]}x{new[0]} "
        f"(the limit is {MAX_SIZE_SIDE} on a side, {MAX_SIZE_PIXELS} pixels in all)"
    ]


def check_min_side(image: np.ndarray, what: str = "the image") -> None:
    """Raise :class:`ImageTooSmall` if ``image`` (H, W[, C]) is under ``MIN_IMAGE_SIDE``."""
    h, w = image.shape[:2]
    if min(h, w) < MIN_IMAGE_SIDE:
        raise ImageTooSmall(
            f"{what} is only {w}x{h} pixels, too small to show anything; use an image at "
            f"least {MIN_IMAGE_SIDE} pixels on each side"
        )


def parse_size(text: str, multiple_of_8: bool = True) -> tuple[int, int]:
    """Parse ``"HxW"`` (e.g. ``"256x176"``) into (height, width).

    With ``multiple_of_8`` both must be positive multiples of 8, otherwise positive.
    """
    parts = text.lower().split("x")
    try:
        if len(parts) != 2 or any(len(p.strip()) > 9 for p in parts):
            raise ValueError(text)
        height, width = (int(p) for p in parts)
    except ValueError:
        raise InvalidSize(f"size must look like HxW, e.g. 256x256, got {text!r}") from None
    if multiple_of_8:
        check_size(height, width)
    elif height < 1 or width < 1 or max(height, width) > MAX_PIXELS:
        raise InvalidSize(f"size must be positive and at most {MAX_PIXELS}, got {text!r}")
    return height, width


def padded_size(height: int, width: int) -> tuple[int, int]:
    """The image's own size rounded up to multiples of 8 (padding only, no scaling)."""
    return 8 * math.ceil(height / 8), 8 * math.ceil(width / 8)


@dataclass(frozen=True)
class FitTransform:
    """How an image of ``src_size`` was scaled and padded into ``dst_size``.

    Sizes are (height, width). The content occupies rows ``top .. top + content_height`` and
    columns ``left .. left + content_width`` of the fitted image. Point mapping is
    centre-aligned, per axis: ``x_dst = (x_src + 0.5) * content_width / src_width - 0.5 + left``.
    """

    src_size: tuple[int, int]
    dst_size: tuple[int, int]
    top: int
    left: int
    content_height: int
    content_width: int

    def to_dst(self, xy: np.ndarray) -> np.ndarray:
        """Map (N, 2) source pixel coordinates (x, y) into the fitted image."""
        xy = np.asarray(xy, np.float64)
        return (xy + 0.5) * self._scales - 0.5 + np.array([self.left, self.top])

    def to_src(self, xy: np.ndarray) -> np.ndarray:
        """Map (N, 2) fitted-image coordinates (x, y) back to the source image."""
        xy = np.asarray(xy, np.float64)
        return (xy - np.array([self.left, self.top]) + 0.5) / self._scales - 0.5

    @property
    def _scales(self) -> np.ndarray:
        return np.array(
            [self.content_width / self.src_size[1], self.content_height / self.src_size[0]]
        )

    def keypoints_to_dst(self, keypoints: Keypoints) -> Keypoints:
        """Keypoints of the source image in fitted-image pixels."""
        return keypoints.map_xy(self.to_dst)

    def keypoints_to_src(self, keypoints: Keypoints) -> Keypoints:
        """Keypoints of the fitted image in source-image pixels."""
        return keypoints.map_xy(self.to_src)

    def crop(self, array: np.ndarray) -> np.ndarray:
        """Remove the padding from an output at the fitted size.

        ``array``: (..., H, W) channel-first (C, H, W) / (B, C, H, W), or (H, W, C) uint8.
        Returns the content region in the same layout.
        """
        rows = slice(self.top, self.top + self.content_height)
        cols = slice(self.left, self.left + self.content_width)
        if array.ndim == 3 and array.shape[-1] in (1, 3, 4) and array.shape[:2] == self.dst_size:
            return array[rows, cols]
        return array[..., rows, cols]

    def restore(self, image: np.ndarray) -> np.ndarray:
        """Crop the padding from an (H, W, 3) uint8 output and resize it to the source size."""
        content = self.crop(image)
        h, w = self.src_size
        interp = cv2.INTER_CUBIC if self.content_height < h else cv2.INTER_AREA
        return cv2.resize(content, (w, h), interpolation=interp)


def fit_to_size(
    image: np.ndarray, height: int, width: int, pad: PadMode = "edge"
) -> tuple[np.ndarray, FitTransform]:
    """Scale ``image`` to fit inside height x width keeping its aspect ratio, then pad.

    ``image``: uint8 (h, w, 3) RGB (from :func:`load_image`) or (h, w) gray.
    ``pad``: "edge" repeats the border pixels, "white" / "black" fill with a constant.
    Returns the fitted uint8 image (height, width[, 3]), centred, and its :class:`FitTransform`.
    """
    h, w = image.shape[:2]
    tf = plan_fit(h, w, height, width)
    ch, cw, top, left = tf.content_height, tf.content_width, tf.top, tf.left
    if (ch, cw) != (h, w):
        interp = cv2.INTER_AREA if ch < h else cv2.INTER_CUBIC
        image = cv2.resize(image, (cw, ch), interpolation=interp)
    border = (top, height - ch - top, left, width - cw - left)
    if pad == "edge":
        fitted = cv2.copyMakeBorder(image, *border, cv2.BORDER_REPLICATE)
    elif pad in ("white", "black"):
        value = 255 if pad == "white" else 0
        fitted = cv2.copyMakeBorder(image, *border, cv2.BORDER_CONSTANT, value=(value,) * 3)
    else:
        raise ValueError(f"pad must be 'edge', 'white' or 'black', got {pad!r}")
    return fitted, tf


def plan_fit(src_height: int, src_width: int, height: int, width: int) -> FitTransform:
    """The :class:`FitTransform` that :func:`fit_to_size` uses for these sizes, without an image.

    Useful for keypoints given in the pixels of a photo of known size.
    """
    check_size(height, width)
    if src_height < 1 or src_width < 1:
        raise InvalidSize(f"source size must be positive, got {src_height}x{src_width} (HxW)")
    scale = min(height / src_height, width / src_width)
    ch = min(height, max(1, round(src_height * scale)))
    cw = min(width, max(1, round(src_width * scale)))
    top, left = (height - ch) // 2, (width - cw) // 2
    return FitTransform((src_height, src_width), (height, width), top, left, ch, cw)
