"""Pose videos end to end with a tiny random-weight pose model: the reference done once,
determinism, still poses, flicker with and without smoothing, streaming, the CLI."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from dynast import DynaST, DynaSTConfig
from dynast.inference.cli import main
from dynast.semantics.keypoints import Keypoints
from dynast.video.animate import AnimateOptions, PoseAnimator
from dynast.video.clip import open_clip, read_frames
from dynast.video.sequence import write_pose_sequence
from test_video_poses import A_POSE, ROOT, _shifted

REFERENCE = ROOT / "examples/pose/reference/1_fashion_woman_blouse.jpg"
SIZE = (96, 64)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("pose_ckpt") / "pose"
    DynaST(DynaSTConfig(semantic_nc=20, ref_semantic_nc=20, ngf=4, pos_dim=4, prune_dim=4,
                        train_size=(96, 64))).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def animator(ckpt: Path) -> PoseAnimator:
    return PoseAnimator(ckpt, device="cpu", precision="fp32")


def _frames(animator: PoseAnimator, poses: list[Keypoints], tmp_path: Path, name: str,
            **options) -> list[np.ndarray]:
    """The result frames (before encoding) for a pose sequence."""
    write_pose_sequence(poses, tmp_path / f"{name}.zip")
    opts = AnimateOptions(size=SIZE, **options).checked()
    driving = animator.driving(tmp_path / f"{name}.zip", opts)
    return [f.result for f in animator.frames(REFERENCE, driving, opts)]


def _flicker(frames: list[np.ndarray]) -> float:
    """Mean absolute difference between consecutive frames (0-255 scale)."""
    return float(np.mean([np.abs(a.astype(np.float64) - b) for a, b in zip(frames, frames[1:])]))


def test_same_inputs_same_frames_and_a_still_pose_gives_identical_frames(
        animator: PoseAnimator, tmp_path: Path) -> None:
    moving = [_shifted(A_POSE, 6 * np.sin(i)) for i in range(6)]
    first = _frames(animator, moving, tmp_path, "a", batch=4)
    again = _frames(animator, moving, tmp_path, "b", batch=4)
    assert len(first) == 6 and all(np.array_equal(x, y) for x, y in zip(first, again))
    assert _flicker(first) > 0  # the pose moves, so does the picture
    still = _frames(animator, [A_POSE] * 7, tmp_path, "c", batch=3)  # 3 batches, last padded
    assert all(np.array_equal(still[0], f) for f in still[1:])


def test_smoothing_reduces_the_flicker_of_one_pixel_jitter(animator: PoseAnimator,
                                                           tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    # A_POSE is ~190 px tall, ~65 px in the 96 px frame: 3 px of jitter there are 1 px here
    jitter = [_shifted(A_POSE, *rng.uniform(-3, 3, 2)) for _ in range(24)]
    # after the filter's first 8 frames (it starts from the first, raw, pose)
    raw = _flicker(_frames(animator, jitter, tmp_path, "raw", smoothing=None, batch=8)[8:])
    smooth = _flicker(_frames(animator, jitter, tmp_path, "smooth", batch=8)[8:])
    assert smooth < 0.5 * raw, (smooth, raw)


def test_reference_work_is_done_once_and_frames_are_streamed(
        animator: PoseAnimator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"encode": 0, "generate": []}
    model = animator.pipe.model
    encode, generate = model.encode_reference, model.generate

    def count_encode(*a, **k):
        calls["encode"] += 1
        return encode(*a, **k)

    def count_generate(ref, sem, *a, **k):
        calls["generate"].append(sem.shape[0])
        return generate(ref, sem, *a, **k)

    monkeypatch.setattr(model, "encode_reference", count_encode)
    monkeypatch.setattr(model, "generate", count_generate)
    write_pose_sequence([_shifted(A_POSE, i) for i in range(10)], tmp_path / "s.zip")
    opts = AnimateOptions(size=SIZE, batch=4).checked()
    stream = animator.frames(REFERENCE, animator.driving(tmp_path / "s.zip", opts), opts)
    next(stream)
    assert calls == {"encode": 1, "generate": [4]}  # one batch made, not the whole clip
    rest = list(stream)
    assert len(rest) == 9 and calls == {"encode": 1, "generate": [4, 4, 4]}


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict, str]:
    code = main(["animate", *args, "--json", "--verbose"])
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if captured.out.strip() else {}), captured.err


def test_cli_writes_the_video_side_by_side_and_gif(ckpt: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    write_pose_sequence([_shifted(A_POSE, i) for i in range(5)], tmp_path / "poses")
    out = tmp_path / "sub" / "out.mp4"
    code, report, _ = _cli(capsys, "--reference", str(REFERENCE), "--driving",
                           str(tmp_path / "poses"), "--out", str(out), "--checkpoint", str(ckpt),
                           "--size", "96x64", "--precision", "fp32", "--fps", "10",
                           "--side-by-side", "--gif")
    assert code == 0
    assert report["frames"] == 5 and report["fps"] == 10 and report["lost_frames"] == 0
    assert set(report["timings"]) >= {"poses", "reference", "model", "encode", "total"}
    video, panels = open_clip(out), open_clip(tmp_path / "sub" / "out_side_by_side.mp4")
    assert video.size == (96, 64) and video.fps == 10
    assert panels.size == (96, 128)  # pose | result (a pose sequence has no footage)
    assert len(list(read_frames(video, 100))) == 5
    assert (tmp_path / "sub" / "out.gif").stat().st_size > 0


@pytest.mark.parametrize("args, message", [
    (["--driving", "missing.mp4"], "does not exist"),
    (["--out", "out.avi"], "must end in .mp4"),
    (["--max-frames", "0"], "max-frames must be"),
    (["--fps", "500"], "fps must be between 1 and 120"),
    (["--size", "250"], "resolution must be a multiple of 64"),
    (["--driving", "fake.mp4"], "not a video"),
    (["--driving", "empty.zip"], "no OpenPose .json files"),
])
def test_cli_bad_input_is_one_line_and_exit_2(ckpt: Path, tmp_path: Path, args: list[str],
                                              message: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    import zipfile

    (tmp_path / "fake.mp4").write_text("not a video")
    zipfile.ZipFile(tmp_path / "empty.zip", "w").close()
    write_pose_sequence([A_POSE] * 2, tmp_path / "poses")
    base = {"--reference": str(REFERENCE), "--driving": str(tmp_path / "poses"),
            "--out": str(tmp_path / "out.mp4"), "--checkpoint": str(ckpt)}
    given = dict(zip(args[::2], args[1::2]))
    for key in ("--driving", "--out"):
        if key in given:
            given[key] = str(tmp_path / given[key])
    argv = [x for k, v in {**base, **given}.items() for x in (k, v)]
    code, _, err = _cli(capsys, *argv)
    assert code == 2
    assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1


def test_the_benchmark_reports_both_rates_and_both_flickers(animator: PoseAnimator) -> None:
    from dynast.video.bench import flicker, model_only, speed

    result = speed(animator, 4, SIZE, 2)
    assert result["frames"] == 4 and result["per_frame_fps"] > 0 and result["animate_fps"] > 0
    assert result["speedup"] == pytest.approx(result["per_frame_s"] / result["animate_s"],
                                              abs=1e-2)
    alone = model_only(animator, 4, SIZE, 2)
    assert alone["forward_per_frame_fps"] > 0 and alone["encoded_once_batched_fps"] > 0
    figures = flicker(animator, SIZE, frames=12)
    assert set(figures) == {"raw", "smoothed"} and figures["raw"] > 0
