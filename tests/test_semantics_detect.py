"""MediaPipe-based extraction on real photos, and face edges from photos vs sketches."""
from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from dynast.semantics import (
    FACE_CHANNELS,
    NoFaceFound,
    NoPersonFound,
    as_sketch_semantics,
    extract_pose,
    face_semantics_from_photo,
    face_semantics_from_sketch,
    load_image,
    pose_semantics_from_photo,
)

ASSETS = Path(__file__).parent / "assets" / "semantics"
PEOPLE = ["person_deepfashion_back.jpg", "person_fashion_full.jpg", "person_internet.jpg"]
FACES = ["face_celebahq_sean.jpg", "face_celebahq_stargan.jpg"]
TORSO = ("r-shoulder", "l-shoulder", "r-hip", "l-hip")


@pytest.mark.parametrize("name", PEOPLE)
def test_person_found_with_torso(name: str) -> None:
    rgb = load_image(ASSETS / name)
    kp, warnings = extract_pose(ASSETS / name)
    assert kp.has(*TORSO), (kp, warnings)
    assert kp.has("neck") and warnings == []
    assert not kp.outside(*rgb.shape[:2]).any()


def test_tightly_cropped_person_is_still_found() -> None:
    rgb = load_image(ASSETS / "person_fashion_full.jpg")
    kp, _ = extract_pose(rgb)
    (x0, y0), (x1, y1) = kp.xy[kp.present].min(0).astype(int), kp.xy[kp.present].max(0).astype(int)
    tight = rgb[max(0, y0 - 4):y1 + 4, max(0, x0 - 4):x1 + 4]
    kp_tight, _ = extract_pose(tight)
    assert kp_tight.has(*TORSO)


@pytest.mark.parametrize(
    "image",
    [
        ASSETS / "painting_mondrian.jpg",
        np.full((240, 320, 3), 200, np.uint8),
    ],
    ids=["painting", "blank"],
)
def test_no_person(image: object) -> None:
    with pytest.raises(NoPersonFound, match="one person"):
        extract_pose(image)


def test_several_people_uses_the_largest() -> None:
    big = load_image(ASSETS / "person_internet.jpg")
    small = cv2.resize(load_image(ASSETS / "person_fashion_full.jpg"), (154, 154))
    canvas = np.full((256, 256 + 20 + 154, 3), 255, np.uint8)
    canvas[:, :256] = big
    canvas[256 - 154:, 276:] = small
    kp, warnings = extract_pose(canvas)
    assert any("2 people" in w for w in warnings)
    assert kp.xy[1, 0] < 256  # the neck of the larger person on the left


def test_pose_semantics_at_model_size() -> None:
    sem, kp, _ = pose_semantics_from_photo(ASSETS / "person_deepfashion_back.jpg", (256, 176))
    assert sem.shape == (20, 256, 176) and sem.dtype == np.float32
    assert 0 <= sem.min() and sem.max() <= 1 and kp.has(*TORSO)


def test_detector_is_shared_between_threads() -> None:
    path = ASSETS / "person_internet.jpg"
    expected, _ = extract_pose(path)
    results: list = []
    threads = [
        threading.Thread(target=lambda: results.append(extract_pose(path)[0])) for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 3 and all(r == expected for r in results)


@pytest.fixture(scope="module")
def photo_semantics() -> dict[str, np.ndarray]:
    return {name: face_semantics_from_photo(ASSETS / name, (256, 256))[0] for name in FACES}


@pytest.mark.parametrize("name", FACES)
def test_face_found_in_photo(photo_semantics: dict, name: str) -> None:
    sem = photo_semantics[name]
    assert sem.shape == (FACE_CHANNELS, 256, 256) and sem.dtype == np.float32
    assert set(np.unique(sem[0])) <= {0.0, 1.0} and set(np.unique(sem[-1])) <= {0.0, 1.0}
    assert (sem[2:-1].reshape(FACE_CHANNELS - 3, -1).min(axis=1) == 0).all()  # every part drawn
    assert (sem[-1] <= sem[0]).all() and sem[-1].sum() > 500


@pytest.mark.parametrize(
    "image", [ASSETS / "painting_mondrian.jpg", np.full((256, 256, 3), 128, np.uint8)],
    ids=["painting", "blank"],
)
def test_no_face(image: object) -> None:
    with pytest.raises(NoFaceFound, match="sketch"):
        face_semantics_from_photo(image, (256, 256))


def _drawing(dark_lines: bool) -> np.ndarray:
    img = np.full((300, 240), 255, np.uint8)
    cv2.ellipse(img, (120, 150), (80, 110), 0, 0, 360, 0, 3)
    for x in (90, 150):
        cv2.ellipse(img, (x, 120), (16, 8), 0, 0, 360, 0, 3)
    cv2.line(img, (120, 130), (115, 175), 0, 3)
    cv2.ellipse(img, (120, 205), (30, 10), 0, 0, 180, 0, 3)
    return img if dark_lines else 255 - img


def test_sketch_and_photo_share_channels_and_ranges(photo_semantics: dict) -> None:
    photo = photo_semantics[FACES[0]]
    sketch, warnings = face_semantics_from_sketch(_drawing(dark_lines=True), (256, 256))
    assert warnings == []
    assert sketch.shape == photo.shape and sketch.dtype == photo.dtype
    for ch in (0, FACE_CHANNELS - 1):
        assert set(np.unique(sketch[ch])) == set(np.unique(photo[ch])) == {0.0, 1.0}
    assert 0 <= sketch[1].min() == photo[1].min() and sketch[1].max() < 1
    assert (sketch[2:-1] == 1).all()  # parts unknown
    # lines are thinned to one pixel, like the lines drawn for photos
    assert sketch[0].sum() < 0.6 * (_drawing(True) < 128).sum() * (256 / 300) ** 2


def test_sketch_polarity_is_detected() -> None:
    dark, _ = face_semantics_from_sketch(_drawing(dark_lines=True), (256, 256))
    light, _ = face_semantics_from_sketch(_drawing(dark_lines=False), (256, 256))
    assert np.array_equal(dark, light)


def test_photo_edges_drawn_as_a_sketch_give_the_sketch_form(photo_semantics: dict) -> None:
    photo = photo_semantics[FACES[1]]
    drawing = np.where(photo[0] > 0, 0, 255).astype(np.uint8)
    sketch, _ = face_semantics_from_sketch(drawing, (256, 256))
    expected = as_sketch_semantics(photo)
    agree = (sketch[0] == expected[0]).mean()
    assert agree > 0.99
    assert np.array_equal(sketch[2:-1], expected[2:-1])


def test_blank_sketch_is_refused() -> None:
    with pytest.raises(NoFaceFound, match="no visible lines"):
        face_semantics_from_sketch(np.full((64, 64), 255, np.uint8), (64, 64))


def test_small_face_in_a_large_photo_is_found() -> None:
    face = cv2.resize(load_image(ASSETS / FACES[1]), (72, 72), interpolation=cv2.INTER_AREA)
    canvas = np.full((640, 640, 3), 90, np.uint8)
    canvas[300:372, 200:272] = face
    sem, _ = face_semantics_from_photo(canvas, (640, 640))
    ys, xs = np.nonzero(sem[-1])
    assert 195 <= xs.min() and xs.max() <= 277 and 295 <= ys.min() and ys.max() <= 377


def test_detectors_are_closed_at_exit_and_rebuilt_on_use() -> None:
    """A MediaPipe graph left to interpreter shutdown sometimes aborted the process (exit -6)
    after its work was done (seen as a 1-in-10 failure of two-process training). Detectors
    are closed by an ``atexit`` hook; a hook registered earlier runs after it and checks."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(
        f"""
        import atexit, sys

        def check():
            mp = sys.modules["dynast.semantics._mediapipe"]
            print("closed-at-exit", mp._FACE_MESH._detector is None, flush=True)

        atexit.register(check)  # before the module's own hook, so it runs after it
        from dynast.semantics import _mediapipe, load_image
        rgb = load_image({str(ASSETS / FACES[0])!r})
        assert len(_mediapipe.run_face_mesh(rgb)) == 1
        _mediapipe.close_all()
        assert _mediapipe._FACE_MESH._detector is None
        assert len(_mediapipe.run_face_mesh(rgb)) == 1  # built again
        assert _mediapipe._FACE_MESH._detector is not None
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
        cwd=Path(__file__).parents[1],
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "closed-at-exit True" in done.stdout
