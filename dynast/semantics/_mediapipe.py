"""Shared MediaPipe detectors, created lazily on first use and reused.

MediaPipe solution objects are not thread-safe, so each detector is guarded by its own lock:
callers from several threads are served one at a time. Importing this module does not
import MediaPipe.

Detectors are closed when the interpreter exits (``atexit``), while Python is still whole:
a MediaPipe graph left to be destroyed during interpreter shutdown sometimes aborts the process
("terminate called without an active exception", exit -6) after all its work is done.
"""
from __future__ import annotations

import atexit
import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

__all__ = [
    "run_pose", "run_pose_with_mask", "pose_video", "run_face_mesh", "run_face_detection",
    "close_all",
]


class _Lazy:
    """A detector built by ``factory`` on first call, used under a lock. Every instance is
    listed in ``_Lazy.instances`` (what ``close_all`` closes)."""

    instances: list[_Lazy] = []

    def __init__(self, factory: Callable[[Any], Any]) -> None:
        _Lazy.instances.append(self)
        self._factory = factory
        self._detector: Any = None
        self._owner_pid = 0  # the process that built the detector (its graph threads live there)
        self._lock = threading.Lock()

    def _build(self) -> None:
        """Build the detector if needed (the lock is held)."""
        if self._detector is None:
            try:
                import mediapipe as mp
            except ImportError as exc:  # pragma: no cover - depends on the install
                raise ImportError(
                    "extracting semantics from photos needs MediaPipe: "
                    "pip install 'dynast[semantics]' (mediapipe==0.10.21)"
                ) from exc
            self._detector = self._factory(mp)
            self._owner_pid = os.getpid()

    def process(self, rgb: np.ndarray) -> Any:
        with self._lock:
            self._build()
            return self._detector.process(np.ascontiguousarray(rgb))

    @contextlib.contextmanager
    def session(self) -> Iterator[Callable[[np.ndarray], Any]]:
        """Exclusive use for one sequence of frames (video mode: the detector tracks from
        frame to frame): a fresh graph, so no state carries over from another clip, closed
        when the sequence ends. Yields ``process(rgb)``."""
        with self._lock:
            self._close_locked()
            self._build()
            try:
                yield lambda rgb: self._detector.process(np.ascontiguousarray(rgb))
            finally:
                self._close_locked()

    def close(self) -> None:
        """Stop the detector's graph now (it is built again on the next call)."""
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
        """A forked child leaves its parent's detector alone: the graph's threads do not
        exist there."""
        if self._detector is not None and self._owner_pid == os.getpid():
            self._detector.close()
        self._detector = None


_POSE = _Lazy(
    lambda mp: mp.solutions.pose.Pose(
        static_image_mode=True, model_complexity=1, enable_segmentation=False,
        min_detection_confidence=0.5,
    )
)
# The same pose model with its person segmentation output (used to cut people out).
_POSE_MASK = _Lazy(
    lambda mp: mp.solutions.pose.Pose(
        static_image_mode=True, model_complexity=1, enable_segmentation=True,
        min_detection_confidence=0.5,
    )
)
# Video mode: detect once, then track the person from frame to frame (MediaPipe's own
# landmark smoothing off: dynast.video.smoothing filters the keypoints, with its constants).
_POSE_VIDEO = _Lazy(
    lambda mp: mp.solutions.pose.Pose(
        static_image_mode=False, model_complexity=1, smooth_landmarks=False,
        enable_segmentation=False, min_detection_confidence=0.5, min_tracking_confidence=0.5,
    )
)
_FACE_MESH = _Lazy(
    lambda mp: mp.solutions.face_mesh.FaceMesh(
        static_image_mode=True, max_num_faces=4, refine_landmarks=True,
        min_detection_confidence=0.5,
    )
)
_FACE_DETECTION = _Lazy(
    lambda mp: mp.solutions.face_detection.FaceDetection(
        model_selection=1, min_detection_confidence=0.6
    )
)


def close_all() -> None:
    """Close every detector built so far (called at exit; safe to call any time)."""
    for detector in _Lazy.instances:
        detector.close()


atexit.register(close_all)


def run_pose(rgb: np.ndarray) -> np.ndarray | None:
    """MediaPipe pose on uint8 RGB (H, W, 3).

    Returns (33, 3) float64: x, y in pixels of ``rgb`` and visibility in [0, 1], or None.
    """
    result = _POSE.process(rgb)
    if result.pose_landmarks is None:
        return None
    h, w = rgb.shape[:2]
    return np.array(
        [[p.x * w, p.y * h, p.visibility] for p in result.pose_landmarks.landmark], np.float64
    )


@contextlib.contextmanager
def pose_video() -> Iterator[Callable[[np.ndarray], np.ndarray | None]]:
    """MediaPipe pose in video mode for one clip: yields ``track(rgb)``, called on the
    frames in order, returning (33, 3) float64 landmarks (x, y pixels, visibility) or None.
    One clip at a time; the graph is closed when the block ends."""
    with _POSE_VIDEO.session() as process:
        def track(rgb: np.ndarray) -> np.ndarray | None:
            result = process(rgb)
            if result.pose_landmarks is None:
                return None
            h, w = rgb.shape[:2]
            return np.array([[p.x * w, p.y * h, p.visibility]
                             for p in result.pose_landmarks.landmark], np.float64)

        yield track


def run_pose_with_mask(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """MediaPipe pose with segmentation on uint8 RGB (H, W, 3).

    Returns (landmarks (33, 3) float64: x, y pixels and visibility, person mask (H, W) float32
    in [0, 1]) for the one person MediaPipe follows, or None.
    """
    result = _POSE_MASK.process(rgb)
    if result.pose_landmarks is None or result.segmentation_mask is None:
        return None
    h, w = rgb.shape[:2]
    landmarks = np.array(
        [[p.x * w, p.y * h, p.visibility] for p in result.pose_landmarks.landmark], np.float64
    )
    return landmarks, np.asarray(result.segmentation_mask, np.float32)


def run_face_mesh(rgb: np.ndarray) -> list[np.ndarray]:
    """MediaPipe face mesh (with irises) on uint8 RGB (H, W, 3).

    Returns one (478, 2) float64 array of pixel coordinates (x, y) per detected face.
    """
    result = _FACE_MESH.process(rgb)
    h, w = rgb.shape[:2]
    return [
        np.array([[p.x * w, p.y * h] for p in face.landmark], np.float64)
        for face in (result.multi_face_landmarks or [])
    ]


def run_face_detection(rgb: np.ndarray) -> list[tuple[float, float, float, float]]:
    """MediaPipe face detection (full range) on uint8 RGB (H, W, 3).

    Returns one box (x0, y0, width, height) in pixels per face.
    """
    result = _FACE_DETECTION.process(rgb)
    h, w = rgb.shape[:2]
    boxes = []
    for det in result.detections or []:
        box = det.location_data.relative_bounding_box
        boxes.append((box.xmin * w, box.ymin * h, box.width * w, box.height * h))
    return boxes
