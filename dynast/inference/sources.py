"""Checkpoint sources that live elsewhere: Hugging Face Hub, https URLs, Google Drive, aliases.

A source is text (what ``--checkpoint`` and ``DynaSTPipeline(task, SOURCE)`` accept):

* ``owner/name`` or ``owner/name@revision``: a Hugging Face Hub repo holding ``config.json``
  and ``model.safetensors``;
* ``https://.../latest_net_G.pth``: the authors' generator, converted on first use
  (``torch.load(weights_only=True)`` and the converter's strict key check);
* ``https://.../model.safetensors``: a DynaST directory, ``config.json`` fetched beside it;
* ``gdrive:FILE_ID``: an authors' ``.pth`` on Google Drive, fetched with ``gdown`` (optional);
* an alias from :data:`ALIASES`, e.g. ``authors-deepfashion``.

Everything lands in ``$DYNAST_CACHE`` (default ``~/.cache/dynast``): ``checkpoints/<name>``
holds the ready directories (a second use needs no network), ``downloads/`` the partial files.
Files are written under a temporary name and renamed when complete and checked; a file lock
per source makes concurrent first uses (threads or processes) download once.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import socket
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from dynast.errors import CheckpointSourceError
from dynast.persistence import CHECKPOINT_FILES, CONFIG_NAME, WEIGHTS_NAME, is_checkpoint_dir

__all__ = ["ALIASES", "Alias", "DownloadFn", "ProgressFn", "RemoteSource", "cache_dir",
           "fetch", "parse_remote", "http_download", "gdown_download"]

ProgressFn = Callable[[int, int | None], None]
"""``progress(bytes_done, bytes_total_or_None)``, called while downloading."""
DownloadFn = Callable[[str, Path, ProgressFn | None], None]
"""``download(file_id_or_url, destination, progress)`` writes the whole file to destination."""

MANUAL_STEPS = (
    "To do it by hand: download the file in a browser, run `python -m dynast.convert "
    "latest_net_G.pth DIR --task pose`, then pass DIR as the checkpoint (README: \"The "
    "authors' DeepFashion checkpoint\")."
)
CHUNK = 1 << 20


@dataclass(frozen=True)
class Alias:
    """A named source: where it is, what it serves, what is known about the file."""

    source: str
    task: str
    description: str
    size: int | None = None
    sha256: str | None = None


ALIASES: dict[str, Alias] = {
    "authors-deepfashion": Alias(
        source="gdrive:1UJ9xsQBBWZEXOz-jizerR4Qjo7n1kYmy",
        task="pose",
        description="the authors' DeepFashion generator (latest_net_G.pth, about 370 MB)",
    ),
}


@dataclass(frozen=True)
class RemoteSource:
    """A parsed remote source. ``kind``: "hub", "url" or "gdrive"; ``name``: its folder
    under ``$DYNAST_CACHE/checkpoints``."""

    text: str
    kind: str
    location: str
    name: str
    revision: str | None = None
    task: str | None = None
    size: int | None = None
    sha256: str | None = None


def cache_dir() -> Path:
    """``$DYNAST_CACHE`` or ``~/.cache/dynast``."""
    return Path(os.environ.get("DYNAST_CACHE") or "~/.cache/dynast").expanduser()


_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+(@[\w./-]+)?$")
_DRIVE_ID = re.compile(r"^[A-Za-z0-9_-]{10,}$")


def parse_remote(text: str) -> RemoteSource | None:
    """The remote source ``text`` names, or None when it is not one (a path or a name).

    A string shaped like ``owner/name`` counts as a Hub id; callers check for a local
    directory of that name first."""
    if text in ALIASES:
        alias = ALIASES[text]
        inner = parse_remote(alias.source)
        assert inner is not None, f"alias {text} points at a non-remote source"
        return RemoteSource(text, inner.kind, inner.location, text, inner.revision,
                            alias.task, alias.size, alias.sha256)
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    if text.startswith("gdrive:"):
        file_id = text.removeprefix("gdrive:")
        if not _DRIVE_ID.match(file_id):
            raise CheckpointSourceError(f"{text!r} is not a Google Drive file id (gdrive:ID, "
                                        "the ID from the file's share link)")
        return RemoteSource(text, "gdrive", file_id, f"gdrive-{file_id}")
    if text.startswith(("https://", "http://")):
        base = text.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        if not base.endswith((".pth", ".pt", WEIGHTS_NAME)):
            raise CheckpointSourceError(
                f"cannot use {text}: a checkpoint URL must end in .pth (the authors' "
                "generator) or model.safetensors (with config.json beside it)")
        return RemoteSource(text, "url", text, f"url-{digest}")
    if _HUB_ID.match(text):
        repo, _, rev = text.partition("@")
        return RemoteSource(text, "hub", repo, f"hub-{digest}", rev or None)
    return None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An inter-process lock on ``path`` (filelock when installed, else fcntl)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        from filelock import FileLock
    except ImportError:  # pragma: no cover - filelock ships with huggingface_hub
        import fcntl

        with open(path, "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        return
    with FileLock(str(path)):
        yield


def _tqdm_progress(desc: str) -> tuple[ProgressFn, Callable[[], None]]:
    from tqdm.auto import tqdm

    bar = tqdm(total=None, unit="B", unit_scale=True, desc=desc, leave=False)

    def update(done: int, total: int | None) -> None:
        if total and bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    return update, bar.close


def http_download(url: str, dest: Path, progress: ProgressFn | None) -> None:
    """Stream ``url`` into ``dest``; raises ``OSError`` / ``urllib.error`` on failure and
    :class:`CheckpointSourceError` when fewer bytes arrive than announced."""
    request = urllib.request.Request(url, headers={"User-Agent": "dynast"})
    with urllib.request.urlopen(request, timeout=60) as response, open(dest, "wb") as out:
        total = response.headers.get("Content-Length")
        total_n = int(total) if total and total.isdigit() else None
        done = 0
        while chunk := response.read(CHUNK):
            out.write(chunk)
            done += len(chunk)
            if progress is not None:
                progress(done, total_n)
    if total_n is not None and done != total_n:
        raise CheckpointSourceError(f"the download of {url} stopped after {done} of "
                                    f"{total_n} bytes; try again")


def gdown_download(file_id: str, dest: Path, progress: ProgressFn | None) -> None:
    """Fetch a Google Drive file with ``gdown`` (``pip install gdown``)."""
    try:
        import gdown
    except ImportError:
        raise CheckpointSourceError(
            "Google Drive downloads need the optional package gdown: `pip install gdown`"
        ) from None
    import inspect

    kwargs: dict = {"quiet": False}
    if progress is not None and "progress" in inspect.signature(gdown.download).parameters:
        kwargs = {"quiet": True, "progress": progress}  # gdown >= 6 reports bytes to us
    if gdown.download(id=file_id, output=str(dest), **kwargs) is None:
        raise OSError("gdown could not fetch the file (private, removed or over quota)")


def _why(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        if exc.code == 404:
            return "not found there (HTTP 404)"
        if exc.code in (403, 429):
            return f"the server refused it or its download quota is used up (HTTP {exc.code})"
        return f"the server answered HTTP {exc.code}"
    text = str(exc.reason if isinstance(exc, urllib.error.URLError) else exc)
    if isinstance(exc, (urllib.error.URLError, ConnectionError, TimeoutError, socket.gaierror)) \
            or type(exc).__name__ in ("ConnectionError", "ConnectTimeout", "Timeout",
                                      "ReadTimeout"):
        lowered = text.lower()
        if any(k in lowered for k in ("name resolution", "failed to resolve", "name or service",
                                      "nodename nor servname", "getaddrinfo")):
            return "no network (the server's name could not be resolved)"
        if any(k in lowered for k in ("timed out", "timeout", "max retries")):
            return "the server did not answer (no network, or the server is down)"
        detail = text.splitlines()[0][:80] if text else "no answer"
        return f"could not reach the server ({detail}); are you offline?"
    if "quota" in text.lower() or "too many users" in text.lower():
        return "Google Drive refused: the file's download quota is used up; try later"
    return text.splitlines()[0][:200] if text else "it failed without a reason"


def _check_file(path: Path, src: RemoteSource) -> None:
    size = path.stat().st_size
    if src.size is not None and size != src.size:
        raise CheckpointSourceError(f"the file from {src.text} has {size} bytes, expected "
                                    f"{src.size}; it is incomplete or not the right file")
    if src.sha256 is not None:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            while block := fh.read(CHUNK):
                h.update(block)
        if h.hexdigest() != src.sha256.lower():
            raise CheckpointSourceError(f"the file from {src.text} does not have the expected "
                                        "sha256; it is corrupt or not the right file")


def _convert(pth: Path, out_dir: Path, src: RemoteSource) -> None:
    """Authors' .pth -> DynaST directory (weights_only load, strict key check)."""
    from dynast.convert import (
        ConversionError,
        authors_task,
        convert_state_dict,
        load_authors_checkpoint,
    )

    try:
        model = convert_state_dict(load_authors_checkpoint(pth), src.task)
    except ConversionError as exc:
        raise CheckpointSourceError(
            f"the file from {src.text} is not a usable authors' generator: {exc}") from exc
    model.save_pretrained(out_dir, task=src.task or authors_task(model.config))


def _fetch_files(src: RemoteSource, work: Path, progress: ProgressFn | None,
                 download: DownloadFn | None) -> None:
    """Download (and convert) ``src`` into the empty directory ``work``."""
    if src.kind == "gdrive":
        pth = work / "latest_net_G.pth"
        (download or gdown_download)(src.location, pth, progress)
        _check_file(pth, src)
        _convert(pth, work / "model", src)
        return
    fetch_one = download or http_download
    if src.location.split("?", 1)[0].endswith(WEIGHTS_NAME):
        base = src.location.split("?", 1)[0][: -len(WEIGHTS_NAME)]
        (work / "model").mkdir()
        fetch_one(src.location, work / "model" / WEIGHTS_NAME, progress)
        _check_file(work / "model" / WEIGHTS_NAME, src)
        fetch_one(base + CONFIG_NAME, work / "model" / CONFIG_NAME, None)
        return
    pth = work / "latest_net_G.pth"
    fetch_one(src.location, pth, progress)
    _check_file(pth, src)
    _convert(pth, work / "model", src)


def fetch(src: RemoteSource, *, progress: ProgressFn | None = None,
          download: DownloadFn | None = None) -> Path:
    """The local directory of a remote source, downloading (and converting) it on first use.

    ``download`` replaces the network call (tests; other transports). Raises
    :class:`CheckpointSourceError` naming the source and the manual steps.
    """
    if src.kind == "hub":
        return _fetch_hub(src)
    final = cache_dir() / "checkpoints" / src.name
    if is_checkpoint_dir(final):
        return final  # cache hit: no network
    with _locked(cache_dir() / "locks" / f"{src.name}.lock"):
        if is_checkpoint_dir(final):
            return final  # another thread or process fetched it meanwhile
        downloads = cache_dir() / "downloads"
        downloads.mkdir(parents=True, exist_ok=True)
        for stale in downloads.glob(f"{src.name}.*"):  # left by a killed process; we hold the lock
            shutil.rmtree(stale, ignore_errors=True)
        close: Callable[[], None] | None = None
        if progress is None:
            progress, close = _tqdm_progress(f"checkpoint {src.text}")
        work = Path(tempfile.mkdtemp(prefix=f"{src.name}.", dir=downloads))
        try:
            _fetch_files(src, work, progress, download)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(work / "model", final)
        except CheckpointSourceError as exc:
            raise CheckpointSourceError(f"Could not get checkpoint {src.text}: {exc}. "
                                        + MANUAL_STEPS, reason=exc.reason) from exc
        except Exception as exc:  # noqa: BLE001 - network and file errors become one message
            why = _why(exc)
            end = " " if why.endswith(("?", ".")) else ". "
            raise CheckpointSourceError(f"Could not download checkpoint {src.text}: {why}{end}"
                                        + MANUAL_STEPS, reason=why) from exc
        finally:
            shutil.rmtree(work, ignore_errors=True)
            if close is not None:
                close()
    return final


def _fetch_hub(src: RemoteSource) -> Path:
    from huggingface_hub import snapshot_download

    try:
        path = snapshot_download(src.location, revision=src.revision,
                                 allow_patterns=list(CHECKPOINT_FILES),
                                 cache_dir=str(cache_dir() / "hub"))
    except Exception as exc:  # noqa: BLE001 - offline, unknown repo, revision, auth
        why = _why(exc)
        raise CheckpointSourceError(
            f"{src.text} is not a local directory, and fetching it from the Hugging Face Hub "
            f"failed ({why}). Check the repo id and revision, your network, or download it "
            "with `huggingface-cli download` and pass the directory.", reason=why) from exc
    return Path(path)
