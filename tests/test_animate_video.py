"""Pose videos from real footage: a short clip made here from a photo of a person (iPER,
examples/pose/target), tracked with MediaPipe in video mode, animated through the CLI."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dynast.errors import VideoError
from dynast.inference.cli import main
from dynast.video.clip import VideoWriter, open_clip, read_frames
from dynast.video.driving import load_driving
from test_animate import REFERENCE, ckpt  # noqa: F401 (the fixture)
from test_video_poses import ROOT

PERSON = ROOT / "examples/pose/target/1_imper_a_pose.jpg"
SHIFT = 6  # pixels per frame: the person walks right


def make_clip(path: Path, frames: int = 8, blank: int | None = None) -> None:
    """The photo on a wider grey canvas, moved SHIFT px right per frame (frame ``blank``:
    nobody)."""
    photo = np.asarray(Image.open(PERSON).convert("RGB").resize((200, 300)))
    with VideoWriter(path, 10, (300, 320)) as writer:
        for i in range(frames):
            canvas = np.full((300, 320, 3), 128, np.uint8)
            if i != blank:
                canvas[:, 20 + SHIFT * i:220 + SHIFT * i] = photo
            writer.write(canvas)


def test_a_real_clip_is_tracked_fitted_once_and_lost_frames_filled(tmp_path: Path) -> None:
    make_clip(tmp_path / "walk.mp4", blank=5)
    driving = load_driving(tmp_path / "walk.mp4", (256, 176), max_frames=300, smoothing=None)
    assert len(driving) == 8 and driving.fps == 10 and driving.lost == 1
    assert "lost in 1 of 8 frames" in driving.warnings[0]
    necks = np.array([k.xy[1, 0] for k in driving.poses])
    steps = np.diff(necks) / driving.fit.scale  # back in clip pixels
    assert np.all(np.abs(steps - SHIFT) < 2.5), steps  # the walk survives, frame 5 filled


def test_cli_animates_a_video_with_the_driving_footage_beside(ckpt: Path, tmp_path: Path,  # noqa: F811
                                                              capsys) -> None:
    make_clip(tmp_path / "walk.mp4", frames=5)
    out = tmp_path / "out.mp4"
    code = main(["animate", "--reference", str(REFERENCE), "--driving", str(tmp_path / "walk.mp4"),
                 "--out", str(out), "--checkpoint", str(ckpt), "--size", "96x64",
                 "--precision", "fp32", "--side-by-side", "--json", "--verbose"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["frames"] == 5 and report["fps"] == 10
    panels = open_clip(tmp_path / "out_side_by_side.mp4")
    assert panels.size == (96, 102 + 64 + 64)  # driving (320x300 at height 96) | pose | result
    assert len(list(read_frames(panels, 100))) == 5


def test_max_frames_cuts_a_video(tmp_path: Path) -> None:
    make_clip(tmp_path / "walk.mp4", frames=12)
    driving = load_driving(tmp_path / "walk.mp4", (256, 176), max_frames=4)
    assert len(driving) == 4 and "first 4" in driving.warnings[-1]


def test_a_clip_without_anyone_is_refused_with_the_reason(tmp_path: Path) -> None:
    with VideoWriter(tmp_path / "empty.mp4", 10, (96, 64)) as writer:
        for _ in range(3):
            writer.write(np.full((96, 64, 3), 128, np.uint8))
    with pytest.raises(VideoError, match="no person was found in any frame of empty.mp4"):
        load_driving(tmp_path / "empty.mp4", (256, 176), max_frames=300)
