"""One GPU smoke check of the whole project, in under 10 minutes on one GPU.

    python scripts/gpu_check.py --out gpu_check_out          # on a CUDA machine
    python scripts/gpu_check.py --out gpu_check_out --cpu    # dry run of the same steps here

Steps (``--steps`` picks some): ``versions`` (machine, CUDA capability, package versions);
``parity`` (the authors' fixtures, TF32 off within 1e-4, and the difference with TF32 on);
``checkpoints`` (the shipped checkpoints, CPU against CUDA, fp32); ``bf16`` (finite output,
sparse warp rows summing to 1 or 0); ``bench`` (``python -m dynast.bench``: 256/512/1024,
fp32/bf16/fp16, batch 1 and 8); ``train`` (``torchrun --nproc_per_node=1``: 3 steps bf16 and 3
fp16, each saved and resumed for 3 more); ``pipeline`` (each task with its shipped
checkpoint, and the ZeroGPU runner's path against the default one); ``app`` (the app as a
server, each task through ``gradio_client``).

With ``--cpu`` every step runs on the CPU at small sizes (a CPU-to-CPU comparison where a
step compares with CUDA): it checks that the script itself works. It writes
``OUT/gpu_check.json`` (everything measured) and ``OUT/gpu_check.md`` (a short table).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))  # gpu_check_app beside this file, however it is loaded
from gpu_check_app import EXAMPLES, step_app, step_pipeline  # noqa: E402

PARITY = ROOT / "tests/fixtures/official_parity"
TOLERANCE = 1e-4
TRAIN_DATA = {"face": ["--data", "tests/assets/train/faces"]}
PACKAGES = ("torch", "numpy", "gradio", "gradio_client", "mediapipe", "opencv-contrib-python",
            "safetensors", "huggingface_hub", "spaces")


class Check:
    """What the steps share: the device, the mode and the output folder."""

    def __init__(self, out: Path, cpu: bool) -> None:
        if not cpu and not torch.cuda.is_available():
            raise SystemExit("gpu_check: no CUDA device here; run with --cpu for a dry run")
        self.cpu = cpu
        self.device = torch.device("cpu" if cpu else "cuda")
        self.out = out

    def run(self, argv: list[str], timeout: float) -> dict[str, Any]:
        """Run a command from the repository root: return code, seconds, whole stdout and
        the tail of stderr."""
        t0 = time.perf_counter()
        proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        return {"cmd": " ".join(argv), "rc": proc.returncode,
                "seconds": round(time.perf_counter() - t0, 1), "stdout": proc.stdout,
                "stderr_tail": proc.stderr[-1500:]}


@contextlib.contextmanager
def tf32(enabled: bool) -> Iterator[None]:
    """TF32 for CUDA matmuls and cuDNN convolutions on or off inside."""
    before = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = enabled
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


def step_versions(c: Check) -> dict[str, Any]:
    info: dict[str, Any] = {"python": platform.python_version(), "machine": platform.machine(),
                            "cpu_count": os.cpu_count(), "torch_cuda": torch.version.cuda,
                            "cudnn": torch.backends.cudnn.version() if not c.cpu else None}
    for name in PACKAGES:
        try:
            info[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            info[name] = None
    if not c.cpu:
        props = torch.cuda.get_device_properties(c.device)
        cap = torch.cuda.get_device_capability(c.device)
        info.update(gpu=props.name, capability=f"{cap[0]}.{cap[1]}",
                    gpu_memory_gb=round(props.total_memory / 2**30, 1),
                    bf16_supported=torch.cuda.is_bf16_supported())
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            info["driver"] = subprocess.run(
                ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                capture_output=True, text=True, timeout=30).stdout.strip()
    from dynast.inference.runtime import default_precision

    info["auto_precision"] = default_precision(c.device)
    return {"ok": True, **info}


def _parity_diffs(model: Any, io: dict[str, torch.Tensor], device: torch.device
                  ) -> dict[str, float]:
    """Max |ours - authors'| per sample, and outside the worst 11x11 window (see
    tests/test_parity.py: one knife-edge pruning decision may flip a patch)."""
    with torch.inference_mode():
        got = model(io["ref_image"].to(device), io["ref_semantics"].to(device),
                    io["target_semantics"].to(device)).image.float().cpu()
    diff = (got - io["fake_image"]).abs().amax(1)  # (B, H, W)
    out: dict[str, float] = {}
    for b in range(diff.shape[0]):
        d = diff[b]
        y, x = divmod(int(d.argmax()), d.shape[1])
        outside = d.clone()
        outside[max(0, y - 5):y + 6, max(0, x - 5):x + 6] = 0
        out[f"sample{b}_max"] = float(d.max())
        out[f"sample{b}_outside_window"] = float(outside.max())
    return out


def step_parity(c: Check) -> dict[str, Any]:
    from dynast.convert import convert_state_dict, load_authors_checkpoint

    res: dict[str, Any] = {}
    ok = True
    for name in ("celebahqedge_ngf8_128", "deepfashion_ngf8_64"):
        model = convert_state_dict(load_authors_checkpoint(PARITY / f"{name}_G.pth"))
        model = model.to(c.device).eval()
        io = torch.load(PARITY / f"{name}_io.pth", weights_only=True)
        modes = {"fp32": False} if c.cpu else {"tf32_off": False, "tf32_on": True}
        for label, allow in modes.items():
            with tf32(allow):
                diffs = _parity_diffs(model, io, c.device)
            res[f"{name}/{label}"] = diffs
            if not allow:
                ok &= all(v <= TOLERANCE for k, v in diffs.items() if "outside" in k)
    return {"ok": ok, "tolerance": TOLERANCE, **res}


def _shipped() -> dict[str, Path]:
    return {p.name: p for p in sorted((ROOT / "checkpoints").iterdir())
            if (p / "model.safetensors").is_file()}


def _inputs(cfg: Any, size: int, batch: int = 1) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    ref = torch.rand(batch, 3, size, size, generator=g) * 2 - 1
    ref_sem = (torch.rand(batch, cfg.ref_semantic_nc, size, size, generator=g)
               if cfg.ref_semantic_nc else None)
    return ref, ref_sem, torch.rand(batch, cfg.semantic_nc, size, size, generator=g)


def _forward(model: Any, inputs: tuple[Any, ...], device: torch.device, precision: str,
             **kw: Any) -> Any:
    from dynast.inference.runtime import precision_context

    args = [None if t is None else t.to(device) for t in inputs]
    with torch.inference_mode(), precision_context(device, precision):
        return model(*args, **kw)


def step_checkpoints(c: Check) -> dict[str, Any]:
    from dynast import DynaST

    res: dict[str, Any] = {"compared": "cpu vs cpu (dry run)" if c.cpu else "cpu vs cuda"}
    ok = True
    for name, path in _shipped().items():
        cpu_model = DynaST.from_pretrained(path).eval()
        inputs = _inputs(cpu_model.config, 64 if c.cpu else 256)
        want = _forward(cpu_model, inputs, torch.device("cpu"), "fp32").image
        dev_model = DynaST.from_pretrained(path).to(c.device).eval()
        with tf32(False):
            got = _forward(dev_model, inputs, c.device, "fp32").image.float().cpu()
        diff = float((got - want).abs().max())
        res[name] = {"max_abs_diff": diff, "mean_abs_diff": float((got - want).abs().mean())}
        ok &= diff <= 1e-3
    return {"ok": ok, **res}


def _amax(t: torch.Tensor) -> float:
    return float(t.abs().max()) if t.numel() else 0.0


def step_bf16(c: Check) -> dict[str, Any]:
    from dynast import DynaST

    res: dict[str, Any] = {}
    ok = True
    for name, path in _shipped().items():
        model = DynaST.from_pretrained(path).to(c.device).eval()
        out = _forward(model, _inputs(model.config, 64 if c.cpu else 512), c.device, "bf16",
                       return_warps=True, return_matches=True)
        finite = bool(torch.isfinite(out.image.float()).all())
        worst = 0.0
        for block, m in zip(out.blocks, out.matches):
            if block.kind == "dense":  # dense blocks keep only the top candidates to inspect
                continue
            sums = m.weights.float().sum(-1)
            kept = m.kept.any(-1)
            worst = max(worst, _amax(sums[kept] - 1), _amax(sums[~kept]))
        res[name] = {"finite": finite, "worst_row_sum_error": worst}
        ok &= finite and worst <= 1e-2
    return {"ok": ok, **res}


def step_bench(c: Check) -> dict[str, Any]:
    help_text = c.run([sys.executable, "-m", "dynast.bench", "--help"], 120)["stdout"]
    wanted = ["fp32", "bf16", "fp16"] if not c.cpu else ["fp32"]
    dtypes = [d for d in wanted if d in help_text]
    argv = [sys.executable, "-m", "dynast.bench", "--json", "--devices", c.device.type,
            "--sizes", *(["64"] if c.cpu else ["256", "512", "1024"]), "--dtypes", *dtypes,
            "--repeats", "1" if c.cpu else "5"]
    missing = [d for d in wanted if d not in dtypes]
    if "--batch" in help_text:
        argv += ["--batch", *(["1"] if c.cpu else ["1", "8"])]
    else:
        missing.append("--batch")
    run = c.run(argv, 180 if c.cpu else 300)
    result: Any = run["stdout"]
    with contextlib.suppress(ValueError):
        result = json.loads(run["stdout"])
    return {"ok": run["rc"] == 0 and not isinstance(result, str), "cmd": run["cmd"],
            "seconds": run["seconds"], "bench_lacks": missing, "result": result,
            "stderr_tail": run["stderr_tail"]}


def _short(run: dict[str, Any]) -> dict[str, Any]:
    return {**run, "stdout": run["stdout"][-1500:]}


def step_train(c: Check) -> dict[str, Any]:
    res: dict[str, Any] = {}
    ok = True
    for precision in ("bf16", "fp16"):
        out = c.out / f"train_{precision}"
        shutil.rmtree(out, ignore_errors=True)
        base = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                "--nproc_per_node=1", "-m", "train", "fit",
                "--config", "train/configs/face_smoke.yaml", *TRAIN_DATA["face"],
                "--out", str(out), f"run.precision={precision}", f"run.device={c.device.type}",
                "run.checkpoint_every=3", "run.log_every=1", "run.image_every=1000",
                "run.tensorboard=false", "run.progress=false"]
        first = _short(c.run([*base, "schedule.max_steps=3"], 300))
        resumed = _short(c.run([*base, "schedule.max_steps=6", "--resume"], 300))
        summary: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            summary = json.loads((out / "summary.json").read_text())
        res[precision] = {"first": first, "resumed": resumed, "summary": summary}
        ok &= first["rc"] == 0 and resumed["rc"] == 0 and summary.get("steps") == 6
    return {"ok": ok, **res}


STEPS: dict[str, Callable[[Check], dict[str, Any]]] = {
    "versions": step_versions, "parity": step_parity, "checkpoints": step_checkpoints,
    "bf16": step_bf16, "bench": step_bench, "train": step_train, "pipeline": step_pipeline,
    "app": step_app,
}


def summarise(name: str, r: dict[str, Any]) -> str:
    """One short line of a step's numbers for the markdown table."""
    if name == "versions":
        return (f"{r.get('gpu', 'cpu')} cc {r.get('capability', '-')}, torch {r.get('torch')} "
                f"(CUDA {r.get('torch_cuda')}), driver {r.get('driver', '-')}, "
                f"auto {r.get('auto_precision')}")
    if name in ("parity", "checkpoints", "bf16"):
        parts = []
        for key, val in r.items():
            if isinstance(val, dict):
                nums = ", ".join(f"{k} {v:.1e}" if isinstance(v, float) else f"{k} {v}"
                                 for k, v in val.items())
                parts.append(f"{key}: {nums}")
        return "; ".join(parts)
    if name == "pipeline":
        return "; ".join([f"{t}: model {v['warm']['model']:.3f} s warm ({v['precision']})"
                          for t, v in r.items() if t in EXAMPLES]
                         + [f"ZeroGPU runner vs default: "
                            f"{r['zerogpu_runner']['max_abs_diff']}/255"])
    if name == "app":
        return "; ".join(f"{t}: {v['seconds']} s" for t, v in r.items() if t in EXAMPLES)
    if name == "train":
        return "; ".join(f"{p}: rc {v['first']['rc']}/{v['resumed']['rc']}, steps "
                         f"{v['summary'].get('steps')} ({v['summary'].get('nonfinite_steps')} "
                         f"non-finite, skipped)" for p, v in r.items()
                         if isinstance(v, dict) and "first" in v)
    if name == "bench":
        return f"{r.get('seconds')} s; missing flags: {r.get('bench_lacks') or 'none'}"
    return r.get("error", "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "gpu_check_out")
    parser.add_argument("--cpu", action="store_true", help="dry run on the CPU, small sizes")
    parser.add_argument("--steps", default=",".join(STEPS),
                        help=f"comma-separated subset of {','.join(STEPS)}")
    args = parser.parse_args(argv)
    names = [s for s in args.steps.split(",") if s]
    unknown = [s for s in names if s not in STEPS]
    if unknown:
        parser.error(f"unknown steps {unknown}; choose from {','.join(STEPS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    check = Check(args.out, args.cpu)
    report: dict[str, Any] = {"mode": "cpu dry run" if args.cpu else "cuda", "steps": {}}
    for name in names:
        t0 = time.perf_counter()
        try:
            result = STEPS[name](check)
        except Exception as exc:  # noqa: BLE001 - a failed step is reported, the rest run
            result = {"ok": False, "error": f"{type(exc).__name__}: {exc}".splitlines()[0],
                      "traceback": traceback.format_exc()[-3000:]}
        result["step_seconds"] = round(time.perf_counter() - t0, 1)
        report["steps"][name] = result
        print(f"[gpu_check] {name}: {'ok' if result['ok'] else 'FAILED'} "
              f"({result['step_seconds']} s)", flush=True)
    report["ok"] = all(r["ok"] for r in report["steps"].values())
    (args.out / "gpu_check.json").write_text(json.dumps(report, indent=2, default=str))
    lines = [f"gpu_check ({report['mode']}): {'all ok' if report['ok'] else 'FAILURES'}", "",
             "| step | ok | seconds | numbers |", "|---|---|---|---|"]
    for name, r in report["steps"].items():
        lines.append(f"| {name} | {'yes' if r['ok'] else '**no**'} | {r['step_seconds']} | "
                     f"{summarise(name, r) if r['ok'] or 'error' not in r else r['error']} |")
    (args.out / "gpu_check.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
