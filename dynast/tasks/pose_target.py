"""Target poses given as keypoint files (OpenPose JSON or a _candidate.txt / _subset.txt pair)."""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dynast.semantics.errors import KeypointOutsideImage, MalformedKeypointFile, NoPersonFound
from dynast.semantics.keypoints import Keypoints
from dynast.semantics.openpose_io import read_openpose_json, read_openpose_txt

__all__ = ["PoseTarget", "read_pose_file", "pose_target_from_file"]

PathLike = str | Path


@dataclass(frozen=True)
class PoseTarget:
    """A target pose given as keypoints on a canvas of ``size`` = (height, width) pixels."""

    keypoints: Keypoints
    size: tuple[int, int]


def _paths(paths: PathLike | Sequence[PathLike]) -> list[Path]:
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    return [Path(p) for p in items if p]


def read_pose_file(paths: PathLike | Sequence[PathLike]) -> tuple[Keypoints, list[str]]:
    """Read target keypoints from an OpenPose JSON file or a ``*_candidate.txt`` /
    ``*_subset.txt`` pair (in either order). Raises a :class:`SemanticsError` subclass when
    the files are malformed."""
    items = _paths(paths)
    if not items:
        raise MalformedKeypointFile("No keypoint file was given: upload an OpenPose JSON file "
                                    "or a _candidate.txt / _subset.txt pair.")
    jsons = [p for p in items if p.suffix.lower() == ".json"]
    if len(items) == 1 and jsons:
        return read_openpose_json(jsons[0])
    txts = [p for p in items if p.suffix.lower() == ".txt"]
    if len(items) == 2 and len(txts) == 2:
        cand = [p for p in txts if "candidate" in p.name.lower()]
        sub = [p for p in txts if "subset" in p.name.lower()]
        if len(cand) == 1 and len(sub) == 1:
            return read_openpose_txt(cand[0], sub[0])
        raise MalformedKeypointFile(
            "Two .txt files were given but their names do not say which is the candidate "
            "and which the subset file: name them NAME_candidate.txt and NAME_subset.txt."
        )
    names = ", ".join(p.name for p in items)
    raise MalformedKeypointFile(
        f"Cannot read a pose from {names}: give one OpenPose .json file, or the two files "
        "NAME_candidate.txt and NAME_subset.txt together."
    )


def _json_canvas_size(paths: PathLike | Sequence[PathLike]) -> tuple[int, int] | None:
    """The optional ``canvas_height`` / ``canvas_width`` of a single OpenPose JSON file
    (this project's pose files carry them; plain OpenPose output does not). Present but not
    two whole numbers in 16..8192: :class:`MalformedKeypointFile`."""
    items = _paths(paths)
    if len(items) != 1 or items[0].suffix.lower() != ".json":
        return None
    try:
        data = json.loads(items[0].read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None  # read_pose_file has already named what is wrong with the file
    if not isinstance(data, dict) or ("canvas_height" not in data and "canvas_width" not in data):
        return None
    h, w = data.get("canvas_height"), data.get("canvas_width")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and 16 <= v <= 8192
               and v == int(v) for v in (h, w)):
        raise MalformedKeypointFile(
            f"{items[0]}: canvas_height and canvas_width must be whole numbers of pixels "
            f"between 16 and 8192, got {str(h)[:20]} and {str(w)[:20]}; fix them or remove "
            "both (the canvas is then fitted to the joints)")
    return int(h), int(w)


def pose_target_from_file(paths: PathLike | Sequence[PathLike],
                          size: tuple[int, int] | None = None) -> tuple[PoseTarget, list[str]]:
    """Build a :class:`PoseTarget` from keypoint files.

    OpenPose files do not store the image size: ``size`` (height, width) gives it; without it
    the canvas is the joints' bounding box with a margin, with the person's proportions.
    """
    kp, notes = read_pose_file(paths)
    if size is None:
        size = _json_canvas_size(paths)
    if kp.count() < 2:
        raise NoPersonFound("The keypoint file has fewer than 2 joints: it holds no usable "
                            "pose. Use another file or extract the pose from a photo.")
    if size is None:
        xy = kp.xy[kp.present]
        lo, hi = xy.min(0), xy.max(0)
        span = float(max(hi[0] - lo[0], hi[1] - lo[1], 1.0))
        margin = 0.12 * span
        h = int(np.ceil(hi[1] - lo[1] + 2 * margin)) + 1
        w = int(np.ceil(max(hi[0] - lo[0] + 2 * margin, 0.5 * h))) + 1
        cx = (lo[0] + hi[0]) / 2.0
        off = np.array([w / 2.0 - cx, margin - lo[1]])
        kp = kp.map_xy(lambda a: a + off)
        size = (h, w)
    else:
        inside = kp.drop_outside(*size)
        if inside.count() < 2:
            raise KeypointOutsideImage(
                f"{kp.count() - inside.count()} of the {kp.count()} joints lie outside the "
                f"{size[0]}x{size[1]} canvas, leaving {inside.count()}: no pose to draw. Give "
                "the size of the image the keypoints were taken from")
        kp = inside
    return PoseTarget(kp, (int(size[0]), int(size[1]))), notes
