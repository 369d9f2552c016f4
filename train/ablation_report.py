"""Tabulate and plot evaluation results of several runs (the ablation table of docs/RESULTS.md).

    python -m train.ablation_report NAME=RESULTS.json [NAME=RESULTS.json ...] --plot PNG

Each RESULTS.json is written by ``python -m train evaluate``. Prints a Markdown table of the
warp and output metrics, in the order given, and saves a bar plot of them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

COLUMNS = [
    ("warp_l1", "warp L1"),
    ("warp_psnr", "warp PSNR (dB)"),
    ("warp_ssim", "warp SSIM"),
    ("output_ssim", "output SSIM"),
    ("output_psnr", "output PSNR (dB)"),
]


def load(pairs: list[str]) -> dict[str, dict[str, float]]:
    """NAME=PATH pairs -> {name: summary metrics}."""
    results = {}
    for pair in pairs:
        name, _, path = pair.partition("=")
        if not path:
            raise ValueError(f"expected NAME=RESULTS.json, got {pair!r}")
        results[name] = json.loads(Path(path).read_text())["summary"]
    return results


def table(results: dict[str, dict[str, float]]) -> str:
    head = "| variant | " + " | ".join(label for _, label in COLUMNS) + " |"
    rule = "|---" * (len(COLUMNS) + 1) + "|"
    rows = [
        f"| {name} | " + " | ".join(f"{m[key]:.4g}" for key, _ in COLUMNS) + " |"
        for name, m in results.items()
    ]
    return "\n".join([head, rule, *rows])


def plot(results: dict[str, dict[str, float]], path: str | Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [
        ("warp_psnr", "warp PSNR (dB)"),
        ("warp_ssim", "warp SSIM"),
        ("output_ssim", "output SSIM"),
    ]
    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.2))
    names = list(results)
    for ax, (key, label) in zip(axes, keys):
        ax.bar(names, [results[n][key] for n in names], color="#4c72b0")
        ax.set_title(label)
        ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m train.ablation_report", description=__doc__.splitlines()[0]
    )
    parser.add_argument("results", nargs="+", help="NAME=RESULTS.json")
    parser.add_argument("--plot", help="write a bar plot here")
    args = parser.parse_args(argv)
    results = load(args.results)
    print(table(results))
    if args.plot:
        plot(results, args.plot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
