"""Training checkpoints: read with weights_only=True (crafted pickles refused, nothing run),
per-device RNG states, resume on a different number of processes."""

from __future__ import annotations

import pathlib
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from test_train_fit import CONFIGS, DATA, TINY, tiny_config
from train import checkpoint
from train.cli import main

MARKER_NAME = "code_ran.txt"


class _RunsCode:
    """Unpickling this calls ``Path.touch(marker)``: what a crafted checkpoint would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def _craft(path: Path) -> Path:
    """A ``latest.pt`` whose unpickling would write a marker file beside it."""
    marker = path.parent / MARKER_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"format": checkpoint.FORMAT, "step": 3, "generator": _RunsCode(marker)}, path)
    return marker


def test_crafted_pickle_is_refused_by_load_without_running_code(tmp_path: Path) -> None:
    path = tmp_path / "latest.pt"
    marker = _craft(path)
    with pytest.raises(
        checkpoint.CheckpointError, match="refused to load .*latest.pt.*nothing in it was run"
    ):
        checkpoint.load(path)
    assert not marker.exists()


def test_crafted_pickle_is_refused_by_export_and_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "run"
    marker = _craft(out / "checkpoints" / "latest.pt")
    code = main(
        [
            "export",
            "--checkpoint",
            str(out / "checkpoints" / "latest.pt"),
            "--out",
            str(tmp_path / "x"),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: refused to load") and len(err.splitlines()) == 1
    assert not (tmp_path / "x").exists()
    code = main(
        [
            "fit",
            "--config",
            str(CONFIGS / "face_smoke.yaml"),
            "--out",
            str(out),
            "--resume",
            *DATA["face"],
            *TINY,
            f"data.cache_dir={tmp_path / 'cache'}",
            "data.max_images=2",
            "schedule.batch_size=1",
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and "refused to load" in err
    assert not marker.exists()


def test_checkpoint_of_another_format_is_refused(tmp_path: Path) -> None:
    torch.save({"step": 1, "generator": {"w": torch.zeros(2)}}, tmp_path / "old.pt")
    with pytest.raises(checkpoint.CheckpointError, match="not a training checkpoint of format"):
        checkpoint.load(tmp_path / "old.pt")
    with pytest.raises(checkpoint.CheckpointError, match="no training checkpoint"):
        checkpoint.load(tmp_path / "missing.pt")


def test_rng_state_round_trips_through_a_weights_only_file(tmp_path: Path) -> None:
    cpu = torch.device("cpu")
    torch.manual_seed(5)
    np.random.seed(6)
    random.seed(7)
    state = checkpoint.rng_state(cpu)
    assert "cuda" not in state  # a CPU rank saves no CUDA state
    expected = (torch.rand(3), np.random.rand(3), [random.random() for _ in range(3)])
    checkpoint.save_atomic({"rng": [state]}, tmp_path / "r.pt")
    loaded = checkpoint.load(tmp_path / "r.pt")["rng"]
    torch.manual_seed(0), np.random.seed(0), random.seed(0)
    assert checkpoint.restore_rng(loaded, 0, cpu, seed=0, step=0)
    assert torch.equal(torch.rand(3), expected[0])
    assert np.array_equal(np.random.rand(3), expected[1])
    assert [random.random() for _ in range(3)] == expected[2]


def test_cuda_rng_is_saved_and_restored_for_this_rank_device_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = []

    def forbidden(*args, **kwargs):
        raise AssertionError("every device's RNG touched")

    monkeypatch.setattr(torch.cuda, "get_rng_state_all", forbidden)
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", forbidden)
    monkeypatch.setattr(
        torch.cuda,
        "get_rng_state",
        lambda device: calls.append(("get", device)) or torch.zeros(8, dtype=torch.uint8),
    )
    monkeypatch.setattr(
        torch.cuda, "set_rng_state", lambda state, device: calls.append(("set", device))
    )
    device = torch.device("cuda", 1)
    state = checkpoint.rng_state(device)
    checkpoint.set_rng_state(state, device)
    assert calls == [("get", device), ("set", device)]
    # A CUDA checkpoint resumed on the CPU restores the rest and leaves CUDA alone.
    calls.clear()
    checkpoint.set_rng_state(state, torch.device("cpu"))
    assert calls == []


def test_resume_from_a_checkpoint_of_another_world_size(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from train.trainer import CHECKPOINT_NAME, Trainer, fit

    common = (
        "data.max_images=2",
        "schedule.batch_size=1",
        "schedule.epochs=3",
        "schedule.decay_epochs=1",
        "run.checkpoint_every=0",
    )
    out = tmp_path / "run"
    fit(tiny_config("face", out, tmp_path / "cache", *common, "schedule.max_steps=2"))
    path = out / CHECKPOINT_NAME
    state = checkpoint.load(path)
    rank0 = state["rng"][0]
    # As if written by 2 GPU ranks: each rank saved its own device's CUDA state.
    fake_gpu = [
        {**rank0, "cuda": torch.zeros(16, dtype=torch.uint8)},
        {
            **rank0,
            "torch": torch.manual_seed(99).get_state(),
            "cuda": torch.ones(16, dtype=torch.uint8),
        },
    ]
    checkpoint.save_atomic({**state, "rng": fake_gpu, "world_size": 2}, path)
    trainer = Trainer(
        tiny_config("face", out, tmp_path / "cache", *common, "schedule.max_steps=4"), resume=True
    )
    assert "written by 2 process(es), this run has 1" in capsys.readouterr().out
    assert torch.equal(torch.get_rng_state(), rank0["torch"])  # rank 0 got rank 0's state
    assert trainer.fit()["steps"] == 4
    # A rank the checkpoint has no state for gets fresh, deterministic states.
    cpu = torch.device("cpu")
    assert not checkpoint.restore_rng(fake_gpu, 2, cpu, seed=0, step=2)
    first = torch.rand(2)
    checkpoint.restore_rng(fake_gpu, 2, cpu, seed=0, step=2)
    assert torch.equal(torch.rand(2), first)


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_damaged_checkpoint_is_one_clear_error(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "latest.pt"
    checkpoint.save_atomic({"step": 1, "w": torch.zeros(1000)}, path)
    data = path.read_bytes()
    path.write_bytes(b"not a checkpoint at all" if damage == "garbage" else data[: len(data) // 2])
    with pytest.raises(
        checkpoint.CheckpointError, match="cannot read training checkpoint .*latest.pt"
    ):
        checkpoint.load(path)


def test_fp16_scalers_are_saved_and_a_checkpoint_without_the_discriminators_resumes(
    tmp_path: Path,
) -> None:
    """fp16 keeps one GradScaler per network; both round-trip, and a checkpoint written before
    the discriminator had its own (no ``scaler_d``) resumes with a fresh one."""
    from train.optimizers import G_FP16_INIT_SCALE
    from train.trainer import CHECKPOINT_NAME, Trainer, fit

    common = (
        "run.precision=fp16",
        "data.max_images=2",
        "schedule.batch_size=2",
        "schedule.epochs=6",
        "schedule.decay_epochs=0",
        "run.checkpoint_every=0",
    )
    out = tmp_path / "run"
    fit(tiny_config("face", out, tmp_path / "cache", *common, "schedule.max_steps=3"))
    path = out / CHECKPOINT_NAME
    state = checkpoint.load(path)
    assert state["scaler"]["scale"] < G_FP16_INIT_SCALE <= 1  # lowered by the first steps
    assert state["scaler_d"]["scale"] > 1  # the discriminator's own, near PyTorch's default
    resumed = Trainer(tiny_config("face", out, tmp_path / "cache", *common), resume=True)
    assert resumed.optimizers.scaler.get_scale() == state["scaler"]["scale"]
    assert resumed.optimizers.scaler_d.get_scale() == state["scaler_d"]["scale"]
    old = {k: v for k, v in state.items() if k != "scaler_d"}
    checkpoint.save_atomic(old, path)
    resumed = Trainer(tiny_config("face", out, tmp_path / "cache", *common), resume=True)
    assert resumed.optimizers.scaler.get_scale() == state["scaler"]["scale"]
    assert resumed.fit()["steps"] == 6
