"""Training throughput of a config on this machine, on random tensors (no data loading):

    python -m train.throughput --config train/configs/face_cpu.yaml [--steps 6] [--channels-last]
        [section.key=value ...]

Times full training steps (generator forward + objective + backward + Adam, and the
discriminator step for supervised tasks) after one warm-up step and prints one JSON line
with images per second. ``schedule.matching_only_steps`` > 0 times the matching-only phase.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from train.config import TrainConfig, load_config


class _Shapes:
    """Stands in for a data set: the channel counts and a length of one batch per step."""

    def __init__(self, cfg: TrainConfig, semantic_nc: int, ref_semantic_nc: int) -> None:
        self.semantic_nc, self.ref_semantic_nc = semantic_nc, ref_semantic_nc
        self.length = cfg.schedule.batch_size

    def __len__(self) -> int:
        return self.length


def random_batch(cfg: TrainConfig, semantic_nc: int, ref_nc: int) -> dict[str, torch.Tensor]:
    """A batch of the config's shape: images (B,3,S,S) in [-1,1], semantics (B,nc,S,S)."""
    b, s = cfg.schedule.batch_size, cfg.data.size
    gen = torch.Generator().manual_seed(0)
    batch = {
        "ref_image": torch.rand(b, 3, s, s, generator=gen) * 2 - 1,
        "target_semantics": torch.rand(b, semantic_nc, s, s, generator=gen),
        "target": torch.rand(b, 3, s, s, generator=gen) * 2 - 1,
    }
    if ref_nc:
        batch["ref_semantics"] = torch.rand(b, ref_nc, s, s, generator=gen)
    return batch


def measure(cfg: TrainConfig, steps: int, channels_last: bool) -> dict[str, float | str | int]:
    """Images per second of ``steps`` timed training steps (after one warm-up step)."""
    from dynast.tasks import get_task as get_spec
    from train.trainer import Trainer

    spec = get_spec(cfg.task)
    if cfg.run.threads > 0:
        torch.set_num_threads(cfg.run.threads)
    trainer = Trainer(cfg, dataset=_Shapes(cfg, spec.semantic_nc, spec.ref_semantic_nc))
    batch = random_batch(cfg, spec.semantic_nc, spec.ref_semantic_nc)
    if channels_last:
        trainer.generator.to(memory_format=torch.channels_last)
        batch = {k: v.contiguous(memory_format=torch.channels_last) for k, v in batch.items()}
    trainer.train_step(batch, False)
    start = time.perf_counter()
    for _ in range(steps):
        trainer.train_step(batch, False)
        trainer.step += 1
    seconds = time.perf_counter() - start
    return {
        "task": cfg.task,
        "ngf": cfg.model.ngf,
        "size": cfg.data.size,
        "batch": cfg.schedule.batch_size,
        "precision": cfg.run.precision,
        "channels_last": channels_last,
        "matching_only": cfg.schedule.matching_only_steps > 0,
        "images_per_s": steps * cfg.schedule.batch_size / seconds,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.throughput", description=__doc__)
    parser.add_argument("--config", required=True)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args(argv)
    cfg = load_config(args.config, args.overrides)
    print(json.dumps(measure(cfg, args.steps, args.channels_last)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
