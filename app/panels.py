"""The parts every tab shares: options, the output panel, and how a run is wired and reported.

A tab builds its inputs, then calls :func:`advanced_options`, :func:`output_panel` and
:func:`wire_run` with its handler; the handler calls :func:`run_task`, which calls the one
inference pipeline and formats what it returns. Nothing here validates inputs: the pipeline
does, and its errors reach the user through :mod:`app.errors`.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr

from app.errors import (
    check_on_upload,
    failure_status,
    guard_number,
    guard_upload,
    running_status,
    status_markdown,
    user_errors,
)
from app.gallery import NORMALISATIONS, confidence_note, per_block, warp_note
from app.media import ResultStore, png_file, release_memory
from app.settings import AppSettings
from dynast.tasks import get_task

__all__ = ["Options", "Outputs", "RunOptions", "TabParts", "TabText", "advanced_options",
           "output_panel", "wire_run", "run_task", "checkpoint_note", "model_note"]

LARGE_RUN_PIXELS = 512 * 512  # above this, freed memory is handed back after the run


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


@dataclass
class RunOptions:
    """The values of :class:`Options` (and the colour-scale choice) for one request, as the
    handler receives them (sliders send floats; "auto" precision: the settings')."""

    resolution: Any = None
    top_k: Any = None
    precision: str | None = "auto"
    checkpoint: str | None = None
    fit: bool = True
    normalisation: str | None = None


@dataclass
class TabParts:
    """What a task tab built for :func:`wire_run`: its Generate button, options, model note
    and output panel."""

    run: gr.Button
    options: Options
    note: gr.Markdown
    outputs: Outputs


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


def run_task(settings: AppSettings, store: ResultStore, task: str, reference: Any, target: Any,
             options: RunOptions, *, target_kind: str = "photo", progress: Any = None,
             show_model_input: bool = True) -> tuple[Any, ...]:
    """Run ``task``'s pipeline with the UI's ``options`` and return the values of
    :meth:`Outputs.run_outputs`."""
    resolution, top_k, precision = options.resolution, options.top_k, options.precision
    checkpoint, fit = options.checkpoint, options.fit
    normalisation = options.normalisation or NORMALISATIONS[0]
    entry, note = settings.serving_checkpoint(settings.checkpoint(task, checkpoint))
    pipe = settings.pipeline(task, entry.path)

    def stage(fraction: float, what: str) -> None:
        if progress is not None:
            progress(fraction, desc=what)

    result = pipe(reference, target, resolution=_number(resolution), top_k=_number(top_k),
                  precision=None if precision in (None, "", "auto") else precision,
                  target_kind=target_kind, fit=bool(fit), progress=stage)
    warnings = [note, *result.warnings] if note else list(result.warnings)
    limit = f" ({entry.limit})" if entry.limit else ""
    status = status_markdown(timings=f"{result.timings_text()} · checkpoint {entry.name}{limit}",
                             warnings=warnings)
    # warnings are said once, in the status line under Generate (toasts would repeat them and,
    # on a phone, cover the page)
    stage(0.95, "saving the pictures")
    values = (png_file(result.image, task),
              png_file(result.semantics, task, "semantics"),
              [(png_file(im, task, f"warp_block{i + 1}"), cap)
               for i, (im, cap) in enumerate(result.warps)],
              [(png_file(im, task, f"confidence_block{i + 1}"), cap)
               for i, (im, cap) in enumerate(result.confidence_panels(per_block(normalisation)))],
              status,
              # "What the model saw" only when there is a picture of it (a pose given as
              # keypoints has none: its drawing is the semantics panel)
              gr.Image(value=png_file(result.model_input, task, "model_input"),
                       visible=show_model_input)
              if result.model_input is not None else gr.Image(value=None, visible=False),
              gr.Image(value=png_file(result.pasted, task, "in_your_photo"), visible=True)
              if result.pasted is not None else gr.Image(value=None, visible=False),
              store.put(result))
    h, w = result.resolution
    del result
    if h * w > LARGE_RUN_PIXELS:
        release_memory(settings.device)
    return values


def _number(value: Any) -> Any:
    """A slider's float as an int when it is one (Gradio sends 256.0); anything else as is,
    for the pipeline to judge."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def model_note(settings: AppSettings, task: str) -> gr.Markdown:
    """The line at the top of a tab naming its checkpoint and that checkpoint's limit."""
    return gr.Markdown(checkpoint_note(settings, task), elem_id=f"{task}-note",
                       elem_classes=["dynast-model-note"])


def wire_run(parts: TabParts, handler: Callable[..., Any], inputs: list[Any],
             settings: AppSettings, store: ResultStore) -> None:
    """Wire a tab: Generate (clear the status, run ``handler`` on ``inputs``, show a failure
    inline), the checkpoint note, the colour-scale choice and the inspector."""
    run, opts, note, outs = parts.run, parts.options, parts.note, parts.outputs
    task = outs.task
    for component in inputs:
        if isinstance(component, gr.Image):
            check_on_upload(component, outs.status)
    remotes = (settings.remotes or {}).get(task, [])
    if remotes:  # a checkpoint fetched on demand: start it when picked, show its progress
        timer = gr.Timer(2.0, active=any(r.running for r in remotes))

        def pick(name: str | None) -> tuple[str, Any]:
            for remote in remotes:
                if remote.name == name and remote.path is None and not remote.error:
                    remote.start()
            return (checkpoint_note(settings, task, name),
                    gr.Timer(active=any(r.running for r in remotes)))

        opts.checkpoint.change(pick, inputs=opts.checkpoint, outputs=[note, timer],
                               api_visibility="private", queue=False)
        timer.tick(pick, inputs=opts.checkpoint, outputs=[note, timer],
                   api_visibility="private", queue=False, show_progress="hidden")
    else:
        opts.checkpoint.change(lambda name: checkpoint_note(settings, task, name),
                               inputs=opts.checkpoint, outputs=note, api_visibility="private",
                               queue=False)
    # Generate is greyed out from the click until the run has ended (so a double click
    # cannot queue a second run), whether it succeeded or failed
    run.click(lambda: (running_status(), "", None, None, gr.Button(interactive=False)),
              outputs=[outs.status, outs.inspector_status, outs.inspector_marked,
                       outs.inspector, run],
              queue=False, api_visibility="private", show_progress="hidden")
    event = run.click(handler, inputs=inputs, outputs=outs.run_outputs(), api_name=outs.task)
    event.failure(failure_status, outputs=[outs.status], api_visibility="private",
                  show_progress="hidden")
    # .then follows a success only in the browser (Gradio 6.31), so a failure re-enables too
    for follow in (event.then, event.failure):
        follow(lambda: gr.Button(interactive=True), outputs=run, queue=False,
               api_visibility="private", show_progress="hidden")

    @user_errors
    def rescale(key: str | None, normalisation: str, request: gr.Request) -> Any:
        if not key:
            return gr.skip()
        items = store.get(key).confidence_panels(per_block(normalisation))
        return [(png_file(im, task, f"confidence_block{i + 1}"), cap)
                for i, (im, cap) in enumerate(items)]

    outs.normalisation.change(rescale, inputs=[outs.key, outs.normalisation],
                              outputs=[outs.confidences], api_visibility="private")

    @user_errors
    def inspect(key: str | None, request: gr.Request, evt: gr.SelectData) -> tuple[Any, ...]:
        result = store.get(key)
        index = evt.index
        if not isinstance(index, (list, tuple)) or len(index) != 2:
            raise gr.Error("Click inside the image to pick a pixel.", title="Click a pixel",
                           print_exception=False)
        marked, panels = result.inspect(float(index[0]), float(index[1]), frame="output")
        items = [(png_file(im, task, f"inspect_block{i + 1}"), caption)
                 for i, (im, caption) in enumerate(panels)]
        return png_file(marked, task, "inspected_pixel"), items, ""

    for comp in (outs.image, outs.semantics):
        ev = comp.select(inspect, inputs=[outs.key],
                         outputs=[outs.inspector_marked, outs.inspector, outs.inspector_status],
                         api_visibility="private", show_progress="minimal")
        ev.failure(failure_status, outputs=[outs.inspector_status], api_visibility="private",
                   show_progress="hidden")
