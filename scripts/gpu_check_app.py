"""The pipeline and app steps of ``scripts/gpu_check.py`` (each task through the pipeline and
through the app as a server), and the local app server that ``tests/test_app_load.py`` uses.
``c`` is the gpu_check ``Check`` (its ``device`` and ``cpu``)."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dynast.precision import tf32_disabled

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = {
    "pose": ("examples/pose/reference/1_fashion_woman_blouse.jpg",
             "examples/pose/target/1_imper_a_pose.jpg"),
    "face": ("examples/face/reference/1_sean_28083.jpg", "examples/face/target/1_sean_28613.jpg"),
    "style": ("examples/style/style/1_adain_mondrian.jpg",
              "examples/style/content/1_adain_chicago.jpg"),
}

def task_size(task: str, cpu: bool, floor: int = 64) -> int:
    """The resolution a task runs at: its default on CUDA; ``floor`` on the CPU."""
    return floor if cpu else (512 if task == "style" else 256)


def step_pipeline(c: Any) -> dict[str, Any]:
    from dynast.inference.pipeline import DynaSTPipeline

    res: dict[str, Any] = {}
    ok = True
    for task, (ref, tgt) in EXAMPLES.items():
        pipe = DynaSTPipeline(task, device=c.device, resolution=task_size(task, c.cpu))
        runs = [pipe(ROOT / ref, ROOT / tgt) for _ in range(2)]  # cold, then warm
        res[task] = {"precision": runs[-1].precision, "image_size": list(runs[-1].image.size),
                     "cold": runs[0].timings, "warm": runs[-1].timings}
        ok &= runs[-1].image.size[0] > 0
    res["zerogpu_runner"] = _zerogpu_runner_matches(c)
    ok &= res["zerogpu_runner"]["max_abs_diff"] <= 1
    return {"ok": ok, **res}


def _zerogpu_runner_matches(c: Any) -> dict[str, Any]:
    """The ZeroGPU runner's path (model on the CPU, moved to the device inside the call),
    in-process, against the default runner: the largest pixel difference (0-255)."""
    import numpy as np

    from app.zerogpu import ZeroGPURunner
    from dynast import DynaST
    from dynast.inference.pipeline import DynaSTPipeline

    ref, tgt = (ROOT / p for p in EXAMPLES["face"])
    kw = dict(precision="fp32", resolution=task_size("face", c.cpu))
    model = DynaST.from_pretrained(ROOT / "checkpoints/face").eval()  # its own CPU copy
    runner = ZeroGPURunner(gpu=lambda duration: (lambda fn: fn))
    with tf32_disabled():
        want = DynaSTPipeline("face", device=c.device, **kw)(ref, tgt).image
        got = DynaSTPipeline("face", device="cpu", model=model, runner=runner, **kw)(ref, tgt)
    diff = np.abs(np.asarray(got.image, np.int16) - np.asarray(want, np.int16)).max()
    return {"max_abs_diff": int(diff), "model_device": str(next(model.parameters()).device)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def app_server(env: dict[str, str] | None = None, timeout: float = 180
               ) -> Iterator[tuple[subprocess.Popen, str]]:
    """``python app.py`` on a free local port; yields (process, url) once it answers."""
    import urllib.request

    port = free_port()
    log = open(os.devnull, "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, stdout=log, stderr=log,
                            env={**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1",
                                 "GRADIO_SERVER_PORT": str(port), **(env or {})})
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"app.py exited with code {proc.returncode}")
            with contextlib.suppress(OSError):
                urllib.request.urlopen(url, timeout=5).close()
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"app.py did not answer on {url} in {timeout:.0f} s")
            time.sleep(1)
        yield proc, url
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def step_app(c: Any) -> dict[str, Any]:
    from gradio_client import Client, handle_file
    from PIL import Image

    res: dict[str, Any] = {}
    ok = True
    with app_server({"DYNAST_DEVICE": c.device.type}) as (_, url):
        client = Client(url, verbose=False)
        for task, (ref, tgt) in EXAMPLES.items():
            t0 = time.perf_counter()
            out = client.predict(handle_file(str(ROOT / ref)), handle_file(str(ROOT / tgt)),
                                 resolution=task_size(task, c.cpu, floor=256),
                                 api_name=f"/{task}")
            with Image.open(out[0]) as im:
                size = list(im.size)
            res[task] = {"seconds": round(time.perf_counter() - t0, 2), "image_size": size}
            ok &= min(size) > 0
    return {"ok": ok, **res}
