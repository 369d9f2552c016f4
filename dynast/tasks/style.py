"""Style transfer: a content photo painted with a style image (no reference semantics)."""
from __future__ import annotations

import numpy as np

from dynast.semantics import STYLE_CHANNELS, FitTransform, fit_to_size, style_semantics
from dynast.semantics.image_io import ImageSource, plan_fit
from dynast.tasks.inputs import load_user_image, to_uint8_preview
from dynast.tasks.spec import Prepared, PrepareRequest, TaskSpec

__all__ = ["SPEC", "prepare", "cover"]


def cover(img: np.ndarray, height: int, width: int) -> tuple[np.ndarray, FitTransform]:
    """Centre-crop ``img`` (h, w, 3) to the canvas aspect, then resize it to fill the canvas:
    the style image has no padding to imitate."""
    h, w = img.shape[:2]
    aspect = width / height
    if w / h > aspect:
        cw, ch = max(1, round(h * aspect)), h
    else:
        cw, ch = w, max(1, round(w / aspect))
    x0, y0 = (w - cw) // 2, (h - ch) // 2
    crop = img[y0:y0 + ch, x0:x0 + cw]
    return fit_to_size(np.ascontiguousarray(crop), height, width, pad="edge")


def prepare(reference: ImageSource, target: ImageSource, request: PrepareRequest) -> Prepared:
    """Style image (the reference) -> image covering the canvas; content photo (the target)
    -> its own pixels as semantics, the canvas following its aspect."""
    warnings: list[str] = []
    content = load_user_image(target, "content photo", warnings)
    height, width = SPEC.canvas(request.resolution, content.shape[:2])
    style = load_user_image(reference, "style image", warnings)
    sem = style_semantics(content, (height, width))
    ref_fit, ref_tf = cover(style, height, width)
    preview = to_uint8_preview(sem)
    return Prepared(reference=ref_fit, ref_semantics=None, target_semantics=sem,
                    target_transform=plan_fit(content.shape[0], content.shape[1], height, width),
                    reference_transform=ref_tf, preview=preview, warnings=warnings,
                    model_input=preview)


SPEC = TaskSpec(
    name="style",
    title="style transfer",
    semantic_nc=STYLE_CHANNELS,
    ref_semantic_nc=0,
    prepare=prepare,
    reference_label="style image",
    target_label="content photo",
    default_resolution=512,
    keeps_target_aspect=True,
)
