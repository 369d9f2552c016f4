"""The "Style transfer" tab: a content photo repainted with a style image's textures."""
from __future__ import annotations

from typing import Any

import gradio as gr

from app.common import (
    AppSettings,
    advanced_options,
    connect_inspector,
    example_paths,
    gpu,
    image_input,
    missing_banner,
    output_panel,
    run_pipeline,
    user_errors,
)


def make_handler(settings: AppSettings):
    """The /style endpoint."""

    @gpu
    @user_errors
    def style(style_image: str | None, content: str | None, resolution: float = 512,
              top_k: float = 4, precision: str = "auto", checkpoint: str | None = None
              ) -> tuple[Any, ...]:
        """Undistorted style transfer: the content's layout with the style's appearance.

        Args:
            style_image: the style (reference) image, e.g. a painting.
            content: the content photo (its aspect ratio is kept).
        Returns the generated image first, then the content as the model saw it, warps,
        confidences, timings.
        """
        if style_image is None:
            raise gr.Error("Upload a style image (e.g. a painting).")
        if content is None:
            raise gr.Error("Upload a content photo to repaint.")
        return run_pipeline(settings, "style", style_image, content, resolution=resolution,
                            top_k=top_k, precision=precision, checkpoint=checkpoint)

    return style


def build(settings: AppSettings) -> None:
    """Build the tab (inside a ``gr.Tab``)."""
    missing_banner("style", settings)
    gr.Markdown("Upload a **style** image and a **content** photo: every output pixel takes "
                "its colour from matched style regions, so the content's shapes stay "
                "undistorted. Output at 512 px by default.")
    with gr.Row():
        style_image = image_input("Style image", elem_id="style-reference")
        content = image_input("Content photo", elem_id="style-target")
    opts = advanced_options("style", settings)
    run = gr.Button("Generate", variant="primary", elem_id="style-run")
    outs = output_panel("style")

    styles = example_paths("style", "style")
    contents = example_paths("style", "content")
    if styles and contents:
        gr.Examples([[s, c] for s, c in zip(styles, contents)], inputs=[style_image, content],
                    label="Examples (style, content)")
    run.click(make_handler(settings), inputs=[style_image, content, *opts.inputs()],
              outputs=outs.run_outputs(), api_name="style")
    connect_inspector(outs)
