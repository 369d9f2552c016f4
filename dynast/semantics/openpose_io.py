"""Read and write OpenPose keypoint files.

Two formats:

* the release's pair ``NAME_candidate.txt`` / ``NAME_subset.txt`` (pytorch-openpose output
  saved with ``np.savetxt``): candidate rows ``x y score id``; subset rows hold 18 row indices
  into candidate (-1 = missing), then a total score and a joint count. One person per subset
  row (a single person may be saved as one column of 20 numbers);
* OpenPose JSON: ``{"people": [{"pose_keypoints_2d": [x, y, c, ...]}, ...]}`` in the COCO-18
  (54 numbers) or BODY_25 (75 numbers) layout; c = 0 means missing.

Readers return ``(Keypoints, warnings)``: when a file holds several people the largest (by
the area of the box around its joints) is used and a warning says so.
"""
from __future__ import annotations

import io
import json
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dynast.files import read_regular_file
from dynast.semantics.errors import MalformedKeypointFile, NoPersonFound
from dynast.semantics.keypoints import NUM_JOINTS, Keypoints

__all__ = [
    "read_openpose_txt",
    "write_openpose_txt",
    "read_openpose_json",
    "parse_openpose_json",
    "write_openpose_json",
    "select_largest",
]

# BODY_25 index of each COCO-18 joint (BODY_25 adds mid-hip at 8 and feet at 19-24).
BODY25_TO_COCO18 = (0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18)
MAX_KEYPOINT_FILE_BYTES = 16 * 1024 * 1024
MAX_COORDINATE = 1e6  # pixels; larger coordinates are corrupt (and may overflow float32)

PathLike = str | Path


def select_largest(people: Sequence[Keypoints], source: str) -> tuple[Keypoints, list[str]]:
    """Pick the person with the largest joint bounding box; warn if there were several."""
    people = [p for p in people if p.count() > 0]
    if not people:
        raise NoPersonFound(
            f"{source} holds no person with any joint; check the file or extract the pose "
            "from the photo instead"
        )
    if len(people) == 1:
        return people[0], []
    best = max(range(len(people)), key=lambda i: people[i].bbox_area())
    return people[best], [
        f"{source} holds {len(people)} people; using the largest (person {best}). "
        "Crop the image to one person to choose another."
    ]


def _read_text(path: PathLike) -> str:
    data = read_regular_file(
        path, MAX_KEYPOINT_FILE_BYTES, MalformedKeypointFile, MalformedKeypointFile
    )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedKeypointFile(f"{path} is not a UTF-8 text keypoint file ({exc})") from exc


def _check_coordinates(xy: np.ndarray, source: str) -> None:
    """Refuse NaN, infinite or absurd (beyond ``MAX_COORDINATE``) x, y values."""
    if not np.isfinite(xy).all():
        raise MalformedKeypointFile(f"{source} contains NaN or infinite coordinates")
    if xy.size and float(np.abs(xy).max()) > MAX_COORDINATE:
        raise MalformedKeypointFile(
            f"{source} has a coordinate of {float(np.abs(xy).max()):.3g} pixels, beyond "
            f"{MAX_COORDINATE:.0e}; the file is corrupt or not in pixels"
        )


def _load_matrix(path: PathLike) -> np.ndarray:
    text = _read_text(path)
    if not text.strip():
        return np.zeros((0, 0))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arr = np.loadtxt(io.StringIO(text), dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise MalformedKeypointFile(
            f"{path} is not a table of numbers ({exc}); expected np.savetxt output of "
            "pytorch-openpose"
        ) from exc
    if not np.isfinite(arr).all():
        raise MalformedKeypointFile(f"{path} contains NaN or infinite numbers")
    return arr


def read_openpose_txt(
    candidate_path: PathLike, subset_path: PathLike
) -> tuple[Keypoints, list[str]]:
    """Read a ``NAME_candidate.txt`` / ``NAME_subset.txt`` pair (pixels of the photo)."""
    candidate = _load_matrix(candidate_path)
    subset = _load_matrix(subset_path)
    if subset.size == 0:
        raise NoPersonFound(
            f"{subset_path} is empty: it holds no person. Pass a non-empty NAME_subset.txt "
            "(pytorch-openpose output) or extract the pose from the photo instead"
        )
    if candidate.size == 0:
        candidate = np.zeros((0, 4))
    if candidate.shape[1] < 2:
        raise MalformedKeypointFile(
            f"{candidate_path}: candidate rows need at least x and y, got {candidate.shape[1]} "
            "column(s); did you swap the candidate and subset files?"
        )
    _check_coordinates(candidate[:, :2], str(candidate_path))
    if subset.shape[1] == 1:  # one person saved as a single column
        subset = subset.T
    if subset.size and subset.shape[1] not in (NUM_JOINTS, NUM_JOINTS + 2):
        raise MalformedKeypointFile(
            f"{subset_path}: a subset row needs 18 joint indices (+ score and count), got "
            f"{subset.shape[1]} numbers; did you swap the candidate and subset files?"
        )
    people = []
    for row in subset[:, :NUM_JOINTS]:
        if not np.all(row == np.round(row)) or row.min() < -1 or row.max() >= len(candidate):
            raise MalformedKeypointFile(
                f"{subset_path}: joint indices must be -1 or row numbers of "
                f"{candidate_path} (0..{len(candidate) - 1}), got {row.tolist()}"
            )
        arr = np.zeros((NUM_JOINTS, 3), np.float32)
        for j, idx in enumerate(row.astype(int)):
            if idx >= 0:
                arr[j] = (candidate[idx, 0], candidate[idx, 1], 1.0)
        people.append(Keypoints(arr))
    return select_largest(people, str(subset_path))


def _as_people(keypoints: Keypoints | Sequence[Keypoints]) -> list[Keypoints]:
    return [keypoints] if isinstance(keypoints, Keypoints) else list(keypoints)


def write_openpose_txt(
    keypoints: Keypoints | Sequence[Keypoints], candidate_path: PathLike, subset_path: PathLike
) -> None:
    """Write one or more people as a candidate / subset pair (score 1.0 per present joint).

    A single person's subset is written as one column of 20 numbers, like the release's files.
    """
    people = _as_people(keypoints)
    candidate: list[list[float]] = []
    subset = np.full((len(people), NUM_JOINTS + 2), -1.0)
    for p, kp in enumerate(people):
        for j in np.flatnonzero(kp.present):
            subset[p, j] = len(candidate)
            candidate.append([float(kp.xy[j, 0]), float(kp.xy[j, 1]), 1.0, float(len(candidate))])
        subset[p, NUM_JOINTS] = float(kp.count())
        subset[p, NUM_JOINTS + 1] = float(kp.count())
    np.savetxt(candidate_path, np.array(candidate, np.float64).reshape(-1, 4))
    np.savetxt(subset_path, subset[0] if len(people) == 1 else subset)


def read_openpose_json(path: PathLike) -> tuple[Keypoints, list[str]]:
    """Read OpenPose JSON (COCO-18 or BODY_25 ``pose_keypoints_2d``), pixels of the photo."""
    return parse_openpose_json(_read_text(path), str(path))


def parse_openpose_json(text: str, path: str) -> tuple[Keypoints, list[str]]:
    """:func:`read_openpose_json` on the file's text (``path`` names it in messages)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MalformedKeypointFile(f"{path} is not valid JSON: {exc}") from exc
    except ValueError as exc:  # e.g. a number of thousands of digits (int() refuses them)
        raise MalformedKeypointFile(
            f"{path} holds a number too long to read (thousands of digits); the file is corrupt"
        ) from exc
    except RecursionError as exc:
        raise MalformedKeypointFile(
            f"{path} is nested too deeply to be an OpenPose JSON file"
        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("people"), list):
        raise MalformedKeypointFile(
            f"{path}: expected an OpenPose JSON object with a 'people' list"
        )
    people = []
    for n, person in enumerate(data["people"]):
        flat = person.get("pose_keypoints_2d") if isinstance(person, dict) else None
        try:
            arr = np.asarray(flat, dtype=np.float64).reshape(-1, 3)
        except (TypeError, ValueError, OverflowError) as exc:
            raise MalformedKeypointFile(
                f"{path}: people[{n}].pose_keypoints_2d must be a flat list of x, y, c numbers "
                "of ordinary size"
            ) from exc
        if len(arr) == 25:
            arr = arr[list(BODY25_TO_COCO18)]
        elif len(arr) != NUM_JOINTS:
            raise MalformedKeypointFile(
                f"{path}: people[{n}] has {len(arr)} keypoints; expected 18 (COCO-18) or 25 "
                "(BODY_25). Other layouts (e.g. MPI) are not supported."
            )
        if not np.isfinite(arr[:, 2]).all():
            raise MalformedKeypointFile(f"{path}: people[{n}] contains NaN or infinite numbers")
        arr[:, 2] = arr[:, 2] > 0
        _check_coordinates(arr[arr[:, 2] > 0, :2], f"{path}: people[{n}]")
        people.append(Keypoints(arr.astype(np.float32)))
    return select_largest(people, str(path))


def write_openpose_json(keypoints: Keypoints | Sequence[Keypoints], path: PathLike) -> None:
    """Write OpenPose JSON in the COCO-18 layout (c = 1 present, x = y = c = 0 missing)."""
    people = [
        {"person_id": [-1], "pose_keypoints_2d": [float(v) for v in kp.array.reshape(-1)]}
        for kp in _as_people(keypoints)
    ]
    Path(path).write_text(json.dumps({"version": 1.3, "people": people}), encoding="utf-8")
