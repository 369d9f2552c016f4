"""How each task is trained: its data layouts, its objective, whether batches carry a target.

Tasks themselves live in the :mod:`dynast.tasks` registry (channels, semantics, names); this
module only adds a training recipe to a registered task. Training a new task = register its
``TaskSpec`` with ``dynast.tasks.register_task`` and one ``register(TrainingTask(...))`` here (or
in the task's own module); no other task is touched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from torch.utils.data import Dataset

from dynast.tasks import TaskSpec
from dynast.tasks import get_task as get_spec
from train.config import DataConfig, LossConfig
from train.losses.objectives import StyleObjective, SupervisedObjective
from train.losses.vgg import VGG19Features

DatasetBuilder = Callable[[DataConfig, Path], Dataset]


class UnknownTrainingTask(ValueError):
    """The task is not registered in ``dynast.tasks`` or has no training recipe."""


@dataclass(frozen=True)
class TrainingTask:
    """``name``: a ``dynast.tasks`` name. ``datasets``: data.kind -> builder(data config,
    semantics cache dir); the first is the default. ``supervised``: batches carry the
    ground-truth ``target`` (pose, faces) or not (style).

    A data set exposes ``semantic_nc`` and ``ref_semantic_nc`` (the generator is built with
    them). The default kind must produce the task's own format (``TaskSpec.semantic_nc`` and
    ``ref_semantic_nc``, what inference feeds the model); other kinds may bring a format of their
    own (CelebAMask-HQ's 15 channels for ``face``)."""

    name: str
    datasets: dict[str, DatasetBuilder]
    objective: Callable[[LossConfig, VGG19Features], SupervisedObjective | StyleObjective]
    supervised: bool

    @property
    def spec(self) -> TaskSpec:
        """The task's entry in the ``dynast.tasks`` registry."""
        return get_spec(self.name)

    def build_dataset(self, data: DataConfig, cache_dir: Path) -> Dataset:
        kind = data.kind or next(iter(self.datasets))
        if kind not in self.datasets:
            raise ValueError(
                f"task {self.name!r} has no data kind {kind!r}; "
                f"choose one of {sorted(self.datasets)}"
            )
        dataset = self.datasets[kind](data, cache_dir)
        if data.cross_identity > 0 and not hasattr(dataset, "cross_identity"):
            raise ValueError(
                f"data.cross_identity is for face photo folders (task face, data kind photos); "
                f"task {self.name!r} with data kind {kind!r} has no cross-identity pairs"
            )
        spec = self.spec
        channels = (dataset.semantic_nc, dataset.ref_semantic_nc)
        if kind == next(iter(self.datasets)) and channels != (
            spec.semantic_nc,
            spec.ref_semantic_nc,
        ):
            raise ValueError(
                f"task {self.name!r}: data kind {kind!r} gives {channels[0]} target and "
                f"{channels[1]} reference semantic channels, the task's spec says "
                f"{spec.semantic_nc} and {spec.ref_semantic_nc}"
            )
        return dataset


TASKS: dict[str, TrainingTask] = {}


def register(task: TrainingTask) -> TrainingTask:
    """Add a training recipe for a task registered in ``dynast.tasks``."""
    get_spec(task.name)  # the task must exist; raises UnknownTask naming the registered ones
    TASKS[task.name] = task
    return task


def training_task(name: str) -> TrainingTask:
    """The training recipe of ``name``; a clear error for unknown or untrainable tasks."""
    if name not in TASKS:
        from dynast.tasks import task_names

        known = task_names()
        if name in known:
            raise UnknownTrainingTask(
                f"task {name!r} has no training recipe; register one with "
                "train.tasks.register(TrainingTask(...)) (docs/TRAINING.md)"
            )
        raise UnknownTrainingTask(f"unknown task {name!r}; trainable tasks: {sorted(TASKS)}")
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

    return PeoplePhotos(
        _need(d.path, "--data"), d.size, cache, d.max_images, d.warp_strength, fit=d.fit
    )


def _face_photos(d: DataConfig, cache: Path) -> Dataset:
    from train.data.faces import FacePhotos

    return FacePhotos(
        _need(d.path, "--data"), d.size, cache, d.max_images, d.warp_strength, fit=d.fit,
        cross_identity=d.cross_identity,
    )


def _celebamask(d: DataConfig, cache: Path) -> Dataset:
    from train.data.faces import CelebAMaskHQ

    return CelebAMaskHQ(
        _need(d.path, "--data"), d.size, cache, d.split, d.max_images, d.warp_strength
    )


def _content_style(d: DataConfig, cache: Path) -> Dataset:
    from train.data.style import ContentStyle

    return ContentStyle(
        _need(d.content, "--content"), _need(d.style, "--style"), d.size, d.load_size, d.max_images
    )


register(
    TrainingTask(
        "pose",
        {"deepfashion": _deepfashion, "photos": _people_photos},
        SupervisedObjective,
        supervised=True,
    )
)
register(
    TrainingTask(
        "face",
        {"photos": _face_photos, "celebamask": _celebamask},
        SupervisedObjective,
        supervised=True,
    )
)
register(TrainingTask("style", {"folders": _content_style}, StyleObjective, supervised=False))
