"""Self-supervised pairs from single photos: the exemplar is a warped copy of the target, so every
exemplar pixel's true source in the target is known (``grid``).

Only geometry differs between the two: the colour jitter is applied to the photo once, before
the warp, so the target and the exemplar carry the same colours. (Jittering the exemplar alone
teaches the model to ignore the exemplar's colours, the opposite of exemplar-guided generation.)
"""

from __future__ import annotations

import numpy as np
import torch

from train.data.exemplar_warp import apply_grid, colour_jitter, random_warp_grid


def warped_pair(
    rng: np.random.Generator, photo: torch.Tensor, strength: float
) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """photo (3,H,W) in [-1,1] -> (target (3,H,W), exemplar (3,H,W), grid (H,W,2)).

    ``target`` is the colour-jittered photo; ``exemplar`` is ``target`` sampled at ``grid``
    (pixels from outside the frame are 0); the same jitter reaches both.
    """
    _, h, w = photo.shape
    target = colour_jitter(rng, photo, strength)
    grid = random_warp_grid(rng, h, w, strength)
    return target, apply_grid(target, grid, fill=0.0), grid
