"""Shared data-set behaviour: unreadable samples are skipped (the next index is used), counted and
reported, and batches are collated into the model's inputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from train.data.files import DataLayoutError

# What a broken sample may raise: I/O errors, and the semantics package's ValueError subclasses
# (no face found, malformed keypoint file, ...). Layout errors are never skipped.
SKIPPABLE = (OSError, ValueError)


class SkippingDataset(Dataset):
    """Subclasses implement ``__len__``, ``name(index)`` and ``load(index, rng) -> dict``.

    ``dataset[(index, seed)]`` returns ``load``'s dict plus ``skipped`` (list of ``(name, reason)``
    of the samples that could not be read: ``name(i)`` and the error), trying the following
    indices when a sample cannot be read.
    """

    def name(self, index: int) -> str:
        raise NotImplementedError

    def load(self, index: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def __getitem__(self, key: tuple[int, int] | int) -> dict[str, Any]:
        index, seed = key if isinstance(key, tuple) else (key, key)
        skipped: list[tuple[str, str]] = []
        for attempt in range(len(self)):
            i = (index + attempt) % len(self)
            try:
                sample = self.load(i, np.random.default_rng(seed))
            except DataLayoutError:
                raise
            except SKIPPABLE as err:
                skipped.append((self.name(i), str(err)))
                continue
            sample["skipped"] = skipped
            return sample
        raise RuntimeError(
            f"every sample of {type(self).__name__} failed to load; first: {skipped[:3]}"
        )


def collate(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack the tensors of a list of samples; ``skipped`` becomes one flat list."""
    batch: dict[str, Any] = {"skipped": [s for sample in samples for s in sample["skipped"]]}
    for key in samples[0]:
        if key != "skipped":
            batch[key] = torch.stack([s[key] for s in samples])
    return batch


class PhotoFolder(SkippingDataset):
    """A folder of photos, each fitted to ``size`` x ``size`` for warped self-pairs, with what a
    detector found in it cached (:class:`~train.data.cache.ArrayCache` under
    ``cache_dir/cache_name``, entries keyed by ``cache_key`` and the photo's bytes). ``fit``:
    the photo is first framed as the pipeline frames it. Subclasses write ``load``."""

    def __init__(self, folder: str | Path, size: int, cache_dir: str | Path, cache_name: str,
                 cache_key: str, *, max_images: int = 0, warp_strength: float = 1.0,
                 fit: bool = False) -> None:
        from train.data.cache import ArrayCache
        from train.data.files import list_images

        self.files = list_images(folder, max_images)
        self.size, self.warp_strength, self.fit = size, warp_strength, fit
        self.cache = ArrayCache(Path(cache_dir) / cache_name, cache_key)

    def __len__(self) -> int:
        return len(self.files)

    def name(self, index: int) -> str:
        return str(self.files[index])
