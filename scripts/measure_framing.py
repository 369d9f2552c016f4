"""Re-measure the framing constants of dynast/semantics/framing_person.py and framing_face.py.

    python scripts/measure_framing.py [DATA_DIR]   # default ../shared/data

Reads the DeepFashion photos of the shared sample set: ``fashion_*`` (256 x 256 In-shop
full-body pictures whose middle 176 columns are the photo, the sides edge padding) and
``deepfashion_*`` (high-resolution close-ups, 176:256 aspect), brings each to 256 x 176 and
runs :func:`dynast.semantics.framing_person.detect_person` on it. Prints, as fractions of the
frame (pixel edges), the mean and sd of the head top, the feet (the mask's bottom) and the
body's horizontal centre (shoulders and hips) (full body), the close-ups' hip and shoulder
heights, and the background's median colour.

Faces: every CelebA-HQ photo in ``faces/`` (already aligned, 512 x 512) is aligned again by
:func:`dynast.semantics.framing_face.find_face_anchors` and ``face_transform``
at its own size; an ideal alignment
gives the identity. Prints the mean and sd of the scale, rotation and shift of the photo's
centre (fraction of the side), the eye centres, how far the re-alignment moves them (fraction
of the side), and the CELEBAHQ_ZOOM / CELEBAHQ_SHIFT that make the mean the identity.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np

from dynast.semantics import load_image
from dynast.semantics.framing_face import (
    CELEBAHQ_SHIFT,
    CELEBAHQ_ZOOM,
    face_transform,
    find_face_anchors,
)
from dynast.semantics.framing_person import detect_person

HEIGHT, WIDTH = 256, 176


def _frame(path: Path) -> np.ndarray:
    rgb = load_image(path)
    if rgb.shape[:2] == (256, 256):
        rgb = rgb[:, 40:216]
    return cv2.resize(rgb, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)


def measure(folder: Path) -> dict[str, dict[str, float] | list[float]]:
    """Framing statistics of the DeepFashion photos in ``folder``: name -> {mean, sd, n}."""
    values: dict[str, list[float]] = {}
    background = []

    def add(name: str, v: float) -> None:
        values.setdefault(name, []).append(float(v))

    for path in sorted(folder.glob("fashion_*")) + sorted(folder.glob("deepfashion_*")):
        rgb = _frame(path)
        det = detect_person(rgb)
        bottom = det.box[3]
        top = det.head_top
        if path.name.startswith("fashion_"):
            add("full_head_top", (top + 0.5) / HEIGHT)
            add("full_feet", (bottom + 0.5) / HEIGHT)
            add("centre_x", (det.centre_x + 0.5) / WIDTH)
            ring = cv2.dilate((det.mask > 0.5).astype(np.uint8), np.ones((9, 9), np.uint8))
            background.append(np.median(rgb[ring == 0], axis=0))
        else:
            add("close_head_top", (top + 0.5) / HEIGHT)
            add("close_hips", (det.level((23, 24)) + 0.5) / HEIGHT)
            add("close_shoulders", (det.level((11, 12)) + 0.5) / HEIGHT)
    stats: dict[str, dict[str, float] | list[float]] = {
        k: {"mean": float(np.mean(v)), "sd": float(np.std(v)), "n": len(v),
            "min": float(np.min(v)), "max": float(np.max(v))}
        for k, v in values.items()
    }
    stats["background"] = np.median(np.array(background), axis=0).tolist()
    return stats


def _summary(v: np.ndarray) -> dict[str, list[float] | float]:
    return {"mean": np.mean(v, axis=0).tolist(), "sd": np.std(v, axis=0).tolist()}


def measure_faces(folder: Path) -> dict[str, object]:
    """Re-alignment statistics of the CelebA-HQ photos in ``folder``."""
    scales, angles, shifts, eyes, errors = [], [], [], [], []
    for path in sorted(folder.glob("*.jpg")):
        rgb = load_image(path)
        h, w = rgb.shape[:2]
        anchors = find_face_anchors(rgb)[0]
        t = face_transform(anchors, (h, w), (h, w))
        centre = np.array([[w / 2 - 0.5, h / 2 - 0.5]])
        scales.append(t.scale)
        angles.append(t.rotation_degrees)
        shifts.append((t.to_model(centre)[0] - centre[0]) / w)
        eyes.append(((anchors[:2] + 0.5) / w).ravel())
        errors.append(float(np.abs(t.to_model(anchors[:2]) - anchors[:2]).max() / w))
    shift = np.mean(shifts, axis=0)
    return {
        "n": len(scales), "scale": _summary(np.array(scales)),
        "rotation_degrees": _summary(np.array(angles)), "shift": _summary(np.array(shifts)),
        "eyes_xy": _summary(np.array(eyes)),
        "eye_error": {"median": float(np.median(errors)), "max": float(np.max(errors)),
                      "within_2%": float(np.mean(np.array(errors) <= 0.02))},
        "suggested_CELEBAHQ_ZOOM": CELEBAHQ_ZOOM / float(np.mean(scales)),
        "suggested_CELEBAHQ_SHIFT": (np.array(CELEBAHQ_SHIFT) - shift).tolist(),
    }


if __name__ == "__main__":
    here = Path(__file__).resolve().parents[1]
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else here.parent / "shared/data"
    result = {"people": measure(data / "people"), "faces": measure_faces(data / "faces")}
    print(json.dumps(result, indent=1))
