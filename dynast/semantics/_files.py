"""Bounded reads of regular files (no FIFOs, devices or folders: they could block or never end)."""
from __future__ import annotations

import os
import stat
from pathlib import Path

from dynast.semantics.errors import SemanticsError

__all__ = ["read_regular_file"]


def read_regular_file(
    path: str | Path, limit: int, error: type[SemanticsError], too_large: type[SemanticsError]
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
