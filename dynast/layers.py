"""Convolutional building blocks of the generator (SPEC section 2).

All 3x3 convolutions use reflect padding, as in the authors' release.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


def conv3x3(in_ch: int, out_ch: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, padding_mode="reflect")


def memory_format_of(x: torch.Tensor) -> torch.memory_format:
    """channels_last if the 4-D tensor x is laid out channels-last (and not also contiguous)."""
    if (
        x.dim() == 4
        and not x.is_contiguous()
        and x.is_contiguous(memory_format=torch.channels_last)
    ):
        return torch.channels_last
    return torch.contiguous_format


def positional_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Normalise each pixel's feature vector over channels (no affine).

    x: (B, C, H, W) -> (B, C, H, W), (x - mean_c) / sqrt(var_c + eps), unbiased variance.
    One fused ``layer_norm`` over the channels (contiguous in channels-last), which
    accumulates in float32 for bf16/fp16 inputs, so eps does not underflow. With the biased
    variance v_b = v (C-1)/C: (x - mean) / sqrt(v + eps) = s (x - mean) / sqrt(v_b + eps s^2),
    s = sqrt((C-1)/C).
    """
    c = x.shape[1]
    s = ((c - 1) / c) ** 0.5
    scale = torch.full((c,), s, dtype=x.dtype, device=x.device)
    y = F.layer_norm(x.permute(0, 2, 3, 1), (c,), weight=scale, eps=eps * s * s)
    return y.permute(0, 3, 1, 2)


def l2_normalize(x: torch.Tensor, eps: float = 1e-10, dim: int = 1) -> torch.Tensor:
    """Scale each feature vector (along ``dim``: channels of (B, C, H, W) by default) to
    unit length. The norm is taken in float32 (eps 1e-10 would underflow in fp16); output
    in x's dtype."""
    norm = torch.linalg.vector_norm(x, dim=dim, keepdim=True, dtype=torch.float32)
    return (x / (norm + eps)).to(x.dtype)


class SPADE(nn.Module):
    """Spatially-adaptive normalisation: (1 + gamma(m)) * PN(x) + beta(m).

    x: (B, C, H, W); m: (B, S, H', W'), resized to (H, W) with nearest neighbours.
    """

    def __init__(self, channels: int, cond_channels: int, hidden: int | None = None) -> None:
        super().__init__()
        hidden = channels if hidden is None else hidden
        self.shared = conv3x3(cond_channels, hidden)
        self.gamma = conv3x3(hidden, channels)
        self.beta = conv3x3(hidden, channels)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        if cond.shape[-2:] != x.shape[-2:]:
            cond = F.interpolate(cond, size=x.shape[-2:], mode="nearest")
        h = F.relu(self.shared(cond))
        normed = positional_norm(x)
        return torch.addcmul(self.beta(h) + normed, normed, self.gamma(h))


class ResidualBlock(nn.Module):
    """x -> PReLU(x + BN(conv(PReLU(BN(conv(x)))))), one PReLU (scalar slope) shared."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = conv3x3(channels, channels)
        self.norm1 = nn.BatchNorm2d(channels)
        self.conv2 = conv3x3(channels, channels)
        self.norm2 = nn.BatchNorm2d(channels)
        self.act = nn.PReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dx = self.norm2(self.conv2(self.act(self.norm1(self.conv1(x)))))
        return self.act(x + dx)


class SPADEResBlock(nn.Module):
    """dx = conv(PReLU(SPADE(x))); dx = conv(PReLU(SPADE(dx))); PReLU(x + dx).

    Both convolutions are spectral-normed; one PReLU is shared. x: (B, C, H, W).
    """

    def __init__(self, channels: int, cond_channels: int) -> None:
        super().__init__()
        self.norm1 = SPADE(channels, cond_channels)
        self.conv1 = spectral_norm(conv3x3(channels, channels))
        self.norm2 = SPADE(channels, cond_channels)
        self.conv2 = spectral_norm(conv3x3(channels, channels))
        self.act = nn.PReLU()

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        dx = self.conv1(self.act(self.norm1(x, cond)))
        dx = self.conv2(self.act(self.norm2(dx, cond)))
        return self.act(x + dx)


class EncoderStage(nn.Module):
    """Spectral-normed 3x3 conv (stride 1 or 2), InstanceNorm, residual block."""

    def __init__(self, in_ch: int, out_ch: int, stride: int) -> None:
        super().__init__()
        self.conv = spectral_norm(conv3x3(in_ch, out_ch, stride))
        self.norm = nn.InstanceNorm2d(out_ch)
        self.res = ResidualBlock(out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        # InstanceNorm returns contiguous memory; keep the conv's layout (e.g. channels_last).
        return self.res(self.norm(y).contiguous(memory_format=memory_format_of(y)))


class FeaturePyramid(nn.Module):
    """Four encoder stages; returns features finest first.

    x: (B, in_ch, H, W) -> [(B, C1, H, W), (B, C2, H/2, W/2), (B, C3, H/4, W/4), (B, C4, H/8, W/8)].
    """

    def __init__(self, in_ch: int, widths: list[int]) -> None:
        super().__init__()
        chans = [in_ch, *widths]
        self.stages = nn.ModuleList(
            EncoderStage(chans[i], chans[i + 1], stride=1 if i == 0 else 2)
            for i in range(len(widths))
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features


class Upsample(nn.Sequential):
    """Bilinear x2 (align_corners=True), 3x3 conv, then ReLU (features) or LeakyReLU (positions)."""

    def __init__(self, in_ch: int, out_ch: int, leaky: bool = False) -> None:
        super().__init__(
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True),
            conv3x3(in_ch, out_ch),
            nn.LeakyReLU() if leaky else nn.ReLU(),
        )
