"""Evaluation metrics against hand-checkable cases."""

from __future__ import annotations

import math

import pytest
import torch

from train.evaluation.metrics import (
    l1,
    laplacian_pyramid,
    pooled_target,
    psnr,
    sliced_wasserstein,
    ssim,
)


def _smooth_image(seed: int, size: int = 64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.nn.functional.interpolate(
        torch.rand(1, 3, size // 8, size // 8, generator=g),
        size=(size, size),
        mode="bilinear",
        align_corners=False,
    )
    return x * 2 - 1


def test_identical_images() -> None:
    x = _smooth_image(0)
    assert l1(x, x) == [0.0]
    assert psnr(x, x) == [math.inf]
    assert ssim(x, x)[0] == pytest.approx(1.0)


def test_constant_offset_gives_known_l1_and_psnr() -> None:
    x = torch.zeros(2, 3, 16, 16)
    y = x + 0.2  # 0.1 in [0,1] units
    assert l1(x, y) == pytest.approx([0.1, 0.1])
    assert psnr(x, y) == pytest.approx([20.0, 20.0])  # 10 log10(1 / 0.01)


def test_shift_lowers_ssim_and_grey_ssim() -> None:
    x = _smooth_image(1)
    shifted = torch.roll(x, 4, dims=-1)
    assert ssim(x, shifted)[0] < 0.95 and ssim(x, shifted, grey=True)[0] < 0.95
    assert ssim(x, x * 0.9)[0] > ssim(x, shifted)[0]


def test_pooled_target_and_pyramid_reconstruction() -> None:
    x = _smooth_image(2)
    assert pooled_target(x, (16, 16)).shape == (1, 3, 16, 16)
    levels = laplacian_pyramid(x, min_size=16)
    assert [lv.shape[-1] for lv in levels] == [64, 32, 16]


def test_swd_zero_for_identical_sets_and_grows_with_difference() -> None:
    a = [_smooth_image(s) for s in range(4)]
    same = sliced_wasserstein(a, [t.clone() for t in a])
    assert same["mean"] == pytest.approx(0.0, abs=1e-6)
    g = torch.Generator().manual_seed(0)
    noise = [torch.randn(t.shape, generator=g) for t in a]
    slight = sliced_wasserstein(a, [t + 0.02 * n for t, n in zip(a, noise)])
    strong = sliced_wasserstein(a, [t + 0.5 * n for t, n in zip(a, noise)])
    assert 0 < slight["mean"] < strong["mean"]
    assert set(strong) == {"level_64", "level_32", "level_16", "mean"}


def test_evaluate_command_writes_json_and_markdown(tmp_path) -> None:
    import json
    from pathlib import Path

    from dynast import DynaST, DynaSTConfig
    from train.cli import main

    assets = Path(__file__).resolve().parent / "assets" / "train" / "style"
    torch.manual_seed(0)
    DynaST(
        DynaSTConfig(semantic_nc=3, ref_semantic_nc=0, ngf=4, train_size=(32, 32))
    ).save_pretrained(tmp_path / "model")
    out = tmp_path / "results.json"
    assert (
        main(
            [
                "evaluate",
                "--checkpoint",
                str(tmp_path / "model"),
                "--task",
                "style",
                "--content",
                str(assets / "content"),
                "--style",
                str(assets / "style"),
                "--size",
                "32",
                "--max-images",
                "2",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    results = json.loads(out.read_text())
    summary = results["summary"]
    assert summary["images"] == 2 and 0 < summary["seconds_per_image"]
    assert -1 <= summary["content_ssim"] <= 1 and summary["style_loss"] > 0
    assert results["fid"]["available"] is False and "pytorch_fid" in results["fid"]["how"]
    assert "| content_ssim |" in out.with_suffix(".md").read_text()


def test_evaluate_face_reports_every_block(tmp_path) -> None:
    from pathlib import Path

    from dynast import DynaST, DynaSTConfig
    from dynast.semantics import FACE_CHANNELS
    from train.evaluation.run import EvalRequest, evaluate

    faces = Path(__file__).resolve().parent / "assets" / "train" / "faces"
    torch.manual_seed(0)
    cfg = DynaSTConfig(
        semantic_nc=FACE_CHANNELS, ref_semantic_nc=FACE_CHANNELS, ngf=4, train_size=(32, 32)
    )
    DynaST(cfg).save_pretrained(tmp_path / "model")
    results = evaluate(
        EvalRequest(
            checkpoint=str(tmp_path / "model"),
            task="face",
            data=str(faces),
            size=32,
            max_images=2,
            batch_size=2,
            out=str(tmp_path / "r.json"),
            cache_dir=str(tmp_path / "cache"),
            save_images=str(tmp_path / "png"),
        )
    )
    blocks = results["per_block"]
    assert [(b["height"], b["width"]) for b in blocks] == [
        (4, 4),
        (4, 4),
        (8, 8),
        (8, 8),
        (16, 16),
        (16, 16),
        (32, 32),
        (32, 32),
    ]
    assert all(0 <= b["l1"] <= 1 and b["psnr"] > 0 for b in blocks)
    assert {
        "warp_l1",
        "warp_psnr",
        "warp_ssim",
        "output_l1",
        "output_psnr",
        "output_ssim",
        "swd_x1e3",
    } <= set(results["summary"])
    assert len(list((tmp_path / "png" / "generated").glob("*.png"))) == 2
    assert len(list((tmp_path / "png" / "real").glob("*.png"))) == 2


def test_ablation_report_tabulates_and_plots(tmp_path):
    import json

    from train.ablation_report import main as report

    summary = {
        "warp_l1": 0.1,
        "warp_psnr": 20.0,
        "warp_ssim": 0.5,
        "output_ssim": 0.4,
        "output_psnr": 18.0,
    }
    for name, shift in (("a", 0.0), ("b", 1.0)):
        (tmp_path / f"{name}.json").write_text(
            json.dumps({"summary": {k: v + shift for k, v in summary.items()}})
        )
    assert (
        report(
            [
                f"full={tmp_path / 'a.json'}",
                f"no pruning={tmp_path / 'b.json'}",
                "--plot",
                str(tmp_path / "p.png"),
            ]
        )
        == 0
    )
    assert (tmp_path / "p.png").stat().st_size > 1000
