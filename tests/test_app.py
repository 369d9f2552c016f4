"""The Gradio app as a live server on 127.0.0.1, driven through gradio_client.

Tiny random-weight checkpoints (ngf = 8) at resolution 64 keep each request well under a
second of model time; what is checked is the app's behaviour: endpoints, which target is
used, captions, file names, concurrency, and that bad input is answered with a readable
message (without server paths) while the server stays up.
"""
from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from app import AppSettings, build_app, launch
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

SKETCH = EX / "face/sketch/2_ddnm_00234_lines.png"
NAME = re.compile(r"^dynast_(pose|face|style)_\d{8}-\d{6}(_[a-z_0-9]+)?\.png$")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def ckpt_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ckpt")
    make_tiny_checkpoints(root)
    return root


@pytest.fixture(scope="module")
def server(ckpt_root: Path) -> Iterator[tuple[str, Any]]:
    settings = AppSettings(checkpoints_root=ckpt_root, min_resolution=64, device="cpu",
                           result_slots=3)
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


def _check_outputs(out: tuple[Any, ...], size: tuple[int, int], task: str) -> None:
    image, semantics, warps, confs, status, model_input, pasted = out
    assert _size(image) == size and _size(semantics) == size
    assert NAME.match(Path(image).name) and Path(image).name.startswith(f"dynast_{task}_")
    assert len(warps) == len(confs) == 8
    caps = [w["caption"] for w in warps]
    assert [c.split(" · ")[0] for c in caps] == [f"block {i}/8" for i in range(1, 9)]
    kinds = [c.split(" · ")[-1] for c in caps]
    assert kinds == ["dense 1 of 2", "dense 2 of 2", "inter-scale", "inner-scale",
                     "inter-scale", "inner-scale", "inter-scale", "inner-scale"]
    assert "level 4" in caps[0] and "1/8 scale" in caps[0] and "full scale" in caps[-1]
    assert len(set(caps)) == 8  # every block told apart
    assert all(_size(w["image"]) == size for w in warps)
    for c in confs:  # the map plus a colour bar under it
        w, h = _size(c["image"])
        assert w == size[0] and h > size[1]
        assert re.search(r"mean \d\.\d\d · \d+% no match$", c["caption"])
    assert "total" in status and "checkpoint" in status


def test_api_endpoints_and_no_server_paths(client: Client, ckpt_root: Path) -> None:
    info = client.view_api(return_format="dict", print_info=False)
    named = info["named_endpoints"]
    assert set(named) >= {"/pose", "/face", "/style"}
    for name, first in (("/pose", ["reference", "target"]), ("/face", ["reference", "target"]),
                        ("/style", ["style_image", "content"])):
        params = named[name]["parameters"]
        assert [p["parameter_name"] for p in params[:2]] == first
        assert all(p["parameter_has_default"] for p in params[2:]), name
        assert named[name]["returns"][0]["component"] == "Image"
    text = json.dumps(info)
    assert str(ckpt_root) not in text and "/tmp" not in text


def test_pose_photo(client: Client) -> None:
    out = client.predict(handle_file(str(POSE_REF)), handle_file(str(POSE_TGT)), resolution=RES,
                         api_name="/pose")
    _check_outputs(out, (RES, RES), "pose")
    assert out[5] is not None  # what the model saw


def test_pose_target_source_decides(client: Client, tmp_path: Path) -> None:
    # a photo AND a shipped pose given: the source says which one is used
    both = dict(pose_name="back_view", resolution=RES, api_name="/pose")
    out = client.predict(handle_file(str(POSE_REF)), handle_file(str(POSE_TGT)),
                         target_source="shipped pose", **both)
    _check_outputs(out, (44, 64), "pose")  # back_view's 348x512 canvas at 64 px
    out = client.predict(handle_file(str(POSE_REF)), handle_file(str(POSE_TGT)),
                         target_source="photo", **both)
    _check_outputs(out, (RES, RES), "pose")  # the square photo
    data = json.loads((EX / "poses/a_pose.json").read_text())
    (tmp_path / "pose.json").write_text(json.dumps(data))
    out = client.predict(handle_file(str(POSE_REF)), handle_file(str(POSE_TGT)),
                         target_source="keypoint file", pose_name="back_view",
                         pose_files=[handle_file(str(tmp_path / "pose.json"))], resolution=RES,
                         api_name="/pose")
    _check_outputs(out, (RES, RES), "pose")
    # keypoints: no picture for the model to see, and the panel is hidden
    assert isinstance(out[5], dict) and out[5]["value"] is None and out[5]["visible"] is False
    with pytest.raises(AppError, match="(?i)keypoint|json"):
        client.predict(handle_file(str(POSE_REF)), handle_file(str(POSE_TGT)),
                       target_source="keypoint file", resolution=RES, api_name="/pose")


def test_face_target_source_decides(client: Client) -> None:
    out = client.predict(handle_file(str(FACE_REF)), handle_file(str(FACE_TGT)), resolution=RES,
                         api_name="/face")
    _check_outputs(out, (RES, RES), "face")
    out = client.predict(handle_file(str(FACE_REF)), handle_file(str(FACE_TGT)),
                         target_source="uploaded line drawing",
                         line_drawing=handle_file(str(SKETCH)), resolution=RES,
                         api_name="/face")
    _check_outputs(out, (RES, RES), "face")
    # the drawing source never falls back to the photo
    with pytest.raises(AppError, match="(?i)upload a line drawing"):
        client.predict(handle_file(str(FACE_REF)), handle_file(str(FACE_TGT)),
                       target_source="uploaded line drawing", resolution=RES, api_name="/face")
    # and the photo source never uses the drawing
    out = client.predict(handle_file(str(FACE_REF)), handle_file(str(FACE_TGT)),
                         target_source="face photo", line_drawing=handle_file(str(SKETCH)),
                         resolution=RES, api_name="/face")
    assert "face" in Path(out[0]).name


def test_face_drawn_in_app(client: Client) -> None:
    drawn = {"background": None, "layers": [handle_file(str(SKETCH))],
             "composite": handle_file(str(SKETCH))}
    out = client.predict(handle_file(str(FACE_REF)), None, target_source="drawn",
                         drawing=drawn, resolution=RES, api_name="/face")
    _check_outputs(out, (RES, RES), "face")
    with pytest.raises(AppError, match="(?i)drawing is empty"):
        client.predict(handle_file(str(FACE_REF)), None, target_source="drawn",
                       resolution=RES, api_name="/face")


def test_style_keeps_aspect_and_wording(client: Client) -> None:
    w, h = Image.open(CONTENT).size
    out = client.predict(handle_file(str(STYLE)), handle_file(str(CONTENT)), resolution=RES,
                         api_name="/style")
    iw, ih = _size(out[0])
    assert max(iw, ih) == RES and abs(iw / ih - w / h) < 0.1


def test_concurrent_requests(client: Client) -> None:
    jobs = [client.submit(handle_file(str(STYLE)), handle_file(str(CONTENT)), resolution=RES,
                          api_name="/style") for _ in range(10)]
    results = [job.result(timeout=600) for job in jobs]
    assert all(_size(r[0])[0] == RES for r in results)


def test_result_store_is_bounded(server: tuple[str, Any], client: Client) -> None:
    client.predict(handle_file(str(STYLE)), handle_file(str(CONTENT)), resolution=RES,
                   api_name="/style")
    assert len(server[1].dynast_store) <= 3


def test_generate_is_greyed_out_until_the_run_ends(server: tuple[str, Any]) -> None:
    """A click disables Generate at once (no queued double run); the run's end, success or
    failure, enables it again."""
    demo = server[1]
    fns = list(demo.fns.values())
    for task in ("pose", "face", "style"):
        api = next(fn for fn in fns if fn.api_name == task)
        button = api.targets[0][0]
        start = [fn for fn in fns if fn is not api and fn.targets == [(button, "click")]]
        assert len(start) == 1 and button in [o._id for o in start[0].outputs], task
        assert start[0].fn()[-1].interactive is False
        after = [fn for fn in fns if fn.trigger_after == api._id
                 and button in [o._id for o in fn.outputs]]
        # .then, and .failure as well: in the browser a failed run does not reach .then
        assert sorted(f.trigger_only_on_failure for f in after) == [False, True], task
        assert not any(f.trigger_only_on_success for f in after)
        assert all(f.fn().interactive is True for f in after)


def test_what_the_model_saw_is_hidden_without_a_picture(ckpt_root: Path) -> None:
    """A pose given as keypoints (a shipped pose, a keypoint file) has no fitted photo: the
    panel is hidden rather than left as an empty placeholder; a photo shows it again."""
    from app.media import ResultStore
    from app.run import RunOptions, run_task
    from dynast.tasks import pose_target_from_file

    settings = AppSettings(checkpoints_root=ckpt_root, min_resolution=64, device="cpu")
    poses = Path(__file__).resolve().parent.parent / "examples/poses"
    shipped, _ = pose_target_from_file(sorted(poses.glob("*.json"))[0])
    store, options = ResultStore(2), RunOptions(RES, 4, "fp32", None, True)
    out = run_task(settings, store, "pose", str(POSE_REF), shipped, options)
    assert out[5].visible is False and out[5].value is None
    out = run_task(settings, store, "pose", str(POSE_REF), str(POSE_TGT), options)
    assert out[5].visible is True and out[5].value is not None
    out = run_task(settings, store, "style", str(POSE_REF), str(POSE_TGT), options,
                   show_model_input=False)
    assert out[5].visible is False  # style: the semantics panel already is the content


def test_uploads_are_checked_when_they_arrive(server: tuple[str, Any], tmp_path: Path) -> None:
    """A non-image renamed .png (or a bomb) is removed on upload and the reason shown under
    Generate in plain words; a picture passes untouched."""
    import gradio as gr

    from test_bad_inputs import make_bad_images

    bad = make_bad_images(tmp_path / "bad")
    demo = server[1]
    checks = {fn.targets[0][0]: fn for fn in demo.fns.values()
              if fn.targets and fn.targets[0][1] == "upload"}
    uploads = [b for b in demo.blocks.values() if isinstance(b, gr.Image) and b._id in checks]
    assert len(uploads) >= 6, "every image input of the pose, face and style tabs"
    for block in uploads:
        check = checks[block._id].fn
        for case in ("not_an_image", "html", "truncated_png", "zero_bytes", "header_bomb"):
            value, status = check({"path": str(bad[case]), "meta": {"_type": "gradio.FileData"}})
            assert value is None and "Cannot read the image" in status, (case, status)
            assert not re.search(r"[A-Z]\w+Error|/tmp|object at", status), status
        assert check({"path": str(POSE_REF)}) == (gr.skip(), gr.skip())
