"""Hinge GAN losses and discriminator feature matching (SPADE / CoCosNet conventions)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def hinge_d_loss(
    pred_fake: list[list[torch.Tensor]], pred_real: list[list[torch.Tensor]]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Discriminator hinge terms (fake, real), averaged over scales (logits: each last map)."""
    fake = sum(F.relu(1.0 + p[-1].float()).mean() for p in pred_fake) / len(pred_fake)
    real = sum(F.relu(1.0 - p[-1].float()).mean() for p in pred_real) / len(pred_real)
    return fake, real


def hinge_g_loss(pred_fake: list[list[torch.Tensor]]) -> torch.Tensor:
    """Generator hinge term: -mean(logits), averaged over scales."""
    return sum(-p[-1].float().mean() for p in pred_fake) / len(pred_fake)


def feature_matching_loss(
    pred_fake: list[list[torch.Tensor]], pred_real: list[list[torch.Tensor]]
) -> torch.Tensor:
    """L1 between fake and (detached) real intermediate discriminator features, summed over layers,
    averaged over scales."""
    total = torch.zeros((), device=pred_fake[0][0].device)
    for fake_feats, real_feats in zip(pred_fake, pred_real):
        for f, r in zip(fake_feats[:-1], real_feats[:-1]):
            total = total + F.l1_loss(f.float(), r.detach().float())
    return total / len(pred_fake)
