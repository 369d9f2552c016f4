"""The app in a real browser: Debian's headless Chromium driven by Playwright.

Needs ``pip install playwright`` (the Python package only; never ``playwright install``) and
``apt-get install -y chromium`` (Debian's /usr/bin/chromium). Missing either is a failure
with install instructions, not a skip. Every tab runs at a desktop width (1280 px) and a
phone width (400 px); screenshots go to test-artifacts/ (gitignored). The shipped checkpoints
answer when they are there (so the screenshots show real outputs), else tiny random ones.
"""
from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app import AppSettings, build_app, launch
from test_pipeline import make_tiny_checkpoints  # tests/ is on sys.path

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
EX = ROOT / "examples"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("DYNAST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
INSTALL = ("install them with: `pip install playwright` (the Python package; do not run "
           "`playwright install`) and `apt-get install -y chromium` (Debian's /usr/bin/chromium)")
DOCS_SHOTS = ROOT / "docs" / "screenshots"  # refreshed with DYNAST_UPDATE_SCREENSHOTS=1
TIMEOUT_MS = int(os.environ.get("DYNAST_BROWSER_TIMEOUT_MS", "300000"))
WIDTHS = (1280, 400)
GALLERIES = ("warps", "confidence")


def _sync_playwright() -> Any:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(f"the Playwright Python package is missing; {INSTALL}")
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        pytest.fail(f"Chromium is missing at {CHROMIUM}; {INSTALL}")
    return sync_playwright


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    shipped = ROOT / "checkpoints"
    if all((shipped / t / "model.safetensors").is_file() for t in ("pose", "face", "style")):
        root = shipped
    else:
        root = tmp_path_factory.mktemp("ckpt")
        make_tiny_checkpoints(root)
    settings = AppSettings(checkpoints_root=root, min_resolution=64, device="cpu",
                           auto_precision="fp32", remotes={})
    demo = build_app(settings)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    launch(demo, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_playwright = _sync_playwright()
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def _open(browser: Any, url: str, width: int, tab: str) -> Any:
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(url, wait_until="domcontentloaded", timeout=TIMEOUT_MS)
    page.wait_for_selector("#pose-run", timeout=TIMEOUT_MS)
    page.get_by_role("tab", name=tab, exact=True).first.click()
    return page


def _upload(page: Any, elem_id: str, path: Path) -> None:
    page.locator(f"#{elem_id} input[type=file]").set_input_files(str(path))
    page.wait_for_selector(f"#{elem_id} img", timeout=TIMEOUT_MS)


def _run(page: Any, task: str) -> str:
    """Click Generate; wait for the result; return the status line."""
    page.click(f"#{task}-run")
    page.wait_for_function(
        f"(document.querySelector('#{task}-status')?.innerText || '').match(/^(Done|Error)/)",
        timeout=TIMEOUT_MS)
    return str(page.inner_text(f"#{task}-status"))


def _assert_blocks_visible(page: Any, elem_id: str) -> None:
    """All eight block images of a gallery are shown whole, without an inner scroll."""
    gallery = page.locator(f"#{elem_id}")
    gallery.scroll_into_view_if_needed()
    page.wait_for_function(
        f"Array.from(document.querySelectorAll('#{elem_id} img'))"
        ".filter(i => i.complete && i.naturalWidth > 0).length >= 8", timeout=TIMEOUT_MS)
    facts = page.evaluate(f"""() => {{
        const g = document.querySelector('#{elem_id}');
        const box = g.getBoundingClientRect();
        const scrollers = [g, ...g.querySelectorAll('*')].filter(e => {{
            const o = getComputedStyle(e).overflowY;
            return (o === 'auto' || o === 'scroll') && e.scrollHeight > e.clientHeight + 2; }});
        const imgs = [...g.querySelectorAll('img')].map(i => i.getBoundingClientRect());
        const inside = imgs.filter(r => r.width > 40 && r.left >= box.left - 1
            && r.right <= box.right + 1 && r.top >= box.top - 1 && r.bottom <= box.bottom + 1);
        const caps = [...g.querySelectorAll('.caption-label')].map(c => [c.scrollWidth,
                                                                        c.clientWidth]);
        return {{n: imgs.length, inside: inside.length, scrollers: scrollers.length,
                 cut: caps.filter(([s, c]) => s > c + 1).length, columns:
                 new Set(imgs.map(r => Math.round(r.left))).size}};
    }}""")
    assert facts["n"] == 8 and facts["inside"] == 8, facts
    assert facts["scrollers"] == 0 and facts["cut"] == 0, facts
    assert facts["columns"] == (2 if page.viewport_size["width"] <= 640 else 4), facts


def _check_outputs(page: Any, task: str, status: str) -> None:
    assert status.startswith("Done"), status
    assert "checkpoint" in status
    for name in GALLERIES:
        _assert_blocks_visible(page, f"{task}-{name}")


def _inspect(page: Any, task: str) -> None:
    img = page.locator(f"#{task}-output img").first
    img.scroll_into_view_if_needed()
    box = img.bounding_box()
    assert box and box["width"] > 10
    img.click(position={"x": box["width"] * 0.5, "y": box["height"] * 0.4})
    _assert_blocks_visible(page, f"{task}-inspector")
    # the gallery's label ("Candidates per block") does not cover the first tile
    gap = page.evaluate(f"""() => {{
        const g = document.querySelector('#{task}-inspector');
        const label = g.querySelector('[data-testid=block-label]') || g.querySelector('label');
        const first = g.querySelector('img');
        return first.getBoundingClientRect().top - label.getBoundingClientRect().bottom; }}""")
    assert gap >= 0, f"the inspector's label overlaps its first tile by {-gap:.0f} px"


def _shot(page: Any, name: str) -> None:
    # notices that cover the header: hidden, not clicked (a fading one detaches mid-click)
    page.add_style_tag(content=".toast-wrap, [data-testid=toast-body] "
                               "{ display: none !important; }")
    page.evaluate("window.scrollTo(0, 0)")
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("DYNAST_UPDATE_SCREENSHOTS") == "1":
        _docs_copy(path)


def _docs_copy(path: Path, limit: int = 290_000) -> None:
    """A small copy for the docs: desktop shots at most 900 px wide; the pose tab's phone shot
    as three columns side by side (the page cut in three); as wide and with as many colours
    as fit in ``limit`` bytes."""
    from PIL import Image

    DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
    task, width = path.stem.split("_")[1:3]
    im = Image.open(path).convert("RGB")
    if int(width) > 640:
        out = DOCS_SHOTS / f"app_{task}_desktop.png"
    elif task != "pose":  # one phone shot is enough for the docs
        return
    else:
        out, page, third = DOCS_SHOTS / f"app_{task}_phone.png", im, -(-im.height // 3)
        im = Image.new("RGB", (3 * page.width + 40, third), (255, 255, 255))
        for i in range(3):
            im.paste(page.crop((0, i * third, page.width, min(page.height, (i + 1) * third))),
                     (i * (page.width + 20), 0))
    for w in (900, 800, 720, 640, 560):
        small = im.resize((w, round(im.height * w / im.width)), Image.Resampling.LANCZOS)
        for colours in (256, 128):
            small.quantize(colours, method=Image.Quantize.FASTOCTREE,
                           dither=Image.Dither.NONE).save(out, optimize=True)
            if out.stat().st_size < limit:
                return


def _selected_source(page: Any, task: str) -> str:
    selected = page.locator(f"#{task}-source-tabs [role=tab][aria-selected=true]")
    return str(selected.inner_text()).lower()


def _two_keypoint_files(page: Any, tmp_path: Path) -> None:
    """The keypoint box shows both files of an OpenPose text pair, and its upload prompt."""
    from dynast.semantics.openpose_io import write_openpose_txt
    from dynast.tasks import pose_target_from_file

    target, _ = pose_target_from_file(EX / "poses/a_pose.json")
    cand, sub = tmp_path / "walker_candidate.txt", tmp_path / "walker_subset.txt"
    write_openpose_txt(target.keypoints, cand, sub)
    page.locator("#pose-files input[type=file]").set_input_files([str(cand), str(sub)])
    page.wait_for_function("['walker_candidate', 'walker_subset'].every(n => "
                           "document.querySelector('#pose-files').innerText.includes(n))",
                           timeout=TIMEOUT_MS)
    facts = page.evaluate("""() => {
        const box = document.querySelector('#pose-files').getBoundingClientRect();
        const names = [...document.querySelectorAll('#pose-files *')]
            .filter(e => e.children.length === 0 && /walker_(candidate|subset)/.test(e.innerText))
            .map(e => e.getBoundingClientRect());
        return {n: names.length, inside: names.filter(r => r.bottom <= box.bottom + 1
                                                     && r.top >= box.top - 1).length};
    }""")
    assert facts["n"] >= 2 and facts["inside"] == facts["n"], facts


@pytest.mark.parametrize("width", WIDTHS)
def test_pose_tab(browser: Any, url: str, width: int, tmp_path: Path) -> None:
    page = _open(browser, url, width, "Pose transfer")
    # every task's tab is in the top row, none folded into an overflow menu (phones too)
    names = page.evaluate("""() => [...document.querySelectorAll('button')].filter(b =>
        ['Pose transfer', 'Faces', 'Style', 'Video'].includes(b.innerText.trim())
        && b.getBoundingClientRect().width > 0).map(b => b.innerText.trim())""")
    assert {"Pose transfer", "Faces", "Style", "Video"} <= set(names), names
    # a shipped pose picked, then an example row (reference + target photo): the example's
    # source wins and the photo is what runs
    page.get_by_role("tab", name="Keypoint file").click()
    _two_keypoint_files(page, tmp_path)
    page.get_by_role("tab", name="Shipped pose").click()
    page.locator("#pose-preset label").nth(1).click()
    page.wait_for_selector("#pose-preview img", timeout=TIMEOUT_MS)
    page.locator("#pose-source-tabs").screenshot(path=str(ARTIFACTS / f"pose_shipped_{width}.png"))
    page.get_by_text("pose of the photo", exact=False).first.click()
    page.wait_for_function("document.querySelector('#pose-source-tabs [role=tab]"
                           "[aria-selected=true]').innerText === 'Photo'",
                           timeout=TIMEOUT_MS)
    page.wait_for_selector("#pose-target img", timeout=TIMEOUT_MS)
    status = _run(page, "pose")
    _check_outputs(page, "pose", status)
    assert _selected_source(page, "pose") == "photo"
    _inspect(page, "pose")
    _shot(page, f"app_pose_{width}")
    assert not page.errors, page.errors  # type: ignore[attr-defined]


@pytest.mark.parametrize("width", WIDTHS)
def test_face_tab(browser: Any, url: str, width: int, tmp_path: Path) -> None:
    page = _open(browser, url, width, "Faces")
    _upload(page, "face-reference", EX / "face/reference/1_sean_28083.jpg")
    # an error is shown where it happened (the status under Generate), not only in a toast
    _upload(page, "face-target", EX / "style/content/1_adain_chicago.jpg")  # no face in it
    status = _run(page, "face")
    assert status.startswith("Error: Cannot use this input") and "face" in status.lower(), status
    assert "Traceback" not in page.content() and "/tmp" not in status
    toast = page.locator("[data-testid=toast-body]").first.inner_text()
    assert "Cannot use this input" in toast, toast  # the custom title, in the notice too
    # an uploaded line drawing stays a line drawing
    page.get_by_role("tab", name="Line drawing").click()
    _upload(page, "face-line-drawing", EX / "face/sketch/2_ddnm_00234_lines.png")
    assert "line drawing" in _selected_source(page, "face")
    status = _run(page, "face")  # the earlier error is gone
    _check_outputs(page, "face", status)
    assert "line drawing" in _selected_source(page, "face")
    # the sketchpad opens with its (thin) brush selected
    page.get_by_role("tab", name="Draw", exact=True).click()
    page.wait_for_function("document.querySelector('#face-sketch button[aria-label=\"Brush\"]')"
                           "?.classList.contains('highlight')", timeout=TIMEOUT_MS)
    # the pad's label is not hidden under its toolbar (it was cut off on a phone)
    covered = page.evaluate("""() => {
        const pad = document.querySelector('#face-sketch');
        const label = pad.querySelector('[data-testid=block-label]').getBoundingClientRect();
        return [...pad.querySelectorAll('button')].map(b => b.getBoundingClientRect())
            .filter(r => r.width > 0 && r.top < label.bottom && r.bottom > label.top
                    && r.left < label.right && r.right > label.left).length; }""")
    assert covered == 0, f"{covered} toolbar button(s) cover the drawing pad's label"
    # with the drawing tab open, a photo example switches back to the photo source
    page.get_by_text("edges of the photo", exact=False).first.click()
    page.wait_for_function("document.querySelector('#face-source-tabs [role=tab]"
                           "[aria-selected=true]').innerText === 'Face photo'",
                           timeout=TIMEOUT_MS)
    page.wait_for_selector("#face-target img", timeout=TIMEOUT_MS)
    status = _run(page, "face")
    _check_outputs(page, "face", status)
    _shot(page, f"app_face_{width}")
    assert not page.errors, page.errors  # type: ignore[attr-defined]


@pytest.mark.parametrize("width", WIDTHS)
def test_style_tab(browser: Any, url: str, width: int) -> None:
    page = _open(browser, url, width, "Style")
    _upload(page, "style-reference", EX / "style/style/1_adain_mondrian.jpg")
    _upload(page, "style-target", EX / "style/content/1_adain_chicago.jpg")
    status = _run(page, "style")
    _check_outputs(page, "style", status)
    before = page.locator("#style-confidence img").first.get_attribute("src")
    page.locator("#style-normalisation").get_by_text("each block on its own range").click()
    page.wait_for_function(
        f"document.querySelector('#style-confidence img').getAttribute('src') !== '{before}'",
        timeout=TIMEOUT_MS)
    _assert_blocks_visible(page, "style-confidence")
    assert "few candidates" in page.inner_text("#style-confidence-note")
    _inspect(page, "style")
    _shot(page, f"app_style_{width}")
    assert not page.errors, page.errors  # type: ignore[attr-defined]


def _playing(page: Any, elem_id: str) -> dict:
    """Wait until Chromium has decoded the first frame of the video in ``elem_id``; return its
    size, duration and error code (None: decoded without error)."""
    page.wait_for_function(
        f"(() => {{ const v = document.querySelector('#{elem_id} video');"
        " return v && (v.error || (v.readyState >= 2 && v.videoWidth > 0)); })()",
        timeout=TIMEOUT_MS)
    return page.evaluate(
        f"(() => {{ const v = document.querySelector('#{elem_id} video');"
        " return {w: v.videoWidth, h: v.videoHeight, duration: v.duration,"
        " error: v.error ? v.error.code : null}; })()")


def test_video_tab_makes_videos_chromium_plays(browser: Any, url: str) -> None:
    """The Pose video tab with its example: both H.264 videos decode in Chromium."""
    page = _open(browser, url, 1280, "Video")
    page.get_by_text("the shipped poses, danced", exact=False).first.click()
    page.wait_for_selector("#video-reference img", timeout=TIMEOUT_MS)
    page.wait_for_function(  # the example's .zip has arrived in its (hidden) file box
        "(document.querySelector('#video-sequence')?.textContent || '')"
        ".includes('shipped_poses_dance')", timeout=TIMEOUT_MS)
    page.get_by_text("128x88", exact=True).click()  # the smallest canvas: a quicker test
    page.click("#video-run")
    page.wait_for_function(
        "(document.querySelector('#video-status')?.innerText || '').match(/^(Done|Error)/)",
        timeout=TIMEOUT_MS)
    status = str(page.inner_text("#video-status"))
    assert status.startswith("Done") and "frames" in status, status
    for elem_id in ("video-result", "video-side-by-side"):
        facts = _playing(page, elem_id)
        assert facts["error"] is None and facts["w"] > 0 and facts["duration"] > 1, facts
    _shot(page, "app_video_1280")
    assert not page.errors, page.errors  # type: ignore[attr-defined]
