"""Tasks as plug-ins: each names its data layouts, its objective and how it is evaluated.

Adding a task = one more ``register(Task(...))``; nothing else changes.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from torch.utils.data import Dataset

from train.config import DataConfig, LossConfig
from train.losses.objectives import StyleObjective, SupervisedObjective
from train.losses.vgg import VGG19Features

DatasetBuilder = Callable[[DataConfig, Path], Dataset]


@dataclass(frozen=True)
class Task:
    """``datasets``: data.kind -> builder(data config, semantics cache dir); the first is the default.
    ``supervised``: batches carry the ground-truth ``target`` (pose, faces) or not (style)."""

    name: str
    datasets: dict[str, DatasetBuilder]
    objective: Callable[[LossConfig, VGG19Features], SupervisedObjective | StyleObjective]
    supervised: bool

    def build_dataset(self, data: DataConfig, cache_dir: Path) -> Dataset:
        kind = data.kind or next(iter(self.datasets))
        if kind not in self.datasets:
            raise ValueError(f"task {self.name!r} has no data kind {kind!r}; choose one of {sorted(self.datasets)}")
        return self.datasets[kind](data, cache_dir)


TASKS: dict[str, Task] = {}


def register(task: Task) -> Task:
    TASKS[task.name] = task
    return task


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise KeyError(f"unknown task {name!r}; known: {sorted(TASKS)}")
    return TASKS[name]


def _need(value: str, flag: str) -> str:
    if not value:
        raise ValueError(f"no data given: pass {flag}")
    return value


def _deepfashion(d: DataConfig, cache: Path) -> Dataset:
    from train.data.people import DeepFashion

    return DeepFashion(_need(d.path, "--data"), d.size, d.split, d.max_images)


def _people_photos(d: DataConfig, cache: Path) -> Dataset:
    from train.data.people import PeoplePhotos

    return PeoplePhotos(_need(d.path, "--data"), d.size, cache, d.max_images, d.warp_strength)


def _face_photos(d: DataConfig, cache: Path) -> Dataset:
    from train.data.faces import FacePhotos

    return FacePhotos(_need(d.path, "--data"), d.size, cache, d.max_images, d.warp_strength)


def _celebamask(d: DataConfig, cache: Path) -> Dataset:
    from train.data.faces import CelebAMaskHQ

    return CelebAMaskHQ(_need(d.path, "--data"), d.size, cache, d.split, d.max_images, d.warp_strength)


def _content_style(d: DataConfig, cache: Path) -> Dataset:
    from train.data.style import ContentStyle

    return ContentStyle(_need(d.content, "--content"), _need(d.style, "--style"), d.size, d.load_size, d.max_images)


register(Task("pose", {"deepfashion": _deepfashion, "photos": _people_photos}, SupervisedObjective, supervised=True))
register(Task("face", {"photos": _face_photos, "celebamask": _celebamask}, SupervisedObjective, supervised=True))
register(Task("style", {"folders": _content_style}, StyleObjective, supervised=False))
