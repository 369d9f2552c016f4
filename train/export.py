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

    The checkpoint is this project's own training state (it holds RNG objects, so it is
    unpickled): only export checkpoints you wrote yourself.
    """
    state = checkpoint.load(checkpoint_path)
    config = state["model_config"]
    if not isinstance(config, DynaSTConfig):
        config = DynaSTConfig.from_dict(config)
    model = DynaST(config)
    model.load_state_dict(state["generator"], strict=True)
    model.save_pretrained(out, dtype=DTYPES[dtype])
    return model.eval()
