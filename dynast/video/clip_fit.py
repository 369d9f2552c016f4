"""Fit a whole clip's driving person to the training frame with one scale and one offset.

Fitting every frame on its own would make the body jump whenever a limb moves the box; one
similarity for the clip keeps the motion as it was filmed (a step to the left stays a step
to the left). It is computed from medians over the frames where the person was found:

* scale: the neck-to-ankles height (both ankles seen in at least half of the frames: a full
  body), else the neck-to-hips height, mapped to its height in DeepFashion's frame;
  scaled down if the person's width (joint span, :data:`WIDE_PERCENTILE` over the frames)
  would not fit in 98 % of the frame width;
* vertical offset: the median neck at :data:`NECK_Y`;
* horizontal offset: the median torso centre (shoulders and hips) at
  :data:`~dynast.semantics.framing_person.CENTRE_X` of the 176/256-wide frame, which sits in
  the middle of wider canvases, as :func:`~dynast.semantics.framing.fit_person` places people.

The heights are where :func:`~dynast.semantics.framing.fit_person` puts these joints (it is
measured on DeepFashion): fitting 12 full-body photos of ``../shared/data/people`` at
256 x 176 gave neck 0.209, hip midpoint 0.491 and ankle midpoint 0.884 of the frame height
(sd 0.010-0.014).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dynast.errors import VideoError
from dynast.semantics.framing_person import CENTRE_X, FRAME_ASPECT
from dynast.semantics.keypoints import JOINT_NAMES, Keypoints

__all__ = ["ClipFit", "fit_clip", "NECK_Y", "HIPS_Y", "ANKLES_Y"]

NECK_Y = 0.209
HIPS_Y = 0.491
ANKLES_Y = 0.884
WIDE_PERCENTILE = 90  # the frames' joint spans: this percentile fits within 98 % of the width

_J = {name: i for i, name in enumerate(JOINT_NAMES)}
SHOULDERS = (_J["r-shoulder"], _J["l-shoulder"])
HIPS = (_J["r-hip"], _J["l-hip"])
ANKLES = (_J["r-ankle"], _J["l-ankle"])


@dataclass(frozen=True)
class ClipFit:
    """``model = scale * clip + offset`` for every frame of a clip; ``size`` = (H, W) of the
    model frame. ``full_body``: the scale came from the ankles (else from the hips)."""

    scale: float
    offset: tuple[float, float]
    size: tuple[int, int]
    full_body: bool

    def apply(self, keypoints: Keypoints, drop_outside: bool = True) -> Keypoints:
        """The keypoints in the model frame; joints that leave it go missing unless
        ``drop_outside`` is False (to smooth them before they are dropped)."""
        off = np.array(self.offset)
        moved = keypoints.map_xy(lambda xy: self.scale * xy + off)
        return moved.drop_outside(*self.size) if drop_outside else moved


def _mid(arr: np.ndarray, joints: tuple[int, int]) -> np.ndarray:
    """(T, 2) midpoints of two joints, NaN where either is missing; arr (T, 18, 3)."""
    both = (arr[:, joints[0], 2] > 0) & (arr[:, joints[1], 2] > 0)
    mid = (arr[:, joints[0], :2] + arr[:, joints[1], :2]) / 2
    return np.where(both[:, None], mid, np.nan)


def fit_clip(frames: list[Keypoints], size: tuple[int, int]) -> ClipFit:
    """One scale and offset that frame ``frames`` (clip pixels) in a (H, W) model frame.

    Raises :class:`VideoError` when no frame shows both shoulders and both hips.
    """
    height, width = size
    arr = np.stack([k.array for k in frames]).astype(np.float64)
    neck, hips, ankles = _mid(arr, SHOULDERS), _mid(arr, HIPS), _mid(arr, ANKLES)
    torso = np.isfinite(neck[:, 0]) & np.isfinite(hips[:, 0])
    if not torso.any():
        raise VideoError("no frame of the driving clip shows both shoulders and both hips; "
                         "use a clip where the person's upper body is visible")
    full = np.isfinite(ankles[:, 0]) & np.isfinite(neck[:, 0])
    full_body = bool(full.sum() >= 0.5 * torso.sum())
    if full_body:
        span = np.median(ankles[full, 1] - neck[full, 1])
        scale = (ANKLES_Y - NECK_Y) * height / max(float(span), 1.0)
    else:
        span = np.median(hips[torso, 1] - neck[torso, 1])
        scale = (HIPS_Y - NECK_Y) * height / max(float(span), 1.0)
    xs = np.where(arr[..., 2] > 0, arr[..., 0], np.nan)[torso]
    reach = float(np.percentile(np.nanmax(xs, 1) - np.nanmin(xs, 1), WIDE_PERCENTILE))
    scale = min(scale, 0.98 * width / max(reach, 1.0))  # arms out: the person still fits
    centre_x = float(np.median((neck[torso, 0] + hips[torso, 0]) / 2))
    neck_y = float(np.median(neck[torso, 1]))
    frame_width = FRAME_ASPECT * height
    target_x = (width - frame_width) / 2 + CENTRE_X * frame_width
    # Fractions f of the frame are at f * side - 0.5 in pixel-centre coordinates.
    offset = (target_x - 0.5 - scale * centre_x, NECK_Y * height - 0.5 - scale * neck_y)
    return ClipFit(float(scale), (float(offset[0]), float(offset[1])), (height, width), full_body)
