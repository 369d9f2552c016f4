"""Faces: a reference face drawn with the edges of a target face photo or a line drawing."""
from __future__ import annotations

import numpy as np

from dynast.semantics import (
    FACE_CHANNELS,
    face_semantics_from_photo,
    face_semantics_from_sketch,
    fit_to_size,
)
from dynast.semantics.image_io import ImageSource
from dynast.tasks.inputs import labelled, load_user_image
from dynast.tasks.spec import Prepared, PrepareRequest, TaskSpec

__all__ = ["SPEC", "prepare", "edges_preview"]


def edges_preview(semantics: np.ndarray) -> np.ndarray:
    """Draw face-edge semantics (C, H, W) as uint8 (H, W, 3): every line (channel 0) black on
    white and, in the 12-channel layout (``dynast.semantics.face_layout``), the face-mesh
    lines (channel 11) in blue."""
    sem = np.asarray(semantics, np.float32)
    out = np.full(sem.shape[1:] + (3,), 255, np.uint8)
    out[sem[0] > 0.5] = (0, 0, 0)
    if sem.shape[0] == 12:
        out[sem[11] > 0.5] = (30, 90, 220)
    return out


def prepare(reference: ImageSource, target: ImageSource, request: PrepareRequest) -> Prepared:
    """Reference face photo -> image + edge semantics; target face photo (or a drawing when
    ``request.target_kind == "sketch"``) -> edge semantics, on a square canvas."""
    warnings: list[str] = []
    sketch = request.target_kind == "sketch"
    ref_img = load_user_image(reference, "reference face", warnings)
    tgt_img = load_user_image(target, "target drawing" if sketch else "target face", warnings)
    height, width = SPEC.canvas(request.resolution, tgt_img.shape[:2])

    ref_fit, ref_tf = fit_to_size(ref_img, height, width, pad="edge")
    ref_sem, ref_notes = labelled("Reference face", face_semantics_from_photo, ref_img,
                                  (height, width))
    warnings.extend(f"Reference: {w}" for w in ref_notes)
    if sketch:
        tgt_sem, tgt_notes = labelled("Target drawing", face_semantics_from_sketch, tgt_img,
                                      (height, width))
    else:
        tgt_sem, tgt_notes = labelled("Target face", face_semantics_from_photo, tgt_img,
                                      (height, width))
    warnings.extend(f"Target: {w}" for w in tgt_notes)
    tgt_fit, tgt_tf = fit_to_size(tgt_img, height, width, pad="edge")
    return Prepared(reference=ref_fit, ref_semantics=ref_sem, target_semantics=tgt_sem,
                    target_transform=tgt_tf, reference_transform=ref_tf,
                    preview=edges_preview(tgt_sem), warnings=warnings, model_input=tgt_fit)


SPEC = TaskSpec(
    name="face",
    title="face",
    semantic_nc=FACE_CHANNELS,
    ref_semantic_nc=FACE_CHANNELS,
    prepare=prepare,
    reference_label="reference face",
    target_label="target face or drawing",
    target_kinds=("photo", "sketch"),
    default_resolution=256,
)
