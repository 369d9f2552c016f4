"""A picture of the landmark teacher on held-out pairs: exemplar | target | teacher | mask.

    python -m train.teacher_figure --heldout data/faces/heldout --out docs/teacher.jpg

Each row pairs held-out photo i+1 (the exemplar) with photo i (the target), as
``python -m train targets`` pairs them for its cross-identity scores.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from train.data.face_teacher import face_teacher
from train.data.files import list_images
from train.targets import held_out_faces


def teacher_rows(files: list[Path], size: int, rows: int) -> np.ndarray:
    """(rows * size, 4 * size, 3) uint8: exemplar, target, teacher, mask (white = 1) per row."""
    faces, _skipped = held_out_faces(files, size)
    if len(faces) < 2:
        raise ValueError(f"need two faces among {len(files)} photos, found {len(faces)}")
    picked = range(0, len(faces), max(1, len(faces) // rows))
    out = []
    for i in list(picked)[:rows]:
        target, exemplar = faces[i], faces[(i + 1) % len(faces)]
        teacher = face_teacher(exemplar.image, exemplar.landmarks, (size, size),
                               target.landmarks)
        mask = np.repeat((teacher.mask[..., None] * 255).round().astype(np.uint8), 3, 2)
        out.append(np.concatenate([exemplar.image, target.image, teacher.image, mask], 1))
    return np.concatenate(out, 0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--heldout", required=True, help="folder of held-out face photos")
    parser.add_argument("--out", required=True, help="JPEG to write")
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--rows", type=int, default=4)
    args = parser.parse_args(argv)
    grid = teacher_rows(list_images(args.heldout), args.size, args.rows)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid).save(args.out, quality=88)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
