"""The app in a real browser: Debian's headless Chromium driven by Playwright.

Needs ``pip install playwright`` (the Python package only; never ``playwright install``) and
``apt-get install -y chromium`` (Debian's /usr/bin/chromium). Missing either is a failure
with install instructions, not a skip. Screenshots go to test-artifacts/ (gitignored).
"""
from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_pipeline import make_tiny_checkpoints  # tests/ is on sys.path

from app import AppSettings, build_app, launch

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
EX = ROOT / "examples"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("DYNAST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
INSTALL = ("install them with: `pip install playwright` (the Python package; do not run "
           "`playwright install`) and `apt-get install -y chromium` (Debian's /usr/bin/chromium)")
TIMEOUT_MS = 240_000


def _sync_playwright() -> Any:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(f"the Playwright Python package is missing; {INSTALL}")
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        pytest.fail(f"Chromium is missing at {CHROMIUM}; {INSTALL}")
    return sync_playwright


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("ckpt")
    ckpts = make_tiny_checkpoints(root)
    settings = AppSettings(checkpoints={t: str(p) for t, p in ckpts.items()},
                           checkpoints_root=root, min_resolution=64, default_resolution=128,
                           device="cpu")
    demo = build_app(settings)
    port = _free_port()
    launch(demo, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


@pytest.fixture(scope="module")
def page(url: str) -> Iterator[Any]:
    sync_playwright = _sync_playwright()
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(url, wait_until="domcontentloaded", timeout=TIMEOUT_MS)
        pg.wait_for_selector("#pose-run", timeout=TIMEOUT_MS)
        pg.errors = errors  # type: ignore[attr-defined]
        yield pg
        browser.close()


def _upload(page: Any, elem_id: str, path: Path) -> None:
    page.locator(f"#{elem_id} input[type=file]").set_input_files(str(path))
    page.wait_for_selector(f"#{elem_id} img", timeout=TIMEOUT_MS)


def _run_and_check(page: Any, task: str) -> None:
    page.click(f"#{task}-run")
    page.wait_for_function(
        f"Array.from(document.querySelectorAll('#{task}-output img'))"
        ".some(i => i.complete && i.naturalWidth > 0 && i.getBoundingClientRect().width > 10)",
        timeout=TIMEOUT_MS)
    page.wait_for_function(
        f"document.querySelectorAll('#{task}-warps img').length >= 8", timeout=TIMEOUT_MS)
    page.wait_for_function(
        f"document.querySelectorAll('#{task}-confidence img').length >= 8", timeout=TIMEOUT_MS)
    assert "total" in page.inner_text(f"#{task}-timings")


def _inspect(page: Any, task: str) -> None:
    img = page.locator(f"#{task}-output img").first
    box = img.bounding_box()
    assert box and box["width"] > 10
    img.click(position={"x": box["width"] * 0.5, "y": box["height"] * 0.4})
    page.wait_for_function(
        f"document.querySelectorAll('#{task}-inspector img').length >= 8", timeout=TIMEOUT_MS)
    # images load lazily: bring the inspector into view first
    page.locator(f"#{task}-inspector").scroll_into_view_if_needed()
    page.wait_for_function(
        f"Array.from(document.querySelectorAll('#{task}-inspector-query img'))"
        ".some(i => i.complete && i.naturalWidth > 0)", timeout=TIMEOUT_MS)
    page.wait_for_function(
        f"Array.from(document.querySelectorAll('#{task}-inspector img'))"
        ".filter(i => i.complete && i.naturalWidth > 0).length >= 8", timeout=TIMEOUT_MS)


def test_pose_tab_run_and_inspect(page: Any) -> None:
    _upload(page, "pose-reference", EX / "pose/reference/1_fashion_woman_blouse.jpg")
    _upload(page, "pose-target", EX / "pose/target/1_imper_a_pose.jpg")
    _run_and_check(page, "pose")
    page.screenshot(path=str(ARTIFACTS / "app_pose_result.png"), full_page=True)
    _inspect(page, "pose")
    page.screenshot(path=str(ARTIFACTS / "app_pose_inspector.png"), full_page=True)
    assert not page.errors, page.errors  # type: ignore[attr-defined]


def test_style_tab(page: Any) -> None:
    page.get_by_role("tab", name="Style transfer").click()
    page.wait_for_selector("#style-run", state="visible", timeout=TIMEOUT_MS)
    _upload(page, "style-reference", EX / "style/style/1_adain_mondrian.jpg")
    _upload(page, "style-target", EX / "style/content/1_adain_chicago.jpg")
    _run_and_check(page, "style")
    _inspect(page, "style")
    page.screenshot(path=str(ARTIFACTS / "app_style_result.png"), full_page=True)


def test_face_tab_bad_input_shows_message(page: Any, tmp_path: Path) -> None:
    page.get_by_role("tab", name="Faces").click()
    page.wait_for_selector("#face-run", state="visible", timeout=TIMEOUT_MS)
    _upload(page, "face-reference", EX / "face/reference/1_sean_28083.jpg")
    _upload(page, "face-target", EX / "style/content/1_adain_chicago.jpg")  # no face in it
    page.click("#face-run")
    toast = page.get_by_text("face", exact=False).filter(has_text="no face")
    toast.first.wait_for(timeout=TIMEOUT_MS)
    page.screenshot(path=str(ARTIFACTS / "app_face_error.png"), full_page=False)
    assert "Traceback" not in page.content()
    # a good target afterwards works
    _upload(page, "face-target", EX / "face/target/1_sean_28613.jpg")
    _run_and_check(page, "face")
    page.screenshot(path=str(ARTIFACTS / "app_face_result.png"), full_page=True)
