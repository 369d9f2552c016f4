"""Pose keypoints, OpenPose files and the release's 20-channel rendering."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dynast.semantics import (
    POSE_CHANNELS,
    KeypointOutsideImage,
    Keypoints,
    MalformedKeypointFile,
    NoPersonFound,
    read_openpose_json,
    read_openpose_txt,
    render_pose,
    render_pose_preview,
    write_openpose_json,
    write_openpose_txt,
)

ASSETS = Path(__file__).parent / "assets" / "semantics"
CASES = json.loads((ASSETS / "pose_render_256_keypoints.json").read_text())
REFERENCE = np.load(ASSETS / "pose_render_256.npz")


def _check_parity(ours: np.ndarray, ref_u8: np.ndarray) -> None:
    assert ours.shape == (POSE_CHANNELS, 256, 256) and ours.dtype == np.float32
    diff = np.abs(ours.astype(np.float64) * 255 - ref_u8.astype(np.float64))
    assert diff.reshape(20, -1).mean(axis=1).max() <= 1.0
    same = np.isclose(ours[:3] * 255, ref_u8[:3], atol=0.5).mean(axis=(1, 2))
    assert same.min() >= 0.99


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_render_matches_release_from_json_keypoints(case: dict) -> None:
    ours = render_pose(Keypoints.from_xy(case["keypoints_xy"]), 256, 256)
    _check_parity(ours, REFERENCE[case["name"]])
    # in fact the match is exact
    assert np.array_equal(np.round(ours * 255).astype(np.uint8), REFERENCE[case["name"]])


@pytest.mark.parametrize("name", [c["name"] for c in CASES])
def test_render_matches_release_from_txt_inputs(name: str) -> None:
    d = ASSETS / "pose_render_256_inputs"
    kp, warnings = read_openpose_txt(d / f"{name}_candidate.txt", d / f"{name}_subset.txt")
    assert warnings == []
    _check_parity(render_pose(kp, 256, 256), REFERENCE[name])


def test_render_other_sizes_and_missing_limbs() -> None:
    kp = Keypoints.from_xy(CASES[5]["keypoints_xy"])  # only the right arm
    out = render_pose(kp, 192, 112)
    assert out.shape == (20, 192, 112) and out.min() >= 0 and out.max() <= 1
    drawn = [3 + i for i in range(17) if out[3 + i].min() < 1]
    assert drawn == [5, 6]  # limbs r-shoulder/r-elbow and r-elbow/r-wrist
    assert out[:3].max() > 0


def test_render_rejects_keypoint_outside_image() -> None:
    kp = Keypoints.from_xy(CASES[0]["keypoints_xy"])
    with pytest.raises(KeypointOutsideImage, match="drop_outside"):
        render_pose(kp, 200, 200)
    assert render_pose(kp.drop_outside(200, 200), 200, 200).shape == (20, 200, 200)


def test_preview_is_colour_uint8() -> None:
    kp = Keypoints.from_xy(CASES[0]["keypoints_xy"])
    preview = render_pose_preview(kp, 256, 256)
    assert preview.shape == (256, 256, 3) and preview.dtype == np.uint8
    assert np.array_equal(preview.transpose(2, 0, 1), REFERENCE["case0"][:3])
    over = render_pose_preview(kp, 256, 256, background=np.full((256, 256, 3), 200, np.uint8))
    assert over[0, 0].tolist() == [100, 100, 100]


def test_keypoints_validation_and_helpers() -> None:
    with pytest.raises(ValueError, match=r"\(18, 3\)"):
        Keypoints(np.zeros((17, 3)))
    kp = Keypoints.from_xy(CASES[2]["keypoints_xy"])
    for ours, theirs in zip(kp.to_xy(), CASES[2]["keypoints_xy"]):
        assert (ours is None) == (theirs is None)
        assert theirs is None or ours == pytest.approx(theirs, abs=1e-4)
    assert not kp.array.flags.writeable
    shifted = kp.map_xy(lambda xy: xy + 1)
    assert np.allclose(shifted.xy[kp.present], kp.xy[kp.present] + 1)
    assert np.all(shifted.xy[~kp.present] == 0)


@pytest.mark.parametrize("case", CASES[:3], ids=lambda c: c["name"])
def test_txt_round_trip(tmp_path: Path, case: dict) -> None:
    kp = Keypoints.from_xy(case["keypoints_xy"])
    write_openpose_txt(kp, tmp_path / "a_candidate.txt", tmp_path / "a_subset.txt")
    back, warnings = read_openpose_txt(tmp_path / "a_candidate.txt", tmp_path / "a_subset.txt")
    assert back == kp and warnings == []
    # the release's own layout: subset as one column of 20 numbers
    assert np.loadtxt(tmp_path / "a_subset.txt").shape == (20,)


def test_json_round_trip_and_largest_person(tmp_path: Path) -> None:
    big = Keypoints.from_xy(CASES[0]["keypoints_xy"])
    small = big.map_xy(lambda xy: xy * 0.25)
    write_openpose_json([small, big], tmp_path / "p.json")
    back, warnings = read_openpose_json(tmp_path / "p.json")
    assert back == big
    assert len(warnings) == 1 and "2 people" in warnings[0]
    write_openpose_json(big, tmp_path / "one.json")
    assert read_openpose_json(tmp_path / "one.json") == (big, [])


def test_txt_several_people(tmp_path: Path) -> None:
    big = Keypoints.from_xy(CASES[1]["keypoints_xy"])
    small = big.map_xy(lambda xy: xy * 0.5)
    write_openpose_txt([small, big], tmp_path / "c.txt", tmp_path / "s.txt")
    back, warnings = read_openpose_txt(tmp_path / "c.txt", tmp_path / "s.txt")
    assert back == big and "largest" in warnings[0]


def test_json_body25_is_mapped_to_coco18(tmp_path: Path) -> None:
    kp = Keypoints.from_xy(CASES[0]["keypoints_xy"])
    body25 = np.zeros((25, 3))
    body25[[0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]] = kp.array
    body25[8] = (128, 170, 0.9)  # mid-hip, not in COCO-18
    body25[19:] = (5, 5, 0.8)  # feet
    people = [{"pose_keypoints_2d": body25.ravel().tolist()}]
    (tmp_path / "b.json").write_text(json.dumps({"people": people}))
    assert read_openpose_json(tmp_path / "b.json")[0] == kp


@pytest.mark.parametrize(
    "candidate, subset, message",
    [
        ("1 2 0.9 0\n", "0 5 " + "-1 " * 16 + "1 1\n", "row numbers"),
        ("1 2 0.9 0\n", "0 -1 -1\n", "18 joint indices"),
        ("not numbers\n", "0\n", "table of numbers"),
        ("1\n", "0\n", "at least x and y"),
    ],
)
def test_malformed_txt(tmp_path: Path, candidate: str, subset: str, message: str) -> None:
    (tmp_path / "c.txt").write_text(candidate)
    (tmp_path / "s.txt").write_text(subset)
    with pytest.raises(MalformedKeypointFile, match=message):
        read_openpose_txt(tmp_path / "c.txt", tmp_path / "s.txt")


@pytest.mark.parametrize(
    "text, error, message",
    [
        ("{", MalformedKeypointFile, "not valid JSON"),
        ('{"people": [{"pose_keypoints_2d": [1, 2, 3, 4, 5, 6]}]}', MalformedKeypointFile,
         "BODY_25"),
        ('{"people": [{"pose_keypoints_2d": "x"}]}', MalformedKeypointFile, "flat list"),
        ('{"people": []}', NoPersonFound, "no person"),
        ("[]", MalformedKeypointFile, "'people' list"),
    ],
)
def test_malformed_json(tmp_path: Path, text: str, error: type, message: str) -> None:
    (tmp_path / "p.json").write_text(text)
    with pytest.raises(error, match=message):
        read_openpose_json(tmp_path / "p.json")


def test_import_does_not_load_mediapipe() -> None:
    import subprocess
    import sys

    code = "import sys, dynast.semantics; sys.exit('mediapipe' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[1])
    assert result.returncode == 0
