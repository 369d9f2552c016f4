"""Bad and unusual inputs through the semantics doors: the library and the command line.

Every bad input must give a :class:`SemanticsError` (a ``ValueError``) whose message says what
was wrong (library), or one line on stderr and exit status 2 (``python -m dynast.semantics``),
never a traceback, a hang or a huge allocation; unusual but valid inputs must work. After
each case the door is used again with a good input to show it is still healthy.

The files are generated here (``make_bad_images`` etc.); the model, pipeline and app doors
reuse them in test_bad_inputs_model.py and test_bad_inputs_app.py.
"""
from __future__ import annotations

import io
import json
import os
import re
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from dynast.semantics import (
    FACE_CHANNELS,
    ImageTooLarge,
    ImageTooSmall,
    InvalidKeypoints,
    InvalidSize,
    KeypointOutsideImage,
    Keypoints,
    MalformedKeypointFile,
    NoFaceFound,
    NoPersonFound,
    SemanticsError,
    UnreadableImage,
    _mediapipe,
    extract_pose,
    face_semantics_from_photo,
    face_semantics_from_sketch,
    load_image,
    parse_size,
    read_openpose_json,
    read_openpose_txt,
    render_pose,
    render_pose_preview,
    style_semantics,
)
from dynast.semantics.__main__ import main

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "tests/assets/semantics"
PERSON = ROOT / "examples/pose/target/1_imper_a_pose.jpg"
FACE = ROOT / "examples/face/target/1_sean_28613.jpg"
PAINTING = ASSETS / "painting_mondrian.jpg"
RELEASE_PAIR = (ASSETS / "pose_render_256_inputs/case0_candidate.txt",
                ASSETS / "pose_render_256_inputs/case0_subset.txt")


# -- generated files ---------------------------------------------------------------------------

def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG of a few bytes declaring ``width`` x ``height`` RGB pixels (no real data)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
            + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + _png_chunk(b"IEND", b""))


def png_bomb(side: int = 12_000) -> bytes:
    """A complete, valid gray PNG of side x side zeros (144 MB decoded, ~150 kB on disk)."""
    comp = zlib.compressobj(9)
    row = b"\x00" * (side + 1)  # filter byte + pixels
    data = b"".join(comp.compress(row) for _ in range(side)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", data)
            + _png_chunk(b"IEND", b""))


def sketch_array(height: int = 256, width: int = 224) -> np.ndarray:
    """A face drawn in dark lines on white, uint8 (H, W)."""
    img = np.full((height, width), 255, np.uint8)
    cx, cy = width // 2, height // 2
    cv2.ellipse(img, (cx, cy), (width // 3, height // 3), 0, 0, 360, 0, 2)
    for dx in (-width // 8, width // 8):
        cv2.ellipse(img, (cx + dx, cy - height // 12), (12, 6), 0, 0, 360, 0, 2)
    cv2.line(img, (cx - 20, cy + height // 6), (cx + 20, cy + height // 6), 0, 2)
    return img


def _encoded(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def make_bad_images(d: Path) -> dict[str, Path]:
    """Image files that must be refused, by case name."""
    d.mkdir(parents=True, exist_ok=True)
    sketch = Image.fromarray(sketch_array())
    png, jpeg = _encoded(sketch, "PNG"), _encoded(sketch.convert("RGB"), "JPEG", quality=90)
    files = {
        "not_an_image.png": b"this is text, not an image\n" * 10,
        "truncated_png.png": png[: len(png) // 2],
        "truncated_jpeg.jpg": jpeg[: len(jpeg) // 2],
        "zero_bytes.png": b"",
        "one_pixel.png": _encoded(Image.new("RGB", (1, 1), (9, 9, 9)), "PNG"),
        "header_bomb.png": png_header_only(30_000, 30_000),
        "bomb.png": png_bomb(),
        "html.png": b"<html><script>alert(1)</script></html>",
    }
    out = {}
    for name, data in files.items():
        (d / name).write_bytes(data)
        out[name.rsplit(".", 1)[0]] = d / name
    return out


def make_odd_images(d: Path) -> dict[str, Path]:
    """Unusual but valid images of the sketch (dark face lines on white), by case name."""
    d.mkdir(parents=True, exist_ok=True)
    gray = sketch_array()
    rgb = Image.fromarray(gray).convert("RGB")
    out: dict[str, Path] = {}

    def save(name: str, img: Image.Image, **kw: object) -> None:
        img.save(d / name, **kw)
        out[name.rsplit(".", 1)[0]] = d / name

    save("gray.png", Image.fromarray(gray))
    rgba = rgb.convert("RGBA")
    rgba.putalpha(Image.fromarray(np.where(gray < 128, 255, 0).astype(np.uint8)))
    save("rgba_transparent_background.png", rgba)  # lines opaque, the rest transparent
    save("cmyk.jpg", rgb.convert("CMYK"), quality=95)
    save("gray16.png", Image.fromarray(gray.astype(np.uint16) * 257))
    save("float01.tif", Image.fromarray(gray.astype(np.float32) / 255.0))
    exif = Image.Exif()
    exif[0x0112] = 6  # displayed rotated 90 degrees clockwise
    save("exif_rotated.jpg", rgb.transpose(Image.Transpose.ROTATE_90), exif=exif, quality=95)
    frames = [rgb, Image.new("RGB", rgb.size, (0, 0, 0))]
    save("animated.gif", frames[0], save_all=True, append_images=frames[1:], duration=100)
    save("sketch.webp", rgb, quality=95)
    save("ünïcødé 草图 😀.png", rgb)
    return out


def make_keypoint_files(d: Path) -> dict[str, tuple[Path, ...]]:
    """Bad OpenPose keypoint files (a JSON file or a candidate / subset pair), by case name."""
    d.mkdir(parents=True, exist_ok=True)
    cases: dict[str, tuple[Path, ...]] = {}

    def json_case(name: str, text: str) -> None:
        (d / f"{name}.json").write_text(text)
        cases[name] = (d / f"{name}.json",)

    def pair(name: str, candidate: str, subset: str) -> None:
        (d / f"{name}_candidate.txt").write_text(candidate)
        (d / f"{name}_subset.txt").write_text(subset)
        cases[name] = (d / f"{name}_candidate.txt", d / f"{name}_subset.txt")

    person = [50.0, 40.0, 1.0] * 18
    json_case("nan_json", json.dumps({"people": [{"pose_keypoints_2d": [float("nan")] * 54}]}))
    json_case("huge_coordinate_json", json.dumps(
        {"people": [{"pose_keypoints_2d": [1e39, 5.0, 1.0] + person[3:]}]}))
    json_case("wrong_count_json", json.dumps({"people": [{"pose_keypoints_2d": person[:21]}]}))
    json_case("not_json", "{{{ not json")
    json_case("deeply_nested_json", '{"people": ' + "[" * 100_000 + "]" * 100_000 + "}")
    json_case("no_people_json", json.dumps({"people": []}))
    json_case("huge_integer_json", '{"people": [{"pose_keypoints_2d": [' + "1" + "0" * 400
              + ", 5, 1" + ", 50, 40, 1" * 17 + "]}]}")
    json_case("long_number_json", '{"people": [{"pose_keypoints_2d": [' + "9" * 5000
              + ", 5, 1" + ", 50, 40, 1" * 17 + "]}]}")
    (d / "binary.json").write_bytes(bytes(range(256)) * 4)
    cases["binary_json"] = (d / "binary.json",)
    with open(d / "huge.json", "wb") as f:  # sparse: 20 MB of zeros that takes no disk
        f.truncate(20 * 1024 * 1024)
    cases["huge_json"] = (d / "huge.json",)
    one = "\n".join(["0"] + ["-1"] * 17 + ["1", "1"]) + "\n"
    pair("empty_pair", "", "")
    pair("huge_coordinate_txt", "1e39 5 1 0\n", one)
    pair("nan_txt", "nan 5 1 0\n", one)
    pair("single_column", "5\n6\n", one)
    pair("short_rows", "5 6 1 0\n", "0 -1 -1 -1 -1\n")
    pair("index_out_of_range", "5 6 1 0\n", one.replace("0\n", "7\n", 1))
    pair("swapped_pair", one, "5 6 1 0\n")
    return cases


def pose_json(points: list[tuple[float, float]], path: Path) -> Path:
    """Write an OpenPose JSON file with one person whose 18 joints are ``points``."""
    flat = [v for x, y in points for v in (x, y, 1.0)]
    path.write_text(json.dumps({"people": [{"pose_keypoints_2d": flat}]}))
    return path


def three_people(path: Path) -> Path:
    """Three different people side by side (one seen from the back), saved as JPEG."""
    names = [PERSON, ASSETS / "person_deepfashion_back.jpg", ASSETS / "person_internet.jpg"]
    canvas = Image.new("RGB", (600, 280), (255, 255, 255))
    for i, name in enumerate(names):
        canvas.paste(Image.open(name).convert("RGB").resize((200, 280)), (200 * i, 0))
    canvas.save(path, quality=92)
    return path


@pytest.fixture(scope="module")
def bad_images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_bad_images(tmp_path_factory.mktemp("bad"))


@pytest.fixture(scope="module")
def odd_images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_odd_images(tmp_path_factory.mktemp("odd"))


@pytest.fixture(scope="module")
def keypoint_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, ...]]:
    return make_keypoint_files(tmp_path_factory.mktemp("kp"))


@pytest.fixture()
def fifo(tmp_path: Path) -> Path:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    path = tmp_path / "pipe.png"
    os.mkfifo(path)
    return path


# -- helpers -------------------------------------------------------------------------------

def cli_refuses(argv: list[str], capsys: pytest.CaptureFixture, pattern: str) -> str:
    """Run the CLI in-process: exit 2, exactly one line on stderr matching ``pattern``."""
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse: one line, status 2 (OneLineErrorParser)
        code = exc.code
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2, (code, err)
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    assert re.search(pattern, lines[0], re.IGNORECASE), lines[0]
    return lines[0]


def cli_healthy(tmp_path: Path) -> None:
    """A good CLI call still works."""
    out = tmp_path / "healthy.npz"
    assert main(["pose", "--from-openpose", *map(str, RELEASE_PAIR), "--size", "256x256",
                 "--out", str(out)]) == 0
    assert np.load(out)["semantics"].shape == (20, 256, 256)


def library_refuses(fn: Callable[[], object], error: type[Exception], pattern: str) -> str:
    """``fn()`` raises ``error`` (a SemanticsError, hence a ValueError) matching ``pattern``."""
    assert issubclass(error, SemanticsError) and issubclass(error, ValueError)
    with pytest.raises(error, match=f"(?i){pattern}") as info:
        fn()
    message = str(info.value)
    assert len(message) > 20 and "\n" not in message
    return message


def library_healthy() -> None:
    sem, _ = face_semantics_from_sketch(sketch_array(), (64, 64))
    assert sem.shape == (FACE_CHANNELS, 64, 64)


# -- image files: refused --------------------------------------------------------------------

IMAGE_CASES = [
    ("not_an_image", UnreadableImage, "not a readable image"),
    ("truncated_png", UnreadableImage, "not a readable image|truncated"),
    ("truncated_jpeg", UnreadableImage, "not a readable image|truncated"),
    ("zero_bytes", UnreadableImage, "not a readable image"),
    ("one_pixel", ImageTooSmall, r"1x1 pixels, too small.*at least 16"),
    ("header_bomb", ImageTooLarge, "pixels|enormous"),
    ("bomb", ImageTooLarge, "pixels|enormous"),
    ("html", UnreadableImage, "not a readable image"),
]


@pytest.mark.parametrize("case, error, pattern", IMAGE_CASES, ids=[c[0] for c in IMAGE_CASES])
def test_bad_image_library(bad_images: dict[str, Path], case: str, error: type,
                           pattern: str) -> None:
    path = bad_images[case]
    for fn in (face_semantics_from_sketch, face_semantics_from_photo, extract_pose):
        message = library_refuses(lambda: fn(path), error, pattern)
        if case != "one_pixel":
            assert str(path) in message, "the message names the file"
    library_healthy()


@pytest.mark.parametrize("case, error, pattern", IMAGE_CASES, ids=[c[0] for c in IMAGE_CASES])
def test_bad_image_cli(bad_images: dict[str, Path], case: str, error: type, pattern: str,
                       tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = str(bad_images[case])
    out = str(tmp_path / "o.npz")
    cli_refuses(["face", "--from-sketch", path, "--out", out], capsys, pattern)
    cli_refuses(["pose", "--from-image", path, "--size", "256x192", "--out", out], capsys, pattern)
    assert not Path(out).exists()
    cli_healthy(tmp_path)


def test_bytes_and_pil_bombs_are_refused(bad_images: dict[str, Path]) -> None:
    library_refuses(lambda: load_image(bad_images["header_bomb"].read_bytes()), ImageTooLarge,
                    "enormous|pixels")
    library_refuses(lambda: load_image(b"\x00" * 100), UnreadableImage, "uploaded data")
    library_refuses(lambda: style_semantics(bad_images["bomb"].read_bytes()), ImageTooLarge,
                    "pixels")


def test_fifo_and_folder_are_refused_without_blocking(fifo: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    for path in (fifo, tmp_path):
        library_refuses(lambda: load_image(path), UnreadableImage, "not a regular file")
        cli_refuses(["face", "--from-sketch", str(path), "--out", str(tmp_path / "o.npz")],
                    capsys, "not a regular file")
    library_refuses(lambda: read_openpose_json(fifo), MalformedKeypointFile, "not a regular file")
    cli_refuses(["pose", "--from-openpose", str(fifo), str(fifo), "--size", "64x64", "--out",
                 str(tmp_path / "o.npz")], capsys, "not a regular file")
    library_refuses(lambda: load_image(tmp_path / "missing.png"), UnreadableImage,
                    "cannot read .*missing.png")
    cli_healthy(tmp_path)


def test_fifo_through_the_real_command_does_not_hang(fifo: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "dynast.semantics", "face", "--from-sketch", str(fifo),
         "--out", str(tmp_path / "o.npz")],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error")]
    assert len(lines) == 1 and "not a regular file" in lines[0] and "Traceback" not in proc.stderr


# -- arrays ---------------------------------------------------------------------------------

@pytest.mark.parametrize("array, pattern", [
    (np.full((32, 32, 3), np.nan, np.float32), "NaN"),
    (np.zeros((32, 32, 5), np.uint8), "shape"),
    (np.zeros((0, 0, 3), np.uint8), "empty"),
    (np.zeros((32, 32, 3), bool), "uint8, uint16 or float"),
    (np.zeros((4, 4, 4, 4), np.uint8), "shape"),
], ids=["nan", "five_channels", "empty", "bool", "4d"])
def test_bad_arrays(array: np.ndarray, pattern: str) -> None:
    library_refuses(lambda: load_image(array), UnreadableImage, pattern)
    library_refuses(lambda: style_semantics(array), UnreadableImage, pattern)
    library_healthy()


def test_wrong_source_type() -> None:
    library_refuses(lambda: load_image(12345), UnreadableImage, "cannot load an image from a int")


# -- unusual but valid images ---------------------------------------------------------------

@pytest.mark.parametrize("case", ["gray", "rgba_transparent_background", "cmyk", "gray16",
                                  "float01", "exif_rotated", "animated", "sketch", "unicode"])
def test_odd_images_load_correctly(odd_images: dict[str, Path], case: str,
                                   tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = odd_images["ünïcødé 草图 😀" if case == "unicode" else case]
    rgb = load_image(path)
    expected = sketch_array()
    assert rgb.shape == (*expected.shape, 3) and rgb.dtype == np.uint8
    # the same picture, up to JPEG / WebP loss: lines dark, background white (not black)
    diff = np.abs(rgb.mean(axis=2) - expected.astype(np.float64))
    assert diff.mean() < 12, f"{case}: mean difference {diff.mean():.1f}"
    assert rgb[5, 5].min() > 200, f"{case}: the background should be white, got {rgb[5, 5]}"
    sem, _ = face_semantics_from_sketch(path, (64, 56))
    assert sem.shape == (FACE_CHANNELS, 64, 56) and sem[0].sum() > 20
    # the command line, writing next to the unicode name
    out = tmp_path / f"{path.stem}.npz"
    assert main(["face", "--from-sketch", str(path), "--size", "64x56", "--out", str(out)]) == 0
    assert np.load(out)["semantics"].shape == (FACE_CHANNELS, 64, 56)


def test_float_tiff_outside_unit_range_is_0_255() -> None:
    img = Image.fromarray(np.full((32, 32), 200.0, np.float32))
    assert load_image(img)[0, 0, 0] == 200
    nan = Image.fromarray(np.full((32, 32), np.nan, np.float32))
    library_refuses(lambda: load_image(nan), UnreadableImage, "NaN")


# -- people and faces -----------------------------------------------------------------------

def test_no_person(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    library_refuses(lambda: extract_pose(PAINTING), NoPersonFound, "no person found")
    cli_refuses(["pose", "--from-image", str(PAINTING), "--out", str(tmp_path / "o.npz")],
                capsys, "no person found")
    cli_healthy(tmp_path)


def test_no_face(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    library_refuses(lambda: face_semantics_from_photo(PAINTING, (64, 64)), NoFaceFound,
                    "no face found")
    cli_refuses(["face", "--from-image", str(PAINTING), "--out", str(tmp_path / "o.npz")],
                capsys, "no face found")
    cli_healthy(tmp_path)


def test_three_people_warn_even_without_faces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture) -> None:
    photo = three_people(tmp_path / "three.jpg")
    monkeypatch.setattr(_mediapipe, "run_face_detection", lambda rgb: [])  # no face is found
    kp, warnings = extract_pose(photo)
    assert kp.count() >= 10
    assert any("3 people" in w for w in warnings), warnings
    xs = kp.xy[kp.present, 0]
    assert np.ptp(xs) < 200, "the keypoints are of one person, not spread over several"
    out = tmp_path / "three.npz"
    assert main(["pose", "--from-image", str(photo), "--out", str(out)]) == 0
    assert "3 people" in capsys.readouterr().err


def test_one_person_gives_no_people_warning() -> None:
    _, warnings = extract_pose(PERSON)
    assert not any("people" in w for w in warnings), warnings


@pytest.mark.parametrize("value", [255, 0, 128], ids=["blank_white", "black", "gray"])
def test_blank_and_black_sketches(value: int, tmp_path: Path,
                                  capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "blank.png"
    Image.new("L", (200, 200), value).save(path)
    library_refuses(lambda: face_semantics_from_sketch(path), NoFaceFound, "no visible lines")
    cli_refuses(["face", "--from-sketch", str(path), "--out", str(tmp_path / "o.npz")], capsys,
                "no visible lines")
    cli_healthy(tmp_path)


def test_colour_photo_as_a_line_drawing_warns() -> None:
    photo = load_image(FACE)
    _, warnings = face_semantics_from_sketch(photo, (64, 64))
    assert any("looks like a colour photo, not a line drawing" in w for w in warnings), warnings
    red_ink = np.repeat(sketch_array()[..., None], 3, axis=2)
    red_ink[sketch_array() < 128] = (200, 30, 30)  # a drawing in red pen is still a drawing
    for drawing in (sketch_array(), red_ink):
        _, warnings = face_semantics_from_sketch(drawing, (64, 64))
        assert not any("colour photo" in w for w in warnings), warnings


# -- keypoints ------------------------------------------------------------------------------

KEYPOINT_CASES = [
    ("nan_json", MalformedKeypointFile, "NaN"),
    ("huge_coordinate_json", MalformedKeypointFile, r"coordinate of 1e\+39"),
    ("wrong_count_json", MalformedKeypointFile, "7 keypoints"),
    ("not_json", MalformedKeypointFile, "not valid JSON"),
    ("deeply_nested_json", MalformedKeypointFile, "nested too deeply"),
    ("no_people_json", NoPersonFound, "no person"),
    ("huge_integer_json", MalformedKeypointFile, "x, y, c numbers of ordinary size"),
    ("long_number_json", MalformedKeypointFile, "number too long"),
    ("binary_json", MalformedKeypointFile, "not a UTF-8"),
    ("huge_json", MalformedKeypointFile, "over the limit"),
    ("empty_pair", NoPersonFound, "is empty"),
    ("huge_coordinate_txt", MalformedKeypointFile, r"coordinate of 1e\+39"),
    ("nan_txt", MalformedKeypointFile, "NaN"),
    ("single_column", MalformedKeypointFile, "at least x and y"),
    ("short_rows", MalformedKeypointFile, "18 joint indices"),
    ("index_out_of_range", MalformedKeypointFile, "joint indices"),
    ("swapped_pair", MalformedKeypointFile, "swap"),
]


@pytest.mark.parametrize("case, error, pattern", KEYPOINT_CASES, ids=[c[0] for c in KEYPOINT_CASES])
def test_bad_keypoint_files(keypoint_files: dict[str, tuple[Path, ...]], case: str, error: type,
                            pattern: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    files = keypoint_files[case]
    reader = read_openpose_json if len(files) == 1 else read_openpose_txt
    message = library_refuses(lambda: reader(*files), error, pattern)
    assert any(str(f) in message for f in files), "the message names the file"
    if len(files) == 2:
        line = cli_refuses(["pose", "--from-openpose", *map(str, files), "--size", "256x256",
                            "--out", str(tmp_path / "o.npz")], capsys, pattern)
        assert any(str(f) in line for f in files)
    cli_healthy(tmp_path)


def test_keypoints_outside_negative_and_identical(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    same = pose_json([(40.0, 40.0)] * 18, tmp_path / "same.json")
    kp, _ = read_openpose_json(same)
    sem = render_pose(kp, 64, 64)  # 18 identical joints: degenerate limbs, still drawable
    assert sem.shape == (20, 64, 64) and np.isfinite(sem).all()
    negative = Keypoints.from_xy([(-5.0, -7.0)] + [(10.0, 10.0)] * 17)
    library_refuses(lambda: render_pose(negative, 64, 64), KeypointOutsideImage, "outside")
    outside = Keypoints.from_xy([(10_000.0, 20.0)] + [None] * 17)
    library_refuses(lambda: render_pose(outside, 64, 64), KeypointOutsideImage, "outside")
    assert render_pose(outside.drop_outside(64, 64), 64, 64).shape == (20, 64, 64)
    # the same through the command line: negative coordinates in a candidate file
    (tmp_path / "n_candidate.txt").write_text("-5 -7 1 0\n10 10 1 1\n")
    (tmp_path / "n_subset.txt").write_text(
        "\n".join(["0", "1"] + ["-1"] * 16 + ["2", "2"]) + "\n")
    cli_refuses(["pose", "--from-openpose", str(tmp_path / "n_candidate.txt"),
                 str(tmp_path / "n_subset.txt"), "--size", "64x64", "--out",
                 str(tmp_path / "o.npz")], capsys, "outside")
    cli_healthy(tmp_path)


@pytest.mark.parametrize("array, pattern", [
    (np.column_stack([np.full((18, 2), np.nan), np.ones(18)]), "non-finite"),
    (np.column_stack([np.full((18, 2), 1e39), np.ones(18)]), "non-finite"),
    (np.zeros((17, 3)), r"\(18, 3\)"),
    (np.zeros((18, 2)), r"\(18, 3\)"),
    ([["a", "b", "c"]] * 18, "numbers"),
], ids=["nan", "beyond_float32", "17_joints", "two_columns", "strings"])
def test_bad_keypoint_arrays(array: object, pattern: str) -> None:
    library_refuses(lambda: Keypoints(array), InvalidKeypoints, pattern)


def test_preview_background_of_the_wrong_size() -> None:
    kp = Keypoints.from_xy([(10.0, 10.0)] * 18)
    library_refuses(lambda: render_pose_preview(kp, 64, 64, background=np.zeros((32, 32, 3),
                                                                                np.uint8)),
                    InvalidSize, "background must be")


# -- sizes ----------------------------------------------------------------------------------

@pytest.mark.parametrize("size, pattern", [
    ("40000x40000", "too large"),
    ("4096x4096", "too large"),
    ("8x100000", "too large"),
    ("100x100", "multiples of 8"),
    ("0x0", "positive"),
    ("-8x8", "positive|HxW|expected one argument"),
    ("256", "HxW"),
    ("256x256x3", "HxW"),
    ("1e3x8", "HxW"),
    ("9" * 40 + "x8", "HxW"),
], ids=["40000", "4096sq", "long_side", "not_multiple_of_8", "zero", "negative", "one_number",
        "three_numbers", "float", "forty_digits"])
def test_bad_sizes(size: str, pattern: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    library_refuses(lambda: parse_size(size), InvalidSize, pattern)
    out = str(tmp_path / "o.npz")
    cli_refuses(["face", "--from-sketch", str(FACE), "--size", size, "--out", out], capsys, pattern)
    cli_refuses(["pose", "--from-openpose", *map(str, RELEASE_PAIR), "--size", size,
                 "--out", out], capsys, pattern)
    cli_healthy(tmp_path)


@pytest.mark.parametrize("size", [(40000, 40000), (4096, 4096), (100, 100), (0, 64), (64.0, 64)],
                         ids=["40000", "4096sq", "not_multiple_of_8", "zero", "float"])
def test_bad_sizes_in_functions(size: tuple, tmp_path: Path) -> None:
    sketch = sketch_array()
    library_refuses(lambda: face_semantics_from_sketch(sketch, size), InvalidSize, "size")
    library_refuses(lambda: face_semantics_from_photo(FACE, size), InvalidSize, "size")
    library_refuses(lambda: style_semantics(sketch, size), InvalidSize, "size")
    kp = Keypoints.empty()
    if size != (100, 100):  # render_pose draws at any bounded size
        library_refuses(lambda: render_pose(kp, *size), InvalidSize, "size")
        library_refuses(lambda: render_pose_preview(kp, *size), InvalidSize, "size")
    library_healthy()


def test_the_reported_40000_case_through_the_real_command(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "dynast.semantics", "face", "--from-image", str(FACE), "--size",
         "40000x40000", "--out", str(tmp_path / "o.npz")],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )
    assert proc.returncode == 2 and "too large" in proc.stderr and "Traceback" not in proc.stderr


def test_large_image_without_size_is_capped(tmp_path: Path) -> None:
    wide = np.full((64, 6000, 3), 255, np.uint8)
    cv2.line(wide, (100, 10), (5900, 50), (0, 0, 0), 3)
    sem, warnings = face_semantics_from_sketch(wide)
    assert sem.shape[2] <= 4096 and sem.shape[1] * sem.shape[2] <= 2048 * 2048
    assert any("limit" in w for w in warnings)
    assert style_semantics(wide).shape[2] <= 4096


# -- output paths and usage -------------------------------------------------------------------

def test_out_into_a_missing_folder_is_created(tmp_path: Path) -> None:
    out = tmp_path / "does" / "not" / "exist" / "o.npz"
    assert main(["pose", "--from-openpose", *map(str, RELEASE_PAIR), "--size", "256x256",
                 "--out", str(out)]) == 0
    assert out.is_file()


def test_out_under_a_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "a_file").write_text("x")
    cli_refuses(["pose", "--from-openpose", *map(str, RELEASE_PAIR), "--size", "256x256",
                 "--out", str(tmp_path / "a_file" / "o.npz")], capsys, "cannot write")
    cli_healthy(tmp_path)


@pytest.mark.parametrize("argv, pattern", [
    (["face", "--from-sketch", "a.png", "b.png", "--out", "o.npz"], "one input"),
    (["face", "--out", "o.npz"], "required"),
    (["pose", "--from-openpose", "a.txt", "b.txt", "--out", "o.npz"], "needs --size"),
    (["cartoon", "--from-image", "a.png"], "invalid choice"),
    (["face", "--from-sketch", "a.png", "--out", "o.npz", "--unknown"], "unrecognized"),
    ([], "required"),
], ids=["two_inputs_one_out", "no_input", "openpose_no_size", "unknown_kind", "unknown_option",
        "nothing"])
def test_usage_errors_are_one_line(argv: list[str], pattern: str, tmp_path: Path,
                                   capsys: pytest.CaptureFixture) -> None:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse exits (status 2) after printing its one line
        code = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and pattern in err[0], err
    cli_healthy(tmp_path)


def test_traversal_names_stay_in_the_output_folder(tmp_path: Path) -> None:
    inner = tmp_path / "in" / "sub"
    inner.mkdir(parents=True)
    Image.fromarray(sketch_array()).save(tmp_path / "in" / "..evil.png")
    path = inner / ".." / "..evil.png"  # a name with dots, reached through ".."
    out_dir = tmp_path / "out"
    assert main(["face", "--from-sketch", str(path), "--size", "64x64", "--out-dir",
                 str(out_dir)]) == 0
    assert [p.name for p in out_dir.iterdir()] == ["..evil.npz"]


# -- fitting photos to the training frame (dynast.semantics.framing) ---------------------------

@pytest.mark.parametrize("case, pattern", [
    ("not_an_image", "not a readable image"),
    ("bomb", "enormous|pixels"),
    ("one_pixel", "too small|no face"),
    ("painting_person", "no person"),
    ("painting_face", "no face"),
    ("huge_size", "too large"),
    ("unknown_extension", "out"),
], ids=["not_an_image", "bomb", "one_pixel", "painting_person", "painting_face", "huge_size",
        "unknown_extension"])
def test_fit_cli_refuses(case: str, pattern: str, bad_images: dict[str, Path], tmp_path: Path,
                         capsys: pytest.CaptureFixture) -> None:
    what, image, extra, out = "face", FACE, [], tmp_path / "fitted.png"
    if case in bad_images:
        image = bad_images[case]
    elif case.startswith("painting"):
        what, image = case.split("_")[1], PAINTING
    elif case == "huge_size":
        extra = ["--size", "40000x40000"]
    elif case == "unknown_extension":
        out = tmp_path / "fitted.xyz"
    cli_refuses(["fit", what, "--from-image", str(image), *extra, "--out", str(out)], capsys,
                pattern)
    assert not out.exists()
    cli_healthy(tmp_path)


def test_fit_person_three_people_warns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dynast.semantics.framing import fit_person

    photo = three_people(tmp_path / "three.jpg")
    monkeypatch.setattr(_mediapipe, "run_face_detection", lambda rgb: [])  # no face is found
    framed = fit_person(load_image(photo))
    assert any("3 people" in w or "several people" in w for w in framed.warnings), framed.warnings


# -- the outside probe's doors: keypoint canvases, generate, convert, train, configs ----------

def _canvas_json(path: Path, height: object, width: object) -> Path:
    """A pose JSON file (joints at 40..130 px) whose canvas fields are given as text."""
    flat = ", ".join(f"{40 + 5 * j}, {60 + 4 * j}, 1" for j in range(18))
    path.write_text(f'{{"people": [{{"pose_keypoints_2d": [{flat}]}}], '
                    f'"canvas_height": {height}, "canvas_width": {width}}}')
    return path


@pytest.mark.parametrize("height, width, error, pattern", [
    ("1e400", "176", MalformedKeypointFile, "canvas_height and canvas_width must be whole"),
    ("1" + "0" * 400, "176", MalformedKeypointFile, "canvas_height and canvas_width must be"),
    ("9" * 5000, "176", MalformedKeypointFile, "number too long"),
    ("256.5", "176", MalformedKeypointFile, "whole numbers of pixels"),
    ("16", "16", KeypointOutsideImage, r"18 joints lie outside the 16x16 canvas"),
], ids=["inf", "huge_integer", "5000_digits", "fraction", "canvas_drops_every_joint"])
def test_keypoint_canvas_fields(height: str, width: str, error: type, pattern: str,
                                tmp_path: Path) -> None:
    from dynast.tasks import pose_target_from_file

    path = _canvas_json(tmp_path / "pose.json", height, width)
    message = library_refuses(lambda: pose_target_from_file(path), error, pattern)
    assert str(path) in message or "canvas" in message
    target, _ = pose_target_from_file(_canvas_json(tmp_path / "ok.json", 256, 176))
    assert target.size == (256, 176) and target.keypoints.count() == 18


def generate_refuses(argv: list[str], capsys: pytest.CaptureFixture, pattern: str) -> str:
    """``python -m dynast generate ...`` in-process: exit 2 and one line matching ``pattern``."""
    from dynast.inference.cli import main as dynast_main

    capsys.readouterr()
    code = dynast_main(argv)
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (code, lines)
    assert re.search(pattern, lines[0], re.IGNORECASE), lines[0]
    assert "Traceback" not in lines[0] and "RuntimeError" not in lines[0]
    return lines[0]


def _cuda_present() -> bool:
    import torch

    return torch.cuda.is_available()


# "cuda" is refused only where there is no GPU (elsewhere it is a device that exists)
DEVICES = ["foo", "cuda:99", "meta", "cpu:x"] + ([] if _cuda_present() else ["cuda"])


@pytest.mark.parametrize("device", DEVICES)
def test_generate_unknown_device_names_the_devices(device: str, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    line = generate_refuses(["generate", "--task", "pose", "--reference", str(PERSON),
                             "--target-keypoints", *map(str, RELEASE_PAIR), "--device", device,
                             "--out", str(tmp_path / "o.png")], capsys, "not available")
    assert "use one of: cpu" in line


@pytest.mark.parametrize("size", ["²⁵⁶", "9" * 5000, "256x٢٥٦", "1e3"],
                         ids=["superscript", "5000_nines", "arabic_indic", "exponent"])
def test_generate_size_in_other_digits(size: str, tmp_path: Path,
                                       capsys: pytest.CaptureFixture) -> None:
    line = generate_refuses(["generate", "--task", "pose", "--reference", str(PERSON),
                             "--target-keypoints", *map(str, RELEASE_PAIR), "--size", size,
                             "--out", str(tmp_path / "o.png")], capsys, "digits 0-9")
    assert len(line) < 200


AUTHORS_PTH = ROOT / "tests/fixtures/official_parity/deepfashion_ngf8_64_G.pth"


def _authors_state() -> dict:
    import torch

    return torch.load(AUTHORS_PTH, map_location="cpu", weights_only=True)


def _broken_state(case: str) -> dict:
    import torch

    state = _authors_state()
    if case == "integer_keys":
        state[7] = torch.zeros(1)
    elif case == "pos_embed_0d":
        state["pos_embed"] = torch.tensor(1.0)
    elif case == "pos_embed_2d":
        state["pos_embed"] = torch.zeros(16, 16)
    elif case == "missing_layer":
        state = {k: v for k, v in state.items() if not k.startswith("encoder_q.layer4.")}
    elif case == "missing_block":
        state = {k: v for k, v in state.items() if not k.startswith("transformer_2.")}
    elif case == "zero_width":
        state["encoder_q.layer1.0.weight_orig"] = torch.zeros(0, 20, 3, 3)
    elif case == "nan_weights":
        state["transformer_1.0.res_block.relu.weight"] = torch.full_like(
            state["transformer_1.0.res_block.relu.weight"], float("nan"))
    return state


CONVERT_CASES = [
    ("integer_keys", "tensor names must be text"),
    ("pos_embed_0d", r"pos_embed is \(\), expected 4"),
    ("pos_embed_2d", r"pos_embed is \(16, 16\), expected 4"),
    ("missing_layer", r"missing \['encoder_q.layer4.0.weight_orig'\]"),
    ("missing_block", r"missing keys \(\d+\): \['levels.level2"),
    ("zero_width", r"is \(0, 20, 3, 3\), expected 4 non-zero"),
    ("nan_weights", "NaN or infinite values.*damaged"),
]


@pytest.mark.parametrize("case, pattern", CONVERT_CASES, ids=[c[0] for c in CONVERT_CASES])
def test_convert_malformed_state_dicts(case: str, pattern: str, tmp_path: Path,
                                       capsys: pytest.CaptureFixture) -> None:
    import torch

    from dynast.convert import main as convert_main

    torch.save(_broken_state(case), tmp_path / "broken.pth")
    capsys.readouterr()
    assert convert_main([str(tmp_path / "broken.pth"), str(tmp_path / "out")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and re.search(pattern, lines[0]), lines
    assert "PReLU" not in lines[0] and not (tmp_path / "out").exists()


def test_convert_onto_a_file_and_from_a_fifo(fifo: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture) -> None:
    from dynast.convert import main as convert_main

    (tmp_path / "taken").write_text("a file")
    capsys.readouterr()
    assert convert_main([str(AUTHORS_PTH), str(tmp_path / "taken")]) == 2
    assert "taken exists and is not a folder" in capsys.readouterr().err
    result = subprocess.run([sys.executable, "-m", "dynast.convert", str(fifo),
                             str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and lines == [f"error: {fifo} is not a regular file (a folder, "
                                                "pipe or device); pass a file"], result.stderr
    assert convert_main([str(AUTHORS_PTH), str(tmp_path / "good")]) == 0


def train_refuses(argv: list[str], capsys: pytest.CaptureFixture, pattern: str) -> str:
    """``python -m train ...`` in-process: exit 2 and one line matching ``pattern``."""
    from train.cli import main as train_main

    capsys.readouterr()
    code = train_main(argv)
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (code, lines)
    assert re.search(pattern, lines[0]), lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny model's training checkpoints (good and broken) and save_pretrained folders."""
    import torch

    from conftest import tiny_config
    from dynast import DynaST
    from train.checkpoint import save_atomic

    d = tmp_path_factory.mktemp("run")
    model = DynaST(tiny_config())
    config = model.config.to_dict()
    save_atomic({"generator": model.state_dict(), "model_config": config}, d / "good.pt")
    save_atomic({"model_config": config}, d / "no_generator.pt")
    save_atomic({}, d / "empty.pt")
    torch.save([1, 2, 3], d / "list.pt")
    wrong = dict(model.state_dict())
    wrong.pop("pos_embed")
    save_atomic({"generator": wrong, "model_config": config}, d / "missing_tensor.pt")
    model.save_pretrained(d / "model")
    (d / "list_config").mkdir()
    (d / "list_config/config.json").write_text("[]")
    (d / "list_config/model.safetensors").write_bytes((d / "model/model.safetensors").read_bytes())
    (d / "a_file").write_text("taken")
    return {p.stem: p for p in d.iterdir()}


@pytest.mark.parametrize("case, out, pattern", [
    ("no_generator", "out", "holds no generator weights"),
    ("empty", "out", "no usable generator config"),
    ("list", "out", "not a training checkpoint"),
    ("missing_tensor", "out", "1 tensor.s. missing: pos_embed"),
    ("good", "a_file", "a_file exists and is not a folder"),
    ("absent", "out", "no training checkpoint at"),
])
def test_train_export_refuses(tiny_run: dict[str, Path], case: str, out: str, pattern: str,
                              tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    target = tiny_run.get(out, tmp_path / out)
    source = tiny_run.get(case, tmp_path / "absent.pt")
    train_refuses(["export", "--checkpoint", str(source), "--out", str(target)], capsys, pattern)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("case, pattern", [
    ("missing", "cannot read .*nope.yaml: No such file"),
    ("malformed", "not a readable YAML file"),
    ("list", "must hold a mapping of sections"),
    ("dev_zero", "/dev/zero is not a regular file"),
    ("fifo", "is not a regular file"),
    ("ngf_1e9", "ngf must be at most 256"),
    ("n_layers_1e5", "n_layers must be at most 16"),
    ("one_image", "1 usable samples, fewer than one global batch"),
])
def test_train_fit_refuses(case: str, pattern: str, fifo: Path, tmp_path: Path,
                           capsys: pytest.CaptureFixture) -> None:
    faces = ROOT / "tests/assets/train/faces"
    config, extra = str(ROOT / "train/configs/face_smoke.yaml"), []
    (tmp_path / "bad.yaml").write_text("task: [unclosed\n")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    config = {"missing": str(tmp_path / "nope.yaml"), "malformed": str(tmp_path / "bad.yaml"),
              "list": str(tmp_path / "list.yaml"), "dev_zero": "/dev/zero",
              "fifo": str(fifo)}.get(case, config)
    extra = {"ngf_1e9": ["model.ngf=1000000000"],
             "n_layers_1e5": ["model.extra={n_layers: 100000}"]}.get(case, [])
    data = faces
    if case == "one_image":
        data = tmp_path / "one"
        data.mkdir()
        (data / "face.jpg").write_bytes(sorted(faces.rglob("*.jpg"))[0].read_bytes())
        extra = ["data.size=32", "model.ngf=4", "run.device=cpu", "data.workers=0",
                 "run.progress=false", "run.tensorboard=false", "run.threads=1",
                 f"data.cache_dir={tmp_path / 'cache'}"]
    train_refuses(["fit", "--config", config, "--data", str(data), "--out",
                   str(tmp_path / "run"), *extra], capsys, pattern)


@pytest.mark.parametrize("case, flags, pattern", [
    ("absent", [], "cannot evaluate .*absent.*neither a directory"),
    ("model", ["--size", "7"], "--size must be a multiple of 8"),
    ("model", ["--batch-size", "0"], "--batch-size must be at least 1"),
    ("list_config", [], "config.json is not a valid DynaST config.*got list"),
    ("model", ["--device", "cuda:99"], "device 'cuda:99' is not available"),
], ids=["missing_checkpoint", "size_7", "batch_size_0", "list_config", "device"])
def test_train_evaluate_refuses(tiny_run: dict[str, Path], case: str, flags: list[str],
                                pattern: str, tmp_path: Path,
                                capsys: pytest.CaptureFixture) -> None:
    checkpoint = tiny_run.get(case, tmp_path / "absent")
    train_refuses(["evaluate", "--task", "face", "--checkpoint", str(checkpoint), "--data",
                   str(ROOT / "tests/assets/train/faces"), "--size", "32", "--out",
                   str(tmp_path / "r.json"), *flags], capsys, pattern)
    assert not (tmp_path / "r.json").exists()
