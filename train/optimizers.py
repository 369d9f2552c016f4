"""The optimisation of the release: two-time-scale Adam (the generator at lr / 2, the
discriminator at lr x 2), a linear learning-rate decay over the last epochs, and one GradScaler
per network for fp16 training."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from train.config import OptimConfig

# fp16 training. The generator's gradients span more than fp16 holds: through the sparse
# attention's temperature (logits q.k / 0.01) the matching loss (weight 1000) gives parameter
# gradients of about 1e8-1e9 per unit loss scale at initialisation (measured: 2.3e5 per unit
# matching loss, ngf 32 at 64 px; 4.5e5 for the tiny test model), beyond fp16's 65504, while
# image-path gradients are near 1e-3. So the generator's GradScaler starts at 2**-12, where the
# tiny test run settles after about three skipped steps (from PyTorch's default 2**16 it would
# skip ~30 steps), and the discriminator has its own scaler at the default. At such scales
# the smallest generator gradients fall into fp16's subnormal range: bf16 (same range as
# fp32; Ampere and newer GPUs, CPUs with AVX512-BF16 or AMX) or fp32 train more reliably.
G_FP16_INIT_SCALE = 2.0**-12
FP16_WARNING = (
    "warning: fp16 training: the generator's gradients span more than fp16 holds (the matching "
    "loss through the attention's 1/0.01 temperature reaches ~1e9, image-path gradients ~1e-3); "
    f"its GradScaler starts at {G_FP16_INIT_SCALE:g} and the first steps may be skipped. "
    "Prefer run.precision=bf16 (Ampere or newer GPUs) or fp32."
)


def lr_factor(step: int, total_steps: int, decay_steps: int) -> float:
    """1 until the last ``decay_steps`` steps, then linearly down to 0 at ``total_steps``."""
    if decay_steps <= 0:
        return 1.0
    return max(0.0, min(1.0, (total_steps - step) / decay_steps))


@dataclass
class Optimizers:
    """The generator's and the discriminator's optimisers and GradScalers. ``opt_d`` is None
    (and ``d_params`` empty) for tasks without a discriminator."""

    opt_g: torch.optim.Adam
    opt_d: torch.optim.Adam | None
    scaler: torch.amp.GradScaler
    scaler_d: torch.amp.GradScaler
    d_params: list[nn.Parameter]

    def set_lr(self, optim: OptimConfig, factor: float) -> float:
        """The release's two time scales at ``factor`` of ``optim.lr``; returns that lr."""
        for group in self.opt_g.param_groups:
            group["lr"] = optim.lr / 2 * factor
        if self.opt_d is not None:
            for group in self.opt_d.param_groups:
                group["lr"] = optim.lr * 2 * factor
        return optim.lr * factor


def build_optimizers(
    optim: OptimConfig,
    generator: nn.Module,
    discriminator: nn.Module | None,
    device: torch.device,
    fp16: bool,
) -> Optimizers:
    """Adam for the generator (lr / 2) and the discriminator (lr x 2), and one GradScaler per
    network (enabled for fp16 only; their gradients differ by ~10 orders of magnitude)."""
    betas = (optim.beta1, optim.beta2)
    opt_g = torch.optim.Adam(generator.parameters(), lr=optim.lr / 2, betas=betas, eps=optim.g_eps)
    d_params: list[nn.Parameter] = []
    opt_d = None
    if discriminator is not None:
        d_params = [p for p in discriminator.parameters() if p.requires_grad]
        opt_d = torch.optim.Adam(d_params, lr=optim.lr * 2, betas=betas, eps=optim.d_eps)
    return Optimizers(
        opt_g,
        opt_d,
        torch.amp.GradScaler(device.type, init_scale=G_FP16_INIT_SCALE, enabled=fp16),
        torch.amp.GradScaler(device.type, enabled=fp16),
        d_params,
    )
