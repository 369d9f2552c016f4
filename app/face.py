"""The "Faces" tab: a face with the reference's appearance and the target's edges."""
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
    sketch_to_image,
    user_errors,
)

SOURCES = ("face photo", "uploaded line drawing", "drawn below")


def make_handler(settings: AppSettings):
    """The /face endpoint."""

    @gpu
    @user_errors
    def face(reference: str | None, target: str | None, target_source: str = "face photo",
             drawing: Any = None, resolution: float = 256, top_k: float = 4,
             precision: str = "auto", checkpoint: str | None = None) -> tuple[Any, ...]:
        """Edge-guided face: the reference's appearance on the target's edges.

        Args:
            reference: photo of the face whose appearance is used.
            target: a face photo (edges extracted) or an uploaded line drawing (dark lines on
                a light background), see target_source.
            target_source: "face photo", "uploaded line drawing" or "drawn below" (drawing).
            drawing: the Sketchpad value when target_source is "drawn below".
        Returns the generated image first, then the semantics drawing, warps, confidences,
        timings.
        """
        if reference is None:
            raise gr.Error("Upload a reference face photo.")
        if target_source == "drawn below":
            tgt: Any = sketch_to_image(drawing)
            kind = "sketch"
        elif target_source in ("face photo", "uploaded line drawing"):
            if target is None:
                raise gr.Error("Upload a target face photo or line drawing, or draw one in the "
                               "sketchpad and choose 'drawn below'.")
            tgt = target
            kind = "photo" if target_source == "face photo" else "sketch"
        else:
            raise gr.Error(f"target_source must be one of {', '.join(SOURCES)}.")
        return run_pipeline(settings, "face", reference, tgt, resolution=resolution, top_k=top_k,
                            precision=precision, checkpoint=checkpoint, target_kind=kind)

    return face


def build(settings: AppSettings) -> None:
    """Build the tab (inside a ``gr.Tab``)."""
    missing_banner("face", settings)
    gr.Markdown("Upload a **reference** face; the **target** gives the layout as edges: "
                "extracted from a face photo, an uploaded line drawing, or one you draw here "
                "(dark lines on white: jaw, eyes, brows, nose, lips, hair).")
    with gr.Row():
        reference = image_input("Reference face", elem_id="face-reference")
        with gr.Column():
            source = gr.Radio(list(SOURCES), value="face photo", label="Target from",
                              elem_id="face-source")
            target = image_input("Target face photo or line drawing", elem_id="face-target")
    with gr.Accordion("Draw a target", open=False):
        drawing = gr.Sketchpad(label="Line drawing (choose 'drawn below' above)", type="numpy",
                               image_mode="RGBA", canvas_size=(512, 512), height=420,
                               elem_id="face-sketch")
    opts = advanced_options("face", settings)
    run = gr.Button("Generate", variant="primary", elem_id="face-run")
    outs = output_panel("face")

    refs = example_paths("face", "reference")
    tgts = example_paths("face", "target")
    if refs and tgts:
        gr.Examples([[r, t] for r, t in zip(refs, tgts)], inputs=[reference, target],
                    label="Examples (reference, target photo)")

    target.upload(lambda t: "face photo", inputs=target, outputs=source, api_visibility="private")
    drawing.change(lambda d: "drawn below", inputs=drawing, outputs=source,
                   api_visibility="private", trigger_mode="always_last")
    run.click(make_handler(settings),
              inputs=[reference, target, source, drawing, *opts.inputs()],
              outputs=outs.run_outputs(), api_name="face")
    connect_inspector(outs)
