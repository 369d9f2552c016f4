"""Driving poses given as files: one OpenPose JSON per frame, in a folder or a .zip.

OpenPose writes a video's poses as ``NAME_000000000000_keypoints.json``,
``NAME_000000000001_keypoints.json``, ... (``--write_json``). Frames are ordered by the
number before ``_keypoints.json`` (else by name). A frame with nobody in it is kept as
``None`` (filled from its neighbours later, see :mod:`dynast.video.smoothing`). Nothing is
extracted to disk: zip members are read in memory, each bounded like a keypoint file, and
the archive as a whole is bounded too (members, uncompressed bytes).
"""
from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from dynast.errors import VideoError
from dynast.files import read_regular_file
from dynast.semantics.errors import MalformedKeypointFile, NoPersonFound, SemanticsError
from dynast.semantics.keypoints import Keypoints
from dynast.semantics.openpose_io import MAX_KEYPOINT_FILE_BYTES, parse_openpose_json

__all__ = ["PoseSequence", "read_pose_sequence", "write_pose_sequence", "MAX_ZIP_BYTES",
           "MAX_SEQUENCE_FILES"]

MAX_SEQUENCE_FILES = 3000  # JSON files in a folder or archive (100 s at 30 fps)
MAX_ZIP_BYTES = 256 * 1024 * 1024  # uncompressed bytes of all the JSON members together
_NUMBER = re.compile(r"(\d+)(?:_keypoints)?\.json$", re.IGNORECASE)


@dataclass
class PoseSequence:
    """Keypoints per frame (pixels of the clip; ``None`` where nobody was found) and notes
    for the user."""

    frames: list[Keypoints | None]
    warnings: list[str]


def _order(name: str) -> tuple[int, str]:
    m = _NUMBER.search(name)
    return (int(m.group(1)) if m else -1, name)


def _parse(text: str, name: str) -> tuple[Keypoints | None, bool]:
    """(the frame's person or None, whether it held several people)."""
    try:
        kp, notes = parse_openpose_json(text, name)
    except NoPersonFound:
        return None, False
    return kp, bool(notes)


def _zip_texts(path: Path) -> list[tuple[str, str]]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise VideoError(f"{path.name} is not a readable .zip archive ({exc}); zip the "
                         "OpenPose JSON files again") from exc
    with archive:
        members = [m for m in archive.infolist()
                   if not m.is_dir() and m.filename.lower().endswith(".json")
                   and not Path(m.filename).name.startswith(".")]
        if len(members) > MAX_SEQUENCE_FILES:
            raise VideoError(f"{path.name} holds {len(members)} JSON files, over the limit of "
                             f"{MAX_SEQUENCE_FILES}; send fewer frames")
        total = sum(m.file_size for m in members)
        if total > MAX_ZIP_BYTES or any(m.file_size > MAX_KEYPOINT_FILE_BYTES for m in members):
            raise VideoError(f"{path.name} unpacks to {total} bytes, over the limits "
                             f"({MAX_KEYPOINT_FILE_BYTES} per file, {MAX_ZIP_BYTES} in all)")
        texts, read = [], 0
        for m in members:
            with archive.open(m) as f:
                data = f.read(MAX_KEYPOINT_FILE_BYTES + 1)
            read += len(data)
            if len(data) > MAX_KEYPOINT_FILE_BYTES or read > MAX_ZIP_BYTES:  # headers lied
                raise VideoError(f"{m.filename} in {path.name} unpacks past the limits "
                                 f"({MAX_KEYPOINT_FILE_BYTES} bytes per file, {MAX_ZIP_BYTES} "
                                 "in all)")
            texts.append((Path(m.filename).name, data.decode("utf-8", errors="replace")))
    return texts


def _folder_texts(path: Path) -> list[tuple[str, str]]:
    files = [p for p in path.iterdir() if p.suffix.lower() == ".json" and p.is_file()]
    if len(files) > MAX_SEQUENCE_FILES:
        raise VideoError(f"{path} holds {len(files)} JSON files, over the limit of "
                         f"{MAX_SEQUENCE_FILES}; use fewer frames")
    return [(p.name, read_regular_file(p, MAX_KEYPOINT_FILE_BYTES, MalformedKeypointFile,
                                       MalformedKeypointFile).decode("utf-8", errors="replace"))
            for p in files]


def read_pose_sequence(path: str | Path, max_frames: int | None = None) -> PoseSequence:
    """Read one pose per frame from a folder or a .zip of OpenPose JSON files.

    Reads at most ``max_frames`` frames (the first ones in frame order). Raises
    :class:`VideoError` when there are no JSON files, too many, or nobody in any frame, and
    a :class:`SemanticsError` naming the file when one is malformed.
    """
    path = Path(path)
    if path.is_dir():
        texts = _folder_texts(path)
    elif path.is_file() and path.suffix.lower() == ".zip":
        texts = _zip_texts(path)
    else:
        raise VideoError(f"{path} is neither a folder nor a .zip of OpenPose JSON files")
    if not texts:
        raise VideoError(f"no OpenPose .json files in {path.name}; OpenPose writes one "
                         "NAME_000000000000_keypoints.json per frame with --write_json")
    texts.sort(key=lambda item: _order(item[0]))
    if max_frames is not None:
        texts = texts[:max_frames]
    frames: list[Keypoints | None] = []
    crowded = 0
    for name, text in texts:
        try:
            kp, several = _parse(text, name)
        except SemanticsError as exc:
            raise type(exc)(f"frame {name}: {exc}") from exc
        frames.append(kp)
        crowded += several
    warnings = [f"{crowded} frame(s) hold several people; the largest is used in each"] \
        if crowded else []
    if all(f is None for f in frames):
        raise VideoError(f"none of the {len(frames)} pose files in {path.name} holds a person")
    return PoseSequence(frames, warnings)


def write_pose_sequence(frames: list[Keypoints], path: str | Path, name: str = "clip",
                        size: tuple[int, int] | None = None) -> None:
    """Write one OpenPose JSON per frame, named as OpenPose names them
    (``NAME_000000000000_keypoints.json``), into the folder ``path`` or, for a ``.zip``
    path, into that archive. ``size`` (H, W) is stored as ``canvas_height/width``."""
    path = Path(path)
    extra = {} if size is None else {"canvas_height": size[0], "canvas_width": size[1]}

    def text(kp: Keypoints) -> str:
        flat = [round(float(v), 2) for v in kp.array.reshape(-1)]
        return json.dumps({"version": 1.3, **extra,
                           "people": [{"person_id": [-1], "pose_keypoints_2d": flat}]})

    names = [f"{name}_{i:012d}_keypoints.json" for i in range(len(frames))]
    if path.suffix.lower() == ".zip":
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for n, kp in zip(names, frames):
                archive.writestr(n, text(kp))
        return
    path.mkdir(parents=True, exist_ok=True)
    for n, kp in zip(names, frames):
        (path / n).write_text(text(kp), encoding="utf-8")
