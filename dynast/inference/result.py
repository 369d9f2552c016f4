"""What one pipeline call returns: the picture, its explanation, and the match inspector."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np
from PIL import Image

from dynast import visualize as vis
from dynast.errors import PipelineError
from dynast.semantics.image_io import FitTransform
from dynast.tasks.spec import Prepared

__all__ = ["BlockCandidates", "PipelineResult", "build_result"]

Frame = Literal["output", "target"]


@dataclass
class BlockCandidates:
    """The candidates of one query pixel in one transformer block.

    ``query_xy`` is the query cell's centre and ``xy`` (n, 2) the candidates' centres, both
    in model-canvas pixels of the target / reference; ``kept`` (n,) says which links survived
    the dynamic pruning, ``weights`` (n,) are the warp weights W and ``attention`` (n,) the
    attention A.
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
        warp_maps: per block, coarse to fine, uint8 (h, w, 3) at the block's grid: the
            reference warped by the block's weights.
        confidence_maps: per block, float32 (h, w) at the block's grid: the raw confidence.
        no_match: per block, bool (h, w): pixels whose links were all pruned.
        timings: seconds per stage ("load", "semantics", "model", "visualise", "total").
        warnings: notices for the user (downscaled inputs, several people, ...).
        task, resolution, precision, device, top_k: what ran (resolution is the canvas (H, W)).
        target_transform / reference_transform: canvas <-> the inputs as the task saw them.
        model_input: the target as the model saw it (same frame as ``image``), None for
            keypoint targets.
        pasted: the output mapped back into the user's target photo, when the task fitted it
            to the training frame (``fit=True``); else None.
        checkpoint: the checkpoint directory's name ("" for a model passed in).
        framing: the target's ``FramingTransform`` (user photo -> model frame) when fitted.
    """

    image: Image.Image
    semantics: Image.Image
    reference: Image.Image
    warp_maps: list[np.ndarray]
    confidence_maps: list[np.ndarray]
    no_match: list[np.ndarray]
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
    model_input: Image.Image | None = None
    pasted: Image.Image | None = None
    checkpoint: str = ""
    framing: Any | None = field(default=None, repr=False)

    @property
    def captions(self) -> list[str]:
        return vis.block_captions(self.blocks)

    @cached_property
    def warps(self) -> list[tuple[Image.Image, str]]:
        """(image, caption) per block: the warp drawn at model scale and cropped like
        ``image``, checkerboard where every link of a pixel was pruned
        (:func:`dynast.visualize.warp_panels`)."""
        return vis.warp_panels(self.warp_maps, self.no_match, self.blocks, self.resolution,
                               self.target_transform.crop)

    @cached_property
    def confidences(self) -> list[tuple[Image.Image, str]]:
        """(image, caption) per block: the confidence on one 0..1 scale with its colour bar
        (:meth:`confidence_panels`)."""
        return self.confidence_panels()

    def confidence_panels(self, per_block: bool = False) -> list[tuple[Image.Image, str]]:
        """The confidence panels on one 0..1 scale, or each block on its own range
        (:func:`dynast.visualize.confidence_panels`)."""
        return vis.confidence_panels(self.confidence_maps, self.no_match, self.blocks,
                                     self.resolution, self.target_transform.crop, per_block)

    def to_canvas(self, x: float, y: float, frame: Frame = "output") -> tuple[float, float]:
        """Map a pixel of the output image (or of the user's target image) to the canvas.
        Raises :class:`PipelineError` when x or y is not a finite number."""
        if not all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
                   and np.isfinite(v) for v in (x, y)):
            raise PipelineError(f"the pixel must be two finite numbers x, y, got {x!r}, {y!r}")
        t = self.target_transform
        if frame == "output":
            return float(x + t.left), float(y + t.top)
        if frame == "target":
            xy = np.array([[x, y]], np.float64)
            if self.framing is not None:
                xy = self.framing.to_model(xy)
            cx, cy = t.to_dst(xy)[0]
            return float(cx), float(cy)
        raise PipelineError(f"frame must be 'output' or 'target', got {frame!r}")

    def matches_at(self, x: float, y: float, frame: Frame = "output") -> list[BlockCandidates]:
        """For the target pixel (x, y), every block's candidates on the reference.

        ``frame`` says which image the coordinates are in: "output" for the generated image
        or the semantics drawing (they share a frame), "target" for the user's target image.
        Coordinates outside are clipped to the nearest pixel of the content.
        Dense blocks keep the query's best candidates by attention; sparse blocks all of
        their 4k / 5k candidates (repeats included).
        """
        cx, cy = self.to_canvas(x, y, frame)
        t = self.target_transform
        cx = float(np.clip(cx, t.left, t.left + t.content_width - 1))
        cy = float(np.clip(cy, t.top, t.top + t.content_height - 1))
        out: list[BlockCandidates] = []
        captions = self.captions
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
                caption=captions[i],
                query_cell=(bx, by),
                query_xy=((bx + 0.5) * s - 0.5, (by + 0.5) * s - 0.5),
                xy=xy, kept=m["kept"][q].astype(bool), weights=m["weights"][q].astype(np.float32),
                attention=m["attention"][q].astype(np.float32),
            ))
        return out

    def inspect(self, x: float, y: float, frame: Frame = "output"
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
            panels.append((img, f"{b.caption}: {b.n_kept}/{len(b.kept)} links kept"))
        return marked, panels

    def timings_text(self) -> str:
        """A one-line human summary of the timings."""
        parts = [f"{k} {v:.2f} s" for k, v in self.timings.items() if k != "total"]
        return (f"total {self.timings.get('total', 0.0):.2f} s ({', '.join(parts)}) · "
                f"{self.resolution[1]}x{self.resolution[0]} · {self.precision} · {self.device} · "
                f"top-k {self.top_k}")

    def summary(self) -> dict[str, Any]:
        """Plain data about the call (for ``--json`` and logs): what ran, timings, warnings."""
        return {"task": self.task, "checkpoint": self.checkpoint,
                "resolution": list(self.resolution), "precision": self.precision,
                "device": self.device, "top_k": self.top_k,
                "output_size": list(self.image.size[::-1]),
                "timings": {k: round(v, 4) for k, v in self.timings.items()},
                "warnings": list(self.warnings)}


def _block_maps(out: Any, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """Block ``i`` of ``out`` (batch of 1) as raw maps: warp (h, w, 3) uint8, confidence
    (h, w) float32, no-match mask (h, w) bool, and its compact matches."""
    info = out.blocks[i]
    h, w = int(info.height), int(info.width)
    m = out.matches[i]
    kept = m.kept[0].cpu().numpy()
    pruned = ~kept.reshape(h, w, -1).any(-1) if kept.size else np.ones((h, w), bool)
    matches = {
        "indices": m.indices[0].cpu().numpy().astype(np.int32),
        "kept": kept,
        "weights": m.weights[0].float().cpu().numpy().astype(np.float16),
        "attention": m.attention[0].float().cpu().numpy().astype(np.float16),
    }
    confidence = out.confidence[i][0, 0].float().cpu().numpy().astype(np.float32)
    return vis.tensor_to_uint8(out.warps[i][0]), confidence, pruned, matches


def build_result(out: Any, prepared: Prepared, *, task: str, precision: str, device: str,
                 top_k: int, timings: dict[str, float], checkpoint: str = "") -> PipelineResult:
    """Turn the model output (batch of 1, with warps and matches) into a :class:`PipelineResult`."""
    if not bool(np.isfinite(out.image.float().cpu().numpy()).all()):
        raise PipelineError(
            "The model produced NaN or infinite values; try precision fp32." if precision != "fp32"
            else "The model produced NaN or infinite values at fp32: its weights or the inputs "
                 "are broken; re-create or download the checkpoint again.")
    canvas = prepared.canvas
    tgt_tf = prepared.target_transform
    canvas_image = vis.tensor_to_uint8(out.image[0])
    views = [_block_maps(out, i) for i in range(len(out.blocks))]
    pasted = None
    if prepared.framing is not None and prepared.original_target is not None:
        content = np.ascontiguousarray(tgt_tf.crop(canvas_image))
        pasted = Image.fromarray(prepared.framing.paste_back(content, prepared.original_target))
    model_input = (Image.fromarray(np.ascontiguousarray(tgt_tf.crop(prepared.model_input)))
                   if prepared.model_input is not None else None)
    return PipelineResult(
        image=Image.fromarray(np.ascontiguousarray(tgt_tf.crop(canvas_image))),
        semantics=Image.fromarray(np.ascontiguousarray(tgt_tf.crop(prepared.preview))),
        reference=Image.fromarray(prepared.reference),
        warp_maps=[v[0] for v in views], confidence_maps=[v[1] for v in views],
        no_match=[v[2] for v in views], timings=timings, warnings=list(prepared.warnings),
        task=task, resolution=canvas,
        precision=precision, device=device, top_k=top_k, target_transform=tgt_tf,
        reference_transform=prepared.reference_transform, blocks=list(out.blocks),
        _matches=[v[3] for v in views], model_input=model_input, pasted=pasted,
        checkpoint=checkpoint,
        framing=prepared.framing.transform if prepared.framing is not None else None,
    )
