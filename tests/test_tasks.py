"""The task registry and the built-in task specs (no model involved)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dynast.errors import UnknownTask
from dynast.semantics import FACE_CHANNELS, POSE_CHANNELS
from dynast.tasks import (
    PrepareRequest,
    TaskSpec,
    get_task,
    pose_target_from_file,
    register_task,
    task_names,
)
from test_pipeline import CONTENT, FACE_REF, FACE_TGT, POSE_REF, POSE_TGT, STYLE


def test_registry_lists_the_three_tasks() -> None:
    assert task_names()[:3] == ("pose", "face", "style")
    pose, face, style = (get_task(n) for n in ("pose", "face", "style"))
    assert (pose.semantic_nc, pose.ref_semantic_nc) == (POSE_CHANNELS, POSE_CHANNELS)
    assert (face.semantic_nc, face.ref_semantic_nc) == (FACE_CHANNELS, FACE_CHANNELS)
    assert (style.semantic_nc, style.ref_semantic_nc) == (3, 0)
    assert style.default_resolution == 512 and pose.checkpoint_name == "pose"
    assert get_task(pose) is pose
    with pytest.raises(UnknownTask, match="unknown task 'segmentation'; choose one of pose"):
        get_task("segmentation")
    with pytest.raises(ValueError, match="already registered"):
        register_task(TaskSpec("pose", "x", 1, 0, prepare=pose.prepare))


def test_spec_validates_itself() -> None:
    prep = get_task("style").prepare
    with pytest.raises(ValueError, match="lower-case identifiers"):
        TaskSpec("Bad Name", "x", 1, 0, prepare=prep)
    with pytest.raises(ValueError, match="semantic_nc"):
        TaskSpec("zero", "x", 0, 0, prepare=prep)


def test_canvas() -> None:
    style, pose = get_task("style"), get_task("pose")
    assert style.canvas(512, (300, 400)) == (384, 512)
    assert style.canvas(512, (400, 300)) == (512, 384)
    assert style.canvas(512, (1000, 10)) == (512, 64)  # the short side never drops below 64
    assert pose.canvas(256, (300, 100)) == (256, 256)
    assert pose.canvas((256, 176), (300, 100)) == (256, 176)


@pytest.mark.parametrize("task,ref,tgt", [("pose", POSE_REF, POSE_TGT),
                                          ("face", FACE_REF, FACE_TGT),
                                          ("style", STYLE, CONTENT)])
def test_prepare_gives_model_inputs(task: str, ref: object, tgt: object) -> None:
    spec = get_task(task)
    p = spec.prepare(ref, tgt, PrepareRequest(64))
    h, w = p.canvas
    assert max(h, w) == 64 and p.reference.dtype == np.uint8
    assert p.target_semantics.shape == (spec.semantic_nc, h, w)
    assert p.target_semantics.dtype == np.float32
    if spec.ref_semantic_nc:
        assert p.ref_semantics is not None
        assert p.ref_semantics.shape == (spec.ref_semantic_nc, h, w)
    else:
        assert p.ref_semantics is None
    assert p.preview.shape == (h, w, 3) and p.target_transform.dst_size == (h, w)


def test_pose_keypoint_target_maps_with_the_canvas(tmp_path: Path) -> None:
    people = [{"pose_keypoints_2d": [v for j in range(18) for v in (150 + (j % 3) * 20,
                                                                   60 + j * 22, 0.9)]}]
    path = tmp_path / "pose.json"
    path.write_text(json.dumps({"people": people, "canvas_height": 512, "canvas_width": 348}))
    target, _ = pose_target_from_file(path)
    assert target.size == (512, 348) and target.keypoints.count() == 18
    p = get_task("pose").prepare(POSE_REF, target, PrepareRequest(64))
    tf = p.target_transform
    assert (tf.content_height, tf.content_width, tf.left) == (64, 44, 10)
    assert p.model_input is None
    assert p.target_semantics.max() > 0  # a pose was drawn
