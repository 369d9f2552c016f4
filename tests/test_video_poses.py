"""Driving poses for pose videos: OpenPose JSON sequences (folder, zip), lost frames, the
One-Euro filter, one framing per clip, and video files in and out (no model here)."""
from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest

from dynast.errors import VideoError
from dynast.semantics.keypoints import Keypoints
from dynast.tasks import pose_target_from_file
from dynast.video.clip import ClipLimits, VideoWriter, open_clip, read_frames
from dynast.video.clip_fit import ANKLES_Y, NECK_Y, fit_clip
from dynast.video.driving import load_driving
from dynast.video.sequence import read_pose_sequence, write_pose_sequence
from dynast.video.smoothing import fill_lost_frames, smooth_sequence

ROOT = Path(__file__).resolve().parent.parent
A_POSE = pose_target_from_file(ROOT / "examples/poses/a_pose.json")[0].keypoints


def _shifted(kp: Keypoints, dx: float, dy: float = 0.0) -> Keypoints:
    return kp.map_xy(lambda xy: xy + np.array([dx, dy]))


def test_a_sequence_reads_back_in_frame_order_from_a_folder_and_a_zip(tmp_path: Path) -> None:
    frames = [_shifted(A_POSE, i) for i in range(12)]  # 12 > 9: numeric, not name, order
    write_pose_sequence(frames, tmp_path / "seq")
    write_pose_sequence(frames, tmp_path / "seq.zip")
    names = sorted(p.name for p in (tmp_path / "seq").iterdir())
    assert names[0] == "clip_000000000000_keypoints.json"
    for source in (tmp_path / "seq", tmp_path / "seq.zip"):
        seq = read_pose_sequence(source)
        assert len(seq.frames) == 12 and seq.warnings == []
        assert [round(float(f.xy[0, 0] - A_POSE.xy[0, 0])) for f in seq.frames] == list(range(12))
    assert len(read_pose_sequence(tmp_path / "seq.zip", max_frames=5).frames) == 5


def test_frames_without_people_are_kept_as_gaps_and_filled(tmp_path: Path) -> None:
    folder = tmp_path / "seq"
    write_pose_sequence([_shifted(A_POSE, 0), A_POSE, _shifted(A_POSE, 10)], folder)
    empty = {"version": 1.3, "people": []}
    (folder / "clip_000000000001_keypoints.json").write_text(json.dumps(empty))
    seq = read_pose_sequence(folder)
    assert seq.frames[1] is None
    filled, lost = fill_lost_frames(seq.frames)
    assert lost == 1
    np.testing.assert_allclose(filled[1].xy, _shifted(A_POSE, 5).xy, atol=1e-3)


def test_lost_frames_at_the_ends_copy_the_nearest_and_short_joint_gaps_close() -> None:
    arr = A_POSE.array.copy()
    arr[4, 2] = 0  # the right wrist blinks out for one frame
    frames = [None, A_POSE, Keypoints(arr), _shifted(A_POSE, 4), None]
    filled, lost = fill_lost_frames(frames)
    assert lost == 2
    assert filled[0] == A_POSE and filled[4] == _shifted(A_POSE, 4)
    assert filled[2].present[4]
    np.testing.assert_allclose(filled[2].xy[4], A_POSE.xy[4] + [2, 0], atol=1e-3)


@pytest.mark.parametrize("bad, message", [
    ("not a zip", "not a readable .zip"),
    (None, "no OpenPose .json files"),
])
def test_bad_sequences_are_refused_with_the_reason(tmp_path: Path, bad, message) -> None:
    path = tmp_path / "poses.zip"
    if bad is None:
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("readme.txt", "no poses here")
    else:
        path.write_text(bad)
    with pytest.raises(VideoError, match=message):
        read_pose_sequence(path)


def test_a_malformed_frame_is_named(tmp_path: Path) -> None:
    write_pose_sequence([A_POSE, A_POSE], tmp_path / "seq")
    (tmp_path / "seq" / "clip_000000000001_keypoints.json").write_text("{not json")
    with pytest.raises(ValueError, match="frame clip_000000000001_keypoints.json"):
        read_pose_sequence(tmp_path / "seq")


def test_one_euro_removes_jitter_on_a_still_pose_and_follows_motion() -> None:
    rng = np.random.default_rng(0)
    still = [_shifted(A_POSE, *rng.uniform(-1, 1, 2)) for _ in range(50)]
    smoothed = smooth_sequence(still, fps=25)
    raw_step = np.mean([np.abs(a.xy - b.xy).mean() for a, b in zip(still, still[1:])])
    smooth_step = np.mean([np.abs(a.xy - b.xy).mean() for a, b in zip(smoothed[10:],
                                                                      smoothed[11:])])
    assert smooth_step < 0.2 * raw_step
    moving = [_shifted(A_POSE, 8 * i) for i in range(30)]  # 200 px/s at 25 fps
    lag = moving[-1].xy[0, 0] - smooth_sequence(moving, fps=25)[-1].xy[0, 0]
    assert 0 < lag < 8  # less than one frame's motion behind


def test_the_clip_is_framed_once_with_the_neck_and_ankles_where_deepfashion_has_them() -> None:
    frames = [_shifted(A_POSE, 3 * i) for i in range(10)]  # the person walks right
    fit = fit_clip(frames, (256, 176))
    assert fit.full_body
    moved = [fit.apply(k) for k in frames]
    neck = np.median([k.xy[1, 1] for k in moved])
    ankles = np.median([(k.xy[10, 1] + k.xy[13, 1]) / 2 for k in moved])
    assert abs(neck - (NECK_Y * 256 - 0.5)) < 0.5
    assert abs(ankles - (ANKLES_Y * 256 - 0.5)) < 0.5
    steps = {round(float(b.xy[1, 0] - a.xy[1, 0]), 3) for a, b in zip(moved, moved[1:])}
    assert len(steps) == 1  # the same scale and offset for every frame: the walk is kept
    with pytest.raises(VideoError, match="shoulders and both hips"):
        fit_clip([Keypoints.from_xy([[10, 10]] * 2 + [None] * 16)], (256, 176))


def test_h264_mp4_is_written_as_browsers_play_it_and_reads_back(tmp_path: Path) -> None:
    import imageio_ffmpeg

    path = tmp_path / "clip.mp4"
    with VideoWriter(path, 12.5, (64, 48)) as writer:
        for i in range(7):
            writer.write(np.full((64, 48, 3), 30 * i, np.uint8))
    probe = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)],
                           capture_output=True, text=True).stderr
    assert "Video: h264 (High)" in probe and "yuv420p" in probe and "12.50 fps" in probe
    data = path.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # +faststart: playable while loading
    info = open_clip(path)
    assert info.fps == 12.5 and info.size == (64, 48)
    means = [round(float(f.mean())) for f in read_frames(info, 100)]
    assert len(means) == 7 and all(abs(m - 30 * i) <= 2 for i, m in enumerate(means))
    assert len(list(read_frames(info, 3))) == 3


def test_bad_clips_get_the_limit_or_the_reason(tmp_path: Path) -> None:
    fake = tmp_path / "fake.mp4"
    fake.write_text("#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:0\nfile:///etc/passwd\n")
    with pytest.raises(VideoError, match="not a video"):
        open_clip(fake)
    path = tmp_path / "clip.mp4"
    with VideoWriter(path, 10, (64, 48)) as writer:
        for _ in range(20):
            writer.write(np.zeros((64, 48, 3), np.uint8))
    with pytest.raises(VideoError, match="over the limit of 1 s"):
        open_clip(path, ClipLimits(max_seconds=1))
    with pytest.raises(VideoError, match="over the limit of 0.0 megapixels"):
        open_clip(path, ClipLimits(max_pixels=1000))
    with pytest.raises(VideoError, match="MB, over the limit"):
        open_clip(path, ClipLimits(max_bytes=100))
    truncated = tmp_path / "cut.mp4"
    truncated.write_bytes(path.read_bytes()[:300])
    with pytest.raises(VideoError):
        list(read_frames(open_clip(truncated), 100))


def test_a_long_sequence_is_cut_or_refused(tmp_path: Path) -> None:
    write_pose_sequence([_shifted(A_POSE, i % 3) for i in range(9)], tmp_path / "seq.zip")
    driving = load_driving(tmp_path / "seq.zip", (64, 48), max_frames=5)
    assert len(driving) == 5 and "first 5" in driving.warnings[0]
    with pytest.raises(VideoError, match="over the limit of 5"):
        load_driving(tmp_path / "seq.zip", (64, 48), max_frames=5, refuse_longer=True)
