"""The evaluate command: run a trained model over a data set and write JSON + a Markdown table."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader

from dynast.inference.runtime import check_device, default_device
from train.checkpoint import CheckpointError
from train.config import ConfigError, DataConfig
from train.data.base import collate
from train.data.sampling import sample_seed
from train.evaluation.fid import fid_status
from train.evaluation.metrics import l1, pooled_target, psnr, sliced_wasserstein, ssim
from train.losses.objectives import STYLE_LAYERS, style_statistics_loss
from train.losses.vgg import VGG19Features, default_cache_dir
from train.tasks import training_task


@dataclass
class EvalRequest:
    """Arguments of ``python -m train evaluate``."""

    checkpoint: str
    task: str
    data: str = ""
    content: str = ""
    style: str = ""
    kind: str = ""
    split: str = "val"
    size: int = 256
    max_images: int = 0
    batch_size: int = 4
    inception: str = ""
    save_images: str = ""
    seed: int = 0
    out: str = "results.json"
    cache_dir: str = ""
    device: str = "auto"  # auto (CUDA when available) | cpu | cuda | cuda:N


def _mean(values: list[float]) -> float:
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("inf")


def _save(images: torch.Tensor, folder: Path, start: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    arr = (
        ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5)
        .round()
        .byte()
        .permute(0, 2, 3, 1)
        .numpy()
    )
    for i, a in enumerate(arr):
        Image.fromarray(a).save(folder / f"{start + i:06d}.png")


def _check_request(req: EvalRequest) -> None:
    """Raise ConfigError for a size, batch size or image count the run cannot use."""
    if req.size < 16 or req.size % 8 or req.size > 2048:
        raise ConfigError(f"--size must be a multiple of 8 between 16 and 2048, got {req.size}")
    if req.batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1, got {req.batch_size}")
    if req.max_images < 0:
        raise ConfigError(f"--max-images must be 0 (all) or more, got {req.max_images}")


def _load_model(req: EvalRequest, device: torch.device) -> torch.nn.Module:
    """The checkpoint's generator on ``device``; CheckpointError when it cannot be loaded."""
    from dynast import DynaST

    try:
        model = DynaST.from_pretrained(req.checkpoint)
    except (FileNotFoundError, ValueError) as err:
        raise CheckpointError(f"cannot evaluate {req.checkpoint}: {err}") from None
    return model.to(device).eval()


def evaluate(req: EvalRequest) -> dict[str, Any]:
    """Score ``req.checkpoint`` on the task's data; writes ``req.out`` (JSON) and a ``.md``."""
    _check_request(req)
    device = default_device() if req.device == "auto" else check_device(req.device)
    model = _load_model(req, device)
    task = training_task(req.task)
    data_cfg = DataConfig(
        kind=req.kind,
        path=req.data,
        content=req.content,
        style=req.style,
        size=req.size,
        load_size=req.size,
        split=req.split,
        max_images=req.max_images,
        workers=0,
    )
    cache = Path(req.cache_dir) if req.cache_dir else default_cache_dir() / "semantics"
    dataset = task.build_dataset(data_cfg, cache)
    vgg = VGG19Features().to(device) if not task.supervised else None
    batches = [
        [(i, sample_seed(req.seed, 0, i)) for i in range(s, min(s + req.batch_size, len(dataset)))]
        for s in range(0, len(dataset), req.batch_size)
    ]
    loader = DataLoader(dataset, batch_sampler=batches, collate_fn=collate)

    per_block: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    full: dict[str, list[float]] = defaultdict(list)
    generated, reals, styles, skipped = [], [], [], []
    seconds, count = 0.0, 0
    block_sizes: dict[int, tuple[int, int]] = {}
    for batch in loader:
        skipped += [f"{name}: {reason}" for name, reason in batch.pop("skipped")]
        batch = {k: v.to(device) for k, v in batch.items()}
        start = time.perf_counter()
        with torch.no_grad():
            out = model(
                batch["ref_image"],
                batch.get("ref_semantics"),
                batch["target_semantics"],
                return_warps=task.supervised,
            )
            if device.type == "cuda":
                torch.cuda.synchronize(device)
        seconds += time.perf_counter() - start
        n = out.image.shape[0]
        if req.save_images:
            _save(out.image, Path(req.save_images) / "generated", count)
        count += n
        generated.append(out.image.cpu())
        if task.supervised:
            target = batch["target"]
            reals.append(target.cpu())
            if req.save_images:
                _save(target, Path(req.save_images) / "real", count - n)
            for b, warp in enumerate(out.warps):
                block_sizes[b] = tuple(warp.shape[-2:])
                gt = pooled_target(target, warp.shape[-2:])
                per_block[b]["l1"] += l1(warp, gt)
                per_block[b]["psnr"] += psnr(warp, gt)
                per_block[b]["ssim"] += ssim(warp, gt)
            finest = F.interpolate(
                out.warps[-1].float(), size=target.shape[-2:], mode="bilinear", align_corners=False
            )
            full["warp_l1"] += l1(finest, target)
            full["warp_psnr"] += psnr(finest, target)
            full["warp_ssim"] += ssim(finest, target)
            full["output_l1"] += l1(out.image, target)
            full["output_psnr"] += psnr(out.image, target)
            full["output_ssim"] += ssim(out.image, target)
        else:
            content, style = batch["target_semantics"], batch["ref_image"]
            styles.append(style.cpu())
            full["content_ssim"] += ssim(out.image, content, grey=True)
            with torch.no_grad():
                of, sf = vgg(out.image, STYLE_LAYERS), vgg(style, STYLE_LAYERS)
            for i in range(n):
                full["style_loss"].append(
                    float(
                        style_statistics_loss(
                            {k: v[i : i + 1] for k, v in of.items()},
                            {k: v[i : i + 1] for k, v in sf.items()},
                        )
                    )
                )
    summary: dict[str, Any] = {k: _mean(v) for k, v in full.items()}
    summary["images"] = count
    summary["seconds_per_image"] = seconds / max(count, 1)
    reference_set = reals if task.supervised else styles
    swd = sliced_wasserstein(generated, reference_set, seed=req.seed)
    summary["swd_x1e3"] = swd["mean"] * 1e3
    results = {
        "task": req.task,
        "request": asdict(req),
        "summary": summary,
        "per_block": [
            {
                "block": b,
                "height": block_sizes[b][0],
                "width": block_sizes[b][1],
                **{k: _mean(v) for k, v in per_block[b].items()},
            }
            for b in sorted(per_block)
        ],
        "swd_levels": swd,
        "fid": fid_status(req.inception, req.save_images),
        "skipped_files": sorted(set(skipped)),
    }
    out_path = Path(req.out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(results, indent=2))
    out_path.with_suffix(".md").write_text(markdown_table(results))
    return results


def markdown_table(results: dict[str, Any]) -> str:
    """The results as Markdown: a summary table and, for supervised tasks, one row per block."""
    lines = [f"# Evaluation: {results['task']}", "", "| metric | value |", "|---|---|"]
    lines += [
        f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |"
        for k, v in results["summary"].items()
    ]
    if results["per_block"]:
        lines += [
            "",
            "Warps against the target average-pooled to each block's scale (Table 1 left):",
            "",
            "| block | size | L1 | PSNR | SSIM |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {r['block']} | {r['height']}x{r['width']} | {r['l1']:.4f} | {r['psnr']:.2f} "
            f"| {r['ssim']:.4f} |"
            for r in results["per_block"]
        ]
    lines += ["", f"FID: {results['fid']['reason']}; {results['fid']['how']}"]
    if results["skipped_files"]:
        lines += ["", f"Skipped {len(results['skipped_files'])} unreadable sample(s)."]
    return "\n".join(lines) + "\n"
