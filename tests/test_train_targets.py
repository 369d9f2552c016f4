"""The held-out target metrics of ``python -m train targets``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from dynast import DynaST, DynaSTConfig
from train.cli import main
from train.targets import (
    colour_ratio,
    face_exemplar_grid,
    psnr,
    rgb_swd,
    sobel_correlation,
)

ASSETS = Path(__file__).resolve().parents[1] / "tests" / "assets" / "train"


def image(seed: int, size: int = 32) -> torch.Tensor:
    return torch.rand(3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_swd_is_zero_for_the_same_pixels_and_grows_with_a_colour_shift() -> None:
    a = image(0)
    assert rgb_swd(a, a) == 0.0
    shifted = (a + 0.4).clamp(-1, 1)
    assert rgb_swd(a, shifted) > rgb_swd(a, (a + 0.1).clamp(-1, 1)) > 0


def test_sobel_correlation_is_one_for_itself_and_low_for_unrelated_images() -> None:
    a, b = image(0), image(1)
    assert sobel_correlation(a, a) == pytest.approx(1.0, abs=1e-5)
    assert sobel_correlation(a, a * 0.5) == pytest.approx(1.0, abs=1e-5)  # scale-free
    assert abs(sobel_correlation(a, b)) < 0.2


def test_colour_ratio_measures_how_far_the_output_follows_the_exemplar() -> None:
    ex = torch.zeros(3, 8, 8)
    warm = ex.clone()
    warm[0] += 0.2
    assert colour_ratio(warm, ex, warm, ex) == pytest.approx(1.0)  # output moved as far
    half = ex.clone()
    half[0] += 0.1
    assert colour_ratio(half, ex, warm, ex) == pytest.approx(0.5)
    assert colour_ratio(ex, ex, warm, ex) == pytest.approx(0.0)  # output ignored the tint


def test_exemplar_grid_is_deterministic_and_a_mild_warp() -> None:
    g = face_exemplar_grid(3, 32)
    assert torch.equal(g, face_exemplar_grid(3, 32)) and not torch.equal(
        g, face_exemplar_grid(4, 32)
    )
    identity = face_exemplar_grid(0, 32) * 0 + torch.nn.functional.affine_grid(
        torch.tensor([[[1.0, 0, 0], [0, 1.0, 0]]]), [1, 1, 32, 32], align_corners=False
    )
    moved = (g - identity).abs().max()
    assert 0.02 < moved < 0.4
    a = image(0)
    assert psnr(a, a) > 100


def test_style_targets_command_writes_json_and_samples(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = DynaST(DynaSTConfig(semantic_nc=3, ref_semantic_nc=0, ngf=4, train_size=(32, 32)))
    model.save_pretrained(tmp_path / "ckpt")
    out = tmp_path / "t.json"
    code = main(
        [
            "targets",
            "--task=style",
            f"--checkpoint={tmp_path / 'ckpt'}",
            f"--content={ASSETS / 'style' / 'content'}",
            f"--style={ASSETS / 'style' / 'style'}",
            "--size=32",
            f"--out={out}",
            f"--samples={tmp_path / 's.jpg'}",
        ]
    )
    assert code == 0
    results = json.loads(out.read_text())
    assert results["summary"]["pairs"] == 9 and len(results["pairs"]) == 9
    assert results["summary"]["swd_content_style"] > 0
    assert (tmp_path / "s.jpg").stat().st_size > 0 and out.with_suffix(".md").exists()


def test_cross_identity_targets_score_against_the_landmark_teacher(tmp_path: Path) -> None:
    """A model that returns its exemplar unchanged gains exactly 0 dB over the exemplar; the
    face command writes the cross-identity summary and its samples."""
    from types import SimpleNamespace

    from train.data.files import list_images
    from train.targets import cross_identity_targets, held_out_faces

    def copy_exemplar(ref, ref_sem, sem):
        return SimpleNamespace(image=ref)

    files = list_images(ASSETS / "faces")[:3]
    scores, examples = cross_identity_targets(copy_exemplar, *held_out_faces(files, 64))
    summary = scores["summary"]
    assert summary["pairs"] == 3 and len(examples) == 3
    assert summary["psnr_gain_db"] == pytest.approx(0.0, abs=1e-9)
    assert not summary["psnr_target_met"]
    assert all(r["colour_distance"] >= 0 for r in scores["pairs"])

    torch.manual_seed(0)
    DynaST(DynaSTConfig(semantic_nc=12, ref_semantic_nc=12, ngf=4, train_size=(32, 32))
           ).save_pretrained(tmp_path / "ckpt")
    out = tmp_path / "f.json"
    assert main(["targets", "--task=face", f"--checkpoint={tmp_path / 'ckpt'}",
                 f"--heldout={ASSETS / 'faces'}", "--size=64", "--max-images=2",
                 f"--out={out}", f"--samples={tmp_path / 's.jpg'}"]) == 0
    results = json.loads(out.read_text())
    assert results["cross_identity"]["summary"]["pairs"] == 2
    assert "cross-identity psnr_gain_db" in out.with_suffix(".md").read_text()
    assert (tmp_path / "s_cross.jpg").stat().st_size > 0


def test_targets_plot_draws_each_arm_against_images_seen(tmp_path: Path) -> None:
    from train.targets_plot import main as plot_main
    from train.targets_plot import parse_point

    for name, gain in (("a", -1.0), ("b", 0.5)):
        (tmp_path / f"{name}.json").write_text(json.dumps({
            "summary": {"psnr_gain_db": gain},
            "cross_identity": {"summary": {"psnr_gain_db": gain - 2, "colour_close": 3,
                                           "pairs": 4}},
        }))
    assert parse_point(f"arm=100:{tmp_path / 'a.json'}") == ("arm", 100, tmp_path / "a.json")
    out = tmp_path / "plot.png"
    plot_main(["--point", f"arm=100:{tmp_path / 'a.json'}",
               "--point", f"arm=200:{tmp_path / 'b.json'}", "--out", str(out)])
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
