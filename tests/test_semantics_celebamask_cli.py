"""The paper's 15-channel CelebAMask-HQ semantics, style semantics, and the command line."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dynast.semantics import (
    CELEBAMASK_PARTS,
    FACE_CHANNELS,
    InvalidPartMasks,
    load_image,
    render_celebamask_semantics,
    style_semantics,
)
from dynast.semantics.__main__ import main

ASSETS = Path(__file__).parent / "assets" / "semantics"
FACE = ASSETS / "face_celebahq_sean.jpg"


def test_celebamask_layout() -> None:
    skin = np.zeros((512, 512), bool)
    skin[100:400, 150:350] = True
    hair = np.zeros((512, 512), bool)
    hair[20:100, 100:400] = True
    out = render_celebamask_semantics({"skin": skin, "hair": hair, "neck": skin}, FACE, 256, 256)
    assert out.shape == (15, 256, 256) and out.dtype == np.float32
    assert 0 <= out.min() and out.max() <= 1
    # boundaries: both sides of each 4-neighbour change, at 256 px the skin spans rows 50..199
    assert out[14, 49, 100] == 1 and out[14, 50, 100] == 1 and out[14, 51, 100] == 0
    assert out[1, 49, 100] == 0 and out[1, 48, 100] == 0
    assert out[1, 40, 100] == pytest.approx(3 / 255)
    hair_ch = 1 + CELEBAMASK_PARTS.index("hair")
    assert out[hair_ch].min() == 0
    absent = [1 + i for i, p in enumerate(CELEBAMASK_PARTS) if p not in ("skin", "hair")]
    assert (out[absent] == 1).all()
    # Canny edges are kept outside the face parts only
    assert (out[0] >= out[14]).all()
    assert out[0, 55:195, 80:170].sum() == 0
    assert out[0, 200:, :].sum() > 0


def test_celebamask_rejects_bad_masks() -> None:
    with pytest.raises(InvalidPartMasks, match="expected names"):
        render_celebamask_semantics({"cloth": np.ones((8, 8))}, FACE, 64, 64)
    with pytest.raises(InvalidPartMasks, match="must be"):
        render_celebamask_semantics({"skin": np.ones((8, 8, 3))}, FACE, 64, 64)


def test_style_semantics() -> None:
    sem = style_semantics(FACE, (128, 96))
    assert sem.shape == (3, 128, 96) and sem.dtype == np.float32
    assert -1 <= sem.min() < -0.5 and 0.5 < sem.max() <= 1
    assert style_semantics(np.zeros((10, 13, 3), np.uint8)).shape == (3, 16, 16)


def test_cli_pose_from_openpose(tmp_path: Path) -> None:
    d = ASSETS / "pose_render_256_inputs"
    out = tmp_path / "p.npz"
    argv = ["pose", "--from-openpose", str(d / "case0_candidate.txt"), str(d / "case0_subset.txt")]
    assert main([*argv, "--size", "256x256", "--out", str(out)]) == 0
    data = np.load(out)
    reference = np.load(ASSETS / "pose_render_256.npz")["case0"]
    assert np.array_equal(np.round(data["semantics"] * 255).astype(np.uint8), reference)
    assert data["keypoints"].shape == (18, 3) and data["keypoints"][:, 2].all()
    # keypoints of a 512x512 photo, drawn at 256x256
    assert main([*argv, "--size", "128x128", "--source-size", "256x256", "--out", str(out)]) == 0
    assert np.allclose(np.load(out)["keypoints"][0, :2], [63.75, 19.75])


def test_cli_batch_pose_and_failures(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    images = [ASSETS / "person_internet.jpg", ASSETS / "painting_mondrian.jpg"]
    code = main(
        ["pose", "--from-image", *map(str, images), "--size", "256x192", "--out-dir", str(tmp_path)]
    )
    assert code == 1 and "painting_mondrian" in capsys.readouterr().err
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["person_internet.json", "person_internet.npz",
                     "person_internet_candidate.txt", "person_internet_subset.txt"]
    data = np.load(tmp_path / "person_internet.npz")
    assert data["semantics"].shape == (20, 256, 192)


def test_cli_face(tmp_path: Path) -> None:
    assert main(["face", "--from-image", str(FACE), "--out", str(tmp_path / "f.npz")]) == 0
    rgb = load_image(FACE)
    sem = np.load(tmp_path / "f.npz")["semantics"]
    assert sem.shape == (FACE_CHANNELS, *rgb.shape[:2])  # 512 x 512: already multiples of 8
    sketch = tmp_path / "s.png"
    Image.fromarray(np.where(sem[0] > 0, 0, 255).astype(np.uint8)).save(sketch)
    argv = ["face", "--from-sketch", str(sketch), "--size", "256x256"]
    assert main([*argv, "--out", str(tmp_path / "s.npz")]) == 0
    assert np.load(tmp_path / "s.npz")["semantics"].shape == (FACE_CHANNELS, 256, 256)


def test_cli_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = str(tmp_path / "x.npz")
    assert main(["face", "--from-image", str(FACE), str(FACE), "--out", out]) == 2
    assert main(["face", "--from-image", str(FACE), "--size", "100x100", "--out", out]) == 2
    assert "multiples of 8" in capsys.readouterr().err
