"""On-disk cache of per-image arrays (photo semantics, keypoints): one .npz per (image, recipe).

The key hashes the file's bytes with a recipe string (e.g. the output size and extractor
version), so an edited photo or a changed recipe is recomputed, and a cache filled on one machine
serves the same photos under another path (a GPU machine without MediaPipe, say). Writes are
atomic.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np


class ArrayCache:
    """``get(path, compute)``: the cached ``dict[str, ndarray]`` for ``path``, computing it once."""

    def __init__(self, root: str | Path, recipe: str) -> None:
        self.root = Path(root)
        self.recipe = recipe

    def _file(self, path: Path) -> Path:
        content = hashlib.sha1(path.read_bytes()).hexdigest()
        digest = hashlib.sha1(f"{content}|{self.recipe}".encode()).hexdigest()
        return self.root / digest[:2] / f"{digest}.npz"

    def get(
        self, path: str | Path, compute: Callable[[], dict[str, np.ndarray]]
    ) -> dict[str, np.ndarray]:
        file = self._file(Path(path))
        if file.exists():
            try:
                with np.load(file) as data:
                    return {k: data[k] for k in data.files}
            except (OSError, ValueError):
                pass  # a damaged cache entry is recomputed below
        arrays = compute()
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_name(f"{file.stem}.{os.getpid()}.tmp.npz")
        np.savez(tmp, **arrays)
        os.replace(tmp, file)
        return arrays
