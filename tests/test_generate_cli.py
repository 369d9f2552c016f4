"""``python -m dynast generate`` on real sample photos with tiny random-weight checkpoints."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dynast.inference.cli import main
from dynast.semantics import Keypoints, write_openpose_txt
from test_checkpoint_sources import Server
from test_pipeline import (
    CONTENT,
    EX,
    FACE_REF,
    FACE_TGT,
    POSE_REF,
    POSE_TGT,
    ROOT,
    STYLE,
    make_tiny_checkpoints,
)

FIXTURE = Path(__file__).parent / "fixtures/official_parity/deepfashion_ngf8_64_G.pth"


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_tiny_checkpoints(tmp_path_factory.mktemp("cli_ckpt"))


LAST_ERR: list[str] = []


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict | list]:
    """Run in-process (``--verbose``: no file-descriptor games under pytest's capture)."""
    code = main(["generate", *args, "--size", "64", "--precision", "fp32", "--json",
                 "--verbose"])
    captured = capsys.readouterr()
    LAST_ERR[:] = [captured.err]
    return code, (json.loads(captured.out) if captured.out.strip() else {})


def test_pose_photo_with_warps(ckpts: dict[str, Path], tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    code, report = _run(capsys, "--task", "pose", "--checkpoint", str(ckpts["pose"]),
                        "--reference", str(POSE_REF), "--target", str(POSE_TGT),
                        "--out", str(tmp_path / "sub" / "out.png"),
                        "--warps-dir", str(tmp_path / "warps"))
    assert code == 0 and isinstance(report, dict)
    # fitted to the training frame, the result is pasted back into the target photo's frame
    assert report["pasted"] is True
    assert Image.open(tmp_path / "sub" / "out.png").size == Image.open(POSE_TGT).size
    assert Image.open(tmp_path / "warps" / "model_output.png").size == (64, 64)
    assert Image.open(tmp_path / "warps" / "model_input.png").size == (64, 64)
    assert report["task"] == "pose" and report["resolution"] == [64, 64]
    assert set(report["timings"]) >= {"load", "semantics", "model", "total"}
    assert isinstance(report["warnings"], list)
    warps = sorted(p.name for p in (tmp_path / "warps").glob("*_warp.png"))
    assert len(warps) == 8 and warps[0].startswith("block01_level4_dense")
    assert len(list((tmp_path / "warps").glob("*_confidence.png"))) == 8


def test_pose_keypoint_files(ckpts: dict[str, Path], tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    xy = [[100 + 10 * (j % 4), 40 + 25 * j] for j in range(18)]
    write_openpose_txt(Keypoints.from_xy(xy), tmp_path / "p_candidate.txt",
                       tmp_path / "p_subset.txt")
    code, report = _run(capsys, "--task", "pose", "--checkpoint", str(ckpts["pose"]),
                        "--reference", str(POSE_REF), "--target-keypoints",
                        str(tmp_path / "p_subset.txt"), str(tmp_path / "p_candidate.txt"),
                        "--out", str(tmp_path / "kp.png"))
    assert code == 0 and isinstance(report, dict)
    w, h = Image.open(tmp_path / "kp.png").size
    assert h == 64 and w < 64  # the canvas is the joints' box, taller than wide
    shutil.copy(EX / "poses" / sorted(p.name for p in (EX / "poses").glob("*.json"))[0],
                tmp_path / "pose.json")
    code, _ = _run(capsys, "--task", "pose", "--checkpoint", str(ckpts["pose"]),
                   "--reference", str(POSE_REF), "--target-keypoints",
                   str(tmp_path / "pose.json"), "--out", str(tmp_path / "kp2.png"))
    assert code == 0 and (tmp_path / "kp2.png").is_file()


def test_face_sketch_and_style_folder(ckpts: dict[str, Path], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    sketch = next((EX / "face" / "sketch").glob("*.png"))
    code, _ = _run(capsys, "--task", "face", "--checkpoint", str(ckpts["face"]),
                   "--reference", str(FACE_REF), "--target", str(sketch),
                   "--target-kind", "sketch", "--out", str(tmp_path / "face.png"))
    assert code == 0 and (tmp_path / "face.png").is_file()

    folder = tmp_path / "contents"
    folder.mkdir()
    shutil.copy(CONTENT, folder / "a.jpg")
    Image.fromarray(np.full((90, 120, 3), 128, np.uint8)).save(folder / "b.png")
    (folder / "broken.png").write_bytes(b"not an image")
    code, reports = _run(capsys, "--task", "style", "--checkpoint", str(ckpts["style"]),
                         "--reference", str(STYLE), "--target", str(folder),
                         "--out-dir", str(tmp_path / "styled"))
    assert code == 1, "one target failed"
    assert isinstance(reports, list) and [Path(r.get("out", "-")).name for r in reports] == \
        ["a.png", "b.png", "-"]
    assert reports[2]["target"] == "broken.png" and "not a readable image" in reports[2]["error"]
    assert Image.open(tmp_path / "styled" / "b.png").size == (64, 48)  # the content's aspect
    assert "error: broken.png: " in LAST_ERR[0]


def test_authors_checkpoint_from_a_local_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DYNAST_CACHE", str(tmp_path / "cache"))
    server = Server({"/latest_net_G.pth": FIXTURE.read_bytes()}, lies=set())
    try:
        code, report = _run(capsys, "--task", "pose", "--reference", str(POSE_REF),
                            "--target", str(POSE_TGT), "--out", str(tmp_path / "o.png"),
                            "--checkpoint", server.url + "/latest_net_G.pth")
    finally:
        server.httpd.shutdown()
    assert code == 0 and isinstance(report, dict) and report["checkpoint"].startswith("url-")
    assert server.hits["/latest_net_G.pth"] == 1


@pytest.mark.parametrize("extra,message", [
    (["--checkpoint", "/no/such/checkpoint"], "'/no/such/checkpoint' does not exist"),
    (["--size", "256x250"], "multiples of 8"),
])
def test_bad_input_is_one_line_and_exit_2(extra: list[str], message: str,
                                          ckpts: dict[str, Path], tmp_path: Path) -> None:
    args = ["--task", "style", "--reference", str(STYLE), "--target", str(CONTENT),
            "--out", str(tmp_path / "x.png")]
    if "--checkpoint" not in extra:
        args += ["--checkpoint", str(ckpts["style"])]
    proc = subprocess.run([sys.executable, "-m", "dynast", "generate", *args, *extra],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
    assert not (tmp_path / "x.png").exists()


def test_fit_pastes_back_and_no_fit_does_not(ckpts: dict[str, Path], tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    face = np.asarray(Image.open(FACE_TGT).convert("RGB"))
    h, w = face.shape[:2]
    original = np.full((2 * h, 2 * w, 3), 90, np.uint8)  # the face in a larger photo
    original[h // 2:h // 2 + h, w // 4:w // 4 + w] = face
    Image.fromarray(original).save(tmp_path / "target.png")
    args = ["--task", "face", "--checkpoint", str(ckpts["face"]), "--reference", str(FACE_REF),
            "--target", str(tmp_path / "target.png")]
    code, report = _run(capsys, *args, "--out", str(tmp_path / "fit.png"))
    assert code == 0 and isinstance(report, dict) and report["pasted"] is True
    pasted = np.asarray(Image.open(tmp_path / "fit.png"))
    assert pasted.shape == original.shape  # the result in the user's photo
    assert (pasted[:4, :4] == original[:4, :4]).all()  # the corner is untouched
    code, report = _run(capsys, *args, "--no-fit", "--out", str(tmp_path / "raw.png"))
    assert code == 0 and isinstance(report, dict) and report["pasted"] is False
    assert Image.open(tmp_path / "raw.png").size == (64, 64)
