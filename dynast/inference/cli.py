"""``python -m dynast generate`` and ``python -m dynast fetch``: the pipeline from files.

    python -m dynast generate --task pose --reference REF.jpg --target TARGET.jpg --out OUT.png
    python -m dynast generate --task pose --reference REF.jpg \\
        --target-keypoints NAME_candidate.txt NAME_subset.txt --out OUT.png
    python -m dynast generate --task face --reference A.jpg --target drawing.png \\
        --target-kind sketch --out OUT.png
    python -m dynast generate --task style --reference STYLE.jpg --target photos/ --out-dir out/
    python -m dynast fetch authors-deepfashion          # download + convert once, print the path
    python -m dynast animate --reference PERSON.jpg --driving CLIP.mp4 --out OUT.mp4

Options: ``--checkpoint SOURCE`` (directory, name, Hub id[@rev], URL, gdrive:ID, alias),
``--size N`` (long side) or ``HxW``, ``--precision``, ``--top-k``, ``--device``,
``--warps-dir DIR`` (every block's warp and confidence as PNGs), ``--no-fit`` (feed photos
as they are instead of fitting them to the training frame), ``--json`` (timings and
warnings on stdout). It is the same pipeline the app calls.

Exit status: 0 done; 1 some targets of a folder failed (each named on stderr); 2 bad usage
or bad input (one line on stderr, never a traceback).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from dynast.cli_args import OneLineErrorParser, parse_size, writable_dir
from dynast.errors import PipelineError
from dynast.precision import PRECISIONS
from dynast.video.cli import add_animate_parser, animate_command

__all__ = ["main"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")


def _parser() -> argparse.ArgumentParser:
    from dynast.tasks import task_names

    parser = OneLineErrorParser(
        prog="python -m dynast", description="DynaST from the command line."
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineErrorParser)
    gen = sub.add_parser("generate", help="generate images from a reference and targets")
    gen.add_argument("--task", required=True, choices=task_names())
    gen.add_argument("--reference", required=True, type=Path, help="reference (style) image")
    tgt = gen.add_mutually_exclusive_group(required=True)
    tgt.add_argument("--target", nargs="+", type=Path, metavar="TARGET",
                     help="target image(s) or folder(s) of images")
    tgt.add_argument("--target-keypoints", nargs="+", type=Path, metavar="FILE",
                     help="pose: an OpenPose .json, or NAME_candidate.txt NAME_subset.txt")
    gen.add_argument("--target-kind", default=None,
                     help="what the target is, e.g. face: photo or sketch (default: photo)")
    gen.add_argument("--checkpoint", default=None, metavar="SOURCE",
                     help="directory, name, Hub id[@rev], https URL, gdrive:ID or alias")
    gen.add_argument("--size", default=None, metavar="N|HxW",
                     help="canvas long side (multiple of 64) or HxW (multiples of 8)")
    gen.add_argument("--precision", choices=PRECISIONS, default=None)
    gen.add_argument("--top-k", type=int, default=None, metavar="K")
    gen.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: auto)")
    gen.add_argument("--no-fit", action="store_true",
                     help="do not fit photos to the frame the model was trained on")
    gen.add_argument("--warps-dir", type=Path, default=None,
                     help="write every block's warp and confidence map here")
    out = gen.add_mutually_exclusive_group(required=True)
    out.add_argument("--out", type=Path, help="output PNG (one target)")
    out.add_argument("--out-dir", type=Path, help="output folder (several targets)")
    gen.add_argument("--json", action="store_true", help="print timings and warnings as JSON")
    gen.add_argument("--verbose", action="store_true", help="keep MediaPipe's native logs")
    add_animate_parser(sub)
    fetch = sub.add_parser("fetch", help="download (and convert) a checkpoint into the cache")
    fetch.add_argument("source", help="Hub id[@rev], https URL, gdrive:ID or alias")
    fetch.add_argument("--task", choices=task_names(), default=None)
    return parser


@contextlib.contextmanager
def _native_stderr_silenced(enabled: bool) -> Iterator[None]:
    """Send native libraries' log lines (MediaPipe, TFLite) to /dev/null while Python's own
    ``sys.stderr`` keeps writing to the terminal."""
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    old_stderr = sys.stderr
    sys.stderr = os.fdopen(os.dup(saved), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        sys.stderr.close()
        sys.stderr = old_stderr


def _targets(paths: Sequence[Path]) -> list[Path]:
    found: list[Path] = []
    for p in paths:
        if p.is_dir():
            found.extend(sorted(q for q in p.iterdir()
                                if q.is_file() and q.suffix.lower() in IMAGE_SUFFIXES))
        elif p.is_file():
            found.append(p)
        else:
            raise PipelineError(f"target {p} does not exist")
    if not found:
        raise PipelineError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in "
                            f"{', '.join(map(str, paths))}")
    return found


def _save_warps(result: Any, folder: Path) -> None:
    writable_dir(folder, "--warps-dir", PipelineError)
    for i, ((warp, _), (conf, _), b) in enumerate(zip(result.warps, result.confidences,
                                                      result.blocks)):
        stem = f"block{i + 1:02d}_level{b.level}_{b.kind}"
        warp.save(folder / f"{stem}_warp.png")
        conf.save(folder / f"{stem}_confidence.png")
    if result.model_input is not None:
        result.model_input.save(folder / "model_input.png")
    result.image.save(folder / "model_output.png")
    result.semantics.save(folder / "semantics.png")


def _generate(args: argparse.Namespace) -> int:
    from dynast.errors import PipelineError
    from dynast.inference.pipeline import DynaSTPipeline
    from dynast.tasks import get_task, pose_target_from_file, task_names

    spec = get_task(args.task)
    kind = args.target_kind or ("keypoints" if args.target_keypoints else "photo")
    if args.target_keypoints:
        if "keypoints" not in spec.target_kinds:
            takes = [get_task(n).name for n in task_names() if "keypoints" in
                     get_task(n).target_kinds]
            raise PipelineError(f"--target-keypoints is for --task {' or '.join(takes)}; "
                                f"the {spec.title} task takes --target images")
        targets: list[Any] = [pose_target_from_file(args.target_keypoints)[0]]
        names = [args.target_keypoints[0].name.removesuffix("_candidate.txt")]
    else:
        targets = _targets(args.target)
        names = [p.name for p in targets]
    if args.out is not None and len(targets) > 1:
        raise PipelineError(f"{len(targets)} targets: use --out-dir instead of --out")
    if args.out is not None:
        if args.out.suffix.lower() not in (".png", ".jpg", ".jpeg", ".webp"):
            raise PipelineError(f"--out must end in .png, .jpg or .webp, got {args.out}")
        writable_dir(args.out.parent, "the folder of --out", PipelineError)
    else:
        writable_dir(args.out_dir, "--out-dir", PipelineError)
    pipe = DynaSTPipeline(spec.name, args.checkpoint, device=args.device,
                          precision=args.precision, resolution=parse_size(args.size, PipelineError),
                          top_k=args.top_k)
    reports, failures = [], 0
    bar = None
    if len(targets) > 1:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(targets), desc=f"{spec.title}", unit="image", file=sys.stderr)
    for target, name in zip(targets, names):
        try:
            result = pipe(args.reference, target, target_kind=kind, fit=not args.no_fit)
        except ValueError as exc:
            if len(targets) == 1:
                raise
            failures += 1
            print(f"error: {name}: {exc}", file=sys.stderr)
            reports.append({"target": str(name), "error": str(exc)})
            continue
        finally:
            if bar is not None:
                bar.update(1)
        out = args.out or args.out_dir / f"{Path(name).stem}.png"
        (result.pasted or result.image).save(out)
        if args.warps_dir is not None:
            _save_warps(result, args.warps_dir if len(targets) == 1
                        else args.warps_dir / Path(name).stem)
        report = {"target": str(name), "out": str(out), "pasted": result.pasted is not None,
                  **result.summary()}
        reports.append(report)
        if not args.json:
            for w in result.warnings:
                print(f"warning: {name}: {w}", file=sys.stderr)
    if bar is not None:
        bar.close()
    if args.json:
        print(json.dumps(reports[0] if args.out is not None else reports, indent=2))
    else:
        written = [r["out"] for r in reports if "out" in r]
        if written:
            print(f"wrote {len(written)} image(s): {written[0]}"
                  + (" ..." if len(written) > 1 else ""), file=sys.stderr)
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "fetch":
            from dynast.inference.checkpoints import resolve_checkpoint

            print(resolve_checkpoint(args.source, args.task))
            return 0
        with _native_stderr_silenced(not args.verbose):
            return animate_command(args) if args.command == "animate" else _generate(args)
    except (ValueError, OSError) as exc:
        print(f"error: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
              file=sys.stderr)
        return 2
