"""Fit a photo of a person to DeepFashion's frame: one person, centred, on near-white.

Steps: :func:`~dynast.semantics.framing_detect.detect_person` finds the person (MediaPipe
pose and its segmentation mask, cleaned; the largest of several, with a warning); the person
is scaled, placed and cut onto the DeepFashion background colour as DeepFashion frames full
bodies, from what the photo shows:

* scale: from the torso and the head, which DeepFashion frames consistently: the
  shoulder-to-hip distance plus the head's height (head top to the shoulder line) is
  :data:`TORSO` + :data:`HEAD` of the frame height. When the feet are seen (both ankles
  visible and on the person's mask) and the whole body's height (head top to the mask's
  bottom) agrees with that within :data:`FEET_AGREEMENT`, the body instead spans
  :data:`FULL_HEAD_TOP` to :data:`FULL_FEET` of the height, as DeepFashion's full-body
  pictures do (more precise); a person who sits or crouches, or a photo that stops at the
  thighs, keeps the torso's scale: the legs are simply not in the frame;
* place: the head top at :data:`FULL_HEAD_TOP` of the height, the body's centre (shoulders
  and hips) at :data:`CENTRE_X` of a 256 x 176 frame.

Without hips the head's height alone gives the scale, with a warning (a photo down to the
thighs or a full-body one works best). A person wider than the frame is scaled down to fit,
with a warning. For model sizes wider than 256 x 176 (e.g. 256 x 256, the release's size) the
176-aspect frame sits in the middle and the background fills the sides, as in the release's
padded pictures.
"""
from __future__ import annotations

import numpy as np

from dynast.semantics.framing_base import Framed, FramingTransform, warp_image
from dynast.semantics.framing_detect import (
    ANKLES,
    HIPS,
    MASK_THRESHOLD,
    SHOULDERS,
    PersonDetection,
    detect_person,
)
from dynast.semantics.image_io import ImageSource, check_size, load_image
from dynast.semantics.pose_extract import landmarks_to_keypoints

__all__ = [
    "BACKGROUND", "CENTRE_X", "FEET_AGREEMENT", "FRAME_ASPECT", "FULL_FEET", "FULL_HEAD_TOP",
    "HEAD", "TORSO", "PersonDetection", "detect_person", "feet_seen", "fit_person",
    "person_scale", "person_transform", "torso_and_head",
]

# DeepFashion framing, measured by scripts/measure_framing.py (detect_person on the 25
# full-body DeepFashion pictures of the shared sample set, brought to 256 x 176: the 23
# In-shop ones and 2 of PIDM's). Fractions of the frame height (vertical) and width
# (horizontal), pixel edges: 0 = top/left edge, 1 = bottom/right.
FULL_HEAD_TOP = 0.017  # mean head top (sd 0.009)
FULL_FEET = 0.982  # mean mask bottom, the feet (sd 0.010)
CENTRE_X = 0.491  # mean centre of shoulders and hips (sd 0.039)
TORSO = 0.268  # mean distance from the shoulders' midpoint to the hips' (sd 0.016)
HEAD = 0.195  # mean height from the head top to the shoulders' midpoint (sd 0.010)
# TORSO + HEAD predicts the head-to-feet height of those 25 pictures within 4 % (sd; at worst
# -7 % / +9 %); a body whose head-to-feet height is off by more than this factor is not
# standing in full view (sitting, crouching, or the "feet" are where the photo stops).
# (DeepFashion's close-ups, cut at the thighs, zoom in 1.3-1.7 x over this scale; a photo
# cut at the thighs could be either, and is framed at the full-body scale.)
FEET_AGREEMENT = 1.25
BACKGROUND = (240, 241, 242)  # median RGB of the full-body photos' background
FRAME_ASPECT = 176 / 256  # width / height of DeepFashion's frame
NO_HIPS = (
    "the hips are not visible: the body's scale is guessed from the head alone; a photo down "
    "to the thighs or a full-body one works best"
)


def feet_seen(det: PersonDetection) -> bool:
    """Both ankles visible and on the person's mask (within 1 % of the person's height):
    not guessed over whatever lies below a photo that stops above them."""
    if not det.visible(ANKLES):
        return False
    r = max(2, round(0.01 * (det.box[3] - det.box[1])))
    for x, y in np.round(det.landmarks[list(ANKLES), :2]).astype(int):
        if det.mask[max(0, y - r):y + r + 1, max(0, x - r):x + r + 1].max() <= MASK_THRESHOLD:
            return False
    return True


def torso_and_head(det: PersonDetection) -> float:
    """Photo pixels: the shoulders' midpoint to the hips', plus the head top to the shoulders'
    midpoint (needs the shoulders and hips visible)."""
    lm = det.landmarks
    torso = np.linalg.norm(lm[list(SHOULDERS), :2].mean(axis=0) - lm[list(HIPS), :2].mean(axis=0))
    return float(torso) + max(1.0, det.level(SHOULDERS) - det.head_top)


def person_scale(det: PersonDetection, height: int) -> tuple[float, list[str]]:
    """Model pixels per photo pixel for a frame ``height`` pixels tall, and warnings."""
    full = (FULL_FEET - FULL_HEAD_TOP) * height / (det.box[3] - det.head_top)
    if not det.visible(SHOULDERS + HIPS):
        if det.visible(SHOULDERS):
            return HEAD * height / max(1.0, det.level(SHOULDERS) - det.head_top), [NO_HIPS]
        return full, [NO_HIPS]
    body = (TORSO + HEAD) * height / torso_and_head(det)
    if feet_seen(det) and abs(np.log(full / body)) <= np.log(FEET_AGREEMENT):
        return full, []
    return body, []


def person_transform(
    det: PersonDetection, size: tuple[int, int]
) -> tuple[FramingTransform, list[str]]:
    """The similarity (scale + shift) that frames ``det``'s person as DeepFashion does."""
    height, width = size
    ph, pw = det.mask.shape
    left, _, right, _ = det.box
    scale, warnings = person_scale(det, height)
    if scale * (right - left) > 0.98 * width:
        scale = 0.98 * width / (right - left)
        warnings.append("the person is wider than the training frame; scaled down to fit")
    frame_width = FRAME_ASPECT * height
    centre_x = (width - frame_width) / 2 + CENTRE_X * frame_width
    # Fractions f of the frame are at f * side - 0.5 in pixel-centre coordinates.
    tx = centre_x - 0.5 - scale * det.centre_x
    # Keep the whole box inside the frame (people with outstretched arms).
    tx += max(0.0, -0.5 - (scale * left + tx)) - max(0.0, scale * right + tx - (width - 0.5))
    ty = FULL_HEAD_TOP * height - 0.5 - scale * det.head_top
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
