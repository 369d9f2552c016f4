"""Training looks tasks up in the dynast.tasks registry: a fourth task trains without touching the
three shipped ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dynast import DynaST
from dynast.tasks import TaskSpec, get_task, register_task, task_names, unregister_task
from test_train_fit import ASSETS, CONFIGS, TINY, read_metrics
from train import tasks as training
from train.config import load_config
from train.data.base import SkippingDataset
from train.data.files import list_images, read_rgb, resize, to_tensor
from train.data.warped_pairs import warped_pair
from train.losses.objectives import SupervisedObjective
from train.trainer import fit


class GreyPairs(SkippingDataset):
    """Toy task "grey": the target semantics are the photo's luminance (1 channel)."""

    semantic_nc = ref_semantic_nc = 1

    def __init__(self, folder: Path, size: int) -> None:
        self.files, self.size = list_images(folder), size

    def __len__(self) -> int:
        return len(self.files)

    def name(self, index: int) -> str:
        return str(self.files[index])

    def load(self, index: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        photo = to_tensor(resize(read_rgb(self.files[index]), self.size, self.size))
        target, ref, _grid = warped_pair(rng, photo, 1.0)
        grey = lambda x: (x.mean(0, keepdim=True) + 1) / 2  # noqa: E731
        return {
            "ref_image": ref,
            "ref_semantics": grey(ref),
            "target_semantics": grey(target),
            "target": target,
        }


def _unused_prepare(reference, target, request):  # inference is not what this test is about
    raise NotImplementedError


@pytest.fixture
def grey_task():
    before = {name: get_task(name) for name in task_names()}
    spec = register_task(
        TaskSpec(
            name="grey",
            title="grey to colour",
            semantic_nc=1,
            ref_semantic_nc=1,
            prepare=_unused_prepare,
        )
    )
    recipe = training.register(
        training.TrainingTask(
            "grey",
            {"folder": lambda d, cache: GreyPairs(Path(d.path), d.size)},
            SupervisedObjective,
            supervised=True,
        )
    )
    yield spec, recipe, before
    training.TASKS.pop("grey", None)
    unregister_task("grey")


def test_a_fourth_task_trains_without_touching_the_others(grey_task, tmp_path: Path) -> None:
    spec, recipe, before = grey_task
    assert recipe.spec is spec
    out = tmp_path / "grey"
    cfg = load_config(
        CONFIGS / "face_smoke.yaml",
        [
            *TINY,
            "task=grey",
            "data.kind=folder",
            f"data.path={ASSETS / 'faces'}",
            f"run.out={out}",
            "data.max_images=2",
            "schedule.batch_size=1",
            "schedule.max_steps=2",
            "run.log_every=1",
        ],
    )
    summary = fit(cfg)
    assert summary["task"] == "grey" and summary["steps"] == 2 and len(read_metrics(out)) == 2
    model = DynaST.from_pretrained(out / "final")
    assert (model.config.semantic_nc, model.config.ref_semantic_nc) == (1, 1)
    assert {name: get_task(name) for name in before} == before  # pose, face, style untouched


def test_default_data_kind_must_match_the_task_spec(grey_task, tmp_path: Path) -> None:
    spec, recipe, _ = grey_task
    register_task(
        TaskSpec(
            name="grey", title="grey", semantic_nc=3, ref_semantic_nc=1, prepare=_unused_prepare
        ),
        replace=True,
    )
    cfg = load_config(
        CONFIGS / "face_smoke.yaml", ["task=grey", "data.kind=", f"data.path={ASSETS / 'faces'}"]
    )
    with pytest.raises(
        ValueError, match="gives 1 target and 1 reference semantic channels, the task's spec says 3"
    ):
        recipe.build_dataset(cfg.data, tmp_path)


def test_unknown_or_untrainable_tasks_are_named() -> None:
    with pytest.raises(training.UnknownTrainingTask, match="unknown task 'nope'"):
        training.training_task("nope")
    register_task(
        TaskSpec(
            name="inference_only",
            title="x",
            semantic_nc=1,
            ref_semantic_nc=0,
            prepare=_unused_prepare,
        )
    )
    try:
        with pytest.raises(
            training.UnknownTrainingTask, match="'inference_only' has no training recipe"
        ):
            training.training_task("inference_only")
    finally:
        unregister_task("inference_only")
    assert {"pose", "face", "style"} <= set(training.TASKS)


def test_cli_names_an_unknown_task_in_one_line(capsys: pytest.CaptureFixture) -> None:
    from train.cli import main

    code = main(["fit", "--config", str(CONFIGS / "face_smoke.yaml"), "task=nope", *TINY])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: unknown task 'nope'") and len(err.splitlines()) == 1
