"""Bad and unusual inputs through the library's model doors: ``DynaST`` (tiny config) and
``DynaSTPipeline`` (tiny random-weight checkpoints, resolution 64).

Every bad input must raise a ``ValueError`` subclass whose message says what was wrong;
after each case a good call still works. The bad files come from test_bad_inputs.py.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import random_inputs, tiny_config
from dynast import DynaST, DynaSTConfig
from dynast.inference.pipeline import DynaSTPipeline
from dynast.inference.result import PipelineResult
from dynast.semantics import FACE_CHANNELS, NoFaceFound, NoPersonFound, SemanticsError
from dynast.tasks import pose_target_from_file
from test_bad_inputs import (
    PAINTING,
    PERSON,
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
CHANNELS = {"pose": (20, 20), "face": (FACE_CHANNELS, FACE_CHANNELS), "style": (3, 0)}


def refuses(fn, pattern: str, error: type[Exception] = ValueError) -> str:
    """``fn()`` raises a ValueError subclass (``error``) with a one-line message."""
    with pytest.raises(error, match=f"(?i){pattern}") as info:
        fn()
    assert isinstance(info.value, ValueError), type(info.value)
    message = str(info.value)
    assert len(message) > 15, message
    return message


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Tiny models gain nothing from threads, and on a shared CPU two threads can be 40x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# -- the model --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny() -> tuple[DynaST, DynaSTConfig]:
    cfg = tiny_config()
    return DynaST(cfg).eval(), cfg


def _model_healthy(model: DynaST, cfg: DynaSTConfig) -> None:
    with torch.no_grad():
        out = model(*random_inputs(cfg))
    assert out.image.shape == (1, 3, 32, 32) and torch.isfinite(out.image).all()


def _with(cfg: DynaSTConfig, case: str) -> tuple:
    ref, ref_sem, tgt = random_inputs(cfg)
    if case == "nan_reference":
        ref[0, 0, 3, 3] = float("nan")
    elif case == "inf_target":
        tgt[0, 1, 2, 2] = float("inf")
    elif case == "wrong_channels":
        tgt = tgt[:, :3]
    elif case == "mismatched_sizes":
        tgt = torch.rand(1, cfg.semantic_nc, 40, 32)
    elif case == "not_multiple_of_8":
        ref, ref_sem, tgt = random_inputs(cfg, height=30, width=30)
    elif case == "too_small":
        ref, ref_sem, tgt = random_inputs(cfg, height=8, width=8)
    elif case == "batch_zero":
        ref, ref_sem, tgt = ref[:0], ref_sem[:0], tgt[:0]
    elif case == "mismatched_batch":
        tgt = torch.cat([tgt, tgt])
    elif case == "integer_tensor":
        ref = (ref * 100).to(torch.int64)
    elif case == "three_dims":
        ref = ref[0]
    elif case == "not_a_tensor":
        ref = ref.numpy()
    elif case == "missing_ref_semantics":
        ref_sem = None
    return ref, ref_sem, tgt


MODEL_CASES = [
    ("nan_reference", "NaN or infinite"),
    ("inf_target", "NaN or infinite"),
    ("wrong_channels", r"target_semantics must be \(B, 5"),
    ("mismatched_sizes", "sizes differ"),
    ("not_multiple_of_8", "multiples of 8"),
    ("too_small", "at least 16"),
    ("batch_zero", "batch size 0"),
    ("mismatched_batch", "batch sizes differ"),
    ("integer_tensor", "floating-point"),
    ("three_dims", r"\(B, 3, H, W\)"),
    ("not_a_tensor", "torch.Tensor"),
    ("missing_ref_semantics", "ref_semantics must be"),
]


@pytest.mark.parametrize("case, pattern", MODEL_CASES, ids=[c[0] for c in MODEL_CASES])
def test_model_refuses(tiny: tuple[DynaST, DynaSTConfig], case: str, pattern: str) -> None:
    model, cfg = tiny
    with torch.no_grad():
        refuses(lambda: model(*_with(cfg, case)), pattern)
    _model_healthy(model, cfg)


@pytest.mark.parametrize("top_k", [0, 2.5, -1, True, "4"])
def test_model_refuses_bad_top_k(tiny: tuple[DynaST, DynaSTConfig], top_k: object) -> None:
    model, cfg = tiny
    with torch.no_grad():
        refuses(lambda: model(*random_inputs(cfg), top_k=top_k), "top_k")
    _model_healthy(model, cfg)


def test_model_accepts_fp16_inputs(tiny: tuple[DynaST, DynaSTConfig]) -> None:
    model, cfg = tiny
    ref, ref_sem, tgt = random_inputs(cfg)
    with torch.no_grad():
        out = model(ref.half(), ref_sem.half(), tgt.half())
    assert torch.isfinite(out.image).all()


def test_truncated_and_garbage_weights(tmp_path: Path) -> None:
    DynaST(tiny_config()).save_pretrained(tmp_path / "good")
    for name, cut in (("truncated", 0.5), ("garbage", None)):
        d = tmp_path / name
        d.mkdir()
        (d / "config.json").write_bytes((tmp_path / "good/config.json").read_bytes())
        data = (tmp_path / "good/model.safetensors").read_bytes()
        (d / "model.safetensors").write_bytes(
            data[: int(len(data) * cut)] if cut else b"\x80\x04 not a safetensors file")
        refuses(lambda: DynaST.from_pretrained(d), "model.safetensors|checkpoint|truncated|read")
    assert DynaST.from_pretrained(tmp_path / "good").config.ngf == 4


@pytest.mark.parametrize("top_k", [17, 64])
def test_model_top_k_beyond_the_candidates(tiny: tuple[DynaST, DynaSTConfig], top_k: int) -> None:
    """A 32x32 input has 4x4 = 16 candidates at its coarsest level."""
    model, cfg = tiny
    with torch.no_grad():
        refuses(lambda: model(*random_inputs(cfg), top_k=top_k), f"top_k={top_k} is more than "
                "the 16 candidates an 32x32 input")
        out = model(*random_inputs(cfg), top_k=16)
    assert torch.isfinite(out.image).all()


@pytest.mark.parametrize("scale, which", [(1e30, 0), (1e5, 0), (1e30, 2)],
                         ids=["reference_1e30", "reference_1e5", "target_1e30"])
def test_model_refuses_finite_but_absurd_values(tiny: tuple[DynaST, DynaSTConfig], scale: float,
                                                which: int) -> None:
    model, cfg = tiny
    inputs = list(random_inputs(cfg))
    inputs[which] = inputs[which] * scale
    with torch.no_grad():
        refuses(lambda: model(*inputs), "values up to .*normalise the input")
    _model_healthy(model, cfg)


def _saved(tmp_path: Path, name: str, config: object = None, state: object = None) -> Path:
    """A save_pretrained folder of the tiny model, its config.json text or tensors replaced."""
    from safetensors.torch import save_file

    d = tmp_path / name
    DynaST(tiny_config()).save_pretrained(d)
    if isinstance(config, (str, bytes)):
        getattr(d / "config.json", "write_text" if isinstance(config, str) else "write_bytes")(
            config)
    elif isinstance(config, dict):
        (d / "config.json").write_text(json.dumps({**json.loads(
            (d / "config.json").read_text()), **config}))
    if state is not None:
        save_file(state, str(d / "model.safetensors"))
    return d


def _tensors(change: str) -> dict[str, torch.Tensor]:
    state = {k: v.clone() for k, v in DynaST(tiny_config()).state_dict().items()}
    if change == "extra":
        state["decoder.extra.weight"] = torch.zeros(3)
    elif change == "missing":
        state.pop("to_image.weight")
    elif change == "shape":
        state["to_image.weight"] = torch.zeros(3, 1, 1, 1)
    elif change == "nan":
        state["to_image.weight"][0] = float("nan")
    return state


FROM_PRETRAINED_CASES = [
    ("config_list", "[]", None, "config.json is not a valid DynaST config.*got list"),
    ("config_null", "null", None, "must be a JSON object of fields, got NoneType"),
    ("config_binary", bytes(range(256)), None, "config.json is not a JSON text"),
    ("config_top_k_2.5", {"top_k": 2.5}, None, "top_k must be a whole number, got 2.5"),
    ("config_n_layers_1e5", {"n_layers": 100000}, None, "n_layers must be at most 16"),
    ("config_ngf_1e9", {"ngf": 10**9}, None, "ngf must be at most 256"),
    ("config_huge_file", "{" + " " * 200_000 + "}", None, "over the limit"),
    ("tensor_extra", None, "extra", r"1 tensor\(s\) unexpected: decoder.extra.weight"),
    ("tensor_missing", None, "missing", r"1 tensor\(s\) missing: to_image.weight"),
    ("tensor_shape", None, "shape", r"to_image.weight is \(3, 1, 1, 1\), expected \(3, 4, "),
    ("tensor_nan", None, "nan", "holding NaN or infinite values: to_image.weight"),
]


@pytest.mark.parametrize("case, config, tensors, pattern", FROM_PRETRAINED_CASES,
                         ids=[c[0] for c in FROM_PRETRAINED_CASES])
def test_from_pretrained_names_what_is_wrong(case: str, config: object, tensors: str | None,
                                             pattern: str, tmp_path: Path) -> None:
    from dynast.inputs import InvalidCheckpointError

    d = _saved(tmp_path, case, config, None if tensors is None else _tensors(tensors))
    message = refuses(lambda: DynaST.from_pretrained(d), pattern, InvalidCheckpointError)
    assert "state_dict" not in message and "\n" not in message
    assert DynaST.from_pretrained(_saved(tmp_path, "good")).config.ngf == 4


# -- the pipeline -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pipes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, DynaSTPipeline]:
    root = tmp_path_factory.mktemp("ckpt")
    out = {}
    for i, (task, (nc, ref_nc)) in enumerate(CHANNELS.items()):
        torch.manual_seed(i)
        DynaST(DynaSTConfig(ngf=8, semantic_nc=nc, ref_semantic_nc=ref_nc)).save_pretrained(
            root / task)
        out[task] = DynaSTPipeline(task, root / task, device="cpu", precision="fp32",
                                   resolution=RES)
    return out


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    d = tmp_path_factory.mktemp("files")
    return {"bad": make_bad_images(d / "bad"), "odd": make_odd_images(d / "odd"),
            "kp": make_keypoint_files(d / "kp")}


def _healthy(pipes: dict[str, DynaSTPipeline]) -> None:
    """A good call works (the model runs: slow on a busy CPU, hence once, at the end)."""
    r = pipes["style"](STYLE, CONTENT)
    assert isinstance(r, PipelineResult) and max(r.image.size) == RES


@pytest.mark.parametrize("case, pattern", [
    ("not_an_image", "not a readable image"),
    ("truncated_png", "not a readable image|truncated"),
    ("truncated_jpeg", "not a readable image|truncated"),
    ("zero_bytes", "not a readable image"),
    ("one_pixel", "at least 16 pixels"),
    ("header_bomb", "enormous|pixels"),
    ("bomb", "enormous|pixels"),
    ("html", "not a readable image"),
])
def test_pipeline_bad_images(pipes: dict[str, DynaSTPipeline], files: dict, case: str,
                             pattern: str) -> None:
    path = files["bad"][case]
    refuses(lambda: pipes["style"](STYLE, path), pattern)
    refuses(lambda: pipes["style"](path, CONTENT), pattern)
    refuses(lambda: pipes["face"](FACE_REF, path, target_kind="sketch"), pattern)
    refuses(lambda: pipes["pose"](path, PERSON), pattern)


def test_pipeline_fifo_does_not_block(pipes: dict[str, DynaSTPipeline], tmp_path: Path) -> None:
    import os

    os.mkfifo(tmp_path / "pipe.jpg")
    refuses(lambda: pipes["style"](STYLE, tmp_path / "pipe.jpg"), "not a regular file")
    refuses(lambda: pipes["style"](STYLE, tmp_path), "not a regular file")


ODD = ["float01", "exif_rotated", "ünïcødé 草图 😀"]  # fast; the rest run with -m slow
ODD_SLOW = ["gray", "rgba_transparent_background", "cmyk", "gray16", "animated", "sketch"]


@pytest.mark.parametrize("case", ODD + [pytest.param(c, marks=pytest.mark.slow) for c in ODD_SLOW])
def test_pipeline_odd_images_work(pipes: dict[str, DynaSTPipeline], files: dict,
                                  case: str) -> None:
    path = files["odd"][case]
    r = pipes["face"](FACE_REF, path, target_kind="sketch")
    assert max(r.image.size) == RES and np.isfinite(np.asarray(r.image, np.float32)).all()
    r = pipes["style"](STYLE, path)
    h, w = sketch_array().shape
    assert (r.image.size[0] < r.image.size[1]) == (w < h), "the aspect is kept (EXIF applied)"


@pytest.mark.parametrize("array, pattern", [
    (np.full((64, 64, 3), np.nan, np.float32), "NaN"),
    (np.zeros((64, 64, 5), np.uint8), "shape"),
    (np.zeros((8, 8, 3), np.uint8), "at least 16"),
], ids=["nan", "five_channels", "eight_pixels"])
def test_pipeline_bad_arrays(pipes: dict[str, DynaSTPipeline], array: np.ndarray,
                             pattern: str) -> None:
    refuses(lambda: pipes["style"](STYLE, array), pattern)


def test_pipeline_missing_inputs(pipes: dict[str, DynaSTPipeline]) -> None:
    refuses(lambda: pipes["style"](STYLE, None), "no .* was given")
    refuses(lambda: pipes["pose"](None, PERSON), "no .* was given")


def test_pipeline_no_person_no_face_blank_sketch(pipes: dict[str, DynaSTPipeline],
                                                 tmp_path: Path) -> None:
    refuses(lambda: pipes["pose"](POSE_REF, PAINTING), "no person", NoPersonFound)
    refuses(lambda: pipes["pose"](PAINTING, PERSON), "no person", NoPersonFound)
    refuses(lambda: pipes["face"](FACE_REF, PAINTING), "no face", NoFaceFound)
    for value in (255, 0):
        Image.new("L", (200, 200), value).save(tmp_path / "blank.png")
        refuses(lambda: pipes["face"](FACE_REF, tmp_path / "blank.png", target_kind="sketch"),
                "no visible lines", NoFaceFound)


def test_pipeline_three_people_warn(pipes: dict[str, DynaSTPipeline], tmp_path: Path) -> None:
    r = pipes["pose"](POSE_REF, three_people(tmp_path / "three.jpg"))
    assert any("3 people" in w for w in r.warnings), r.warnings


@pytest.mark.parametrize("resolution, pattern", [
    ("256x256", "number|text"),
    (0, "between"),
    (100, "multiple of 64"),
    (2.5, "whole number"),
    (100_000, "between"),
    (-64, "between"),
    ((30, 30), "multiples of 8"),
    ((64, 64, 64), "pair"),
    (True, "whole number"),
    (float("nan"), "whole number"),
], ids=["text", "zero", "100", "fraction", "huge", "negative", "pair_30", "triple", "bool", "nan"])
def test_pipeline_bad_resolution(pipes: dict[str, DynaSTPipeline], resolution: object,
                                 pattern: str) -> None:
    refuses(lambda: pipes["style"](STYLE, CONTENT, resolution=resolution), "resolution")
    refuses(lambda: pipes["style"](STYLE, CONTENT, resolution=resolution), pattern)
    refuses(lambda: DynaSTPipeline("style", model=pipes["style"].model, resolution=resolution),
            pattern)


@pytest.mark.parametrize("kw, pattern", [
    ({"top_k": 2.5}, "whole number"),
    ({"top_k": 0}, "between 1"),
    ({"top_k": 17}, "between 1"),
    ({"precision": "fp64"}, "precision"),
    ({"target_kind": "video"}, "target_kind"),
], ids=["top_k_fraction", "top_k_zero", "top_k_17", "precision", "target_kind"])
def test_pipeline_bad_options(pipes: dict[str, DynaSTPipeline], kw: dict, pattern: str) -> None:
    refuses(lambda: pipes["style"](STYLE, CONTENT, **kw), pattern)


@pytest.mark.parametrize("device", ["foo", "cuda:99", "meta", "cpu:x", 7]
                         + ([] if torch.cuda.is_available() else ["cuda"]))
def test_pipeline_unknown_device(pipes: dict[str, DynaSTPipeline], device: object) -> None:
    from dynast.inference.runtime import UnknownDevice

    message = refuses(lambda: DynaSTPipeline("style", model=pipes["style"].model, device=device),
                      "is not available on this machine; use one of: cpu", UnknownDevice)
    assert "Torch not compiled" not in message and "Expected one of" not in message


def test_matches_at_refuses_non_numbers(pipes: dict[str, DynaSTPipeline]) -> None:
    r = pipes["style"](STYLE, CONTENT)
    for x, y in ((float("nan"), float("nan")), (float("inf"), 3.0), (None, 2), ("1", 2)):
        refuses(lambda: r.matches_at(x, y), "finite numbers")
    assert len(r.matches_at(3.0, 4.0)) == len(r.blocks)


def test_pipeline_missing_and_broken_checkpoints(tmp_path: Path) -> None:
    missing = tmp_path / "no_such_checkpoint"
    message = refuses(lambda: DynaSTPipeline("style", missing, device="cpu"), "no_such_checkpoint")
    assert "shipped" not in message.lower() or "no_such_checkpoint" in message
    DynaST(DynaSTConfig(ngf=8, semantic_nc=3, ref_semantic_nc=0)).save_pretrained(tmp_path / "t")
    data = (tmp_path / "t/model.safetensors").read_bytes()
    (tmp_path / "t/model.safetensors").write_bytes(data[: len(data) // 3])
    p = DynaSTPipeline("style", tmp_path / "t", device="cpu", resolution=RES)
    refuses(lambda: p(STYLE, CONTENT), "could not be loaded|truncated|checkpoint")
    refuses(lambda: DynaSTPipeline("cartoon", tmp_path / "t"), "task")


def test_pipeline_nan_weights_are_named_not_blamed_on_precision(tmp_path: Path) -> None:
    model = DynaST(DynaSTConfig(ngf=8, semantic_nc=3, ref_semantic_nc=0))
    with torch.no_grad():
        model.to_image.weight[0] = float("nan")
    model.save_pretrained(tmp_path / "nan")
    p = DynaSTPipeline("style", tmp_path / "nan", device="cpu", precision="fp32", resolution=RES)
    message = refuses(lambda: p(STYLE, CONTENT), "NaN or infinite values: to_image.weight")
    assert "precision" not in message and "Error:" not in message, message


KEYPOINT_CASES = ["nan_json", "huge_coordinate_json", "wrong_count_json", "not_json",
                  "deeply_nested_json", "no_people_json", "binary_json", "huge_integer_json",
                  "long_number_json", "huge_json",
                  "empty_pair", "huge_coordinate_txt", "single_column",
                  "short_rows", "swapped_pair"]


@pytest.mark.parametrize("case", KEYPOINT_CASES)
def test_pipeline_bad_keypoint_files(pipes: dict[str, DynaSTPipeline], files: dict,
                                     case: str) -> None:
    paths = files["kp"][case]
    message = refuses(lambda: pose_target_from_file(list(paths)), ".", SemanticsError)
    assert any(p.name in message for p in paths) or "no person" in message.lower(), message


def test_pipeline_degenerate_keypoints(pipes: dict[str, DynaSTPipeline], tmp_path: Path) -> None:
    same = pose_json([(40.0, 40.0)] * 18, tmp_path / "same.json")
    try:
        target, _ = pose_target_from_file(same)
    except ValueError as exc:  # refusing is fine, with a message (not ZeroDivisionError)
        assert isinstance(exc, SemanticsError) and len(str(exc)) > 15
    else:
        r = pipes["pose"](POSE_REF, target)
        assert np.isfinite(np.asarray(r.image, np.float32)).all()
    negative = pose_json([(-50.0, -40.0)] * 9 + [(30.0, 60.0)] * 9, tmp_path / "neg.json")
    target, _ = pose_target_from_file(negative)
    r = pipes["pose"](POSE_REF, target)
    assert min(r.image.size) > 0


def test_pipeline_huge_image_is_downscaled(pipes: dict[str, DynaSTPipeline]) -> None:
    big = np.asarray(Image.open(CONTENT).convert("RGB").resize((3000, 2400)))
    r = pipes["style"](STYLE, big)
    assert any("downscaled" in w for w in r.warnings), r.warnings


def test_pipeline_still_healthy_after_everything(pipes: dict[str, DynaSTPipeline]) -> None:
    """Run last in this module: after every bad input above, good calls still work."""
    _healthy(pipes)
    r = pipes["face"](FACE_REF, Image.fromarray(sketch_array()), target_kind="sketch")
    assert max(r.image.size) == RES
