"""Compatibility module: the inference pipeline now lives in :mod:`dynast.inference` and the
tasks in :mod:`dynast.tasks`. Every name that was public here still imports from here.

New code: ``from dynast.inference.pipeline import DynaSTPipeline``,
``from dynast.inference.checkpoints import resolve_checkpoint``,
``from dynast.tasks import get_task, task_names``.
"""
from __future__ import annotations

from typing import Literal

from dynast.inference.checkpoints import checkpoint_task, list_checkpoints, resolve_checkpoint
from dynast.inference.errors import MissingCheckpoint, PipelineError
from dynast.inference.pipeline import DynaSTPipeline
from dynast.inference.result import BlockCandidates, PipelineResult
from dynast.inference.runtime import default_device, default_precision
from dynast.semantics.errors import SemanticsError
from dynast.tasks import PoseTarget, get_task, pose_target_from_file, read_pose_file, task_names

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
    "PoseTarget",
    "pose_target_from_file",
    "SemanticsError",
]

Task = Literal["pose", "face", "style"]
Precision = Literal["fp32", "bf16", "fp16"]
# snapshots of the registry at import time (the registry is the live list)
TASKS: tuple[str, ...] = task_names()
TASK_TITLES: dict[str, str] = {t: get_task(t).title for t in TASKS}
DEFAULT_RESOLUTION: dict[str, int] = {t: get_task(t).default_resolution for t in TASKS}
RESOLUTIONS: tuple[int, ...] = tuple(range(64, 1025, 64))
CONVERT_HINT = "python -m dynast.convert latest_net_G.pth checkpoints/pose-deepfashion --task pose"
