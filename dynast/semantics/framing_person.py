"""Fit a photo of a person to DeepFashion's frame: one person, centred, on near-white.

Steps: :func:`~dynast.semantics.framing_detect.detect_person` finds the person (MediaPipe
pose and its segmentation mask; the largest of several, with a warning); the person is
scaled, placed and cut onto the DeepFashion background colour as DeepFashion frames bodies:

* full body (both ankles visible): the head top (the mask's top above the head) and the
  feet (the mask's bottom) at :data:`FULL_HEAD_TOP` and :data:`FULL_FEET` of the frame
  height, the body's centre (shoulders and hips) at :data:`CENTRE_X` of a 256 x 176 frame;
* otherwise (a close-up): the head top at :data:`CLOSE_HEAD_TOP` and the hips (or, without
  hips, the shoulders) at :data:`CLOSE_HIPS` (:data:`CLOSE_SHOULDERS`). Close-ups down to
  the hips are common in DeepFashion and pass silently; without the hips a warning says so.

A person wider than the frame is scaled down to fit, with a warning. For model sizes wider
than 256 x 176 (e.g. 256 x 256, the release's size) the 176-aspect frame sits in the middle
and the background fills the sides, as in the release's padded pictures.
"""
from __future__ import annotations

import numpy as np

from dynast.semantics.framing_base import Framed, FramingTransform, warp_image
from dynast.semantics.framing_detect import (
    ANKLES,
    HIPS,
    SHOULDERS,
    PersonDetection,
    detect_person,
)
from dynast.semantics.image_io import ImageSource, check_size, load_image
from dynast.semantics.pose_extract import landmarks_to_keypoints

__all__ = [
    "BACKGROUND", "CENTRE_X", "CLOSE_HEAD_TOP", "CLOSE_HIPS", "CLOSE_SHOULDERS",
    "FULL_FEET", "FULL_HEAD_TOP", "FRAME_ASPECT", "PersonDetection", "detect_person",
    "fit_person", "person_transform",
]

# DeepFashion framing, measured by scripts/measure_framing.py (detect_person, on the
# DeepFashion photos of the shared sample set: 23 full-body In-shop pictures, their 176-wide
# content resized to 256 x 176, and 3 high-resolution close-ups). Fractions of the frame
# height (vertical) and width (horizontal), pixel edges: 0 = top/left edge, 1 = bottom/right.
FULL_HEAD_TOP = 0.017  # mean head top of the full-body photos (sd 0.009)
FULL_FEET = 0.981  # mean mask bottom (sd 0.010)
CENTRE_X = 0.488  # mean centre of shoulders and hips (sd 0.040)
CLOSE_HEAD_TOP = 0.0  # close-ups: the head touches the top edge (all three)
CLOSE_HIPS = 0.656  # close-ups: mean height of the hip midpoint (0.610-0.743)
CLOSE_SHOULDERS = 0.296  # close-ups: mean height of the shoulder midpoint (0.267-0.317)
BACKGROUND = (240, 241, 242)  # median RGB of the full-body photos' background
FRAME_ASPECT = 176 / 256  # width / height of DeepFashion's frame


def person_transform(
    det: PersonDetection, size: tuple[int, int]
) -> tuple[FramingTransform, list[str]]:
    """The similarity (scale + shift) that frames ``det``'s person as DeepFashion does."""
    height, width = size
    ph, pw = det.mask.shape
    left, _, right, bottom = det.box
    top = det.head_top
    warnings: list[str] = []
    if det.visible(ANKLES):
        scale = (FULL_FEET - FULL_HEAD_TOP) * height / (bottom - top)
        head = FULL_HEAD_TOP
    else:  # a close-up down to the hips or below is a typical DeepFashion crop: no warning
        head = CLOSE_HEAD_TOP
        if det.visible(HIPS):
            scale = (CLOSE_HIPS - CLOSE_HEAD_TOP) * height / (det.level(HIPS) - top)
        else:
            if det.visible(SHOULDERS):
                scale = (CLOSE_SHOULDERS - CLOSE_HEAD_TOP) * height / (
                    det.level(SHOULDERS) - top)
            else:
                scale = height / (bottom - top)
            warnings.append(
                "the hips are not visible: framed as a DeepFashion close-up from the "
                "shoulders; a photo down to the thighs or a full-body one works best"
            )
    if scale * (right - left) > 0.98 * width:
        scale = 0.98 * width / (right - left)
        warnings.append("the person is wider than the training frame; scaled down to fit")
    frame_width = FRAME_ASPECT * height
    centre_x = (width - frame_width) / 2 + CENTRE_X * frame_width
    # Fractions f of the frame are at f * side - 0.5 in pixel-centre coordinates.
    tx = centre_x - 0.5 - scale * det.centre_x
    # Keep the whole box inside the frame (people with outstretched arms).
    tx += max(0.0, -0.5 - (scale * left + tx)) - max(0.0, scale * right + tx - (width - 0.5))
    ty = head * height - 0.5 - scale * top
    matrix = np.array([[scale, 0.0, tx], [0.0, scale, ty]])
    return FramingTransform(matrix, (ph, pw), (height, width)), warnings


def fit_person(photo: ImageSource, size: tuple[int, int] = (256, 176)) -> Framed:
    """Cut the person out of ``photo`` and frame them as DeepFashion does.

    ``photo``: (H, W, 3) uint8 RGB or anything :func:`load_image` reads. ``size``: (h, w) of
    the model frame, multiples of 8. Returns :class:`Framed` with ``image`` (h, w, 3) uint8:
    the person on :data:`BACKGROUND`, and ``keypoints``, the person's COCO-18 pose in the
    model frame. Raises :class:`NoPersonFound`.
    """
    check_size(*size)
    rgb = load_image(photo)
    det = detect_person(rgb)
    transform, warnings = person_transform(det, size)
    image = warp_image(rgb, transform.matrix, size, border=None).astype(np.float32)
    alpha = warp_image(det.mask, transform.matrix, size, border=0.0)[..., None]
    bg = np.array(BACKGROUND, np.float32)
    fitted = np.clip(np.rint(alpha * image + (1 - alpha) * bg), 0, 255).astype(np.uint8)
    keypoints = landmarks_to_keypoints(det.landmarks, *rgb.shape[:2])
    return Framed(
        fitted, transform, list(det.warnings) + warnings, kind="person", background=BACKGROUND,
        keypoints=transform.keypoints_to_model(keypoints),
    )
