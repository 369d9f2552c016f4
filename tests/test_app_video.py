"""The app's "Video" tab as a live server, driven through gradio_client (tiny
random-weight checkpoints; a pose sequence and a short clip made here)."""
from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from app import AppSettings, build_app, launch
from app.video import EXAMPLE_SEQUENCE, MAX_FRAMES
from dynast.video.sequence import write_pose_sequence
from test_animate_video import make_clip
from test_app import free_port
from test_pipeline import POSE_REF, make_tiny_checkpoints
from test_video_poses import A_POSE, _shifted


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    root = tmp_path_factory.mktemp("ckpt")
    make_tiny_checkpoints(root)
    demo = build_app(AppSettings(checkpoints_root=root, min_resolution=64, device="cpu",
                                 result_slots=3))
    port = free_port()
    launch(demo, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield Client(f"http://127.0.0.1:{port}/", verbose=False)
    finally:
        demo.close()


def _call(client: Client, driving_video: Any = None, source: str = "video",
          sequence: Any = None) -> tuple[Any, ...]:
    return client.predict(handle_file(str(POSE_REF)), driving_video, source, sequence,
                          "128x88", None, True, api_name="/pose_video")


def _video(value: Any) -> str:
    return value["video"] if isinstance(value, dict) else value


def _probe(path: str) -> str:
    return subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", path],
                          capture_output=True, text=True).stderr


def test_a_pose_sequence_becomes_two_browser_playable_videos(client: Client) -> None:
    result, panels, status = _call(client, source="pose sequence",
                                   sequence=handle_file(str(EXAMPLE_SEQUENCE)))
    for value, width in ((result, 88), (panels, 176)):
        info = _probe(_video(value))
        assert "Video: h264" in info and "yuv420p" in info and f"{width}x128" in info
        assert "25 fps" in info
    assert "76 frames at 25 fps" in status


def test_a_video_is_tracked_and_animated(client: Client, tmp_path: Path) -> None:
    make_clip(tmp_path / "walk.mp4", frames=4)
    result, panels, status = _call(client, handle_file(str(tmp_path / "walk.mp4")))
    assert "4 frames at 10 fps" in status
    assert "Video: h264" in _probe(_video(panels))


def test_clips_over_the_limits_are_refused_with_the_limit(client: Client,
                                                          tmp_path: Path) -> None:
    write_pose_sequence([_shifted(A_POSE, i % 3) for i in range(MAX_FRAMES + 1)],
                        tmp_path / "long.zip")
    with pytest.raises(AppError, match=f"over the limit of {MAX_FRAMES}"):
        _call(client, source="pose sequence", sequence=handle_file(str(tmp_path / "long.zip")))
    (tmp_path / "fake.mp4").write_text("no video at all")
    with pytest.raises(AppError, match="not a video"):
        _call(client, handle_file(str(tmp_path / "fake.mp4")))
    with pytest.raises(AppError, match="Upload a driving video"):
        _call(client)
    write_pose_sequence([A_POSE] * 3, tmp_path / "short.zip")  # the server still answers
    _, _, status = _call(client, source="pose sequence",
                         sequence=handle_file(str(tmp_path / "short.zip")))
    assert "3 frames at 25 fps" in status
