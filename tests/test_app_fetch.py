"""The pose tab's "authors' DeepFashion" checkpoint, fetched in the background, without a
network: the download is injected (it copies the authors'-format parity fixture)."""
from __future__ import annotations

import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gradio_client import Client, handle_file

from app import AppSettings, build_app, launch
from app.fetch import AUTHORS_POSE, RemoteCheckpoint
from test_pipeline import POSE_REF, POSE_TGT, RES, make_tiny_checkpoints

FIXTURE = Path(__file__).parent / "fixtures/official_parity/deepfashion_ngf8_64_G.pth"


class FakeDrive:
    """A download function that waits for ``release`` and then copies the fixture (or fails)."""

    def __init__(self, fail: str = "") -> None:
        self.release = threading.Event()
        self.calls: list[str] = []
        self.fail = fail

    def __call__(self, file_id: str, dest: Path, progress: Any) -> None:
        self.calls.append(file_id)
        total = FIXTURE.stat().st_size
        if progress is not None:
            progress(total // 3, total)
        assert self.release.wait(60)
        if self.fail:
            raise ConnectionError(self.fail)
        shutil.copyfile(FIXTURE, dest)
        if progress is not None:
            progress(total, total)


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DYNAST_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _settings(root: Path, drive: FakeDrive, on_space: bool = True) -> AppSettings:
    remote = RemoteCheckpoint(*AUTHORS_POSE, "pose", limit="the authors' model",
                              download=drive)
    return AppSettings(checkpoints_root=root, min_resolution=64, device="cpu",
                       on_space=on_space, remotes={"pose": [remote]})


def test_fetch_in_background_with_fallback(tmp_path: Path, cache: Path) -> None:
    make_tiny_checkpoints(tmp_path / "ckpt")
    drive = FakeDrive()
    settings = _settings(tmp_path / "ckpt", drive)
    first = settings.catalogue("pose")[0]
    assert first.remote is not None  # on a Space the authors' checkpoint is the default
    serving, note = settings.serving_checkpoint(first)
    assert serving.name == "pose" and "Until it is ready" in note
    assert "downloading" in first.remote.status()
    drive.release.set()
    first.remote.wait(120)
    assert first.remote.path is not None and first.remote.error == ""
    serving, note = settings.serving_checkpoint(first)
    assert serving.path == first.remote.path and note == ""
    assert drive.calls == ["1UJ9xsQBBWZEXOz-jizerR4Qjo7n1kYmy"]  # the release's Drive file
    # a cache hit needs no download
    again = RemoteCheckpoint(*AUTHORS_POSE, "pose", download=FakeDrive())
    assert again.path == first.remote.path


def test_failed_fetch_says_why_and_keeps_working(tmp_path: Path, cache: Path) -> None:
    make_tiny_checkpoints(tmp_path / "ckpt")
    drive = FakeDrive(fail="connection reset by peer")
    settings = _settings(tmp_path / "ckpt", drive)
    remote = settings.catalogue("pose")[0].remote
    assert remote is not None
    remote.start()
    drive.release.set()
    remote.wait(60)
    assert remote.path is None and "connection reset" in remote.error
    serving, note = settings.serving_checkpoint(settings.catalogue("pose")[0])
    assert serving.name == "pose" and "Could not download" in note
    assert "connection reset" in note and "using the shipped checkpoint pose" in note


OFFLINE = ("HTTPSConnectionPool(host='drive.google.com', port=443): Max retries exceeded with "
           "url: /uc?id=1 (Caused by NameResolutionError(\"<urllib3.connection.HTTPSConnection "
           "object at 0x7f0>: Failed to resolve 'drive.google.com' ([Errno -3] Temporary "
           "failure in name resolution)\"))")


def test_no_network_is_one_plain_sentence_said_once(tmp_path: Path, cache: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import app.panels as panels
    import app.run as run
    from app.media import ResultStore

    make_tiny_checkpoints(tmp_path / "ckpt")
    drive = FakeDrive(fail=OFFLINE)
    settings = _settings(tmp_path / "ckpt", drive)
    entry = settings.catalogue("pose")[0]
    entry.remote.start()
    drive.release.set()
    entry.remote.wait(60)
    sentence = ("Could not download the authors' DeepFashion checkpoint: no network (the "
                "server's name could not be resolved); using the shipped checkpoint")
    assert settings.serving_checkpoint(entry)[1] == sentence + " pose."
    assert panels.checkpoint_note(settings, "pose", entry.name) == f"⚠️ {sentence} **pose**."
    toasts: list[str] = []
    monkeypatch.setattr(run.gr, "Warning", lambda text, *a, **k: toasts.append(text))
    out = run.run_task(settings, ResultStore(2), "pose", str(POSE_REF), str(POSE_TGT),
                       run.RunOptions(RES, 4, "fp32", entry.name, True))
    assert out[4].count("Could not download") == 1 and "HTTPSConnectionPool" not in out[4]
    assert not any("Could not download" in t for t in toasts), toasts


@pytest.fixture()
def space(tmp_path: Path, cache: Path) -> Iterator[tuple[Client, FakeDrive, Any]]:
    make_tiny_checkpoints(tmp_path / "ckpt")
    drive = FakeDrive()
    demo = build_app(_settings(tmp_path / "ckpt", drive))  # on a Space: the fetch starts now
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    launch(demo, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield Client(f"http://127.0.0.1:{port}/", verbose=False), drive, demo
    finally:
        drive.release.set()
        demo.close()


def test_space_answers_while_fetching_then_uses_the_authors(space: Any) -> None:
    client, drive, demo = space
    remote = demo.dynast_settings.remotes["pose"][0]
    assert remote.running
    out = client.predict(handle_file(str(POSE_REF)), handle_file(str(POSE_TGT)),
                         resolution=RES, api_name="/pose")
    assert "checkpoint pose" in out[4] and "Until it is ready" in out[4]
    drive.release.set()
    remote.wait(120)
    out = client.predict(handle_file(str(POSE_REF)), handle_file(str(POSE_TGT)),
                         resolution=RES, api_name="/pose")
    assert "checkpoint authors' DeepFashion" in out[4] and "Until" not in out[4]
