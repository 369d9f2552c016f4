"""Synthetic exemplars with a known correspondence: a random affine + thin-plate-spline warp of the
target, plus colour jitter.

The warp is a sampling grid g: for every exemplar pixel, the target location it shows (the layout
``torch.nn.functional.grid_sample`` expects). Keypoints move the other way; we invert g by a
nearest-pixel search (exact to a pixel).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


def _tps_kernel(r2: np.ndarray) -> np.ndarray:
    return np.where(r2 > 0, r2 * np.log(np.maximum(r2, 1e-12)), 0.0)


def _tps_grid(src: np.ndarray, dst: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Thin-plate spline through control points src -> dst (both (K,2)), evaluated at pts (N,2)."""
    k = len(src)
    kern = _tps_kernel(((src[:, None] - src[None]) ** 2).sum(-1))
    p = np.hstack([np.ones((k, 1)), src])
    system = np.zeros((k + 3, k + 3))
    system[:k, :k], system[:k, k:], system[k:, :k] = kern, p, p.T
    rhs = np.zeros((k + 3, 2))
    rhs[:k] = dst
    coef = np.linalg.solve(system + 1e-9 * np.eye(k + 3), rhs)
    u = _tps_kernel(((pts[:, None] - src[None]) ** 2).sum(-1))
    return u @ coef[:k] + np.hstack([np.ones((len(pts), 1)), pts]) @ coef[k:]


def random_warp_grid(
    rng: np.random.Generator, height: int, width: int, strength: float = 1.0
) -> np.ndarray:
    """(H,W,2) float32 sampling grid in [-1,1] (x, y; align_corners=False convention).

    Affine: rotation +-8 deg, scale 0.9..1.1, shift +-6 %, shear +-0.05; then a 4x4
    thin-plate spline with control points moved +-4 %; all amplitudes times ``strength``.
    """
    ys = (np.arange(height) + 0.5) / height * 2 - 1
    xs = (np.arange(width) + 0.5) / width * 2 - 1
    pts = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)
    s = strength
    angle = math.radians(rng.uniform(-8, 8) * s)
    scale = 1.0 + rng.uniform(-0.1, 0.1) * s
    shear = rng.uniform(-0.05, 0.05) * s
    shift = rng.uniform(-0.06, 0.06, size=2) * s
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    affine = rot @ np.array([[1.0, shear], [0.0, 1.0]]) / scale
    ctrl = np.stack(np.meshgrid(np.linspace(-1, 1, 4), np.linspace(-1, 1, 4)), -1).reshape(-1, 2)
    moved = ctrl + rng.uniform(-0.04, 0.04, size=ctrl.shape) * s
    warped = _tps_grid(ctrl, moved, pts)
    grid = warped @ affine.T + shift
    return grid.reshape(height, width, 2).astype(np.float32)


def apply_grid(
    image: torch.Tensor, grid: np.ndarray, mode: str = "bilinear", fill: float = 0.0
) -> torch.Tensor:
    """Warp (C,H,W) by an (H,W,2) sampling grid; pixels from outside the source get ``fill``."""
    g = torch.from_numpy(grid)[None]
    x = image[None].float() - fill
    out = F.grid_sample(x, g, mode=mode, padding_mode="zeros", align_corners=False) + fill
    return out[0].to(image.dtype)


def warp_points(xy: np.ndarray, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Move pixel points (N,2) of the source into the warped image.

    Returns (N,2) new pixel coordinates and (N,) bool ``visible`` (False where no exemplar pixel
    samples within 1.5 px of the point, i.e. it left the frame).
    """
    h, w = grid.shape[:2]
    src_px = np.stack(
        [(grid[..., 0] + 1) * w / 2 - 0.5, (grid[..., 1] + 1) * h / 2 - 0.5], -1
    ).reshape(-1, 2)
    out = np.zeros_like(xy, dtype=np.float64)
    visible = np.zeros(len(xy), bool)
    for i, p in enumerate(xy):
        d2 = ((src_px - p) ** 2).sum(-1)
        j = int(d2.argmin())
        out[i] = (j % w, j // w)
        visible[i] = d2[j] <= 1.5**2
    return out, visible


def colour_jitter(
    rng: np.random.Generator, image: torch.Tensor, strength: float = 1.0
) -> torch.Tensor:
    """(3,H,W) in [-1,1] -> same, random brightness, contrast, saturation and per-channel gain."""
    x = (image + 1) / 2
    s = strength
    x = x * (1 + rng.uniform(-0.2, 0.2) * s)
    mean = x.mean()
    x = (x - mean) * (1 + rng.uniform(-0.2, 0.2) * s) + mean
    grey = x.mean(0, keepdim=True)
    x = (x - grey) * (1 + rng.uniform(-0.3, 0.3) * s) + grey
    gain = torch.from_numpy(1 + rng.uniform(-0.05, 0.05, size=(3, 1, 1)) * s).float()
    return (x * gain).clamp(0, 1) * 2 - 1
