"""The plot of the CPU recipe study in docs/RESULTS.md: throughput per setting and the matching
loss of runs against wall-clock time.

    python -m train.study_plot --throughput runs/throughput_face.log \\
        --run "matching first=runs/face_B/metrics.jsonl" --out docs/study_cpu.png

``--throughput``: lines printed by ``python -m train.throughput`` (other lines are ignored).
``--run NAME=metrics.jsonl``: a run's metrics; the x axis is images seen / images per second.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def throughput_rows(log: Path) -> list[dict]:
    """The JSON lines of a throughput log."""
    rows = []
    for line in log.read_text().splitlines():
        if line.startswith("{") and "images_per_s" in line:
            rows.append(json.loads(line))
    return rows


def label(row: dict) -> str:
    """Short name of a throughput setting."""
    parts = [f"ngf {row['ngf']}", f"{row['size']} px", row["precision"]]
    if row["channels_last"]:
        parts.append("channels_last")
    if row["matching_only"]:
        parts.append("matching only")
    return ", ".join(parts)


def main(argv: list[str] | None = None) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    parser = argparse.ArgumentParser(prog="python -m train.study_plot", description=__doc__)
    parser.add_argument("--throughput", required=True)
    parser.add_argument("--run", action="append", default=[], help="NAME=metrics.jsonl")
    parser.add_argument("--batch", type=int, default=4, help="the runs' batch size")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    rows = throughput_rows(Path(args.throughput))
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
    left.barh([label(r) for r in rows], [r["images_per_s"] for r in rows])
    left.set_xlabel("training images / s (2 shared cores)")
    for pair in args.run:
        name, _, path = pair.partition("=")
        records = [json.loads(x) for x in Path(path).read_text().splitlines() if x.strip()]
        records = [r for r in records if "g/matching" in r]
        seconds, prev, xs = 0.0, 0, []
        for r in records:
            seconds += (r["step"] - prev) * args.batch / max(r["images_per_s"], 1e-9)
            prev = r["step"]
            xs.append(seconds / 60)
        right.plot(xs, [r["g/matching"] for r in records], marker="o", label=name)
    right.set_xlabel("wall-clock minutes")
    right.set_ylabel("matching loss (x1000, training batches)")
    right.legend()
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
