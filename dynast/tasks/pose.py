"""Pose transfer: a reference person drawn in a target pose (DeepFashion, 20 channels)."""
from __future__ import annotations

import numpy as np

from dynast.semantics import (
    POSE_CHANNELS,
    fit_to_size,
    pose_semantics_from_photo,
    render_pose,
    render_pose_preview,
)
from dynast.semantics.image_io import ImageSource, plan_fit
from dynast.tasks.inputs import labelled, load_user_image
from dynast.tasks.pose_target import PoseTarget
from dynast.tasks.spec import Prepared, PrepareRequest, TaskSpec

__all__ = ["SPEC", "prepare"]


def prepare(reference: ImageSource, target: ImageSource | PoseTarget,
            request: PrepareRequest) -> Prepared:
    """Reference photo -> image + 20-channel pose; target photo or :class:`PoseTarget` ->
    20-channel pose, both on the canvas (photos fitted without distortion, keypoints mapped
    with the same transform)."""
    warnings: list[str] = []
    ref_img = load_user_image(reference, "reference photo", warnings)
    tgt_img: np.ndarray | None = None
    if isinstance(target, PoseTarget):
        tgt_hw = target.size
    else:
        tgt_img = load_user_image(target, "target photo", warnings)
        tgt_hw = (int(tgt_img.shape[0]), int(tgt_img.shape[1]))
    height, width = SPEC.canvas(request.resolution, tgt_hw)

    ref_fit, ref_tf = fit_to_size(ref_img, height, width, pad="edge")
    ref_sem, _, ref_notes = labelled("Reference photo", pose_semantics_from_photo, ref_img,
                                     (height, width))
    warnings.extend(f"Reference: {w}" for w in ref_notes)

    tgt_tf = plan_fit(tgt_hw[0], tgt_hw[1], height, width)
    model_input: np.ndarray | None = None
    if isinstance(target, PoseTarget):
        keypoints = tgt_tf.keypoints_to_dst(target.keypoints).drop_outside(height, width)
        tgt_sem = render_pose(keypoints, height, width)
    else:
        assert tgt_img is not None
        tgt_sem, keypoints, tgt_notes = labelled("Target photo", pose_semantics_from_photo,
                                                 tgt_img, (height, width))
        warnings.extend(f"Target: {w}" for w in tgt_notes)
        model_input = fit_to_size(tgt_img, height, width, pad="black")[0]
    preview = render_pose_preview(keypoints, height, width, background=model_input)
    return Prepared(reference=ref_fit, ref_semantics=ref_sem, target_semantics=tgt_sem,
                    target_transform=tgt_tf, reference_transform=ref_tf, preview=preview,
                    warnings=warnings, model_input=model_input)


SPEC = TaskSpec(
    name="pose",
    title="pose transfer",
    semantic_nc=POSE_CHANNELS,
    ref_semantic_nc=POSE_CHANNELS,
    prepare=prepare,
    reference_label="reference person",
    target_label="target pose",
    target_kinds=("photo", "keypoints"),
    default_resolution=256,
    checkpoint_hint=(
        "use the authors' DeepFashion weights (`--checkpoint authors-deepfashion`, about "
        "370 MB, downloaded once) or convert them yourself with `python -m dynast.convert "
        "latest_net_G.pth checkpoints/pose-deepfashion`"
    ),
)
