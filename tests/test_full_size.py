"""The full-size generator (ngf 64, 92 M parameters): opt-in, run by .ci/run."""

from __future__ import annotations

import pytest
import torch

from dynast import DynaST, DynaSTConfig

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def full_model() -> DynaST:
    torch.manual_seed(0)
    return DynaST(DynaSTConfig()).eval()


@pytest.mark.parametrize("size", [(256, 256), (256, 176)])
def test_full_size_forward(full_model, size):
    g = torch.Generator().manual_seed(0)
    ref = torch.rand(1, 3, *size, generator=g) * 2 - 1
    sem = torch.rand(1, 20, *size, generator=g)
    with torch.no_grad():  # fp32: bf16 is emulated (slow) on CPUs without AMX / AVX512-BF16
        out = full_model(ref, sem, sem.flip(-1), return_warps=True)
    assert out.image.shape == (1, 3, *size)
    assert torch.isfinite(out.image).all()
    assert len(out.warps) == 8 and out.warps[-1].shape[-2:] == size
