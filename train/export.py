"""Turn a training checkpoint (``RUN/checkpoints/latest.pt``) into a ``save_pretrained`` directory.

Use it to ship a model from a run that is still going or was stopped before its end.
"""

from __future__ import annotations

from pathlib import Path

import torch

from dynast import DynaST, DynaSTConfig
from train import checkpoint

DTYPES = {"fp32": None, "fp16": torch.float16}


def export(checkpoint_path: str | Path, out: str | Path, dtype: str = "fp32") -> DynaST:
    """Load the generator from a training checkpoint and write it with ``save_pretrained``.

    The checkpoint is read with ``torch.load(weights_only=True)`` (:func:`train.checkpoint.load`):
    a file holding anything but tensors and plain values is refused, nothing in it is run.
    """
    state = checkpoint.load(checkpoint_path)
    try:
        config = DynaSTConfig.from_dict(dict(state["model_config"]))
    except (KeyError, TypeError, ValueError) as err:
        raise checkpoint.CheckpointError(
            f"{checkpoint_path}: no usable generator config ({err})"
        ) from None
    model = DynaST(config)
    model.load_state_dict(state["generator"], strict=True)
    model.save_pretrained(out, dtype=DTYPES[dtype])
    return model.eval()
