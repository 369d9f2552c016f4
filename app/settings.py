"""What the app runs with: read from the environment once, at start-up.

:class:`AppSettings` holds the choices (device, resolutions, checkpoints); the checkpoint
catalogue is built once per settings object and maps the *names* shown to users (and listed by
the API) to server paths, which never leave the server.
"""
from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.fetch import AUTHORS_POSE, AUTHORS_POSE_LIMIT, RemoteCheckpoint
from dynast.errors import MissingCheckpoint
from dynast.inference.checkpoints import list_checkpoints, resolve_checkpoint
from dynast.inference.pipeline import DynaSTPipeline
from dynast.inference.runtime import default_device, default_precision

__all__ = ["AppSettings", "CheckpointEntry", "env_settings", "card_limit"]


@dataclass(frozen=True)
class CheckpointEntry:
    """One checkpoint a tab can use: the name users see, where it is, and its limit.

    ``remote`` is set for a checkpoint fetched on demand (``path`` is then None until it
    is ready, see :meth:`AppSettings.serving_checkpoint`)."""

    name: str
    path: Path | None
    limit: str
    remote: RemoteCheckpoint | None = None


def card_limit(folder: Path) -> str:
    """The one-line limit of a checkpoint, from its ``MODEL_CARD.md``.

    A line starting with ``Limit:`` wins; otherwise the card's title (``# ...``). Empty when
    the folder has no card.
    """
    card = folder / "MODEL_CARD.md"
    try:
        text = card.read_text(encoding="utf-8")[:20_000]
    except OSError:
        return ""
    title = ""
    for line in text.splitlines():
        stripped = line.strip()
        match = re.match(r"^\**limit:?\**:?\s*(.+)$", stripped, re.IGNORECASE)
        if match:
            return match.group(1).strip()
        if not title and stripped.startswith("# "):
            title = stripped[2:].strip()
    return title


@dataclass
class AppSettings:
    """What the app runs with.

    Attributes:
        checkpoints: task -> checkpoint directory used by default (else ``checkpoints/<task>``,
            or the first fitting folder under ``checkpoints_root``).
        checkpoints_root: the folder whose checkpoints are offered (default
            ``$DYNAST_CHECKPOINTS_DIR`` or the checkout's ``checkpoints/``).
        min_resolution: the smallest resolution offered (256; tests use 64).
        default_resolution: the resolution preset in every tab (default: the task's).
        device: "cuda" / "cpu" (default: CUDA when present).
        on_space: running as a Hugging Face Space (``SPACE_ID`` set).
        runner: the model runner handed to the pipeline (ZeroGPU on a Space), or None.
        auto_precision: what "auto" precision means (None: the fastest native one of the
            device; on ZeroGPU the GPU's, from the runner). Every pipeline gets it.
        result_slots: how many results (with their matches) the server keeps for the
            inspector; older ones are dropped.
        remotes: task -> checkpoints fetched on demand (default: the authors' DeepFashion
            generator for pose); offered first, and fetched at start-up, on a Space.
    """

    checkpoints: dict[str, str | Path] = field(default_factory=dict)
    checkpoints_root: str | Path | None = None
    min_resolution: int = 256
    default_resolution: int | None = None
    device: str | None = None
    on_space: bool = False
    runner: Callable[..., Any] | None = None
    auto_precision: str | None = None
    result_slots: int = 8
    remotes: dict[str, list[RemoteCheckpoint]] | None = None

    def __post_init__(self) -> None:
        self.device = self.device or str(default_device())
        self.auto_precision = self.auto_precision or default_precision(self.device)
        self._catalogue: dict[str, list[CheckpointEntry]] = {}
        self._pipelines: dict[tuple[str, str], DynaSTPipeline] = {}
        self._pipelines_lock = threading.Lock()
        if self.remotes is None:
            self.remotes = {"pose": [RemoteCheckpoint(*AUTHORS_POSE, "pose",
                                                      limit=AUTHORS_POSE_LIMIT)]}

    def pipeline(self, task: str, checkpoint: Path) -> DynaSTPipeline:
        """The one pipeline of ``task`` with the checkpoint directory ``checkpoint``: created
        at the first request (its model loads at its first call), reused by every later one."""
        key = (task, str(checkpoint.resolve()))
        with self._pipelines_lock:
            if key not in self._pipelines:
                self._pipelines[key] = DynaSTPipeline(
                    task, checkpoint, device=self.device, precision=self.auto_precision,
                    runner=self.runner)
            return self._pipelines[key]

    def catalogue(self, task: str) -> list[CheckpointEntry]:
        """The checkpoints offered for ``task``, the default first (scanned once)."""
        if task not in self._catalogue:
            self._catalogue[task] = self._scan(task)
        return self._catalogue[task]

    def _scan(self, task: str) -> list[CheckpointEntry]:
        found: list[Path] = list(list_checkpoints(self.checkpoints_root)[task])
        try:
            default = resolve_checkpoint(self.checkpoints.get(task), task, self.checkpoints_root)
        except MissingCheckpoint:
            default = None
        if default is not None:
            found = [default] + [p for p in found if p.resolve() != default.resolve()]
        remotes = [CheckpointEntry(r.name, r.path, r.limit, r)
                   for r in (self.remotes or {}).get(task, [])]
        fetched = {r.path.resolve() for r in remotes if r.path is not None}
        entries: list[CheckpointEntry] = []
        for path in found:
            if path.resolve() in fetched:
                continue  # offered under its remote name
            name = path.name
            if any(e.name == name for e in entries):  # same folder name in two places
                name = f"{path.parent.name}/{path.name}"
            entries.append(CheckpointEntry(name, path, card_limit(path)))
        return remotes + entries if self.on_space else entries + remotes

    def serving_checkpoint(self, entry: CheckpointEntry) -> tuple[CheckpointEntry, str]:
        """The checkpoint that answers when ``entry`` is chosen, and a note for the user.

        A remote checkpoint that is not ready starts downloading; meanwhile the first local
        checkpoint of the task answers, and the note says so (and why, if the fetch failed).
        """
        remote = entry.remote
        if remote is None:
            return entry, ""
        if remote.path is not None:
            return CheckpointEntry(entry.name, remote.path, entry.limit, remote), ""
        if not remote.error:
            remote.start()
        local = next((e for e in self.catalogue(remote.task) if e.remote is None), None)
        if local is None:
            raise MissingCheckpoint(f"{remote.status()} There is no local checkpoint to "
                                    "answer meanwhile; try again when it is ready.")
        if remote.error:
            return local, (f"{remote.status().removesuffix('.')}; using the shipped checkpoint "
                           f"{local.name}.")
        return local, (f"{remote.status()} Until it is ready, the shipped checkpoint "
                       f"{local.name} answers.")

    def checkpoint(self, task: str, name: str | None) -> CheckpointEntry:
        """The entry called ``name`` (None or "": the default)."""
        entries = self.catalogue(task)
        if not entries:
            raise MissingCheckpoint(self.missing_message(task))
        if not name:
            return entries[0]
        for entry in entries:
            if entry.name == name:
                return entry
        offered = ", ".join(e.name for e in entries)
        raise MissingCheckpoint(f"There is no checkpoint called {name!r} for this tab; "
                                f"choose one of: {offered}.")

    def missing_message(self, task: str) -> str:
        """What a tab without any checkpoint tells its users."""
        how = ("convert the authors' DeepFashion checkpoint: `python -m dynast.convert "
               "latest_net_G.pth checkpoints/pose-deepfashion` (see the README)"
               if task == "pose" else "train one (docs/TRAINING.md)")
        return (f"This tab has no model yet. A checkpoint is a folder with config.json and "
                f"model.safetensors under checkpoints/ (or $DYNAST_CHECKPOINTS_DIR): {how}, "
                f"or set DYNAST_{task.upper()}_CHECKPOINT.")


def env_settings(environ: dict[str, str] | None = None) -> AppSettings:
    """Settings from the environment (read here, once; used by ``app.py``)."""
    env = dict(os.environ if environ is None else environ)
    from dynast.tasks import task_names

    ckpts: dict[str, str | Path] = {t: env[f"DYNAST_{t.upper()}_CHECKPOINT"] for t in task_names()
                                    if env.get(f"DYNAST_{t.upper()}_CHECKPOINT")}
    on_space = bool(env.get("SPACE_ID"))
    device = env.get("DYNAST_DEVICE") or None
    runner, auto_precision = None, None
    if on_space:
        from app.zerogpu import make_runner  # the ZeroGPU runner (docs/CONTRACTS.md section 6)

        runner = make_runner()  # None unless this is a ZeroGPU Space
        if runner is not None:  # models live on the CPU; only the model call gets the GPU
            device, auto_precision = runner.host_device, runner.auto_precision
    return AppSettings(checkpoints=ckpts, checkpoints_root=env.get("DYNAST_CHECKPOINTS_DIR"),
                       device=device, on_space=on_space, runner=runner,
                       auto_precision=auto_precision)
