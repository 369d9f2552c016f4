"""Losses, discriminator and VGG: shapes, key layout, hand-checkable values."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from train.config import LossConfig
from train.losses.discriminator import MultiscaleDiscriminator
from train.losses.gan import feature_matching_loss, hinge_d_loss, hinge_g_loss
from train.losses.objectives import (
    StyleObjective,
    SupervisedObjective,
    channel_stats,
    matching_loss,
)
from train.losses.vgg import VGG19Features, load_vgg19_state

OFFICIAL_D_KEYS = (
    Path(__file__).parent / "fixtures" / "official_parity" / "official_D_deepfashion_keys.json"
)


@pytest.fixture(scope="module")
def vgg(tmp_path_factory) -> VGG19Features:
    return VGG19Features(cache_dir=tmp_path_factory.mktemp("vgg"))


def test_discriminator_state_dict_matches_the_release() -> None:
    reference = json.loads(OFFICIAL_D_KEYS.read_text())
    ours = {k: list(v.shape) for k, v in MultiscaleDiscriminator(20).state_dict().items()}
    assert ours == {k: shape for k, shape in reference}
    d = MultiscaleDiscriminator(20, ndf=8)
    outs = d(torch.randn(2, 23, 64, 64))
    assert len(outs) == 2 and [len(o) for o in outs] == [5, 5]
    assert outs[0][-1].shape == (2, 1, 6, 6) and outs[1][-1].shape == (2, 1, 2, 2)
    assert not any(
        p.requires_grad for p in d.discriminator_0.dec.parameters()
    )  # kept only for loading


def test_hinge_and_feature_matching_values() -> None:
    real = [[torch.zeros(1, 2), torch.full((1, 1, 2, 2), 2.0)]]
    fake = [[torch.ones(1, 2), torch.full((1, 1, 2, 2), -0.5)]]
    d_fake, d_real = hinge_d_loss(fake, real)
    assert d_fake.item() == pytest.approx(0.5) and d_real.item() == pytest.approx(0.0)
    assert hinge_g_loss(fake).item() == pytest.approx(0.5)
    assert feature_matching_loss(fake, real).item() == pytest.approx(1.0)  # last map excluded


def test_matching_loss_compares_each_warp_with_the_pooled_target() -> None:
    target = torch.rand(2, 3, 16, 16) * 2 - 1
    perfect = [F.avg_pool2d(target, 4), F.avg_pool2d(target, 2), target]
    assert matching_loss(perfect, target).item() == pytest.approx(0.0, abs=1e-7)
    off = [w + 0.1 for w in perfect]
    assert matching_loss(off, target).item() == pytest.approx(0.3, rel=1e-4)


def test_vgg_weights_dequantised_and_cached(tmp_path: Path) -> None:
    state = load_vgg19_state(tmp_path)
    assert state["block1_conv1.weight"].shape == (64, 3, 3, 3) and state[
        "block5_conv4.weight"
    ].shape == (512, 512, 3, 3)
    assert len(list(tmp_path.glob("*.safetensors"))) == 1
    again = load_vgg19_state(tmp_path)
    assert torch.equal(again["block3_conv2.weight"], state["block3_conv2.weight"])


def test_vgg_features_tell_photos_apart(vgg: VGG19Features) -> None:
    from train.data.files import read_rgb, resize, to_tensor

    faces = sorted(Path(__file__).parent.joinpath("assets", "train", "faces").glob("*.jpg"))
    a = to_tensor(resize(read_rgb(faces[0]), 64, 64))[None]
    b = to_tensor(resize(read_rgb(faces[2]), 64, 64))[None]
    shifted = torch.roll(a, 2, dims=-1)
    pooled = {
        k: vgg(x, ["relu5_1"])["relu5_1"].mean((2, 3))
        for k, x in (("a", a), ("b", b), ("s", shifted))
    }
    same = F.cosine_similarity(pooled["a"], pooled["s"]).item()
    other = F.cosine_similarity(pooled["a"], pooled["b"]).item()
    assert same > 0.9 and other < same - 0.05
    feats = vgg(a, ["relu1_2", "relu4_2"])
    assert feats["relu1_2"].shape == (1, 64, 64, 64) and feats["relu4_2"].shape == (1, 512, 8, 8)


def test_supervised_objective_is_zero_where_output_and_warps_are_perfect(
    vgg: VGG19Features,
) -> None:
    weights = LossConfig(gan=0.0, gan_feat=0.0)
    target = torch.rand(1, 3, 32, 32) * 2 - 1
    out = SimpleNamespace(image=target.clone(), warps=[F.avg_pool2d(target, 4), target.clone()])
    terms = SupervisedObjective(weights, vgg).generator(
        out, {"target": target, "target_semantics": torch.zeros(1, 2, 32, 32)}, None
    )
    assert terms.total.item() == pytest.approx(0.0, abs=1e-4)
    out.image = -target
    assert (
        SupervisedObjective(weights, vgg)
        .generator(out, {"target": target, "target_semantics": torch.zeros(1, 2, 32, 32)}, None)
        .parts["vgg"]
        > 1
    )


def test_style_objective(vgg: VGG19Features) -> None:
    content = torch.rand(1, 3, 32, 32) * 2 - 1
    style = torch.rand(1, 3, 32, 32) * 2 - 1
    obj = StyleObjective(LossConfig(), vgg)
    same = obj.generator(
        SimpleNamespace(image=content), {"target_semantics": content, "ref_image": content}
    )
    assert same.total.item() == pytest.approx(0.0, abs=1e-3)
    other = obj.generator(
        SimpleNamespace(image=content), {"target_semantics": content, "ref_image": style}
    )
    assert (
        other.parts["content"].item() == pytest.approx(0.0, abs=1e-3)
        and other.parts["style"].item() > 1
    )
    mean, std = channel_stats(torch.tensor([[[[1.0, 3.0]]]]), eps=0.0)
    assert mean.item() == 2.0 and std.item() == pytest.approx(2**0.5)


def test_contextual_loss_finds_features_wherever_they_are() -> None:
    from train.losses.contextual import contextual_loss

    torch.manual_seed(0)
    x = torch.randn(2, 16, 8, 8)
    shuffled = x.flatten(2)[:, :, torch.randperm(64)].view_as(x)
    assert contextual_loss(x, x).item() < 0.05
    assert contextual_loss(x, shuffled).item() < 0.05  # the same features, moved: still found
    other = torch.randn(2, 16, 8, 8)
    assert contextual_loss(x, other).item() > 1.0
    assert contextual_loss(x, other, torch.zeros(2, 1, 8, 8)).item() == 0.0
    # only the weighted positions count: x's left half copied into y, the right half random
    y = torch.where(torch.arange(8).view(1, 1, 1, 8) < 4, x, other)
    left = (torch.arange(8).view(1, 1, 1, 8) < 4).float().expand(2, 1, 8, 8)
    assert contextual_loss(x, y, left).item() < contextual_loss(x, y, 1 - left).item()


def _teacher_batch(cross: float) -> dict[str, torch.Tensor]:
    torch.manual_seed(1)
    target = torch.rand(2, 3, 32, 32) * 2 - 1
    mask = torch.zeros(2, 1, 32, 32)
    mask[:, :, 8:24, 8:24] = 1
    return {
        "target": target,
        "target_semantics": torch.zeros(2, 2, 32, 32),
        "ref_image": torch.rand(2, 3, 32, 32) * 2 - 1,
        "teacher": torch.rand(2, 3, 32, 32) * 2 - 1,
        "teacher_mask": mask,
        "cross": torch.full((2, 1), cross),
    }


def test_self_pairs_with_the_teacher_keys_score_as_the_papers_objective(vgg) -> None:
    """A self-pair's teacher is its target and its mask all ones: the same loss as without."""
    batch = _teacher_batch(0.0)
    batch["teacher"], batch["teacher_mask"] = batch["target"], torch.ones(2, 1, 32, 32)
    out = SimpleNamespace(image=torch.rand(2, 3, 32, 32) * 2 - 1,
                          warps=[torch.rand(2, 3, 8, 8) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1])
    weights = LossConfig(gan=0.0, gan_feat=0.0)
    with_teacher = SupervisedObjective(weights, vgg).generator(out, batch, None)
    plain = {k: batch[k] for k in ("target", "target_semantics", "ref_image")}
    without = SupervisedObjective(weights, vgg).generator(out, plain, None)
    assert with_teacher.parts.keys() == without.parts.keys()
    for name, value in without.parts.items():
        torch.testing.assert_close(with_teacher.parts[name], value, rtol=1e-6, atol=1e-6)


def test_teacher_terms_pull_only_inside_the_mask(vgg) -> None:
    batch = _teacher_batch(1.0)
    image = (torch.rand(2, 3, 32, 32) * 2 - 1).requires_grad_()
    warp = (torch.rand(2, 3, 32, 32) * 2 - 1).requires_grad_()
    weights = LossConfig(gan=0.0, gan_feat=0.0, vgg=0.0, perceptual=0.0, teacher_l1=1.0)
    terms = SupervisedObjective(weights, vgg).generator(
        SimpleNamespace(image=image, warps=[warp]), batch, None
    )
    assert set(terms.parts) == {"matching", "teacher_l1"}
    terms.total.backward()
    outside = batch["teacher_mask"].expand(2, 3, 32, 32) == 0
    assert image.grad[outside].abs().max() == 0 and image.grad[~outside].abs().min() > 0
    assert warp.grad[outside].abs().max() == 0 and warp.grad[~outside].abs().min() > 0
    perfect = SupervisedObjective(weights, vgg).generator(
        SimpleNamespace(image=batch["teacher"], warps=[batch["teacher"]]), batch, None
    )
    assert perfect.total.item() == pytest.approx(0.0, abs=1e-6)


def test_contextual_term_counts_cross_pairs_outside_the_mask_only(vgg) -> None:
    weights = LossConfig(gan=0.0, gan_feat=0.0, vgg=0.0, perceptual=0.0, matching=0.0,
                         contextual=1.0)
    objective = SupervisedObjective(weights, vgg)
    out = SimpleNamespace(image=torch.rand(2, 3, 32, 32) * 2 - 1, warps=[])
    cross = objective.generator(out, _teacher_batch(1.0), None).parts["contextual"]
    assert cross.item() > 0
    assert objective.generator(out, _teacher_batch(0.0), None).parts["contextual"].item() == 0
