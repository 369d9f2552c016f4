"""The driving person's keypoints in every frame of a clip, with MediaPipe pose in video
mode: it detects once and then tracks from frame to frame (steadier and faster than a fresh
detection per frame). Keypoints are COCO-18, as :func:`dynast.semantics.extract_pose`
gives for photos; a frame where fewer than ``MIN_JOINTS`` joints are seen is ``None``."""
from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from dynast.semantics import _mediapipe
from dynast.semantics.keypoints import Keypoints
from dynast.semantics.pose_extract import MIN_JOINTS, landmarks_to_keypoints

__all__ = ["track_poses"]


def track_poses(frames: Iterable[np.ndarray], visibility: float = 0.5,
                on_frame: Callable[[int], None] | None = None) -> list[Keypoints | None]:
    """Keypoints (pixels of each frame) or None, per uint8 (h, w, 3) RGB frame, in order.

    ``frames`` is consumed as a stream (no frame is kept); ``on_frame(n)`` is called after
    each frame with the count so far.
    """
    poses: list[Keypoints | None] = []
    with _mediapipe.pose_video() as track:
        for frame in frames:
            landmarks = track(frame)
            kp = None
            if landmarks is not None:
                kp = landmarks_to_keypoints(landmarks, *frame.shape[:2], visibility)
                kp = kp if kp.count() >= MIN_JOINTS else None
            poses.append(kp)
            if on_frame is not None:
                on_frame(len(poses))
    return poses
