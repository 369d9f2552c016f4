"""The ZeroGPU runner (app/zerogpu.py) with the real ``spaces`` package installed.

Off a ZeroGPU Space ``spaces.GPU`` returns the decorated function unchanged, so the runner
runs in-process: it must give the default runner's image, and only the model call may be
decorated (semantics and PNG encoding stay in the main process).
"""
from __future__ import annotations

import multiprocessing
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from app import zerogpu
from conftest import random_inputs, tiny_config
from dynast import DynaST
from dynast.inference.pipeline import DynaSTPipeline, LocalRunner

ROOT = Path(__file__).resolve().parent.parent
FACE_REF = ROOT / "examples/face/reference/1_sean_28083.jpg"
FACE_TGT = ROOT / "examples/face/target/1_sean_28613.jpg"


@pytest.fixture(scope="module")
def tiny() -> DynaST:
    torch.manual_seed(0)
    return DynaST(tiny_config()).eval()


def _run(runner, model: DynaST, size: int = 32):
    ref, ref_sem, tgt_sem = random_inputs(model.config, height=size, width=size)
    return runner(model, ref, ref_sem, tgt_sem, top_k=3, precision="fp32")


def test_off_a_space_the_runner_is_not_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    assert not zerogpu.on_zerogpu()
    assert zerogpu.make_runner() is None
    assert zerogpu.zerogpu_precision() == "bf16"  # ZeroGPU's H200: compute capability 9.0
    assert zerogpu.ZeroGPURunner.host_device == "cpu"


def test_spaces_gpu_runs_the_model_call_directly_off_a_space(tiny: DynaST) -> None:
    runner = zerogpu.ZeroGPURunner()  # the real spaces.GPU
    assert runner.call is zerogpu._model_call
    got, want = _run(runner, tiny), _run(LocalRunner(), tiny)
    assert torch.equal(got.image, want.image)
    assert [b.kind for b in got.blocks] == [b.kind for b in want.blocks]
    for g, w in zip(got.warps, want.warps):
        torch.testing.assert_close(g.float(), w, atol=2e-3, rtol=2e-3)
    for g, w in zip(got.matches, want.matches):
        assert torch.equal(g.indices.long(), w.indices) and torch.equal(g.kept, w.kept)
        torch.testing.assert_close(g.weights.float(), w.weights, atol=1e-3, rtol=1e-2)


def test_pipeline_with_the_runner_gives_the_default_image(tmp_path: Path) -> None:
    from dynast.semantics import FACE_CHANNELS

    torch.manual_seed(1)
    model = DynaST(tiny_config(semantic_nc=FACE_CHANNELS, ref_semantic_nc=FACE_CHANNELS,
                               ngf=8)).eval()
    kw = dict(device="cpu", precision="fp32", resolution=64, model=model)
    default = DynaSTPipeline("face", **kw)(FACE_REF, FACE_TGT)
    zero = DynaSTPipeline("face", runner=zerogpu.ZeroGPURunner(), **kw)(FACE_REF, FACE_TGT)
    assert np.array_equal(np.asarray(default.image), np.asarray(zero.image))
    assert len(zero.warps) == len(default.warps)
    a = default.matches_at(20, 30)
    b = zero.matches_at(20, 30)
    assert [(x.xy.tolist(), x.kept.tolist()) for x in a] == [(y.xy.tolist(), y.kept.tolist())
                                                            for y in b]


class _RecordingGPU:
    """Stands in for ``spaces.GPU``: records what it decorates and every call."""

    def __init__(self) -> None:
        self.decorated: list[tuple[object, object]] = []
        self.calls: list[tuple[tuple, dict, int]] = []

    def __call__(self, *, duration):
        def wrap(fn):
            self.decorated.append((fn, duration))

            def worker(*args, **kwargs):
                self.calls.append((args, kwargs, duration(*args, **kwargs)))
                return fn(*args, **kwargs)

            return worker

        return wrap


def test_only_the_model_call_is_decorated_with_a_duration_from_the_size(tiny: DynaST) -> None:
    gpu = _RecordingGPU()
    runner = zerogpu.ZeroGPURunner(gpu)
    assert gpu.decorated == [(zerogpu._model_call, zerogpu.gpu_seconds)]
    out = _run(runner, tiny, size=64)
    (args, kwargs, seconds), = gpu.calls
    assert args[0].model is tiny and kwargs == {"top_k": 3, "precision": "fp32"}
    assert all(t is None or t.device.type == "cpu" for t in args[1:])
    assert seconds == zerogpu.GPU_SECONDS_BASE + 1  # 64x64 is 0.004 megapixels
    assert out.image.device.type == "cpu" and out.image.dtype == torch.float32
    sizes = {r: zerogpu.gpu_seconds(None, None, None, torch.empty(1, 1, r, r), top_k=4,
                                    precision="bf16") for r in (256, 512, 1024)}
    assert sizes == {256: 12, 512: 16, 1024: 31}
    assert zerogpu.gpu_seconds(None, None, None, torch.empty(8, 1, 1024, 1024), top_k=4,
                               precision="bf16") == zerogpu.GPU_SECONDS_MAX


def _serve(fn, inbox, outbox) -> None:
    args, kwargs = inbox.get()
    outbox.put(fn(*args, **kwargs))
    inbox.get()  # stay alive (as ZeroGPU's workers do) until the result's tensors are fetched


class _ForkedGPU:
    """Like ZeroGPU: the decorated function runs in a forked worker process and its
    arguments and result cross through pickling queues (torch's shared-memory reductions)."""

    def __call__(self, *, duration):
        def wrap(fn):
            def call(*args, **kwargs):
                ctx = multiprocessing.get_context("fork")
                inbox, outbox = ctx.SimpleQueue(), ctx.SimpleQueue()
                worker = ctx.Process(target=_serve, args=(fn, inbox, outbox), daemon=True)
                worker.start()
                try:
                    inbox.put((args, kwargs))
                    return outbox.get()
                finally:
                    inbox.put(None)
                    worker.join(60)

            return call

        return wrap


def test_the_model_crosses_a_process_boundary_like_on_zerogpu(tiny: DynaST) -> None:
    """The model holds spectral-norm parametrizations, which cannot be pickled: the runner
    sends a ModelRef (config + weights) that the worker rebuilds."""
    got = _run(zerogpu.ZeroGPURunner(_ForkedGPU()), tiny)
    want = _run(LocalRunner(), tiny)
    assert torch.equal(got.image, want.image)
    assert [tuple(m.indices.shape) for m in got.matches] == [tuple(m.indices.shape)
                                                            for m in want.matches]
    ref, ref_sem, tgt_sem = random_inputs(tiny.config)
    ref[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError):
        zerogpu.ZeroGPURunner(_ForkedGPU())(tiny, ref, ref_sem, tgt_sem, top_k=3,
                                             precision="fp32")


def test_spaces_gpu_is_applied_nowhere_else_in_the_app() -> None:
    files = [*sorted((ROOT / "app").glob("*.py")), ROOT / "app.py"]
    users = [p.name for p in files if re.search(r"\bspaces\.GPU\b|^\s*import spaces",
                                                 p.read_text(), re.M)]
    assert users == ["zerogpu.py"]


def test_worker_errors_come_back_with_their_type_and_message(tiny: DynaST) -> None:
    runner = zerogpu.ZeroGPURunner(_RecordingGPU())
    ref, ref_sem, tgt_sem = random_inputs(tiny.config)
    ref[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError) as info:
        runner(tiny, ref, ref_sem, tgt_sem, top_k=3, precision="fp32")
    assert "nan" in str(info.value).lower() or "finite" in str(info.value).lower()


def test_compact_output_halves_the_bytes_and_keeps_what_the_inspector_needs(
        tiny: DynaST) -> None:
    ref, ref_sem, tgt_sem = random_inputs(tiny.config, height=64, width=64)
    with torch.inference_mode():
        raw = tiny(ref, ref_sem, tgt_sem, return_warps=True, return_matches=True)
    small = zerogpu.compact_output(raw)
    assert zerogpu.output_nbytes(small) < 0.6 * zerogpu.output_nbytes(raw)
    m = small.matches[-1]
    assert (m.indices.dtype, m.kept.dtype, m.weights.dtype, m.attention.dtype) == (
        torch.int32, torch.bool, torch.float16, torch.float16)
    assert all(w.dtype == torch.float16 for w in small.warps + small.confidence)
    assert torch.equal(small.image, raw.image)
