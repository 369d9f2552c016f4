"""Latency, peak memory and throughput of the full-size generator: ``python -m dynast.bench``.

Every (device, size, precision, batch, attention) configuration runs in a fresh child process,
so its peak
memory is its own: on CPU the increase of the process's peak resident set size
(``resource.getrusage(...).ru_maxrss``) over the forward passes, on CUDA
``torch.cuda.max_memory_allocated``. Latency is the median of ``--repeats`` timed forward
passes after one warm-up pass; the warm-up pass also counts the FLOPs
(``torch.utils.flop_counter.FlopCounterMode``). Achieved TFLOP/s is compared with the
device's dense-GEMM throughput measured here before the runs (a 1024x1024 matmul in the same
dtype), not with a datasheet figure.

``--compare-naive`` also runs the model with ``naive_sparse_attention``: the released
code's way of doing sparse attention (the gathered candidates of every query at once, in
float32), plugged in through ``DynaST(config, kernels=NAIVE_KERNELS)``.

Precisions: fp32; bf16 and fp16 through ``dynast.inference.runtime.precision_context``
(autocast: the model runs on its weights cast once; cudnn.benchmark on CUDA). CUDA runs
first when present.

Examples:
    python -m dynast.bench --sizes 256 512 --precisions fp32 --repeats 5 --compare-naive
    python -m dynast.bench --sizes 256 --precisions bf16 --repeats 3 --json
    python -m dynast.bench --device cuda --sizes 256 512 1024 --precisions fp32 bf16 fp16 \\
        --batch 1 8 --json out.json
    python -m dynast.bench --plot docs/perf_latency_memory.png --sizes 128 256 512 1024
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from dynast.attention import (
    AttentionKernels,
    AttentionResult,
    CandidateFn,
    Matches,
    prune_gate,
    warp_weights,
)
from dynast.bench_report import format_table, plot, ratio_line, ratios, rereport
from dynast.inference import runtime
from dynast.precision import DTYPES, PRECISIONS


# --------------------------------------------------------------------------- naive reference
def naive_sparse_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    q_prune: torch.Tensor,
    k_prune: torch.Tensor,
    candidates: CandidateFn,
    *,
    temperature: float,
    prune: bool = True,
    warp_source: torch.Tensor | None = None,
    top_k: int = 0,
    return_matches: bool = False,
    chunk_elems: int = 0,
) -> AttentionResult:
    """Sparse attention the way the authors' release computes it (the baseline to beat).

    Same arguments and result as ``dynast.attention.sparse_attention`` (``chunk_elems`` is
    ignored). All queries at once, in float32: the candidate indices (B, N, n) and the
    gathered keys (B, N, C, n), pruning keys (B, N, P, n) and values (B, N, Cv, n) all
    exist together, as in the release (its keys are (B, N, c, 5k)).
    """
    dtype = q.dtype
    q, k, v, q_prune, k_prune = (t.float() for t in (q, k, v, q_prune, k_prune))
    idx = candidates(0, q.shape[1])  # (B, N, n)
    batch = torch.arange(q.shape[0], device=q.device).view(-1, 1, 1)
    keys = k[batch, idx].transpose(-1, -2)  # (B, N, C, n)
    logits = (q.unsqueeze(-2) @ keys).squeeze(-2) / temperature  # (B, N, n)
    attn = torch.softmax(logits, dim=-1)
    if prune:
        prune_keys = k_prune[batch, idx].transpose(-1, -2)  # (B, N, P, n)
        kept = prune_gate((q_prune.unsqueeze(-2) @ prune_keys).squeeze(-2))
    else:
        kept = torch.ones_like(attn)
    pruned = attn * kept
    values = v[batch, idx].transpose(-1, -2)  # (B, N, Cv, n)
    output = (values @ pruned.unsqueeze(-1)).squeeze(-1)
    weights = warp_weights(logits, kept) if (warp_source is not None or return_matches) else None
    warp = None
    if warp_source is not None:
        warp = (warp_source.float()[batch, idx].transpose(-1, -2) @ weights.unsqueeze(-1)).squeeze(
            -1
        )
    best = idx.gather(-1, attn.topk(top_k, dim=-1).indices) if top_k else None
    matches = Matches(idx, attn, kept > 0, weights) if return_matches else None
    return AttentionResult(output.to(dtype), pruned.sum(-1).to(dtype), warp, best, matches)


NAIVE_KERNELS = AttentionKernels(sparse=naive_sparse_attention)


# --------------------------------------------------------------------------- one measurement
@dataclass
class Measurement:
    """One configuration's result (times in seconds, memory in bytes)."""

    device: str
    size: int
    dtype: str  # precision: fp32 | bf16 | fp16
    batch: int
    attention: str  # "ours" | "naive"
    ngf: int
    latency_s: float  # median
    min_latency_s: float  # the least disturbed pass, on a shared machine
    latencies_s: list[float]
    peak_memory_bytes: int
    gflops: float
    tflops_per_s: float
    threads: int
    images_per_s: float


def _random_inputs(
    size: int, semantic_nc: int, device: torch.device, batch: int = 1
) -> tuple[torch.Tensor, ...]:
    """(ref_image (B, 3, S, S), ref_semantics (B, s, S, S), target_semantics (B, s, S, S))."""
    g = torch.Generator().manual_seed(0)
    ref = torch.rand(batch, 3, size, size, generator=g) * 2 - 1
    ref_sem = torch.rand(batch, semantic_nc, size, size, generator=g)
    tgt_sem = torch.rand(batch, semantic_nc, size, size, generator=g)
    return tuple(t.to(device) for t in (ref, ref_sem, tgt_sem))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _peak_rss_bytes() -> int:
    """This process's peak resident set size so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measure(
    device: str,
    size: int,
    dtype: str,
    attention: str,
    ngf: int,
    repeats: int,
    threads: int | None = None,
    batch: int = 1,
) -> Measurement:
    """Build the model (random weights, eval) and time ``repeats`` forward passes after a warm-up.

    Meant to run in a fresh process (see ``_run_child``): the CPU peak memory is the growth
    of the process's peak RSS from after building the model and one 16x16 pass (which
    absorbs the libraries' one-time set-up and builds the cast copy) to the end of the
    passes. FLOPs are counted in one more pass afterwards.
    """
    from torch.utils.flop_counter import FlopCounterMode

    from dynast import DynaST, DynaSTConfig

    dev = torch.device(device)
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    cfg = DynaSTConfig(semantic_nc=20, ref_semantic_nc=20, ngf=ngf)
    kernels = NAIVE_KERNELS if attention == "naive" else None
    model = DynaST(cfg, kernels=kernels).eval().to(dev)
    inputs = _random_inputs(size, cfg.semantic_nc, dev, batch)
    with torch.no_grad(), runtime.precision_context(dev, dtype):
        model(*_random_inputs(16, cfg.semantic_nc, dev))
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
        base = torch.cuda.memory_allocated(dev)
    else:
        base = _peak_rss_bytes()
    times = []
    with torch.no_grad(), runtime.precision_context(dev, dtype):
        model(*inputs)  # warm-up
        _sync(dev)
        for _ in range(repeats):
            start = time.perf_counter()
            model(*inputs)
            _sync(dev)
            times.append(time.perf_counter() - start)
    peak = (
        torch.cuda.max_memory_allocated(dev) - base
        if dev.type == "cuda"
        else _peak_rss_bytes() - base
    )
    # FLOPs last (the peak is read): with gradients on but nothing requiring them, the sparse
    # links are gathered (the counter would count a CSR product as a dense one).
    counter = FlopCounterMode(display=False)
    with torch.enable_grad(), runtime.precision_context(dev, dtype), counter:
        model.requires_grad_(False)(*inputs)
    latency = statistics.median(times)
    flops = counter.get_total_flops()
    return Measurement(
        device=dev.type,
        size=size,
        dtype=dtype,
        batch=batch,
        attention=attention,
        ngf=ngf,
        latency_s=latency,
        min_latency_s=min(times),
        latencies_s=times,
        peak_memory_bytes=int(peak),
        gflops=flops / 1e9,
        tflops_per_s=flops / latency / 1e12,
        threads=torch.get_num_threads(),
        images_per_s=batch / latency,
    )


def _run_child(spec: dict, timeout: float) -> dict:
    """Run ``measure(**spec)`` in a fresh interpreter: its Measurement as a dict, or an error."""
    spec = json.dumps(spec)
    cmd = [sys.executable, "-m", "dynast.bench", "--_child", spec]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return dict(json.loads(spec), error=f"timed out after {timeout:.0f} s")
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [
            f"exit code {proc.returncode}"
        ]
        return dict(json.loads(spec), error=tail[0])
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- device peak
def gemm_tflops(device: str, dtype: str, n: int = 1024, repeats: int = 3) -> float:
    """Dense n x n matmul throughput (TFLOP/s) of ``device`` in ``dtype`` right now."""
    dev = torch.device(device)
    torch_dtype = DTYPES[dtype]
    a = torch.randn(n, n, device=dev, dtype=torch_dtype)
    b = torch.randn(n, n, device=dev, dtype=torch_dtype)
    a @ b
    _sync(dev)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    _sync(dev)
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e12


# --------------------------------------------------------------------------- entry point
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m dynast.bench", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[256, 512, 1024],
        help="square input sizes (multiples of 8)",
    )
    p.add_argument(
        "--precisions",
        "--dtypes",
        dest="precisions",
        nargs="+",
        choices=PRECISIONS,
        default=["fp32", "bf16"],
        help="fp32; bf16/fp16: autocast on weights cast once",
    )
    p.add_argument(
        "--device",
        "--devices",
        dest="devices",
        nargs="+",
        default=None,
        help="default: cuda (when present), then cpu",
    )
    p.add_argument("--batch", type=int, nargs="+", default=[1], help="batch sizes")
    p.add_argument(
        "--repeats", type=int, default=5, help="timed passes after one warm-up (median reported)"
    )
    p.add_argument(
        "--compare-naive", action="store_true", help="also run the released code's sparse attention"
    )
    p.add_argument(
        "--json",
        nargs="?",
        const="-",
        metavar="PATH",
        help="print one JSON object instead of the table (or write it to PATH)",
    )
    p.add_argument(
        "--plot", metavar="PNG", help="write latency/memory against resolution to this file"
    )
    p.add_argument(
        "--from-json",
        nargs="+",
        metavar="JSON",
        help="re-report (table, plot) earlier --json outputs, run nothing",
    )
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")
    p.add_argument("--timeout", type=float, default=1800, help="seconds allowed per configuration")
    p.add_argument("--ngf", type=int, default=64, help=argparse.SUPPRESS)  # small models for tests
    p.add_argument("--_child", help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args._child:
        print(json.dumps(asdict(measure(**json.loads(args._child)))))
        return 0
    if args.from_json:
        return rereport(args.from_json, args.plot)
    devices = args.devices or (["cuda"] if torch.cuda.is_available() else []) + ["cpu"]
    attentions = ["ours", "naive"] if args.compare_naive else ["ours"]
    if args.threads:
        torch.set_num_threads(args.threads)
    peaks = {f"{d}/{t}": gemm_tflops(d, t) for d in devices for t in args.precisions}
    rows = []
    for device, size, dtype, batch, attention in itertools.product(
        devices, args.sizes, args.precisions, args.batch, attentions
    ):
        spec = dict(
            device=device,
            size=size,
            dtype=dtype,
            attention=attention,
            ngf=args.ngf,
            repeats=args.repeats,
            threads=args.threads,
            batch=batch,
        )
        rows.append(_run_child(spec, args.timeout))
        print(format_table(rows[-1:], {}).splitlines()[-1], file=sys.stderr, flush=True)  # progress
    report = dict(
        torch=torch.__version__,
        threads=torch.get_num_threads(),
        cpu_capability=torch.backends.cpu.get_cpu_capability(),
        gemm_tflops=peaks,
        results=rows,
        naive_over_ours=ratios(rows),
    )
    if args.plot:
        plot(rows, args.plot)
    if args.json == "-":
        print(json.dumps(report, indent=2))
    else:
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
        print(format_table(rows, peaks))
        print(
            f"GEMM TFLOP/s measured now: {peaks}; torch {torch.__version__}, "
            f"{report['threads']} threads, {report['cpu_capability']}"
        )
        for r in report["naive_over_ours"]:
            print(ratio_line(r))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
