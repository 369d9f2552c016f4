"""The checkpoint format, in one place: a directory with ``config.json`` (the generator's
:class:`~dynast.config.DynaSTConfig` fields, plus ``"task"``: the :mod:`dynast.tasks` entry it
serves) and ``model.safetensors`` (the weights; no pickles). Everything that writes or reads a
checkpoint goes through this module."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dynast.config import MAX_CONFIG_BYTES, DynaSTConfig
from dynast.files import read_regular_file
from dynast.inputs import InvalidCheckpointError

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
CHECKPOINT_FILES = (CONFIG_NAME, WEIGHTS_NAME)


def save_pretrained(
    model: nn.Module,
    directory: str | Path,
    dtype: torch.dtype | None = None,
    task: str | None = None,
) -> None:
    """Write ``model.config`` to ``config.json`` and its state to ``model.safetensors``.

    ``dtype`` (e.g. torch.float16) stores floating-point tensors in that dtype; ``task`` (a
    :mod:`dynast.tasks` name) is written as the config's ``"task"`` field.
    """
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config: DynaSTConfig = model.config
    fields = {"task": task, **config.to_dict()} if task else config.to_dict()
    (directory / CONFIG_NAME).write_text(json.dumps(fields, indent=2) + "\n", encoding="utf-8")
    state = {}
    for k, v in model.state_dict().items():
        v = v.detach().contiguous().cpu()
        state[k] = v.to(dtype) if dtype is not None and v.is_floating_point() else v
    metadata = {"format": "pt", "dynast_config": json.dumps(config.to_dict())}
    save_file(state, str(directory / WEIGHTS_NAME), metadata=metadata)


def is_checkpoint_dir(path: str | Path) -> bool:
    """Whether ``path`` holds ``config.json`` and ``model.safetensors``."""
    return all((Path(path) / name).is_file() for name in CHECKPOINT_FILES)


def read_config_fields(directory: str | Path) -> dict[str, Any] | None:
    """The raw ``config.json`` mapping of a checkpoint directory (None when it is missing,
    unreadable, over ``MAX_CONFIG_BYTES`` or not a JSON object)."""
    try:
        data = read_regular_file(Path(directory) / CONFIG_NAME, MAX_CONFIG_BYTES, ValueError,
                                 ValueError)
        fields = json.loads(data.decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return fields if isinstance(fields, dict) else None


def read_task(directory: str | Path) -> str | None:
    """The ``"task"`` a checkpoint directory's ``config.json`` names (None: none named)."""
    task = (read_config_fields(directory) or {}).get("task")
    return task if isinstance(task, str) else None


def _resolve(name_or_path: str | Path, revision: str | None) -> Path:
    directory = Path(name_or_path)
    if directory.is_dir():
        return directory
    if directory.exists() or str(name_or_path).count("/") != 1:
        raise FileNotFoundError(
            f"{name_or_path} is neither a directory with {CONFIG_NAME} and {WEIGHTS_NAME} nor a "
            "Hub "
            "repo id (owner/name). Convert the authors' checkpoint with `python -m dynast.convert`."
        )
    from huggingface_hub import snapshot_download

    return Path(
        snapshot_download(
            str(name_or_path), revision=revision, allow_patterns=list(CHECKPOINT_FILES)
        )
    )


def _listed(keys: list[str]) -> str:
    """At most three names, then a count of the rest."""
    more = f" and {len(keys) - 3} more" if len(keys) > 3 else ""
    return ", ".join(keys[:3]) + more


def state_dict_problems(
    expected: dict[str, torch.Tensor], state: dict[object, object]
) -> list[str]:
    """What keeps ``state`` from loading into a model whose state dict is ``expected``:
    names that are not text, tensors missing, extra or of the wrong shape, values that are not
    tensors, NaN or infinite weights. Empty when it loads strictly."""
    bad_names = [repr(k) for k in state if not isinstance(k, str)]
    if bad_names:
        return [f"tensor names must be text, got {_listed(bad_names)}"]
    problems = []
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    not_tensors = sorted(k for k, v in state.items() if not isinstance(v, torch.Tensor))
    shaped = sorted(
        f"{k} is {tuple(v.shape)}, expected {tuple(expected[k].shape)}"
        for k, v in state.items()
        if k in expected and isinstance(v, torch.Tensor) and v.shape != expected[k].shape
    )
    non_finite = sorted(
        k for k, v in state.items()
        if isinstance(v, torch.Tensor) and v.is_floating_point() and v.numel()
        and not bool(torch.isfinite(v).all())
    )
    for what, keys in (("missing", missing), ("unexpected", extra),
                       ("not tensors", not_tensors), ("of the wrong shape", shaped),
                       ("holding NaN or infinite values", non_finite)):
        if keys:
            problems.append(f"{len(keys)} tensor(s) {what}: {_listed(keys)}")
    return problems


def check_state_dict(
    expected: dict[str, torch.Tensor], state: dict[object, object], source: str
) -> None:
    """Raise :class:`InvalidCheckpointError` naming ``source`` and every problem
    :func:`state_dict_problems` finds."""
    problems = state_dict_problems(expected, state)
    if problems:
        raise InvalidCheckpointError(
            f"{source} does not fit this DynaST model: {'; '.join(problems)}. It was saved by "
            "another model or is damaged: save or download it again"
        )


def load_checked(model: nn.Module, state: dict[object, object], source: str) -> None:
    """``model.load_state_dict(state, strict=True)`` after :func:`check_state_dict`."""
    check_state_dict(model.state_dict(), state, source)
    model.load_state_dict(state, strict=True)  # type: ignore[arg-type]


def load_pretrained(
    name_or_path: str | Path, *, revision: str | None = None
) -> tuple[DynaSTConfig, dict[str, torch.Tensor]]:
    """The config and the float32 state dict saved by ``save_pretrained`` (a directory or a
    Hub repo id). Missing files: FileNotFoundError; unreadable weights: InvalidCheckpointError."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    directory = _resolve(name_or_path, revision)
    missing = [n for n in CHECKPOINT_FILES if not (directory / n).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{directory} lacks {missing}; expected the output of save_pretrained"
        )
    try:
        config = DynaSTConfig.load(directory / CONFIG_NAME)
    except ValueError as err:
        raise InvalidCheckpointError(
            f"{directory / CONFIG_NAME} is not a valid DynaST config: {err}"
        ) from None
    try:
        state = load_file(str(directory / WEIGHTS_NAME))
    except (SafetensorError, OSError, RuntimeError) as err:
        raise InvalidCheckpointError(
            f"{directory / WEIGHTS_NAME} cannot be read ({err}); the file is truncated or corrupt: "
            "download or save it again"
        ) from err
    return config, {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
