"""Turn a training checkpoint (``RUN/checkpoints/latest.pt``) into a ``save_pretrained`` directory.

Use it to ship a model from a run that is still going or was stopped before its end.
"""

from __future__ import annotations

from pathlib import Path

import torch

from dynast import DynaST, DynaSTConfig
from dynast.files import check_output_folder
from dynast.inputs import InvalidCheckpointError
from dynast.persistence import load_checked
from train import checkpoint

DTYPES = {"fp32": None, "fp16": torch.float16}


def export(checkpoint_path: str | Path, out: str | Path, dtype: str = "fp32") -> DynaST:
    """Load the generator from a training checkpoint and write it with ``save_pretrained``.

    The checkpoint is read with ``torch.load(weights_only=True)`` (:func:`train.checkpoint.load`):
    a file holding anything but tensors and plain values is refused, nothing in it is run.
    """
    check_output_folder(Path(out), checkpoint.CheckpointError)
    state = checkpoint.load(checkpoint_path)
    try:
        config = DynaSTConfig.from_dict(dict(state["model_config"]))
    except (KeyError, TypeError, ValueError) as err:
        raise checkpoint.CheckpointError(
            f"{checkpoint_path}: no usable generator config ({err})"
        ) from None
    generator = state.get("generator")
    if not isinstance(generator, dict):
        raise checkpoint.CheckpointError(
            f"{checkpoint_path} holds no generator weights (no 'generator' state dict); pass "
            "RUN/checkpoints/latest.pt of a training run"
        )
    model = DynaST(config)
    try:
        load_checked(model, generator, f"{checkpoint_path} (generator)")
    except InvalidCheckpointError as err:
        raise checkpoint.CheckpointError(str(err)) from None
    train_config = state.get("config")
    task = train_config.get("task") if isinstance(train_config, dict) else None
    model.save_pretrained(out, dtype=DTYPES[dtype], task=task if isinstance(task, str) else None)
    return model.eval()
