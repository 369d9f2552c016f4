"""The paper's 15-channel face semantics from CelebAMask-HQ part masks (the release's format).

Layout, float32 (15, H, W) in [0, 1] (SPEC section 6):

* channel 0: all edges: the boundaries of every part mask, plus Canny edges
  (``skimage.feature.canny``, default sigma 1) of the photo outside the face parts (hair
  and background count as outside), binary;
* channels 1-13: for each part in ``CELEBAMASK_PARTS`` order, ``min(floor(d / 3), 255) / 255``
  with d the L1 (3x3) distance to that part's boundary; an absent part is all ones;
* channel 14: the part boundaries alone, binary.

A boundary pixel is one whose right, left, lower or upper neighbour has a different mask
value (both pixels of such a pair are marked), as in the release's data code. The photo is
resized to H x W with bilinear and the masks with nearest-neighbour resampling (PIL), as the
release does. Needs scikit-image (``pip install scikit-image``) for the Canny edges.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from PIL import Image

from dynast.semantics._distance import distance_map
from dynast.semantics.errors import InvalidPartMasks, UnreadableImage
from dynast.semantics.image_io import ImageSource, check_bounded, load_image

__all__ = [
    "CELEBAMASK_PARTS",
    "CELEBAMASK_CHANNELS",
    "render_celebamask_semantics",
    "load_celebamask_parts",
]

CELEBAMASK_PARTS: tuple[str, ...] = (
    "skin", "l_brow", "r_brow", "l_eye", "r_eye", "l_ear", "r_ear", "nose", "u_lip", "mouth",
    "l_lip", "eye_g", "hair",
)
CELEBAMASK_CHANNELS = 15


def _boundary(mask: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels with a 4-neighbour of a different value (both sides marked)."""
    out = np.zeros(mask.shape, bool)
    dx = mask[:, 1:] != mask[:, :-1]
    dy = mask[1:, :] != mask[:-1, :]
    out[:, 1:] |= dx
    out[:, :-1] |= dx
    out[1:, :] |= dy
    out[:-1, :] |= dy
    return out


def _resize_mask(mask: np.ndarray, height: int, width: int, name: str) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise InvalidPartMasks(f"part mask '{name}' must be (H, W), got shape {mask.shape}")
    binary = Image.fromarray(np.where(mask > 0, 255, 0).astype(np.uint8))
    return np.asarray(binary.resize((width, height), resample=Image.NEAREST)) == 255


def render_celebamask_semantics(
    part_masks: Mapping[str, np.ndarray], image: ImageSource, height: int, width: int
) -> np.ndarray:
    """Render the 15-channel semantics from part masks and the photo.

    ``part_masks``: part name (see ``CELEBAMASK_PARTS``; others are ignored) -> (h, w) mask,
    nonzero inside the part, at any size. ``image``: the photo (anything ``load_image``
    takes). Returns float32 (15, height, width) in [0, 1].
    """
    try:
        from skimage.feature import canny
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError(
            "CelebAMask-HQ semantics need scikit-image: pip install scikit-image"
        ) from exc
    check_bounded(height, width)
    if not set(part_masks) & set(CELEBAMASK_PARTS):
        raise InvalidPartMasks(
            f"no CelebAMask-HQ part among {sorted(part_masks)}; expected names from "
            f"{CELEBAMASK_PARTS}"
        )
    photo = Image.fromarray(load_image(image)).resize((width, height), resample=Image.BILINEAR)
    outside_face = np.ones((height, width), bool)
    edges = np.zeros((height, width), bool)
    out = np.empty((CELEBAMASK_CHANNELS, height, width), np.float32)
    for i, name in enumerate(CELEBAMASK_PARTS):
        part_edge = np.zeros((height, width), bool)
        if name in part_masks:
            mask = _resize_mask(part_masks[name], height, width, name)
            if name == "hair":
                outside_face[mask] = True
            else:
                outside_face[mask] = False
            part_edge = _boundary(mask)
            edges |= part_edge
        out[1 + i] = distance_map(part_edge)
    background = canny(np.asarray(photo.convert("L"))) & outside_face
    out[0] = edges | background
    out[-1] = edges
    return out


def load_celebamask_parts(mask_dir: str | Path, index: int) -> dict[str, np.ndarray]:
    """Read CelebAMask-HQ's ``CelebAMask-HQ-mask-anno/<index // 2000>/<index:05d>_<part>.png``.

    ``mask_dir``: the ``CelebAMask-HQ-mask-anno`` folder. Returns part name -> (512, 512)
    bool masks for the parts that exist for this face.
    """
    folder = Path(mask_dir) / str(index // 2000)
    if not folder.is_dir():
        raise UnreadableImage(
            f"{folder} does not exist; pass the CelebAMask-HQ-mask-anno folder of the data set"
        )
    parts = {}
    for name in CELEBAMASK_PARTS:
        path = folder / f"{index:05d}_{name}.png"
        if path.exists():
            parts[name] = load_image(path)[:, :, 0] > 127
    return parts
