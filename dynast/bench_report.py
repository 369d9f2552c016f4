"""Tables, ratios and plots of ``dynast.bench`` results (rows are its Measurement dicts)."""

from __future__ import annotations

import json
from pathlib import Path


def format_table(rows: list[dict], peaks: dict[str, float]) -> str:
    lines = [
        f"{'device':6} {'size':>5} {'prec':5} {'batch':>5} {'attention':9} {'median s':>10} "
        f"{'min s':>7} "
        f"{'peak MB':>9} {'GFLOP':>8} {'TFLOP/s':>8} {'of GEMM':>8} {'img/s':>8}"
    ]
    for r in rows:
        head = f"{r['device']:6} {r['size']:>5} {r['dtype']:5} {r.get('batch', 1):>5} "
        head += f"{r['attention']:9}"
        if "error" in r:
            lines.append(f"{head} {r['error']}")
            continue
        peak = peaks.get(f"{r['device']}/{r['dtype']}", 0.0)
        share = f"{r['tflops_per_s'] / peak:8.0%}" if peak else f"{'-':>8}"
        lines.append(
            f"{head} {r['latency_s']:10.3f} {r['min_latency_s']:7.3f} "
            f"{r['peak_memory_bytes'] / 2**20:9.0f} "
            f"{r['gflops']:8.1f} {r['tflops_per_s']:8.3f} {share} {r.get('images_per_s', 0):8.2f}"
        )
    return "\n".join(lines)


def ratios(rows: list[dict]) -> list[dict]:
    """Naive / ours latency and memory for each (device, size, dtype, batch) measured both ways."""
    by_key = {
        (r["device"], r["size"], r["dtype"], r.get("batch", 1), r["attention"]): r
        for r in rows
        if "error" not in r
    }
    out = []
    for (device, size, dtype, batch, attention), naive in by_key.items():
        ours = by_key.get((device, size, dtype, batch, "ours"))
        if attention == "naive" and ours:
            out.append(
                dict(
                    device=device,
                    size=size,
                    dtype=dtype,
                    batch=batch,
                    latency_ratio=naive["latency_s"] / ours["latency_s"],
                    memory_ratio=naive["peak_memory_bytes"] / max(1, ours["peak_memory_bytes"]),
                )
            )
    return out


def ratio_line(r: dict) -> str:
    return (
        f"naive/ours {r['device']} {r['size']} {r['dtype']} batch {r.get('batch', 1)}: "
        f"latency x{r['latency_ratio']:.2f}, memory x{r['memory_ratio']:.2f}"
    )


def plot(rows: list[dict], path: str) -> None:
    """Latency and peak memory against resolution, ours vs naive, one line per dtype."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(10, 4))
    keys = sorted({(r["device"], r["dtype"], r["attention"]) for r in rows if "error" not in r})
    for device, dtype, attention in keys:
        by_size = {
            r["size"]: r
            for r in rows
            if "error" not in r
            and (r["device"], r["dtype"], r["attention"]) == (device, dtype, attention)
        }
        pts = sorted(by_size.items())  # a size measured twice: the later report wins
        sizes = [s for s, _ in pts]
        style = "-o" if attention == "ours" else "--s"
        label = f"{attention} ({device}, {dtype})"
        ax_t.plot(sizes, [r["latency_s"] for _, r in pts], style, label=label)
        ax_m.plot(sizes, [r["peak_memory_bytes"] / 2**30 for _, r in pts], style, label=label)
    for ax, ylabel in ((ax_t, "latency (s, median)"), (ax_m, "peak memory increase (GiB)")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("resolution (pixels per side)")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle("DynaST generator, batch 1, full size (ngf 64)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def rereport(paths: list[str], plot_path: str | None) -> int:
    """Print the merged table of earlier ``--json`` reports and optionally plot them."""
    reports = [json.loads(Path(path).read_text()) for path in paths]
    rows = [row for report in reports for row in report["results"]]
    peaks = {key: value for report in reports for key, value in report["gemm_tflops"].items()}
    print(format_table(rows, peaks))
    for r in ratios(rows):
        print(ratio_line(r))
    if plot_path:
        plot(rows, plot_path)
    return 0
