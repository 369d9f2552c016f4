"""What a task is: :class:`TaskSpec`, and what its ``prepare`` receives and returns.

A task (pose transfer, faces, style transfer, ...) is data plus one function: ``prepare``
turns the user's reference and target into the model's inputs by calling
:mod:`dynast.semantics`. The pipeline, the app, the CLI and training look tasks up by name in
the registry (:func:`dynast.tasks.get_task`); nothing else lists them.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from dynast.semantics.image_io import FitTransform

__all__ = ["Framing", "FramingMap", "PrepareRequest", "Prepared", "PrepareFn", "TaskSpec", "Size"]

Size = tuple[int, int]


class FramingMap(Protocol):
    """Points of the user's photo <-> the model frame (``FramingTransform``)."""

    def to_model(self, points: np.ndarray) -> np.ndarray: ...

    def to_original(self, points: np.ndarray) -> np.ndarray: ...


class Framing(Protocol):
    """How a fitted target maps back to the user's photo (``dynast.semantics.framing.Framed``)."""

    transform: FramingMap

    def paste_back(self, output: np.ndarray, original: np.ndarray) -> np.ndarray:
        """Output (h, w, 3) uint8 in the model frame -> (H, W, 3) uint8 in the original's."""
        ...


@dataclass(frozen=True)
class PrepareRequest:
    """What the pipeline asks of ``prepare`` beside the two inputs.

    Attributes:
        resolution: the model canvas: an int is the long side (square canvas unless the task
            keeps the target's aspect), a pair is (height, width); already validated.
        target_kind: one of the task's ``target_kinds`` (e.g. "photo", "sketch").
        fit: fit photos to the frame the model was trained on (tasks that support it).
    """

    resolution: int | Size
    target_kind: str = "photo"
    fit: bool = True


@dataclass
class Prepared:
    """The model's inputs for one call, and what is needed to show the result.

    Attributes:
        reference: uint8 (H, W, 3), the reference as the model sees it.
        ref_semantics: float32 (s_ref, H, W) or None (tasks without reference semantics).
        target_semantics: float32 (s, H, W).
        target_transform: maps the target (as the task saw it) into the (H, W) canvas; the
            output is cropped with it.
        reference_transform: the same for the reference.
        preview: uint8 (H, W, 3), a drawing of the target semantics on the canvas.
        warnings: notices for the user ("Reference: several people ...").
        model_input: uint8 (H, W, 3), the target as the model saw it, when the target is a
            picture (None for keypoint targets).
        framing: set when the target was fitted to the training frame: maps the output
            back into ``original_target`` (see :class:`Framing`).
        original_target: uint8 (h, w, 3), the user's target photo, when ``framing`` is set.
    """

    reference: np.ndarray
    ref_semantics: np.ndarray | None
    target_semantics: np.ndarray
    target_transform: FitTransform
    reference_transform: FitTransform
    preview: np.ndarray
    warnings: list[str] = field(default_factory=list)
    model_input: np.ndarray | None = None
    framing: Framing | None = None
    original_target: np.ndarray | None = None

    @property
    def canvas(self) -> Size:
        """(H, W) of the model canvas."""
        return int(self.reference.shape[0]), int(self.reference.shape[1])


PrepareFn = Callable[[Any, Any, PrepareRequest], Prepared]


@dataclass(frozen=True)
class TaskSpec:
    """One application of DynaST.

    Attributes:
        name: registry key ("pose", "face", "style"); also the shipped checkpoint folder
            name unless ``checkpoint_name`` says otherwise, and the ``task`` field written
            into checkpoints' ``config.json``.
        title: human name ("pose transfer").
        semantic_nc: channels of the target semantics the task computes.
        ref_semantic_nc: channels of the reference semantics (0: none, as in style transfer).
        prepare: ``prepare(reference, target, request) -> Prepared``.
        reference_label / target_label: what the two inputs are called in messages and UIs.
        target_kinds: the kinds of target the task accepts; the first is the default.
        default_resolution: the canvas' long side by default (the model's training size).
        min_resolution / max_resolution: limits on each side of the canvas.
        keeps_target_aspect: an int resolution gives a canvas with the target's aspect
            (style) instead of a square (pose, faces).
        can_fit: ``request.fit`` changes something (photos fitted to the training frame).
        checkpoint_name: folder name of the shipped checkpoint (default: ``name``).
        checkpoint_hint: how to get a checkpoint, for "no checkpoint" messages.
    """

    name: str
    title: str
    semantic_nc: int
    ref_semantic_nc: int
    prepare: PrepareFn
    reference_label: str = "reference image"
    target_label: str = "target image"
    target_kinds: tuple[str, ...] = ("photo",)
    default_resolution: int = 256
    min_resolution: int = 64
    max_resolution: int = 1024
    keeps_target_aspect: bool = False
    can_fit: bool = False
    checkpoint_name: str = ""
    checkpoint_hint: str = "train one (see docs/TRAINING.md) or copy a checkpoint directory there"

    def __post_init__(self) -> None:
        if not self.name.isidentifier() or self.name != self.name.lower():
            raise ValueError(f"task names are lower-case identifiers, got {self.name!r}")
        if self.semantic_nc < 1 or self.ref_semantic_nc < 0:
            raise ValueError(f"task {self.name!r}: semantic_nc must be >= 1 and ref_semantic_nc "
                             f">= 0, got {self.semantic_nc} and {self.ref_semantic_nc}")
        if not self.target_kinds:
            raise ValueError(f"task {self.name!r} must accept at least one target kind")
        if not 8 <= self.min_resolution <= self.default_resolution <= self.max_resolution:
            raise ValueError(f"task {self.name!r}: need 8 <= min_resolution <= "
                             "default_resolution <= max_resolution")
        if not self.checkpoint_name:
            object.__setattr__(self, "checkpoint_name", self.name)

    def canvas(self, resolution: int | Size, target_hw: Size) -> Size:
        """The model canvas (H, W) for a validated ``resolution`` and a target of ``target_hw``.

        A pair is used as it is. An int is the long side: a square canvas, or, when the task
        keeps the target's aspect, the short side follows it (a multiple of 8, at least
        ``min_resolution``).
        """
        if isinstance(resolution, tuple):
            return resolution
        if not self.keeps_target_aspect:
            return resolution, resolution
        h, w = target_hw
        short = max(self.min_resolution, int(round(resolution * min(h, w) / max(h, w) / 8)) * 8)
        return (resolution, short) if h >= w else (short, resolution)
