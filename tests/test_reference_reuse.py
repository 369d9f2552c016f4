"""The generator's reference side computed once (``encode_reference``) and reused for many
targets (``generate``): the same images as ``forward``, batches served by one reference."""
from __future__ import annotations

import pytest
import torch

from conftest import random_inputs, tiny_config
from dynast import DynaST
from dynast.inference.runtime import precision_context


def _model() -> DynaST:
    torch.manual_seed(0)
    return DynaST(tiny_config()).eval()


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_generate_with_an_encoded_reference_equals_forward(precision: str) -> None:
    cfg = tiny_config()
    model = _model()
    ref, ref_sem, _ = random_inputs(cfg, seed=1)
    targets = torch.cat([random_inputs(cfg, seed=s)[2] for s in (2, 3, 4)])
    with torch.inference_mode(), precision_context("cpu", precision):
        one_by_one = [model(ref, ref_sem, targets[i:i + 1], return_warps=True)
                      for i in range(3)]
        encoded = model.encode_reference(ref, ref_sem)
        single = model.generate(encoded, targets[:1], return_warps=True)
        batch = model.generate(encoded, targets, return_warps=True)
    assert torch.equal(single.image, one_by_one[0].image)  # same work, same order: same bits
    for a, b in zip(single.warps, one_by_one[0].warps):
        assert torch.equal(a, b)
    for i in range(3):  # a batch sums in another order: float rounding only
        torch.testing.assert_close(batch.image[i:i + 1], one_by_one[i].image,
                                   atol=1e-4 if precision == "fp32" else 2e-2, rtol=0)
    assert len(batch.warps) == len(one_by_one[0].warps)


def test_identical_targets_in_a_batch_give_identical_images() -> None:
    cfg = tiny_config()
    model = _model()
    ref, ref_sem, tgt = random_inputs(cfg, seed=5)
    with torch.inference_mode():
        out = model.generate(model.encode_reference(ref, ref_sem), tgt.expand(4, -1, -1, -1))
    assert all(torch.equal(out.image[0], out.image[i]) for i in range(1, 4))


def test_a_reference_encoded_elsewhere_is_refused_with_the_reason() -> None:
    cfg = tiny_config()
    model = _model()
    ref, ref_sem, tgt = random_inputs(cfg)
    with torch.inference_mode():
        encoded = model.encode_reference(ref, ref_sem)
        with pytest.raises(ValueError, match="encoded at 32x32 but the target is 40x32"):
            model.generate(encoded, torch.zeros(1, cfg.semantic_nc, 40, 32))
        with pytest.raises(ValueError, match="same precision context"), \
                precision_context("cpu", "bf16"):
            model.generate(encoded, tgt)
        two = model.encode_reference(ref.expand(2, -1, -1, -1), ref_sem.expand(2, -1, -1, -1))
        with pytest.raises(ValueError, match="batch 2 cannot serve 3 targets"):
            model.generate(two, tgt.expand(3, -1, -1, -1))
        with pytest.raises(ValueError, match="ref_semantics must be"):
            model.encode_reference(ref, None)
