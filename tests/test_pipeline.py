"""The inference pipeline on real sample images with tiny random-weight models (ngf = 8).

Runs at resolution 64 so that the whole file takes seconds on a 2-core CPU; what is checked
(sizes, frames, warps, the inspector's candidates) does not depend on the resolution.
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from dynast import DynaST, DynaSTConfig
from dynast.errors import MissingCheckpoint, PipelineError
from dynast.inference.checkpoints import list_checkpoints, resolve_checkpoint
from dynast.inference.pipeline import DynaSTPipeline
from dynast.inference.result import PipelineResult
from dynast.semantics import (
    FACE_CHANNELS,
    MalformedKeypointFile,
    NoFaceFound,
    NoPersonFound,
    SemanticsError,
)
from dynast.tasks import pose_target_from_file

ROOT = Path(__file__).resolve().parent.parent
EX = ROOT / "examples"
POSE_REF = EX / "pose/reference/1_fashion_woman_blouse.jpg"
POSE_TGT = EX / "pose/target/1_imper_a_pose.jpg"
FACE_REF = EX / "face/reference/1_sean_28083.jpg"
FACE_TGT = EX / "face/target/1_sean_28613.jpg"
STYLE = EX / "style/style/1_adain_mondrian.jpg"
CONTENT = EX / "style/content/1_adain_chicago.jpg"
RES = 64
CONFIGS = {
    "pose": dict(semantic_nc=20, ref_semantic_nc=20),
    "face": dict(semantic_nc=FACE_CHANNELS, ref_semantic_nc=FACE_CHANNELS),
    "style": dict(semantic_nc=3, ref_semantic_nc=0),
}


def make_tiny_checkpoints(root: Path) -> dict[str, Path]:
    """Random-weight ngf=8 checkpoints for the three tasks under ``root/<task>``."""
    out = {}
    for i, (task, kw) in enumerate(CONFIGS.items()):
        torch.manual_seed(i)
        DynaST(DynaSTConfig(ngf=8, **kw)).save_pretrained(root / task)
        out[task] = root / task
    return out


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_tiny_checkpoints(tmp_path_factory.mktemp("ckpt"))


@pytest.fixture(scope="module")
def pipes(ckpts: dict[str, Path]) -> dict[str, DynaSTPipeline]:
    return {t: DynaSTPipeline(t, p, device="cpu", precision="fp32", resolution=RES)  # type: ignore[arg-type]
            for t, p in ckpts.items()}


@pytest.fixture(scope="module")
def pose_result(pipes: dict[str, DynaSTPipeline]) -> PipelineResult:
    # photos scaled and padded as they are (the fitted path: test_pose_fitted_to_the_frame)
    return pipes["pose"](POSE_REF, POSE_TGT, fit=False)


def _expected_kinds() -> list[str]:
    return ["dense", "dense", "inter", "inner", "inter", "inner", "inter", "inner"]


def check_result(r: PipelineResult, out_hw: tuple[int, int]) -> None:
    h, w = out_hw
    assert r.image.size == (w, h) and r.image.mode == "RGB"
    assert r.semantics.size == (w, h)
    assert len(r.warps) == len(r.confidences) == len(r.blocks) == 8
    assert [b.kind for b in r.blocks] == _expected_kinds()
    for (img, cap), (cimg, ccap), kind in zip(r.warps, r.confidences, _expected_kinds()):
        assert img.size == (w, h) and cimg.width == w and cimg.height > h  # map + colour bar
        assert kind in cap and kind in ccap and "level" in cap
        assert ccap.startswith(cap)  # one caption format: the confidence adds its numbers
    assert set(r.timings) >= {"load", "semantics", "model", "visualise", "total"}
    assert r.timings["total"] >= r.timings["model"] > 0


def test_pose_photo_target(pose_result: PipelineResult) -> None:
    # the target photo is square: the whole canvas is content
    check_result(pose_result, (RES, RES))
    assert pose_result.reference.size == (RES, RES)
    assert "1/8" in pose_result.warps[0][1] and "full" in pose_result.warps[-1][1]


def test_pose_fitted_to_the_frame(pipes: dict[str, DynaSTPipeline]) -> None:
    r = pipes["pose"](POSE_REF, POSE_TGT)  # fit=True is the default
    check_result(r, (RES, RES))
    assert r.model_input is not None and r.model_input.size == (RES, RES)
    w0, h0 = Image.open(POSE_TGT).size
    assert r.pasted is not None and r.pasted.size == (w0, h0)  # back in the photo's frame
    assert r.framing is not None
    # a click on the user's photo lands on the canvas through the framing transform
    x, y = r.framing.to_original(np.array([[30.0, 20.0]]))[0]
    assert r.to_canvas(x, y, frame="target") == pytest.approx((30.0, 20.0), abs=1e-6)
    # the model saw the person on DeepFashion's near-white background
    corner = np.asarray(r.model_input)[:3, :3].reshape(-1, 3)
    assert (corner > 225).all()


def test_pose_shipped_pose_keeps_target_aspect(pipes: dict[str, DynaSTPipeline]) -> None:
    target, notes = pose_target_from_file(EX / "poses/back_view.json")
    assert target.size == (512, 348) and notes == []
    r = pipes["pose"](POSE_REF, target)
    tf = r.target_transform
    assert (tf.content_height, tf.content_width) == (64, 44)  # 348/512 * 64 = 43.5 -> 44
    check_result(r, (64, 44))


def test_pose_keypoint_file_without_size(pipes: dict[str, DynaSTPipeline], tmp_path: Path) -> None:
    data = json.loads((EX / "poses/a_pose.json").read_text())
    plain = {"people": data["people"]}  # plain OpenPose output: no canvas size
    (tmp_path / "p.json").write_text(json.dumps(plain))
    target, _ = pose_target_from_file(tmp_path / "p.json")
    h, w = target.size
    assert h > w > 0 and target.keypoints.count() == 18
    xy = target.keypoints.xy
    assert xy[:, 0].min() >= 0 and xy[:, 0].max() < w and xy[:, 1].max() < h
    r = pipes["pose"](POSE_REF, target)
    assert r.image.size[1] == RES


def test_face_photo_and_sketch(pipes: dict[str, DynaSTPipeline]) -> None:
    r = pipes["face"](FACE_REF, FACE_TGT)
    check_result(r, (RES, RES))
    sem = np.asarray(r.semantics)
    assert (sem == 0).all(axis=2).any(), "edges drawn in black"
    sketch = np.full((300, 300, 3), 255, np.uint8)
    cv2.ellipse(sketch, (150, 160), (90, 120), 0, 0, 360, (0, 0, 0), 3)
    for cx in (115, 185):
        cv2.circle(sketch, (cx, 130), 12, (0, 0, 0), 3)
    cv2.line(sketch, (120, 220), (180, 220), (0, 0, 0), 3)
    r2 = pipes["face"](FACE_REF, sketch, target_kind="sketch")
    check_result(r2, (RES, RES))
    with pytest.raises(NoFaceFound, match="Target drawing: .*no visible lines"):
        pipes["face"](FACE_REF, np.full((200, 200, 3), 255, np.uint8), target_kind="sketch")


def test_style_keeps_content_aspect(pipes: dict[str, DynaSTPipeline]) -> None:
    w0, h0 = Image.open(CONTENT).size
    r = pipes["style"](STYLE, CONTENT, resolution=128)
    H, W = r.resolution
    assert max(H, W) == 128 and H % 8 == 0 and W % 8 == 0
    iw, ih = r.image.size
    assert abs(iw / ih - w0 / h0) < 0.08
    check_result(r, (ih, iw))


def test_matches_at_candidates(pose_result: PipelineResult) -> None:
    r = pose_result
    blocks = r.matches_at(20, 30)
    assert len(blocks) == 8
    k = r.top_k
    expected_n = {"inter": 4 * k, "inner": 5 * k}
    for b in blocks:
        n = len(b.kept)
        assert b.xy.shape == (n, 2) and b.weights.shape == (n,) and b.attention.shape == (n,)
        if b.kind == "dense":
            assert n == 16
        else:
            assert n == expected_n[b.kind]
        assert (b.xy >= -0.5).all() and (b.xy <= RES).all()
        # the query cell contains the clicked pixel
        assert b.query_cell == (20 // b.stride, 30 // b.stride)
        # pruned links have no warp weight; the kept ones of sparse blocks sum to 1
        assert np.allclose(b.weights[~b.kept], 0.0, atol=1e-3)
        if b.kind != "dense" and b.kept.any():
            assert abs(float(b.weights.sum()) - 1.0) < 1e-2
    # clicking the same cell through the original target frame gives the same candidates
    tgt_w, tgt_h = Image.open(POSE_TGT).size
    same = r.matches_at((20 + 0.5) * tgt_w / RES - 0.5, (30 + 0.5) * tgt_h / RES - 0.5,
                        frame="target")
    assert all(np.array_equal(a.xy, b.xy) for a, b in zip(blocks, same))


def test_warp_equals_weighted_candidates(pose_result: PipelineResult) -> None:
    """The warp shown for a pixel is the weighted sum of the reference at its candidates
    (so matches_at points at the right places)."""
    r = pose_result
    ref = np.asarray(r.reference, np.float32)
    checked = 0
    for (x, y) in [(10, 10), (33, 40), (50, 21)]:
        for b, (warp, _) in zip(r.matches_at(x, y), r.warps):
            if b.kind == "dense" or not b.kept.any():
                continue
            s = b.stride
            pooled = ref.reshape(RES // s, s, RES // s, s, 3).mean(axis=(1, 3))
            cells = ((b.xy + 0.5) / s - 0.5).round().astype(int)
            expect = (b.weights[:, None] * pooled[cells[:, 1], cells[:, 0]]).sum(0)
            got = np.asarray(warp, np.float32)[int(b.query_xy[1]), int(b.query_xy[0])]
            assert np.abs(got - expect).max() < 4.0, (b.caption, got, expect)
            checked += 1
    assert checked >= 6


def test_fully_pruned_pixels_are_checkerboard(pose_result: PipelineResult) -> None:
    r = pose_result
    found = 0
    for i, (cimg, _) in enumerate(r.confidences):
        info = r.blocks[i]
        kept = r._matches[i]["kept"].reshape(info.height, info.width, -1)
        pruned = ~kept.any(-1)
        if not pruned.any():
            continue
        by, bx = np.argwhere(pruned)[0]
        s = info.stride
        patch = np.asarray(cimg)[by * s:(by + 1) * s, bx * s:(bx + 1) * s]
        assert (patch[..., 0] == patch[..., 1]).all() and set(np.unique(patch)) <= {70, 150}
        wpatch = np.asarray(r.warps[i][0])[by * s:(by + 1) * s, bx * s:(bx + 1) * s]
        assert set(np.unique(wpatch)) <= {70, 150}
        found += 1
    assert found >= 1, "a random model prunes some pixels entirely"


def test_inspect_draws_every_block(pose_result: PipelineResult) -> None:
    marked, panels = pose_result.inspect(32, 32)
    assert marked.size == pose_result.image.size
    assert len(panels) == 8
    for img, title in panels:
        assert img.width == RES and img.height > RES and "kept" in title


def test_top_k_and_bf16(pipes: dict[str, DynaSTPipeline]) -> None:
    p = pipes["style"]
    before = p.model.config
    r = p(STYLE, CONTENT, top_k=2, precision="bf16")
    assert p.model.config is before, "the config is restored after the call"
    assert r.top_k == 2 and r.precision == "bf16"
    kinds = {b.kind: len(b.kept) for b in r.matches_at(5, 5)}
    assert kinds["inter"] == 8 and kinds["inner"] == 10
    assert np.isfinite(np.asarray(r.image, np.float32)).all()


def test_bad_inputs(pipes: dict[str, DynaSTPipeline], tmp_path: Path) -> None:
    p = pipes["style"]
    with pytest.raises(PipelineError, match="too small"):
        p(STYLE, np.zeros((1, 1, 3), np.uint8))
    (tmp_path / "x.png").write_bytes(b"definitely not a png")
    with pytest.raises(SemanticsError):
        p(STYLE, tmp_path / "x.png")
    with pytest.raises(PipelineError, match="No content photo"):
        p(STYLE, None)
    with pytest.raises(PipelineError, match="multiple of 64"):
        p(STYLE, CONTENT, resolution=100)
    with pytest.raises(NoPersonFound):
        pipes["pose"](POSE_REF, CONTENT)
    (tmp_path / "bad.json").write_text('{"people": [{"pose_keypoints_2d": [1, 2]}]}')
    with pytest.raises(MalformedKeypointFile):
        pose_target_from_file(tmp_path / "bad.json")
    with pytest.raises(MalformedKeypointFile, match="candidate"):
        pose_target_from_file([tmp_path / "a.txt", tmp_path / "b.txt"])


def test_huge_image_is_downscaled_with_notice(pipes: dict[str, DynaSTPipeline]) -> None:
    big = np.asarray(Image.open(CONTENT).convert("RGB").resize((2600, 2000)))
    r = pipes["style"](STYLE, big)
    assert any("downscaled" in w for w in r.warnings)


def test_checkpoint_resolution(ckpts: dict[str, Path], tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    root = ckpts["pose"].parent
    found = list_checkpoints(root)
    assert found["pose"] == [ckpts["pose"]] and found["style"] == [ckpts["style"]]
    assert resolve_checkpoint("face", root=root) == ckpts["face"]
    monkeypatch.setenv("DYNAST_POSE_CHECKPOINT", str(ckpts["pose"]))
    assert resolve_checkpoint("pose", root=tmp_path) == ckpts["pose"]
    monkeypatch.delenv("DYNAST_POSE_CHECKPOINT")
    with pytest.raises(MissingCheckpoint, match="python -m dynast.convert latest_net_G.pth"):
        resolve_checkpoint("pose", root=tmp_path)
    with pytest.raises(MissingCheckpoint, match="No style transfer checkpoint"):
        resolve_checkpoint("style", root=tmp_path)


def test_wrong_checkpoint_for_task(ckpts: dict[str, Path]) -> None:
    # the checkpoint's config.json names its task: refused before anything runs
    with pytest.raises(MissingCheckpoint, match="is a pose checkpoint, not a style one"):
        DynaSTPipeline("style", ckpts["pose"], device="cpu", resolution=RES)
    # a model without that label is caught by its semantic widths
    p = DynaSTPipeline("style", device="cpu", resolution=RES,
                       model=DynaST.from_pretrained(ckpts["pose"]))
    with pytest.raises(PipelineError, match="expects 20-channel"):
        p(STYLE, CONTENT)
