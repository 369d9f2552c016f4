"""Bounded load test: 20 concurrent /face requests against ``python app.py`` (opt-in, slow).

The app runs as its own process on 127.0.0.1 with the shipped face checkpoint; every answer
must be the picture a single request gives (same size, same pixels), and the app process's
peak resident memory (VmHWM) must stay under ``PEAK_BOUND_GB``. The numbers are written to
``test-artifacts/app_load.json``.
"""
from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
FACE_REF = ROOT / "examples/face/reference/1_sean_28083.jpg"
FACE_TGT = ROOT / "examples/face/target/1_sean_28613.jpg"
REQUESTS = 20
RESOLUTION = 256
PEAK_BOUND_GB = 2.5  # measured 1.37 GB here (2 vCPUs, shipped ngf-16 face model, 256 px)
TIME_BOUND_S = 900.0


def _app_server():
    spec = importlib.util.spec_from_file_location("gpu_check_app",
                                                  ROOT / "scripts/gpu_check_app.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module.app_server


def _peak_rss_gb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 2**20  # kB -> GB
    raise AssertionError("no VmHWM in /proc/PID/status")


def _pixels(path: str) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_twenty_concurrent_face_requests() -> None:
    from gradio_client import Client, handle_file

    with _app_server()({"DYNAST_DEVICE": "cpu"}) as (proc, url):
        client = Client(url, verbose=False)
        args = (handle_file(str(FACE_REF)), handle_file(str(FACE_TGT)))
        single = _pixels(client.predict(*args, resolution=RESOLUTION, api_name="/face")[0])
        rss_before = _peak_rss_gb(proc.pid)
        t0 = time.perf_counter()
        jobs = [client.submit(*args, resolution=RESOLUTION, api_name="/face")
                for _ in range(REQUESTS)]
        answers = [job.result(timeout=TIME_BOUND_S) for job in jobs]
        seconds = time.perf_counter() - t0
        peak = _peak_rss_gb(proc.pid)
        assert proc.poll() is None, "the app died under load"
        after = _pixels(client.predict(*args, resolution=RESOLUTION, api_name="/face")[0])
    report = {"requests": REQUESTS, "resolution": RESOLUTION, "seconds": round(seconds, 1),
              "per_request_s": round(seconds / REQUESTS, 2),
              "peak_rss_gb_after_warmup": round(rss_before, 2), "peak_rss_gb": round(peak, 2),
              "bound_gb": PEAK_BOUND_GB}
    out = ROOT / "test-artifacts"
    out.mkdir(exist_ok=True)
    (out / "app_load.json").write_text(json.dumps(report, indent=2))
    print(f"\napp load: {report}")
    for answer in answers:
        got = _pixels(answer[0])
        assert got.shape == single.shape
        assert np.abs(got.astype(int) - single).max() <= 1
    assert after.shape == single.shape
    assert seconds < TIME_BOUND_S
    assert peak < PEAK_BOUND_GB, report
