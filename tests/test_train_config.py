"""Typed configs: YAML + dotted overrides, clear errors, every shipped config loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from train.config import ConfigError, TrainConfig, load_config
from train.tasks import TASKS

CONFIGS = Path(__file__).resolve().parents[1] / "train" / "configs"


@pytest.mark.parametrize(
    "name", ["pose", "face", "style", "pose_smoke", "face_smoke", "style_smoke"]
)
def test_shipped_configs_load(name: str) -> None:
    cfg = load_config(CONFIGS / f"{name}.yaml")
    assert isinstance(cfg, TrainConfig) and cfg.task in TASKS
    assert cfg.data.kind in TASKS[cfg.task].datasets


def test_release_recipe_defaults() -> None:
    cfg = load_config(CONFIGS / "pose.yaml")
    assert (
        cfg.loss.matching,
        cfg.loss.gan,
        cfg.loss.gan_feat,
        cfg.loss.vgg,
        cfg.loss.perceptual,
    ) == (1000, 10, 10, 10, 0.001)
    assert (cfg.optim.lr, cfg.optim.beta1, cfg.optim.beta2, cfg.optim.g_eps) == (
        1e-4,
        0.0,
        0.9,
        1e-3,
    )
    assert (cfg.schedule.epochs, cfg.schedule.decay_epochs) == (100, 20)
    assert load_config(CONFIGS / "style.yaml").loss.style == 3.0


def test_overrides_are_typed() -> None:
    cfg = load_config(
        CONFIGS / "face_smoke.yaml",
        ["optim.lr=1e-3", "data.size=128", "run.tensorboard=false", "model.extra={top_k: 2}"],
    )
    assert cfg.optim.lr == 1e-3 and cfg.data.size == 128 and cfg.run.tensorboard is False
    assert cfg.model.extra == {"top_k": 2}
    with pytest.raises(ConfigError, match="unknown config key"):
        load_config(CONFIGS / "face_smoke.yaml", ["optim.lrr=1"])
    with pytest.raises(ConfigError, match="data.size must be a number"):
        load_config(None, ["data.size=big"])
    with pytest.raises(ConfigError, match="key=value"):
        load_config(None, ["data.size"])


def test_cli_reports_layout_and_config_errors_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from train.cli import main

    assert (
        main(["fit", "--config", str(CONFIGS / "pose.yaml"), "--data", str(tmp_path / "nowhere")])
        == 2
    )
    assert (
        f"missing DeepFashion train list: {tmp_path / 'nowhere' / 'train.txt'}"
        in capsys.readouterr().err
    )
    assert main(["fit", "--config", str(CONFIGS / "pose.yaml"), "optim.foo=1"]) == 2
    assert "unknown config key" in capsys.readouterr().err
