"""Self-supervised pairs from single photos: the exemplar is a warped, colour-jittered copy of the
target, so every exemplar pixel's true source in the target is known (``grid``)."""
from __future__ import annotations

import numpy as np
import torch

from train.data.exemplar_warp import apply_grid, colour_jitter, random_warp_grid


def warped_exemplar(rng: np.random.Generator, target: torch.Tensor, strength: float) -> tuple[torch.Tensor, np.ndarray]:
    """target (3,H,W) in [-1,1] -> (exemplar (3,H,W), grid (H,W,2)); the exemplar samples the target at grid."""
    _, h, w = target.shape
    grid = random_warp_grid(rng, h, w, strength)
    exemplar = apply_grid(target, grid, fill=0.0)
    return colour_jitter(rng, exemplar, strength), grid
