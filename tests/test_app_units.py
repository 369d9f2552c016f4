"""The app's helpers without a server: captions, colour scales, file names, the result
store, settings read from the environment, model-card limits, drawings and marks."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from app.gallery import NORMALISATIONS, per_block
from app.media import ResultStore, png_file, sketch_to_image
from app.settings import AppSettings, card_limit, env_settings
from dynast import visualize as vis
from dynast.semantics.image_io import FitTransform


@dataclass
class Block:
    level: int
    kind: str
    height: int
    width: int
    stride: int


BLOCKS = [Block(4, "dense", 8, 8, 8), Block(4, "dense", 8, 8, 8), Block(3, "inter", 16, 16, 4),
          Block(3, "inner", 16, 16, 4), Block(2, "inter", 32, 32, 2),
          Block(2, "inner", 32, 32, 2), Block(1, "inter", 64, 64, 1),
          Block(1, "inner", 64, 64, 1)]


def test_block_captions_tell_every_block_apart() -> None:
    caps = vis.block_captions(BLOCKS)
    assert len(set(caps)) == 8
    assert caps[0] == "block 1/8 · level 4 · 1/8 scale (8×8) · dense 1 of 2"
    assert caps[1].endswith("dense 2 of 2")
    assert caps[-1].endswith("full scale (64×64) · inner-scale")


def test_confidence_colour_scales() -> None:
    rng = np.random.default_rng(0)
    maps = [rng.uniform(0.0, 0.2, (b.height, b.width)).astype(np.float32) for b in BLOCKS]
    none = [np.zeros((b.height, b.width), bool) for b in BLOCKS]
    none[-1][:32] = True
    tf = FitTransform((64, 64), (64, 64), 0, 0, 64, 64)
    same = vis.confidence_panels(maps, none, BLOCKS, (64, 64), tf.crop)
    own = vis.confidence_panels(maps, none, BLOCKS, (64, 64), tf.crop, per_block=True)
    assert len(same) == len(own) == 8
    assert same[-1][1].endswith("50% no match")
    a, b = np.asarray(same[2][0]), np.asarray(own[2][0])
    assert a.shape == b.shape and a.shape[0] > 64  # map + colour bar
    # on its own range a 0..0.2 map uses the whole colour map; on 0..1 it stays dark
    assert b[:64].std() > 1.5 * a[:64].std()


@pytest.mark.parametrize("normalisation", NORMALISATIONS)
def test_constant_confidence_is_one_colour_with_its_value(normalisation: str) -> None:
    rng = np.random.default_rng(1)
    maps = [(1.0 - rng.uniform(0.0, 1e-4, (b.height, b.width))).astype(np.float32)
            for b in BLOCKS]  # 1.00 up to rounding noise
    none = [np.zeros((b.height, b.width), bool) for b in BLOCKS]
    tf = FitTransform((64, 64), (64, 64), 0, 0, 64, 64)
    items = vis.confidence_panels(maps, none, BLOCKS, (64, 64), tf.crop,
                                  per_block(normalisation))
    for img, caption in items:
        a = np.asarray(img)
        assert len(np.unique(a[:64].reshape(-1, 3), axis=0)) == 1, caption  # no speckle
        if normalisation == NORMALISATIONS[1]:  # the bar: that one colour, and its value
            bar = a[64:64 + 8]
            assert len(np.unique(bar.reshape(-1, 3), axis=0)) == 1
            assert np.array_equal(bar[0, 0], a[0, 0]) and "constant 1.00" in caption, caption


def test_colorbar_and_marks_scale_with_the_image() -> None:
    bar = vis.colorbar(512, 0.0, 0.25)
    assert bar.width == 512 and bar.height == 44
    small = Image.new("RGB", (256, 256))
    big = Image.new("RGB", (1024, 1024))
    assert vis.mark_scale(small) == 1.0 and vis.mark_scale(big) == 4.0
    xy = np.array([[100.0, 100.0]], np.float32)

    def ink(img: Image.Image) -> float:
        a = np.asarray(img, np.int16)
        return float((np.abs(a[..., 1] - a[..., 0]) > 60).mean())

    s = vis.draw_candidates(small, xy * 1, np.array([True]), np.array([1.0]), cell=1.0)
    b = vis.draw_candidates(big, xy * 4, np.array([True]), np.array([1.0]), cell=1.0)
    assert ink(b) == pytest.approx(ink(s), rel=0.5)  # the same share of the picture


def test_png_names_and_store(tmp_path: Path) -> None:
    path = Path(png_file(np.zeros((8, 8, 3), np.uint8), "pose", "warp_block3"))
    assert re.fullmatch(r"dynast_pose_\d{8}-\d{6}_warp_block3\.png", path.name)
    other = Path(png_file(np.zeros((8, 8, 3), np.uint8), "pose", "warp_block3"))
    assert other != path and other.is_file()
    store = ResultStore(2)
    keys = [store.put(object()) for _ in range(3)]
    assert len(store) == 2
    with pytest.raises(gr.Error, match="Run the model first"):
        store.get(keys[0])
    assert store.get(keys[2]) is not None


def test_settings_from_environment(tmp_path: Path) -> None:
    s = env_settings({"DYNAST_DEVICE": "cpu", "DYNAST_CHECKPOINTS_DIR": str(tmp_path)})
    assert s.device == "cpu" and not s.on_space and s.runner is None
    assert env_settings({"SPACE_ID": "someone/dynast", "DYNAST_DEVICE": "cpu"}).on_space


def test_checkpoints_offered_by_name(tmp_path: Path) -> None:
    from test_pipeline import make_tiny_checkpoints

    make_tiny_checkpoints(tmp_path)
    (tmp_path / "pose" / "MODEL_CARD.md").write_text("# Tiny pose model: random weights\n\nx\n")
    s = AppSettings(checkpoints_root=tmp_path, device="cpu")
    entries = s.catalogue("pose")
    assert [e.name for e in entries if e.remote is None] == ["pose"]
    assert entries[-1].remote is not None  # the authors' checkpoint, offered last off a Space
    assert entries[0].limit == "Tiny pose model: random weights"
    assert s.checkpoint("pose", None).path == tmp_path / "pose"
    with pytest.raises(ValueError, match="no checkpoint called"):
        s.checkpoint("pose", str(tmp_path / "face"))


def test_card_limit_line(tmp_path: Path) -> None:
    (tmp_path / "MODEL_CARD.md").write_text("# Title\n\nLimit: 64 px only, blurry.\n")
    assert card_limit(tmp_path) == "64 px only, blurry."
    assert card_limit(tmp_path / "missing") == ""
    shipped = Path(__file__).resolve().parent.parent / "checkpoints" / "pose"
    if (shipped / "MODEL_CARD.md").is_file():
        assert card_limit(shipped)


def test_sketchpad_value_flattening() -> None:
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


def test_scrub_removes_server_paths() -> None:
    from app.errors import scrub

    msg = scrub("The target photo /tmp/gradio/0a1b2c/selfie.png is truncated")
    assert msg == "The target photo selfie.png is truncated"
    assert scrub("no paths here: 1/8 scale") == "no paths here: 1/8 scale"


def test_example_sketch_starts_the_sketchpad() -> None:
    from app.face import example_sketch_layer

    value = example_sketch_layer()
    assert value is not None and value["layers"][0].shape[2] == 4  # an editable layer
    drawing = sketch_to_image(value)
    ink = (drawing.min(axis=2) < 128).mean()
    assert 0.01 < ink < 0.3  # thin lines on white


def test_internal_errors_name_no_exception_class() -> None:
    from app.errors import user_errors
    from app.zerogpu import _portable

    @user_errors
    def broken() -> None:
        raise KeyError("levels.level4")

    with pytest.raises(gr.Error) as info:
        broken()
    assert "KeyError" not in info.value.message and "Internal error" in info.value.message

    class Unpicklable(ValueError):
        def __reduce__(self) -> object:
            raise TypeError("no")

    assert str(_portable(Unpicklable("the top-k must be a number"))) == \
        "the top-k must be a number"


@pytest.mark.parametrize("side", [256, 1024])
def test_kept_links_are_outlined_on_busy_pictures(side: int) -> None:
    """A green disc has a white outline inside a dark ring, both scaled with the picture, so
    it stays visible on a busy painting (random colours here)."""
    rng = np.random.default_rng(0)
    busy = Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8))
    centre = side / 2
    out = np.asarray(vis.draw_candidates(busy, np.array([[centre, centre]], np.float32),
                                         np.array([True]), np.array([1.0]), cell=8.0), np.int16)
    row = out[int(centre), int(centre):]  # from the disc's centre to the right edge
    green = (row[:, 1] > 150) & (row[:, 0] < 120) & (row[:, 2] < 160)
    white = (row.min(axis=1) > 230)
    dark = (row.max(axis=1) < 30)
    first_white = int(np.argmax(white))
    first_dark = first_white + int(np.argmax(dark[first_white:]))
    assert green[:3].all() and white.any() and dark[first_white:].any()
    assert first_dark - first_white <= 2 * side // 256 + 1  # the ring hugs the outline
    assert dark[first_dark:first_dark + max(1, side // 256)].all()
