"""Saving and loading a generator as ``config.json`` + ``model.safetensors`` (no pickles)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from dynast.config import DynaSTConfig
from dynast.inputs import InvalidCheckpointError

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


def save_pretrained(
    model: nn.Module, directory: str | Path, dtype: torch.dtype | None = None
) -> None:
    """Write ``model.config`` to ``config.json`` and its state to ``model.safetensors``.

    ``dtype`` (e.g. torch.float16) stores floating-point tensors in that dtype.
    """
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config: DynaSTConfig = model.config
    config.save(directory / CONFIG_NAME)
    state = {}
    for k, v in model.state_dict().items():
        v = v.detach().contiguous().cpu()
        state[k] = v.to(dtype) if dtype is not None and v.is_floating_point() else v
    metadata = {"format": "pt", "dynast_config": json.dumps(config.to_dict())}
    save_file(state, str(directory / WEIGHTS_NAME), metadata=metadata)


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
            str(name_or_path), revision=revision, allow_patterns=[CONFIG_NAME, WEIGHTS_NAME]
        )
    )


def load_pretrained(
    name_or_path: str | Path, *, revision: str | None = None
) -> tuple[DynaSTConfig, dict[str, torch.Tensor]]:
    """The config and the float32 state dict saved by ``save_pretrained`` (a directory or a
    Hub repo id). Missing files: FileNotFoundError; unreadable weights: InvalidCheckpointError."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    directory = _resolve(name_or_path, revision)
    missing = [n for n in (CONFIG_NAME, WEIGHTS_NAME) if not (directory / n).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{directory} lacks {missing}; expected the output of save_pretrained"
        )
    try:
        config = DynaSTConfig.load(directory / CONFIG_NAME)
    except (json.JSONDecodeError, TypeError) as err:
        raise InvalidCheckpointError(
            f"{directory / CONFIG_NAME} is not a valid DynaST config: {err}"
        ) from err
    try:
        state = load_file(str(directory / WEIGHTS_NAME))
    except (SafetensorError, OSError, RuntimeError) as err:
        raise InvalidCheckpointError(
            f"{directory / WEIGHTS_NAME} cannot be read ({err}); the file is truncated or corrupt: "
            "download or save it again"
        ) from err
    return config, {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
