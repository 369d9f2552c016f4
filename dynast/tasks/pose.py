"""Pose transfer: a reference person drawn in a target pose (DeepFashion, 20 channels).

With ``fit`` (the default) every photo is first fitted to DeepFashion's frame
(:func:`dynast.semantics.framing.fit_person`: the person cut out onto the near-white
background, scaled and centred as DeepFashion frames bodies); the pose is detected on the
photo and its keypoints mapped through the same transform, and the output is mapped back into
the target photo's frame (``PipelineResult.pasted``). Without it photos are scaled and padded
onto the canvas as they are. Keypoint targets are placed on the canvas either way.
"""
from __future__ import annotations

import numpy as np

from dynast.semantics import (
    POSE_CHANNELS,
    extract_pose,
    fit_to_size,
    pose_semantics_from_photo,
    render_pose,
    render_pose_preview,
)
from dynast.semantics.framing import Framed, fit_person
from dynast.semantics.image_io import FitTransform, ImageSource, plan_fit
from dynast.semantics.keypoints import Keypoints
from dynast.tasks.inputs import labelled, load_user_image
from dynast.tasks.pose_target import PoseTarget
from dynast.tasks.spec import Prepared, PrepareRequest, TaskSpec

__all__ = ["SPEC", "prepare"]


def _framed_pose(photo: np.ndarray, size: tuple[int, int], label: str
                 ) -> tuple[Framed, Keypoints, list[str]]:
    """The photo fitted to the training frame, and its keypoints in that frame."""
    framed = labelled(label, fit_person, photo, size)
    keypoints, notes = labelled(label, extract_pose, photo)
    keypoints = framed.transform.keypoints_to_model(keypoints)
    return framed, keypoints, _unique(framed.warnings + notes)


def _unique(messages: list[str]) -> list[str]:
    return list(dict.fromkeys(messages))


def _reference(ref_img: np.ndarray, size: tuple[int, int], fit: bool
               ) -> tuple[np.ndarray, FitTransform, np.ndarray, list[str]]:
    """(image on the canvas, its transform, 20-channel pose, warnings) of the reference."""
    height, width = size
    if fit:
        framed, keypoints, notes = _framed_pose(ref_img, size, "Reference photo")
        return (framed.image, plan_fit(height, width, height, width),
                render_pose(keypoints, height, width), notes)
    ref_fit, ref_tf = fit_to_size(ref_img, height, width, pad="edge")
    sem, _, notes = labelled("Reference photo", pose_semantics_from_photo, ref_img, size)
    return ref_fit, ref_tf, sem, notes


def prepare(reference: ImageSource, target: ImageSource | PoseTarget,
            request: PrepareRequest) -> Prepared:
    """Reference photo -> image + 20-channel pose; target photo or :class:`PoseTarget` ->
    20-channel pose, both on the canvas (see the module docstring for ``request.fit``)."""
    warnings: list[str] = []
    ref_img = load_user_image(reference, "reference photo", warnings)
    tgt_img: np.ndarray | None = None
    if isinstance(target, PoseTarget):
        tgt_hw = target.size
    else:
        tgt_img = load_user_image(target, "target photo", warnings)
        tgt_hw = (int(tgt_img.shape[0]), int(tgt_img.shape[1]))
    height, width = SPEC.canvas(request.resolution, tgt_hw)

    ref_fit, ref_tf, ref_sem, ref_notes = _reference(ref_img, (height, width), request.fit)
    warnings.extend(f"Reference: {w}" for w in ref_notes)

    framed: Framed | None = None
    model_input: np.ndarray | None = None
    if tgt_img is None:
        assert isinstance(target, PoseTarget)
        tgt_tf = plan_fit(tgt_hw[0], tgt_hw[1], height, width)
        keypoints = tgt_tf.keypoints_to_dst(target.keypoints).drop_outside(height, width)
    elif request.fit:
        framed, keypoints, tgt_notes = _framed_pose(tgt_img, (height, width), "Target photo")
        warnings.extend(f"Target: {w}" for w in tgt_notes)
        tgt_tf, model_input = plan_fit(height, width, height, width), framed.image
    else:
        tgt_tf = plan_fit(tgt_hw[0], tgt_hw[1], height, width)
        _, keypoints, tgt_notes = labelled("Target photo", pose_semantics_from_photo,
                                           tgt_img, (height, width))
        warnings.extend(f"Target: {w}" for w in tgt_notes)
        model_input = fit_to_size(tgt_img, height, width, pad="black")[0]
    return Prepared(
        reference=ref_fit, ref_semantics=ref_sem,
        target_semantics=render_pose(keypoints, height, width),
        target_transform=tgt_tf, reference_transform=ref_tf,
        preview=render_pose_preview(keypoints, height, width, background=model_input),
        warnings=warnings, model_input=model_input, framing=framed,
        original_target=tgt_img if framed is not None else None,
    )


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
    can_fit=True,
    checkpoint_hint=(
        "use the authors' DeepFashion weights (`--checkpoint authors-deepfashion`, about "
        "370 MB, downloaded once) or convert them yourself with `python -m dynast.convert "
        "latest_net_G.pth checkpoints/pose-deepfashion`"
    ),
)
