"""scripts/gpu_check.sh runs here as a CPU dry run, so that it cannot rot between GPU runs.

The default suite runs two quick steps in-process; the whole dry run (every step, minutes on
a 2-core CPU) is marked slow.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "gpu_check.py"


def _module():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def test_quick_steps_write_json_and_table(tmp_path: Path) -> None:
    gc = _module()
    assert gc.main(["--cpu", "--out", str(tmp_path), "--steps", "versions,bf16"]) == 0
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert report["ok"] and report["mode"] == "cpu dry run"
    assert report["steps"]["versions"]["torch"].startswith("2.")
    bf16 = report["steps"]["bf16"]
    assert {"face", "pose", "style"} <= set(bf16)
    assert all(v["finite"] and v["worst_row_sum_error"] < 1e-2
               for k, v in bf16.items() if k in ("face", "pose", "style"))
    table = (tmp_path / "gpu_check.md").read_text()
    assert re.search(r"^\| versions \| yes \|", table, re.M)
    assert re.search(r"^\| bf16 \| yes \|", table, re.M)


def test_unknown_step_and_missing_cuda_are_refused(tmp_path: Path) -> None:
    gc = _module()
    with pytest.raises(SystemExit) as info:
        gc.main(["--cpu", "--out", str(tmp_path), "--steps", "versions,warp-drive"])
    assert info.value.code == 2
    if not gc.torch.cuda.is_available():
        with pytest.raises(SystemExit, match="--cpu"):
            gc.main(["--out", str(tmp_path), "--steps", "versions"])


def test_a_failing_step_is_reported_and_the_rest_run(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    gc = _module()

    def broken(check):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setitem(gc.STEPS, "parity", broken)
    assert gc.main(["--cpu", "--out", str(tmp_path), "--steps", "parity,versions"]) == 1
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert report["steps"]["parity"]["error"] == "RuntimeError: boom"
    assert report["steps"]["versions"]["ok"] and not report["ok"]
    assert "| parity | **no** |" in (tmp_path / "gpu_check.md").read_text()


def test_every_step_is_documented() -> None:
    gc = _module()
    doc = gc.__doc__
    assert all(f"``{name}``" in doc for name in gc.STEPS)
    readme = (ROOT / "README.md").read_text()
    assert "scripts/gpu_check.sh" in readme


@pytest.mark.slow
def test_full_cpu_dry_run(tmp_path: Path) -> None:
    """Every step of the GPU check on the CPU, through the shell entry point."""
    proc = subprocess.run(["bash", str(ROOT / "scripts/gpu_check.sh"), "--cpu", "--out",
                           str(tmp_path)], capture_output=True, text=True, timeout=1800,
                          env={**os.environ, "PYTHON": sys.executable})
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    failed = {k: v.get("error", v) for k, v in report["steps"].items() if not v["ok"]}
    assert proc.returncode == 0 and not failed, (failed, proc.stdout[-2000:])
    assert set(report["steps"]) == set(_module().STEPS)
    assert report["steps"]["train"]["bf16"]["summary"]["steps"] == 6
