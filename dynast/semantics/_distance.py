"""The release's distance-map encoding, shared by the pose and face semantics."""
from __future__ import annotations

import cv2
import numpy as np

__all__ = ["distance_map"]


def distance_map(lines: np.ndarray) -> np.ndarray:
    """Encode the L1 (3x3) distance to the nonzero pixels of ``lines`` (H, W).

    Returns float32 (H, W) = ``min(floor(d / 3), 255) / 255`` in [0, 1]; all ones when
    ``lines`` is empty (the release's value for an absent part).
    """
    if not lines.any():
        return np.ones(lines.shape, np.float32)
    background = np.where(lines > 0, 0, 255).astype(np.uint8)
    dist = cv2.distanceTransform(background, cv2.DIST_L1, 3)
    dist /= 3
    np.floor(dist, out=dist)
    np.minimum(dist, 255, out=dist)
    dist /= 255
    return dist
