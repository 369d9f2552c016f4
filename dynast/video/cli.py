"""``python -m dynast animate``: a reference photo and a driving clip -> an H.264 MP4.

    python -m dynast animate --reference PERSON.jpg --driving CLIP.mp4 --out OUT.mp4
    python -m dynast animate --reference PERSON.jpg --driving poses/ --out OUT.mp4 --json
    python -m dynast animate --reference PERSON.jpg --driving poses.zip --out OUT.mp4 \\
        --side-by-side --gif

``--driving``: a video (MP4, MOV, WebM, MKV, AVI, GIF) or a folder or .zip of OpenPose
JSON files, one per frame. ``--side-by-side`` also writes ``OUT_side_by_side.mp4``
(driving | pose | result), ``--gif`` also ``OUT.gif``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from dynast.precision import PRECISIONS

__all__ = ["add_animate_parser", "animate_command"]


def add_animate_parser(sub: Any) -> None:
    """Add the ``animate`` sub-command to the CLI's sub-parsers."""
    p = sub.add_parser("animate", help="animate a reference person along a driving clip")
    p.add_argument("--reference", required=True, type=Path, help="photo of the person")
    p.add_argument("--driving", required=True, type=Path, metavar="CLIP",
                   help="video, or a folder or .zip of OpenPose JSON files (one per frame)")
    p.add_argument("--out", required=True, type=Path, help="output video (.mp4)")
    p.add_argument("--fps", type=float, default=None, help="output rate (default: the clip's)")
    p.add_argument("--max-frames", type=int, default=300, metavar="N",
                   help="use at most N frames (default 300)")
    p.add_argument("--size", default="256x176", metavar="N|HxW",
                   help="model canvas: HxW (multiples of 8) or a long side (default 256x176)")
    p.add_argument("--checkpoint", default=None, metavar="SOURCE",
                   help="pose checkpoint: directory, name, Hub id[@rev], URL, alias")
    p.add_argument("--batch", type=int, default=4, metavar="B", help="frames per model call")
    p.add_argument("--precision", choices=PRECISIONS, default=None)
    p.add_argument("--top-k", type=int, default=None, metavar="K")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: auto)")
    p.add_argument("--no-fit", action="store_true",
                   help="do not fit the reference photo to the frame the model was trained on")
    p.add_argument("--no-smoothing", action="store_true",
                   help="use the keypoints as detected (no One-Euro filter)")
    p.add_argument("--side-by-side", action="store_true",
                   help="also write OUT_side_by_side.mp4: driving | pose | result")
    p.add_argument("--gif", action="store_true", help="also write OUT.gif")
    p.add_argument("--json", action="store_true",
                   help="print timings, frames and warnings as JSON on stdout")
    p.add_argument("--verbose", action="store_true", help="keep MediaPipe's native logs")


def animate_command(args: argparse.Namespace) -> int:
    """Run ``animate``; input problems raise ``ValueError`` (the CLI prints one line, exit 2)."""
    from dynast.cli_args import parse_size, writable_dir
    from dynast.errors import PipelineError
    from dynast.video.animate import AnimateOptions, PoseAnimator
    from dynast.video.smoothing import OneEuro

    if args.out.suffix.lower() != ".mp4":
        raise PipelineError(f"--out must end in .mp4 (H.264), got {args.out}")
    if not args.reference.is_file():
        raise PipelineError(f"--reference {args.reference} does not exist or is not a file")
    if not args.driving.exists():
        raise PipelineError(f"--driving {args.driving} does not exist")
    writable_dir(args.out.parent, "the folder of --out", PipelineError)
    options = AnimateOptions(
        size=parse_size(args.size, PipelineError), max_frames=args.max_frames, fps=args.fps,
        batch=args.batch, top_k=args.top_k,
        smoothing=None if args.no_smoothing else OneEuro(),
        fit_reference=not args.no_fit).checked()
    animator = PoseAnimator(args.checkpoint, device=args.device, precision=args.precision)
    bar = None
    if not args.json:
        from tqdm.auto import tqdm

        bar = tqdm(total=0, unit="frame", file=sys.stderr)

    def progress(done: int, total: int, stage: str) -> None:
        if bar is not None:
            if bar.desc != stage:
                bar.reset(total)
                bar.set_description(stage)
            bar.total = total
            bar.update(done - bar.n)

    stem = args.out.with_suffix("")
    try:
        report = animator(args.reference, args.driving, args.out, options,
                          side_by_side_out=(Path(f"{stem}_side_by_side.mp4")
                                            if args.side_by_side else None),
                          gif_out=args.out.with_suffix(".gif") if args.gif else None,
                          progress=progress)
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        print(json.dumps(report.summary(), indent=2))
    else:
        for w in report.warnings:
            print(f"warning: {w}", file=sys.stderr)
        print(f"wrote {report.out}: {report.frames} frames at {report.fps:g} fps, "
              f"{report.timings['total']:.1f} s", file=sys.stderr)
    return 0
