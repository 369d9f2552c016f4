"""Loading user images and fitting them to the model size."""
from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dynast.semantics import (
    ImageTooLarge,
    InvalidSize,
    Keypoints,
    UnreadableImage,
    fit_to_size,
    load_image,
    padded_size,
    parse_size,
)


def _encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def test_exif_orientation_is_applied() -> None:
    img = Image.new("RGB", (40, 20), (255, 0, 0))
    img.paste((0, 0, 255), (0, 0, 10, 20))  # blue on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display = rotate 90 deg clockwise
    out = load_image(_encode(img, "JPEG", exif=exif, quality=95))
    assert out.shape == (40, 20, 3)
    assert out[2, 10, 2] > 200 and out[-3, 10, 0] > 200  # blue ends up at the top


def test_rgba_is_composited_on_white() -> None:
    arr = np.zeros((8, 8, 4), np.uint8)
    arr[:4, :, :] = (0, 0, 0, 255)
    out = load_image(_encode(Image.fromarray(arr, "RGBA"), "PNG"))
    assert out[0, 0].tolist() == [0, 0, 0] and out[7, 7].tolist() == [255, 255, 255]


@pytest.mark.parametrize("mode", ["L", "P", "CMYK", "LA", "1"])
def test_other_modes_become_rgb(mode: str) -> None:
    img = Image.new("RGB", (12, 9), (200, 60, 30)).convert(mode)
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    out = load_image(_encode(img, fmt))
    assert out.shape == (9, 12, 3) and out.dtype == np.uint8


def test_palette_with_transparency() -> None:
    img = Image.new("P", (4, 4), 0)
    img.putpalette([10, 20, 30, 90, 90, 90] + [0] * 762)
    img.info["transparency"] = 0
    out = load_image(_encode(img, "PNG", transparency=0))
    assert out[0, 0].tolist() == [255, 255, 255]


def test_16_bit_gray(tmp_path: Path) -> None:
    arr = np.full((6, 5), 65535, np.uint16)
    arr[0, 0] = 0
    arr[1, 1] = 32896  # 128 * 257
    img = Image.fromarray(arr)
    assert img.mode == "I;16"
    img.save(tmp_path / "g16.png")
    out = load_image(tmp_path / "g16.png")
    assert out.shape == (6, 5, 3)
    assert out[0, 0, 0] == 0 and out[1, 1, 0] == 128 and out[2, 2, 0] == 255


def test_numpy_and_pil_inputs() -> None:
    assert load_image(np.zeros((3, 4), np.uint16)).shape == (3, 4, 3)
    assert load_image(np.ones((3, 4, 3), np.float32))[0, 0].tolist() == [255, 255, 255]
    assert load_image(Image.new("L", (5, 2), 7))[0, 0].tolist() == [7, 7, 7]
    with pytest.raises(UnreadableImage, match="shape"):
        load_image(np.zeros((3, 4, 5), np.uint8))
    with pytest.raises(UnreadableImage, match="int64"):
        load_image(np.zeros((3, 4), np.int64))


def test_one_pixel_image_loads_and_fits() -> None:
    out = load_image(_encode(Image.new("RGB", (1, 1), (1, 2, 3)), "PNG"))
    assert out.shape == (1, 1, 3)
    fitted, tf = fit_to_size(out, 16, 8)
    assert fitted.shape == (16, 8, 3) and (tf.content_height, tf.content_width) == (8, 8)


def test_truncated_file_and_non_image(tmp_path: Path) -> None:
    data = _encode(Image.new("RGB", (64, 64), (5, 5, 5)), "PNG")
    with pytest.raises(UnreadableImage, match="not a readable image"):
        load_image(data[: len(data) // 2])
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(UnreadableImage, match="JPEG, PNG"):
        load_image(tmp_path / "notes.txt")
    with pytest.raises(UnreadableImage, match="cannot read"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(UnreadableImage, match="dict"):
        load_image({"a": 1})  # type: ignore[arg-type]


def test_decompression_bomb_is_refused() -> None:
    data = bytearray(_encode(Image.new("L", (1, 1)), "PNG"))
    ihdr = data.index(b"IHDR")
    data[ihdr + 4:ihdr + 12] = struct.pack(">II", 100_000, 100_000)
    data[ihdr + 17:ihdr + 21] = struct.pack(">I", zlib.crc32(bytes(data[ihdr:ihdr + 17])))
    with pytest.raises(ImageTooLarge, match="downscale"):
        load_image(bytes(data))
    with pytest.raises(ImageTooLarge):
        load_image(np.zeros((8000, 8000), np.uint8))


def test_fit_keeps_aspect_and_maps_points() -> None:
    src = np.zeros((300, 200, 3), np.uint8)
    src[149:152, 49:52] = 255  # a dot centred on (x=50, y=150)
    fitted, tf = fit_to_size(src, 256, 256, pad="black")
    assert fitted.shape == (256, 256, 3)
    assert (tf.content_height, tf.content_width, tf.top) == (256, 171, 0)
    assert tf.left == (256 - 171) // 2
    ys, xs = np.nonzero(fitted[:, :, 0] > 100)
    dot = tf.to_dst(np.array([[50.0, 150.0]]))[0]
    assert abs(xs.mean() - dot[0]) < 0.6 and abs(ys.mean() - dot[1]) < 0.6
    assert np.allclose(tf.to_src(tf.to_dst(np.array([[3.0, 7.0]]))), [[3.0, 7.0]])
    kp = Keypoints.from_xy([[50.0, 150.0]] + [None] * 17)
    assert np.allclose(tf.keypoints_to_dst(kp).xy[0], dot)
    assert tf.crop(fitted).shape == (256, 171, 3)
    assert tf.crop(np.zeros((2, 20, 256, 256))).shape == (2, 20, 256, 171)
    assert tf.restore(fitted).shape == (300, 200, 3)


def test_sizes() -> None:
    assert parse_size("256x176") == (256, 176)
    assert padded_size(301, 200) == (304, 200)
    for bad in ("256", "100x100", "axb", "0x8"):
        with pytest.raises(InvalidSize):
            parse_size(bad)
    with pytest.raises(InvalidSize, match="multiples of 8"):
        fit_to_size(np.zeros((4, 4, 3), np.uint8), 250, 256)
