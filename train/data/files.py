"""Image files: listing, robust reading (corrupt files are skipped and counted), resizing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")


class DataLayoutError(FileNotFoundError):
    """A data set's directory tree is not in the expected layout; the message names the path."""


def require(path: Path, what: str) -> Path:
    """Return ``path`` or raise DataLayoutError naming it and what it should be."""
    if not path.exists():
        raise DataLayoutError(f"missing {what}: {path}")
    return path


def list_images(folder: str | Path, max_images: int = 0) -> list[Path]:
    """Sorted image files under ``folder`` (recursive); DataLayoutError when there are none."""
    root = require(Path(folder), "image folder")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise DataLayoutError(f"no images ({', '.join(IMAGE_SUFFIXES)}) under {root}")
    return files[:max_images] if max_images > 0 else files


def read_rgb(path: str | Path) -> np.ndarray:
    """(H,W,3) uint8 RGB. Raises OSError for unreadable / truncated / corrupt files."""
    try:
        with Image.open(path) as im:
            im.load()
            return np.asarray(im.convert("RGB")).copy()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
        raise OSError(f"unreadable image {path}: {err}") from err


def resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize an (H,W,3) uint8 image to (height, width, 3) (bicubic)."""
    if image.shape[:2] == (height, width):
        return image
    return np.array(Image.fromarray(image).resize((width, height), Image.BICUBIC))


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """(H,W,3) uint8 -> (3,H,W) float32 in [-1,1]."""
    return (
        torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div(127.5).sub(1.0)
    )
