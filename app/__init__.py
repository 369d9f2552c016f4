"""The DynaST Gradio app: one module per tab (``pose``, ``face``, ``style``) plus ``common``.

``build_app(settings)`` returns the ``gr.Blocks``; ``launch(demo)`` starts it with a bounded
queue. ``app.py`` at the repository root is the entry point (also for Hugging Face Spaces).
"""
from __future__ import annotations

import os
from typing import Any

import gradio as gr

from app import face, pose, style
from app.common import AppSettings, env_settings

__all__ = ["build_app", "launch", "queue_settings", "AppSettings", "env_settings", "CSS"]

CSS = """
.dynast-missing { border: 2px solid #e0a800; border-radius: 8px; padding: 8px 12px;
                  background: #fff8e1; color: #5c4500; }
"""

INTRO = """# DynaST: exemplar-guided image generation
Dynamic Sparse Transformer (Liu et al., ECCV 2022). Every tab shows the generated image, the
semantics it followed, and **where each pixel took its appearance from**: the reference warped
by every transformer block (coarse → fine), the confidence of each block, and, when you click
a pixel, its candidate matches in every block (kept vs pruned by the dynamic attention).
"""


def build_app(settings: AppSettings | None = None) -> gr.Blocks:
    """Build the app's Blocks (nothing is loaded until the first request)."""
    settings = settings or env_settings()
    with gr.Blocks(title="DynaST") as demo:
        gr.Markdown(INTRO)
        with gr.Tabs():
            with gr.Tab("Pose transfer", id="pose"):
                pose.build(settings)
            with gr.Tab("Faces", id="face"):
                face.build(settings)
            with gr.Tab("Style transfer", id="style"):
                style.build(settings)
        gr.Markdown("Sample images: see examples/README.md for their sources and terms.")
    demo.dynast_settings = settings  # type: ignore[attr-defined]
    return demo


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
