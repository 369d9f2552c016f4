"""Lower precision: the cast-once inference copy, float32 norms under fp16, no TF32 in attention."""

from __future__ import annotations

import torch

from conftest import random_inputs, tiny_config
from dynast import DynaST
from dynast.attention import AttentionKernels, sparse_attention
from dynast.layers import l2_normalize, positional_norm
from dynast.precision import tf32_enabled


def _model() -> DynaST:
    torch.manual_seed(0)
    return DynaST(tiny_config()).eval()


def test_autocast_inference_runs_on_one_cast_copy_rebuilt_when_weights_change():
    cfg = tiny_config()
    model = _model()
    inputs = random_inputs(cfg)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        first = model(*inputs).image
        copies = model._inference_copies
        copy = copies.get(model, torch.bfloat16)  # the one the call built
        model(*inputs)
        assert copies.get(model, torch.bfloat16) is copy  # cast once, reused
    block = copy.levels["level1"].blocks[0]
    assert copy.to_image.weight.dtype == torch.bfloat16
    assert block.res_block.conv1.weight.dtype == torch.bfloat16
    assert block.to_q.weight.dtype == torch.float32  # projections stay float32
    assert copy.pos_embed.dtype == torch.float32  # so does the position path
    assert set(DynaST._keep_in_fp32_modules) >= {"to_q", "to_k", "pos_embed"}
    assert isinstance(block.res_block.norm1, torch.nn.Identity)  # BatchNorm folded
    assert all(p.dtype == torch.float32 for p in model.parameters())  # the model itself untouched
    with torch.no_grad():
        model.to_image.bias.add_(0.5)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        second = model(*inputs).image
        assert copies.get(model, torch.bfloat16) is not copy
    assert (second - first).abs().max() > 0.01


def test_cast_copy_stays_close_to_float32_and_training_keeps_autocast():
    cfg = tiny_config()
    model = _model()
    inputs = random_inputs(cfg)
    with torch.no_grad():
        fp32 = model(*inputs).image
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf16 = model(*inputs).image
    psnr = 10 * torch.log10(4 / (bf16.float() - fp32).pow(2).mean())
    assert psnr > 30, psnr
    model.train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(*inputs).image
    out.float().mean().backward()  # gradients reach the float32 weights
    assert model.to_image.weight.grad is not None


def test_fp16_autocast_is_finite_on_flat_inputs():
    """eps 1e-8 / 1e-10 would round to 0 in fp16: flat pixels would give 0/0."""
    cfg = tiny_config()
    model = _model()
    ref, ref_sem, tgt = (torch.zeros_like(t) for t in random_inputs(cfg))
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.float16):
        out = model(ref, ref_sem, tgt, return_warps=True)
    assert torch.isfinite(out.image).all()
    assert all(torch.isfinite(w).all() for w in out.warps)
    flat = torch.ones(1, 8, 4, 4, dtype=torch.float16)
    assert torch.isfinite(positional_norm(flat)).all() and (positional_norm(flat) == 0).all()
    assert torch.isfinite(l2_normalize(torch.zeros(1, 8, 4, 4, dtype=torch.float16))).all()


def test_positional_norm_matches_its_definition():
    x = torch.randn(2, 16, 5, 7).contiguous(memory_format=torch.channels_last)
    var, mean = torch.var_mean(x, dim=1, keepdim=True)
    torch.testing.assert_close(
        positional_norm(x), (x - mean) / (var + 1e-8).sqrt(), rtol=1e-5, atol=1e-5
    )


def test_tf32_is_off_inside_the_attention_and_restored_after():
    cfg = tiny_config()
    seen = []

    def spy(*args, **kwargs):
        seen.append(("attention", tf32_enabled()))
        return sparse_attention(*args, **kwargs)

    model = DynaST(cfg, kernels=AttentionKernels(sparse=spy)).eval()
    block = model.levels["level1"].blocks[0]
    handle = block.spade.register_forward_pre_hook(
        lambda *a: seen.append(("spade", tf32_enabled()))
    )
    before = tf32_enabled()
    with torch.no_grad():
        model(*random_inputs(cfg))
    handle.remove()
    assert ("attention", False) in seen  # TF32 off around projections and attention
    assert ("spade", before) in seen and tf32_enabled() == before  # restored outside
