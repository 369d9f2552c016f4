"""The parts every tab shows: the reference upload, the options, the checkpoint note and
the output panel. How a run is wired and reported: :mod:`app.run`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from app.errors import (
    guard_number,
    guard_upload,
)
from app.gallery import NORMALISATIONS, confidence_note, warp_note
from app.settings import AppSettings
from dynast.tasks import get_task

__all__ = ["Options", "Outputs", "TabText", "advanced_options", "output_panel",
           "checkpoint_note", "model_note", "reference_input"]


@dataclass(frozen=True)
class TabText:
    """The words one tab uses for its outputs."""

    task: str
    semantics_label: str  # e.g. "Target pose (click a pixel to inspect it)"
    model_input_label: str = "What the model saw (target)"
    show_model_input: bool = True  # style: the semantics drawing already is the content


def reference_input(label: str, elem_id: str) -> gr.Image:
    """A tab's reference photo upload (a file path; checked when a file arrives)."""
    return guard_upload(gr.Image(label=label, type="filepath", image_mode=None,
                                 sources=["upload", "clipboard"], height=320, elem_id=elem_id))


@dataclass
class Options:
    """The components of the "Advanced options" accordion (and the fit checkbox)."""

    resolution: gr.Slider
    top_k: gr.Slider
    precision: gr.Radio
    checkpoint: gr.Dropdown
    fit: gr.Checkbox

    def inputs(self) -> list[Any]:
        """The components in the order of :class:`RunOptions`' first five fields."""
        return [self.resolution, self.top_k, self.precision, self.checkpoint, self.fit]


def checkpoint_note(settings: AppSettings, task: str, name: str | None = None) -> str:
    """One line naming the checkpoint a tab uses and its limit (from its model card)."""
    entries = settings.catalogue(task)
    if not entries:
        return f"⚠️ **{settings.missing_message(task)}**"
    entry = next((e for e in entries if e.name == name), entries[0])
    limit = f": {entry.limit}" if entry.limit else ""
    if entry.remote is None or entry.remote.path is not None:
        return f"Model: checkpoint **{entry.name}**{limit}"
    local = next((e for e in entries if e.remote is None), None)
    if entry.remote.error:  # one plain sentence: why, and who answers instead
        using = f"; using the shipped checkpoint **{local.name}**." if local else "."
        return f"⚠️ {entry.remote.status().removesuffix('.')}{using}"
    meanwhile = (f" Until it is ready the shipped checkpoint **{local.name}** answers"
                 f"{': ' + local.limit if local.limit else ''}." if local else "")
    return f"Model: **{entry.name}**{limit}. {entry.remote.status()}{meanwhile}"


def advanced_options(task: str, settings: AppSettings) -> Options:
    """The closed "Advanced options" accordion of ``task``."""
    dev = settings.device or "cpu"
    entries = settings.catalogue(task)
    spec = get_task(task)
    with gr.Accordion("Advanced options", open=False):
        with gr.Row():
            resolution = guard_number(gr.Slider(
                settings.min_resolution, spec.max_resolution, step=64,
                value=settings.default_resolution
                or max(settings.min_resolution, spec.default_resolution),
                label="Resolution (px, long side)",
                info="Multiples of 64. Higher is slower and needs more memory."),
                "resolution", "256")
            top_k = guard_number(gr.Slider(
                1, 16, value=4, step=1, label="Top-k matches",
                info="Matches each pixel passes to the next block (paper: 4)."), "top-k", "4")
        with gr.Row():
            precision = gr.Radio(["auto", "fp32", "bf16"], value="auto", label="Precision",
                                 info=f"auto = {settings.auto_precision} here.")
            names = [e.name for e in entries]
            checkpoint = gr.Dropdown(names, value=names[0] if names else None,
                                     label="Checkpoint", allow_custom_value=False,
                                     info="Folders under checkpoints/ with config.json + "
                                          "model.safetensors.")
        gr.Markdown(f"Device: **{dev}**")
    fit = gr.Checkbox(value=True, label="Fit to the training frame", visible=spec.can_fit,
                      elem_id=f"{task}-fit",
                      info="Crop, scale and centre the photo as the model's training pictures "
                           "were (see 'What the model saw'), then map the result back.")
    return Options(resolution, top_k, precision, checkpoint, fit)


@dataclass
class Outputs:
    """The output panel every tab shows."""

    task: str
    image: gr.Image
    semantics: gr.Image
    model_input: gr.Image
    pasted: gr.Image
    status: gr.Markdown
    warps: gr.Gallery
    normalisation: gr.Radio
    confidences: gr.Gallery
    key: gr.State
    inspector_marked: gr.Image
    inspector: gr.Gallery
    inspector_status: gr.Markdown

    def run_outputs(self) -> list[Any]:
        """What a run returns, the generated image first (the API's order)."""
        return [self.image, self.semantics, self.warps, self.confidences, self.status,
                self.model_input, self.pasted, self.key]


def _picture(label: str, elem_id: str, visible: bool = True) -> gr.Image:
    """One output picture (PNG, downloadable; a row of them stacks on narrow screens)."""
    return gr.Image(label=label, type="filepath", format="png", interactive=False, height=360,
                    min_width=240, elem_id=elem_id, visible=visible,
                    buttons=["download", "fullscreen"])


def output_panel(text: TabText) -> Outputs:
    """Build the outputs: image, semantics, what the model saw, galleries and inspector."""
    task = text.task
    status = gr.Markdown(elem_id=f"{task}-status", elem_classes=["dynast-status"])
    with gr.Row(equal_height=True):
        image = _picture("Result (click a pixel to inspect it)", f"{task}-output")
        model_input = _picture(text.model_input_label, f"{task}-model-input",
                               visible=text.show_model_input)
        pasted = _picture("Result in your photo", f"{task}-pasted", visible=False)
        semantics = _picture(text.semantics_label, f"{task}-semantics")
    with gr.Column(elem_classes=["dynast-blocks"]):
        gr.Markdown("### Warped reference, block by block", elem_classes=["dynast-h"])
        gr.Markdown(warp_note(task), elem_classes=["dynast-note"], elem_id=f"{task}-warps-note")
        warps = gr.Gallery(show_label=False, format="png", columns=4, height="auto",
                           object_fit="contain", allow_preview=True,
                           elem_id=f"{task}-warps", elem_classes=["dynast-gallery"])
    with gr.Column(elem_classes=["dynast-blocks"]):
        gr.Markdown("### Confidence, block by block", elem_classes=["dynast-h"])
        gr.Markdown(confidence_note(task), elem_classes=["dynast-note"],
                    elem_id=f"{task}-confidence-note")
        normalisation = gr.Radio(list(NORMALISATIONS), value=NORMALISATIONS[0],
                                 label="Colour scale", elem_id=f"{task}-normalisation")
        confidences = gr.Gallery(show_label=False, format="png", columns=4, height="auto",
                                 object_fit="contain", elem_id=f"{task}-confidence",
                                 elem_classes=["dynast-gallery"])
    with gr.Accordion("Match inspector", open=True):
        gr.Markdown("Click a pixel of the generated image or of the target drawing: every "
                    "block then shows that pixel's candidate matches on the reference (green "
                    "discs: kept links, larger = higher weight; red crosses: pruned). Click on "
                    "the picture itself: the blank margin around it does not count.",
                    elem_classes=["dynast-note"])
        inspector_status = gr.Markdown(elem_id=f"{task}-inspector-status",
                                       elem_classes=["dynast-status"])
        with gr.Row():
            marked = gr.Image(label="Clicked pixel", type="filepath", format="png",
                              interactive=False, height=260, scale=1,
                              elem_id=f"{task}-inspector-query")
            inspector = gr.Gallery(label="Candidates per block", format="png", columns=4,
                                   height="auto", object_fit="contain", scale=3,
                                   elem_id=f"{task}-inspector",
                                   elem_classes=["dynast-gallery", "dynast-inspector"])
    key = gr.State(None)
    return Outputs(task, image, semantics, model_input, pasted, status, warps, normalisation,
                   confidences, key, marked, inspector, inspector_status)


def model_note(settings: AppSettings, task: str) -> gr.Markdown:
    """The line at the top of a tab naming its checkpoint and that checkpoint's limit."""
    return gr.Markdown(checkpoint_note(settings, task), elem_id=f"{task}-note",
                       elem_classes=["dynast-model-note"])
