"""Adding a task touches nothing else: a toy 2-channel task registered from a test runs through
checkpoint lookup, the pipeline and the generate command (docs/ADDING_A_TASK.md)."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dynast import DynaST, DynaSTConfig
from dynast.inference.checkpoints import list_checkpoints, resolve_checkpoint
from dynast.inference.cli import main
from dynast.inference.pipeline import DynaSTPipeline
from dynast.semantics import fit_to_size
from dynast.tasks import (
    Prepared,
    PrepareRequest,
    TaskSpec,
    get_task,
    register_task,
    task_names,
    unregister_task,
)
from dynast.tasks.inputs import load_user_image
from test_pipeline import CONTENT, STYLE


def prepare_toy(reference: object, target: object, request: PrepareRequest) -> Prepared:
    """Semantics = (brightness, dark mask) of a picture, for both inputs."""
    warnings: list[str] = []
    ref = load_user_image(reference, "reference", warnings)  # type: ignore[arg-type]
    tgt = load_user_image(target, "layout", warnings)  # type: ignore[arg-type]
    h, w = TOY.canvas(request.resolution, tgt.shape[:2])
    ref_fit, ref_tf = fit_to_size(ref, h, w)
    tgt_fit, tgt_tf = fit_to_size(tgt, h, w)

    def semantics(img: np.ndarray) -> np.ndarray:
        gray = img.astype(np.float32).mean(axis=2) / 255.0
        return np.stack([gray, (gray < 0.4).astype(np.float32)])

    sem = semantics(tgt_fit)
    preview = np.repeat((sem[1] * 255).astype(np.uint8)[:, :, None], 3, axis=2)
    return Prepared(reference=ref_fit, ref_semantics=semantics(ref_fit),
                    target_semantics=sem, target_transform=tgt_tf, reference_transform=ref_tf,
                    preview=preview, warnings=warnings, model_input=tgt_fit)


TOY = TaskSpec(name="toy", title="toy brightness transfer", semantic_nc=2, ref_semantic_nc=2,
               prepare=prepare_toy, reference_label="reference", target_label="layout",
               default_resolution=64, keeps_target_aspect=True)


@pytest.fixture()
def toy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    before = {n: get_task(n) for n in task_names()}
    register_task(TOY)
    torch.manual_seed(0)
    root = tmp_path / "ckpts"
    DynaST(DynaSTConfig(ngf=8, semantic_nc=2, ref_semantic_nc=2)).save_pretrained(
        root / "toy", task="toy"
    )
    monkeypatch.setenv("DYNAST_CHECKPOINTS_DIR", str(root))
    try:
        yield root
    finally:
        unregister_task("toy")
        assert {n: get_task(n) for n in task_names()} == before  # the others untouched


def test_toy_task_runs_end_to_end(toy: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert task_names()[-1] == "toy"
    assert json.loads((toy / "toy" / "config.json").read_text())["task"] == "toy"
    assert resolve_checkpoint(None, "toy") == toy / "toy"
    assert list_checkpoints(toy)["toy"] == [toy / "toy"]

    result = DynaSTPipeline("toy", device="cpu", precision="fp32")(STYLE, CONTENT)
    h, w = result.resolution
    assert max(h, w) == 64 and result.task == "toy" and result.checkpoint == "toy"
    assert len(result.warps) == len(result.blocks) == 8
    assert result.model_input is not None and result.model_input.size == result.image.size

    code = main(["generate", "--task", "toy", "--reference", str(STYLE), "--target",
                 str(CONTENT), "--out", str(tmp_path / "toy.png"), "--json", "--verbose"])
    assert code == 0 and json.loads(capsys.readouterr().out)["task"] == "toy"
    assert Image.open(tmp_path / "toy.png").size == result.image.size
