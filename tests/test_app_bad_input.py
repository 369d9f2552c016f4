"""Bad input through the app's API: a readable message naming no server path, one log
line, and a server that stays up. Includes the drawing input (the sketchpad)."""
from __future__ import annotations

import logging
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from test_app import ckpt_root, client, server  # noqa: F401 - the live server fixtures
from test_pipeline import CONTENT, EX, FACE_REF, POSE_REF, POSE_TGT, RES, STYLE


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG file that declares ``width`` x ``height`` pixels (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def bad(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bad")
    files = {"not_image": d / "not_image.png", "truncated": d / "truncated.jpg",
             "bomb": d / "bomb.png", "one_pixel": d / "one_pixel.png", "blank": d / "blank.png",
             "bad_json": d / "bad.json", "not_json": d / "not_json.json"}
    files["not_image"].write_text("this is text, not an image")
    raw = CONTENT.read_bytes()
    files["truncated"].write_bytes(raw[: len(raw) // 3])
    files["bomb"].write_bytes(_png_header_only(30000, 30000))
    from PIL import Image

    Image.new("RGB", (1, 1), (10, 20, 30)).save(files["one_pixel"])
    Image.new("RGB", (300, 300), (255, 255, 255)).save(files["blank"])
    files["bad_json"].write_text('{"people": [{"pose_keypoints_2d": "oops"}]}')
    files["not_json"].write_text("{{{")
    return files


def _style(client: Client, content: Any) -> Any:  # noqa: F811
    return client.predict(handle_file(str(STYLE)), handle_file(str(content)), resolution=RES,
                          api_name="/style")


def _no_paths(exc: pytest.ExceptionInfo[AppError]) -> None:
    text = str(exc.value)
    assert "/tmp" not in text and "gradio" not in text.lower(), text


@pytest.mark.parametrize("case, pattern", [
    ("not_image", "cannot be read as an image|not an image|unreadable|cannot identify"),
    ("truncated", "truncated|cannot|damaged|incomplete"),
    ("bomb", "decompression bomb|enormous|limit|pixels"),
    ("one_pixel", "too small"),
])
def test_bad_image_files(client: Client, bad: dict[str, Path], case: str,  # noqa: F811
                         pattern: str) -> None:
    with pytest.raises(AppError, match=f"(?i){pattern}") as exc:
        _style(client, bad[case])
    _no_paths(exc)


@pytest.mark.parametrize("case", ["bomb", "not_image"])
def test_drawing_input_bad_file(client: Client, bad: dict[str, Path], case: str  # noqa: F811
                                ) -> None:
    f = handle_file(str(bad[case]))
    with pytest.raises(AppError, match="(?i)drawing|image|pixels") as exc:
        client.predict(handle_file(str(FACE_REF)), None, target_source="drawn",
                       drawing={"background": f, "layers": [], "composite": f},
                       resolution=RES, api_name="/face")
    _no_paths(exc)
    assert "upstream" not in str(exc.value)


def test_no_person_no_face_blank_drawing(client: Client, bad: dict[str, Path]  # noqa: F811
                                         ) -> None:
    with pytest.raises(AppError, match="(?i)no person"):
        client.predict(handle_file(str(POSE_REF)), handle_file(str(CONTENT)), resolution=RES,
                       api_name="/pose")
    with pytest.raises(AppError, match="(?i)face"):
        client.predict(handle_file(str(FACE_REF)), handle_file(str(CONTENT)), resolution=RES,
                       api_name="/face")
    with pytest.raises(AppError, match="(?i)no visible lines|empty|blank"):
        client.predict(handle_file(str(FACE_REF)), None, target_source="uploaded line drawing",
                       line_drawing=handle_file(str(bad["blank"])), resolution=RES,
                       api_name="/face")
    with pytest.raises(AppError, match="(?i)upload a target photo"):
        client.predict(handle_file(str(POSE_REF)), None, resolution=RES, api_name="/pose")
    with pytest.raises(AppError, match="(?i)upload a style image"):
        client.predict(None, handle_file(str(CONTENT)), resolution=RES, api_name="/style")


@pytest.mark.parametrize("case", ["bad_json", "not_json"])
def test_malformed_keypoint_file(client: Client, bad: dict[str, Path], case: str  # noqa: F811
                                 ) -> None:
    with pytest.raises(AppError, match="(?i)json|keypoint") as exc:
        client.predict(handle_file(str(POSE_REF)), None, target_source="keypoint file",
                       pose_files=[handle_file(str(bad[case]))], resolution=RES,
                       api_name="/pose")
    _no_paths(exc)


def test_bad_options_and_checkpoint(client: Client) -> None:  # noqa: F811
    for res in (100, 2048):
        with pytest.raises(AppError, match="(?i)multiple of 64|between|maximum|greater|less"):
            client.predict(handle_file(str(STYLE)), handle_file(str(CONTENT)), resolution=res,
                           api_name="/style")
    with pytest.raises(AppError, match="(?i)top-k|less than minimum"):
        client.predict(handle_file(str(STYLE)), handle_file(str(CONTENT)), resolution=RES,
                       top_k=0, api_name="/style")
    with pytest.raises(AppError, match="(?i)checkpoint|choice|not in"):
        client.predict(handle_file(str(STYLE)), handle_file(str(CONTENT)), resolution=RES,
                       checkpoint="/etc", api_name="/style")


def test_user_errors_log_one_line(caplog: pytest.LogCaptureFixture) -> None:
    import gradio as gr

    from app.errors import user_errors

    @user_errors
    def refuses(x: int) -> int:
        raise ValueError(f"bad input in /tmp/gradio/abc123/{x}.png: upload another")

    @user_errors
    def breaks(x: int) -> int:
        raise RuntimeError("a real fault")

    with caplog.at_level(logging.INFO, logger="dynast.app"):
        with pytest.raises(gr.Error) as exc:
            refuses(7)
        assert "/tmp" not in exc.value.message and "7.png" in exc.value.message
        assert [r.exc_info for r in caplog.records] == [None]
        caplog.clear()
        with pytest.raises(gr.Error, match="Internal error") as exc:
            breaks(1)
        assert "RuntimeError" not in exc.value.message  # no class names for users: the log
        assert caplog.records[0].exc_info is not None  # real faults keep their traceback


def test_server_still_up_after_bad_input(client: Client, bad: dict[str, Path]  # noqa: F811
                                         ) -> None:
    for case in ("not_image", "bomb", "truncated"):
        with pytest.raises(AppError):
            _style(client, bad[case])
    out = client.predict(handle_file(str(POSE_REF)), handle_file(str(POSE_TGT)),
                         resolution=RES, api_name="/pose")
    assert Path(out[0]).is_file()
    assert EX.is_dir()
