"""OpenPose COCO-18 keypoints in image pixels.

Joint order (OpenPose COCO-18): nose, neck, r-shoulder, r-elbow, r-wrist, l-shoulder, l-elbow,
l-wrist, r-hip, r-knee, r-ankle, l-hip, l-knee, l-ankle, r-eye, l-eye, r-ear, l-ear. "Right"
and "left" are the person's own sides. Coordinates are pixels with pixel centres at integers
(x to the right, y down), the convention of OpenPose and of OpenCV drawing.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from dynast.semantics.errors import InvalidKeypoints, KeypointOutsideImage

__all__ = ["JOINT_NAMES", "NUM_JOINTS", "LIMBS", "Keypoints"]

JOINT_NAMES: tuple[str, ...] = (
    "nose", "neck", "r-shoulder", "r-elbow", "r-wrist", "l-shoulder", "l-elbow", "l-wrist",
    "r-hip", "r-knee", "r-ankle", "l-hip", "l-knee", "l-ankle", "r-eye", "l-eye", "r-ear", "l-ear",
)
NUM_JOINTS = 18

# The 17 limbs OpenPose draws, as 0-based joint pairs, in OpenPose's drawing order.
LIMBS: tuple[tuple[int, int], ...] = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11),
    (11, 12), (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17),
)


@dataclass(frozen=True, eq=False)
class Keypoints:
    """18 COCO-18 joints of one person.

    ``array`` is a read-only float32 array of shape (18, 3): columns x, y (pixels) and
    present (1.0 or 0.0). Missing joints hold x = y = 0. A wrong shape or a present joint
    with a non-finite coordinate raises :class:`InvalidKeypoints` (a ``ValueError``).
    """

    array: np.ndarray

    def __post_init__(self) -> None:
        try:
            with np.errstate(over="ignore"):  # beyond float32's range becomes inf: refused below
                arr = np.array(self.array, dtype=np.float32, copy=True)
        except (TypeError, ValueError) as exc:
            raise InvalidKeypoints(f"Keypoints need numbers, got {type(self.array)}") from exc
        if arr.shape != (NUM_JOINTS, 3):
            raise InvalidKeypoints(
                f"Keypoints need an array of shape (18, 3) (x, y, present), got {arr.shape}; "
                "use Keypoints.from_xy for a list of 18 [x, y] or None"
            )
        present = arr[:, 2] > 0
        if not np.isfinite(arr[present, :2]).all():
            raise InvalidKeypoints(
                "a present keypoint has a non-finite coordinate (NaN, infinite, or beyond "
                "float32's range); mark it missing"
            )
        arr[:, 2] = present.astype(np.float32)
        arr[~present, :2] = 0.0
        arr.setflags(write=False)
        object.__setattr__(self, "array", arr)

    @classmethod
    def from_xy(cls, points: Sequence[Sequence[float] | None]) -> Keypoints:
        """Build from 18 entries, each ``[x, y]`` in pixels or ``None`` for a missing joint."""
        if len(points) != NUM_JOINTS:
            raise InvalidKeypoints(f"expected 18 joints (COCO-18 order), got {len(points)}")
        arr = np.zeros((NUM_JOINTS, 3), np.float32)
        for i, p in enumerate(points):
            if p is not None:
                arr[i] = (float(p[0]), float(p[1]), 1.0)
        return cls(arr)

    @classmethod
    def empty(cls) -> Keypoints:
        """Keypoints with every joint missing."""
        return cls(np.zeros((NUM_JOINTS, 3), np.float32))

    @property
    def xy(self) -> np.ndarray:
        """(18, 2) float32 pixel coordinates (0 for missing joints)."""
        return self.array[:, :2]

    @property
    def present(self) -> np.ndarray:
        """(18,) bool, True where the joint is present."""
        return self.array[:, 2] > 0

    def to_xy(self) -> list[list[float] | None]:
        """18 entries ``[x, y]`` or ``None`` (the inverse of :meth:`from_xy`)."""
        return [[float(x), float(y)] if p else None for x, y, p in self.array]

    def count(self) -> int:
        """Number of present joints."""
        return int(self.present.sum())

    def has(self, *names: str) -> bool:
        """True if all the named joints (see ``JOINT_NAMES``) are present."""
        return all(self.present[JOINT_NAMES.index(n)] for n in names)

    def bbox_area(self) -> float:
        """Area in pixels² of the bounding box of the present joints (0 if fewer than 2)."""
        if self.count() < 2:
            return 0.0
        xy = self.xy[self.present]
        span = xy.max(axis=0) - xy.min(axis=0)
        return float(span[0] * span[1])

    def map_xy(self, fn: Callable[[np.ndarray], np.ndarray]) -> Keypoints:
        """Apply ``fn`` ((N, 2) float -> (N, 2) float) to the present joints."""
        arr = self.array.copy()
        if self.count():
            arr[self.present, :2] = fn(arr[self.present, :2].astype(np.float64))
        return Keypoints(arr)

    def outside(self, height: int, width: int) -> np.ndarray:
        """(18,) bool: present joints outside [0, width) x [0, height)."""
        x, y = self.array[:, 0], self.array[:, 1]
        inside = (x >= 0) & (x < width) & (y >= 0) & (y < height)
        return self.present & ~inside

    def drop_outside(self, height: int, width: int) -> Keypoints:
        """A copy with the joints outside [0, width) x [0, height) marked missing."""
        arr = self.array.copy()
        arr[self.outside(height, width), 2] = 0.0
        return Keypoints(arr)

    def check_inside(self, height: int, width: int) -> None:
        """Raise :class:`KeypointOutsideImage` if a present joint is outside the image."""
        bad = np.flatnonzero(self.outside(height, width))
        if bad.size:
            i = int(bad[0])
            x, y = self.array[i, :2]
            raise KeypointOutsideImage(
                f"keypoint '{JOINT_NAMES[i]}' at ({x:.1f}, {y:.1f}) lies outside the "
                f"{width}x{height} image ({bad.size} joint(s) outside); map the keypoints "
                "to this image size first, or mark them missing with "
                "Keypoints.drop_outside(height, width)"
            )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Keypoints) and np.array_equal(self.array, other.array)

    def __hash__(self) -> int:
        return hash(self.array.tobytes())

    def __repr__(self) -> str:
        return f"Keypoints({self.count()}/18 present)"
