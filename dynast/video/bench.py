"""Pose video speed and flicker: ``python -m dynast.video.bench``.

Speed: the same frames made two ways in one process, after one warm-up of each (model and
MediaPipe loaded): ``PoseAnimator`` (the reference prepared and encoded once, frames in
batches, written to an H.264 MP4) against one :class:`DynaSTPipeline` call per frame (the
pipeline as ``generate`` runs it: reference semantics and framing, the model with warps and
matches, the result views). Reported: frames per second of each and their ratio; and the
generator alone (``forward`` per frame against ``encode_reference`` once + ``generate`` in
batches, same poses), which is what reuse and batching buy on their own.

Flicker: a still pose with uniform +-1 px jitter (model-frame pixels) per joint and frame,
animated with and without the One-Euro filter; the mean absolute difference between
consecutive output frames (0-255), after the filter's first 8 frames.

    python -m dynast.video.bench --json bench_video.json
    python -m dynast.video.bench --device cuda --frames 120 --batch 16 --json gpu.json

The report names the CPU (``/proc/cpuinfo``), the GPU, threads and the load average
before and after (a figure measured under load is no result).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dynast.tasks import PoseTarget
from dynast.video.animate import AnimateOptions, PoseAnimator
from dynast.video.sequence import write_pose_sequence
from dynast.video.smoothing import OneEuro

ROOT = Path(__file__).resolve().parent.parent.parent
REFERENCE = ROOT / "examples/pose/reference/1_fashion_woman_blouse.jpg"
DRIVING = ROOT / "examples/driving/shipped_poses_dance.zip"


def machine(device: torch.device) -> dict[str, Any]:
    """CPU model, cores, threads, torch, GPU name, load average now."""
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None}


def _load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def speed(animator: PoseAnimator, frames: int, size: tuple[int, int], batch: int
          ) -> dict[str, Any]:
    """Frames per second of the animator and of one pipeline call per frame, same frames."""
    opts = AnimateOptions(size=size, max_frames=frames, batch=batch).checked()
    driving = animator.driving(DRIVING, opts)
    poses = driving.poses
    pipe = animator.pipe
    with tempfile.TemporaryDirectory() as tmp:
        warm = AnimateOptions(size=size, max_frames=batch, batch=batch).checked()
        animator(REFERENCE, DRIVING, Path(tmp) / "warm.mp4", warm)
        pipe(REFERENCE, PoseTarget(poses[0], size), resolution=size, target_kind="keypoints")
        t0 = time.perf_counter()
        for kp in poses:
            pipe(REFERENCE, PoseTarget(kp, size), resolution=size, target_kind="keypoints")
        per_frame = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = animator(REFERENCE, DRIVING, Path(tmp) / "out.mp4", opts)
        animated = time.perf_counter() - t0
    n = len(poses)
    return {"frames": n, "batch": batch, "per_frame_s": round(per_frame, 3),
            "animate_s": round(animated, 3), "per_frame_fps": round(n / per_frame, 3),
            "animate_fps": round(n / animated, 3), "speedup": round(per_frame / animated, 3),
            "animate_timings": {k: round(v, 3) for k, v in report.timings.items()}}


def model_only(animator: PoseAnimator, frames: int, size: tuple[int, int], batch: int
               ) -> dict[str, Any]:
    """The generator alone on the same poses: ``forward`` per frame against the reference
    encoded once and ``generate`` in batches (no semantics, no video), frames per second."""
    from dynast.inference.runtime import precision_context
    from dynast.semantics.pose_render import render_pose

    opts = AnimateOptions(size=size, max_frames=frames).checked()
    poses = animator.driving(DRIVING, opts).poses
    pipe, model = animator.pipe, animator.pipe.model
    device, precision = pipe.device, pipe.precision
    g = torch.Generator().manual_seed(0)
    ref = (torch.rand(1, 3, *size, generator=g) * 2 - 1).to(device)
    ref_sem = torch.from_numpy(render_pose(poses[0], *size))[None].to(device)
    sems = torch.from_numpy(np.stack([render_pose(k, *size) for k in poses])).to(device)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    with torch.inference_mode(), precision_context(device, precision):
        model(ref, ref_sem, sems[:1])  # warm-up (and the cast copy)
        model.generate(model.encode_reference(ref, ref_sem), sems[:batch])
        sync()
        t0 = time.perf_counter()
        for i in range(len(sems)):
            model(ref, ref_sem, sems[i:i + 1])
        sync()
        single = time.perf_counter() - t0
        t0 = time.perf_counter()
        encoded = model.encode_reference(ref, ref_sem)
        for start in range(0, len(sems), batch):
            model.generate(encoded, sems[start:start + batch])
        sync()
        batched = time.perf_counter() - t0
    n = len(sems)
    return {"forward_per_frame_fps": round(n / single, 3),
            "encoded_once_batched_fps": round(n / batched, 3),
            "speedup": round(single / batched, 3)}


def flicker(animator: PoseAnimator, size: tuple[int, int], frames: int = 32) -> dict[str, float]:
    """Output flicker of a still pose with +-1 px jitter, raw and smoothed."""
    rng = np.random.default_rng(0)
    probe = AnimateOptions(size=size, max_frames=1).checked()
    still = animator.driving(DRIVING, probe).poses[0]
    jittered = [still.map_xy(lambda xy: xy + rng.uniform(-1, 1, xy.shape)) for _ in range(frames)]
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        # already in the model frame: the clip fit of these poses is about the identity
        write_pose_sequence(jittered, Path(tmp) / "jitter.zip", size=size)
        for name, filt in (("raw", None), ("smoothed", OneEuro())):
            opts = AnimateOptions(size=size, max_frames=frames, smoothing=filt).checked()
            driving = animator.driving(Path(tmp) / "jitter.zip", opts)
            images = [f.result.astype(np.float64)
                      for f in animator.frames(REFERENCE, driving, opts)][8:]
            out[name] = round(float(np.mean([np.abs(a - b).mean()
                                             for a, b in zip(images, images[1:])])), 3)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m dynast.video.bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=None, help="pose checkpoint (default: shipped)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", default=None)
    p.add_argument("--size", default="256x176")
    p.add_argument("--frames", type=int, default=24)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-flicker", action="store_true")
    p.add_argument("--json", nargs="?", const="-", default=None, metavar="PATH",
                   help="write the report as JSON to PATH (or stdout)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    h, w = (int(v) for v in args.size.lower().split("x"))
    animator = PoseAnimator(args.checkpoint, device=args.device, precision=args.precision)
    device = animator.pipe.device
    report: dict[str, Any] = {"machine": machine(device), "load_before": _load(),
                              "size": [h, w], "precision": animator.pipe.precision,
                              "device": str(device)}
    report["speed"] = speed(animator, args.frames, (h, w), args.batch)
    report["model_only"] = model_only(animator, args.frames, (h, w), args.batch)
    if not args.no_flicker:
        report["flicker"] = flicker(animator, (h, w))
    report["load_after"] = _load()
    text = json.dumps(report, indent=2)
    if args.json and args.json != "-":
        Path(args.json).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
