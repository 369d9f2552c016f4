"""Keypoints over time: frames where the person was lost filled from their neighbours, and
jitter removed with a One-Euro filter.

The One-Euro filter (Casiez, Roussel, Vogel, CHI 2012) is a low-pass filter whose cutoff
rises with speed: a still joint is smoothed hard (no flicker), a moving one follows with
little lag. Per joint coordinate, with the sampling rate ``fps``:

    cutoff = MIN_CUTOFF + BETA * |speed|      (speed: low-passed at D_CUTOFF, pixels/s)
    alpha  = 1 / (1 + fps / (2 pi cutoff));   x_hat = alpha x + (1 - alpha) x_hat_prev

The constants are for keypoints in model-frame pixels (a body about 250 px tall), chosen by
measuring the output's flicker on a still pose with +-1 px jitter (``python -m
dynast.video.bench``): ``MIN_CUTOFF`` = 0.5 Hz holds a still joint's jitter to a tenth of
a pixel per frame; ``BETA`` = 0.02 s/px lifts the cutoff to 4.5 Hz for a limb moving at
200 px/s (a quick arm swing), about one frame of lag; ``D_CUTOFF`` = 1 Hz is the authors'
suggested value. A joint that disappears restarts its filter when it comes back.
A joint that disappears restarts its filter when it comes back.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dynast.semantics.keypoints import NUM_JOINTS, Keypoints

__all__ = ["OneEuro", "fill_lost_frames", "smooth_sequence", "MIN_CUTOFF", "BETA", "D_CUTOFF",
           "MAX_JOINT_GAP"]

MIN_CUTOFF = 0.5  # Hz
BETA = 0.02  # s / px
D_CUTOFF = 1.0  # Hz
MAX_JOINT_GAP = 5  # frames: a joint missing this long between two sightings is interpolated


@dataclass(frozen=True)
class OneEuro:
    """One-Euro filter settings (see the module docstring)."""

    min_cutoff: float = MIN_CUTOFF
    beta: float = BETA
    d_cutoff: float = D_CUTOFF

    @staticmethod
    def _alpha(cutoff: np.ndarray | float, fps: float) -> np.ndarray:
        return 1.0 / (1.0 + fps / (2 * math.pi * np.asarray(cutoff, np.float64)))

    def run(self, xy: np.ndarray, present: np.ndarray, fps: float) -> np.ndarray:
        """Filter a track: ``xy`` (T, J, 2) pixels, ``present`` (T, J) bool -> (T, J, 2)."""
        out = xy.astype(np.float64).copy()
        prev = np.zeros(xy.shape[1:], np.float64)
        speed = np.zeros(xy.shape[1:], np.float64)
        alive = np.zeros(xy.shape[1], bool)
        for t in range(len(xy)):
            on = present[t]
            fresh = on & ~alive
            prev[fresh], speed[fresh] = xy[t][fresh], 0.0
            raw_speed = (xy[t] - prev) * fps
            a_d = self._alpha(self.d_cutoff, fps)
            speed = np.where(on[:, None], a_d * raw_speed + (1 - a_d) * speed, speed)
            a = self._alpha(self.min_cutoff + self.beta * np.abs(speed), fps)
            prev = np.where(on[:, None], a * xy[t] + (1 - a) * prev, prev)
            out[t] = np.where(on[:, None], prev, xy[t])
            alive = on
        return out


def _stack(frames: list[Keypoints]) -> tuple[np.ndarray, np.ndarray]:
    arr = np.stack([k.array for k in frames]).astype(np.float64)
    return arr[..., :2], arr[..., 2] > 0


def _unstack(xy: np.ndarray, present: np.ndarray) -> list[Keypoints]:
    arr = np.concatenate([xy, present[..., None].astype(np.float64)], axis=-1)
    return [Keypoints(a.astype(np.float32)) for a in arr]


def fill_lost_frames(frames: list[Keypoints | None], max_gap: int = MAX_JOINT_GAP
                     ) -> tuple[list[Keypoints], int]:
    """Fill the frames where the person was lost (``None``) from their neighbours.

    A lost frame between two found ones gets each joint interpolated linearly where both
    have it; lost frames at the start or end copy the nearest found frame. A joint missing
    for at most ``max_gap`` frames inside a track is interpolated the same way (a blink of
    the detector, not a limb leaving the picture). Returns (frames, how many were lost).
    Needs at least one found frame.
    """
    found = [i for i, f in enumerate(frames) if f is not None]
    if not found:
        raise ValueError("no frame holds a person")
    empty = Keypoints.empty()
    xy, present = _stack([f if f is not None else empty for f in frames])
    lost = np.array([f is None for f in frames])
    for j in range(NUM_JOINTS):
        seen = np.flatnonzero(present[:, j])
        for a, b in zip(seen[:-1], seen[1:]):
            gap = np.arange(a + 1, b)
            if gap.size and (lost[gap].all() or gap.size <= max_gap):
                w = ((gap - a) / (b - a))[:, None]
                xy[gap, j] = (1 - w) * xy[a, j] + w * xy[b, j]
                present[gap, j] = True
    first, last = found[0], found[-1]
    xy[:first], present[:first] = xy[first], present[first]
    xy[last + 1:], present[last + 1:] = xy[last], present[last]
    return _unstack(xy, present), int(lost.sum())


def smooth_sequence(frames: list[Keypoints], fps: float, filt: OneEuro | None = None
                    ) -> list[Keypoints]:
    """The keypoints of every frame through a One-Euro filter (``filt``, default settings),
    at the clip's frame rate ``fps``."""
    if not frames:
        return []
    xy, present = _stack(frames)
    return _unstack((filt or OneEuro()).run(xy, present, float(fps)), present)
