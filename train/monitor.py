"""What a run reports: ``metrics.jsonl`` (one line per logged step), TensorBoard scalars and image
grids (inputs, output, target, every block's warp)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F


def image_grid(
    batch: dict[str, torch.Tensor],
    output: torch.Tensor,
    warps: list[torch.Tensor],
    semantics_in_unit_range: bool,
    rows: int = 4,
) -> torch.Tensor:
    """(3, R*H, C*W) in [0,1]: per sample a row of reference, target semantics (first 3 channels;
    in [0,1] for pose / faces, in [-1,1] for style's content image), output, target (when present)
    and the warps (nearest-upsampled to H x W)."""
    n = min(rows, output.shape[0])
    h, w = output.shape[-2:]
    semantics = batch["target_semantics"][:n, :3]
    columns = [batch["ref_image"][:n], semantics * 2 - 1 if semantics_in_unit_range else semantics]
    columns.append(output[:n])
    if "target" in batch:
        columns.append(batch["target"][:n])
    columns += [F.interpolate(wp[:n].float(), size=(h, w), mode="nearest") for wp in warps]
    tiles = [((c.detach().float().cpu().clamp(-1, 1) + 1) / 2) for c in columns]
    if tiles[1].shape[1] < 3:
        tiles[1] = tiles[1].expand(-1, 3, -1, -1)
    row = torch.cat(tiles, dim=3)  # (n,3,H,C*W)
    return torch.cat(list(row), dim=1)


class MetricWindow:
    """Sums of per-step scalars kept on the device (no host sync per step); ``flush()`` returns
    their means over the steps since the last flush with one device-to-host copy."""

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.steps = 0

    def add(self, values: dict[str, torch.Tensor]) -> None:
        """``values``: name -> 0-d tensor of one step (detached)."""
        for key, value in values.items():
            value = value.detach().float()
            self.sums[key] = self.sums[key] + value if key in self.sums else value
        self.steps += 1

    def flush(self) -> dict[str, float]:
        if not self.sums:
            return {}
        keys = list(self.sums)
        means = (torch.stack([self.sums[k] for k in keys]) / max(self.steps, 1)).tolist()
        self.sums, self.steps = {}, 0
        return dict(zip(keys, means))


class Monitor:
    """Rank-0 sink for metrics and images. Non-main ranks get a Monitor that does nothing."""

    def __init__(self, out: Path, enabled: bool, tensorboard: bool) -> None:
        self.enabled = enabled
        self.metrics_path = out / "metrics.jsonl"
        self.writer = None
        if enabled and tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(log_dir=str(out / "tensorboard"))

    def scalars(self, step: int, values: dict[str, Any]) -> None:
        if not self.enabled:
            return
        record = {"step": step, **values}
        with open(self.metrics_path, "a") as fh:
            fh.write(json.dumps(record) + "\n")
        if self.writer is not None:
            for key, value in values.items():
                if isinstance(value, (int, float)):
                    self.writer.add_scalar(key, value, step)

    def images(self, step: int, grid: torch.Tensor) -> None:
        if self.enabled and self.writer is not None:
            self.writer.add_image("samples", grid, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
