"""Shared test helpers."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def _deterministic() -> None:
    torch.manual_seed(0)


def tiny_config(**overrides):
    """A DynaST config small enough for unit tests (ngf 4, trained at 32x32)."""
    from dynast import DynaSTConfig

    base = dict(semantic_nc=5, ref_semantic_nc=5, ngf=4, pos_dim=4, prune_dim=4,
                train_size=(32, 32))
    base.update(overrides)
    return DynaSTConfig(**base)


def random_inputs(cfg, batch: int = 1, height: int = 32, width: int = 32, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    ref = torch.rand(batch, 3, height, width, generator=g) * 2 - 1
    ref_sem = (torch.rand(batch, cfg.ref_semantic_nc, height, width, generator=g)
               if cfg.ref_semantic_nc else None)
    tgt_sem = torch.rand(batch, cfg.semantic_nc, height, width, generator=g)
    return ref, ref_sem, tgt_sem
