"""The release's optimisation: two time scales, linear decay, one GradScaler per network."""
from __future__ import annotations

import torch
from torch import nn

from train.config import OptimConfig
from train.optimizers import G_FP16_INIT_SCALE, build_optimizers, lr_factor


def test_two_time_scales_decay_linearly_over_the_last_steps() -> None:
    optim = OptimConfig(lr=2e-4)
    opts = build_optimizers(optim, nn.Linear(2, 2), nn.Linear(2, 1), torch.device("cpu"), True)
    assert [lr_factor(s, 100, 20) for s in (0, 80, 90, 100)] == [1.0, 1.0, 0.5, 0.0]
    assert lr_factor(99, 100, 0) == 1.0  # no decay
    assert opts.set_lr(optim, 0.5) == 1e-4
    assert opts.opt_g.param_groups[0]["lr"] == 0.5e-4  # generator: lr / 2
    assert opts.opt_d is not None and opts.opt_d.param_groups[0]["lr"] == 2e-4  # lr x 2
    assert opts.scaler.get_scale() == G_FP16_INIT_SCALE and opts.scaler_d.get_scale() == 2.0**16


def test_without_a_discriminator_only_the_generator_is_optimised() -> None:
    opts = build_optimizers(OptimConfig(), nn.Linear(2, 2), None, torch.device("cpu"), False)
    assert opts.opt_d is None and opts.d_params == [] and not opts.scaler.is_enabled()
