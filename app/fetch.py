"""Checkpoints the app fetches itself: the authors' DeepFashion generator for pose transfer.

A :class:`RemoteCheckpoint` downloads (and converts) its source in a background thread through
:func:`dynast.inference.checkpoints.resolve_checkpoint`, once; until it is ready a tab answers
with its local fallback checkpoint and says so, and when the fetch fails the tab says why and
keeps working with the fallback. On a Hugging Face Space the fetch starts with the app.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from app.errors import LOG, scrub
from dynast.inference.checkpoints import is_checkpoint_dir, resolve_checkpoint
from dynast.inference.sources import DownloadFn, cache_dir, parse_remote

__all__ = ["RemoteCheckpoint", "AUTHORS_POSE", "AUTHORS_POSE_LIMIT"]

AUTHORS_POSE = ("authors' DeepFashion (downloads about 370 MB once)", "authors-deepfashion")
AUTHORS_POSE_LIMIT = ("the authors' released generator: paper quality for one person, full "
                      "body, on a plain light background (DeepFashion)")


class RemoteCheckpoint:
    """A checkpoint source fetched in the background.

    Args:
        name: what users see ("authors' DeepFashion (downloads about 370 MB once)").
        source: what :func:`resolve_checkpoint` fetches (an alias, URL, ``gdrive:ID``, ...).
        task: the task it serves.
        limit: the one-line limit shown with it (it comes without a model card).
        download: replaces the network call (tests, mirrors), see
            :func:`dynast.inference.sources.fetch`.
    """

    def __init__(self, name: str, source: str, task: str, *, limit: str = "",
                 download: DownloadFn | None = None) -> None:
        self.name, self.source, self.task, self.limit = name, source, task, limit
        self._download = download
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._done, self._total = 0, None
        self._error = self._reason = ""
        self._path: Path | None = None
        remote = parse_remote(source)
        cached = cache_dir() / "checkpoints" / remote.name if remote is not None else None
        if cached is not None and is_checkpoint_dir(cached):
            self._path = cached  # fetched before: no network needed

    # -- state ---------------------------------------------------------------------------
    @property
    def path(self) -> Path | None:
        """The local checkpoint directory once fetched, else None."""
        return self._path

    @property
    def error(self) -> str:
        """Why the last fetch failed ("" when it did not)."""
        return self._error

    @property
    def reason(self) -> str:
        """Why the last fetch failed in a few plain words ("no network ..."), "" if it did not."""
        return self._reason

    @property
    def short_name(self) -> str:
        """The name without its size note: "authors' DeepFashion"."""
        return self.name.split(" (")[0]

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def status(self) -> str:
        """One line: ready, downloading (with progress), failed (with why) or not started."""
        if self._path is not None:
            return f"{self.name}: ready."
        if self._error:
            return f"Could not download the {self.short_name} checkpoint: {self._reason}."
        if self.running:
            done, total = self._done, self._total
            mb = f"{done / 1e6:.0f} of {total / 1e6:.0f} MB" if total else f"{done / 1e6:.0f} MB"
            pct = f" ({100 * done / total:.0f}%)" if total else ""
            return f"{self.name}: downloading, {mb}{pct}."
        return f"{self.name}: not downloaded yet."

    # -- fetching --------------------------------------------------------------------------
    def start(self) -> None:
        """Start fetching in a background thread (nothing happens if it is ready or running)."""
        with self._lock:
            if self._path is not None or self.running:
                return
            self._error = self._reason = ""
            self._done, self._total = 0, None
            self._thread = threading.Thread(target=self._run, name=f"fetch {self.source}",
                                            daemon=True)
            self._thread.start()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for a running fetch (tests)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _progress(self, done: int, total: int | None) -> None:
        self._done, self._total = int(done), total

    def _run(self) -> None:
        try:
            path = resolve_checkpoint(self.source, self.task, progress=self._progress,
                                      download=self._download)
        except Exception as exc:  # noqa: BLE001 - any failure is reported on the page
            self._error = scrub(str(exc)) or "it failed without a reason"
            self._reason = scrub(getattr(exc, "reason", "")).rstrip(".") or \
                self._error.splitlines()[0].rstrip(".")
            LOG.warning("fetching %s failed: %s", self.source, self._error.splitlines()[0])
            return
        self._path = path
        LOG.info("checkpoint %s ready", self.source)

    def describe(self) -> dict[str, Any]:
        """Plain data for logs and tests."""
        return {"name": self.name, "source": self.source, "ready": self._path is not None,
                "running": self.running, "error": self._error}
