"""Animate a reference person along a driving clip: one video, one reference.

The work is split so that what does not change between frames is done once:

1. the driving poses (:func:`~dynast.video.driving.load_driving`: tracked or read, filled,
   fitted once for the clip, smoothed);
2. the reference: its semantics and framing (the pose task's ``prepare``) and every
   reference-side tensor of the generator (:meth:`DynaST.encode_reference`);
3. per batch of frames: render the poses, :meth:`DynaST.generate`, hand the frames to the
   writer. Frames are decoded, generated and encoded as a stream: memory stays flat in
   the number of frames. The last batch is padded with its last pose, so every batch has
   the same shape and a pose gives the same picture wherever it falls in the clip.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dynast import visualize as vis
from dynast.errors import PipelineError, VideoError
from dynast.inference.pipeline import DynaSTPipeline, check_resolution
from dynast.inference.runtime import precision_context
from dynast.semantics.pose_render import render_pose, render_pose_preview
from dynast.tasks import PoseTarget, PrepareRequest
from dynast.video.clip import ClipLimits, VideoWriter, read_frames
from dynast.video.driving import Driving, load_driving
from dynast.video.smoothing import OneEuro

__all__ = ["AnimateOptions", "AnimateReport", "AnimatedFrame", "PoseAnimator",
           "DEFAULT_SIZE", "MAX_FRAMES"]

DEFAULT_SIZE = (256, 176)  # DeepFashion's frame: the person fills it
MAX_FRAMES = 3000
FrameProgress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class AnimateOptions:
    """How to animate.

    size: the model canvas (H, W) (multiples of 8) or a long side (multiple of 64, square);
    max_frames: frames used at most (a longer clip is cut, with a notice; with
    ``refuse_longer`` it is refused); fps: output frame rate (default: the clip's);
    batch: frames per model call; top_k: matches per query (default: the checkpoint's);
    smoothing: the One-Euro filter, or None for raw keypoints; fit_reference: fit the
    reference photo to the training frame; limits: what a driving clip may be.
    """

    size: int | tuple[int, int] = DEFAULT_SIZE
    max_frames: int = 300
    fps: float | None = None
    batch: int = 4
    top_k: int | None = None
    smoothing: OneEuro | None = OneEuro()
    fit_reference: bool = True
    refuse_longer: bool = False
    limits: ClipLimits = field(default_factory=ClipLimits)

    def checked(self) -> AnimateOptions:
        """These options with the size normalised; :class:`PipelineError` if one is wrong."""
        if isinstance(self.max_frames, bool) or not isinstance(self.max_frames, int) \
                or not 1 <= self.max_frames <= MAX_FRAMES:
            raise PipelineError(f"max-frames must be a whole number from 1 to {MAX_FRAMES}, "
                                f"got {self.max_frames!r}")
        if self.fps is not None and not (math.isfinite(self.fps) and 1 <= self.fps <= 120):
            raise PipelineError(f"fps must be between 1 and 120, got {self.fps!r}")
        if isinstance(self.batch, bool) or not isinstance(self.batch, int) \
                or not 1 <= self.batch <= 64:
            raise PipelineError(f"batch must be a whole number from 1 to 64, got {self.batch!r}")
        from dynast.tasks import get_task

        size = check_resolution(self.size, get_task("pose"))
        return replace(self, size=size if isinstance(size, tuple) else (size, size))


@dataclass
class AnimatedFrame:
    """One output frame: the result (H, W, 3) uint8, the pose it followed drawn (H, W, 3),
    and the driving frame (h, w, 3) when the driving source is a video."""

    index: int
    result: np.ndarray
    pose: np.ndarray
    driving: np.ndarray | None


@dataclass
class AnimateReport:
    """What an animation produced: files, frames, rates, seconds per stage, notes."""

    out: str
    side_by_side: str | None
    frames: int
    fps: float
    size: tuple[int, int]
    lost_frames: int
    timings: dict[str, float]
    warnings: list[str]
    precision: str
    device: str
    batch: int

    def summary(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        total = self.timings.get("total", 0.0)
        return {"out": self.out, "side_by_side": self.side_by_side, "frames": self.frames,
                "fps": self.fps, "size": list(self.size), "lost_frames": self.lost_frames,
                "frames_per_second": round(self.frames / total, 3) if total else None,
                "precision": self.precision, "device": self.device, "batch": self.batch,
                "timings": {k: round(v, 4) for k, v in self.timings.items()},
                "warnings": list(self.warnings)}


def side_by_side(frame: AnimatedFrame) -> np.ndarray:
    """driving | pose | result (pose | result for pose sequences), height H, even width."""
    import cv2

    h = frame.result.shape[0]
    panels = []
    if frame.driving is not None:
        dh, dw = frame.driving.shape[:2]
        width = max(2, 2 * round(dw * h / dh / 2))
        panels.append(cv2.resize(frame.driving, (width, h), interpolation=cv2.INTER_AREA))
    panels += [frame.pose, frame.result]
    return np.ascontiguousarray(np.concatenate(panels, axis=1))


class PoseAnimator:
    """Animate references with a pose checkpoint (loaded once, see :class:`DynaSTPipeline`:
    ``checkpoint``, ``device``, ``precision``, ``model``), or with the model of a pose
    ``pipeline`` the caller holds (the app: one pipeline per checkpoint)."""

    def __init__(self, checkpoint: str | Path | None = None, *,
                 device: str | torch.device | None = None, precision: str | None = None,
                 model: Any = None, pipeline: DynaSTPipeline | None = None) -> None:
        if pipeline is not None and pipeline.task != "pose":
            raise ValueError(f"PoseAnimator needs a pose pipeline, got a {pipeline.task} one")
        self.pipe = pipeline or DynaSTPipeline("pose", checkpoint, device=device,
                                               precision=precision, model=model)

    def driving(self, source: str | Path, options: AnimateOptions,
                progress: FrameProgress | None = None) -> Driving:
        """The driving poses of ``source`` for ``options`` (already checked)."""
        return load_driving(source, options.size, max_frames=options.max_frames,
                            fps=options.fps, smoothing=options.smoothing,
                            limits=options.limits, refuse_longer=options.refuse_longer,
                            progress=progress)

    def frames(self, reference: Any, driving: Driving, options: AnimateOptions, *,
               footage: bool = False, timings: dict[str, float] | None = None,
               warnings: list[str] | None = None) -> Iterator[AnimatedFrame]:
        """Generate the frames, in order, one batch at a time (see the module docstring).
        ``footage``: decode the driving video again alongside (``AnimatedFrame.driving``).
        ``timings`` gets "reference" and "model" seconds, ``warnings`` the reference's notes."""
        timings = {} if timings is None else timings
        h, w = options.size
        t0 = time.perf_counter()
        prepared = self.pipe.spec.prepare(
            reference, PoseTarget(driving.poses[0], (h, w)),
            PrepareRequest(resolution=(h, w), target_kind="keypoints",
                           fit=options.fit_reference))
        if warnings is not None:
            warnings.extend(w for w in prepared.warnings if w.startswith("Reference"))
        model, device, precision = self.pipe.model, self.pipe.device, self.pipe.precision
        self.pipe.check_channels(prepared)
        top_k = int(model.config.top_k) if options.top_k is None else options.top_k
        ref_image = torch.from_numpy(prepared.reference).permute(2, 0, 1)[None].float()
        ref_image = (ref_image / 127.5 - 1.0).to(device)
        ref_sem = torch.from_numpy(prepared.ref_semantics)[None].to(device)
        with torch.inference_mode(), precision_context(device, precision):
            encoded = model.encode_reference(ref_image, ref_sem)
        timings["reference"] = time.perf_counter() - t0
        timings.setdefault("model", 0.0)
        clips = read_frames(driving.clip, len(driving)) if footage and driving.clip else None
        try:
            for start in range(0, len(driving), options.batch):
                poses = driving.poses[start:start + options.batch]
                padded = poses + [poses[-1]] * (options.batch - len(poses))
                t0 = time.perf_counter()
                sem = torch.from_numpy(np.stack([render_pose(k, h, w) for k in padded]))
                with torch.inference_mode(), precision_context(device, precision):
                    out = model.generate(encoded, sem.to(device), top_k=top_k).image
                images = out[:len(poses)].float().cpu()
                timings["model"] += time.perf_counter() - t0
                if not bool(torch.isfinite(images).all()):
                    raise PipelineError("The model produced NaN or infinite values; try "
                                        "precision fp32.")
                for i, (kp, img) in enumerate(zip(poses, images)):
                    yield AnimatedFrame(start + i, vis.tensor_to_uint8(img),
                                        render_pose_preview(kp, h, w),
                                        next(clips, None) if clips is not None else None)
        finally:
            if clips is not None:
                clips.close()  # stops the decoder when the consumer stops early

    def __call__(self, reference: Any, driving: str | Path, out: str | Path,
                 options: AnimateOptions | None = None, *, side_by_side_out: str | Path | None
                 = None, gif_out: str | Path | None = None,
                 progress: FrameProgress | None = None) -> AnimateReport:
        """Write the animation of ``reference`` along ``driving`` to ``out`` (H.264 MP4),
        and, if asked, ``side_by_side_out`` (driving | pose | result) and ``gif_out``.
        ``progress(done, total, stage)``: stage "poses" while tracking, "frames" after."""
        options = (options or AnimateOptions()).checked()
        t_start = time.perf_counter()
        timings: dict[str, float] = {}
        driving_poses = self.driving(driving, options, progress)
        timings["poses"] = time.perf_counter() - t_start
        warnings = list(driving_poses.warnings)
        n, fps = len(driving_poses), driving_poses.fps
        outputs: list[VideoWriter] = []  # the result's videos
        panels: list[VideoWriter] = []  # the side-by-side video, opened at the first frame
        encode = 0.0
        try:
            outputs.append(VideoWriter(out, fps, options.size))
            if gif_out is not None:
                outputs.append(VideoWriter(gif_out, fps, options.size))
            for frame in self.frames(reference, driving_poses, options,
                                     footage=side_by_side_out is not None, timings=timings,
                                     warnings=warnings):
                t0 = time.perf_counter()
                for writer in outputs:
                    writer.write(frame.result)
                if side_by_side_out is not None:
                    panel = side_by_side(frame)
                    if not panels:
                        panels.append(VideoWriter(side_by_side_out, fps, panel.shape[:2]))
                    panels[0].write(panel)
                encode += time.perf_counter() - t0
                if progress is not None:
                    progress(frame.index + 1, n, "frames")
        except OSError as exc:
            raise VideoError(f"cannot write the video: {exc.strerror or exc}") from exc
        finally:
            for writer in outputs + panels:
                writer.close()
        timings["encode"] = encode
        timings["total"] = time.perf_counter() - t_start
        return AnimateReport(str(out), str(side_by_side_out) if side_by_side_out else None, n,
                             fps, options.size, driving_poses.lost, timings, warnings,
                             self.pipe.precision, str(self.pipe.device), options.batch)
