"""Where checkpoints are: one resolver for the library, the CLI and the app.

A checkpoint is a directory with ``config.json`` and ``model.safetensors`` (what
``DynaST.save_pretrained`` writes); its ``config.json`` names the task it serves
(``"task": "pose"``). :func:`resolve_checkpoint` turns a *source* into such a directory:

* nothing: the task's default, ``$DYNAST_<TASK>_CHECKPOINT`` if set, else the first
  ``<root>/<task's checkpoint folder>`` (or any checkpoint of the task) in the search roots:
  ``$DYNAST_CHECKPOINTS_DIR``, the checkout's ``checkpoints/`` (when running from a
  checkout), ``$DYNAST_CACHE/checkpoints`` (default ``~/.cache/dynast/checkpoints``);
* a directory path; a folder name found in the search roots;
* a remote source: Hub id, URL, ``gdrive:ID`` or alias (:mod:`dynast.inference.sources`).

An explicit source that does not exist is an error naming it, never a silent fallback.
"""
from __future__ import annotations

import os
from pathlib import Path

from dynast.errors import MissingCheckpoint
from dynast.inference.sources import (
    ALIASES,
    DownloadFn,
    ProgressFn,
    cache_dir,
    fetch,
    parse_remote,
)
from dynast.persistence import (
    CONFIG_NAME,
    WEIGHTS_NAME,
    is_checkpoint_dir,
    read_config_fields,
)

__all__ = ["ALIASES", "REPO_ROOT", "checkpoint_task", "is_checkpoint_dir", "list_checkpoints",
           "resolve_checkpoint", "search_roots"]

REPO_ROOT = Path(__file__).resolve().parents[2]


def _task_names() -> tuple[str, ...]:
    from dynast.tasks import task_names

    return task_names()


def search_roots() -> list[Path]:
    """Folders searched for checkpoints by name, in order (existing or not)."""
    roots = []
    env = os.environ.get("DYNAST_CHECKPOINTS_DIR")
    if env:
        roots.append(Path(env).expanduser())
    if (REPO_ROOT / "pyproject.toml").is_file() and (REPO_ROOT / "dynast").is_dir():
        roots.append(REPO_ROOT / "checkpoints")  # running from a checkout
    roots.append(cache_dir() / "checkpoints")
    return roots


def _task_from_channels(cfg: dict) -> str | None:
    """The one registered task whose semantic widths match ``cfg`` (None: none or several)."""
    from dynast.tasks import get_task

    try:
        widths = (int(cfg.get("semantic_nc", -1)), int(cfg.get("ref_semantic_nc", -1)))
    except (TypeError, ValueError):
        return None
    hits = [n for n in _task_names()
            if (get_task(n).semantic_nc, get_task(n).ref_semantic_nc) == widths]
    return hits[0] if len(hits) == 1 else None


def checkpoint_task(path: str | Path) -> str | None:
    """The task a checkpoint directory serves: its ``config.json`` ``"task"`` field.

    Older directories without the field: a folder name starting with a task name, else the
    one registered task with the same semantic widths. None when ``path`` has no readable
    ``config.json`` or nothing decides.
    """
    p = Path(path)
    cfg = read_config_fields(p)
    if cfg is None:
        return None
    if isinstance(cfg.get("task"), str):
        return cfg["task"]
    name = p.name.lower()
    for task in _task_names():
        if name.startswith(task):
            return task
    return _task_from_channels(cfg)


def list_checkpoints(root: str | Path | None = None) -> dict[str, list[Path]]:
    """Checkpoint directories under ``root`` (default: every search root), grouped by task
    (see :func:`checkpoint_task`; every registered task is a key), sorted by name."""
    found: dict[str, list[Path]] = {t: [] for t in _task_names()}
    roots = [Path(root)] if root is not None else search_roots()
    seen: set[Path] = set()
    for base in roots:
        if not base.is_dir():
            continue
        for d in sorted(base.iterdir()):
            if d.is_dir() and is_checkpoint_dir(d) and d.resolve() not in seen:
                task = checkpoint_task(d)
                if task in found:
                    found[task].append(d)
                    seen.add(d.resolve())
    return found


def _default(task: str, roots: list[Path]) -> Path:
    from dynast.tasks import get_task

    spec = get_task(task)
    env_name = f"DYNAST_{task.upper()}_CHECKPOINT"
    env = os.environ.get(env_name)
    if env:
        return _explicit(env, task, roots, None, None, f" (from {env_name})")
    for base in roots:
        cand = base / spec.checkpoint_name
        if is_checkpoint_dir(cand) and checkpoint_task(cand) in (task, None):
            return cand
    for base in roots:
        if base.is_dir():
            serving = list_checkpoints(base)[task]
            if serving:
                return serving[0]
    where = ", ".join(str(r) for r in roots)
    raise MissingCheckpoint(
        f"No {spec.title} checkpoint found (looked for {spec.checkpoint_name}/ in {where}). "
        f"A checkpoint is a directory with config.json and model.safetensors: "
        f"{spec.checkpoint_hint}; then pass it as the checkpoint, or point {env_name} "
        "(or DYNAST_CHECKPOINTS_DIR) at it."
    )


def _check_serves(path: Path, task: str | None, what: str) -> Path:
    if not is_checkpoint_dir(path):
        raise MissingCheckpoint(f"{what} is a directory but holds no {CONFIG_NAME} and "
                                f"{WEIGHTS_NAME}; point at a saved DynaST checkpoint")
    serves = checkpoint_task(path)
    if task is not None and serves is not None and serves != task:
        raise MissingCheckpoint(f"{what} is a {serves} checkpoint, not a {task} one; pick a "
                                f"checkpoint made for {task}")
    return path


def _explicit(source: str, task: str | None, roots: list[Path],
              progress: ProgressFn | None, download: DownloadFn | None, note: str = "") -> Path:
    what = f"checkpoint {source!r}{note}"
    path = Path(source).expanduser()
    if path.is_dir():
        return _check_serves(path, task, what)
    if path.exists():
        raise MissingCheckpoint(f"{what} is a file; a checkpoint is a directory with "
                                f"{CONFIG_NAME} and {WEIGHTS_NAME} (convert an authors' .pth "
                                "with `python -m dynast.convert FILE DIR`)")
    remote = parse_remote(source)
    looks_like_path = source.startswith((".", "/", "~"))
    if remote is not None and not looks_like_path:
        if task is not None and remote.task is not None and remote.task != task:
            raise MissingCheckpoint(f"{what} serves {remote.task}, not {task}")
        return _check_serves(fetch(remote, progress=progress, download=download), task, what)
    if "/" not in source and os.sep not in source:
        for base in roots:
            if is_checkpoint_dir(base / source):
                return _check_serves(base / source, task, what)
    where = ", ".join(str(r) for r in roots)
    raise MissingCheckpoint(
        f"{what} does not exist: it is not a directory, not a folder in {where}, and not a "
        f"Hub id, URL, gdrive:ID or alias ({', '.join(ALIASES)})."
    )


def resolve_checkpoint(source: str | Path | None = None, task: str | None = None,
                       root: str | Path | None = None, *, progress: ProgressFn | None = None,
                       download: DownloadFn | None = None) -> Path:
    """The local checkpoint directory for ``source`` (see the module docstring).

    Args:
        source: a directory, a folder name, a Hub id[@revision], an https URL, ``gdrive:ID``,
            an alias, or None for ``task``'s default. A task name alone means that task's
            default (``resolve_checkpoint("pose")``); the older call
            ``resolve_checkpoint(task, checkpoint, root)`` is understood too.
        task: the task the checkpoint must serve (checked when the checkpoint names one).
        root: search only this folder for names and defaults.
        progress: ``progress(done_bytes, total_bytes)`` while downloading (default: tqdm).
        download: replaces the network call for URLs and Drive ids (tests, mirrors).

    Raises :class:`MissingCheckpoint` (a ``ValueError``) naming what was looked for and how
    to get it; :class:`CheckpointSourceError` when a download fails.
    """
    names = _task_names()
    text = None if source is None or str(source) == "" else str(source)
    task = None if task is None or str(task) == "" else str(task)
    if text in names and (task is None or task == text):
        text, task = None, text
    elif text in names and task is not None and task not in names:
        text, task = str(task), text  # the older resolve_checkpoint(task, checkpoint)
    if task is not None and task not in names:
        from dynast.tasks import get_task

        get_task(task)  # raises UnknownTask listing the tasks
    env_root = os.environ.get("DYNAST_CHECKPOINTS_DIR")
    if root is None and env_root and not Path(env_root).expanduser().is_dir():
        raise MissingCheckpoint(f"DYNAST_CHECKPOINTS_DIR={env_root} is not a directory; "
                                "fix the path or unset it")
    roots = [Path(root)] if root is not None else search_roots()
    if text is None:
        if task is None:
            raise MissingCheckpoint("give a checkpoint source or a task to find its default")
        return _default(task, roots)
    return _explicit(text, task, roots, progress, download)
