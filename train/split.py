"""Split a folder of images into ``train/`` and ``heldout/`` folders of symbolic links.

    python -m train.split SRC OUT --heldout LIST.txt [--exclude GLOB ...]

``LIST.txt`` names the held-out files (one file name per line, ``#`` comments allowed); it is
committed beside each shipped checkpoint, so the split is reproducible and the held-out photos
are never trained on. ``--exclude`` drops files from both sides (e.g. images whose licence
does not allow shipping weights trained on them).
"""

from __future__ import annotations

import argparse
import fnmatch
from pathlib import Path

from train.data.files import list_images


def read_list(path: str | Path) -> set[str]:
    """File names in a held-out list, ignoring blank lines and ``#`` comments."""
    names = set()
    for line in Path(path).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(line)
    return names


def split_folder(
    src: str | Path, out: str | Path, heldout: set[str], exclude: list[str]
) -> tuple[int, int]:
    """Link every image of ``src`` into ``out/train`` or ``out/heldout``; returns the counts."""
    images = [p for p in list_images(src) if not any(fnmatch.fnmatch(p.name, g) for g in exclude)]
    unknown = heldout - {p.name for p in images}
    if unknown:
        raise FileNotFoundError(f"held-out files not in {src}: {sorted(unknown)}")
    counts = {"train": 0, "heldout": 0}
    for side in counts:
        (Path(out) / side).mkdir(parents=True, exist_ok=True)
    for path in images:
        side = "heldout" if path.name in heldout else "train"
        link = Path(out) / side / path.name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(path.resolve())
        counts[side] += 1
    return counts["train"], counts["heldout"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m train.split", description=__doc__.splitlines()[0]
    )
    parser.add_argument("src")
    parser.add_argument("out")
    parser.add_argument("--heldout", required=True, help="text file with the held-out file names")
    parser.add_argument(
        "--exclude", action="append", default=[], help="glob of file names to leave out"
    )
    args = parser.parse_args(argv)
    n_train, n_held = split_folder(args.src, args.out, read_list(args.heldout), args.exclude)
    print(f"{args.out}: {n_train} train, {n_held} held out")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
