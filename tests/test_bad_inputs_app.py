"""Bad and unusual inputs through the app's API: a live server on 127.0.0.1 (test_app's
fixtures, tiny random-weight checkpoints) driven with gradio_client.

Every bad input must come back as a readable ``gr.Error`` text (``AppError`` here) that shows
no server path; unusual but valid inputs must work; and the server must answer a good
request after each case. The files come from test_bad_inputs.py.
"""
from __future__ import annotations

import re
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from test_app import ckpt_root, client, server  # noqa: F401 - the live server fixtures
from test_bad_inputs import (
    PAINTING,
    PERSON,
    _canvas_json,
    make_bad_images,
    make_keypoint_files,
    make_odd_images,
    pose_json,
    sketch_array,
    three_people,
)

ROOT = Path(__file__).resolve().parent.parent
STYLE = ROOT / "examples/style/style/1_adain_mondrian.jpg"
CONTENT = ROOT / "examples/style/content/1_adain_chicago.jpg"
POSE_REF = ROOT / "examples/pose/reference/1_fashion_woman_blouse.jpg"
FACE_REF = ROOT / "examples/face/reference/1_sean_28083.jpg"
RES = 64
POSE_NAME = sorted(p.stem for p in (ROOT / "examples/poses").glob("*.json"))[0]


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """The in-process server's tiny models gain nothing from threads; on a shared CPU two
    threads can be 40x slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("files")
    return {"bad": make_bad_images(d / "bad"), "odd": make_odd_images(d / "odd"),
            "kp": make_keypoint_files(d / "kp"), "dir": d}


def _style(client: Client, content: Path, style: Path = STYLE, **kw: Any) -> tuple:  # noqa: F811
    return client.predict(handle_file(str(style)), handle_file(str(content)), resolution=RES,
                          api_name="/style", **kw)


def _face_sketch(client: Client, sketch: Path) -> tuple:  # noqa: F811
    return client.predict(handle_file(str(FACE_REF)), None,
                          target_source="uploaded line drawing",
                          line_drawing=handle_file(str(sketch)), resolution=RES,
                          api_name="/face")


def _face_drawn(client: Client, image: Path) -> tuple:  # noqa: F811
    f = handle_file(str(image))
    return client.predict(handle_file(str(FACE_REF)), None, target_source="drawn",
                          drawing={"background": f, "layers": [], "composite": f},
                          resolution=RES, api_name="/face")


def _pose(client: Client, reference: Path, target: Path) -> tuple:  # noqa: F811
    return client.predict(handle_file(str(reference)), handle_file(str(target)), resolution=RES,
                          api_name="/pose")


def _pose_files(client: Client, paths: tuple[Path, ...]) -> tuple:  # noqa: F811
    return client.predict(handle_file(str(POSE_REF)), None, target_source="keypoint file",
                          pose_files=[handle_file(str(p)) for p in paths], resolution=RES,
                          api_name="/pose")


MAX_REFUSAL_SECONDS = 15  # bounded work: a refusal must not decode a bomb first


def refused(call: Any, pattern: str) -> str:
    """``call()`` is answered quickly with a gr.Error text matching ``pattern``, naming no
    server path."""
    t0 = time.perf_counter()
    with pytest.raises(AppError, match=f"(?i){pattern}") as info:
        call()
    seconds = time.perf_counter() - t0
    assert seconds < MAX_REFUSAL_SECONDS, f"refused only after {seconds:.0f} s"
    text = str(info.value)
    assert "/tmp" not in text and "Traceback" not in text, text
    assert "upstream Gradio app has raised an exception" not in text, text
    return text


def healthy(client: Client) -> None:  # noqa: F811
    out = _style(client, CONTENT)
    with Image.open(out[0]) as im:
        assert max(im.size) == RES


def _texts(out: tuple) -> str:
    """Every string in a response (the status line and notes among them)."""
    found: list[str] = []

    def walk(v: Any) -> None:
        if isinstance(v, str):
            found.append(v)
        elif isinstance(v, (list, tuple)):
            for x in v:
                walk(x)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)
    walk(out)
    return "\n".join(found)


BAD_IMAGE_CASES = [
    ("not_an_image", "not a readable image|cannot be read|not an image"),
    ("truncated_png", "not a readable image|truncated|cannot be read"),
    ("truncated_jpeg", "not a readable image|truncated|cannot be read"),
    ("zero_bytes", "not a readable image|empty|cannot be read"),
    ("one_pixel", "too small"),
    ("header_bomb", "enormous|pixels|limit"),
    ("bomb", "enormous|pixels|limit"),
    ("html", "not a readable image|cannot be read|not an image"),
]


@pytest.mark.parametrize("case, pattern", BAD_IMAGE_CASES, ids=[c[0] for c in BAD_IMAGE_CASES])
def test_bad_images(client: Client, files: dict, case: str, pattern: str) -> None:  # noqa: F811
    path = files["bad"][case]
    refused(lambda: _style(client, path), pattern)
    refused(lambda: _style(client, CONTENT, style=path), pattern)
    refused(lambda: _pose(client, POSE_REF, path), pattern)
    refused(lambda: _face_sketch(client, path), pattern)
    refused(lambda: _face_drawn(client, path), pattern + "|drawing")


ODD = ["float01", "exif_rotated", "ünïcødé 草图 😀"]  # fast; the rest run with -m slow
ODD_SLOW = ["gray", "rgba_transparent_background", "cmyk", "gray16", "animated", "sketch"]


@pytest.mark.parametrize("case", ODD + [pytest.param(c, marks=pytest.mark.slow) for c in ODD_SLOW])
def test_odd_images_work(client: Client, files: dict, case: str) -> None:  # noqa: F811
    path = files["odd"][case]
    out = _face_sketch(client, path)
    with Image.open(out[0]) as im:
        assert max(im.size) == RES
    out = _style(client, path)
    h, w = sketch_array().shape
    with Image.open(out[0]) as im:
        assert (im.size[0] < im.size[1]) == (w < h), "aspect kept, EXIF applied"


def test_no_person_no_face_and_blank_sketches(client: Client, files: dict) -> None:  # noqa: F811
    refused(lambda: _pose(client, POSE_REF, PAINTING), "no person")
    refused(lambda: _pose(client, PAINTING, PERSON), "no person")
    refused(lambda: client.predict(handle_file(str(FACE_REF)), handle_file(str(PAINTING)),
                                   resolution=RES, api_name="/face"), "no face")
    for value in (255, 0):
        path = files["dir"] / f"blank_{value}.png"
        Image.new("L", (200, 200), value).save(path)
        refused(lambda: _face_sketch(client, path), "no visible lines")


def test_colour_photo_as_a_line_drawing_warns(client: Client) -> None:  # noqa: F811
    from test_bad_inputs import FACE

    out = _face_sketch(client, FACE)
    assert _texts(out).count("looks like a colour photo, not a line drawing") == 1, out[4]


def test_three_people_warn(client: Client, tmp_path: Path) -> None:  # noqa: F811
    out = _pose(client, POSE_REF, three_people(tmp_path / "three.jpg"))
    assert re.search(r"3 people", _texts(out)), _texts(out)[:500]


KEYPOINT_CASES = ["nan_json", "huge_coordinate_json", "wrong_count_json", "not_json",
                  "deeply_nested_json", "no_people_json", "binary_json", "huge_integer_json",
                  "long_number_json", "empty_pair",
                  "huge_coordinate_txt", "single_column", "short_rows",
                  "swapped_pair"]


@pytest.mark.parametrize("case", KEYPOINT_CASES)
def test_bad_keypoint_files(client: Client, files: dict, case: str) -> None:  # noqa: F811
    refused(lambda: _pose_files(client, files["kp"][case]),
            "keypoint|json|person|coordinate|nested|subset|candidate|column|number|utf-8")


@pytest.mark.parametrize("height, width, pattern", [
    ("1e400", "176", "canvas_height and canvas_width must be whole numbers"),
    ("9" * 5000, "176", "number too long"),
    ("16", "16", "joints lie outside the 16x16 canvas"),
], ids=["inf", "5000_digits", "canvas_drops_every_joint"])
def test_keypoint_canvas_fields(client: Client, tmp_path: Path, height: str, width: str,  # noqa: F811
                                pattern: str) -> None:
    path = _canvas_json(tmp_path / "pose.json", height, width)
    text = refused(lambda: _pose_files(client, (path,)), pattern)
    assert "Overflow" not in text and "4300" not in text, text


def test_degenerate_keypoints(client: Client, tmp_path: Path) -> None:  # noqa: F811
    same = pose_json([(40.0, 40.0)] * 18, tmp_path / "same.json")
    try:
        out = _pose_files(client, (same,))
    except AppError as exc:  # refusing is fine, with a message (not a ZeroDivisionError)
        assert "division" not in str(exc).lower() and len(str(exc)) > 15
    else:
        with Image.open(out[0]) as im:
            assert min(im.size) > 0


@pytest.mark.parametrize("kw, pattern", [
    ({"resolution": 100}, "multiple of 64|between|less|greater"),
    ({"resolution": 100_000}, "between|maximum|less"),
    ({"resolution": 0}, "between|minimum|greater"),
    ({"top_k": 0}, "top-k|between|minimum|greater"),
    ({"top_k": 2.5}, "top-k|whole"),
], ids=["res_100", "res_huge", "res_zero", "top_k_zero", "top_k_fraction"])
def test_bad_options(client: Client, kw: dict, pattern: str) -> None:  # noqa: F811
    call = dict(resolution=RES) | kw
    with pytest.raises(AppError, match=f"(?i){pattern}"):
        client.predict(handle_file(str(STYLE)), handle_file(str(CONTENT)), api_name="/style",
                       **call)


@pytest.mark.parametrize("kw, pattern", [
    ({"resolution": "256"}, "resolution.*must be a number"),
    ({"resolution": None}, "resolution.*must be a number"),
    ({"top_k": "4"}, "top-k.*must be a number"),
    ({"top_k": None}, "top-k.*must be a number"),
    ({"resolution": [256]}, "resolution.*must be a number"),
], ids=["res_text", "res_none", "top_k_text", "top_k_none", "res_list"])
def test_option_values_of_the_wrong_type(client: Client, kw: dict, pattern: str) -> None:  # noqa: F811
    call = dict(resolution=RES) | kw
    text = refused(lambda: client.predict(handle_file(str(STYLE)), handle_file(str(CONTENT)),
                                          api_name="/style", **call), pattern)
    assert "TypeError" not in text and "float" not in text, text
    healthy(client)


def _raw_call(base: str, api_name: str, data: list[Any]) -> str:
    """POST ``data`` to the queue API without gradio_client (which would upload local paths
    itself) and return the event stream's text."""
    import json

    req = urllib.request.Request(f"{base}gradio_api/call/{api_name}",
                                 data=json.dumps({"data": data}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        event = json.load(r)["event_id"]
    with urllib.request.urlopen(f"{base}gradio_api/call/{api_name}/{event}", timeout=60) as r:
        return r.read().decode()


@pytest.mark.parametrize("path", ["/etc/passwd", str(ROOT / "pyproject.toml"), "../../etc/hosts"])
def test_hand_built_file_references_are_refused_in_words(
        server: tuple[str, Any], client: Client, path: str,  # noqa: F811
        capfd: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture) -> None:
    ref = {"path": path, "meta": {"_type": "gradio.FileData"}, "orig_name": "x.jpg"}
    capfd.readouterr()
    with caplog.at_level("INFO"):
        stream = _raw_call(server[0], "style", [ref, ref, RES, 4, "auto", "style", True,
                                                "same scale for all blocks (0-1)"])
    assert "event: error" in stream and "was named by its path on the server" in stream, stream
    assert "passwd" not in stream and "pyproject" not in stream and '"error": null' not in stream
    logged = capfd.readouterr().err + caplog.text
    assert "Traceback" not in logged and "InvalidPathError" not in logged, logged[-2000:]
    healthy(client)


def test_messages_carry_no_internals(client: Client, files: dict, tmp_path: Path) -> None:  # noqa: F811
    """No object reprs, state_dict texts or exception class names reach the user."""
    texts = [refused(lambda: _style(client, files["bad"][case]), "image")
             for case in ("not_an_image", "html", "zero_bytes", "truncated_png")]
    for text in texts:
        assert not re.search(r"object at 0x|Error\(s\) in loading|[A-Z]\w+Error\b", text), text


def test_file_routes_refuse_traversal(server: tuple[str, Any], client: Client) -> None:  # noqa: F811
    base = server[0].rstrip("/")
    for route in ("/gradio_api/file=/etc/passwd", "/gradio_api/file=../../../../etc/passwd",
                  "/gradio_api/file=%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/file=/etc/passwd",
                  f"/gradio_api/file={ROOT / 'pyproject.toml'}"):
        try:
            with urllib.request.urlopen(base + route, timeout=30) as r:
                body = r.read(4096)
        except urllib.error.HTTPError as exc:
            assert exc.code in (403, 404, 405), (route, exc.code)
            continue
        assert b"root:" not in body and b"[project]" not in body, route


def test_unicode_and_traversal_like_upload_names(client: Client, tmp_path: Path) -> None:  # noqa: F811
    odd = tmp_path / "..%2F..%2Fetc%2Fpasswd 😀 ünï.jpg"
    odd.write_bytes(CONTENT.read_bytes())
    out = _style(client, odd)
    with Image.open(out[0]) as im:
        assert max(im.size) == RES


def test_server_still_healthy_after_everything(client: Client) -> None:  # noqa: F811
    """Run last in this module: after every bad input above, good requests still work."""
    healthy(client)
    out = client.predict(handle_file(str(POSE_REF)), None, target_source="shipped pose",
                         pose_name=POSE_NAME, resolution=RES, api_name="/pose")
    with Image.open(out[0]) as im:
        assert max(im.size) == RES
