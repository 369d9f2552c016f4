"""Image-quality metrics on tensors in [-1, 1]; images are compared in [0, 1]."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from skimage.metrics import structural_similarity


def _unit(x: torch.Tensor) -> torch.Tensor:
    return ((x.detach().float().cpu() + 1) / 2).clamp(0, 1)


def l1(a: torch.Tensor, b: torch.Tensor) -> list[float]:
    """Per-image mean absolute difference in [0,1] units: a, b (B,C,H,W) in [-1,1] -> B floats."""
    return (_unit(a) - _unit(b)).abs().flatten(1).mean(1).tolist()


def psnr(a: torch.Tensor, b: torch.Tensor) -> list[float]:
    """Per-image PSNR in dB (peak 1 on the [0,1] scale); identical images give inf."""
    mse = (_unit(a) - _unit(b)).pow(2).flatten(1).mean(1)
    return [float("inf") if m == 0 else float(10 * torch.log10(1 / m)) for m in mse]


def ssim(a: torch.Tensor, b: torch.Tensor, grey: bool = False) -> list[float]:
    """Per-image SSIM (scikit-image, Gaussian-free 7x7 window or the largest odd window that fits).
    ``grey``: compare luminance only (content preservation in style transfer)."""
    ua, ub = _unit(a), _unit(b)
    if grey:
        weights = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
        ua, ub = (ua * weights).sum(1, keepdim=True), (ub * weights).sum(1, keepdim=True)
    side = min(ua.shape[-2:])
    win = min(7, side if side % 2 else side - 1)
    if win < 3:
        raise ValueError(f"images of {tuple(ua.shape[-2:])} are too small for SSIM")
    out = []
    for x, y in zip(ua.permute(0, 2, 3, 1).numpy(), ub.permute(0, 2, 3, 1).numpy()):
        out.append(
            float(structural_similarity(x, y, data_range=1.0, channel_axis=-1, win_size=win))
        )
    return out


def pooled_target(target: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The target (B,3,H,W) average-pooled to a warp's (h,w) (what the matching loss compares)."""
    factor = target.shape[-1] // size[-1]
    return F.avg_pool2d(target, factor, factor) if factor > 1 else target


# ---------------------------------------------------------------- sliced Wasserstein distance
def _gaussian_pyramid_down(x: torch.Tensor) -> torch.Tensor:
    k = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16
    kernel = (k[:, None] * k[None]).to(x).expand(x.shape[1], 1, 5, 5)
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), kernel, stride=2, groups=x.shape[1])


def _upsample(x: torch.Tensor) -> torch.Tensor:
    up = torch.zeros(x.shape[0], x.shape[1], x.shape[2] * 2, x.shape[3] * 2, dtype=x.dtype)
    up[:, :, ::2, ::2] = x * 4
    k = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16
    kernel = (k[:, None] * k[None]).to(x).expand(x.shape[1], 1, 5, 5)
    return F.conv2d(F.pad(up, (2, 2, 2, 2), mode="reflect"), kernel, groups=x.shape[1])


def laplacian_pyramid(x: torch.Tensor, min_size: int = 16) -> list[torch.Tensor]:
    """Finest first: band-pass levels of (B,C,H,W) down to ``min_size``, the last the low-pass."""
    levels = []
    while x.shape[-1] > min_size and x.shape[-1] % 2 == 0 and x.shape[-2] % 2 == 0:
        down = _gaussian_pyramid_down(x)
        levels.append(x - _upsample(down))
        x = down
    levels.append(x)
    return levels


def _patches(level: torch.Tensor, n: int, size: int, gen: torch.Generator) -> torch.Tensor:
    b, c, h, w = level.shape
    if h < size or w < size:
        return torch.empty(0, c * size * size)
    ys = torch.randint(0, h - size + 1, (b, n), generator=gen)
    xs = torch.randint(0, w - size + 1, (b, n), generator=gen)
    out = []
    for i in range(b):
        for y, x in zip(ys[i].tolist(), xs[i].tolist()):
            out.append(level[i, :, y : y + size, x : x + size].reshape(-1))
    return torch.stack(out)


def _normalise(desc: torch.Tensor) -> torch.Tensor:
    """Per-set, per-channel zero mean, unit std of (N, 3*k*k) patch descriptors (as ProGAN)."""
    d = desc.view(len(desc), 3, -1)
    d = (d - d.mean((0, 2), keepdim=True)) / d.std((0, 2), keepdim=True).clamp_min(1e-8)
    return d.view(len(desc), -1)


def sliced_wasserstein(
    a: list[torch.Tensor],
    b: list[torch.Tensor],
    patches_per_image: int = 128,
    patch_size: int = 7,
    directions: int = 512,
    seed: int = 0,
) -> dict[str, float]:
    """SWD between two image sets (lists of (B,3,H,W) in [-1,1]) on Laplacian-pyramid patches
    (Karras et al. 2018): per level, each set's patch descriptors are normalised per channel,
    projected on
    random unit directions and the sorted projections compared (mean absolute difference).
    Both sets draw patch positions from the same seed (paired sets of equal sizes then compare the
    same places, which lowers the variance; identical sets give exactly 0).
    Returns ``{"level_<res>": swd, ..., "mean": average}``; x1e3 is the usual reporting unit."""
    gen = torch.Generator().manual_seed(seed)
    gen_a, gen_b = torch.Generator().manual_seed(seed + 1), torch.Generator().manual_seed(seed + 1)
    pa = [laplacian_pyramid(x.detach().float().cpu()) for x in a]
    pb = [laplacian_pyramid(x.detach().float().cpu()) for x in b]
    out: dict[str, float] = {}
    for lv in range(min(len(pa[0]), len(pb[0]))):
        da = torch.cat([_patches(p[lv], patches_per_image, patch_size, gen_a) for p in pa])
        db = torch.cat([_patches(p[lv], patches_per_image, patch_size, gen_b) for p in pb])
        if len(da) == 0 or len(db) == 0:
            continue
        n = min(len(da), len(db))
        da, db = _normalise(da[:n]), _normalise(db[:n])
        dirs = torch.randn(da.shape[1], directions, generator=gen)
        dirs = dirs / dirs.norm(dim=0, keepdim=True)
        proj_a, _ = (da @ dirs).sort(0)
        proj_b, _ = (db @ dirs).sort(0)
        out[f"level_{pa[0][lv].shape[-1]}"] = float((proj_a - proj_b).abs().mean())
    out["mean"] = float(np.mean(list(out.values()))) if out else float("nan")
    return out
