"""Contextual loss (Mechrez et al., ECCV 2018): features of one image should each find a close
match among another image's features, wherever they are. CoCosNet uses it to keep an output's
appearance close to an exemplar where no pixel-aligned target exists; here it does that
outside the landmark teacher's mask (hair, background) for cross-identity face pairs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

BANDWIDTH = 0.5  # h in the paper: the softness of "closest feature"
MAX_SIDE = 32  # feature maps are average-pooled to at most 32 x 32 positions (memory: N x M)


def _pooled(x: torch.Tensor) -> torch.Tensor:
    factor = max(1, -(-max(x.shape[-2:]) // MAX_SIDE))
    return F.avg_pool2d(x, factor, ceil_mode=True) if factor > 1 else x


def contextual_loss(
    x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None = None, eps: float = 1e-5
) -> torch.Tensor:
    """-log CX(x, y), averaged over the batch.

    ``x`` (B, C, H, W): features of the image being trained; ``y`` (B, C, h, w): features of the
    image it should resemble; ``weight`` (B, 1, H, W) in [0, 1] or None: how much each position
    of ``x`` counts (samples whose weights sum to 0 are left out; no sample left gives 0).
    For each position i of ``x``: cosine distances d_ij to every j of ``y`` (both centred on
    y's mean feature), relative to the nearest (d_ij / min_k d_ik), turned into affinities
    exp((1 - d_rel) / h) normalised over j; CX = weighted mean over i of max_j.
    """
    if weight is not None:
        factor = max(1, -(-max(x.shape[-2:]) // MAX_SIDE))
        weight = F.avg_pool2d(weight, factor, ceil_mode=True) if factor > 1 else weight
    x, y = _pooled(x.float()), _pooled(y.float())
    centre = y.mean((2, 3), keepdim=True)
    xn = F.normalize((x - centre).flatten(2), dim=1)  # (B, C, N)
    yn = F.normalize((y - centre).flatten(2), dim=1)  # (B, C, M)
    distance = 1 - xn.transpose(1, 2) @ yn  # (B, N, M)
    relative = distance / (distance.min(2, keepdim=True).values + eps)
    affinity = torch.softmax((1 - relative) / BANDWIDTH, dim=2)
    best = affinity.max(2).values  # (B, N)
    w = torch.ones_like(best) if weight is None else weight.flatten(1)
    total = w.sum(1)
    used = (total > 0).float()  # no host sync: samples without weight count 0
    cx = (best * w).sum(1) / total.clamp_min(eps)
    return -(torch.log(cx + eps) * used).sum() / used.sum().clamp_min(1)
