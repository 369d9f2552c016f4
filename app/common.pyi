"""Shared UI helpers of the DynaST app: settings, error handling, options and output panels.

The app only talks to :class:`dynast.pipeline.DynaSTPipeline`; nothing here knows about the
model's internals.
"""
from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
from PIL import Image

from dynast.pipeline import (
    CONVERT_HINT,
    DEFAULT_RESOLUTION,
    TASK_TITLES,
    DynaSTPipeline,
    MissingCheckpoint,
    PipelineResult,
    default_device,
    default_precision,
    list_checkpoints,
    resolve_checkpoint,
)

LOG = logging.getLogger("dynast.app")
REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = REPO_ROOT / "examples"
MAX_RESOLUTION = 1024

try:  # Hugging Face ZeroGPU: run the decorated function on a GPU; a no-op elsewhere
    import spaces  # type: ignore[import-not-found]

    def gpu(fn: Callable[..., Any]) -> Callable[..., Any]:
        """Ask ZeroGPU Spaces for a GPU while ``fn`` runs."""
        return spaces.GPU(duration=120)(fn)

except ImportError:  # pragma: no cover - depends on the environment

    def gpu(fn: Callable[..., Any]) -> Callable[..., Any]:
        """No ``spaces`` package: run ``fn`` as it is."""
        return fn


@dataclass
class AppSettings:
    """What the app runs with.

    Attributes:
        checkpoints: task -> checkpoint directory overriding the defaults (env vars and
            ``checkpoints/<task>``, see :func:`dynast.pipeline.resolve_checkpoint`).
        checkpoints_root: where to list selectable checkpoints (default
            ``$DYNAST_CHECKPOINTS_DIR`` or ``checkpoints/``).
        min_resolution: the smallest resolution offered (256; tests use 64).
        device: "cuda" / "cpu" (default: CUDA when present).
    """

    checkpoints: dict[str, str | Path] = field(default_factory=dict)
    checkpoints_root: str | Path | None = None
    min_resolution: int = 256
    device: str | None = None

    def __post_init__(self) -> None:
        self.device = self.device or str(default_device())
        self._pipelines: dict[tuple[str, str], DynaSTPipeline] = {}
        self._lock = threading.Lock()

    # -- checkpoints -------------------------------------------------------------------------
    def default_checkpoint(self, task: str) -> Path | None:
        """The checkpoint a task uses unless the user picks another; None if there is none."""
        try:
            return resolve_checkpoint(task, self.checkpoints.get(task))  # type: ignore[arg-type]
        except MissingCheckpoint:
            return None

    def checkpoint_choices(self, task: str) -> list[str]:
        """Checkpoint directories offered for ``task`` (the default first)."""
        found = [str(p) for p in list_checkpoints(self.checkpoints_root)[task]]
        default = self.default_checkpoint(task)
        if default is not None and str(default) not in found:
            found.insert(0, str(default))
        elif default is not None:
            found.remove(str(default))
            found.insert(0, str(default))
        return found

    def pipeline(self, task: str, checkpoint: str | None) -> DynaSTPipeline:
        """The (cached) pipeline of ``task`` for ``checkpoint`` (None: the default)."""
        ckpt = checkpoint or self.checkpoints.get(task)
        path = resolve_checkpoint(task, ckpt)  # type: ignore[arg-type]
        allowed = {str(p) for p in self.checkpoint_choices(task)}
        if checkpoint and str(path) not in allowed:
            raise MissingCheckpoint(f"{checkpoint} is not one of the offered checkpoints.")
        key = (task, str(path.resolve()))
        with self._lock:
            if key not in self._pipelines:
                self._pipelines[key] = DynaSTPipeline(task, path, device=self.device)  # type: ignore[arg-type]
            return self._pipelines[key]

    def missing_message(self, task: str) -> str:
        """Markdown telling the user that ``task`` has no checkpoint and how to get one."""
        try:
            resolve_checkpoint(task, self.checkpoints.get(task))  # type: ignore[arg-type]
            return ""
        except MissingCheckpoint as exc:
            extra = (f"\n\nFor pose transfer with the authors' DeepFashion weights: download "
                     f"`latest_net_G.pth` (linked from the DynaST repository) and run "
                     f"`{CONVERT_HINT}`." if task == "pose" else "")
            return f"⚠️ **This tab has no model yet.** {exc}{extra}"


# ---------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------

def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn every failure of ``fn`` into a :class:`gr.Error` with a readable message.

    Input problems (``ValueError``: :class:`dynast.semantics.SemanticsError`,
    :class:`dynast.pipeline.PipelineError`) keep their message; anything else is logged
    with its traceback on the server and reported as an internal error.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except ValueError as exc:
            raise gr.Error(str(exc), title="Cannot use this input") from None
        except MemoryError:
            raise gr.Error("Out of memory: choose a lower resolution in Advanced options.",
                           title="Out of memory") from None
        except Exception as exc:  # noqa: BLE001 - never show a traceback to the user
            if type(exc).__name__ == "OutOfMemoryError":
                raise gr.Error("The GPU ran out of memory: choose a lower resolution in "
                               "Advanced options.", title="Out of memory") from None
            LOG.exception("unexpected failure in %s", getattr(fn, "__name__", fn))
            raise gr.Error(f"Something went wrong on the server ({type(exc).__name__}). "
                           "Try other images or a lower resolution; if it persists, please "
                           "report it.", title="Internal error") from None

    return wrapper

from gradio.events import Dependency

class SafeImage(gr.Image):
    """``gr.Image`` whose upload decoding failures become a clear error message.

    With ``type="filepath"`` and ``image_mode=None`` Gradio only opens the file's header, so
    a file that is not an image fails here; the pipeline does the real (careful) decoding.
    """

    def preprocess(self, payload: Any) -> Any:  # noqa: D102
        try:
            return super().preprocess(payload)
        except gr.Error:
            raise
        except Exception as exc:  # noqa: BLE001
            name = getattr(payload, "orig_name", None) or "the uploaded file"
            label = self.label or "image"
            if type(exc).__name__ == "DecompressionBombError":
                msg = (f"{name} declares an enormous number of pixels (a decompression "
                       "bomb?) and was refused; upload a photo of a few megapixels.")
            else:
                msg = (f"{name} cannot be read as an image ({type(exc).__name__}); upload a "
                       "PNG, JPEG or WebP file.")
            raise gr.Error(f"{label}: {msg}", title="Cannot read the image") from None
    from typing import Callable, Literal, Sequence, Any, TYPE_CHECKING
    from gradio.blocks import Block
    if TYPE_CHECKING:
        from gradio.components import Timer
        from gradio.components.base import Component


def image_input(label: str, **kwargs: Any) -> SafeImage:
    """An upload field handing the pipeline a file path (decoded safely there)."""
    return SafeImage(label=label, type="filepath", image_mode=None, sources=["upload", "clipboard"],
                     height=kwargs.pop("height", 300), **kwargs)


# ---------------------------------------------------------------------------------------
# options and outputs
# ---------------------------------------------------------------------------------------

@dataclass
class Options:
    """The components of the "Advanced options" accordion."""

    resolution: gr.Slider
    top_k: gr.Slider
    precision: gr.Radio
    checkpoint: gr.Dropdown

    def inputs(self) -> list[gr.components.Component]:
        return [self.resolution, self.top_k, self.precision, self.checkpoint]


def advanced_options(task: str, settings: AppSettings) -> Options:
    """Build the closed "Advanced options" accordion for ``task``."""
    dev = settings.device or "cpu"
    auto = default_precision(dev)
    with gr.Accordion("Advanced options", open=False):
        with gr.Row():
            resolution = gr.Slider(settings.min_resolution, MAX_RESOLUTION,
                                   value=max(settings.min_resolution, DEFAULT_RESOLUTION[task]),
                                   step=64, label="Resolution (px, long side)",
                                   info="Multiples of 64. Higher is slower and needs more memory.")
            top_k = gr.Slider(1, 16, value=4, step=1, label="Top-k matches",
                              info="Matches each pixel passes to the next block (paper: 4).")
        with gr.Row():
            precision = gr.Radio(["auto", "fp32", "bf16"], value="auto", label="Precision",
                                 info=f"auto = {auto} on this machine (bf16: autocast, faster on "
                                      "GPUs and AMX CPUs).")
            choices = settings.checkpoint_choices(task)
            checkpoint = gr.Dropdown(choices=choices, value=choices[0] if choices else None,
                                     label="Checkpoint", allow_custom_value=False,
                                     info="Directories under checkpoints/ (or "
                                          "$DYNAST_CHECKPOINTS_DIR) holding config.json + "
                                          "model.safetensors.")
        gr.Markdown(f"Device: **{dev}**")
    return Options(resolution, top_k, precision, checkpoint)


@dataclass
class Outputs:
    """The output panel every tab shows."""

    image: gr.Image
    semantics: gr.Image
    warps: gr.Gallery
    confidences: gr.Gallery
    timings: gr.Markdown
    state: gr.State
    inspector_marked: gr.Image
    inspector: gr.Gallery

    def run_outputs(self) -> list[Any]:
        return [self.image, self.semantics, self.warps, self.confidences, self.timings, self.state]


def output_panel(task: str) -> Outputs:
    """Build the outputs: image, semantics, warps, confidences, timings and the inspector."""
    with gr.Row():
        image = gr.Image(label="Generated image (click a pixel to inspect its matches)",
                         type="pil", format="png", interactive=False, height=360,
                         elem_id=f"{task}-output", buttons=["download", "fullscreen"])
        semantics = gr.Image(label="Target semantics (click to inspect too)", type="pil",
                             format="png", interactive=False, height=360,
                             elem_id=f"{task}-semantics")
    timings = gr.Markdown(elem_id=f"{task}-timings")
    warps = gr.Gallery(label="Warped reference per block (coarse → fine; checkerboard = every "
                             "link pruned, no correspondence)", format="png", columns=4,
                       height="auto", object_fit="contain", elem_id=f"{task}-warps")
    confidences = gr.Gallery(label="Confidence per block (sum of kept attention; "
                                   "checkerboard = every link pruned)", format="png", columns=4,
                             height="auto", object_fit="contain", elem_id=f"{task}-confidence")
    with gr.Accordion("Match inspector", open=True):
        gr.Markdown("Click a pixel of the generated image or of the target semantics: every "
                    "block shows that pixel's candidate matches on the reference "
                    "(green discs: kept links, larger = higher weight; red crosses: pruned).")
        with gr.Row():
            marked = gr.Image(label="Clicked pixel", type="pil", format="png",
                              interactive=False, height=260, scale=1,
                              elem_id=f"{task}-inspector-query")
            inspector = gr.Gallery(label="Candidates per block", format="png", columns=4,
                                   height="auto", object_fit="contain", scale=3,
                                   elem_id=f"{task}-inspector")
    state = gr.State(None)
    return Outputs(image, semantics, warps, confidences, timings, state, marked, inspector)


def report(result: PipelineResult) -> tuple[Any, ...]:
    """Pipeline result -> the values of :meth:`Outputs.run_outputs` (warnings shown)."""
    for note in result.warnings:
        gr.Warning(note)
    text = f"⏱ {result.timings_text()}"
    if result.warnings:
        text += "\n\n" + "\n".join(f"- ⚠️ {w}" for w in result.warnings)
    return (result.image, result.semantics, result.warps, result.confidences, text, result)


def resolve_precision(precision: str | None, settings: AppSettings) -> str:
    if precision in (None, "", "auto"):
        return default_precision(settings.device)
    if precision not in ("fp32", "bf16"):
        raise gr.Error(f"precision must be auto, fp32 or bf16, got {precision!r}")
    return precision


def run_pipeline(settings: AppSettings, task: str, reference: Any, target: Any, *,
                 resolution: float, top_k: float, precision: str | None,
                 checkpoint: str | None, target_kind: str = "photo") -> tuple[Any, ...]:
    """Run a task's pipeline with the UI's options and format the outputs."""
    res = int(resolution)
    if res % 64 or not settings.min_resolution <= res <= MAX_RESOLUTION:
        raise gr.Error(f"Resolution must be a multiple of 64 between {settings.min_resolution} "
                       f"and {MAX_RESOLUTION}, got {resolution}.")
    k = int(top_k)
    if not 1 <= k <= 16:
        raise gr.Error(f"Top-k must be between 1 and 16, got {top_k}.")
    pipe = settings.pipeline(task, checkpoint)
    result = pipe(reference, target, resolution=res, top_k=k,
                  precision=resolve_precision(precision, settings),  # type: ignore[arg-type]
                  target_kind=target_kind)  # type: ignore[arg-type]
    return report(result)


def inspect_click(result: PipelineResult | None, evt: gr.SelectData
                  ) -> tuple[Image.Image, list[tuple[Image.Image, str]]]:
    """Select handler: draw the clicked pixel's candidates in every block."""
    if result is None:
        raise gr.Error("Run the model first, then click a pixel of its output.")
    index = evt.index
    if not isinstance(index, (list, tuple)) or len(index) != 2:
        raise gr.Error("Click inside the image to pick a pixel.")
    x, y = float(index[0]), float(index[1])
    marked, panels = result.inspect(x, y, frame="output")
    return marked, panels


def connect_inspector(outputs: Outputs) -> None:
    """Wire clicks on the output image and the semantics drawing to the inspector."""
    handler = user_errors(inspect_click)
    for comp in (outputs.image, outputs.semantics):
        comp.select(handler, inputs=[outputs.state],
                    outputs=[outputs.inspector_marked, outputs.inspector],
                    api_visibility="private", show_progress="minimal")


def missing_banner(task: str, settings: AppSettings) -> None:
    """Show a plain notice at the top of a tab whose task has no checkpoint."""
    msg = settings.missing_message(task)
    if msg:
        gr.Markdown(msg, elem_classes=["dynast-missing"])


def sketch_to_image(value: Any) -> np.ndarray:
    """Flatten a Sketchpad / ImageEditor value to an RGB uint8 drawing on white.

    Raises :class:`gr.Error` when nothing was drawn.
    """
    if value is None:
        raise gr.Error("The drawing is empty: draw the face's outlines (jaw, eyes, brows, "
                       "nose, mouth, hair) with the brush, or choose another target.")
    comp = value.get("composite") if isinstance(value, dict) else value
    if comp is None:
        layers = value.get("layers") if isinstance(value, dict) else None
        comp = layers[0] if layers else None
    if comp is None:
        raise gr.Error("The drawing is empty: draw the face's outlines with the brush first.")
    if isinstance(comp, (str, Path)):
        comp = np.asarray(Image.open(comp))  # a file written by Gradio itself
    arr = np.asarray(comp)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    if arr.shape[2] == 4:
        alpha = arr[:, :, 3:4].astype(np.float32) / 255.0
        arr = (arr[:, :, :3].astype(np.float32) * alpha + 255.0 * (1 - alpha)).astype(np.uint8)
    arr = arr[:, :, :3]
    if (arr.min(axis=2) < 200).mean() < 0.001:
        raise gr.Error("The drawing is empty: draw the face's outlines (jaw, eyes, brows, "
                       "nose, mouth, hair) in a dark colour, or choose another target.")
    return np.ascontiguousarray(arr)


def example_paths(*parts: str) -> list[str]:
    """Sorted example files under examples/<parts...> (empty if the folder is missing)."""
    folder = EXAMPLES.joinpath(*parts)
    if not folder.is_dir():
        return []
    return sorted(str(p) for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))


def env_settings() -> AppSettings:
    """Settings from the environment (used by ``app.py``)."""
    ckpts = {t: os.environ[f"DYNAST_{t.upper()}_CHECKPOINT"] for t in TASK_TITLES
             if os.environ.get(f"DYNAST_{t.upper()}_CHECKPOINT")}
    return AppSettings(checkpoints=ckpts, device=os.environ.get("DYNAST_DEVICE") or None)