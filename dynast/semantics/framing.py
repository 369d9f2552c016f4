"""Fit any photo to the frame a model was trained on, and map the output back.

* :func:`fit_person`: one person cut out onto DeepFashion's near-white background, scaled and
  centred as DeepFashion frames bodies (:mod:`dynast.semantics.framing_person`);
* :func:`fit_face`: the face aligned as FFHQ / CelebA-HQ faces are
  (:mod:`dynast.semantics.framing_face`).

Both return a :class:`Framed`: ``image`` (what the model sees), ``transform`` (photo -> model
frame, with ``to_model`` / ``to_original`` for points and ``to_json``), ``warnings`` and
``paste_back(output, original)``. Command line:

    python -m dynast.semantics fit person|face --from-image IMG [--size HxW] --out OUT.png \\
        [--transform OUT.json]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from PIL import Image

from dynast.semantics.framing_base import Framed, FramingTransform
from dynast.semantics.framing_face import fit_face
from dynast.semantics.framing_person import fit_person
from dynast.semantics.image_io import load_image, parse_size

__all__ = [
    "DEFAULT_SIZES", "Framed", "FramingTransform", "add_fit_parser", "fit_command", "fit_face",
    "fit_person",
]

DEFAULT_SIZES = {"person": (256, 176), "face": (256, 256)}
OUT_FORMATS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


def add_fit_parser(sub: argparse._SubParsersAction) -> None:
    """The ``fit`` subcommand of ``python -m dynast.semantics``."""
    fit = sub.add_parser(
        "fit", help="fit a photo to the frame a model was trained on (person or face)"
    )
    fit.add_argument(
        "what", choices=("person", "face"),
        help="person: cut out and framed as DeepFashion; face: aligned as FFHQ / CelebA-HQ",
    )
    fit.add_argument("--from-image", required=True, metavar="IMG", type=Path, help="the photo")
    fit.add_argument(
        "--size", metavar="HxW", help="model frame, multiples of 8 (person 256x176, face 256x256)"
    )
    fit.add_argument(
        "--out", required=True, metavar="OUT.png", type=Path, help="the fitted picture"
    )
    fit.add_argument(
        "--transform", metavar="OUT.json", type=Path,
        help="also write the photo -> model transform (2 x 3 matrix, sizes) as JSON",
    )


def fit_command(args: argparse.Namespace) -> int:
    """Run ``fit``: write the fitted picture (and the transform); warnings on stderr."""
    if args.out.suffix.lower() not in OUT_FORMATS:
        print(
            f"error: --out must end in one of {', '.join(OUT_FORMATS)} (got "
            f"{args.out.suffix or 'no extension'}); PNG keeps the picture exact",
            file=sys.stderr,
        )
        return 2
    rgb = load_image(args.from_image)
    fit = fit_person if args.what == "person" else fit_face
    size = parse_size(args.size) if args.size else DEFAULT_SIZES[args.what]
    framed = fit(rgb, size)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(framed.image).save(args.out)
    if args.transform is not None:
        args.transform.parent.mkdir(parents=True, exist_ok=True)
        args.transform.write_text(json.dumps(framed.transform.to_json(), indent=1) + "\n")
    for w in framed.warnings:
        print(f"warning: {args.out.name}: {w}", file=sys.stderr)
    return 0
