"""Pose semantics of a photo in one call: extract, fit, render."""
from __future__ import annotations

import numpy as np

from dynast.semantics.image_io import ImageSource, default_size, load_image, plan_fit
from dynast.semantics.keypoints import Keypoints
from dynast.semantics.pose_extract import extract_pose
from dynast.semantics.pose_render import render_pose

__all__ = ["pose_semantics_from_photo"]


def pose_semantics_from_photo(
    image: ImageSource, size: tuple[int, int] | None = None
) -> tuple[np.ndarray, Keypoints, list[str]]:
    """Detect the pose in a photo and render it at the model size.

    ``size``: (H, W), multiples of 8; the photo is fitted as ``fit_to_size`` does (call it
    yourself for the transform). Default: the photo's own size padded up to multiples of 8
    (within the size limits).
    Returns the float32 (20, H, W) semantics in [0, 1], the keypoints in output pixels, and
    warnings for the user.
    """
    rgb = load_image(image)
    (height, width), warnings = (size, []) if size is not None else default_size(*rgb.shape[:2])
    transform = plan_fit(*rgb.shape[:2], height, width)
    keypoints, found = extract_pose(rgb)
    warnings = warnings + found
    keypoints = transform.keypoints_to_dst(keypoints).drop_outside(height, width)
    return render_pose(keypoints, height, width), keypoints, warnings
