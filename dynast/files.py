"""Bounded reads of regular files (no FIFOs, devices or folders: they could block or never end)."""
from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["read_regular_file", "check_regular_file", "check_output_folder"]


def check_regular_file(path: str | Path, error: type[Exception]) -> None:
    """Raise ``error`` (naming ``path``) unless ``path`` is an existing regular file.

    ``os.stat`` does not open the file, so a FIFO or device is refused without blocking; use
    it before handing a path to a reader that would open it (``torch.load``).
    """
    try:
        info = os.stat(path)
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise error(f"{path} is not a regular file (a folder, pipe or device); pass a file")


def read_regular_file(
    path: str | Path, limit: int, error: type[Exception], too_large: type[Exception]
) -> bytes:
    """Read at most ``limit`` bytes of the regular file ``path``.

    The file is opened without blocking (a FIFO opens at once) and checked with ``fstat``:
    anything that is not a regular file raises ``error``, a file over ``limit`` bytes raises
    ``too_large``. Both messages name the path.
    """
    name = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise error(f"cannot read {name}: {exc.strerror or exc}") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise error(f"{name} is not a regular file (a folder, pipe or device); pass a file")
        if info.st_size > limit:
            raise too_large(f"{name} is {info.st_size} bytes, over the limit of {limit}; "
                            "use a smaller file")
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise error(f"cannot read {name}: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)
    if len(data) > limit:
        raise too_large(f"{name} grew past the limit of {limit} bytes while being read")
    return data


def check_output_folder(out_dir: Path, error: type[Exception]) -> None:
    """Raise ``error`` unless ``out_dir`` is a folder or can be created as one (a file there,
    or under a file, cannot be)."""
    for parent in (out_dir, *out_dir.parents):
        if parent.exists() and not parent.is_dir():
            raise error(f"cannot write {out_dir}: {parent} exists and is not a folder; "
                        "choose another output folder")
