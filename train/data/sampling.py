"""Deterministic, resumable, rank-sharded batches.

Step ``s`` of a run always gets the same samples and the same augmentation seeds, whatever the
number of data-loader workers, so a resumed run continues bit-exactly. Each batch is a list of
``(index, seed)``; data sets draw all their randomness from ``seed``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch


def steps_per_epoch(n: int, batch_size: int, world_size: int) -> int:
    """Full batches per epoch on every rank (the remainder is dropped)."""
    steps = n // (batch_size * world_size)
    if steps == 0:
        raise ValueError(
            f"the data set has {n} usable samples, fewer than one global batch "
            f"({batch_size} per process x {world_size} processes); add data or lower the batch size"
        )
    return steps


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """A 63-bit seed for one sample's augmentation."""
    return int(
        np.random.SeedSequence([seed, epoch, index]).generate_state(2, np.uint64)[0] >> np.uint64(1)
    )


class StepBatchSampler:
    """Yields this rank's batches from ``start_step`` on, forever (the trainer decides the end).

    Epoch e shuffles indices with torch.Generator(seed + e); step s of epoch e on rank r takes the
    slice ``[(s*world + r)*B, ... + B)``. With ``freeze_augmentation`` every epoch reuses epoch 0's
    seeds (overfit checks); the order still changes.
    """

    def __init__(
        self,
        n: int,
        batch_size: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        start_step: int = 0,
        freeze_augmentation: bool = False,
    ) -> None:
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.rank, self.world_size, self.start_step = rank, world_size, start_step
        self.freeze = freeze_augmentation
        self.steps_per_epoch = steps_per_epoch(n, batch_size, world_size)

    def batch_at(self, step: int) -> list[tuple[int, int]]:
        epoch, within = divmod(step, self.steps_per_epoch)
        order = torch.randperm(
            self.n, generator=torch.Generator().manual_seed(self.seed + epoch)
        ).tolist()
        start = (within * self.world_size + self.rank) * self.batch_size
        aug_epoch = 0 if self.freeze else epoch
        return [
            (i, sample_seed(self.seed, aug_epoch, i))
            for i in order[start : start + self.batch_size]
        ]

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        step = self.start_step
        while True:
            yield self.batch_at(step)
            step += 1
