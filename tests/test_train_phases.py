"""Matching-first schedule, the gate held open, model.init, and the throughput command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from dynast.transformer import TransformerBlock
from train.config import load_config
from train.phases import check_schedule, matching_phase, set_gate
from train.trainer import Trainer

REPO = Path(__file__).resolve().parents[1]
ASSETS = REPO / "tests" / "assets" / "train"
TINY = [
    "data.size=32",
    "model.ngf=4",
    "loss.ndf=8",
    "loss.num_d=1",
    "run.threads=1",
    "run.progress=false",
    "run.tensorboard=false",
    "data.workers=0",
    "run.device=cpu",
    "run.image_every=0",
]


def face_config(tmp_path: Path, *extra: str):
    overrides = [
        f"data.path={ASSETS / 'faces'}",
        f"data.cache_dir={tmp_path / 'cache'}",
        f"run.out={tmp_path / 'run'}",
        *TINY,
        *extra,
    ]
    return load_config(REPO / "train" / "configs" / "face_smoke.yaml", overrides)


def gates(model) -> list[bool]:
    return [m.prune for m in model.modules() if isinstance(m, TransformerBlock)]


def test_gate_is_open_for_the_first_steps_then_follows_the_config(tmp_path: Path) -> None:
    cfg = face_config(tmp_path, "schedule.gate_open_steps=3")
    trainer = Trainer(cfg)
    set_gate(trainer.generator, 2, cfg)
    assert gates(trainer.generator) and not any(gates(trainer.generator))
    set_gate(trainer.generator, 3, cfg)
    assert all(gates(trainer.generator))
    unpruned = Trainer(face_config(tmp_path, "model.extra={prune: false}"))
    set_gate(unpruned.generator, 10, unpruned.cfg)
    assert not any(gates(unpruned.generator))


def test_matching_phase_trains_no_discriminator_and_logs_matching_only(tmp_path: Path) -> None:
    cfg = face_config(tmp_path, "schedule.matching_only_steps=2", "schedule.max_steps=3")
    cfg.run.log_every = 1
    trainer = Trainer(cfg)
    d_before = [p.detach().clone() for p in trainer.discriminator.parameters()]
    assert matching_phase(cfg, 1) and not matching_phase(cfg, 2)
    trainer.fit()
    records = [
        json.loads(line) for line in (Path(cfg.run.out) / "metrics.jsonl").read_text().splitlines()
    ]
    assert set(k for k in records[0] if k.startswith(("g/", "d/"))) == {"g/matching", "g/total"}
    assert "g/vgg" in records[2] and "d/d_real" in records[2]
    # D stepped once (step 3), after two matching-only steps: it changed, but only then
    assert any(not torch.equal(a, b) for a, b in zip(d_before, trainer.discriminator.parameters()))


def test_matching_only_steps_need_a_supervised_task(tmp_path: Path) -> None:
    cfg = face_config(tmp_path, "schedule.matching_only_steps=5")
    check_schedule(cfg, supervised=True)
    with pytest.raises(ValueError, match="supervised"):
        check_schedule(cfg, supervised=False)


def test_model_init_starts_from_saved_weights_and_checks_the_width(tmp_path: Path) -> None:
    first = Trainer(face_config(tmp_path))
    first.generator.save_pretrained(tmp_path / "init")
    second = Trainer(face_config(tmp_path, f"model.init={tmp_path / 'init'}", "run.seed=7"))
    for (name, a), b in zip(
        first.generator.state_dict().items(), second.generator.state_dict().values()
    ):
        assert torch.equal(a, b), name
    with pytest.raises(ValueError, match="ngf"):
        Trainer(face_config(tmp_path, f"model.init={tmp_path / 'init'}", "model.ngf=8"))


def test_throughput_reports_images_per_second(tmp_path: Path) -> None:
    from train.throughput import measure

    cfg = face_config(tmp_path, "schedule.matching_only_steps=1")
    result = measure(cfg, steps=1, channels_last=False)
    assert result["matching_only"] is True and result["images_per_s"] > 0


def test_cross_identity_run_logs_teacher_terms_and_stops_at_its_time_limit(
    tmp_path: Path,
) -> None:
    from train.trainer import fit

    cfg = face_config(
        tmp_path,
        "data.cross_identity=0.5",
        "loss.teacher_l1=10",
        "loss.contextual=1",
        "schedule.matching_only_steps=1",
        "schedule.max_minutes=0.0001",  # past after the first step: stops at the first log step
        "run.log_every=2",
    )
    summary = fit(cfg)
    assert summary["steps"] == 2 < summary["total_steps"]
    record = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    for key in ("g/matching", "g/teacher_l1", "g/contextual", "g/vgg"):
        assert key in record and record[key] == record[key] and record[key] >= 0, key
    assert (tmp_path / "run" / "final" / "model.safetensors").exists()
