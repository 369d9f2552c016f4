"""The two training objectives of SPEC section 5.

Supervised (pose, faces): matching loss on every block's warp, hinge GAN + discriminator feature
matching, VGG-19 feature matching and a relu4_2 perceptual term. Unsupervised style transfer
(Eq. 11): relu4_1 content MSE + lambda_s x (mean/std MSE on relu1_1..relu4_1).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from train.config import LossConfig
from train.losses.contextual import contextual_loss
from train.losses.gan import feature_matching_loss, hinge_d_loss, hinge_g_loss
from train.losses.vgg import VGG19Features

VGG_FM_LAYERS = ("relu1_2", "relu2_2", "relu3_2", "relu4_2", "relu5_2")
VGG_FM_WEIGHTS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)
PERCEPTUAL_LAYER = "relu4_2"
CONTEXTUAL_LAYERS = ("relu3_2", "relu4_2")  # a subset of VGG_FM_LAYERS: one pass serves both
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
CONTENT_LAYER = "relu4_1"


@dataclass
class LossTerms:
    """A scalar total (what is back-propagated) and its named, already weighted parts."""

    total: torch.Tensor
    parts: dict[str, torch.Tensor]


def matching_loss(
    warps: list[torch.Tensor], target: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Sum over blocks of L1(warp (B,3,h,w), target (B,3,H,W) average-pooled by H/h).

    ``mask`` (B,1,H,W) in [0,1] or None: weights per target pixel, pooled alike; the L1 is then
    the mean over the masked pixels (the landmark teacher of cross-identity pairs)."""
    total = torch.zeros((), device=target.device)
    for warp in warps:
        factor = target.shape[-1] // warp.shape[-1]
        gt = F.avg_pool2d(target, factor, stride=factor) if factor > 1 else target
        if mask is None:
            total = total + F.l1_loss(warp.float(), gt.float())
        else:
            m = F.avg_pool2d(mask, factor, stride=factor) if factor > 1 else mask
            diff = (warp.float() - gt.float()).abs() * m
            total = total + diff.sum() / (3 * m.sum()).clamp_min(1.0)
    return total


def teacher_guide(batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor | None]:
    """What the output and warps are pulled towards: (B,3,H,W) and a (B,1,H,W) mask or None.

    Batches with a landmark teacher (cross-identity face pairs) carry ``teacher`` and
    ``teacher_mask`` (self-pairs: the target and ones); otherwise the target, unmasked."""
    if "teacher" in batch:
        return batch["teacher"], batch["teacher_mask"]
    return batch["target"], None


def channel_stats(feat: torch.Tensor, eps: float = 1e-5) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std over space: feat (B,C,H,W) -> two (B,C)."""
    f = feat.float().flatten(2)
    return f.mean(-1), (f.var(-1, unbiased=True) + eps).sqrt()


def style_statistics_loss(
    out_feats: dict[str, torch.Tensor], style_feats: dict[str, torch.Tensor]
) -> torch.Tensor:
    """Sum over STYLE_LAYERS of MSE(channel means) + MSE(channel stds)."""
    total = torch.zeros((), device=next(iter(out_feats.values())).device)
    for name in STYLE_LAYERS:
        m_o, s_o = channel_stats(out_feats[name])
        m_s, s_s = channel_stats(style_feats[name])
        total = total + F.mse_loss(m_o, m_s) + F.mse_loss(s_o, s_s)
    return total


class SupervisedObjective(nn.Module):
    """Pose / face objective. Batches carry ``target`` (B,3,H,W), ``target_semantics`` (B,s,H,W)."""

    uses_discriminator = True

    def __init__(self, weights: LossConfig, vgg: VGG19Features) -> None:
        super().__init__()
        self.w = weights
        self.vgg = vgg

    def generator(self, out, batch: dict[str, torch.Tensor], discriminator: nn.Module) -> LossTerms:
        """``out``: the model output (image (B,3,H,W), warps list). ``discriminator`` is called on
        [S_tgt, fake] and [S_tgt, real] stacked along the batch."""
        target, sem, fake = batch["target"], batch["target_semantics"], out.image
        guide, mask = teacher_guide(batch)
        parts: dict[str, torch.Tensor] = {}
        if self.w.matching > 0:
            parts["matching"] = matching_loss(out.warps, guide, mask) * self.w.matching
        if self.w.gan > 0 or self.w.gan_feat > 0:
            pred = discriminator(
                torch.cat([torch.cat([sem, fake], 1), torch.cat([sem, target], 1)], 0)
            )
            pred_fake = [[t[: len(fake)] for t in scale] for scale in pred]
            pred_real = [[t[len(fake) :] for t in scale] for scale in pred]
            parts["gan"] = hinge_g_loss(pred_fake) * self.w.gan
            if self.w.gan_feat > 0:
                parts["gan_feat"] = feature_matching_loss(pred_fake, pred_real) * self.w.gan_feat
        if mask is not None and self.w.teacher_l1 > 0:
            diff = (fake.float() - guide.float()).abs() * mask
            parts["teacher_l1"] = diff.sum() / (3 * mask.sum()).clamp_min(1.0) * self.w.teacher_l1
        vgg_terms = self.w.vgg > 0 or self.w.perceptual > 0
        contextual = mask is not None and self.w.contextual > 0
        if vgg_terms or contextual:  # one VGG pass of the output serves both (layers nested)
            fake_f = self.vgg(fake, VGG_FM_LAYERS if vgg_terms else CONTEXTUAL_LAYERS)
        if contextual:
            parts["contextual"] = self._contextual(fake_f, batch, mask) * self.w.contextual
        if vgg_terms:
            layers = VGG_FM_LAYERS
            with torch.no_grad():
                # with a teacher: outside its mask the output is compared with itself, so the
                # VGG terms pull towards the teacher only where it holds (self-pairs: mask 1)
                real = guide if mask is None else guide * mask + fake.detach() * (1 - mask)
                real_f = self.vgg(real, layers)
            vgg = sum(
                w * F.l1_loss(fake_f[n].float(), real_f[n].float())
                for n, w in zip(layers, VGG_FM_WEIGHTS)
            )
            parts["vgg"] = vgg * self.w.vgg
            parts["perceptual"] = (
                F.mse_loss(fake_f[PERCEPTUAL_LAYER].float(), real_f[PERCEPTUAL_LAYER].float())
                * self.w.perceptual
            )
        return LossTerms(sum(parts.values()), parts)

    def _contextual(
        self, fake_f: dict[str, torch.Tensor], batch: dict[str, torch.Tensor], mask: torch.Tensor
    ) -> torch.Tensor:
        """Cross-identity samples: contextual loss of the output (its VGG features ``fake_f``)
        outside the teacher's mask to the whole exemplar, on CONTEXTUAL_LAYERS."""
        outside = (1 - mask) * batch["cross"].view(-1, 1, 1, 1)
        with torch.no_grad():
            ref_f = self.vgg(batch["ref_image"], CONTEXTUAL_LAYERS)
        return sum(
            contextual_loss(fake_f[n], ref_f[n], F.interpolate(outside, fake_f[n].shape[-2:],
                                                                mode="area"))
            for n in CONTEXTUAL_LAYERS
        )

    def discriminator(
        self, fake: torch.Tensor, batch: dict[str, torch.Tensor], discriminator: nn.Module
    ) -> LossTerms:
        """Hinge loss for D on the detached fake (B,3,H,W) and the real target, both x ``gan``."""
        sem, target = batch["target_semantics"], batch["target"]
        pred = discriminator(
            torch.cat([torch.cat([sem, fake.detach()], 1), torch.cat([sem, target], 1)], 0)
        )
        pred_fake = [[t[: len(fake)] for t in scale] for scale in pred]
        pred_real = [[t[len(fake) :] for t in scale] for scale in pred]
        d_fake, d_real = hinge_d_loss(pred_fake, pred_real)
        parts = {"d_fake": d_fake * self.w.gan, "d_real": d_real * self.w.gan}
        return LossTerms(parts["d_fake"] + parts["d_real"], parts)


class StyleObjective(nn.Module):
    """Unsupervised style transfer (Eq. 11). Batches carry ``target_semantics`` = the content image
    (B,3,H,W) and ``ref_image`` = the style image (B,3,H',W')."""

    uses_discriminator = False

    def __init__(self, weights: LossConfig, vgg: VGG19Features) -> None:
        super().__init__()
        self.w = weights
        self.vgg = vgg

    def generator(
        self, out, batch: dict[str, torch.Tensor], discriminator: nn.Module | None = None
    ) -> LossTerms:
        layers = STYLE_LAYERS
        out_f = self.vgg(out.image, layers)
        with torch.no_grad():
            content_f = self.vgg(batch["target_semantics"], (CONTENT_LAYER,))
            style_f = self.vgg(batch["ref_image"], layers)
        parts = {
            "content": F.mse_loss(out_f[CONTENT_LAYER].float(), content_f[CONTENT_LAYER].float())
            * self.w.content,
            "style": style_statistics_loss(out_f, style_f) * self.w.style,
        }
        return LossTerms(parts["content"] + parts["style"], parts)
