"""Files, drawings and memory: what the app hands to Gradio and keeps between clicks.

* :func:`png_file` writes an output as ``dynast_<task>_<time>[_<what>].png`` (the name users
  get when they download it), atomically, in a folder swept of files older than an hour.
* :class:`ResultStore` keeps the last few results (their matches feed the inspector) on the
  server, bounded; a browser session holds only a key.
* :func:`release_memory` hands freed memory back after large runs.
* :func:`sketch_to_image` flattens a sketchpad value to an RGB drawing.
"""
from __future__ import annotations

import contextlib
import ctypes
import gc
import io
import itertools
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
from PIL import Image

__all__ = ["png_file", "output_path", "ResultStore", "release_memory", "sketch_to_image",
           "OUTPUT_DIR", "example_paths", "example_name", "EXAMPLES"]

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
OUTPUT_DIR = Path(tempfile.gettempdir()) / "dynast-app"
MAX_AGE_S = 3600.0
_counter = itertools.count()
_sweep_lock = threading.Lock()


def _sweep(now: float) -> None:
    """Remove output folders older than :data:`MAX_AGE_S`."""
    if not _sweep_lock.acquire(blocking=False):
        return
    try:
        for old in OUTPUT_DIR.iterdir():
            with contextlib.suppress(OSError):
                if now - old.stat().st_mtime > MAX_AGE_S:
                    shutil.rmtree(old) if old.is_dir() else old.unlink()
    finally:
        _sweep_lock.release()


def png_file(img: Image.Image | np.ndarray, task: str, what: str = "") -> str:
    """Write ``img`` as ``<OUTPUT_DIR>/<unique>/dynast_<task>_<time>[_<what>].png``.

    Every call gets its own folder, so two requests never share a file, and the file appears
    atomically (written under a temporary name, then renamed).
    """
    if isinstance(img, np.ndarray):
        img = Image.fromarray(img)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    path = output_path(task, what, ".png")
    fd, staging = tempfile.mkstemp(dir=path.parent, prefix=".png-")
    with os.fdopen(fd, "wb") as fh:
        fh.write(buf.getvalue())
    os.replace(staging, path)
    return str(path)


def output_path(task: str, what: str = "", suffix: str = ".png") -> Path:
    """A fresh ``<OUTPUT_DIR>/<unique>/dynast_<task>_<time>[_<what>]<suffix>`` (not created);
    its folder is swept with the others after an hour."""
    now = time.time()
    folder = OUTPUT_DIR / uuid.uuid4().hex[:16]
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    if next(_counter) % 100 == 0:
        _sweep(now)
    return folder / f"dynast_{task}_{stamp}{'_' + what if what else ''}{suffix}"


class ResultStore:
    """The last ``slots`` pipeline results, by key (least recently used dropped first)."""

    def __init__(self, slots: int) -> None:
        self.slots = max(1, int(slots))
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, result: Any) -> str:
        key = uuid.uuid4().hex
        with self._lock:
            self._items[key] = result
            while len(self._items) > self.slots:
                self._items.popitem(last=False)
        return key

    def get(self, key: str | None) -> Any:
        """The result stored under ``key``; a :class:`gr.Error` when it is gone."""
        with self._lock:
            result = self._items.get(key or "")
            if result is not None:
                self._items.move_to_end(key or "")
        if result is None:
            raise gr.Error("Run the model first (results are kept for the last "
                           f"{self.slots} runs on this server), then click a pixel.",
                           title="Nothing to inspect", print_exception=False)
        return result

    def __len__(self) -> int:
        return len(self._items)


def release_memory(device: str | None) -> None:
    """Return freed memory after a run: Python's garbage, CUDA's cache, glibc's free lists."""
    gc.collect()
    if device and device.startswith("cuda"):
        import torch

        torch.cuda.empty_cache()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def sketch_to_image(value: Any) -> np.ndarray:
    """Flatten a Sketchpad value (``{"background", "layers", "composite"}``) to an RGB uint8
    drawing on white. Raises :class:`gr.Error` when nothing was drawn."""
    empty = ("The drawing is empty: draw the face's outlines (jaw, eyes, brows, nose, mouth, "
             "hair) with the brush, or press 'Start from an example sketch'.")
    if value is None:
        raise gr.Error(empty, title="Nothing drawn", print_exception=False)
    comp = value.get("composite") if isinstance(value, dict) else value
    if comp is None and isinstance(value, dict):
        layers = value.get("layers") or []
        comp = layers[0] if layers else value.get("background")
    if comp is None:
        raise gr.Error(empty, title="Nothing drawn", print_exception=False)
    if isinstance(comp, (str, Path)):
        from dynast.semantics.image_io import load_image

        comp = load_image(comp)
    arr = np.asarray(comp)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise gr.Error("The drawing could not be read; draw again or upload a PNG.",
                       title="Cannot read the drawing", print_exception=False)
    if arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    if arr.shape[2] == 4:
        alpha = arr[:, :, 3:4].astype(np.float32) / 255.0
        arr = (arr[:, :, :3].astype(np.float32) * alpha + 255.0 * (1 - alpha)).astype(np.uint8)
    arr = arr[:, :, :3]
    if (arr.min(axis=2) < 200).mean() < 0.001:
        raise gr.Error(empty, title="Nothing drawn", print_exception=False)
    return np.ascontiguousarray(arr)


def example_name(path: str | Path) -> str:
    """A short human name for an example file: ``1_adain_mondrian.jpg`` -> "adain mondrian"."""
    stem = Path(path).stem
    head, _, rest = stem.partition("_")
    return (rest if head.isdigit() and rest else stem).replace("_", " ")


def example_paths(*parts: str) -> list[str]:
    """Sorted example images under ``examples/<parts...>`` (empty if the folder is missing)."""
    folder = EXAMPLES.joinpath(*parts)
    if not folder.is_dir():
        return []
    return sorted(str(p) for p in folder.iterdir()
                  if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
