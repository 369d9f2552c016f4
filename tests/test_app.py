"""The Gradio app as a live server on 127.0.0.1, driven through gradio_client.

Tiny random-weight checkpoints (ngf = 8) at resolution 64 keep each request well under a
second of model time; what is checked is the app's behaviour: endpoints, sizes, concurrency,
and that bad input is answered with a readable message while the server stays up.
"""
from __future__ import annotations

import io
import json
import socket
import struct
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from test_pipeline import (  # tests/ is on sys.path (rootdir-less tests)
    CONTENT,
    EX,
    FACE_REF,
    FACE_TGT,
    POSE_REF,
    POSE_TGT,
    RES,
    STYLE,
    make_tiny_checkpoints,
)

from app import AppSettings, build_app, launch



def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    root = tmp_path_factory.mktemp("ckpt")
    ckpts = make_tiny_checkpoints(root)
    settings = AppSettings(checkpoints={t: str(p) for t, p in ckpts.items()},
                           checkpoints_root=root, min_resolution=64, device="cpu")
    demo = build_app(settings)
    port = free_port()
    launch(demo, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/", demo
    finally:
        demo.close()


@pytest.fixture(scope="module")
def client(server: tuple[str, Any]) -> Client:
    return Client(server[0], verbose=False)


def _size(path: str) -> tuple[int, int]:
    with Image.open(path) as im:
        assert im.format == "PNG"
        return im.size


def _check_outputs(out: tuple[Any, ...], size: tuple[int, int]) -> None:
    image, semantics, warps, confs, timings = out
    assert _size(image) == size
    assert _size(semantics) == size
    assert len(warps) == len(confs) == 8
    kinds = [w["caption"].split("· ")[-1] for w in warps]
    assert kinds == ["dense", "dense", "inter", "inner", "inter", "inner", "inter", "inner"]
    assert all(_size(w["image"]) == size for w in warps + confs)
    assert "total" in timings and "cpu" in timings


def _style(client: Client, style: Any = STYLE, content: Any = CONTENT, **kw: Any) -> tuple[Any, ...]:
    return client.predict(handle_file(str(style)), handle_file(str(content)), resolution=RES,
                          api_name="/style", **kw)


def test_api_endpoints(client: Client) -> None:
    info = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert set(info) >= {"/pose", "/face", "/style"}
    for name, first in (("/pose", ["reference", "target"]), ("/face", ["reference", "target"]),
                        ("/style", ["style_image", "content"])):
        params = info[name]["parameters"]
        assert [p["parameter_name"] for p in params[:2]] == first
        assert all(p["parameter_has_default"] for p in params[2:]), name
        assert info[name]["returns"][0]["component"] == "Image"


def test_pose_photo(client: Client) -> None:
    out = client.predict(handle_file(str(POSE_REF)), handle_file(str(POSE_TGT)), resolution=RES,
                         api_name="/pose")
    _check_outputs(out, (RES, RES))


def test_pose_shipped_and_file(client: Client, tmp_path: Path) -> None:
    out = client.predict(handle_file(str(POSE_REF)), None, target_source="shipped pose",
                         pose_name="side_turn", resolution=RES, api_name="/pose")
    _check_outputs(out, (44, 64))  # the pose's 348x512 canvas, at 64 px
    data = json.loads((EX / "poses/walking.json").read_text())
    (tmp_path / "walk.json").write_text(json.dumps(data))
    out = client.predict(handle_file(str(POSE_REF)), None, target_source="keypoint file",
                         pose_files=[handle_file(str(tmp_path / "walk.json"))], resolution=RES,
                         api_name="/pose")
    _check_outputs(out, (RES, RES))


def test_face_photo_and_drawing(client: Client, tmp_path: Path) -> None:
    out = client.predict(handle_file(str(FACE_REF)), handle_file(str(FACE_TGT)), resolution=RES,
                         api_name="/face")
    _check_outputs(out, (RES, RES))
    import cv2

    sketch = np.full((256, 256, 3), 255, np.uint8)
    cv2.ellipse(sketch, (128, 135), (80, 100), 0, 0, 360, (0, 0, 0), 2)
    cv2.line(sketch, (100, 190), (156, 190), (0, 0, 0), 2)
    Image.fromarray(sketch).save(tmp_path / "sketch.png")
    out = client.predict(handle_file(str(FACE_REF)), handle_file(str(tmp_path / "sketch.png")),
                         target_source="uploaded line drawing", resolution=RES, api_name="/face")
    _check_outputs(out, (RES, RES))


def test_style_keeps_aspect(client: Client) -> None:
    w, h = Image.open(CONTENT).size
    out = _style(client)
    iw, ih = _size(out[0])
    assert max(iw, ih) == RES and abs(iw / ih - w / h) < 0.1


def test_twenty_concurrent_requests(client: Client) -> None:
    jobs = [client.submit(handle_file(str(STYLE)), handle_file(str(CONTENT)), resolution=RES,
                          api_name="/style") for _ in range(20)]
    results = [job.result(timeout=600) for job in jobs]
    assert len(results) == 20
    assert all(_size(r[0])[0] == RES for r in results)


# -- bad input ------------------------------------------------------------------------------

def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG file that declares ``width`` x ``height`` pixels (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16))
            + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bad")
    files = {}
    (d / "not_image.png").write_text("this is text, not an image")
    files["not_image"] = d / "not_image.png"
    raw = CONTENT.read_bytes()
    (d / "truncated.jpg").write_bytes(raw[: len(raw) // 3])
    files["truncated"] = d / "truncated.jpg"
    (d / "bomb.png").write_bytes(_png_header_only(30000, 30000))
    files["bomb"] = d / "bomb.png"
    (d / "too_many_pixels.png").write_bytes(_png_header_only(9000, 7000))
    files["too_many_pixels"] = d / "too_many_pixels.png"
    Image.new("RGB", (1, 1), (10, 20, 30)).save(d / "one_pixel.png")
    files["one_pixel"] = d / "one_pixel.png"
    Image.new("RGB", (300, 300), (255, 255, 255)).save(d / "blank.png")
    files["blank"] = d / "blank.png"
    (d / "bad.json").write_text('{"people": [{"pose_keypoints_2d": "oops"}]}')
    files["bad_json"] = d / "bad.json"
    (d / "not_json.json").write_text("{{{")
    files["not_json"] = d / "not_json.json"
    # two people side by side
    a = Image.open(POSE_TGT).convert("RGB").resize((256, 256))
    b = Image.open(EX / "pose/target/2_imper_random_pose.jpg").convert("RGB").resize((256, 256))
    two = Image.new("RGB", (512, 256))
    two.paste(a, (0, 0))
    two.paste(b, (256, 0))
    two.save(d / "two_people.jpg")
    files["two_people"] = d / "two_people.jpg"
    return files


@pytest.mark.parametrize("case, pattern", [
    ("not_image", "cannot be read as an image"),
    ("truncated", "truncated|cannot|damaged|incomplete"),
    ("bomb", "decompression bomb|enormous|limit"),
    ("too_many_pixels", "pixels"),
    ("one_pixel", "too small"),
])
def test_bad_image_files(client: Client, bad_files: dict[str, Path], case: str, pattern: str) -> None:
    with pytest.raises(AppError, match=f"(?i){pattern}"):
        _style(client, content=bad_files[case])


def test_no_person_and_no_face(client: Client, bad_files: dict[str, Path]) -> None:
    with pytest.raises(AppError, match="(?i)no person"):
        client.predict(handle_file(str(POSE_REF)), handle_file(str(CONTENT)), resolution=RES,
                       api_name="/pose")
    with pytest.raises(AppError, match="(?i)no person"):
        client.predict(handle_file(str(CONTENT)), handle_file(str(POSE_TGT)), resolution=RES,
                       api_name="/pose")
    with pytest.raises(AppError, match="(?i)face"):
        client.predict(handle_file(str(FACE_REF)), handle_file(str(CONTENT)), resolution=RES,
                       api_name="/face")


def test_several_people_warns(client: Client, bad_files: dict[str, Path]) -> None:
    out = client.predict(handle_file(str(POSE_REF)), handle_file(str(bad_files["two_people"])),
                         resolution=RES, api_name="/pose")
    assert "people" in out[4] or "faces found" in out[4], out[4]


def test_empty_sketch_and_missing_inputs(client: Client, bad_files: dict[str, Path]) -> None:
    with pytest.raises(AppError, match="(?i)no visible lines"):
        client.predict(handle_file(str(FACE_REF)), handle_file(str(bad_files["blank"])),
                       target_source="uploaded line drawing", resolution=RES, api_name="/face")
    with pytest.raises(AppError, match="(?i)drawing is empty"):
        client.predict(handle_file(str(FACE_REF)), None, target_source="drawn below",
                       resolution=RES, api_name="/face")
    with pytest.raises(AppError, match="(?i)upload a target photo"):
        client.predict(handle_file(str(POSE_REF)), None, resolution=RES, api_name="/pose")
    with pytest.raises(AppError, match="(?i)upload a style image"):
        client.predict(None, handle_file(str(CONTENT)), resolution=RES, api_name="/style")


@pytest.mark.parametrize("case", ["bad_json", "not_json"])
def test_malformed_keypoint_file(client: Client, bad_files: dict[str, Path], case: str) -> None:
    with pytest.raises(AppError, match="(?i)json|keypoint"):
        client.predict(handle_file(str(POSE_REF)), None, target_source="keypoint file",
                       pose_files=[handle_file(str(bad_files[case]))], resolution=RES,
                       api_name="/pose")


def test_bad_options(client: Client) -> None:
    for res in (100, 2048):
        with pytest.raises(AppError, match="(?i)multiple of 64|between|maximum|greater|less"):
            client.predict(handle_file(str(STYLE)), handle_file(str(CONTENT)), resolution=res,
                           api_name="/style")
    with pytest.raises(AppError, match="(?i)top-k|less than minimum"):
        client.predict(handle_file(str(STYLE)), handle_file(str(CONTENT)), resolution=RES,
                       top_k=0, api_name="/style")


@pytest.mark.parametrize("mode", ["L", "RGBA", "CMYK", "I;16", "P", "exif"])
def test_unusual_image_modes_work(client: Client, tmp_path: Path, mode: str) -> None:
    base = Image.open(CONTENT).convert("RGB")
    w, h = base.size
    if mode == "exif":
        path = tmp_path / "rotated.jpg"
        exif = Image.Exif()
        exif[0x0112] = 6  # rotate 90 degrees clockwise for display
        base.transpose(Image.Transpose.ROTATE_90).save(path, exif=exif)
        expect_landscape = w > h
    else:
        if mode == "I;16":
            arr = (np.asarray(base.convert("L"), np.uint16) * 257)
            img = Image.fromarray(arr, mode="I;16")
        elif mode == "RGBA":
            img = base.convert("RGBA")
            img.putalpha(128)
        else:
            img = base.convert(mode)
        path = tmp_path / ("img.jpg" if mode == "CMYK" else "img.png")
        img.save(path)
        expect_landscape = w > h
    out = _style(client, content=path)
    iw, ih = _size(out[0])
    assert (iw > ih) == expect_landscape


def test_huge_image_notice(client: Client, tmp_path: Path) -> None:
    big = Image.open(CONTENT).convert("RGB").resize((3000, 2400))
    big.save(tmp_path / "big.jpg", quality=70)
    out = _style(client, content=tmp_path / "big.jpg")
    assert "downscaled" in out[4]


def test_missing_checkpoint_is_explained(tmp_path: Path) -> None:
    settings = AppSettings(checkpoints_root=tmp_path, device="cpu")
    msg = settings.missing_message("pose")
    assert "no model yet" in msg and "python -m dynast.convert latest_net_G.pth" in msg
    demo = build_app(settings)
    texts = [c.get("props", {}).get("value") for c in demo.config["components"]]
    assert any(isinstance(t, str) and "no model yet" in t for t in texts)


def test_server_still_up_after_bad_input(client: Client, bad_files: dict[str, Path]) -> None:
    for case in ("not_image", "bomb", "truncated"):
        with pytest.raises(AppError):
            _style(client, content=bad_files[case])
    out = _style(client)
    assert _size(out[0])[0] == RES


def test_sketchpad_value_flattening() -> None:
    """What gr.Sketchpad hands the /face handler: an RGBA composite, transparent where
    nothing was drawn."""
    import gradio as gr

    from app.common import sketch_to_image

    blank = np.zeros((200, 200, 4), np.uint8)
    for value in (None, {"background": None, "layers": [], "composite": None},
                  {"background": None, "layers": [blank], "composite": blank}):
        with pytest.raises(gr.Error, match="drawing is empty"):
            sketch_to_image(value)
    drawn = blank.copy()
    drawn[50:150, 98:102] = (0, 0, 0, 255)  # a black stroke
    rgb = sketch_to_image({"background": None, "layers": [drawn], "composite": drawn})
    assert rgb.shape == (200, 200, 3) and rgb.dtype == np.uint8
    assert (rgb[60, 100] == 0).all() and (rgb[10, 10] == 255).all()
