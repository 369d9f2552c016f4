"""Multi-process and mixed-precision training: DDP with every ablation (unused parameters), fp16."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest
import torch

from conftest import random_inputs
from conftest import tiny_config as tiny_model_config
from dynast import DynaST
from test_train_fit import read_metrics, run_two_process_face_fit, tiny_config
from train.distributed import leaves_parameters_unused
from train.trainer import fit

ABLATIONS = {
    "no_prune": "{prune: false}",
    "no_inner": "{inner_scale: false}",
    "stride2": "{finest_match_stride: 2}",
    "stride8_no_prune": "{finest_match_stride: 8, prune: false}",
}


@pytest.mark.parametrize(
    "prune,inner,stride", list(itertools.product([True, False], [True, False], [1, 2, 4, 8]))
)
def test_unused_parameter_rule_matches_a_backward_pass(
    prune: bool, inner: bool, stride: int
) -> None:
    """DDP is told about unused parameters exactly when a backward pass leaves some without grad."""
    cfg = tiny_model_config(prune=prune, inner_scale=inner, finest_match_stride=stride)
    model = DynaST(cfg)
    out = model(*random_inputs(cfg), return_warps=True)
    (out.image.sum() + sum(w.sum() for w in out.warps)).backward()
    unused = [name for name, p in model.named_parameters() if p.grad is None]
    assert leaves_parameters_unused(cfg) == bool(unused), unused[:3]


def test_fp16_on_cpu_gives_finite_losses_and_the_generator_steps_after_a_few(
    tmp_path: Path,
) -> None:
    """fp16 autocast (on the CPU here): every logged loss is finite. The generator's gradients
    exceed fp16's range even unscaled (the matching loss through the attention's 1/0.01
    temperature), so its GradScaler starts at G_FP16_INIT_SCALE and the discriminator has its
    own; from PyTorch's default 2**16 every one of these 12 steps was skipped."""
    out = tmp_path / "fp16"
    summary = fit(
        tiny_config(
            "face",
            out,
            tmp_path / "cache",
            "run.precision=fp16",
            "data.max_images=2",
            "schedule.batch_size=2",
            "schedule.epochs=12",
            "schedule.decay_epochs=0",
            "run.log_every=1",
            "run.checkpoint_every=0",
        )
    )
    assert summary["steps"] == 12
    assert summary["nonfinite_steps"] <= 5, summary  # the scaler settles, then every step counts
    records = read_metrics(out)
    assert len(records) == 12
    for record in records:
        losses = {k: v for k, v in record.items() if k.startswith(("g/", "d/"))}
        assert {"g/matching", "g/vgg", "d/d_real"} <= losses.keys()
        assert all(math.isfinite(v) for v in losses.values()), record


def test_vgg_features_are_float32_under_fp16_autocast() -> None:
    from train.losses.vgg import VGG19Features

    vgg = VGG19Features()
    white = torch.ones(
        1, 3, 32, 32
    )  # 255 - mean at the input: fp16 activations would overflow deeper
    with torch.autocast("cpu", dtype=torch.float16):
        feats = vgg(white.half(), ("relu1_2", "relu5_2"))
    assert all(f.dtype == torch.float32 and torch.isfinite(f).all() for f in feats.values())
    torch.testing.assert_close(feats["relu5_2"], vgg(white, ("relu5_2",))["relu5_2"])


@pytest.mark.slow
@pytest.mark.parametrize("name", list(ABLATIONS))
def test_ddp_with_each_ablation_runs_three_steps(name: str, tmp_path: Path) -> None:
    summary = run_two_process_face_fit(
        tmp_path / name, tmp_path / "cache", f"model.extra={ABLATIONS[name]}"
    )
    assert summary["world_size"] == 2 and summary["steps"] == 3 and summary["ranks_agree"] is True


def test_nccl_process_group_is_bound_to_the_rank_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """On CUDA, init_process_group gets device_id = this rank's GPU (checked without a GPU)."""
    import torch.distributed as dist

    from train import distributed

    calls = []
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(
        torch.cuda, "set_device", lambda device: calls.append(("set_device", device))
    )
    monkeypatch.setattr(dist, "is_initialized", lambda: False)
    monkeypatch.setattr(dist, "init_process_group", lambda **kw: calls.append(("init", kw)))
    info = distributed.setup("auto")
    gpu1 = torch.device("cuda", 1)
    assert info.device == gpu1 and (info.rank, info.world_size) == (1, 2)
    assert calls == [("set_device", gpu1), ("init", {"backend": "nccl", "device_id": gpu1})]


def test_batchnorm_becomes_syncbatchnorm_only_on_several_gpus() -> None:
    from train.distributed import DistInfo, sync_batchnorm

    def count(module: torch.nn.Module, kind: type) -> int:
        return sum(isinstance(m, kind) for m in module.modules())

    cfg = tiny_model_config()
    model = DynaST(cfg)
    before = count(model, torch.nn.BatchNorm2d)
    assert before > 0
    params = list(model.parameters())
    cpu_two = DistInfo(0, 2, 0, torch.device("cpu"))
    gpu_one = DistInfo(0, 1, 0, torch.device("cuda", 0))
    assert sync_batchnorm(model, cpu_two) is model and sync_batchnorm(model, gpu_one) is model
    assert count(model, torch.nn.SyncBatchNorm) == 0
    gpu_two = DistInfo(1, 2, 1, torch.device("cuda", 1))
    assert sync_batchnorm(model, gpu_two) is model
    assert count(model, torch.nn.SyncBatchNorm) == before
    assert all(a is b for a, b in zip(model.parameters(), params))  # optimisers stay valid
