"""Command line: make semantics from photos, sketches and OpenPose files.

    python -m dynast.semantics pose --from-image IMG [--size HxW] --out OUT.npz
    python -m dynast.semantics pose --from-openpose CANDIDATE.txt SUBSET.txt --size HxW \\
        [--source-size HxW] --out OUT.npz
    python -m dynast.semantics face --from-image IMG [--size HxW] --out OUT.npz
    python -m dynast.semantics face --from-sketch IMG [--size HxW] --out OUT.npz
    python -m dynast.semantics fit person|face --from-image IMG [--size HxW] --out OUT.png \\
        [--transform OUT.json]   # the photo fitted to the training frame (framing.py)

OUT.npz holds ``semantics`` (float32, C x H x W) and, for pose, ``keypoints`` (float32,
18 x 3: x, y, present, in output pixels). Without --size the input's own size is used,
padded up to multiples of 8 (no scaling), unless it exceeds the size limits (at most 4096 on
a side and 2048 x 2048 pixels in all; see ``image_io.check_bounded``): then it is scaled
down to fit and a warning says so. Several images go with ``--out-dir DIR`` instead of
--out: DIR/NAME.npz for each, and for pose also the keypoints in the photo's own pixels as
DIR/NAME_candidate.txt, DIR/NAME_subset.txt (the release's format) and DIR/NAME.json
(OpenPose JSON). Missing output folders (of --out or --out-dir) are created.

Errors are one line on stderr, never a traceback. Exit status: 0 all done; 1 with --out-dir
when some inputs failed (each listed); 2 bad usage or bad input (a size out of limits, an
unreadable image or keypoint file, no person or face found, an output that cannot be
written).
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from dynast.cli_args import OneLineErrorParser
from dynast.semantics.errors import SemanticsError
from dynast.semantics.face_photo import face_semantics_from_photo
from dynast.semantics.face_sketch import face_semantics_from_sketch
from dynast.semantics.framing import add_fit_parser, fit_command
from dynast.semantics.image_io import default_size, load_image, parse_size, plan_fit
from dynast.semantics.keypoints import Keypoints
from dynast.semantics.openpose_io import read_openpose_txt, write_openpose_json, write_openpose_txt
from dynast.semantics.pose_extract import extract_pose
from dynast.semantics.pose_render import render_pose

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="python -m dynast.semantics", description="Make DynaST semantics."
    )
    sub = parser.add_subparsers(dest="kind", required=True, parser_class=OneLineErrorParser)
    pose = sub.add_parser("pose", help="20-channel OpenPose semantics")
    src = pose.add_mutually_exclusive_group(required=True)
    src.add_argument("--from-image", nargs="+", metavar="IMG", type=Path)
    src.add_argument("--from-openpose", nargs=2, metavar=("CANDIDATE", "SUBSET"), type=Path)
    pose.add_argument(
        "--source-size", metavar="HxW",
        help="size of the photo the OpenPose keypoints refer to (default: --size)",
    )
    face = sub.add_parser("face", help="face-edge semantics")
    src = face.add_mutually_exclusive_group(required=True)
    src.add_argument("--from-image", nargs="+", metavar="IMG", type=Path)
    src.add_argument("--from-sketch", nargs="+", metavar="IMG", type=Path)
    for p in (pose, face):
        p.add_argument("--size", metavar="HxW", help="output size, multiples of 8")
        out = p.add_mutually_exclusive_group(required=True)
        out.add_argument("--out", type=Path, help="output .npz (one input)")
        out.add_argument("--out-dir", type=Path, help="output folder (several inputs)")
    add_fit_parser(sub)
    return parser


def _pose_from_image(path: Path, size: tuple[int, int] | None, out_dir: Path | None) -> dict:
    rgb = load_image(path)
    (height, width), warnings = (size, []) if size else default_size(*rgb.shape[:2])
    keypoints, found = extract_pose(rgb)
    warnings += found
    if out_dir is not None:
        write_openpose_txt(
            keypoints, out_dir / f"{path.stem}_candidate.txt", out_dir / f"{path.stem}_subset.txt"
        )
        write_openpose_json(keypoints, out_dir / f"{path.stem}.json")
    fitted = plan_fit(*rgb.shape[:2], height, width).keypoints_to_dst(keypoints)
    return _pose_result(fitted.drop_outside(height, width), height, width, warnings)


def _pose_result(keypoints: Keypoints, height: int, width: int, warnings: list[str]) -> dict:
    return {
        "semantics": render_pose(keypoints, height, width),
        "keypoints": keypoints.array.copy(),
        "warnings": warnings,
    }


def _face(fn: Callable) -> Callable[[Path, tuple[int, int] | None, Path | None], dict]:
    def run(path: Path, size: tuple[int, int] | None, out_dir: Path | None) -> dict:
        semantics, warnings = fn(path, size)
        return {"semantics": semantics, "warnings": warnings}

    return run


def _save(result: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    arrays = {k: v for k, v in result.items() if k != "warnings"}
    np.savez_compressed(out, **arrays)
    for w in result["warnings"]:
        print(f"warning: {out.name}: {w}", file=sys.stderr)


def _run_many(
    job: Callable[[Path, tuple[int, int] | None, Path | None], dict],
    inputs: Sequence[Path], size: tuple[int, int] | None, out: Path | None, out_dir: Path | None,
) -> int:
    if out is not None:
        if len(inputs) != 1:
            print("error: --out takes one input; use --out-dir for several", file=sys.stderr)
            return 2
        _save(job(inputs[0], size, None), out)
        return 0
    from tqdm import tqdm

    out_dir.mkdir(parents=True, exist_ok=True)
    failed = []
    for path in tqdm(inputs, desc="semantics", unit="image"):
        try:
            _save(job(path, size, out_dir), out_dir / f"{path.stem}.npz")
        except SemanticsError as exc:
            failed.append(f"{path}: {_one_line(str(exc))}")
    for line in failed:
        print(f"failed: {line}", file=sys.stderr)
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.kind == "fit":
            return fit_command(args)
        size = parse_size(args.size) if args.size else None
        if args.kind == "pose" and args.from_openpose:
            if size is None or args.out is None:
                print("error: --from-openpose needs --size and --out", file=sys.stderr)
                return 2
            keypoints, warnings = read_openpose_txt(*args.from_openpose)
            source = parse_size(args.source_size, multiple_of_8=False) if args.source_size else size
            keypoints = plan_fit(*source, *size).keypoints_to_dst(keypoints)
            _save(_pose_result(keypoints, *size, warnings), args.out)
            return 0
        if args.kind == "pose":
            return _run_many(_pose_from_image, args.from_image, size, args.out, args.out_dir)
        if args.from_sketch:
            job, inputs = _face(face_semantics_from_sketch), args.from_sketch
        else:
            job, inputs = _face(face_semantics_from_photo), args.from_image
        return _run_many(job, inputs, size, args.out, args.out_dir)
    except SemanticsError as exc:
        print(f"error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except OSError as exc:  # the output could not be written
        where = f" {exc.filename}" if exc.filename else ""
        print(f"error: cannot write the output{where}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except ImportError as exc:  # MediaPipe or scikit-image not installed
        print(f"error: {_one_line(str(exc))}", file=sys.stderr)
        return 2


def _one_line(text: str) -> str:
    return " ".join(text.split())


if __name__ == "__main__":
    sys.exit(main())
