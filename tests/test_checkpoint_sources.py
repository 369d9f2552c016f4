"""Checkpoint lookup and remote sources without a network: a local HTTP server on 127.0.0.1
serves the authors'-format parity fixture, a model directory, a cut-off and a broken file
and 404s; Google Drive goes through the same code with the download function injected."""
from __future__ import annotations

import hashlib
import http.server
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from dynast import DynaST, DynaSTConfig
from dynast.errors import CheckpointSourceError, MissingCheckpoint
from dynast.inference import sources
from dynast.inference.checkpoints import checkpoint_task, list_checkpoints, resolve_checkpoint

FIXTURE = Path(__file__).parent / "fixtures/official_parity/deepfashion_ngf8_64_G.pth"


class Server:
    """Files by URL path; ``lies`` paths announce more bytes than they send."""

    def __init__(self, files: dict[str, bytes], lies: set[str]) -> None:
        self.files, self.lies, self.hits = files, lies, Counter()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                server.hits[self.path] += 1
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                extra = 1000 if self.path in server.lies else 0
                self.send_header("Content-Length", str(len(body) + extra))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    pth = FIXTURE.read_bytes()
    model_dir = tmp_path_factory.mktemp("served")
    torch.manual_seed(0)
    DynaST(DynaSTConfig(ngf=8, semantic_nc=3, ref_semantic_nc=0)).save_pretrained(model_dir)
    files = {
        "/latest_net_G.pth": pth,
        "/again/latest_net_G.pth": pth,
        "/procs/latest_net_G.pth": pth,
        "/cut/latest_net_G.pth": pth[: len(pth) // 2],
        "/half/latest_net_G.pth": pth[: len(pth) // 2],
        "/style/model.safetensors": (model_dir / "model.safetensors").read_bytes(),
        "/style/config.json": (model_dir / "config.json").read_bytes(),
    }
    s = Server(files, lies={"/cut/latest_net_G.pth"})
    yield s
    s.httpd.shutdown()


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DYNAST_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("DYNAST_CHECKPOINTS_DIR", raising=False)
    for task in ("POSE", "FACE", "STYLE"):
        monkeypatch.delenv(f"DYNAST_{task}_CHECKPOINT", raising=False)
    return tmp_path / "cache"


def _quiet(done: int, total: int | None) -> None:
    pass


def test_authors_pth_url_converted_once_then_cached(server: Server, cache: Path) -> None:
    url = server.url + "/latest_net_G.pth"
    path = resolve_checkpoint(url, "pose", progress=_quiet)
    assert path.parent == cache / "checkpoints"
    assert checkpoint_task(path) == "pose"
    assert json.loads((path / "config.json").read_text())["task"] == "pose"
    model = DynaST.from_pretrained(path)
    assert model.config.semantic_nc == 20 and model.config.ngf == 8
    assert not list((cache / "downloads").iterdir()), "no partial files left behind"
    hits = server.hits["/latest_net_G.pth"]
    assert hits == 1
    assert resolve_checkpoint(url, "pose") == path  # a cache hit: no request
    assert server.hits["/latest_net_G.pth"] == hits
    assert list_checkpoints(cache / "checkpoints")["pose"] == [path]


def test_safetensors_url_fetches_config_beside_it(server: Server) -> None:
    path = resolve_checkpoint(server.url + "/style/model.safetensors", "style", progress=_quiet)
    assert DynaST.from_pretrained(path).config.ref_semantic_nc == 0
    assert checkpoint_task(path) == "style"  # no task field: the one task with these widths


def test_cut_off_download_is_an_error_and_leaves_nothing(server: Server, cache: Path) -> None:
    url = server.url + "/cut/latest_net_G.pth"
    with pytest.raises(CheckpointSourceError, match="stopped after .* bytes") as err:
        resolve_checkpoint(url, "pose", progress=_quiet)
    assert url in str(err.value) and "python -m dynast.convert" in str(err.value)
    assert not list((cache / "checkpoints").glob("*"))
    assert not list((cache / "downloads").iterdir())


def test_broken_file_fails_the_converter(server: Server) -> None:
    with pytest.raises(CheckpointSourceError, match="not a usable authors' generator"):
        resolve_checkpoint(server.url + "/half/latest_net_G.pth", "pose", progress=_quiet)


def test_404_and_offline_name_the_source(server: Server) -> None:
    url = server.url + "/nothing/latest_net_G.pth"
    with pytest.raises(CheckpointSourceError, match=r"not found there \(HTTP 404\)") as err:
        resolve_checkpoint(url, progress=_quiet)
    assert url in str(err.value)
    with socket_closed() as port:
        with pytest.raises(CheckpointSourceError, match="could not reach the server"):
            resolve_checkpoint(f"http://127.0.0.1:{port}/latest_net_G.pth", progress=_quiet)
    with pytest.raises(CheckpointSourceError, match="must end in .pth"):
        resolve_checkpoint(server.url + "/weights.bin")


class socket_closed:
    """A port nobody listens on."""

    def __enter__(self) -> int:
        import socket

        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        return self.port

    def __exit__(self, *exc: object) -> None:
        pass


def test_concurrent_first_uses_download_once(server: Server) -> None:
    url = server.url + "/again/latest_net_G.pth"
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(
        resolve_checkpoint(url, "pose", progress=_quiet))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 3 and len(set(results)) == 1
    assert server.hits["/again/latest_net_G.pth"] == 1


def test_concurrent_processes_download_once(server: Server, cache: Path) -> None:
    """The file lock works across processes too; a stale partial download is cleared."""
    url = server.url + "/procs/latest_net_G.pth"
    remote = sources.parse_remote(url)
    assert remote is not None
    stale = cache / "downloads" / f"{remote.name}.killed"
    stale.mkdir(parents=True)
    code = ("import sys; from dynast.inference.checkpoints import resolve_checkpoint; "
            "print(resolve_checkpoint(sys.argv[1], 'pose', progress=lambda d, t: None))")
    env = {**os.environ, "DYNAST_CACHE": str(cache)}
    procs = [subprocess.Popen([sys.executable, "-c", code, url], stdout=subprocess.PIPE,
                              text=True, env=env) for _ in range(2)]
    outs = [p.communicate(timeout=300)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs) and outs[0] == outs[1] != ""
    assert server.hits["/procs/latest_net_G.pth"] == 1
    assert not stale.exists()


def test_drive_alias_through_the_injected_download(cache: Path) -> None:
    calls: list[str] = []

    def fake_drive(file_id: str, dest: Path, progress: object) -> None:
        calls.append(file_id)
        time.sleep(0.3)  # long enough for the second thread to wait on the lock
        dest.write_bytes(FIXTURE.read_bytes())

    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(resolve_checkpoint(
        "authors-deepfashion", "pose", download=fake_drive, progress=_quiet)))
        for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == ["1UJ9xsQBBWZEXOz-jizerR4Qjo7n1kYmy"]
    assert results[0] == results[1] == cache / "checkpoints" / "authors-deepfashion"
    assert checkpoint_task(results[0]) == "pose"
    with pytest.raises(MissingCheckpoint, match="serves pose, not style"):
        resolve_checkpoint("authors-deepfashion", "style")


def test_drive_quota_and_checksums(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(file_id: str, dest: Path, progress: object) -> None:
        raise OSError("Too many users have viewed or downloaded this file recently")

    with pytest.raises(CheckpointSourceError, match="quota is used up") as err:
        resolve_checkpoint("gdrive:abcdefghijk123", download=refused, progress=_quiet)
    assert "gdrive:abcdefghijk123" in str(err.value)

    def fixture(file_id: str, dest: Path, progress: object) -> None:
        dest.write_bytes(FIXTURE.read_bytes())

    good = hashlib.sha256(FIXTURE.read_bytes()).hexdigest()
    monkeypatch.setitem(sources.ALIASES, "bad-sum", sources.Alias(
        "gdrive:abcdefghijk999", "pose", "test", sha256="0" * 64))
    monkeypatch.setitem(sources.ALIASES, "good-sum", sources.Alias(
        "gdrive:abcdefghijk998", "pose", "test", size=FIXTURE.stat().st_size, sha256=good))
    with pytest.raises(CheckpointSourceError, match="expected sha256"):
        resolve_checkpoint("bad-sum", download=fixture, progress=_quiet)
    assert checkpoint_task(resolve_checkpoint("good-sum", download=fixture,
                                              progress=_quiet)) == "pose"


def test_hub_id_and_revision(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import huggingface_hub

    seen = {}
    DynaST(DynaSTConfig(ngf=8, semantic_nc=3, ref_semantic_nc=0)).save_pretrained(tmp_path / "s")

    def fake_snapshot(repo: str, revision: str | None = None, **kw: object) -> str:
        seen.update(repo=repo, revision=revision)
        return str(tmp_path / "s")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot)
    assert resolve_checkpoint("someone/dynast-style@v2", "style") == tmp_path / "s"
    assert seen == {"repo": "someone/dynast-style", "revision": "v2"}

    def offline(repo: str, **kw: object) -> str:
        raise OSError("offline")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    with pytest.raises(CheckpointSourceError, match="someone/missing is not a local directory"):
        resolve_checkpoint("someone/missing", "style")


def test_lookup_order_and_no_silent_fallback(tmp_path: Path, cache: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(MissingCheckpoint, match="'/no/such/dir' does not exist"):
        resolve_checkpoint("/no/such/dir", "pose")
    with pytest.raises(MissingCheckpoint, match="'nothing-here' does not exist"):
        resolve_checkpoint("nothing-here", "pose")
    mine = tmp_path / "mine"
    DynaST(DynaSTConfig(ngf=8, semantic_nc=3, ref_semantic_nc=0)).save_pretrained(mine / "style")
    DynaST(DynaSTConfig(ngf=8, semantic_nc=3, ref_semantic_nc=0)).save_pretrained(
        cache / "checkpoints" / "painter")
    monkeypatch.setenv("DYNAST_CHECKPOINTS_DIR", str(mine))
    assert resolve_checkpoint(None, "style") == mine / "style"  # before the checkout's
    assert resolve_checkpoint("painter", "style") == cache / "checkpoints" / "painter"
    monkeypatch.setenv("DYNAST_STYLE_CHECKPOINT", str(tmp_path / "gone"))
    with pytest.raises(MissingCheckpoint, match="from DYNAST_STYLE_CHECKPOINT"):
        resolve_checkpoint(None, "style")
    monkeypatch.setenv("DYNAST_CHECKPOINTS_DIR", str(tmp_path / "typo"))
    with pytest.raises(MissingCheckpoint, match="DYNAST_CHECKPOINTS_DIR=.*typo is not a dir"):
        resolve_checkpoint(None, "pose")
    monkeypatch.delenv("DYNAST_CHECKPOINTS_DIR")
    (tmp_path / "file.pth").write_bytes(b"x")
    with pytest.raises(MissingCheckpoint, match="is a file"):
        resolve_checkpoint(tmp_path / "file.pth", "pose")
