"""Faces: a reference face drawn with the edges of a target face photo or a line drawing.

With ``fit`` (the default) face photos are first aligned as the training faces are
(:func:`dynast.semantics.framing.fit_face`: eyes and mouth to the FFHQ / CelebA-HQ places),
and the output is pasted back into the target photo with a feathered edge
(``PipelineResult.pasted``). Drawings are used as they are.
"""
from __future__ import annotations

import numpy as np

from dynast.semantics import (
    FACE_CHANNELS,
    face_semantics_from_photo,
    face_semantics_from_sketch,
    fit_to_size,
)
from dynast.semantics.framing import Framed, fit_face
from dynast.semantics.image_io import FitTransform, ImageSource, plan_fit
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


def _photo(photo: np.ndarray, size: tuple[int, int], fit: bool, label: str
           ) -> tuple[np.ndarray, FitTransform, np.ndarray, list[str], Framed | None]:
    """(image on the canvas, its transform, edge semantics, warnings, framing) of a photo."""
    height, width = size
    if fit:
        framed = labelled(label, fit_face, photo, size)
        sem, notes = labelled(label, face_semantics_from_photo, framed.image, size)
        return (framed.image, plan_fit(height, width, height, width), sem,
                list(dict.fromkeys(framed.warnings + notes)), framed)
    fitted, tf = fit_to_size(photo, height, width, pad="edge")
    sem, notes = labelled(label, face_semantics_from_photo, photo, size)
    return fitted, tf, sem, notes, None


def prepare(reference: ImageSource, target: ImageSource, request: PrepareRequest) -> Prepared:
    """Reference face photo -> image + edge semantics; target face photo (or a drawing when
    ``request.target_kind == "sketch"``) -> edge semantics, on a square canvas (see the
    module docstring for ``request.fit``)."""
    warnings: list[str] = []
    sketch = request.target_kind == "sketch"
    ref_img = load_user_image(reference, "reference face", warnings)
    tgt_img = load_user_image(target, "target drawing" if sketch else "target face", warnings)
    size = SPEC.canvas(request.resolution, tgt_img.shape[:2])

    ref_fit, ref_tf, ref_sem, ref_notes, _ = _photo(ref_img, size, request.fit,
                                                    "Reference face")
    warnings.extend(f"Reference: {w}" for w in ref_notes)
    framed: Framed | None = None
    if sketch:
        tgt_sem, tgt_notes = labelled("Target drawing", face_semantics_from_sketch, tgt_img,
                                      size)
        tgt_fit, tgt_tf = fit_to_size(tgt_img, size[0], size[1], pad="edge")
    else:
        tgt_fit, tgt_tf, tgt_sem, tgt_notes, framed = _photo(tgt_img, size, request.fit,
                                                             "Target face")
    warnings.extend(f"Target: {w}" for w in tgt_notes)
    return Prepared(reference=ref_fit, ref_semantics=ref_sem, target_semantics=tgt_sem,
                    target_transform=tgt_tf, reference_transform=ref_tf,
                    preview=edges_preview(tgt_sem), warnings=warnings, model_input=tgt_fit,
                    framing=framed, original_target=tgt_img if framed is not None else None)


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
    can_fit=True,
)
