"""The pipeline's options are validated once, with messages; the model runner is injectable."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from dynast import DynaST, DynaSTConfig
from dynast.errors import MissingCheckpoint, PipelineError, UnknownTask
from dynast.inference.pipeline import DynaSTPipeline
from test_pipeline import CONTENT, STYLE


@pytest.fixture(scope="module")
def model() -> DynaST:
    torch.manual_seed(0)
    return DynaST(DynaSTConfig(ngf=8, semantic_nc=3, ref_semantic_nc=0)).eval()


@pytest.mark.parametrize("kwargs,message", [
    (dict(resolution="256x256"), "got the text '256x256'"),
    (dict(resolution=0), "multiple of 64 between 64 and 1024, got 0"),
    (dict(resolution=100), "multiple of 64"),
    (dict(resolution=(256, 250)), "multiples of 8"),
    (dict(resolution=(256,)), r"\(height, width\)"),
    (dict(top_k=2.5), "whole number such as 4, got 2.5"),
    (dict(top_k=True), "whole number"),
    (dict(top_k=0), "between 1 and 16"),
    (dict(precision="fp64"), "precision must be one of fp32, bf16, fp16"),
])
def test_bad_options_are_refused_by_name(model: DynaST, kwargs: dict[str, Any],
                                         message: str) -> None:
    with pytest.raises(PipelineError, match=message):
        DynaSTPipeline("style", model=model, device="cpu", **kwargs)
    pipe = DynaSTPipeline("style", model=model, device="cpu", precision="fp32", resolution=64)
    with pytest.raises(PipelineError, match=message):
        pipe(STYLE, CONTENT, **kwargs)


def test_unknown_task_and_missing_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(UnknownTask, match="choose one of pose, face, style"):
        DynaSTPipeline("segmentation", device="cpu")
    missing = tmp_path / "not-there"
    with pytest.raises(MissingCheckpoint, match=str(missing)):
        DynaSTPipeline("pose", missing, device="cpu")  # no silent fallback to the shipped one
    with pytest.raises(PipelineError, match="target_kind 'photo'"):
        DynaSTPipeline("style", model=DynaST(DynaSTConfig(ngf=8, semantic_nc=3,
                                                          ref_semantic_nc=0)),
                       device="cpu")(STYLE, CONTENT, target_kind="sketch")


def test_injected_runner_gets_cpu_tensors(model: DynaST) -> None:
    calls: list[dict[str, Any]] = []

    def runner(m: DynaST, ref: torch.Tensor, ref_sem: torch.Tensor | None, tgt: torch.Tensor,
               *, top_k: int, precision: str, on_level: Any = None) -> Any:
        calls.append(dict(device=ref.device.type, ref_sem=ref_sem, shape=tuple(tgt.shape),
                          top_k=top_k, precision=precision))
        with torch.inference_mode():
            return m(ref, ref_sem, tgt, return_warps=True, return_matches=True, top_k=top_k,
                     on_level=on_level)

    pipe = DynaSTPipeline("style", model=model, device="cpu", precision="fp32", resolution=128,
                          runner=runner)
    result = pipe(STYLE, CONTENT, top_k=3.0)  # a slider's float is fine when whole
    assert result.resolution == (88, 128)  # the content photo's aspect
    assert calls == [dict(device="cpu", ref_sem=None, shape=(1, 3, 88, 128), top_k=3,
                          precision="fp32")]
    assert result.top_k == 3
    stages: list[str] = []
    pipe(STYLE, CONTENT, progress=lambda f, s: stages.append(s))
    assert stages == ["computing the semantics", "loading the model", "running the model",
                      *(f"matching: level {i} of 4 done" for i in (1, 2, 3, 4)),
                      "drawing the warps"]


def test_progress_reports_matching_level_by_level(model: DynaST) -> None:
    stages: list[tuple[float, str]] = []
    pipe = DynaSTPipeline("style", model=model, device="cpu", precision="fp32", resolution=128)
    pipe(STYLE, CONTENT, progress=lambda fraction, stage: stages.append((fraction, stage)))
    levels = [stage for _, stage in stages if stage.startswith("matching")]
    assert levels == [f"matching: level {i} of 4 done" for i in (1, 2, 3, 4)]
    fractions = [fraction for fraction, _ in stages]
    assert fractions == sorted(fractions) and 0.0 <= fractions[0] and fractions[-1] <= 1.0


def test_the_pipeline_holds_its_model_and_calls_change_nothing(tmp_path: Path) -> None:
    """from_pretrained resolves and loads once; calls reuse the held model and leave the
    pipeline as it was (no load time moved around between calls)."""
    DynaST(DynaSTConfig(ngf=8, semantic_nc=3, ref_semantic_nc=0)).save_pretrained(
        tmp_path / "style", task="style"
    )
    pipe = DynaSTPipeline.from_pretrained(tmp_path / "style", task="style", device="cpu",
                                          precision="fp32", resolution=64)
    model, loaded_in = pipe.model, pipe.load_seconds
    assert loaded_in > 0 and pipe.checkpoint == tmp_path / "style"
    first = pipe(STYLE, CONTENT)
    second = pipe(STYLE, CONTENT)
    assert pipe.model is model and pipe.load_seconds == loaded_in
    assert first.timings["load"] < 0.05 and second.timings["load"] < 0.05  # already loaded
    assert np.array_equal(np.asarray(first.image), np.asarray(second.image))


def test_the_app_keeps_one_pipeline_per_task_and_checkpoint(tmp_path: Path) -> None:
    from app.settings import AppSettings

    for name in ("style", "style_b"):
        DynaST(DynaSTConfig(ngf=8, semantic_nc=3, ref_semantic_nc=0)).save_pretrained(
            tmp_path / name, task="style"
        )
    settings = AppSettings(checkpoints_root=tmp_path, device="cpu", remotes={})
    pipe = settings.pipeline("style", tmp_path / "style")
    assert settings.pipeline("style", tmp_path / "style") is pipe  # reused, not rebuilt
    assert settings.pipeline("style", tmp_path / "style_b") is not pipe
    assert pipe.precision == settings.auto_precision  # "auto" is decided once, by the settings
