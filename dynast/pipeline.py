"""One inference pipeline per task: user images in, a picture and its explanation out.

The pipeline is what the app (and anyone scripting DynaST) calls. It

* loads a checkpoint once (``DynaST.from_pretrained``, cached per directory and device);
* turns user inputs (paths, bytes, PIL images, numpy arrays; for pose also keypoints or an
  OpenPose file) into the model's tensors with :mod:`dynast.semantics`, fitting every image
  into the model canvas without distortion (scale + pad);
* runs the model on CUDA when present, in fp32 or bf16 autocast;
* returns a :class:`PipelineResult`: the generated image cropped back to the target's aspect,
  a drawing of the target semantics, one warp and one confidence map per transformer block
  (pixels whose links were all pruned drawn as a checkerboard), timings and warnings, and
  :meth:`PipelineResult.matches_at` for the candidates of a clicked pixel in every block.

Bad input raises :class:`dynast.semantics.SemanticsError` (a ``ValueError``) or
:class:`PipelineError` with a message that says what was wrong and what to do.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from PIL import Image

from dynast import visualize as vis
from dynast.semantics.errors import SemanticsError
from dynast.semantics.image_io import FitTransform, ImageSource, fit_to_size, load_image
from dynast.semantics.keypoints import Keypoints

__all__ = [
    "TASKS",
    "Task",
    "Precision",
    "PipelineError",
    "MissingCheckpoint",
    "BlockCandidates",
    "PipelineResult",
    "DynaSTPipeline",
    "DEFAULT_RESOLUTION",
    "RESOLUTIONS",
    "resolve_checkpoint",
    "list_checkpoints",
    "checkpoint_task",
    "default_device",
    "default_precision",
    "read_pose_file",
]

Task = Literal["pose", "face", "style"]
Precision = Literal["fp32", "bf16"]
TASKS: tuple[Task, ...] = ("pose", "face", "style")
TASK_TITLES = {"pose": "pose transfer", "face": "face", "style": "style transfer"}
DEFAULT_RESOLUTION: dict[str, int] = {"pose": 256, "face": 256, "style": 512}
RESOLUTIONS: tuple[int, ...] = tuple(range(64, 1025, 64))  # the app offers 256 and up
MIN_SIDE = 16  # smaller inputs carry no usable content
MAX_SEMANTICS_SIDE = 2048  # larger photos are downscaled (with a notice) before extraction
DENSE_CANDIDATES = 24  # dense blocks: how many of a query's best candidates are kept to inspect
REPO_ROOT = Path(__file__).resolve().parent.parent
CONVERT_HINT = (
    "python -m dynast.convert latest_net_G.pth checkpoints/pose-deepfashion"
)


class PipelineError(ValueError):
    """An input or setting the pipeline cannot use; the message says what to do."""


class MissingCheckpoint(PipelineError):
    """No checkpoint directory was found for a task."""


# ---------------------------------------------------------------------------------------
# checkpoints and devices
# ---------------------------------------------------------------------------------------

def checkpoint_task(path: str | Path) -> Task | None:
    """Guess which task a checkpoint directory serves from its ``config.json``.

    Style models have no reference semantics (``ref_semantic_nc == 0``); pose models have
    the 20-channel OpenPose semantics; everything else is a face (edge) model. A directory
    whose name starts with a task name wins over the guess. Returns None if ``path`` holds
    no readable ``config.json``.
    """
    p = Path(path)
    cfg_path = p / "config.json"
    if not cfg_path.is_file():
        return None
    try:
        cfg = json.loads(cfg_path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(cfg, dict):
        return None
    name = p.name.lower()
    for task in TASKS:
        if name.startswith(task):
            return task
    if int(cfg.get("ref_semantic_nc", 1)) == 0:
        return "style"
    if int(cfg.get("semantic_nc", 0)) == 20:
        return "pose"
    return "face"


def _checkpoints_root() -> Path:
    env = os.environ.get("DYNAST_CHECKPOINTS_DIR")
    return Path(env) if env else REPO_ROOT / "checkpoints"


def list_checkpoints(root: str | Path | None = None) -> dict[str, list[Path]]:
    """Checkpoint directories under ``root`` (default: ``$DYNAST_CHECKPOINTS_DIR`` or
    ``checkpoints/``), grouped by task (see :func:`checkpoint_task`), sorted by name."""
    base = Path(root) if root is not None else _checkpoints_root()
    found: dict[str, list[Path]] = {t: [] for t in TASKS}
    if not base.is_dir():
        return found
    for d in sorted(base.iterdir()):
        if d.is_dir() and (d / "model.safetensors").is_file():
            task = checkpoint_task(d)
            if task is not None:
                found[task].append(d)
    return found


def resolve_checkpoint(task: Task, checkpoint: str | Path | None = None,
                       root: str | Path | None = None) -> Path:
    """Find the checkpoint directory for ``task``.

    Order: the ``checkpoint`` argument; ``$DYNAST_<TASK>_CHECKPOINT``; ``<root>/<task>``;
    the first directory under ``<root>`` whose config serves the task, where root is the
    ``root`` argument, ``$DYNAST_CHECKPOINTS_DIR`` or the repository's ``checkpoints/``.
    Raises :class:`MissingCheckpoint` with instructions if none exists.
    """
    _check_task(task)
    candidates: list[Path] = []
    if checkpoint:
        candidates.append(Path(checkpoint))
    env = os.environ.get(f"DYNAST_{task.upper()}_CHECKPOINT")
    if env:
        candidates.append(Path(env))
    base = Path(root) if root is not None else _checkpoints_root()
    candidates.append(base / task)
    candidates.extend(list_checkpoints(base)[task])
    for c in candidates:
        if (c / "config.json").is_file() and (c / "model.safetensors").is_file():
            return c
    where = ", ".join(str(c) for c in candidates[:3])
    how = (
        f"convert the authors' checkpoint with `{CONVERT_HINT}`"
        if task == "pose"
        else "train one (see train/) or copy a converted checkpoint directory there"
    )
    raise MissingCheckpoint(
        f"No {TASK_TITLES[task]} checkpoint found (looked in {where}). A checkpoint is a "
        f"directory with config.json and model.safetensors: {how}, then point "
        f"DYNAST_{task.upper()}_CHECKPOINT (or DYNAST_CHECKPOINTS_DIR) at it."
    )


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise PipelineError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")


def default_device() -> torch.device:
    """CUDA when present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _cpu_has_amx() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return "amx_bf16" in line.split()
    except OSError:
        pass
    return False


def default_precision(device: torch.device | str | None = None) -> Precision:
    """bf16 on CUDA devices that support it, else fp32.

    CPUs stay on fp32 even with AMX: measured on this model (torch 2.13, AMX CPU), bf16
    autocast made a whole forward pass several times slower (small convolutions fall back
    to slow bf16 kernels and the casts dominate), although large convolutions gain. Set
    ``DYNAST_CPU_BF16=1`` to default to bf16 on AMX CPUs anyway.
    """
    dev = torch.device(device) if device is not None else default_device()
    if dev.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if os.environ.get("DYNAST_CPU_BF16") == "1" and _cpu_has_amx():
        return "bf16"
    return "fp32"


_MODEL_CACHE: dict[tuple[str, str], Any] = {}
_MODEL_LOCKS: dict[tuple[str, str], threading.Lock] = {}
_CACHE_LOCK = threading.Lock()


def _load_model(path: Path, device: torch.device) -> tuple[Any, threading.Lock, float]:
    """Load (once) and cache a model; returns (model, its forward lock, seconds spent)."""
    key = (str(path.resolve()), str(device))
    with _CACHE_LOCK:
        if key in _MODEL_CACHE:
            return _MODEL_CACHE[key], _MODEL_LOCKS[key], 0.0
        from dynast import DynaST

        t0 = time.perf_counter()
        try:
            model = DynaST.from_pretrained(path)
        except Exception as exc:  # a broken checkpoint must not look like a user error
            raise MissingCheckpoint(
                f"The checkpoint in {path} could not be loaded ({type(exc).__name__}: {exc}). "
                f"Re-create it (e.g. `{CONVERT_HINT}`)."
            ) from exc
        model = model.to(device).eval()
        _MODEL_CACHE[key] = model
        _MODEL_LOCKS[key] = threading.Lock()
        return model, _MODEL_LOCKS[key], time.perf_counter() - t0


# ---------------------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------------------

def _load(source: ImageSource, what: str, notes: list[str]) -> np.ndarray:
    """Load a user image as RGB uint8, refusing tiny ones and downscaling huge ones."""
    if source is None:
        raise PipelineError(f"No {what} was given: upload one (PNG, JPEG or WebP).")
    img = _tagged(f"The {what}", load_image, source)
    h, w = img.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise PipelineError(
            f"The {what} is only {w}x{h} pixels, too small to show anything; upload an image "
            f"at least {MIN_SIDE * 4} pixels on each side."
        )
    if max(h, w) > MAX_SEMANTICS_SIDE:
        s = MAX_SEMANTICS_SIDE / max(h, w)
        nw, nh = max(1, round(w * s)), max(1, round(h * s))
        img = np.asarray(Image.fromarray(img).resize((nw, nh), Image.Resampling.LANCZOS))
        notes.append(
            f"The {what} is {w}x{h} pixels; it was downscaled to {nw}x{nh} (the model works "
            "at a few hundred pixels anyway)."
        )
    return img


def _tagged(what: str, fn: Any, *args: Any) -> Any:
    """Call ``fn(*args)``; a :class:`SemanticsError` gets ``what`` ("Reference photo", ...)
    put in front of its message, so the user knows which input it is about."""
    try:
        return fn(*args)
    except SemanticsError as exc:
        msg = str(exc)
        raise type(exc)(f"{what}: {msg[:1].upper()}{msg[1:]}") from exc


def read_pose_file(paths: str | Path | Sequence[str | Path]) -> tuple[Keypoints, list[str]]:
    """Read target keypoints from an OpenPose JSON file or a ``*_candidate.txt`` /
    ``*_subset.txt`` pair (in either order). Raises a :class:`SemanticsError` subclass when
    the files are malformed."""
    from dynast.semantics.errors import MalformedKeypointFile
    from dynast.semantics.openpose_io import read_openpose_json, read_openpose_txt

    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    items = [Path(p) for p in items if p]
    if not items:
        raise MalformedKeypointFile("No keypoint file was given: upload an OpenPose JSON file "
                                    "or a _candidate.txt / _subset.txt pair.")
    jsons = [p for p in items if p.suffix.lower() == ".json"]
    if len(items) == 1 and jsons:
        return read_openpose_json(jsons[0])
    txts = [p for p in items if p.suffix.lower() == ".txt"]
    if len(items) == 2 and len(txts) == 2:
        cand = [p for p in txts if "candidate" in p.name.lower()]
        sub = [p for p in txts if "subset" in p.name.lower()]
        if len(cand) == 1 and len(sub) == 1:
            return read_openpose_txt(cand[0], sub[0])
        raise MalformedKeypointFile(
            "Two .txt files were given but their names do not say which is the candidate "
            "and which the subset file: name them NAME_candidate.txt and NAME_subset.txt."
        )
    names = ", ".join(p.name for p in items)
    raise MalformedKeypointFile(
        f"Cannot read a pose from {names}: give one OpenPose .json file, or the two files "
        "NAME_candidate.txt and NAME_subset.txt together."
    )


def _json_canvas_size(paths: str | Path | Sequence[str | Path]) -> tuple[int, int] | None:
    """The optional ``canvas_height`` / ``canvas_width`` of a single OpenPose JSON file
    (this project's pose files carry them; plain OpenPose output does not)."""
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if len(items) != 1 or Path(items[0]).suffix.lower() != ".json":
        return None
    try:
        data = json.loads(Path(items[0]).read_text(encoding="utf-8"))
        h, w = int(data["canvas_height"]), int(data["canvas_width"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return (h, w) if 16 <= h <= 8192 and 16 <= w <= 8192 else None


@dataclass(frozen=True)
class PoseTarget:
    """A target pose given as keypoints on a canvas of ``size`` = (height, width) pixels."""

    keypoints: Keypoints
    size: tuple[int, int]


def pose_target_from_file(paths: str | Path | Sequence[str | Path],
                          size: tuple[int, int] | None = None) -> tuple[PoseTarget, list[str]]:
    """Build a :class:`PoseTarget` from keypoint files.

    OpenPose files do not store the image size: ``size`` (height, width) gives it; without it
    the canvas is the joints' bounding box with a margin, with the person's proportions.
    """
    kp, notes = read_pose_file(paths)
    if size is None:
        size = _json_canvas_size(paths)
    if kp.count() < 2:
        from dynast.semantics.errors import NoPersonFound

        raise NoPersonFound("The keypoint file has fewer than 2 joints: it holds no usable "
                            "pose. Use another file or extract the pose from a photo.")
    if size is None:
        xy = kp.xy[kp.present]
        lo, hi = xy.min(0), xy.max(0)
        span = float(max(hi[0] - lo[0], hi[1] - lo[1], 1.0))
        margin = 0.12 * span
        h = int(np.ceil(hi[1] - lo[1] + 2 * margin)) + 1
        w = int(np.ceil(max(hi[0] - lo[0] + 2 * margin, 0.5 * h))) + 1
        cx = (lo[0] + hi[0]) / 2.0
        off = np.array([w / 2.0 - cx, margin - lo[1]])
        kp = kp.map_xy(lambda a: a + off)
        size = (h, w)
    else:
        kp = kp.drop_outside(*size)
    return PoseTarget(kp, (int(size[0]), int(size[1]))), notes


# ---------------------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------------------

@dataclass
class BlockCandidates:
    """The candidates of one query pixel in one transformer block.

    ``query_xy`` is the query cell's centre and ``xy`` the candidates' centres, both in
    model-canvas pixels of the target / reference; ``kept`` says which links survived the
    dynamic pruning, ``weights`` are the warp weights W and ``attention`` the attention A.
    """

    block: int
    level: int
    kind: str
    stride: int
    caption: str
    query_cell: tuple[int, int]
    query_xy: tuple[float, float]
    xy: np.ndarray
    kept: np.ndarray
    weights: np.ndarray
    attention: np.ndarray

    @property
    def n_kept(self) -> int:
        return int(self.kept.sum())


@dataclass
class PipelineResult:
    """Everything one pipeline call produced.

    Attributes:
        image: the generated picture, cropped to the target's aspect (at model scale).
        semantics: the target semantics drawn (same frame as ``image``).
        reference: the reference as the model saw it (the full model canvas).
        warps: one (image, caption) per block, coarse to fine: the reference warped by the
            block's weights, checkerboard where every link of a pixel was pruned.
        confidences: one (image, caption) per block: the confidence map (viridis, 0..1),
            checkerboard where every link was pruned.
        timings: seconds per stage ("load", "semantics", "model", "visualise", "total").
        warnings: notices for the user (downscaled inputs, several people, ...).
        task, resolution, precision, device, top_k: what ran.
    """

    image: Image.Image
    semantics: Image.Image
    reference: Image.Image
    warps: list[tuple[Image.Image, str]]
    confidences: list[tuple[Image.Image, str]]
    timings: dict[str, float]
    warnings: list[str]
    task: str
    resolution: tuple[int, int]
    precision: str
    device: str
    top_k: int
    target_transform: FitTransform
    reference_transform: FitTransform
    blocks: list[Any] = field(default_factory=list)
    _matches: list[dict[str, np.ndarray]] = field(default_factory=list, repr=False)

    @property
    def captions(self) -> list[str]:
        return [c for _, c in self.warps]

    def to_canvas(self, x: float, y: float, frame: Literal["output", "target"] = "output"
                  ) -> tuple[float, float]:
        """Map a pixel of the output image (or of the original target image) to the canvas."""
        t = self.target_transform
        if frame == "output":
            return float(x + t.left), float(y + t.top)
        if frame == "target":
            cx, cy = t.to_dst(np.array([[x, y]], np.float64))[0]
            return float(cx), float(cy)
        raise ValueError(f"frame must be 'output' or 'target', got {frame!r}")

    def matches_at(self, x: float, y: float, frame: Literal["output", "target"] = "output"
                   ) -> list[BlockCandidates]:
        """For the target pixel (x, y), every block's candidates on the reference.

        ``frame`` says which image the coordinates are in: "output" for the generated image
        or the semantics drawing (they share a frame), "target" for the original target image.
        Coordinates outside are clipped to the nearest pixel of the content.
        Dense blocks keep the query's best candidates by attention (up to 24); sparse blocks
        all of their 4k / 5k candidates (repeats included).
        """
        cx, cy = self.to_canvas(x, y, frame)
        t = self.target_transform
        cx = float(np.clip(cx, t.left, t.left + t.content_width - 1))
        cy = float(np.clip(cy, t.top, t.top + t.content_height - 1))
        out: list[BlockCandidates] = []
        for i, (info, m) in enumerate(zip(self.blocks, self._matches)):
            h, w, s = int(info.height), int(info.width), int(info.stride)
            bx = int(np.clip(cx // s, 0, w - 1))
            by = int(np.clip(cy // s, 0, h - 1))
            q = by * w + bx
            idx = m["indices"][q].astype(np.int64)
            ry, rx = np.divmod(idx, w)
            xy = np.stack([(rx + 0.5) * s - 0.5, (ry + 0.5) * s - 0.5], axis=1).astype(np.float32)
            out.append(BlockCandidates(
                block=i, level=int(info.level), kind=str(info.kind), stride=s,
                caption=self.warps[i][1],
                query_cell=(bx, by),
                query_xy=((bx + 0.5) * s - 0.5, (by + 0.5) * s - 0.5),
                xy=xy, kept=m["kept"][q].astype(bool), weights=m["weights"][q].astype(np.float32),
                attention=m["attention"][q].astype(np.float32),
            ))
        return out

    def inspect(self, x: float, y: float, frame: Literal["output", "target"] = "output"
                ) -> tuple[Image.Image, list[tuple[Image.Image, str]]]:
        """Draw :meth:`matches_at`: the output with the query marked, and per block the
        reference with the candidates (kept: green discs sized by weight; pruned: red x)."""
        blocks = self.matches_at(x, y, frame)
        cx, cy = self.to_canvas(x, y, frame)
        t = self.target_transform
        marked = vis.draw_query_marker(self.image, cx - t.left, cy - t.top)
        panels = []
        for b in blocks:
            short = f"L{b.level} {b.kind}: {b.n_kept}/{len(b.kept)} kept"
            img = vis.draw_candidates(self.reference, b.xy, b.kept, b.weights, cell=b.stride,
                                      title=short)
            caption = b.caption.removeprefix("warp · ")
            panels.append((img, f"{caption}: {b.n_kept}/{len(b.kept)} links kept"))
        return marked, panels

    def timings_text(self) -> str:
        """A one-line human summary of the timings."""
        parts = [f"{k} {v:.2f} s" for k, v in self.timings.items() if k != "total"]
        return (f"total {self.timings.get('total', 0.0):.2f} s ({', '.join(parts)}) · "
                f"{self.resolution[1]}x{self.resolution[0]} · {self.precision} · {self.device} · "
                f"top-k {self.top_k}")


# ---------------------------------------------------------------------------------------
# the pipeline
# ---------------------------------------------------------------------------------------

def _to_tensor(img: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 (H, W, 3) -> float (1, 3, H, W) in [-1, 1]."""
    t = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).float() / 127.5 - 1.0
    return t.unsqueeze(0).to(device)


def _sem_tensor(sem: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(sem, dtype=np.float32)).unsqueeze(0).to(device)


def _canvas_size(task: str, resolution: int, target_hw: tuple[int, int]) -> tuple[int, int]:
    """Model canvas (H, W): square for pose and faces (their training format); for style the
    long side is ``resolution`` and the short side follows the content's aspect (multiple of 8)."""
    if task != "style":
        return resolution, resolution
    h, w = target_hw
    if h >= w:
        return resolution, max(64, int(round(resolution * w / h / 8)) * 8)
    return max(64, int(round(resolution * h / w / 8)) * 8), resolution


class DynaSTPipeline:
    """DynaST inference for one task ("pose", "face" or "style").

    Args:
        task: which application; decides how semantics are computed.
        checkpoint: a checkpoint directory (see :func:`resolve_checkpoint` for the default).
        device: "cuda", "cpu", ... (default: CUDA when present).
        precision: "fp32" or "bf16" (autocast); default: :func:`default_precision`.
        resolution: the model canvas' long side, a multiple of 64 in 64..1024 (the models
            are trained at 256; below that is only useful for quick checks).
        top_k: matches kept per query between blocks (default: the checkpoint's).
        model: an already-built model to use instead of loading ``checkpoint``.

    Call it with the reference image and the target (for style: the style image, then the
    content image). The model is loaded at the first call and cached per process.
    """

    def __init__(self, task: Task, checkpoint: str | Path | None = None, *,
                 device: str | torch.device | None = None, precision: Precision | None = None,
                 resolution: int | None = None, top_k: int | None = None,
                 model: Any | None = None) -> None:
        _check_task(task)
        self.task: Task = task
        self.device = torch.device(device) if device is not None else default_device()
        self.precision: Precision = precision or default_precision(self.device)
        self.resolution = int(resolution or DEFAULT_RESOLUTION[task])
        self.top_k = top_k
        self._model = model
        self._lock = threading.Lock()
        self.checkpoint: Path | None = None
        if model is None:
            self.checkpoint = resolve_checkpoint(task, checkpoint)
        self.load_seconds = 0.0

    # -- model -----------------------------------------------------------------------------
    @property
    def model(self) -> Any:
        """The model (loaded and cached on first use)."""
        if self._model is None:
            assert self.checkpoint is not None
            self._model, self._lock, self.load_seconds = _load_model(self.checkpoint, self.device)
        return self._model

    @property
    def config(self) -> Any:
        return self.model.config

    @contextlib.contextmanager
    def _autocast(self, precision: str) -> Iterator[None]:
        if precision == "bf16":
            with torch.autocast(self.device.type, dtype=torch.bfloat16):
                yield
        else:
            yield

    @contextlib.contextmanager
    def _top_k(self, k: int | None) -> Iterator[int]:
        """Temporarily run the model with ``k`` matches per query (the config is frozen:
        a modified copy is swapped in for the call)."""
        model = self.model
        cfg = model.config
        if k is None or int(k) == int(cfg.top_k):
            yield int(cfg.top_k)
            return
        if not 1 <= int(k) <= 16:
            raise PipelineError(f"top-k must be between 1 and 16, got {k}")
        model.config = dataclasses.replace(cfg, top_k=int(k))
        try:
            yield int(k)
        finally:
            model.config = cfg

    # -- semantics ---------------------------------------------------------------------------
    def _pose_semantics(self, reference: ImageSource, target: Any, canvas: tuple[int, int],
                        notes: list[str]) -> dict[str, Any]:
        from dynast.semantics import extract_pose, render_pose, render_pose_preview

        H, W = canvas
        ref_img = _load(reference, "reference photo", notes)
        ref_fit, ref_tf = fit_to_size(ref_img, H, W, pad="edge")
        ref_kp, w1 = _tagged("Reference photo", extract_pose, ref_img)
        notes.extend(f"Reference: {w}" for w in w1)
        ref_sem = render_pose(ref_tf.keypoints_to_dst(ref_kp).drop_outside(H, W), H, W)

        background = None
        if isinstance(target, PoseTarget):
            tgt_kp, tgt_hw = target.keypoints, target.size
        else:
            tgt_img = _load(target, "target photo", notes)
            tgt_kp, w2 = _tagged("Target photo", extract_pose, tgt_img)
            notes.extend(f"Target: {w}" for w in w2)
            tgt_hw = tgt_img.shape[:2]
            background = tgt_img
        tgt_tf = _fit_transform(tgt_hw, H, W)
        kp_dst = tgt_tf.keypoints_to_dst(tgt_kp).drop_outside(H, W)
        tgt_sem = render_pose(kp_dst, H, W)
        bg = fit_to_size(background, H, W, pad="black")[0] if background is not None else None
        preview = render_pose_preview(kp_dst, H, W, background=bg)
        return dict(ref_img=ref_fit, ref_sem=ref_sem, ref_tf=ref_tf, tgt_sem=tgt_sem,
                    tgt_tf=tgt_tf, preview=preview)

    def _face_semantics(self, reference: ImageSource, target: ImageSource, canvas: tuple[int, int],
                        target_kind: str, notes: list[str]) -> dict[str, Any]:
        from dynast.semantics import face_semantics_from_photo, face_semantics_from_sketch

        H, W = canvas
        ref_img = _load(reference, "reference face", notes)
        ref_fit, ref_tf = fit_to_size(ref_img, H, W, pad="edge")
        ref_sem, w1 = _tagged("Reference face", face_semantics_from_photo, ref_img, (H, W))
        notes.extend(f"Reference: {w}" for w in w1)
        what = "target drawing" if target_kind == "sketch" else "target face"
        tgt_img = _load(target, what, notes)
        tgt_tf = _fit_transform(tgt_img.shape[:2], H, W)
        if target_kind == "sketch":
            tgt_sem, w2 = _tagged("Target drawing", face_semantics_from_sketch, tgt_img, (H, W))
        else:
            tgt_sem, w2 = _tagged("Target face", face_semantics_from_photo, tgt_img, (H, W))
        notes.extend(f"Target: {w}" for w in w2)
        return dict(ref_img=ref_fit, ref_sem=ref_sem, ref_tf=ref_tf, tgt_sem=tgt_sem,
                    tgt_tf=tgt_tf, preview=_edges_preview(tgt_sem))

    def _style_semantics(self, style: ImageSource, content: ImageSource, resolution: int,
                         notes: list[str]) -> dict[str, Any]:
        content_img = _load(content, "content photo", notes)
        H, W = _canvas_size("style", resolution, content_img.shape[:2])
        style_img = _load(style, "style image", notes)
        tgt_fit, tgt_tf = fit_to_size(content_img, H, W, pad="edge")
        # the style image fills the canvas (cropped to its aspect, no padding to imitate)
        ref_fit, ref_tf = _cover(style_img, H, W)
        sem = tgt_fit.astype(np.float32).transpose(2, 0, 1) / 127.5 - 1.0
        return dict(ref_img=ref_fit, ref_sem=None, ref_tf=ref_tf, tgt_sem=sem, tgt_tf=tgt_tf,
                    preview=tgt_tf.crop(tgt_fit))

    # -- main entry ----------------------------------------------------------------------------
    def __call__(self, reference: ImageSource, target: Any, *, resolution: int | None = None,
                 top_k: int | None = None, precision: Precision | None = None,
                 target_kind: Literal["photo", "sketch"] = "photo") -> PipelineResult:
        """Generate an image with the appearance of ``reference`` and the layout of ``target``.

        ``target``: pose: a photo or a :class:`PoseTarget` (see :func:`pose_target_from_file`);
        face: a face photo or a line drawing (``target_kind="sketch"``); style: the content
        photo (``reference`` is then the style image).
        """
        t_start = time.perf_counter()
        res = int(resolution or self.resolution)
        if res not in RESOLUTIONS:
            raise PipelineError(f"resolution must be a multiple of 64 between 64 and 1024, got {res}")
        prec = precision or self.precision
        if prec not in ("fp32", "bf16"):
            raise PipelineError(f"precision must be 'fp32' or 'bf16', got {prec!r}")
        if target_kind not in ("photo", "sketch"):
            raise PipelineError(f"target_kind must be 'photo' or 'sketch', got {target_kind!r}")
        notes: list[str] = []
        timings: dict[str, float] = {}

        model = self.model
        timings["load"] = self.load_seconds
        self.load_seconds = 0.0
        cfg = model.config

        t0 = time.perf_counter()
        if self.task == "pose":
            s = self._pose_semantics(reference, target, (res, res), notes)
        elif self.task == "face":
            s = self._face_semantics(reference, target, (res, res), target_kind, notes)
        else:
            s = self._style_semantics(reference, target, res, notes)
        timings["semantics"] = time.perf_counter() - t0
        self._check_channels(cfg, s)

        dev = self.device
        ref_t = _to_tensor(s["ref_img"], dev)
        ref_sem = _sem_tensor(s["ref_sem"], dev) if s["ref_sem"] is not None else None
        tgt_sem = _sem_tensor(s["tgt_sem"], dev)
        t0 = time.perf_counter()
        with self._lock, torch.inference_mode(), self._top_k(top_k) as k, self._autocast(prec):
            out = model(ref_t, ref_sem, tgt_sem, return_warps=True, return_matches=True)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        timings["model"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        result = self._assemble(out, s, notes, timings, (res, res) if self.task != "style"
                                else tuple(s["ref_img"].shape[:2]), prec, k)
        timings["visualise"] = time.perf_counter() - t0
        timings["total"] = time.perf_counter() - t_start
        return result

    def _check_channels(self, cfg: Any, s: dict[str, Any]) -> None:
        got = s["tgt_sem"].shape[0]
        if got != cfg.semantic_nc:
            raise PipelineError(
                f"This {TASK_TITLES[self.task]} checkpoint expects {cfg.semantic_nc}-channel "
                f"target semantics but the app computes {got}; pick a checkpoint made for this "
                "task (its config.json semantic_nc)."
            )
        ref_got = 0 if s["ref_sem"] is None else s["ref_sem"].shape[0]
        if ref_got != cfg.ref_semantic_nc:
            raise PipelineError(
                f"This checkpoint expects {cfg.ref_semantic_nc}-channel reference semantics "
                f"but the {TASK_TITLES[self.task]} task gives {ref_got}; pick a checkpoint made "
                "for this task."
            )

    def _assemble(self, out: Any, s: dict[str, Any], notes: list[str], timings: dict[str, float],
                  canvas: tuple[int, int], precision: str, k: int) -> PipelineResult:
        H, W = canvas
        tgt_tf: FitTransform = s["tgt_tf"]
        image = vis.tensor_to_uint8(out.image[0])
        if not np.isfinite(out.image.float().cpu().numpy()).all():
            raise PipelineError("The model produced NaN values (try precision fp32).")
        warps, confs, matches = [], [], []
        for i, info in enumerate(out.blocks):
            h, w = int(info.height), int(info.width)
            m = out.matches[i]
            kept = m.kept[0].cpu().numpy()
            pruned = ~kept.reshape(h, w, -1).any(-1) if kept.size else np.ones((h, w), bool)
            kind = str(info.kind)
            scale = f"1/{info.stride}" if int(info.stride) > 1 else "full"
            cap = f"level {info.level} · {scale} ({w}x{h}) · {kind}"
            warp = vis.upscale_nearest(vis.tensor_to_uint8(out.warps[i][0]), H, W)
            warp = vis.mark_pruned(warp, vis.upscale_nearest(pruned.astype(np.uint8), H, W) > 0)
            conf = out.confidence[i][0, 0].float().cpu().numpy()
            conf_img = vis.confidence_image(conf, pruned, H, W)
            n_pruned = int(pruned.sum())
            frac = n_pruned / pruned.size
            warps.append((Image.fromarray(tgt_tf.crop(warp)), f"warp · {cap}"))
            confs.append((Image.fromarray(tgt_tf.crop(conf_img)),
                          f"confidence · {cap} · mean {conf.mean():.2f}, "
                          f"{100 * frac:.0f}% no match"))
            matches.append({
                "indices": m.indices[0].cpu().numpy().astype(np.int32),
                "kept": kept,
                "weights": m.weights[0].float().cpu().numpy().astype(np.float16),
                "attention": m.attention[0].float().cpu().numpy().astype(np.float16),
            })
        return PipelineResult(
            image=Image.fromarray(tgt_tf.crop(image)),
            semantics=Image.fromarray(np.ascontiguousarray(s["preview"]))
            if s["preview"].shape[:2] == (tgt_tf.content_height, tgt_tf.content_width)
            else Image.fromarray(tgt_tf.crop(s["preview"])),
            reference=Image.fromarray(s["ref_img"]),
            warps=warps, confidences=confs, timings=timings, warnings=notes,
            task=self.task, resolution=(H, W), precision=precision, device=str(self.device),
            top_k=k, target_transform=tgt_tf, reference_transform=s["ref_tf"],
            blocks=list(out.blocks), _matches=matches,
        )


def _fit_transform(src_hw: tuple[int, int], height: int, width: int) -> FitTransform:
    """The transform :func:`fit_to_size` would use for an image of ``src_hw``."""
    h, w = int(src_hw[0]), int(src_hw[1])
    scale = min(height / h, width / w)
    ch = min(height, max(1, round(h * scale)))
    cw = min(width, max(1, round(w * scale)))
    return FitTransform((h, w), (height, width), (height - ch) // 2, (width - cw) // 2, ch, cw)


def _cover(img: np.ndarray, height: int, width: int) -> tuple[np.ndarray, FitTransform]:
    """Centre-crop ``img`` to the canvas aspect, then resize it to fill the canvas."""
    h, w = img.shape[:2]
    target = width / height
    if w / h > target:
        cw, ch = max(1, round(h * target)), h
    else:
        cw, ch = w, max(1, round(w / target))
    x0, y0 = (w - cw) // 2, (h - ch) // 2
    crop = img[y0:y0 + ch, x0:x0 + cw]
    return fit_to_size(np.ascontiguousarray(crop), height, width, pad="edge")


def _edges_preview(sem: np.ndarray) -> np.ndarray:
    """Draw face-edge semantics: every line (channel 0) black on white, and, in the
    12-channel layout (see ``dynast.semantics.face_layout``), the face-mesh lines (channel
    11) in blue."""
    sem = np.asarray(sem, np.float32)
    out = np.full(sem.shape[1:] + (3,), 255, np.uint8)
    out[sem[0] > 0.5] = (0, 0, 0)
    if sem.shape[0] == 12:
        out[sem[11] > 0.5] = (30, 90, 220)
    return out


__all__ += ["PoseTarget", "pose_target_from_file", "SemanticsError"]
