"""The DynaST Gradio app: one module per tab (``pose``, ``face``, ``style``, ``video``).

``settings`` (environment, read once), ``errors`` (one path for errors, warnings and status),
``media`` (output files, bounded result store, memory), ``gallery`` (per-block captions and
colour scales) and ``panels`` (the options, outputs and wiring every tab shares).
``build_app(settings)`` returns the ``gr.Blocks``; ``launch(demo)`` starts it with a bounded
queue. ``app.py`` at the repository root is the entry point (also for Hugging Face Spaces).
"""
from __future__ import annotations

import os
import threading
from typing import Any

import gradio as gr

from app import face, pose, style, video
from app.errors import LOG, guard_file_references
from app.media import EXAMPLES, ResultStore
from app.settings import AppSettings, env_settings

__all__ = ["build_app", "launch", "queue_settings", "AppSettings", "env_settings", "CSS"]

CSS = """
.dynast-model-note { font-size: 0.92em; opacity: 0.9; }
.dynast-note { font-size: 0.88em; opacity: 0.85; }
.dynast-status:empty { display: none; }
.dynast-status { border-left: 3px solid #e5e7eb; padding-left: 8px; }
.dynast-blocks h3 { margin-bottom: 0.2em; }
/* every block visible at once: no inner scroll, captions in full under each image */
.dynast-gallery .grid-wrap { height: auto !important; max-height: none !important;
                             overflow: visible !important; }
.dynast-gallery .grid-container { grid-template-columns: repeat(4, minmax(0, 1fr)) !important;
                                  height: auto !important; }
.dynast-gallery .thumbnail-item { height: auto !important; aspect-ratio: auto !important; }
.dynast-gallery .caption-label { position: static !important; white-space: normal !important;
    overflow: visible !important; text-overflow: clip !important; max-width: none !important;
    font-size: 0.78em; line-height: 1.25; padding: 2px 4px; }
@media (max-width: 640px) {
  .dynast-gallery .grid-container { grid-template-columns: repeat(2, minmax(0, 1fr)) !important; }
}
#pose-preview .icon-button-wrapper, #pose-preview label { display: none !important; }
/* the inspector's "Candidates per block" label sits above its first row, not over it */
.dynast-inspector .grid-wrap { padding-top: 2.4em !important; }
"""

INTRO = """# DynaST: exemplar-guided image generation
Dynamic Sparse Transformer (Liu et al., ECCV 2022). Every tab shows the generated image and
**where each pixel took its appearance from**: the reference warped by every transformer block
(coarse → fine), each block's confidence and, when you click a pixel, its candidate matches
in every block (kept or pruned by the dynamic attention).
"""


def build_app(settings: AppSettings | None = None) -> gr.Blocks:
    """Build the app's Blocks (models load at the first request of each tab)."""
    settings = settings or env_settings()
    store = ResultStore(settings.result_slots)
    if settings.on_space:
        warm_up(settings)
    # The shipped examples are served where they lie, not copied into Gradio's cache: a copy
    # there can be deleted by delete_cache (another app of the process closing, say) while an
    # example still points at it, and the example then fails with a missing file.
    gr.set_static_paths(paths=[EXAMPLES])
    # Gradio's upload/output cache: files older than an hour removed every hour
    with gr.Blocks(title="DynaST", delete_cache=(3600, 3600)) as demo:
        gr.Markdown(INTRO)
        with gr.Tabs():
            with gr.Tab("Pose transfer", id="pose"):
                pose.build(settings, store)
            with gr.Tab("Faces", id="face"):
                face.build(settings, store)
            with gr.Tab("Style", id="style"):
                style.build(settings, store)
            with gr.Tab("Video", id="video"):
                video.build(settings)
        gr.Markdown("Sample images: see examples/README.md for their sources and terms.")
    guard_file_references(demo)
    demo.dynast_settings = settings  # type: ignore[attr-defined]
    demo.dynast_store = store  # type: ignore[attr-defined]
    return demo


def warm_up(settings: AppSettings) -> None:
    """On a Space: start fetching the remote checkpoints (the authors' DeepFashion generator)
    and load every tab's default model, in background threads, so the first visitor waits
    less. Failures only show on the tabs (and in the log)."""
    for remotes in (settings.remotes or {}).values():
        for remote in remotes:
            remote.start()

    def load_defaults() -> None:
        from dynast.tasks import task_names

        for task in task_names():
            entry = next((e for e in settings.catalogue(task) if e.path is not None), None)
            if entry is None:
                continue
            try:
                settings.pipeline(task, entry.path).model
            except Exception as exc:  # noqa: BLE001 - the tab reports it at the first request
                LOG.warning("preloading %s failed: %s", entry.name, exc)

    threading.Thread(target=load_defaults, name="preload models", daemon=True).start()


def queue_settings(device: str | None) -> dict[str, int]:
    """Queue size and concurrency fitting the device: one request at a time on a CPU
    (it uses every core anyway), two on a GPU."""
    on_gpu = bool(device and device.startswith("cuda"))
    return {"max_size": 64, "default_concurrency_limit": 2 if on_gpu else 1}


def launch(demo: gr.Blocks, **kwargs: Any) -> Any:
    """Queue and launch ``demo``; honours GRADIO_SERVER_NAME / GRADIO_SERVER_PORT."""
    settings = getattr(demo, "dynast_settings", None)
    demo.queue(**queue_settings(getattr(settings, "device", None)))
    kwargs.setdefault("server_name", os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    kwargs.setdefault("server_port", int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    kwargs.setdefault("max_file_size", "25mb")
    kwargs.setdefault("css", CSS)
    kwargs.setdefault("footer_links", ["api", "gradio"])
    return demo.launch(**kwargs)
