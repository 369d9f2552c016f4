"""The generator: outputs, sizes, precision, ablations, persistence, input errors."""

from __future__ import annotations

import pytest
import torch

from conftest import random_inputs, tiny_config
from dynast import DynaST, DynaSTConfig


def _model(**overrides) -> DynaST:
    torch.manual_seed(0)
    return DynaST(tiny_config(**overrides)).eval()


def test_output_structure_warps_and_confidence():
    cfg = tiny_config()
    model = _model()
    ref, ref_sem, tgt = random_inputs(cfg, batch=2)
    with torch.no_grad():
        out = model(ref, ref_sem, tgt, return_warps=True, return_matches=True)
    assert out.image.shape == (2, 3, 32, 32)
    assert out.image.abs().max() <= 1
    kinds = [(b.level, b.kind, b.height) for b in out.blocks]
    assert kinds == [
        (4, "dense", 4),
        (4, "dense", 4),
        (3, "inter", 8),
        (3, "inner", 8),
        (2, "inter", 16),
        (2, "inner", 16),
        (1, "inter", 32),
        (1, "inner", 32),
    ]
    assert [tuple(w.shape) for w in out.warps] == [(2, 3, b.height, b.width) for b in out.blocks]
    assert [tuple(c.shape) for c in out.confidence] == [
        (2, 1, b.height, b.width) for b in out.blocks
    ]
    n_cands = [16, 16, 16, 20, 16, 20, 16, 20]
    assert [m.indices.shape[-1] for m in out.matches] == n_cands
    for block, conf, warp, m in zip(out.blocks, out.confidence, out.warps, out.matches):
        assert conf.min() >= 0 and conf.max() <= 1 + 1e-5
        # warp weights: rows sum to 1 where a link is kept, 0 where every link is pruned
        sums = m.weights.sum(-1)
        if block.kind != "dense":  # dense blocks keep only the top candidates for inspection
            any_kept = m.kept.any(-1)
            torch.testing.assert_close(sums[any_kept], torch.ones_like(sums[any_kept]))
            assert (sums[~any_kept] == 0).all()
            assert (warp.flatten(2).transpose(1, 2)[~any_kept] == 0).all()
        assert m.indices.max() < block.height * block.width


def test_default_forward_skips_warps():
    cfg = tiny_config()
    with torch.no_grad():
        out = _model()(*random_inputs(cfg))
    assert out.warps == [] and out.matches == [] and len(out.confidence) == 8


@pytest.mark.parametrize("size", [(32, 32), (48, 32), (64, 40), (16, 24)])
def test_any_multiple_of_8_square_or_not(size):
    cfg = tiny_config()
    ref, ref_sem, tgt = random_inputs(cfg, height=size[0], width=size[1])
    with torch.no_grad():
        out = _model()(ref, ref_sem, tgt, return_warps=True)
    assert out.image.shape == (1, 3, *size)
    assert out.warps[-1].shape[-2:] == size


@pytest.mark.parametrize(
    "shapes, message",
    [
        (((1, 3, 30, 32), (1, 5, 30, 32), (1, 5, 30, 32)), "multiples of 8"),
        (((1, 3, 32, 32), (1, 5, 32, 32), (1, 5, 40, 32)), "sizes differ"),
        (((1, 3, 32, 32), (1, 4, 32, 32), (1, 5, 32, 32)), "ref_semantics must be"),
        (((1, 3, 32, 32), (1, 5, 32, 32), (1, 6, 32, 32)), "target_semantics must be"),
        (((1, 4, 32, 32), (1, 5, 32, 32), (1, 5, 32, 32)), "ref_image must be"),
    ],
)
def test_bad_inputs_raise_clear_value_errors(shapes, message):
    model = _model()
    with pytest.raises(ValueError, match=message):
        model(*(torch.zeros(s) for s in shapes))


def test_style_transfer_model_has_no_reference_semantics():
    cfg = tiny_config(semantic_nc=3, ref_semantic_nc=0)
    model = DynaST(cfg).eval()
    ref, ref_sem, content = random_inputs(cfg)
    assert ref_sem is None
    with torch.no_grad():
        assert model(ref, None, content).image.shape == (1, 3, 32, 32)
    with pytest.raises(ValueError, match="no reference semantics"):
        model(ref, torch.zeros(1, 3, 32, 32), content)


def test_bf16_autocast_runs_and_stays_close_to_fp32():
    cfg = tiny_config()
    model = _model()
    inputs = random_inputs(cfg)
    with torch.no_grad():
        fp32 = model(*inputs).image
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf16 = model(*inputs).image
    assert bf16.shape == fp32.shape and torch.isfinite(bf16).all()
    mse = (bf16.float() - fp32).pow(2).mean()
    psnr = 10 * torch.log10(4 / mse)  # images span [-1, 1]
    assert psnr > 25, psnr


@pytest.mark.parametrize(
    "switch",
    [
        dict(prune=False),
        dict(inner_scale=False),
        dict(finest_match_stride=2),
        dict(finest_match_stride=8),
    ],
)
def test_each_ablation_switch_changes_the_output(switch):
    cfg = tiny_config()
    inputs = random_inputs(cfg)
    base = _model()
    ablated = DynaST(tiny_config(**switch)).eval()
    ablated.load_state_dict(base.state_dict(), strict=False)  # same weights where both have them
    with torch.no_grad():
        a, b = base(*inputs, return_warps=True), ablated(*inputs, return_warps=True)
    assert (a.image - b.image).abs().max() > 1e-3
    if "inner_scale" in switch:
        assert [blk.kind for blk in b.blocks] == ["dense", "dense"] + ["inter"] * 6
    if "finest_match_stride" in switch:
        finest = min(blk.stride for blk in b.blocks)
        assert finest == switch["finest_match_stride"]


def test_position_grid_is_resized_for_other_sizes():
    model = _model()
    grid = model.position_grid(8, 6)
    assert grid.shape == (1, 4 * 8, 8, 6)
    assert model.position_grid(4, 4) is model.pos_embed


def test_save_and_load_round_trip(tmp_path):
    cfg = tiny_config(train_size=(32, 48), top_k=3)
    model = DynaST(cfg).eval()
    model.save_pretrained(tmp_path / "ckpt")
    assert (tmp_path / "ckpt" / "config.json").is_file()
    loaded = DynaST.from_pretrained(tmp_path / "ckpt")
    assert loaded.config == cfg
    inputs = random_inputs(cfg, height=32, width=48)
    with torch.no_grad():
        assert torch.equal(model(*inputs).image, loaded(*inputs).image)


def test_save_pretrained_names_the_task_in_the_config(tmp_path):
    from dynast.persistence import is_checkpoint_dir, read_task

    model = _model()
    model.save_pretrained(tmp_path / "plain")
    model.save_pretrained(tmp_path / "face", task="face")
    assert is_checkpoint_dir(tmp_path / "face") and read_task(tmp_path / "face") == "face"
    assert read_task(tmp_path / "plain") is None
    assert DynaST.from_pretrained(tmp_path / "face").config == model.config  # metadata only


def test_save_in_fp16_halves_the_file_and_loads_as_fp32(tmp_path):
    model = _model()
    model.save_pretrained(tmp_path / "fp32")
    model.save_pretrained(tmp_path / "fp16", dtype=torch.float16)
    size = lambda d: (tmp_path / d / "model.safetensors").stat().st_size  # noqa: E731
    assert size("fp16") < 0.6 * size("fp32")
    loaded = DynaST.from_pretrained(tmp_path / "fp16")
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    ref = model.levels["level1"].blocks[0].to_q.weight
    torch.testing.assert_close(
        loaded.levels["level1"].blocks[0].to_q.weight, ref, rtol=1e-3, atol=1e-3
    )


def test_from_pretrained_explains_a_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="dynast.convert"):
        DynaST.from_pretrained(tmp_path / "nowhere" / "deep")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="config.json"):
        DynaST.from_pretrained(tmp_path / "empty")


def test_config_validation_and_unknown_fields():
    with pytest.raises(ValueError, match="finest_match_stride"):
        DynaSTConfig(finest_match_stride=3)
    with pytest.raises(ValueError, match="train_size"):
        DynaSTConfig(train_size=(250, 256))
    with pytest.raises(ValueError, match="unknown DynaSTConfig fields"):
        DynaSTConfig.from_dict({"ngf": 8, "isTrain": True})


def test_training_mode_warps_carry_gradients():
    cfg = tiny_config()
    model = DynaST(cfg).train()
    ref, ref_sem, tgt = random_inputs(cfg, batch=2)
    out = model(ref, ref_sem, tgt, return_warps=True)
    loss = out.image.mean() + sum(w.abs().mean() for w in out.warps)
    loss.backward()
    gate = model.levels["level1"].blocks[0].prune_q.weight.grad
    assert gate is not None and gate.abs().sum() > 0


def test_top_k_is_a_forward_argument_and_leaves_the_config_alone():
    cfg = tiny_config(top_k=4)
    model = _model()
    inputs = random_inputs(cfg)
    with torch.no_grad():
        default = model(*inputs, return_matches=True)
        explicit = model(*inputs, return_matches=True, top_k=4)
        two = model(*inputs, return_matches=True, top_k=2)
    assert model.config.top_k == 4
    assert torch.equal(default.image, explicit.image)
    # inter blocks see 4 children per inherited match, inner blocks 5 neighbours' matches
    assert [m.indices.shape[-1] for m in two.matches[2:4]] == [8, 10]
    assert (two.image - default.image).abs().max() > 1e-4
    for bad in (0, 2.5, True, "3"):
        with pytest.raises(ValueError, match="top_k must be a positive integer"):
            model(*inputs, top_k=bad)


def test_levels_run_one_after_another_as_the_paper_loop():
    from dynast.level import LevelState

    cfg = tiny_config()
    model = _model()
    ref, ref_sem, tgt = random_inputs(cfg)
    reference = torch.cat([ref, ref_sem], 1)
    with torch.no_grad():
        targets, references = model.target_encoder(tgt), model.reference_encoder(reference)
        state, ref_level = LevelState(None, None, None), None
        n_blocks = []
        for i, level in enumerate(model.levels.values()):
            ref_level = level.encode_reference(ref_level, references[3 - i], reference,
                                               model.position_grid(4, 4))
            state, records = level(
                state,
                targets[3 - i],
                ref_level,
                tgt,
                top_k=cfg.top_k,
                ref_image=None,
                return_matches=False,
            )
            n_blocks.append(len(records))
            assert state.decoded.shape[-1] == 32 // level.stride
        image = torch.tanh(model.to_image(state.decoded))
        torch.testing.assert_close(image, model(ref, ref_sem, tgt).image)
    assert n_blocks == [2, 2, 2, 2] and state.links is None  # the finest block hands on nothing


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda t: t[:0], "batch is empty"),
        (lambda t: t.clone().index_fill_(3, torch.tensor([3]), float("nan")), "NaN or infinite"),
        (lambda t: t.clone().index_fill_(2, torch.tensor([0]), float("inf")), "NaN or infinite"),
        (lambda t: t > 0, "floating-point"),
    ],
)
def test_bad_values_raise_an_input_error_naming_the_problem(change, message):
    from dynast.inputs import InvalidInputError

    cfg = tiny_config()
    ref, ref_sem, tgt = random_inputs(cfg)
    model = _model()
    with pytest.raises(InvalidInputError, match=message):
        model(change(ref), change(ref_sem) if "batch" in message else ref_sem, change(tgt))
    assert issubclass(InvalidInputError, ValueError)


def test_half_precision_inputs_run_in_the_model_dtype():
    cfg = tiny_config()
    model = _model()
    inputs = random_inputs(cfg)
    with torch.no_grad():
        rounded = model(*(t.half().float() for t in inputs)).image
        fp16 = model(*(t.half() for t in inputs)).image
    assert fp16.dtype == torch.float32
    assert torch.equal(fp16, rounded)


def test_truncated_weights_file_is_a_checkpoint_error(tmp_path):
    from dynast.inputs import InvalidCheckpointError

    _model().save_pretrained(tmp_path / "m")
    weights = tmp_path / "m" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(InvalidCheckpointError, match="truncated or corrupt"):
        DynaST.from_pretrained(tmp_path / "m")


def test_on_level_reports_each_level_coarse_to_fine() -> None:
    cfg = tiny_config()
    seen: list[tuple[int, int]] = []
    with torch.no_grad():
        model = DynaST(cfg).eval()
        model(*random_inputs(cfg), on_level=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
