"""docs/framing.png: original / what the model saw / result, for three people and one face.

    python scripts/make_framing_figure.py [--data ../shared/data] [--out docs/framing.png]

Runs the pipeline (``DynaSTPipeline(task, "checkpoints/<task>")(reference, target, fit=True)``)
with the shipped checkpoints at their training size, 64 x 64. People: a web photo of a man
against a wall (``people/internet_ins8.jpg``; reference a DeepFashion photo,
``examples/pose/reference/1_fashion_woman_blouse.jpg``), then two held-out DeepFashion
pictures pasted on clutter, each with its own original picture as the reference, so that the
last column shows DeepFashion's framing of the same person: one cut at mid-thigh on a
painting (``style/style/adain_scene_de_rue.jpg``; framed at the full-body scale, the legs
out of the frame), one whole on a photo of a room (``style/content/coco_01.jpg``). Face: the
target is a portrait with the head turned and tilted (``style/content/adain_blonde_girl.jpg``,
from the AdaIN repository), the reference a CelebA-HQ face
(``examples/face/reference/2_stargan_005735.jpg``).
Columns: the target photo, ``result.model_input`` (what the model saw, 64 px shown larger),
``result.pasted`` (the output mapped back into the photo), the reference. The shipped
checkpoints are small and weak (see their model cards): the figure shows the framing, not the
quality of the authors' model.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

from dynast.inference.pipeline import DynaSTPipeline
from dynast.semantics import load_image
from dynast.semantics.framing_person import detect_person

ROOT = Path(__file__).resolve().parents[1]
MODEL_SIDE = 64  # the shipped checkpoints' training size
TILE = 256
TITLES = ("original (target photo)", "what the model saw (64 px)", "result, in the photo",
          "reference")


def _collage(person: Path, canvas: Path, thighs: bool) -> np.ndarray:
    """(512, W, 3) uint8: ``canvas`` 512 px tall with the DeepFashion picture of ``person``
    (256 x 256, its middle 176 columns the photo) pasted on it at 60 % of the height, cut
    halfway from the hips to the knees when ``thighs``."""
    picture = load_image(person)[:, 40:216]
    rows = 256
    if thighs:
        lm = detect_person(picture).landmarks
        rows = round((lm[[23, 24], 1].mean() + lm[[25, 26], 1].mean()) / 2)
    photo = load_image(canvas)
    width = round(photo.shape[1] * 512 / photo.shape[0])
    photo = cv2.resize(photo, (width, 512), interpolation=cv2.INTER_AREA)
    scale = 0.6 * 512 / 256
    part = cv2.resize(picture[:rows], (round(176 * scale), round(rows * scale)),
                      interpolation=cv2.INTER_CUBIC)
    y0, x0 = 80, round(0.35 * width - part.shape[1] / 2)
    photo[y0:y0 + part.shape[0], x0:x0 + part.shape[1]] = part
    return photo


def _row(task: str, reference: Path, target: Path | np.ndarray) -> list[Image.Image]:
    pipe = DynaSTPipeline(task, ROOT / "checkpoints" / task, device="cpu")
    result = pipe(reference, target, resolution=MODEL_SIDE, fit=True)
    assert result.model_input is not None and result.pasted is not None
    return [Image.fromarray(load_image(target)), result.model_input, result.pasted,
            Image.fromarray(load_image(reference))]


def _sheet(rows: list[list[Image.Image]]) -> Image.Image:
    def fit(im: Image.Image) -> Image.Image:
        return im.resize((round(im.width * TILE / im.height), TILE), Image.LANCZOS)

    rows = [[fit(im) for im in row] for row in rows]
    widths = [max(row[i].width for row in rows) for i in range(len(TITLES))]
    sheet = Image.new("RGB", (sum(widths) + 10 * (len(widths) + 1), len(rows) * (TILE + 10) + 24),
                      "white")
    draw = ImageDraw.Draw(sheet)
    x = 10
    for i, width in enumerate(widths):
        draw.text((x, 6), TITLES[i], fill="black")
        for j, row in enumerate(rows):
            sheet.paste(row[i], (x, 24 + j * (TILE + 10)))
        x += width + 10
    return sheet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "framing.png")
    args = parser.parse_args()
    people = args.data / "people"
    thighs = people / "fashion_man_Sweatshirts_Hoodies-id_0000183103_4_full.jpg"
    whole = people / "fashion_woman_fashionWOMENBlouses_Shirtsid0000730502_4full.jpg"
    rows = [
        _row("pose", ROOT / "examples/pose/reference/1_fashion_woman_blouse.jpg",
             people / "internet_ins8.jpg"),
        _row("pose", thighs,
             _collage(thighs, args.data / "style/style/adain_scene_de_rue.jpg", thighs=True)),
        _row("pose", whole,
             _collage(whole, args.data / "style/content/coco_01.jpg", thighs=False)),
        _row("face", ROOT / "examples/face/reference/2_stargan_005735.jpg",
             args.data / "style" / "content" / "adain_blonde_girl.jpg"),
    ]
    sheet = _sheet(rows).quantize(colors=256, method=Image.Quantize.MEDIANCUT)  # < 400 KB
    sheet.save(args.out, optimize=True)
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
