"""Shared data-set behaviour: unreadable samples are skipped (the next index is used), counted and
reported, and batches are collated into the model's inputs."""

from __future__ import annotations

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
