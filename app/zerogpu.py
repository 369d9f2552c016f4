"""Run only the generator call on a ZeroGPU Space's GPU.

On a ZeroGPU Space a GPU is attached only while a function decorated with ``spaces.GPU``
runs, and that function runs in a forked worker process: its arguments and its result are
pickled across (CPU tensors travel as shared-memory handles). So here:

* the app loads its models on the CPU at start (``DynaSTPipeline(..., device="cpu")``) and
  computes semantics and PNGs in the main process, off the GPU;
* :class:`ZeroGPURunner` is the pipeline's model runner (section 6 of docs/CONTRACTS.md):
  it hands a :class:`ModelRef` (config and weights: the model's spectral-norm
  parametrizations cannot be pickled) and the CPU tensors to :func:`_model_call`, the only
  decorated function, which moves the model to CUDA, runs it and returns a compact CPU copy
  of the output (:func:`compact_output`);
* the GPU time asked for, :func:`gpu_seconds`, grows with the number of pixels, since a
  shorter request gets a better place in ZeroGPU's queue.

Off a ZeroGPU Space (no ``spaces`` package, or ``SPACES_ZERO_GPU`` unset) ``spaces.GPU``
returns the function unchanged, so the runner runs in-process on CUDA if present, else on
the CPU: that is how the tests exercise it.
"""
from __future__ import annotations

import math
import os
import pickle
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from app.errors import LOG
from dynast.attention import Matches
from dynast.inference.pipeline import run_model
from dynast.inference.runtime import Capability, default_precision

if TYPE_CHECKING:  # pragma: no cover
    from dynast.model import DynaST, DynaSTOutput

__all__ = ["on_zerogpu", "make_runner", "zerogpu_capability", "zerogpu_precision",
           "gpu_seconds", "compact_output", "output_nbytes", "ModelRef", "ZeroGPURunner",
           "GPU_SECONDS_BASE",
           "GPU_SECONDS_PER_MEGAPIXEL", "GPU_SECONDS_MAX"]

# Requested GPU seconds = base + per megapixel of the batch, capped. The base covers the
# worker's start (CUDA context, the model's copy to the GPU, cuDNN autotuning of new shapes);
# the model itself takes well under a second per megapixel on a ZeroGPU slice.
GPU_SECONDS_BASE = 10
GPU_SECONDS_PER_MEGAPIXEL = 20
GPU_SECONDS_MAX = 120

GpuDecorator = Callable[..., Callable[[Callable[..., Any]], Callable[..., Any]]]
_MODEL_LOCK = threading.Lock()  # one model call at a time per process (one GPU)


def on_zerogpu() -> bool:
    """True on a ZeroGPU Space: the ``spaces`` package is installed and says so."""
    if os.environ.get("SPACES_ZERO_GPU", "").lower() not in ("1", "t", "true"):
        return False
    try:
        import spaces.config  # type: ignore[import-not-found]
    except ImportError:
        return False
    return bool(spaces.config.Config.zero_gpu)


def zerogpu_capability() -> Capability:
    """The CUDA capability of ZeroGPU's card (as the ``spaces`` package reports it; an H200
    slice, 9.0, if the package is absent). The main process never sees the GPU itself."""
    try:
        from spaces.config import Config  # type: ignore[import-not-found]
    except ImportError:
        return Capability(cuda=(9, 0))
    return Capability(cuda=(int(Config.zerogpu_cuda_capability_major),
                            int(Config.zerogpu_cuda_capability_minor)))


def zerogpu_precision() -> str:
    """The "auto" precision on ZeroGPU: that of its CUDA card (bf16 on an H200)."""
    return default_precision("cuda", zerogpu_capability())


def gpu_seconds(model: Any, ref_image: torch.Tensor, ref_semantics: torch.Tensor | None,
                target_semantics: torch.Tensor, *, top_k: int, precision: str) -> int:
    """GPU seconds to ask ZeroGPU for one model call (``spaces.GPU``'s dynamic duration: it
    receives the decorated function's arguments). ``target_semantics``: (B, s, H, W)."""
    b, _, h, w = target_semantics.shape
    seconds = GPU_SECONDS_BASE + GPU_SECONDS_PER_MEGAPIXEL * b * h * w / 1e6
    return min(GPU_SECONDS_MAX, math.ceil(seconds))


def _half(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to("cpu", torch.float16)


def compact_output(out: DynaSTOutput) -> DynaSTOutput:
    """A CPU copy of ``out`` holding what the app shows, in fewer bytes.

    image: float32 as computed (B, 3, H, W). Warps (B, 3, h, w) and confidences (B, 1, h, w):
    float16. Matches (B, h*w, n) per block: indices int32, kept bool, attention and weights
    float16 (the inspector draws weights and kept links; 3 significant digits suffice).
    """
    from dynast.model import DynaSTOutput

    matches = [Matches(indices=m.indices.detach().to("cpu", torch.int32),
                       attention=_half(m.attention), kept=m.kept.detach().to("cpu", torch.bool),
                       weights=_half(m.weights)) for m in out.matches]
    return DynaSTOutput(image=out.image.detach().float().cpu(), blocks=list(out.blocks),
                        confidence=[_half(c) for c in out.confidence],
                        warps=[_half(w) for w in out.warps], matches=matches)


def output_nbytes(out: DynaSTOutput) -> int:
    """Bytes held by the tensors of ``out`` (image, warps, confidences, matches)."""
    tensors = [out.image, *out.warps, *out.confidence]
    for m in out.matches:
        tensors += [m.indices, m.attention, m.kept, m.weights]
    return sum(t.numel() * t.element_size() for t in tensors)


class ModelRef:
    """What crosses to the GPU worker instead of the model (whose spectral-norm
    parametrizations cannot be pickled): its config and ``state_dict`` (shared-memory tensors).

    In the worker, unpickling looks the model up by ``key`` among those it already built, so
    a worker kept warm by ZeroGPU builds (and copies to the GPU) each model once.
    """

    def __init__(self, model: DynaST, key: str | None = None) -> None:
        self.model = model
        self.key = key or f"{os.getpid()}-{id(model)}"

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return _worker_model, (self.key, self.model.config, self.model.state_dict())


_WORKER_MODELS: dict[str, DynaST] = {}
_WORKER_MODELS_MAX = 4


def _worker_model(key: str, config: Any, state: dict[str, torch.Tensor]) -> ModelRef:
    """Unpickling a :class:`ModelRef` in the worker: the model built before, or a new one."""
    if not key.startswith(f"{os.getpid()}-"):
        # A forked worker: OpenMP's thread pool does not survive fork (a parallel CPU op can
        # hang), and the heavy work here runs on the GPU anyway.
        torch.set_num_threads(1)
    model = _WORKER_MODELS.get(key)
    if model is None:
        from dynast.model import DynaST

        model = DynaST(config)
        model.load_state_dict(state, strict=True)
        model.eval()
        while len(_WORKER_MODELS) >= _WORKER_MODELS_MAX:
            _WORKER_MODELS.pop(next(iter(_WORKER_MODELS)))
        _WORKER_MODELS[key] = model
    return ModelRef(model, key)


@dataclass
class _Failure:
    """An exception raised in the GPU worker, carried back as a value so that the main
    process re-raises it with its type and message (ZeroGPU would otherwise replace a
    non-Gradio exception by a generic "ZeroGPU worker error")."""

    error: BaseException
    trace: str


def _portable(exc: Exception) -> BaseException:
    """``exc`` if it survives pickling, else a ValueError / RuntimeError with its text."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 - any exception class may refuse to round-trip
        if isinstance(exc, ValueError):  # a user error: its message is what the user reads
            return ValueError(str(exc))
        return RuntimeError(f"{type(exc).__name__}: {exc}")


def _model_call(ref: ModelRef, ref_image: torch.Tensor, ref_semantics: torch.Tensor | None,
                target_semantics: torch.Tensor, *, top_k: int, precision: str
                ) -> DynaSTOutput | _Failure:
    """The GPU part of a request: CPU tensors in, a compact CPU output back.

    Runs in ZeroGPU's worker with the GPU attached (in-process elsewhere). The model is moved
    to CUDA here; in the worker that is the worker's copy, the main process's stays on the CPU.
    """
    try:
        device = torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
        with _MODEL_LOCK:
            out = run_model(ref.model.to(device), ref_image, ref_semantics, target_semantics,
                            top_k=top_k, precision=precision)
        return compact_output(out)
    except Exception as exc:  # noqa: BLE001 - re-raised in the main process
        return _Failure(_portable(exc), traceback.format_exc())


class ZeroGPURunner:
    """The pipeline's model runner on ZeroGPU Spaces: only the model call holds the GPU.

    ``gpu``: the decorator factory (default ``spaces.GPU``; tests inject their own). It is
    applied once, to :func:`_model_call`, with ``duration=``:func:`gpu_seconds`.

    Pipelines using it must keep their model on the CPU (``host_device``; on ZeroGPU the main
    process's torch claims CUDA but cannot compute there) and should default to
    ``auto_precision``, the GPU's precision rather than the host CPU's.
    """

    host_device = "cpu"

    def __init__(self, gpu: GpuDecorator | None = None) -> None:
        if gpu is None:
            import spaces  # type: ignore[import-not-found]

            gpu = spaces.GPU
        self.call = gpu(duration=gpu_seconds)(_model_call)

    @property
    def auto_precision(self) -> str:
        """The precision "auto" means with this runner (bf16 on ZeroGPU's H200)."""
        return zerogpu_precision()

    def __call__(self, model: DynaST, ref_image: torch.Tensor,
                 ref_semantics: torch.Tensor | None, target_semantics: torch.Tensor, *,
                 top_k: int, precision: str,
                 on_level: Callable[[int, int], None] | None = None) -> DynaSTOutput:
        """Run the model on the GPU worker; tensors (B, C, H, W) on the CPU in and out.

        ``on_level`` is accepted for the runner interface but not called: the worker is
        another process and reports nothing back until the whole call is done."""
        cpu = [None if t is None else t.detach().cpu() for t in
               (ref_image, ref_semantics, target_semantics)]
        result = self.call(ModelRef(model), cpu[0], cpu[1], cpu[2], top_k=top_k,
                           precision=precision)
        if isinstance(result, _Failure):
            if not isinstance(result.error, ValueError):
                LOG.error("model call failed on the GPU worker:\n%s", result.trace)
            raise result.error
        return result


def make_runner() -> ZeroGPURunner | None:
    """The ZeroGPU runner on a ZeroGPU Space, else None (the pipeline's own runner: CUDA on a
    GPU Space such as a T4, the CPU on CPU hardware)."""
    return ZeroGPURunner() if on_zerogpu() else None
