"""Re-measure the framing constants of dynast/semantics/framing_person.py and framing_face.py,
and how well fit_person brings DeepFashion people pasted on clutter back to their frame.

    python scripts/measure_framing.py [DATA_DIR]              # constants; default ../shared/data
    python scripts/measure_framing.py [DATA_DIR] --recovery   # people on cluttered canvases

People: the DeepFashion photos of the shared sample set: ``fashion_*`` (256 x 256 In-shop
pictures whose middle 176 columns are the photo, the sides edge padding), ``pidm_edit_*``
(256 x 256, DeepFashion's 176-wide pictures stretched: resized back) and ``deepfashion_*``
(high-resolution, 176:256 aspect), each brought to 256 x 176 and given to
:func:`dynast.semantics.framing_person.detect_person`. The full-body ones (feet seen) give,
as fractions of the frame (pixel edges), the mean and sd of the head top, the feet (the
mask's bottom), the body's horizontal centre (shoulders and hips), the torso (shoulders'
midpoint to hips') and the head (head top to the shoulders' midpoint), and the background's
median colour; the others are DeepFashion's close-ups, whose zoom over the full-body scale
(torso + head against the mean) is printed for information.

``--recovery``: each DeepFashion photo is pasted on a painting or photo of
``style/style`` / ``style/content`` (resized to 480-640 px tall, 0.6-1.5 x as wide), the
256 x 176 picture scaled to 45-75 % of the canvas height and shifted at random (seeded);
full-body photos also cut at the thighs (between 30 and 70 % of the way from the hips to the
knees) before pasting, with the same scale and place. :func:`fit_person` fits the canvas at
256 x 176 and the box of its keypoints is compared (IoU) with the box of the same keypoints
detected in the original picture; for a photo cut at the thighs, only the keypoints above
the cut count: DeepFashion would show that person at the same scale and place, the legs out
of the picture. Prints every case and the medians, also with the fitted box moved sideways
so that the bodies' centres coincide (``same centre``: fitting puts every body's centre at
DeepFashion's mean, around which the photos scatter with an sd of 4 % of the width, which
nothing in a photo tells).

Faces: every CelebA-HQ photo in ``faces/`` (already aligned, 512 x 512) is aligned again by
:func:`dynast.semantics.framing_face.find_face_anchors` and ``face_transform``
at its own size; an ideal alignment
gives the identity. Prints the mean and sd of the scale, rotation and shift of the photo's
centre (fraction of the side), the eye centres, how far the re-alignment moves them (fraction
of the side), and the CELEBAHQ_ZOOM / CELEBAHQ_SHIFT that make the mean the identity.
"""
from __future__ import annotations

import argparse
import json
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
from dynast.semantics.framing_person import (
    HEAD,
    HIPS,
    SHOULDERS,
    TORSO,
    detect_person,
    feet_seen,
    fit_person,
    torso_and_head,
)
from dynast.semantics.keypoints import Keypoints
from dynast.semantics.pose_extract import landmarks_to_keypoints

HEIGHT, WIDTH = 256, 176
KNEES = (25, 26)  # MediaPipe landmark ids


def deepfashion_photos(people: Path) -> list[Path]:
    """The DeepFashion photos of the shared sample set's ``people`` folder."""
    return [p for pattern in ("fashion_*", "pidm_edit_*", "deepfashion_*")
            for p in sorted(people.glob(pattern))]


def deepfashion_frame(path: Path) -> np.ndarray:
    """(256, 176, 3) uint8: the DeepFashion picture of ``path`` in its own frame."""
    rgb = load_image(path)
    if path.name.startswith("fashion_"):
        rgb = rgb[:, 40:216]
    return np.ascontiguousarray(cv2.resize(rgb, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA))


def _stats(v: list[float]) -> dict[str, float]:
    return {"mean": float(np.mean(v)), "sd": float(np.std(v)), "n": len(v),
            "min": float(np.min(v)), "max": float(np.max(v))}


def measure(folder: Path) -> dict[str, dict[str, float] | list[float]]:
    """Framing statistics of the DeepFashion photos in ``folder``: name -> {mean, sd, n, ...}."""
    values: dict[str, list[float]] = {}
    background = []

    def add(name: str, v: float) -> None:
        values.setdefault(name, []).append(float(v))

    close_ups = []
    for path in deepfashion_photos(folder):
        rgb = deepfashion_frame(path)
        det = detect_person(rgb)
        if not feet_seen(det):
            close_ups.append(torso_and_head(det) / HEIGHT)
            continue
        add("full_head_top", (det.head_top + 0.5) / HEIGHT)
        add("full_feet", (det.box[3] + 0.5) / HEIGHT)
        add("centre_x", (det.centre_x + 0.5) / WIDTH)
        shoulders = det.landmarks[list(SHOULDERS), :2].mean(axis=0)
        hips = det.landmarks[list(HIPS), :2].mean(axis=0)
        add("torso", np.linalg.norm(shoulders - hips) / HEIGHT)
        add("head", (shoulders[1] - det.head_top) / HEIGHT)
        add("feet_over_torso_and_head",
            (det.box[3] - det.head_top) / torso_and_head(det) * (TORSO + HEAD))
        ring = cv2.dilate((det.mask > 0.5).astype(np.uint8), np.ones((9, 9), np.uint8))
        background.append(np.median(rgb[ring == 0], axis=0))
    stats: dict[str, dict[str, float] | list[float]] = {
        k: _stats(v) for k, v in values.items()
    }
    stats["close_up_zoom"] = _stats([v / (TORSO + HEAD) for v in close_ups])
    stats["background"] = np.median(np.array(background), axis=0).tolist()
    return stats


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two (x0, y0, x1, y1) boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def keypoint_box_iou(
    reference: Keypoints, fitted: Keypoints, above: float = np.inf, same_centre: bool = False
) -> float:
    """IoU of the boxes of the keypoints found in both (and above the row ``above`` in
    ``reference``); 0 when fewer than 2 are. ``same_centre``: the fitted box moved sideways
    first so that the bodies' centres (the neck and hips found in both) coincide."""
    both = reference.present & fitted.present & (reference.array[:, 1] < above)
    if both.sum() < 2:
        return 0.0
    ref, fit = reference.array[both, :2], fitted.array[both, :2].copy()
    body = [j for j in (1, 8, 11) if both[j]]  # neck, right and left hip (COCO-18)
    if same_centre and body:
        fit[:, 0] += np.mean(reference.array[body, 0] - fitted.array[body, 0])
    boxes = [np.concatenate([k.min(axis=0), k.max(axis=0)]) for k in (ref, fit)]
    return _iou(*boxes)


def paste_on_canvas(
    picture: np.ndarray, rows: int, canvases: list[Path], rng: np.random.Generator
) -> np.ndarray:
    """A canvas (H, W, 3) uint8 from ``canvases`` with the first ``rows`` rows of ``picture``
    (256, 176, 3) pasted on it, the whole picture scaled to 45-75 % of its height."""
    photo = load_image(canvases[rng.integers(len(canvases))])
    h = int(rng.integers(480, 641))
    canvas = cv2.resize(photo, (int(rng.uniform(0.6, 1.5) * h), h), interpolation=cv2.INTER_AREA)
    scale = rng.uniform(0.45, 0.75) * h / HEIGHT
    pw = round(WIDTH * scale)
    part = cv2.resize(picture[:rows], (pw, round(rows * scale)), interpolation=cv2.INTER_CUBIC)
    y0 = int(rng.integers(0, h - round(HEIGHT * scale) + 1))
    x0 = int(rng.integers(0, canvas.shape[1] - pw + 1))
    canvas[y0:y0 + part.shape[0], x0:x0 + pw] = part
    return canvas


def thigh_row(landmarks: np.ndarray, rng: np.random.Generator) -> int:
    """A row between 30 and 70 % of the way from the hips to the knees (MediaPipe landmarks)."""
    hips, knees = landmarks[list(HIPS), 1].mean(), landmarks[list(KNEES), 1].mean()
    return int(round(hips + rng.uniform(0.3, 0.7) * (knees - hips)))


def recovery(folder: Path, seeds: int = 2) -> dict[str, dict[str, float]]:
    """Fit DeepFashion people pasted on clutter (``seeds`` placements each, whole and cut at
    the thighs) and compare keypoint boxes with their original frame; prints every case."""
    canvases = sorted((folder / "style/style").glob("*.jpg")) + sorted(
        (folder / "style/content").glob("*.jpg"))
    ious: dict[str, list[float]] = {"whole": [], "thighs": [], "close-up": []}
    centred: dict[str, list[float]] = {k: [] for k in ious}
    for i, path in enumerate(deepfashion_photos(folder / "people")):
        picture = deepfashion_frame(path)
        det = detect_person(picture)
        reference = landmarks_to_keypoints(det.landmarks, HEIGHT, WIDTH)
        full = feet_seen(det)
        for seed in range(1000 * i, 1000 * i + seeds):
            cuts = {"whole": HEIGHT, "thighs": thigh_row(det.landmarks, np.random.default_rng(
                seed + 500))} if full else {"close-up": HEIGHT}
            for name, rows in cuts.items():
                canvas = paste_on_canvas(picture, rows, canvases, np.random.default_rng(seed))
                framed = fit_person(canvas, (HEIGHT, WIDTH))
                assert framed.keypoints is not None
                ious[name].append(keypoint_box_iou(reference, framed.keypoints, rows - 0.5))
                centred[name].append(
                    keypoint_box_iou(reference, framed.keypoints, rows - 0.5, same_centre=True))
                print(f"{path.stem[:44]:44s} {name:8s} seed {seed:5d} IoU {ious[name][-1]:.3f} "
                      f"(same centre {centred[name][-1]:.3f}) {'; '.join(framed.warnings)}",
                      flush=True)
    for d in (ious, centred):
        d["whole + thighs"] = d["whole"] + d["thighs"]
    return {k: {"median": float(np.median(v)), "median_same_centre": float(np.median(centred[k])),
                "min": float(np.min(v)), "n": len(v),
                "at_least_0.8": float(np.mean(np.array(v) >= 0.8))} for k, v in ious.items()}


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


def main() -> None:
    here = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path, default=here.parent / "shared/data")
    parser.add_argument("--recovery", action="store_true",
                        help="fit DeepFashion people pasted on cluttered canvases instead")
    parser.add_argument("--seeds", type=int, default=2, help="placements per photo (--recovery)")
    args = parser.parse_args()
    if args.recovery:
        result: dict[str, object] = recovery(args.data, args.seeds)
    else:
        result = {"people": measure(args.data / "people"),
                  "faces": measure_faces(args.data / "faces")}
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
