"""docs/framing.png: original / what the model saw / result, for one person and one face.

    python scripts/make_framing_figure.py [--data ../shared/data] [--out docs/framing.png]

Person: the target photo (a web photo of a man against a wall, ``people/internet_ins8.jpg``)
is fitted with ``fit_person`` (cut out, framed as DeepFashion does); the reference
(``examples/pose/reference/1_fashion_woman_blouse.jpg``) likewise; the shipped pose
checkpoint runs at its training size (64 x 64) and the output is mapped back into the target
photo's frame with ``paste_back``. Face: a portrait with the head turned and tilted
(``style/content/adain_blonde_girl.jpg``, from the AdaIN repository) is aligned with
``fit_face``; the shipped face checkpoint draws it with the appearance of the reference
(``examples/face/reference/2_stargan_005735.jpg``), and the output is blended back into the
photo. The shipped checkpoints are small and weak (see their model cards): the figure shows
the framing, not the quality of the authors' model.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image, ImageDraw

from dynast import DynaST
from dynast.semantics import face_semantics_from_photo, load_image, pose_semantics_from_photo
from dynast.semantics.framing import Framed, fit_face, fit_person

ROOT = Path(__file__).resolve().parents[1]
MODEL_SIDE = 64  # the shipped checkpoints' training size
TILE = 256


def _run(model: DynaST, ref: np.ndarray, ref_sem: np.ndarray, tgt_sem: np.ndarray) -> np.ndarray:
    """uint8 (64, 64, 3) output from uint8 reference and float32 (C, 64, 64) semantics."""
    small = cv2.resize(ref, (MODEL_SIDE, MODEL_SIDE), interpolation=cv2.INTER_AREA)
    image = torch.from_numpy(small).permute(2, 0, 1)[None].float() / 127.5 - 1
    with torch.no_grad():
        out = model(image, torch.from_numpy(ref_sem)[None], torch.from_numpy(tgt_sem)[None])
    arr = (out.image[0].permute(1, 2, 0).clamp(-1, 1) + 1) * 127.5
    return arr.round().byte().numpy()


def _result(framed: Framed, output: np.ndarray, original: np.ndarray) -> np.ndarray:
    h, w = framed.transform.model_size
    return framed.paste_back(cv2.resize(output, (w, h), interpolation=cv2.INTER_CUBIC), original)


def _pose_row(data: Path) -> list[np.ndarray]:
    model = DynaST.from_pretrained(ROOT / "checkpoints" / "pose")
    size = (TILE, TILE)
    target = load_image(data / "people" / "internet_ins8.jpg")
    ref = fit_person(load_image(ROOT / "examples/pose/reference/1_fashion_woman_blouse.jpg"), size)
    tgt = fit_person(target, size)
    ref_sem = pose_semantics_from_photo(ref.image, (MODEL_SIDE, MODEL_SIDE))[0]
    tgt_sem = pose_semantics_from_photo(tgt.image, (MODEL_SIDE, MODEL_SIDE))[0]
    out = _run(model, ref.image, ref_sem, tgt_sem)
    return [target, tgt.image, _result(tgt, out, target), ref.image]


def _face_row(data: Path) -> list[np.ndarray]:
    model = DynaST.from_pretrained(ROOT / "checkpoints" / "face")
    photo = load_image(data / "style" / "content" / "adain_blonde_girl.jpg")
    size = (TILE, TILE)
    ref = fit_face(load_image(ROOT / "examples/face/reference/2_stargan_005735.jpg"), size)
    tgt = fit_face(photo, size)
    ref_sem = face_semantics_from_photo(ref.image, (MODEL_SIDE, MODEL_SIDE))[0]
    tgt_sem = face_semantics_from_photo(tgt.image, (MODEL_SIDE, MODEL_SIDE))[0]
    out = _run(model, ref.image, ref_sem, tgt_sem)
    return [photo, tgt.image, _result(tgt, out, photo), ref.image]


def _sheet(rows: list[list[np.ndarray]]) -> Image.Image:
    titles = ["original (target photo)", "what the model saw", "result, in the photo",
              "reference"]
    tiles = [[Image.fromarray(t) for t in row] for row in rows]
    widths = [max(round(r[i].width * TILE / r[i].height) for r in tiles) for i in range(4)]
    sheet = Image.new("RGB", (sum(widths) + 50, len(rows) * (TILE + 10) + 24), "white")
    draw = ImageDraw.Draw(sheet)
    x = 10
    for i, width in enumerate(widths):
        draw.text((x, 6), titles[i], fill="black")
        for j, row in enumerate(tiles):
            im = row[i].resize((round(row[i].width * TILE / row[i].height), TILE), Image.LANCZOS)
            sheet.paste(im, (x, 24 + j * (TILE + 10)))
        x += width + 10
    return sheet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "framing.png")
    args = parser.parse_args()
    sheet = _sheet([_pose_row(args.data), _face_row(args.data)])
    sheet = sheet.quantize(colors=256, method=Image.Quantize.MEDIANCUT)  # dithered: < 400 KB
    sheet.save(args.out, optimize=True)
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
