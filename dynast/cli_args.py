"""What the command lines share: a parser whose usage errors are one line with exit status 2,
and the checks of ``--size`` and of output folders."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import NoReturn


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse with usage errors as one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def parse_size(text: str | None, error: type[Exception]) -> int | tuple[int, int] | None:
    """``--size``: None, N (the long side) or HxW, in ASCII digits; ``error`` otherwise.

    Only the form is checked here (the pipeline says which sizes fit the task): "²⁵⁶" passes
    ``str.isdigit`` but not ``int``, and ``int`` refuses thousands of digits."""
    if text is None:
        return None
    parts = text.lower().split("x")
    if not all(re.fullmatch(r"\s*[0-9]{1,6}\s*", p) for p in parts) or len(parts) not in (1, 2):
        raise error(f"--size must be N (the long side) or HxW in digits 0-9, e.g. 256 "
                    f"or 256x176, got {text[:40]!r}")
    nums = [int(p) for p in parts]
    return nums[0] if len(nums) == 1 else (nums[0], nums[1])


def writable_dir(path: Path, what: str, error: type[Exception]) -> None:
    """Create the folder ``path`` (named ``what`` in messages) if needed; ``error`` when it is
    a file or cannot be created."""
    if path.exists() and not path.is_dir():
        raise error(f"{what} {path} exists and is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise error(f"cannot create {what} {path}: {exc.strerror or exc}") from exc
