"""Training checkpoints: everything needed to continue a run exactly, written atomically, read
without unpickling code.

A checkpoint holds only tensors and plain Python values (dicts, lists, tuples, str, int, float,
bool, None): model and optimiser state dicts, the GradScaler's numbers, the config as a plain dict
and every rank's RNG states as tensors / tuples. It is read with ``torch.load(weights_only=True)``,
so a crafted ``latest.pt`` whose unpickling would run code is refused before anything runs.
"""

from __future__ import annotations

import os
import pickle
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

FORMAT = "dynast-train/2"


class CheckpointError(ValueError):
    """A training checkpoint is missing, unsafe to load or not in this project's format."""


# ---------------------------------------------------------------------------------------- RNG
def rng_state(device: torch.device) -> dict[str, Any]:
    """This process's random states as tensors and plain values: torch CPU, this rank's own CUDA
    device (never every GPU), numpy's global MT19937 and python's ``random``."""
    kind, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": str(kind),
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": random.getstate(),
    }
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    """Restore what :func:`rng_state` captured; the CUDA state goes to ``device`` only."""
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(
        (
            n["kind"],
            n["keys"].numpy().astype(np.uint32),
            n["pos"],
            n["has_gauss"],
            n["cached_gaussian"],
        )
    )
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)


def seed_fresh(seed: int, rank: int, step: int) -> None:
    """Deterministic RNG states for a rank the checkpoint has no state for (more ranks now)."""
    mixed = int(np.random.SeedSequence([seed, rank, step]).generate_state(1)[0])
    torch.manual_seed(mixed)  # CPU and every CUDA device
    np.random.seed(mixed)
    random.seed(mixed)


def restore_rng(
    saved: list[dict[str, Any]], rank: int, device: torch.device, seed: int, step: int
) -> bool:
    """Give this rank its saved RNG states when the checkpoint has them (``rank < len(saved)``),
    otherwise fresh deterministic ones. Returns whether saved states were restored.

    Each rank saved only its own device's CUDA state, so a run resumed on a different number of
    GPUs (or on the CPU) restores what exists and never touches a device it does not use.
    """
    if rank < len(saved):
        set_rng_state(saved[rank], device)
        return True
    seed_fresh(seed, rank, step)
    return False


# ---------------------------------------------------------------------------------------- files
def save_atomic(state: dict[str, Any], path: str | Path) -> None:
    """torch.save to a temporary file beside ``path``, fsync, then os.replace (never a half file).

    ``state`` must hold only tensors and plain values (what :func:`load` accepts); it is stamped
    with :data:`FORMAT`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        torch.save({**state, "format": FORMAT}, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _unpickler_detail(message: str) -> str:
    """The safe unpickler's own reason (e.g. "Unsupported global: GLOBAL os.system ...")."""
    tail = message.split("Unpickler error:", 1)[-1]
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    return lines[0].split(" was not an allowed global")[0] if lines else "unreadable"


def load(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_atomic` with ``torch.load(weights_only=True)``.

    Raises :class:`CheckpointError` when the file is missing, holds anything but tensors and plain
    values (a crafted file, or one written by an earlier version of this project that pickled
    objects: nothing in it is run), or is not a training checkpoint of this format.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no training checkpoint at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        detail = _unpickler_detail(str(err))
        if detail.startswith("Unsupported operand") or "Unpickler error" not in str(err):
            raise CheckpointError(
                f"cannot read training checkpoint {path}: not a PyTorch file ({detail})"
            ) from None
        raise CheckpointError(
            f"refused to load {path}: it holds pickled objects other than tensors and plain "
            "values (a crafted file, or one written by an earlier version of this project); "
            f"nothing in it was run. Detail: {detail}"
        ) from None
    except Exception as err:  # any other failure of the safe reader: a damaged or foreign file
        detail = f"{type(err).__name__}: {str(err).split('. ')[0]}"
        raise CheckpointError(
            f"cannot read training checkpoint {path}: not a complete PyTorch file ({detail})"
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        found = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise CheckpointError(
            f"{path} is not a training checkpoint of format {FORMAT} (found {found!r})"
        )
    return state
