"""The held-out targets of a face or style checkpoint, through ``DynaST.from_pretrained``:

    python -m train targets --task face --checkpoint checkpoints/face \\
        --heldout data/faces/heldout data/faces_extra/heldout --out runs/targets_face.json
    python -m train targets --task style --checkpoint checkpoints/style \\
        --content data/style_content/heldout --style data/style_style/heldout --out ...json

Face, per held-out photo at ``size``: the exemplar is the photo rotated 3-6 degrees, scaled
+-10 %, shifted +-5 % and darkened to 80 % (seeded by the photo's index); the exemplar's
semantics are the photo's warped alike. Scores: the output's PSNR against the photo vs the
exemplar's own PSNR (target: >= 2 dB above), and the white-balance test: a warmer and a cooler
exemplar (red and blue gains 1.12 / 0.88) must move the output's mean colour the same way by at
least half as much (projection ratio >= 0.5 both ways; target: 3 of 4 faces). Across
identities (``cross_identity`` in the results): each held-out photo as the target of the next
one's exemplar, scored against the landmark teacher inside the face oval
(:func:`cross_identity_targets`).

Style, every held-out content x style pair (shorter side resized to ``size``, centre crop):
SWD on RGB pixels (sliced Wasserstein distance between the two pixel sets) of output vs style
against content vs style (target: mean ratio <= 0.6), and the correlation of Sobel edge
magnitudes of output and content (target: >= 0.3).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from train.data.files import list_images, read_rgb, resize, to_tensor

WARM = (1.12, 1.0, 0.88)
COOL = (0.88, 1.0, 1.12)
DARKEN = 0.8


@dataclass
class TargetsRequest:
    """Arguments of ``python -m train targets``."""

    task: str
    checkpoint: str
    heldout: list[str] = field(default_factory=list)  # face photo folders
    content: str = ""
    style: str = ""
    size: int = 256
    max_images: int = 0
    out: str = "targets.json"
    samples: str = ""  # write a JPEG of held-out examples here


def _unit(x: torch.Tensor) -> torch.Tensor:
    return ((x.float() + 1) / 2).clamp(0, 1)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR in dB of (3,H,W) images in [-1,1], compared in [0,1]."""
    mse = float((_unit(a) - _unit(b)).pow(2).mean())
    return 10 * math.log10(1 / max(mse, 1e-12))


def face_exemplar_grid(seed: int, size: int) -> torch.Tensor:
    """(1,size,size,2) sampling grid: rotation 3-6 deg either way, scale 0.9-1.1, shift +-5 %."""
    rng = np.random.default_rng(seed)
    angle = math.radians(rng.uniform(3, 6) * rng.choice([-1, 1]))
    scale = rng.uniform(0.9, 1.1)
    tx, ty = rng.uniform(-0.1, 0.1, size=2)  # +-5 % of the side ([-1,1] spans 2)
    cos, sin = math.cos(angle) / scale, math.sin(angle) / scale
    theta = torch.tensor([[[cos, -sin, tx], [sin, cos, ty]]], dtype=torch.float32)
    return F.affine_grid(theta, [1, 1, size, size], align_corners=False)


def _warp(x: torch.Tensor, grid: torch.Tensor, padding: str) -> torch.Tensor:
    return F.grid_sample(x[None], grid, padding_mode=padding, align_corners=False)[0]


def _gain(image: torch.Tensor, gains: tuple[float, float, float]) -> torch.Tensor:
    """(3,H,W) in [-1,1] with per-channel gains applied in [0,1]."""
    g = torch.tensor(gains).view(3, 1, 1)
    return (_unit(image) * g).clamp(0, 1) * 2 - 1


def colour_ratio(out: torch.Tensor, out_ref: torch.Tensor, ex: torch.Tensor, ex_ref: torch.Tensor):
    """How far the output's mean colour moved along the exemplar's move (1 = as far)."""
    d_in = _unit(ex).mean((1, 2)) - _unit(ex_ref).mean((1, 2))
    d_out = _unit(out).mean((1, 2)) - _unit(out_ref).mean((1, 2))
    return float((d_out * d_in).sum() / (d_in * d_in).sum().clamp_min(1e-12))


@dataclass
class HeldOutFace:
    """A held-out photo as the model sees it at ``size``: ``image`` (S, S, 3) uint8,
    ``landmarks`` (478, 2) in its pixels, ``semantics`` (C, S, S) float32; ``index``: its
    place among the photos given (it seeds the photo's exemplar warp)."""

    index: int
    name: str
    image: np.ndarray
    landmarks: np.ndarray
    semantics: torch.Tensor


def held_out_faces(files: list[Path], size: int) -> tuple[list[HeldOutFace], list[str]]:
    """Each photo fitted to ``size`` with its face mesh and semantics (MediaPipe once per
    photo; the semantics are those of ``face_semantics_from_photo``), and the photos skipped."""
    from dynast.semantics import (
        SemanticsError,
        detect_face_landmarks,
        face_semantics_from_landmarks,
        fit_to_size,
    )
    from dynast.semantics.image_io import check_min_side

    faces, skipped = [], []
    for index, path in enumerate(files):
        photo = read_rgb(path)
        try:
            check_min_side(photo, "the face photo")
            xy, _ = detect_face_landmarks(photo)
        except SemanticsError as err:
            skipped.append(f"{path.name}: {err}")
            continue
        fitted, transform = fit_to_size(photo, size, size)
        xy = transform.to_dst(xy)
        sem = face_semantics_from_landmarks(fitted, xy, transform)
        faces.append(HeldOutFace(index, path.name, fitted, xy,
                                 torch.from_numpy(np.asarray(sem, np.float32))))
    return faces, skipped


def face_targets(
    model, faces: list[HeldOutFace], skipped: list[str]
) -> tuple[dict[str, Any], list]:
    """Per-face scores and the summary; also (exemplar, warm exemplar, outputs, target) rows.
    ``skipped``: the photos :func:`held_out_faces` could not use (reported in the summary)."""
    rows, examples = [], []
    for face in faces:
        size = face.image.shape[0]
        target, sem = to_tensor(face.image), face.semantics
        grid = face_exemplar_grid(face.index, size)
        exemplar = _gain(_warp(target, grid, "border"), (DARKEN,) * 3)
        ref_sem = _warp(sem, grid, "zeros")
        refs = torch.stack([exemplar, _gain(exemplar, WARM), _gain(exemplar, COOL)])
        with torch.no_grad():
            out = model(refs, ref_sem.expand(3, -1, -1, -1), sem.expand(3, -1, -1, -1)).image
        out = out.float()
        warm = colour_ratio(out[1], out[0], refs[1], refs[0])
        cool = colour_ratio(out[2], out[0], refs[2], refs[0])
        rows.append(
            {
                "file": face.name,
                "exemplar_psnr": psnr(exemplar, target),
                "output_psnr": psnr(out[0], target),
                "warm_ratio": warm,
                "cool_ratio": cool,
                "colour_follows": warm >= 0.5 and cool >= 0.5,
            }
        )
        examples.append([refs[0], out[0], refs[1], out[1], target])
    if not rows:
        raise ValueError(f"no face found in any of the {len(faces) + len(skipped)} held-out "
                         f"photos: {skipped}")
    mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0] if k != "file"}
    follows = sum(r["colour_follows"] for r in rows)
    gain = mean["output_psnr"] - mean["exemplar_psnr"]
    summary = {
        "faces": len(rows),
        "exemplar_psnr": mean["exemplar_psnr"],
        "output_psnr": mean["output_psnr"],
        "psnr_gain_db": gain,
        "psnr_target_met": gain >= 2.0,
        "mean_warm_ratio": mean["warm_ratio"],
        "mean_cool_ratio": mean["cool_ratio"],
        "colour_follows": follows,
        "colour_target_met": follows >= 0.75 * len(rows),
        "skipped": skipped,
    }
    return {"summary": summary, "faces": rows}, examples


def _masked_psnr(a: torch.Tensor, b: torch.Tensor, region: torch.Tensor) -> float:
    """PSNR in dB of (3,H,W) images in [-1,1] over the pixels of ``region`` (H,W) bool."""
    mse = float((_unit(a) - _unit(b)).pow(2)[:, region].mean())
    return 10 * math.log10(1 / max(mse, 1e-12))


def _mean_lab(image: torch.Tensor, region: torch.Tensor) -> np.ndarray:
    """Mean CIELAB colour (3,) of a (3,H,W) [-1,1] image over ``region`` (H,W) bool."""
    from skimage.color import rgb2lab

    rgb = _unit(image).permute(1, 2, 0).numpy()
    return rgb2lab(rgb)[region.numpy()].mean(0)


def cross_identity_targets(
    model, faces: list[HeldOutFace], skipped: list[str]
) -> tuple[dict[str, Any], list]:
    """Held-out faces across identities: photo i is the target (its semantics), photo i+1 the
    exemplar; the landmark teacher (the exemplar warped onto the target's mesh) is the reference
    inside the target's face oval, eroded (where the teacher's mask is 1). Scores: PSNR of the
    output minus PSNR of the unwarped exemplar against the teacher there (target >= +3 dB), and
    the CIELAB distance of the output's and the teacher's mean colours there (target: < 10 in
    3 of 4 pairs). Also (exemplar, target photo, teacher, output) rows. ``skipped``: the photos
    :func:`held_out_faces` could not use; pairs without a usable teacher are added to it."""
    from train.data.face_teacher import face_teacher

    skipped = list(skipped)
    rows, examples = [], []
    for i, face in enumerate(faces if len(faces) > 1 else []):
        ex = faces[(i + 1) % len(faces)]
        size = face.image.shape[0]
        teacher = face_teacher(ex.image, ex.landmarks, (size, size), face.landmarks)
        region = torch.from_numpy(teacher.mask >= 1.0)
        if int(region.sum()) < 0.02 * size * size:
            skipped.append(f"{ex.name} -> {face.name}: the teacher holds on too few pixels")
            continue
        exemplar, teach = to_tensor(ex.image), to_tensor(teacher.image)
        with torch.no_grad():
            out = model(exemplar[None], ex.semantics[None], face.semantics[None]).image[0].float()
        gain = _masked_psnr(out, teach, region) - _masked_psnr(exemplar, teach, region)
        colour = float(np.linalg.norm(_mean_lab(out, region) - _mean_lab(teach, region)))
        rows.append({"exemplar": ex.name, "target": face.name, "psnr_gain_db": gain,
                     "colour_distance": colour, "colour_close": colour < 10.0})
        examples.append([exemplar, to_tensor(face.image), teach, out])
    if not rows:
        return {"summary": {"pairs": 0, "skipped": skipped}}, examples
    close = sum(r["colour_close"] for r in rows)
    gain = float(np.mean([r["psnr_gain_db"] for r in rows]))
    summary = {
        "pairs": len(rows),
        "psnr_gain_db": gain,
        "psnr_target_met": gain >= 3.0,
        "median_colour_distance": float(np.median([r["colour_distance"] for r in rows])),
        "colour_close": close,
        "colour_target_met": close >= 0.75 * len(rows),
        "skipped": skipped,
    }
    return {"summary": summary, "pairs": rows}, examples


def load_square(path: Path, size: int) -> torch.Tensor:
    """Shorter side resized to ``size``, centre crop: (3,size,size) in [-1,1]."""
    image = read_rgb(path)
    h, w = image.shape[:2]
    s = size / min(h, w)
    nh, nw = max(size, round(h * s)), max(size, round(w * s))
    image = resize(image, nh, nw)
    y, x = (nh - size) // 2, (nw - size) // 2
    return to_tensor(image[y : y + size, x : x + size])


def rgb_swd(a: torch.Tensor, b: torch.Tensor, seed: int = 0, directions: int = 128) -> float:
    """Sliced Wasserstein distance between the RGB pixel sets ([0,1]) of two (3,H,W) images:
    every pixel projected on ``directions`` random unit vectors, the sorted projections compared
    at common quantiles (mean absolute gap). 0 for the same pixels in any order."""
    gen = torch.Generator().manual_seed(seed)
    dirs = torch.randn(3, directions, generator=gen)
    dirs = dirs / dirs.norm(dim=0, keepdim=True)
    pa = (_unit(a).flatten(1).T @ dirs).sort(0)[0]
    pb = (_unit(b).flatten(1).T @ dirs).sort(0)[0]
    n = min(len(pa), len(pb))
    pa, pb = (p[torch.linspace(0, len(p) - 1, n).round().long()] for p in (pa, pb))
    return float((pa - pb).abs().mean())


def sobel_correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Pearson correlation of the Sobel gradient magnitudes of two (3,H,W) images' luminance."""
    weights = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    kx = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]).view(1, 1, 3, 3)
    mags = []
    for x in (a, b):
        grey = (_unit(x)[None] * weights).sum(1, keepdim=True)
        gx, gy = F.conv2d(grey, kx), F.conv2d(grey, kx.transpose(2, 3))
        mags.append((gx**2 + gy**2).sqrt().flatten())
    ma, mb = (m - m.mean() for m in mags)
    return float((ma * mb).sum() / (ma.norm() * mb.norm()).clamp_min(1e-12))


def style_targets(model, contents: list[Path], styles: list[Path], size: int):
    """Scores over every content x style pair; also (content, style, output) rows."""
    rows, examples = [], []
    style_images = [load_square(p, size) for p in styles]
    for cpath in contents:
        content = load_square(cpath, size)
        with torch.no_grad():
            out = model(torch.stack(style_images), None, content.expand(len(styles), -1, -1, -1))
        for spath, style, image in zip(styles, style_images, out.image.float()):
            rows.append(
                {
                    "content": cpath.name,
                    "style": spath.name,
                    "swd_output_style": rgb_swd(image, style),
                    "swd_content_style": rgb_swd(content, style),
                    "edge_correlation": sobel_correlation(image, content),
                }
            )
            examples.append([content, style, image])
    swd_out = float(np.mean([r["swd_output_style"] for r in rows]))
    swd_content = float(np.mean([r["swd_content_style"] for r in rows]))
    edges = float(np.mean([r["edge_correlation"] for r in rows]))
    summary = {
        "pairs": len(rows),
        "swd_output_style": swd_out,
        "swd_content_style": swd_content,
        "swd_ratio": swd_out / swd_content,
        "swd_target_met": swd_out <= 0.6 * swd_content,
        "edge_correlation": edges,
        "edge_target_met": edges >= 0.3,
    }
    return {"summary": summary, "pairs": rows}, examples


def save_samples(examples: list[list[torch.Tensor]], path: str, rows: int = 6) -> None:
    """A JPEG grid: one row per example (its images side by side)."""
    picked = examples[:: max(1, len(examples) // rows)][:rows]
    grid = torch.cat([torch.cat(list(r), dim=2) for r in picked], dim=1)
    arr = (_unit(grid) * 255).round().byte().permute(1, 2, 0).numpy()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, quality=90)


def markdown(results: dict[str, Any]) -> str:
    """The summary as a Markdown table."""
    lines = [f"# Held-out targets: {results['task']} ({results['checkpoint']})", ""]
    lines += ["| metric | value |", "|---|---|"]
    summaries = [("", results["summary"])]
    if "cross_identity" in results:
        summaries.append(("cross-identity ", results["cross_identity"]["summary"]))
    for prefix, summary in summaries:
        for key, value in summary.items():
            if key == "skipped":
                value = len(value)
            shown = f"{value:.4g}" if isinstance(value, float) else str(value)
            lines.append(f"| {prefix}{key} | {shown} |")
    return "\n".join(lines) + "\n"


def run_targets(req: TargetsRequest) -> dict[str, Any]:
    """Score ``req.checkpoint``; writes ``req.out`` (JSON), a ``.md`` beside it, the samples."""
    from dynast import DynaST

    model = DynaST.from_pretrained(req.checkpoint).float().eval()
    cross_examples: list = []
    if req.task == "face":
        files = [p for folder in req.heldout for p in list_images(folder)]
        files = files[: req.max_images] if req.max_images > 0 else files
        faces, skipped = held_out_faces(files, req.size)
        scores, examples = face_targets(model, faces, skipped)
        cross, cross_examples = cross_identity_targets(model, faces, skipped)
        scores["cross_identity"] = cross
    elif req.task == "style":
        contents, styles = list_images(req.content), list_images(req.style)
        scores, examples = style_targets(model, contents, styles, req.size)
    else:
        raise ValueError(f"targets are defined for the face and style tasks, not {req.task!r}")
    results = {"task": req.task, "checkpoint": req.checkpoint, "size": req.size, **scores}
    out = Path(req.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    out.with_suffix(".md").write_text(markdown(results))
    if req.samples:
        save_samples(examples, req.samples)
        if req.task == "face" and cross_examples:
            samples = Path(req.samples)
            save_samples(cross_examples, str(samples.with_name(f"{samples.stem}_cross.jpg")))
    return results
