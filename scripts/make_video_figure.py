"""docs/pose_video_strip.png: six frames of the shipped example, pose | result side by side.

    python scripts/make_video_figure.py

Runs ``PoseAnimator`` with the shipped pose checkpoint (small and weak: it shows the
stability of the framing and the motion, not quality) on the example driving sequence
(examples/driving/shipped_poses_dance.zip, made by scripts/make_example_driving.py) and the
first example reference, then keeps every 12th side-by-side frame.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from dynast.video.animate import AnimateOptions, PoseAnimator, side_by_side

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "examples/pose/reference/1_fashion_woman_blouse.jpg"
DRIVING = ROOT / "examples/driving/shipped_poses_dance.zip"
EVERY = 12


def main() -> None:
    animator = PoseAnimator(ROOT / "checkpoints/pose", device="cpu", precision="fp32")
    options = AnimateOptions(size=(256, 176)).checked()
    driving = animator.driving(DRIVING, options)
    panels = [side_by_side(f) for f in animator.frames(REFERENCE, driving, options)
              if f.index % EVERY == 0][:6]
    gap = np.full((panels[0].shape[0], 6, 3), 255, np.uint8)
    row = np.concatenate([x for p in panels for x in (p, gap)][:-1], axis=1)
    out = ROOT / "docs/pose_video_strip.png"
    Image.fromarray(row).quantize(256, dither=Image.Dither.NONE).save(out, optimize=True)
    print(f"{len(panels)} frames -> {out}")


if __name__ == "__main__":
    main()
