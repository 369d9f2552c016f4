"""Draw COCO-18 keypoints as the release's 20-channel pose semantics.

Layout (SPEC section 6), float32 (20, H, W) in [0, 1]:

* channels 0-2: the skeleton in colour on black (RGB). Each present joint is a filled circle
  of radius 4 in its colour; then each of the 17 limbs is a filled ellipse (half-length =
  half the limb length, half-width 4), blended as ``0.4 * canvas + 0.6 * (canvas with the
  ellipse)``. Like the release, colours are given to OpenCV as BGR triples and the canvas is
  then converted to RGB, so channel 0 carries the third value of each colour.
* channels 3-19: one per limb, ``min(d / 3, 255) / 255`` (d truncated to an integer as the
  release does with ``uint8``), where d is the L1 (3x3) distance to that limb's ellipse;
  a limb with a missing end is all ones.

Coordinates are truncated to integers before drawing, as the release does. The output
matches the release's own tensors exactly (tested against ``pose_render_256.pth``).
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from dynast.semantics._distance import distance_map
from dynast.semantics.errors import InvalidSize
from dynast.semantics.image_io import check_bounded
from dynast.semantics.keypoints import LIMBS, Keypoints

__all__ = ["POSE_CHANNELS", "JOINT_COLORS", "render_pose", "render_pose_preview"]

POSE_CHANNELS = 20
STICK_WIDTH = 4
JOINT_COLORS: tuple[tuple[int, int, int], ...] = (
    (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0),
    (0, 255, 0), (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255),
    (0, 0, 255), (85, 0, 255), (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85),
)


def _limb_polygon(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The release's ellipse polygon for a limb from joint ``a`` to joint ``b`` (x, y)."""
    mx, my = (a[0] + b[0]) / 2, (a[1] + b[1]) / 2
    length = math.hypot(a[0] - b[0], a[1] - b[1])
    angle = math.degrees(math.atan2(a[1] - b[1], a[0] - b[0]))
    return cv2.ellipse2Poly(
        (int(mx), int(my)), (int(length / 2), STICK_WIDTH), int(angle), 0, 360, 1
    )


def _draw(keypoints: Keypoints, height: int, width: int) -> tuple[np.ndarray, list]:
    """Return the BGR uint8 canvas (H, W, 3) and the 17 limb polygons (None if missing)."""
    xy = keypoints.xy.astype(np.float64)
    present = keypoints.present
    canvas = np.zeros((height, width, 3), np.uint8)
    for i in np.flatnonzero(present):
        cv2.circle(canvas, (int(xy[i, 0]), int(xy[i, 1])), STICK_WIDTH, JOINT_COLORS[i], -1)
    polygons: list[np.ndarray | None] = []
    for limb, (a, b) in enumerate(LIMBS):
        if not (present[a] and present[b]):
            polygons.append(None)
            continue
        poly = _limb_polygon(xy[a], xy[b])
        drawn = canvas.copy()
        cv2.fillConvexPoly(drawn, poly, JOINT_COLORS[limb])
        canvas = cv2.addWeighted(canvas, 0.4, drawn, 0.6, 0)
        polygons.append(poly)
    return canvas, polygons


def render_pose(keypoints: Keypoints, height: int, width: int) -> np.ndarray:
    """Render the 20-channel pose semantics.

    ``keypoints`` are in pixels of the H x W output; a present joint outside it raises
    :class:`~dynast.semantics.errors.KeypointOutsideImage`.
    Returns float32 (20, height, width) in [0, 1].
    """
    check_bounded(height, width)
    keypoints.check_inside(height, width)
    canvas, polygons = _draw(keypoints, height, width)
    out = np.empty((20, height, width), np.float32)
    out[:3] = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB).transpose(2, 0, 1) / np.float32(255)
    mask = np.zeros((height, width), np.uint8)
    for limb, poly in enumerate(polygons):
        if poly is None:
            out[3 + limb] = 1.0
            continue
        mask.fill(0)
        cv2.fillConvexPoly(mask, poly, 1)
        out[3 + limb] = distance_map(mask)
    return out


def render_pose_preview(
    keypoints: Keypoints, height: int, width: int, background: np.ndarray | None = None
) -> np.ndarray:
    """The skeleton in colour for display: uint8 (H, W, 3) RGB.

    With ``background`` (uint8 (H, W, 3) RGB) the skeleton is drawn over a dimmed copy of it,
    otherwise on black. Joints outside the image are simply clipped.
    """
    check_bounded(height, width)
    canvas, _ = _draw(keypoints, height, width)
    rgb = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB)
    if background is None:
        return rgb
    if background.shape != (height, width, 3) or background.dtype != np.uint8:
        raise InvalidSize(
            f"background must be uint8 ({height}, {width}, 3), got {background.dtype} "
            f"{background.shape}; resize it with fit_to_size first"
        )
    drawn = rgb.max(axis=2, keepdims=True) > 0
    dim = (background.astype(np.float32) * 0.5).astype(np.uint8)
    return np.where(drawn, rgb, dim)
