"""Held-out face targets against images seen, one line per training arm (docs/RESULTS.md).

    python -m train.targets_plot --out docs/study_gpu.png \\
        --point "face_self=7600:runs/targets/a.json" --point "face_self=10000:runs/targets/b.json"

Each ``--point ARM=IMAGES:JSON`` is one ``python -m train targets --task face`` result of arm
``ARM`` after ``IMAGES`` training images. Three panels: the self-pair PSNR gain over the
exemplar, the cross-identity PSNR gain over the exemplar against the landmark teacher, and the
share of cross-identity pairs whose mean colour is within 10 CIELAB of the teacher's; the
targets are drawn as dashed lines.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

PANELS = (
    ("self-pairs: PSNR gain (dB)", lambda r: r["summary"]["psnr_gain_db"], 2.0),
    ("across identities: PSNR gain vs teacher (dB)",
     lambda r: r["cross_identity"]["summary"]["psnr_gain_db"], 3.0),
    ("across identities: colour within 10 CIELAB",
     lambda r: r["cross_identity"]["summary"]["colour_close"]
     / r["cross_identity"]["summary"]["pairs"], 0.75),
)


def parse_point(text: str) -> tuple[str, int, Path]:
    """``ARM=IMAGES:JSON`` -> (arm, images, path)."""
    arm, rest = text.split("=", 1)
    images, path = rest.split(":", 1)
    return arm, int(images), Path(path)


def plot(points: list[tuple[str, int, Path]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(PANELS), figsize=(4.2 * len(PANELS), 3.4))
    arms = sorted({arm for arm, _, _ in points})
    for ax, (title, value, target) in zip(axes, PANELS):
        for arm in arms:
            mine = sorted((images, path) for a, images, path in points if a == arm)
            xs = [images for images, _ in mine]
            ys = [value(json.loads(path.read_text())) for _, path in mine]
            ax.plot(xs, ys, marker="o", label=arm)
        ax.axhline(target, linestyle="--", color="grey", linewidth=1)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("training images seen")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--point", action="append", required=True, help="ARM=IMAGES:JSON")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    plot([parse_point(p) for p in args.point], args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
