"""Command line: ``python -m train fit ...``, ``... evaluate ...``, ``... export ...``."""

from __future__ import annotations

import argparse
import json
import sys


def _fit_overrides(args: argparse.Namespace) -> list[str]:
    extra = list(args.overrides)
    for flag, key in (
        ("data", "data.path"),
        ("content", "data.content"),
        ("style", "data.style"),
        ("out", "run.out"),
    ):
        value = getattr(args, flag)
        if value is not None:
            extra.append(f"{key}={value}")
    return extra


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m train", description="Train and evaluate DynaST."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    fit = sub.add_parser(
        "fit", help="train a model", description="Overrides: section.key=value, e.g. optim.lr=2e-4"
    )
    fit.add_argument("--config", required=True, help="YAML file, e.g. train/configs/pose.yaml")
    fit.add_argument("--data", help="data root or photo folder (data.path)")
    fit.add_argument("--content", help="style task: content image folder")
    fit.add_argument("--style", help="style task: style image folder")
    fit.add_argument("--out", help="run directory (run.out)")
    fit.add_argument(
        "--resume", action="store_true", help="continue from OUT/checkpoints/latest.pt"
    )
    fit.add_argument("overrides", nargs="*", help="section.key=value")

    ev = sub.add_parser("evaluate", help="score a trained model")
    ev.add_argument(
        "--checkpoint", required=True, help="a save_pretrained directory (e.g. RUN/final)"
    )
    ev.add_argument("--task", required=True)
    ev.add_argument("--data", help="data root or photo folder")
    ev.add_argument("--content")
    ev.add_argument("--style")
    ev.add_argument("--kind", default="", help="data layout (task default if empty)")
    ev.add_argument("--split", default="val")
    ev.add_argument("--size", type=int, default=256)
    ev.add_argument("--max-images", type=int, default=0)
    ev.add_argument("--batch-size", type=int, default=4)
    ev.add_argument(
        "--inception", help="pytorch-fid Inception weights (pt_inception-2015-12-05-*.pth) for FID"
    )
    ev.add_argument(
        "--save-images", default="", help="write generated/ and real/ PNGs here (for pytorch-fid)"
    )
    ev.add_argument(
        "--cache-dir", default="", help="semantics cache (default ~/.cache/dynast/semantics)"
    )
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument(
        "--device", default="auto", help="auto (CUDA when available), cpu, cuda or cuda:N"
    )
    ev.add_argument(
        "--out", default="results.json", help="JSON results; a Markdown table is written beside it"
    )
    ex = sub.add_parser(
        "export", help="write a training checkpoint's generator as a save_pretrained directory"
    )
    ex.add_argument("--checkpoint", required=True, help="RUN/checkpoints/latest.pt")
    ex.add_argument("--out", required=True, help="directory for config.json + model.safetensors")
    ex.add_argument(
        "--dtype",
        choices=["fp32", "fp16"],
        default="fp32",
        help="storage precision (fp16 halves the file)",
    )
    tg = sub.add_parser(
        "targets",
        help="the issue's held-out targets of a face or style checkpoint (train/targets.py)",
    )
    tg.add_argument("--task", required=True, choices=["face", "style"])
    tg.add_argument("--checkpoint", required=True, help="a save_pretrained directory")
    tg.add_argument("--heldout", nargs="*", default=[], help="face: held-out photo folders")
    tg.add_argument("--content", default="", help="style: held-out content folder")
    tg.add_argument("--style", default="", help="style: held-out style folder")
    tg.add_argument("--size", type=int, default=256)
    tg.add_argument("--max-images", type=int, default=0)
    tg.add_argument("--out", default="targets.json", help="JSON; a .md table is written beside")
    tg.add_argument("--samples", default="", help="write a JPEG of held-out examples here")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run a sub-command; a wrong data layout, config, task, device or checkpoint, or too
    little data (all ValueErrors, or DataLayoutError) prints one line and returns 2."""
    from train.data.files import DataLayoutError

    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except (DataLayoutError, ValueError) as err:
        print(f"error: {str(err).splitlines()[0] if str(err) else type(err).__name__}",
              file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    if args.command == "fit":
        from train.config import load_config
        from train.trainer import fit

        summary = fit(load_config(args.config, _fit_overrides(args)), resume=args.resume)
        print(json.dumps(summary))
        return 0
    if args.command == "export":
        from train.export import export

        export(args.checkpoint, args.out, args.dtype)
        print(f"wrote {args.out}")
        return 0
    if args.command == "targets":
        from train.targets import TargetsRequest, run_targets

        fields = ("task", "checkpoint", "heldout", "content", "style", "size", "out", "samples")
        values = {k: getattr(args, k) for k in fields}
        request = TargetsRequest(max_images=args.max_images, **values)
        print(json.dumps(run_targets(request)["summary"], indent=2))
        return 0
    from train.evaluation.run import EvalRequest, evaluate

    request = EvalRequest(
        checkpoint=args.checkpoint,
        task=args.task,
        data=args.data or "",
        content=args.content or "",
        style=args.style or "",
        kind=args.kind,
        split=args.split,
        size=args.size,
        max_images=args.max_images,
        batch_size=args.batch_size,
        inception=args.inception or "",
        save_images=args.save_images,
        seed=args.seed,
        out=args.out,
        cache_dir=args.cache_dir,
        device=args.device,
    )
    results = evaluate(request)
    print(json.dumps(results["summary"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
