"""The fit loop: one generator step and (supervised tasks) one discriminator step per batch, the
two-time-scale Adam of the release, mixed precision, DDP, exact resume, NaN/inf guard.

One host sync per step: the all-rank "are losses and gradients finite" flags that decide
whether the optimisers step. Loss values stay on the device and are averaged at log intervals.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader
from tqdm import tqdm

from dynast.precision import autocast
from dynast.semantics import close_detectors
from train import checkpoint
from train.config import TrainConfig, config_to_dict
from train.data.base import collate
from train.data.sampling import StepBatchSampler
from train.distributed import (
    DistInfo,
    all_ranks_true,
    barrier,
    gather_objects,
    leaves_parameters_unused,
    parameter_digest,
    setup,
    sync_batchnorm,
    teardown,
)
from train.losses.discriminator import MultiscaleDiscriminator
from train.losses.vgg import VGG19Features, default_cache_dir
from train.monitor import MetricWindow, Monitor, image_grid
from train.optimizers import FP16_WARNING, build_optimizers, lr_factor
from train.phases import (
    check_schedule,
    initial_generator,
    matching_phase,
    matching_terms,
    set_gate,
)
from train.tasks import training_task

CHECKPOINT_NAME = "checkpoints/latest.pt"

def _finite(total: torch.Tensor, params: list[nn.Parameter]) -> torch.Tensor:
    """0-d bool tensor on the device: the loss and every gradient are finite (no host sync)."""
    grads = [p.grad.float().abs().sum() for p in params if p.grad is not None]
    flag = torch.isfinite(total.detach())
    return flag & torch.stack(grads).sum().isfinite() if grads else flag


def _to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {
        k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v
        for k, v in batch.items()
    }


class Trainer:
    """Builds data, models, losses and optimisers from a TrainConfig; ``fit()`` runs to the end."""

    def __init__(self, cfg: TrainConfig, resume: bool = False, dataset: Any = None) -> None:
        """``dataset``: use this one instead of building the task's (throughput runs)."""
        from dynast import DynaSTConfig

        self.cfg = cfg
        self.task = training_task(cfg.task)
        self.info: DistInfo = setup(cfg.run.device)
        if cfg.run.threads > 0:
            torch.set_num_threads(cfg.run.threads)
        torch.manual_seed(cfg.run.seed)
        self.out = Path(cfg.run.out)
        cache = (
            Path(cfg.data.cache_dir) if cfg.data.cache_dir else default_cache_dir() / "semantics"
        )
        check_schedule(cfg, self.task.supervised)
        self.dataset = dataset if dataset is not None else self.task.build_dataset(cfg.data, cache)
        dev, size = self.info.device, cfg.data.size
        model_cfg = DynaSTConfig(
            semantic_nc=self.dataset.semantic_nc,
            ref_semantic_nc=self.dataset.ref_semantic_nc,
            ngf=cfg.model.ngf,
            train_size=(size, size),
            **cfg.model.extra,
        )
        self.generator = initial_generator(cfg, model_cfg).to(dev)
        model_cfg = self.generator.config
        sync_batchnorm(self.generator, self.info)
        if dev.type == "cuda":
            torch.backends.cudnn.benchmark = True  # one input size for the whole run
        self.objective = self.task.objective(cfg.loss, VGG19Features().to(dev))
        self.discriminator = None
        if self.objective.uses_discriminator:
            self.discriminator = MultiscaleDiscriminator(
                model_cfg.semantic_nc, cfg.loss.ndf, cfg.loss.num_d, cfg.loss.n_layers_d
            ).to(dev)
        fp16 = cfg.run.precision == "fp16"
        self.optimizers = build_optimizers(cfg.optim, self.generator, self.discriminator, dev, fp16)
        if fp16 and self.info.is_main:
            print(FP16_WARNING)
        self.step = 0
        self.nonfinite_steps = 0
        self.skipped: dict[
            str, str
        ] = {}  # sample name -> reason, every rank's (merged at log steps)
        self._new_skips: dict[str, str] = {}
        if resume:
            self._resume()
        self.g_ddp, self.d_ddp = self.generator, self.discriminator
        if self.info.world_size > 1:
            ids = [dev.index] if dev.type == "cuda" else None
            self.g_ddp = DDP(
                self.generator,
                device_ids=ids,
                find_unused_parameters=leaves_parameters_unused(model_cfg),
            )
            if self.discriminator is not None:
                self.d_ddp = DDP(self.discriminator, device_ids=ids)
        schedule = cfg.schedule
        self.sampler = StepBatchSampler(
            len(self.dataset),
            schedule.batch_size,
            cfg.run.seed,
            self.info.rank,
            self.info.world_size,
            self.step,
            cfg.data.freeze_augmentation,
        )
        steps_per_epoch = self.sampler.steps_per_epoch
        self.total_steps = schedule.epochs * steps_per_epoch
        self.decay_steps = schedule.decay_epochs * steps_per_epoch
        limit = schedule.max_steps if schedule.max_steps > 0 else self.total_steps
        self.stop_step = min(self.total_steps, limit)

    # ------------------------------------------------------------------ state
    def _state(self) -> dict[str, Any]:
        """Tensors and plain values only (``checkpoint.load`` reads it with weights_only=True)."""
        rngs = gather_objects(checkpoint.rng_state(self.info.device), self.info)
        opt = self.optimizers
        return {
            "step": self.step,
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict()
            if self.discriminator is not None
            else None,
            "opt_g": opt.opt_g.state_dict(),
            "opt_d": opt.opt_d.state_dict() if opt.opt_d is not None else None,
            "scaler": opt.scaler.state_dict(),
            "scaler_d": opt.scaler_d.state_dict(),
            "rng": rngs,
            "world_size": self.info.world_size,
            "nonfinite_steps": self.nonfinite_steps,
            "skipped": dict(self.skipped),
            "config": config_to_dict(self.cfg),
            "model_config": self.generator.config.to_dict(),
        }

    def save_checkpoint(self) -> None:
        state = self._state()  # every rank takes part (RNG gather)
        if self.info.is_main:
            checkpoint.save_atomic(state, self.out / CHECKPOINT_NAME)

    def _resume(self) -> None:
        path = self.out / CHECKPOINT_NAME
        if not path.exists():
            if self.info.is_main:
                print(f"--resume: no checkpoint at {path}; starting a new run")
            return
        state = checkpoint.load(path)
        self.generator.load_state_dict(state["generator"])
        if self.discriminator is not None:
            self.discriminator.load_state_dict(state["discriminator"])
            self.optimizers.opt_d.load_state_dict(state["opt_d"])
        self.optimizers.opt_g.load_state_dict(state["opt_g"])
        self.optimizers.scaler.load_state_dict(state["scaler"])
        if "scaler_d" in state:  # checkpoints from before the discriminator had its own
            self.optimizers.scaler_d.load_state_dict(state["scaler_d"])
        self.step = int(state["step"])
        self.nonfinite_steps = int(state["nonfinite_steps"])
        self.skipped = dict(state["skipped"])
        checkpoint.restore_rng(
            state["rng"], self.info.rank, self.info.device, self.cfg.run.seed, self.step
        )
        if self.info.is_main and state["world_size"] != self.info.world_size:
            print(
                f"--resume: the checkpoint was written by {state['world_size']} process(es), "
                f"this run has {self.info.world_size}; ranks below {state['world_size']} restore "
                f"their RNG states, others "
                f"start fresh ones (data order follows the step either way)"
            )

    # ------------------------------------------------------------------ steps
    def train_step(
        self, batch: dict[str, Any], want_warps: bool
    ) -> tuple[dict[str, torch.Tensor], Any, bool]:
        """One G step and one D step. Returns the step's loss terms (0-d tensors on the device),
        the model output and whether the networks stepped (False: a non-finite loss or gradient
        on some rank; nothing stepped)."""
        precision, dev = self.cfg.run.precision, self.info.device
        opt = self.optimizers
        supervised_warps = self.task.supervised and self.cfg.loss.matching > 0
        matching_only = matching_phase(self.cfg, self.step)
        d_runs = self.discriminator is not None and not matching_only
        set_gate(self.generator, self.step, self.cfg)
        d_module = self.discriminator
        if d_module is not None:
            d_module.requires_grad_(False)
        with autocast(dev, precision):
            out = self.g_ddp(
                batch["ref_image"],
                batch.get("ref_semantics"),
                batch["target_semantics"],
                return_warps=supervised_warps or want_warps,
            )
            if matching_only:
                g_terms = matching_terms(out.warps, batch, self.cfg.loss.matching)
            else:
                g_terms = self.objective.generator(out, batch, d_module)
        opt.opt_g.zero_grad(set_to_none=True)
        opt.scaler.scale(g_terms.total).backward()  # always: keeps DDP ranks in step on NaN
        opt.scaler.unscale_(opt.opt_g)
        values = {f"g/{k}": v.detach() for k, v in g_terms.parts.items()}
        values["g/total"] = g_terms.total.detach()
        flags = [_finite(g_terms.total, list(self.generator.parameters()))]
        if d_runs:
            for p in opt.d_params:
                p.requires_grad_(True)
            with autocast(dev, precision):  # D sees the output made before G steps
                d_terms = self.objective.discriminator(out.image.detach(), batch, self.d_ddp)
            opt.opt_d.zero_grad(set_to_none=True)
            opt.scaler_d.scale(d_terms.total).backward()
            opt.scaler_d.unscale_(opt.opt_d)
            values.update({f"d/{k}": v.detach() for k, v in d_terms.parts.items()})
            flags.append(_finite(d_terms.total, opt.d_params))
        g_ok, *d_ok = all_ranks_true(torch.stack(flags), self.info)  # the step's one host sync
        ok = g_ok and all(d_ok)
        if g_ok:
            opt.scaler.step(opt.opt_g)
        if d_runs and ok:
            opt.scaler_d.step(opt.opt_d)
        opt.scaler.update()
        if d_runs:
            opt.scaler_d.update()
        if not ok:
            opt.opt_g.zero_grad(set_to_none=True)
            if opt.opt_d is not None:
                opt.opt_d.zero_grad(set_to_none=True)
            self.nonfinite_steps += 1
        return values, out, ok

    def _time_left(self, deadline: float) -> bool:
        """Has every rank time left before ``schedule.max_minutes`` (decided at log steps)?"""
        left = torch.tensor([time.perf_counter() < deadline], device=self.info.device)
        return all_ranks_true(left, self.info)[0]

    def _merge_skips(self) -> None:
        """Union of every rank's newly skipped samples (collective: called on every rank alike)."""
        for rank_skips in gather_objects(self._new_skips, self.info):
            self.skipped.update(rank_skips)
        self._new_skips = {}

    # ------------------------------------------------------------------ loop
    def fit(self) -> dict[str, Any]:
        """Train from the current step to the end; write checkpoints, metrics and ``final/``."""
        cfg, info = self.cfg, self.info
        if info.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "config.yaml").write_text(
                yaml.safe_dump(config_to_dict(cfg), sort_keys=False)
            )
        monitor = Monitor(self.out, info.is_main, cfg.run.tensorboard)
        loader = DataLoader(
            self.dataset,
            batch_sampler=self.sampler,
            num_workers=cfg.data.workers,
            collate_fn=collate,
            pin_memory=info.device.type == "cuda",
        )
        bar = tqdm(
            total=self.stop_step,
            initial=self.step,
            disable=not (info.is_main and cfg.run.progress),
            desc=f"fit {cfg.task}",
            dynamic_ncols=True,
        )
        self.generator.train()
        if self.discriminator is not None:
            self.discriminator.train()
        window, window_start, window_images = MetricWindow(), time.perf_counter(), 0
        deadline = time.perf_counter() + cfg.schedule.max_minutes * 60
        batches = iter(loader)
        while self.step < self.stop_step:
            batch = next(batches)
            self._new_skips.update({name: reason for name, reason in batch.pop("skipped")})
            batch = _to_device(batch, info.device)
            lr = self.optimizers.set_lr(
                self.cfg.optim, lr_factor(self.step, self.total_steps, self.decay_steps)
            )
            want_images = (
                info.is_main and cfg.run.image_every > 0 and self.step % cfg.run.image_every == 0
            )
            values, out, ok = self.train_step(batch, want_images)
            window.add(values)
            self.step += 1
            window_images += batch["target_semantics"].shape[0] * info.world_size
            bar.update(1)
            if want_images:
                monitor.images(
                    self.step, image_grid(batch, out.image, out.warps, self.task.supervised)
                )
            if self.step % cfg.run.log_every == 0 or self.step == self.stop_step or not ok:
                self._merge_skips()
                elapsed = time.perf_counter() - window_start
                logged = window.flush()
                logged.update(
                    lr=lr,
                    epoch=(self.step - 1) // self.sampler.steps_per_epoch,
                    images_per_s=window_images / max(elapsed, 1e-9),
                    load_average=os.getloadavg()[0],
                    skipped_files=len(self.skipped),
                )
                if not ok:
                    logged["nonfinite_skipped"] = 1
                monitor.scalars(self.step, logged)
                bar.set_postfix(
                    {
                        k: f"{v:.3g}"
                        for k, v in logged.items()
                        if k in ("g/total", "d/d_real", "images_per_s")
                    }
                )
                window_start, window_images = time.perf_counter(), 0
                if cfg.schedule.max_minutes > 0 and not self._time_left(deadline):
                    break
            if cfg.run.checkpoint_every > 0 and self.step % cfg.run.checkpoint_every == 0:
                self._merge_skips()
                self.save_checkpoint()
        bar.close()
        del batches
        self._merge_skips()
        self.save_checkpoint()
        summary = self._finish()
        monitor.close()
        return summary

    def _finish(self) -> dict[str, Any]:
        nets = [self.generator] + ([self.discriminator] if self.discriminator is not None else [])
        digests = gather_objects(tuple(parameter_digest(n) for n in nets), self.info)
        skipped = [f"{name}: {reason}" for name, reason in sorted(self.skipped.items())]
        summary = {
            "task": self.cfg.task,
            "steps": self.step,
            "total_steps": self.total_steps,
            "world_size": self.info.world_size,
            "nonfinite_steps": self.nonfinite_steps,
            "skipped_files": skipped,
            "ranks_agree": len(set(digests)) == 1,
        }
        if self.info.is_main:
            if self.step >= self.stop_step or self.cfg.schedule.max_minutes > 0:
                self.generator.save_pretrained(self.out / "final", task=self.cfg.task)
            (self.out / "summary.json").write_text(json.dumps(summary, indent=2))
            if skipped:
                print(
                    f"warning: skipped {len(skipped)} unreadable sample(s); "
                    f"listed in {self.out / 'summary.json'}"
                )
        return summary


def fit(cfg: TrainConfig, resume: bool = False) -> dict[str, Any]:
    """Run ``python -m train fit`` for a config; returns the run summary."""
    trainer = Trainer(cfg, resume)
    try:
        summary = trainer.fit()
        barrier()
        return summary
    finally:
        close_detectors()  # MediaPipe's graphs stop while the interpreter is whole
        teardown()
