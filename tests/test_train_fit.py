"""Training runs end to end on tiny configs: overfitting, checkpoints, exact resume, DDP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from dynast import DynaST
from train import checkpoint
from train.config import load_config
from train.trainer import CHECKPOINT_NAME, fit

REPO = Path(__file__).resolve().parents[1]
ASSETS = REPO / "tests" / "assets" / "train"
CONFIGS = REPO / "train" / "configs"

DATA = {
    "pose": [f"data.path={ASSETS / 'people'}"],
    "face": [f"data.path={ASSETS / 'faces'}"],
    "style": [
        f"data.content={ASSETS / 'style' / 'content'}",
        f"data.style={ASSETS / 'style' / 'style'}",
    ],
}
# 32 px, ngf 4, one discriminator scale (a 16 px second scale is too small for 4 layers).
# run.device=cpu: the tests mean CPU (on a 1-GPU machine "auto" would put DDP rank 1 on cuda:1).
TINY = [
    "data.size=32",
    "data.load_size=48",
    "model.ngf=4",
    "loss.ndf=8",
    "loss.num_d=1",
    "run.threads=1",
    "run.progress=false",
    "run.tensorboard=false",
    "data.workers=0",
    "run.device=cpu",
]


def tiny_config(task: str, out: Path, tmp_cache: Path, *extra: str):
    overrides = DATA[task] + TINY + [f"run.out={out}", f"data.cache_dir={tmp_cache}", *extra]
    return load_config(CONFIGS / f"{task}_smoke.yaml", overrides)


def read_metrics(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def reconstruction(record: dict) -> float:
    """The non-adversarial part of the generator loss (the GAN terms need not fall)."""
    keys = ("g/matching", "g/vgg", "g/perceptual", "g/content", "g/style")
    return sum(record[k] for k in keys if k in record)


@pytest.mark.parametrize("task", ["pose", "face", "style"])
def test_overfit_one_batch_lowers_loss_and_saves_loadable_model(task: str, tmp_path: Path) -> None:
    out = tmp_path / "run"
    cfg = tiny_config(
        task,
        out,
        tmp_path / "cache",
        "data.max_images=1",
        "schedule.batch_size=1",
        "data.freeze_augmentation=true",
        "schedule.epochs=30",
        "schedule.decay_epochs=0",
        "optim.lr=1e-3",
        "run.log_every=1",
        "run.checkpoint_every=0",
    )
    summary = fit(cfg)
    assert summary["steps"] == 30 and summary["nonfinite_steps"] == 0
    losses = [reconstruction(r) for r in read_metrics(out)]
    assert len(losses) == 30
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < 0.85 * first, f"{task}: loss {first:.4g} -> {last:.4g}"
    assert (out / CHECKPOINT_NAME).exists()
    model = DynaST.from_pretrained(out / "final")
    x = torch.zeros(1, 3, 32, 32)
    ref_sem = (
        None
        if model.config.ref_semantic_nc == 0
        else torch.zeros(1, model.config.ref_semantic_nc, 32, 32)
    )
    assert model(x, ref_sem, torch.zeros(1, model.config.semantic_nc, 32, 32)).image.shape == (
        1,
        3,
        32,
        32,
    )


def _weights(path: Path) -> dict[str, torch.Tensor]:
    state = checkpoint.load(path / CHECKPOINT_NAME)
    return {
        **{f"G.{k}": v for k, v in state["generator"].items()},
        **{f"D.{k}": v for k, v in (state["discriminator"] or {}).items()},
    }


def _straight_and_resumed(tmp_path: Path, device: str) -> tuple[dict, dict]:
    """Weights after 6 steps straight, and after 3 steps + resume + 3 steps."""
    common = (
        "data.max_images=2",
        "schedule.batch_size=1",
        "schedule.epochs=4",
        "schedule.decay_epochs=2",
        "run.checkpoint_every=0",
        f"run.device={device}",
    )
    straight = tmp_path / "straight"
    fit(tiny_config("face", straight, tmp_path / "cache", *common, "schedule.max_steps=6"))
    split = tmp_path / "split"
    first = fit(tiny_config("face", split, tmp_path / "cache", *common, "schedule.max_steps=3"))
    assert first["steps"] == 3
    second = fit(
        tiny_config("face", split, tmp_path / "cache", *common, "schedule.max_steps=6"), resume=True
    )
    assert second["steps"] == 6
    a, b = _weights(straight), _weights(split)
    assert a.keys() == b.keys()
    return a, b


def test_resume_continues_bit_exactly_on_cpu(tmp_path: Path) -> None:
    """Bit-exact on the CPU (deterministic kernels); CUDA's atomics are not, see the next test."""
    a, b = _straight_and_resumed(tmp_path, "cpu")
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"{len(different)} tensors differ, e.g. {different[:3]}"


@pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU (the CPU case is the bit-exact test)"
)
def test_resume_on_cuda_continues_within_tolerance(tmp_path: Path) -> None:
    a, b = _straight_and_resumed(tmp_path, "cuda")
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=1e-3, atol=1e-4, msg=key)


def run_two_process_face_fit(out: Path, cache: Path, *extra: str) -> dict:
    """``torchrun --nproc_per_node=2 -m train fit`` on the face smoke config for 3 steps on CPU
    (gloo); returns the run's summary.json after asserting the command succeeded."""
    args = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "train",
        "fit",
        "--config",
        str(CONFIGS / "face_smoke.yaml"),
        "--out",
        str(out),
        *DATA["face"],
        *TINY,
        "data.max_images=2",
        "schedule.batch_size=1",
        "schedule.epochs=3",
        "schedule.decay_epochs=1",
        f"data.cache_dir={cache}",
        *extra,
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    done = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((out / "summary.json").read_text())


@pytest.mark.slow
def test_ddp_two_cpu_processes_agree(tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    summary = run_two_process_face_fit(out, tmp_path / "cache")
    assert summary["world_size"] == 2 and summary["steps"] == 3
    assert summary["ranks_agree"] is True  # generator and discriminator weights equal on both ranks
    assert DynaST.from_pretrained(out / "final").config.ref_semantic_nc > 0


def test_nonfinite_step_is_skipped_and_logged(tmp_path: Path) -> None:
    from train.trainer import Trainer

    out = tmp_path / "nan"
    trainer = Trainer(
        tiny_config(
            "style",
            out,
            tmp_path / "cache",
            "data.max_images=1",
            "schedule.batch_size=1",
            "schedule.epochs=3",
            "schedule.decay_epochs=0",
            "run.log_every=1",
            "run.tensorboard=true",
            "run.image_every=2",
        )
    )
    real_generator_loss = trainer.objective.generator
    calls = []

    def poisoned(out_, batch, discriminator=None):
        terms = real_generator_loss(out_, batch, discriminator)
        calls.append(1)
        if len(calls) == 2:
            terms.total = terms.total * float("nan")
        return terms

    trainer.objective.generator = poisoned
    before = {k: v.clone() for k, v in trainer.generator.state_dict().items()}
    summary = trainer.fit()
    assert summary["nonfinite_steps"] == 1 and summary["steps"] == 3
    flags = [r.get("nonfinite_skipped", 0) for r in read_metrics(out)]
    assert flags == [0, 1, 0]
    after = trainer.generator.state_dict()
    assert all(torch.isfinite(v).all() for v in after.values() if v.is_floating_point())
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))  # scalars + image grids


def test_export_writes_a_loadable_fp16_directory(tmp_path):
    import torch

    from conftest import tiny_config
    from dynast import DynaST
    from train.checkpoint import save_atomic
    from train.cli import main

    model = DynaST(tiny_config())
    save_atomic(
        {
            "generator": model.state_dict(),
            "model_config": model.config.to_dict(),
            "config": {"task": "face"},
        },
        tmp_path / "latest.pt",
    )
    assert (
        main(
            [
                "export",
                "--checkpoint",
                str(tmp_path / "latest.pt"),
                "--out",
                str(tmp_path / "out"),
                "--dtype",
                "fp16",
            ]
        )
        == 0
    )
    loaded = DynaST.from_pretrained(tmp_path / "out")
    torch.testing.assert_close(loaded.pos_embed, model.pos_embed, rtol=1e-3, atol=1e-3)
    from dynast.persistence import read_task

    assert read_task(tmp_path / "out") == "face"  # the run's task, written by export


def test_skipped_files_counts_files_not_skip_events(tmp_path: Path) -> None:
    import shutil

    content = tmp_path / "content"
    content.mkdir()
    for src in sorted((ASSETS / "style" / "content").glob("*"))[:2]:
        shutil.copy(src, content / src.name)
    (content / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")  # skipped in every epoch
    out = tmp_path / "run"
    cfg = tiny_config(
        "style",
        out,
        tmp_path / "cache",
        f"data.content={content}",
        "schedule.batch_size=1",
        "schedule.epochs=4",
        "schedule.decay_epochs=0",
        "run.log_every=1",
        "run.checkpoint_every=0",
    )
    summary = fit(cfg)
    assert summary["steps"] == 12
    counts = [r["skipped_files"] for r in read_metrics(out)]
    assert max(counts) == 1 and counts[-1] == 1, counts  # one file, however often it was skipped
    assert len(summary["skipped_files"]) == 1 and "broken.jpg" in summary["skipped_files"][0]
