"""Multi-scale PatchGAN discriminator (the authors' layout, so their ``latest_net_D.pth`` loads).

Each scale: conv4x4/2 + LeakyReLU(0.2); (n_layers-1) x [spectral-norm conv4x4 (stride 2, the last
stride 1), InstanceNorm, LeakyReLU(0.2)]; conv4x4/1 to one channel; padding 1 everywhere.
Scale i+1 sees the input average-pooled 3x3/2. Keys: ``discriminator_{i}.model{n}.0.*``.
The release also builds a decoder head ``dec`` that its forward never calls; it is kept, frozen,
only so that checkpoints load both ways with ``strict=True``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm


class PatchDiscriminator(nn.Module):
    """One scale. ``forward(x)`` x (B,in_nc,H,W) -> n_layers+1 maps, the last (B,1,h,w) logits."""

    def __init__(self, in_nc: int, semantic_nc: int, ndf: int = 64, n_layers: int = 4) -> None:
        super().__init__()
        nf = ndf
        stages: list[list[nn.Module]] = [
            [nn.Conv2d(in_nc, nf, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        ]
        for n in range(1, n_layers):
            nf_prev, nf = nf, min(nf * 2, 512)
            last = n == n_layers - 1
            if last:
                self.dec = _unused_decoder(nf_prev, semantic_nc, n_layers - 1)
            stages.append(
                [
                    spectral_norm(nn.Conv2d(nf_prev, nf, 4, stride=1 if last else 2, padding=1)),
                    nn.InstanceNorm2d(nf),
                    nn.LeakyReLU(0.2),
                ]
            )
        stages.append([nn.Conv2d(nf, 1, 4, stride=1, padding=1)])
        for n, stage in enumerate(stages):
            self.add_module(f"model{n}", nn.Sequential(*stage))
        self.n_stages = len(stages)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for n in range(self.n_stages):
            x = getattr(self, f"model{n}")(x)
            feats.append(x)
        return feats


def _unused_decoder(nc: int, semantic_nc: int, n_up: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for _ in range(n_up):
        layers += [
            nn.Upsample(scale_factor=2),
            spectral_norm(nn.Conv2d(nc, nc // 2, 3, padding=1)),
            nn.InstanceNorm2d(nc // 2),
            nn.LeakyReLU(0.2),
        ]
        nc //= 2
    layers.append(nn.Conv2d(nc, semantic_nc, 3, padding=1))
    head = nn.Sequential(*layers)
    head.requires_grad_(False)
    return head


class MultiscaleDiscriminator(nn.Module):
    """``forward(x)`` x (B, semantic_nc+3, H, W) = [S_tgt, image] -> per scale, the list of features
    (the last entry of each list is the (B,1,h,w) patch logits)."""

    def __init__(self, semantic_nc: int, ndf: int = 64, num_d: int = 2, n_layers: int = 4) -> None:
        super().__init__()
        for i in range(num_d):
            self.add_module(
                f"discriminator_{i}",
                PatchDiscriminator(semantic_nc + 3, semantic_nc, ndf, n_layers),
            )
        self.num_d = num_d

    def forward(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        outs = []
        for i in range(self.num_d):
            outs.append(getattr(self, f"discriminator_{i}")(x))
            if i + 1 < self.num_d:
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
        return outs
