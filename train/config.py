"""Typed run configuration: one dataclass per concern, from YAML plus ``key=value`` overrides.

A YAML file has one mapping per section (``task``, ``model``, ``data``, ``loss``, ``optim``,
``schedule``, ``run``); overrides use dotted keys, e.g. ``optim.lr=2e-4 data.size=128``.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dynast.config import DynaSTConfig
from dynast.files import read_regular_file

MAX_CONFIG_BYTES = 1024 * 1024  # a run config is a few kB


@dataclass
class ModelConfig:
    """Generator size; the semantic channel counts come from the task."""

    ngf: int = 64
    extra: dict[str, Any] = field(default_factory=dict)  # any other DynaSTConfig field
    # a save_pretrained directory whose weights (and architecture) start the run; ngf must match
    init: str = ""


@dataclass
class DataConfig:
    """Where the data lie and how samples are made.

    ``path`` is the data root (or a photo folder); style uses ``content`` and ``style``.
    ``kind`` picks the layout a task offers (e.g. pose: ``deepfashion`` or ``photos``).
    """

    kind: str = ""
    path: str = ""
    content: str = ""
    style: str = ""
    size: int = 256  # training crop / image side
    load_size: int = 512  # style: images are resized to this before the random crop
    split: str = "train"
    max_images: int = 0  # 0: all
    cache_dir: str = (
        ""  # per-image semantics cache; default $DYNAST_CACHE/semantics (~/.cache/dynast/semantics)
    )
    workers: int = 2
    freeze_augmentation: bool = False  # same random warp/crop every epoch (overfit checks)
    warp_strength: float = 1.0  # scales the random affine + thin-plate-spline exemplar warp
    fit: bool = False  # photo folders: align faces / frame people as the pipeline does first
    # faces: share of samples pairing two different photos, taught by the landmark teacher
    cross_identity: float = 0.0


@dataclass
class LossConfig:
    """Loss weights; the defaults are the authors' released recipe (SPEC section 5)."""

    matching: float = 1000.0
    gan: float = 10.0
    gan_feat: float = 10.0
    vgg: float = 10.0
    perceptual: float = 0.001
    # cross-identity pairs (data.cross_identity > 0): L1 of the output to the landmark teacher
    # inside its mask, and a contextual loss to the exemplar outside it (CoCosNet's idea)
    teacher_l1: float = 0.0
    contextual: float = 0.0
    style: float = 3.0  # lambda_s of the unsupervised style objective
    content: float = 1.0
    ndf: int = 64
    num_d: int = 2
    n_layers_d: int = 4


@dataclass
class OptimConfig:
    """Adam with the two-time-scale rule: G at lr/2 (eps 1e-3), D at lr*2, betas (0, 0.9)."""

    lr: float = 1e-4
    beta1: float = 0.0
    beta2: float = 0.9
    g_eps: float = 1e-3
    d_eps: float = 1e-8


@dataclass
class ScheduleConfig:
    """Length of the run: ``epochs`` in total, the learning rate decaying linearly to zero over the
    last ``decay_epochs``; ``max_steps`` (> 0) stops early without changing the schedule."""

    epochs: int = 100
    decay_epochs: int = 20
    batch_size: int = 8  # per process
    max_steps: int = 0
    # matching first: the first N steps train encoders + attention on the matching loss alone
    # (no discriminator, GAN or VGG terms; supervised tasks only)
    matching_only_steps: int = 0
    gate_open_steps: int = 0  # the first N steps keep every link (pruning gate held open)
    # > 0: stop after this many minutes of training (a bounded burst, e.g. on a lent GPU); the
    # learning-rate schedule is unchanged, the run ends at the first step past the limit
    max_minutes: float = 0.0


@dataclass
class RunConfig:
    """Run mechanics: output, precision, logging, checkpoints."""

    out: str = "runs/default"
    seed: int = 0
    precision: str = "bf16"  # fp32 | bf16 | fp16 (fp16 needs CUDA; uses a GradScaler)
    device: str = "auto"  # auto | cpu | cuda
    log_every: int = 10
    image_every: int = 200
    checkpoint_every: int = 500
    tensorboard: bool = True
    progress: bool = True
    threads: int = 0  # torch CPU threads; 0 keeps torch's default


@dataclass
class TrainConfig:
    """Everything ``python -m train fit`` needs."""

    task: str = "pose"
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    run: RunConfig = field(default_factory=RunConfig)


class ConfigError(ValueError):
    """A config file or override names an unknown key or gives a value of the wrong type."""


def _coerce(value: Any, annotation: Any, where: str) -> Any:
    """Convert a YAML / command-line value to the field's type (int, float, str, bool, dict)."""
    if typing.get_origin(annotation) is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a mapping, got {value!r}")
        return value
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
        return value
    if annotation in (int, float) and isinstance(
        value, str
    ):  # YAML reads 1e-3 (no dot) as a string
        try:
            value = float(value) if annotation is float else int(value)
        except ValueError:
            raise ConfigError(f"{where} must be a number, got {value!r}") from None
    if annotation is int and not (isinstance(value, int) and not isinstance(value, bool)):
        raise ConfigError(f"{where} must be an integer, got {value!r}")
    if annotation is float and not isinstance(value, (int, float)):
        raise ConfigError(f"{where} must be a number, got {value!r}")
    return annotation(value) if annotation in (int, float, str) else value


def _fill(cls: type, values: dict[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - names
    if unknown:
        raise ConfigError(
            f"unknown config key(s) in {where.rstrip('.') or 'the top level'}: "
            f"{sorted(unknown)}; known: {sorted(names)}"
        )
    kwargs: dict[str, Any] = {}
    for name, value in values.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}{name} must be a mapping")
            kwargs[name] = _fill(hint, value, f"{where}{name}.")
        else:
            kwargs[name] = _coerce(value, hint, f"{where}{name}")
    return cls(**kwargs)


def _set_dotted(tree: dict[str, Any], key: str, raw: str) -> None:
    parts = key.split(".")
    node = tree
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = yaml.safe_load(raw) if raw != "" else ""


def _read_yaml(path: str | Path) -> dict[str, Any]:
    """The mapping in the YAML file ``path`` (a regular file of at most MAX_CONFIG_BYTES)."""
    data = read_regular_file(path, MAX_CONFIG_BYTES, ConfigError, ConfigError)
    try:
        tree = yaml.safe_load(data.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError, RecursionError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(f"{path} is not a readable YAML file ({first})") from None
    if tree is None:
        return {}
    if not isinstance(tree, dict):
        raise ConfigError(f"{path} must hold a mapping of sections (task:, model:, data: ...), "
                          f"got a {type(tree).__name__}")
    return tree


def _check_model(cfg: TrainConfig) -> None:
    """Refuse a generator the run could not build (DynaSTConfig's bounds, e.g. ngf 1e9)."""
    try:
        DynaSTConfig(ngf=cfg.model.ngf, **cfg.model.extra)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"model: {err}") from None


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> TrainConfig:
    """Read a YAML config and apply ``section.key=value`` overrides (values parsed as YAML)."""
    tree: dict[str, Any] = {} if path is None else _read_yaml(path)
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form key=value")
        key, raw = item.split("=", 1)
        try:
            _set_dotted(tree, key.strip(), raw.strip())
        except (AttributeError, yaml.YAMLError) as err:
            raise ConfigError(f"override {item!r} cannot be applied ({err})") from None
    cfg = _fill(TrainConfig, tree, "")
    _check_model(cfg)
    return cfg


def config_to_dict(cfg: TrainConfig) -> dict[str, Any]:
    """Plain nested dict (for YAML / JSON dumps and checkpoints)."""
    return dataclasses.asdict(cfg)
