"""How a tab's run is wired and reported.

A tab builds its inputs, then :func:`~app.panels.advanced_options` and
:func:`~app.panels.output_panel`, and calls :func:`wire_run` with its handler; the handler
calls :func:`run_task`, which calls the tab's pipeline (held by the settings) and formats what
it returns. Nothing here validates inputs: the pipeline does, and its errors reach the user
through :mod:`app.errors`.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr

from app.errors import (
    check_on_upload,
    failure_status,
    running_status,
    status_markdown,
    user_errors,
)
from app.gallery import NORMALISATIONS, per_block
from app.media import ResultStore, png_file, release_memory
from app.panels import Options, Outputs, checkpoint_note
from app.settings import AppSettings

__all__ = ["RunOptions", "TabParts", "run_task", "wire_run"]

LARGE_RUN_PIXELS = 512 * 512  # above this, freed memory is handed back after the run


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
