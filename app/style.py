"""The "Style" tab (style transfer): a content photo repainted with a style image's colours."""
from __future__ import annotations

from typing import Any

import gradio as gr

from app.errors import guard_upload, user_errors
from app.media import ResultStore, example_name, example_paths
from app.panels import (
    TabText,
    advanced_options,
    model_note,
    output_panel,
)
from app.run import RunOptions, TabParts, run_task, wire_run
from app.settings import AppSettings

TEXT = TabText("style", semantics_label="Content photo as the model saw it (click to inspect)",
               show_model_input=False)


def make_handler(settings: AppSettings, store: ResultStore):
    """The /style endpoint."""

    @user_errors
    def style(style_image: str | None, content: str | None, resolution: float = 512,
              top_k: float = 4, precision: str = "auto", checkpoint: str | None = None,
              fit: bool = True, normalisation: str | None = None, request: gr.Request = None,
              progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
        """Undistorted style transfer: the content's layout with the style's appearance.

        Args:
            style_image: the style (reference) image, e.g. a painting.
            content: the content photo (its aspect ratio is kept).
        Returns the generated image first, then the content as the model saw it, warps,
        confidences, the status line and what the model saw.
        """
        if style_image is None:
            raise gr.Error("Upload a style image (e.g. a painting).", title="Style missing",
                           print_exception=False)
        if content is None:
            raise gr.Error("Upload a content photo to repaint.", title="Content missing",
                           print_exception=False)
        return run_task(settings, store, "style", style_image, content,
                        RunOptions(resolution, top_k, precision, checkpoint, fit,
                                   normalisation),
                        progress=progress, show_model_input=False)

    return style


def build(settings: AppSettings, store: ResultStore) -> None:
    """Build the tab (inside a ``gr.Tab``)."""
    note = model_note(settings, "style")
    with gr.Row():
        style_image = guard_upload(gr.Image(
            label="Style image (e.g. a painting)", type="filepath", image_mode=None,
            sources=["upload", "clipboard"], height=300, min_width=320,
            elem_id="style-reference"))
        content = guard_upload(gr.Image(
            label="Content photo (its shapes are kept)", type="filepath", image_mode=None,
            sources=["upload", "clipboard"], height=300, min_width=320, elem_id="style-target"))
    styles = example_paths("style", "style")
    contents = example_paths("style", "content")
    if styles and contents:
        gr.Examples([[s, c] for s, c in zip(styles, contents)], inputs=[style_image, content],
                    example_labels=[f"style '{example_name(s)}' on the photo "
                                    f"'{example_name(c)}'" for s, c in zip(styles, contents)],
                    label="Examples (click one to fill the inputs)")
    opts = advanced_options("style", settings)
    run = gr.Button("Generate", variant="primary", elem_id="style-run")
    outs = output_panel(TEXT)
    wire_run(TabParts(run, opts, note, outs), make_handler(settings, store),
             [style_image, content, *opts.inputs(), outs.normalisation], settings, store)
