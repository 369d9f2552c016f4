"""The inference pipeline: user inputs in, a picture and its explanation out.

One call: validate the options once, ``spec.prepare`` (the task turns the inputs into model
tensors with :mod:`dynast.semantics`), ``runner(model, ..., top_k=, precision=)``, build the
:class:`~dynast.inference.result.PipelineResult`. The app and ``python -m dynast generate``
both call this.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch

from dynast.errors import MissingCheckpoint, PipelineError
from dynast.inference.checkpoints import resolve_checkpoint
from dynast.inference.result import PipelineResult, build_result
from dynast.inference.runtime import (
    PRECISIONS,
    check_device,
    default_device,
    default_precision,
    precision_context,
)
from dynast.tasks import PrepareRequest, TaskSpec, get_task
from dynast.tasks.spec import Prepared

if TYPE_CHECKING:  # pragma: no cover
    from dynast.model import DynaST, DynaSTOutput

__all__ = ["DynaSTPipeline", "ModelRunner", "LocalRunner", "run_model", "check_resolution",
           "parse_top_k", "MAX_TOP_K"]

MAX_TOP_K = 16
StageProgress = Callable[[float, str], None]


LevelProgress = Callable[[int, int], None]
"""``on_level(done, total)``: called by the model after each of its matching levels."""


class ModelRunner(Protocol):
    """Runs the model call: CPU tensors in, the model's output back (docs/CONTRACTS.md, 6)."""

    def __call__(self, model: DynaST, ref_image: torch.Tensor, ref_semantics: torch.Tensor | None,
                 target_semantics: torch.Tensor, *, top_k: int, precision: str,
                 on_level: LevelProgress | None = None) -> DynaSTOutput: ...


class LocalRunner:
    """The default runner: the model's own device, in this process, one call per model at a
    time (calls on other models run in parallel)."""

    def __init__(self) -> None:
        self._locks: dict[int, threading.Lock] = {}
        self._guard = threading.Lock()

    def __call__(self, model: DynaST, ref_image: torch.Tensor, ref_semantics: torch.Tensor | None,
                 target_semantics: torch.Tensor, *, top_k: int, precision: str,
                 on_level: LevelProgress | None = None) -> DynaSTOutput:
        with self._guard:
            lock = self._locks.setdefault(id(model), threading.Lock())
        with lock:
            return run_model(model, ref_image, ref_semantics, target_semantics, top_k=top_k,
                             precision=precision, on_level=on_level)


def run_model(model: DynaST, ref_image: torch.Tensor, ref_semantics: torch.Tensor | None,
              target_semantics: torch.Tensor, *, top_k: int, precision: str,
              on_level: LevelProgress | None = None) -> DynaSTOutput:
    """One inference call of ``model`` on its own device: the inputs (B, C, H, W) moved
    there, inference mode, ``precision`` (:func:`~dynast.inference.runtime.precision_context`),
    warps and matches returned; waits for CUDA to finish."""
    device = next(model.parameters()).device
    args = [None if t is None else t.to(device) for t in
            (ref_image, ref_semantics, target_semantics)]
    with torch.inference_mode(), precision_context(device, precision):
        out = model(args[0], args[1], args[2], return_warps=True, return_matches=True,
                    top_k=top_k, on_level=on_level)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return out


def _load_model(path: Path, device: torch.device) -> DynaST:
    """The model saved in ``path``, on ``device``, in eval mode. A checkpoint that does not
    load is :class:`MissingCheckpoint` (not a user error)."""
    from dynast.model import DynaST

    try:
        model = DynaST.from_pretrained(path)
    except Exception as exc:  # a broken checkpoint must not look like a user error
        raise MissingCheckpoint(
            f"The checkpoint in {path.name} could not be loaded ({exc}). Re-create it "
            "(e.g. `python -m dynast.convert FILE DIR`)."
        ) from exc
    return model.to(device).eval()


def _integral(value: object, name: str, example: str) -> int:
    """An int from an int or an integral float (sliders send 4.0); anything else refused."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise PipelineError(f"{name} must be a whole number such as {example}, got {value!r}")
    if not float(value).is_integer():
        raise PipelineError(f"{name} must be a whole number such as {example}, got {value!r}")
    return int(value)


def check_resolution(value: object, spec: TaskSpec) -> int | tuple[int, int]:
    """A resolution for ``spec``: the canvas' long side (a multiple of 64) or (height, width)
    (multiples of 8), within the task's limits. Raises :class:`PipelineError` otherwise."""
    lo, hi = spec.min_resolution, spec.max_resolution
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise PipelineError(f"resolution as a pair must be (height, width), got {value!r}")
        h, w = (_integral(v, "each side of the resolution", "256") for v in value)
        if h % 8 or w % 8 or not (lo <= h <= hi and lo <= w <= hi):
            raise PipelineError(f"resolution (height, width) must be multiples of 8 between "
                                f"{lo} and {hi}, got {h}x{w}")
        return h, w
    if isinstance(value, str):
        raise PipelineError(f"resolution must be a number (the long side, e.g. 256) or a "
                            f"(height, width) pair such as (256, 176), got the text {value!r}")
    res = _integral(value, "resolution", "256")
    if res % 64 or not lo <= res <= hi:
        raise PipelineError(f"resolution must be a multiple of 64 between {max(lo, 64)} and "
                            f"{hi}, got {res}")
    return res


def parse_top_k(value: object) -> int | None:
    """A user's top-k option: None (the checkpoint's) or a whole number of matches in 1..16
    (sliders send 4.0); :class:`PipelineError` otherwise."""
    if value is None:
        return None
    k = _integral(value, "top-k", "4")
    if not 1 <= k <= MAX_TOP_K:
        raise PipelineError(f"top-k must be between 1 and {MAX_TOP_K}, got {k}")
    return k


def _check_precision(value: object) -> str:
    if value not in PRECISIONS:
        raise PipelineError(f"precision must be one of {', '.join(PRECISIONS)}, got {value!r}")
    return str(value)


def _image_tensor(img: np.ndarray) -> torch.Tensor:
    """uint8 (H, W, 3) -> float (1, 3, H, W) in [-1, 1]."""
    t = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).float() / 127.5 - 1.0
    return t.unsqueeze(0)


def _sem_tensor(sem: np.ndarray | None) -> torch.Tensor | None:
    """float (C, H, W) -> (1, C, H, W)."""
    if sem is None:
        return None
    return torch.from_numpy(np.ascontiguousarray(sem, dtype=np.float32)).unsqueeze(0)


class DynaSTPipeline:
    """DynaST inference for one task (see :func:`dynast.tasks.task_names`).

    Args:
        task: a registered task name ("pose", "face", "style") or a :class:`TaskSpec`.
        checkpoint: any source :func:`~dynast.inference.checkpoints.resolve_checkpoint`
            accepts (directory, name, Hub id, URL, ``gdrive:ID``, alias); None: the task's
            default. A source that does not exist is an error naming it.
        device: "cuda", "cpu", ... (default: CUDA when present).
        precision: "fp32", "bf16" or "fp16" (default: the device's fastest native one).
        resolution: the canvas' long side (a multiple of 64) or (height, width) (multiples
            of 8); default: the task's training size.
        top_k: matches kept per query between blocks (default: the checkpoint's).
        model: an already-built model to use instead of loading ``checkpoint``.
        runner: runs the model call (default :class:`LocalRunner`); a ZeroGPU Space passes
            one that moves the call onto the GPU.

    Call it with the reference and the target (for style: the style image, then the
    content photo). The checkpoint is resolved here, once; the model is loaded at the first
    call (or by :meth:`from_pretrained`) and held by this pipeline: keep the pipeline to
    reuse the model.
    """

    def __init__(self, task: str | TaskSpec, checkpoint: str | Path | None = None, *,
                 device: str | torch.device | None = None, precision: str | None = None,
                 resolution: int | tuple[int, int] | None = None, top_k: int | None = None,
                 model: DynaST | None = None, runner: ModelRunner | None = None) -> None:
        self.spec = get_task(task)
        self.task = self.spec.name
        self.device = check_device(device) if device is not None else default_device()
        self.precision = (_check_precision(precision) if precision is not None
                          else default_precision(self.device))
        self.resolution = (check_resolution(resolution, self.spec) if resolution is not None
                           else self.spec.default_resolution)
        self.top_k = parse_top_k(top_k)
        self.runner: ModelRunner = runner or LocalRunner()
        self._model = model
        self._model_lock = threading.Lock()
        self.checkpoint: Path | None = None
        if model is None:
            self.checkpoint = resolve_checkpoint(checkpoint, self.task)
        self.load_seconds = 0.0  # how long loading the model took (0 until it is loaded)

    @classmethod
    def from_pretrained(cls, source: str | Path | None = None, *, task: str | TaskSpec,
                        device: str | torch.device | None = None, precision: str | None = None,
                        resolution: int | tuple[int, int] | None = None,
                        top_k: int | None = None,
                        runner: ModelRunner | None = None) -> DynaSTPipeline:
        """A pipeline for ``task`` with the checkpoint ``source`` (None: the task's default)
        resolved and its model loaded now (the other arguments: see the class)."""
        pipe = cls(task, source, device=device, precision=precision, resolution=resolution,
                   top_k=top_k, runner=runner)
        pipe.model  # noqa: B018 - load now
        return pipe

    @property
    def model(self) -> DynaST:
        """The model (loaded on first use, then held)."""
        with self._model_lock:
            if self._model is None:
                assert self.checkpoint is not None
                t0 = time.perf_counter()
                self._model = _load_model(self.checkpoint, self.device)
                self.load_seconds = time.perf_counter() - t0
            return self._model

    @property
    def config(self) -> Any:
        return self.model.config

    def check_channels(self, prepared: Prepared) -> None:
        """Raise :class:`PipelineError` unless the model takes the semantics prepared."""
        cfg, title = self.model.config, self.spec.title
        got = prepared.target_semantics.shape[0]
        ref_got = 0 if prepared.ref_semantics is None else prepared.ref_semantics.shape[0]
        if got != cfg.semantic_nc or ref_got != cfg.ref_semantic_nc:
            raise PipelineError(
                f"This checkpoint expects {cfg.semantic_nc}-channel target and "
                f"{cfg.ref_semantic_nc}-channel reference semantics, but the {title} task "
                f"computes {got} and {ref_got}; pick a checkpoint made for this task."
            )

    def __call__(self, reference: Any, target: Any, *,
                 resolution: int | tuple[int, int] | None = None, top_k: int | None = None,
                 precision: str | None = None, target_kind: str = "photo", fit: bool = True,
                 progress: StageProgress | None = None) -> PipelineResult:
        """Generate an image with the appearance of ``reference`` and the layout of ``target``.

        ``target``: pose: a photo or a :class:`~dynast.tasks.PoseTarget`; face: a face photo
        or a line drawing (``target_kind="sketch"``); style: the content photo (``reference``
        is then the style image). ``fit``: fit photos to the training frame (tasks that can).
        ``progress(fraction, stage)`` is called as the stages start.
        """
        t_start = time.perf_counter()
        res = self.resolution if resolution is None else check_resolution(resolution, self.spec)
        k = self.top_k if top_k is None else parse_top_k(top_k)
        prec = self.precision if precision is None else _check_precision(precision)
        if target_kind not in self.spec.target_kinds:
            raise PipelineError(f"the {self.spec.title} task takes target_kind "
                                f"{' or '.join(map(repr, self.spec.target_kinds))}, "
                                f"got {target_kind!r}")
        report = progress or (lambda fraction, stage: None)
        timings: dict[str, float] = {}

        report(0.0, "computing the semantics")  # first: bad inputs fail before any loading
        t0 = time.perf_counter()
        request = PrepareRequest(resolution=res, target_kind=target_kind, fit=bool(fit))
        prepared = self.spec.prepare(reference, target, request)
        timings["semantics"] = time.perf_counter() - t0

        report(0.2, "loading the model")
        t0 = time.perf_counter()
        model = self.model
        timings["load"] = time.perf_counter() - t0
        k = int(model.config.top_k) if k is None else k
        self.check_channels(prepared)

        report(0.3, "running the model")
        t0 = time.perf_counter()
        def level_done(done: int, total: int) -> None:
            report(0.3 + 0.6 * done / total, f"matching: level {done} of {total} done")

        out = self.runner(model, _image_tensor(prepared.reference),
                          _sem_tensor(prepared.ref_semantics),
                          _sem_tensor(prepared.target_semantics), top_k=k, precision=prec,
                          on_level=level_done)
        timings["model"] = time.perf_counter() - t0

        report(0.9, "drawing the warps")
        t0 = time.perf_counter()
        result = build_result(out, prepared, task=self.task, precision=prec,
                              device=str(self.device), top_k=k, timings=timings,
                              checkpoint=self.checkpoint.name if self.checkpoint else "")
        timings["visualise"] = time.perf_counter() - t0
        timings["total"] = time.perf_counter() - t_start
        return result
