"""The "Faces" tab: a face with the reference's appearance and the target's edges.

The target comes from exactly one source, chosen by a sub-tab: a face photo (edges
extracted), an uploaded line drawing, or a drawing made in the app. The choice is a (hidden)
input of the handler, set by the sub-tabs and by the examples.
"""
from __future__ import annotations

from typing import Any

import gradio as gr
import numpy as np

from app.errors import guard_upload, user_errors
from app.media import EXAMPLES, ResultStore, example_name, example_paths, sketch_to_image
from app.panels import (
    TabText,
    advanced_options,
    model_note,
    output_panel,
    reference_input,
)
from app.run import RunOptions, TabParts, run_task, wire_run
from app.settings import AppSettings
from app.source_tabs import SourceTabs

SOURCES = ("face photo", "uploaded line drawing", "drawn")
# the sketchpad opens with no tool selected; pick the (thin, black) brush for the user
SELECT_BRUSH = ("() => { setTimeout(() => { const b = document.querySelector("
                "'#face-sketch button[aria-label=\"Brush\"]'); "
                "if (b && !b.classList.contains('highlight')) b.click(); }, 400); }")
EXAMPLE_SKETCH = EXAMPLES / "face" / "sketch" / "2_ddnm_00234_lines.png"
TEXT = TabText("face", semantics_label="Target edges (click to inspect)",
               model_input_label="What the model saw")


def example_sketch_layer() -> dict[str, Any] | None:
    """The example sketch as an editable sketchpad layer (so the eraser works on it)."""
    if not EXAMPLE_SKETCH.is_file():
        return None
    from PIL import Image

    grey = np.asarray(Image.open(EXAMPLE_SKETCH).convert("L"))
    rgba = np.zeros(grey.shape + (4,), np.uint8)
    rgba[..., 3] = 255 - grey  # ink opaque, paper transparent
    return {"background": None, "layers": [rgba], "composite": rgba}


def make_handler(settings: AppSettings, store: ResultStore):
    """The /face endpoint."""

    @user_errors
    def face(reference: str | None, target: str | None, target_source: str = "face photo",
             line_drawing: str | None = None, drawing: Any = None, resolution: float = 256,
             top_k: float = 4, precision: str = "auto", checkpoint: str | None = None,
             fit: bool = True, normalisation: str | None = None, request: gr.Request = None,
             progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
        """Edge-guided face: the reference's appearance on the target's edges.

        Args:
            reference: photo of the face whose appearance is used.
            target: a face photo whose edges are extracted (target_source "face photo").
            target_source: "face photo" (target), "uploaded line drawing" (line_drawing:
                dark lines on a light background) or "drawn" (drawing, the sketchpad).
        Returns the generated image first, then the target edges drawn, warps, confidences,
        the status line and what the model saw.
        """
        if reference is None:
            raise gr.Error("Upload a reference face photo.", title="Reference missing",
                           print_exception=False)
        if target_source == "face photo":
            tgt, kind = target, "photo"
            missing = "Upload a target face photo (or use the Line drawing or Draw tab)."
        elif target_source == "uploaded line drawing":
            tgt, kind = line_drawing, "sketch"
            missing = "Upload a line drawing: dark lines on a light background."
        elif target_source == "drawn":
            tgt, kind, missing = sketch_to_image(drawing), "sketch", ""
        else:
            raise gr.Error(f"target_source must be one of {', '.join(SOURCES)}.",
                           print_exception=False)
        if tgt is None:
            raise gr.Error(missing, title="Target missing", print_exception=False)
        return run_task(settings, store, "face", reference, tgt,
                        RunOptions(resolution, top_k, precision, checkpoint, fit,
                                   normalisation),
                        target_kind=kind, progress=progress)

    return face


def build(settings: AppSettings, store: ResultStore) -> None:
    """Build the tab (inside a ``gr.Tab``)."""
    note = model_note(settings, "face")
    with gr.Row(equal_height=False):
        with gr.Column():
            reference = reference_input("Reference face (whose look to copy)", "face-reference")
        with gr.Column():
            with SourceTabs("face", SOURCES, "Target from") as choice:
                with choice.tab("Face photo", "face photo"):
                    target = guard_upload(gr.Image(
                        label="Target face photo (its edges are extracted)", type="filepath",
                        image_mode=None, sources=["upload", "clipboard"], height=270,
                        elem_id="face-target"))
                with choice.tab("Line drawing", "uploaded line drawing"):
                    line_drawing = guard_upload(gr.Image(
                        label="Line drawing (dark lines on white)", type="filepath",
                        image_mode=None, sources=["upload", "clipboard"], height=270,
                        elem_id="face-line-drawing"))
                with choice.tab("Draw", "drawn") as tab_draw:
                    # the instructions above the pad: its own label is cut by the toolbar on
                    # a phone
                    gr.Markdown("Draw the face's lines: jaw, eyes, brows, nose, lips, hair.",
                                elem_classes=["dynast-note"])
                    drawing = guard_upload(gr.Sketchpad(
                        label="Drawing",
                        type="numpy", image_mode="RGBA", canvas_size=(512, 512), height=420,
                        brush=gr.Brush(default_size=3, colors=["#000000"],
                                       color_mode="fixed"),
                        eraser=gr.Eraser(default_size=14), elem_id="face-sketch"),
                        "Drawing")
                    start = gr.Button("Start from an example sketch", size="sm",
                                      elem_id="face-sketch-example")
    source = choice.radio
    refs = example_paths("face", "reference")
    tgts = example_paths("face", "target")
    rows: list[list[Any]] = [[r, t, None, "face photo"] for r, t in zip(refs, tgts)]
    labels = [f"{example_name(r)} → edges of the photo '{example_name(t)}'"
              for r, t in zip(refs, tgts)]
    if refs and EXAMPLE_SKETCH.is_file():
        rows.append([refs[-1], None, str(EXAMPLE_SKETCH), "uploaded line drawing"])
        labels.append(f"{example_name(refs[-1])} → an uploaded line drawing")
    if rows:  # every example sets the target source too
        gr.Examples(rows, inputs=[reference, target, line_drawing, source],
                    example_labels=labels,
                    label="Examples (click one: it fills the inputs and picks the target tab)")
    opts = advanced_options("face", settings)
    run = gr.Button("Generate", variant="primary", elem_id="face-run")
    outs = output_panel(TEXT)

    start.click(example_sketch_layer, outputs=drawing, api_visibility="private").then(
        None, js=SELECT_BRUSH)
    tab_draw.select(None, js=SELECT_BRUSH)
    wire_run(TabParts(run, opts, note, outs), make_handler(settings, store),
             [reference, target, source, line_drawing, drawing, *opts.inputs(),
              outs.normalisation], settings, store)
