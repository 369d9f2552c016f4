"""Fitting photos to the training frame (dynast.semantics.framing), without a network.

Real DeepFashion people and CelebA-HQ faces (tests/assets/framing) are pasted onto larger
cluttered photos at random scales, offsets and (faces) rotations up to 20 degrees; fitting
the canvas must bring them back to their original framing.

People: the person's box in the original DeepFashion picture, carried through the paste and
the fitted transform, must cover the box of the original (IoU >= 0.85) once both have the
body's centre at the same place: fitting puts every body's centre (shoulders and hips) at
DeepFashion's mean (``CENTRE_X``; the photos themselves scatter around it with sd 0.04 of the
width, which no method can recover), and that centre is checked separately (within 1 pixel).
Faces: the original's eye centres, carried through, must land within 2% of the side of where
they are in the original CelebA-HQ picture. (Re-aligning the 112 CelebA-HQ photos of the
shared sample set as they are moves their eyes by 0.5% of the side (median); one of them,
ddnm_00273, is aligned differently in the data set and moves by 2.5%.)
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from dynast.semantics import InvalidSize, NoFaceFound, NoPersonFound, load_image
from dynast.semantics.face_photo import detect_face_landmarks
from dynast.semantics.framing import Framed, FramingTransform, fit_face, fit_person
from dynast.semantics.framing_face import face_anchors
from dynast.semantics.framing_person import (
    BACKGROUND,
    CENTRE_X,
    FRAME_ASPECT,
    FULL_HEAD_TOP,
    PersonDetection,
    detect_person,
)
from dynast.semantics.keypoints import Keypoints
from dynast.semantics.pose_extract import landmarks_to_keypoints

ASSETS = Path(__file__).parent / "assets" / "framing"
PEOPLE = sorted(ASSETS.glob("person_*.jpg"))
FACES = sorted(ASSETS.glob("face_*.jpg"))
CANVASES = sorted(ASSETS.glob("canvas_*.jpg"))


def _deepfashion(path: Path) -> np.ndarray:
    """The 256 x 176 DeepFashion picture inside a 256 x 256 padded asset."""
    return np.ascontiguousarray(load_image(path)[:, 40:216])


def _canvas(rng: np.random.Generator, min_side: int) -> np.ndarray:
    photo = load_image(CANVASES[rng.integers(len(CANVASES))])
    h, w = (int(v) for v in rng.integers(min_side, min_side + 400, size=2))
    return cv2.resize(photo, (w, h), interpolation=cv2.INTER_CUBIC)


def _paste(
    canvas: np.ndarray, picture: np.ndarray, scale: float, angle: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Paste ``picture`` scaled and rotated at a random place inside ``canvas``.

    Returns the new canvas and the (2, 3) picture -> canvas matrix.
    """
    ph, pw = picture.shape[:2]
    h, w = canvas.shape[:2]
    rot = cv2.getRotationMatrix2D(((pw - 1) / 2, (ph - 1) / 2), angle, scale)
    corners = np.array([[-0.5, -0.5, 1], [pw - 0.5, -0.5, 1], [-0.5, ph - 0.5, 1],
                        [pw - 0.5, ph - 0.5, 1]]) @ rot.T
    lo, hi = corners.min(axis=0), corners.max(axis=0)
    assert (hi - lo < [w, h]).all(), "the canvas is too small for this paste"
    offset = [rng.uniform(-lo[0], w - hi[0]), rng.uniform(-lo[1], h - hi[1])]
    rot[:, 2] += offset
    flags = cv2.INTER_AREA if scale < 1 and angle == 0 else cv2.INTER_CUBIC
    warped = cv2.warpAffine(picture, rot, (w, h), flags=flags, borderMode=cv2.BORDER_REPLICATE)
    inside = cv2.warpAffine(np.ones((ph, pw), np.uint8), rot, (w, h), flags=cv2.INTER_NEAREST)
    return np.where(inside[..., None] > 0, warped, canvas), rot


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _person_case(path: Path, seed: int, size: tuple[int, int] = (256, 176)) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    picture = _deepfashion(path)
    original = detect_person(picture)
    box = np.array(original.box)
    canvas = _canvas(rng, 600)
    h, w = canvas.shape[:2]
    scale = rng.uniform(0.8, 0.95 * min(h / 256, w / 176))
    pasted, matrix = _paste(canvas, picture, scale, 0.0, rng)
    framed = fit_person(pasted, size)
    points = np.array([[box[0], box[1]], [box[2], box[3]], [original.centre_x, 0.0]])
    mapped = framed.transform.to_model(_apply(matrix, points))
    got, got_centre = mapped[:2].ravel(), mapped[2, 0]
    # The original box in the model frame: same place when the frame is 256 x 176; in the
    # middle when the model frame is wider.
    frame_scale = size[0] / 256
    left = (size[1] - FRAME_ASPECT * size[0]) / 2
    want = (box + 0.5) * frame_scale - 0.5 + [left, 0, left, 0]
    want_centre = (original.centre_x + 0.5) * frame_scale - 0.5 + left
    shift = got_centre - want_centre
    return {
        "iou": _iou(got, want),
        "iou_same_centre": _iou(got, want + [shift, 0, shift, 0]),
        "centre_error": abs(got_centre - (left + CENTRE_X * FRAME_ASPECT * size[0] - 0.5)),
        "warnings": len(framed.warnings),
    }


@pytest.mark.parametrize("path", PEOPLE, ids=lambda p: p.stem)
def test_person_on_clutter_comes_back_to_deepfashion_framing(path: Path) -> None:
    case = _person_case(path, seed=PEOPLE.index(path))
    assert case["iou_same_centre"] >= 0.85, case
    assert case["centre_error"] <= 1.0, case
    assert case["warnings"] == 0, case


@pytest.mark.slow
@pytest.mark.parametrize("size", [(256, 176), (256, 256), (512, 352)], ids=str)
@pytest.mark.parametrize("path", PEOPLE, ids=lambda p: p.stem)
def test_person_framing_many_placements(path: Path, size: tuple[int, int]) -> None:
    for seed in range(10, 16):
        case = _person_case(path, seed, size)
        assert case["iou_same_centre"] >= 0.85, (seed, case)
        assert case["centre_error"] <= size[0] / 256, (seed, case)


def _face_case(path: Path, seed: int) -> tuple[float, Framed, np.ndarray]:
    rng = np.random.default_rng(100 + seed)
    face = cv2.resize(load_image(path), (256, 256), interpolation=cv2.INTER_AREA)
    eyes = face_anchors(detect_face_landmarks(face)[0])[:2]
    canvas = _canvas(rng, 700)
    scale = rng.uniform(0.7, 2.0)
    angle = rng.uniform(-20, 20)
    pasted, matrix = _paste(canvas, face, scale, angle, rng)
    framed = fit_face(pasted, face.shape[:2])
    got = framed.transform.to_model(_apply(matrix, eyes))
    error = float(np.abs(got - eyes).max() / face.shape[1])
    return error, framed, pasted


@pytest.mark.parametrize("path", FACES, ids=lambda p: p.stem)
def test_face_on_clutter_comes_back_to_celebahq_framing(path: Path) -> None:
    error, framed, _ = _face_case(path, FACES.index(path))
    assert error <= 0.02, f"eye centres {error:.4f} of the side from the original's"
    assert framed.warnings == []


@pytest.mark.slow
@pytest.mark.parametrize("path", FACES, ids=lambda p: p.stem)
def test_face_framing_many_placements(path: Path) -> None:
    errors = [_face_case(path, seed)[0] for seed in range(10, 18)]
    assert max(errors) <= 0.02, errors


def test_face_paste_back_changes_only_the_feathered_crop() -> None:
    _, framed, pasted = _face_case(FACES[0], 7)
    output = (255 - framed.image).copy()
    result = framed.paste_back(output, pasted)
    assert result.shape == pasted.shape and result.dtype == np.uint8
    # Where the crop square (feather included) does not reach, the photo is bit-exact.
    h, w = framed.transform.model_size
    support = cv2.warpAffine(
        np.ones((h, w), np.uint8), framed.transform.inverse, pasted.shape[1::-1],
        flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0,
    )
    near = cv2.dilate(support, np.ones((3, 3), np.uint8)) > 0
    assert np.array_equal(result[~near], pasted[~near])
    changed = np.any(result != pasted, axis=-1)
    assert changed[near].mean() > 0.5
    # The middle of the crop is the output itself.
    centre = framed.transform.to_original(np.array([[w / 2, h / 2]]))[0].round().astype(int)
    inner = framed.transform.to_model(centre[None].astype(float))[0].round().astype(int)
    diff = np.abs(result[centre[1], centre[0]].astype(int) - output[inner[1], inner[0]])
    assert diff.max() <= 40


def test_person_paste_back_maps_the_output_into_the_photo_frame() -> None:
    rng = np.random.default_rng(3)
    canvas = _canvas(rng, 600)
    pasted, _ = _paste(canvas, _deepfashion(PEOPLE[1]), 1.7, 0.0, rng)
    framed = fit_person(pasted)
    back = framed.paste_back(framed.image, pasted)
    assert back.shape == pasted.shape
    person = detect_person(pasted).mask > 0.9
    person = cv2.erode(person.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    diff = np.abs(back[person].astype(int) - pasted[person].astype(int))
    assert diff.mean() < 12, diff.mean()
    h, w = framed.transform.model_size
    outside = np.ones(pasted.shape[:2], bool)
    x0, y0 = framed.transform.to_original(np.array([[-0.5, -0.5]]))[0]
    x1, y1 = framed.transform.to_original(np.array([[w - 0.5, h - 0.5]]))[0]
    outside[max(0, int(y0) - 1):int(y1) + 2, max(0, int(x0) - 1):int(x1) + 2] = False
    assert (back[outside] == BACKGROUND).all()


def test_fitted_person_sits_on_the_deepfashion_background() -> None:
    framed = fit_person(_deepfashion(PEOPLE[0]), (256, 256))
    assert framed.image.shape == (256, 256, 3) and framed.image.dtype == np.uint8
    for corner in (framed.image[0, 0], framed.image[-1, -1], framed.image[128, 2]):
        assert np.abs(corner.astype(int) - BACKGROUND).max() <= 2


def test_transform_maps_points_both_ways_and_round_trips_through_json() -> None:
    framed = fit_face(load_image(FACES[1]))
    t = framed.transform
    points = np.array([[0.0, 0.0], [100.5, 37.25], [255.0, 255.0]])
    np.testing.assert_allclose(t.to_original(t.to_model(points)), points, atol=1e-9)
    again = FramingTransform.from_json(json.dumps(t.to_json()))
    np.testing.assert_allclose(again.matrix, t.matrix)
    assert again.original_size == t.original_size and again.model_size == t.model_size
    keypoints = Keypoints.from_xy([[120.0, 60.0]] + [None] * 16 + [[-500.0, 5.0]])
    moved = t.keypoints_to_model(keypoints).array
    np.testing.assert_allclose(moved[0, :2], t.to_model(np.array([[120.0, 60.0]]))[0], atol=1e-3)
    assert moved[0, 2] == 1 and moved[17, 2] == 0  # left the frame: missing


def test_several_faces_use_the_largest_with_a_warning() -> None:
    canvas = cv2.resize(load_image(CANVASES[0]), (900, 500))
    small, big = load_image(FACES[0]), load_image(FACES[2])
    canvas[40:40 + 160, 40:40 + 160] = cv2.resize(small, (160, 160), interpolation=cv2.INTER_AREA)
    canvas[100:100 + 330, 500:500 + 330] = cv2.resize(big, (330, 330))
    framed = fit_face(canvas)
    assert any("faces found" in w for w in framed.warnings)
    eyes = framed.transform.to_original(np.array([[97.0, 123.0], [160.0, 123.0]]))
    assert (eyes[:, 0] > 500).all(), "the larger face (on the right) must be used"


def test_errors_say_what_to_do() -> None:
    gradient = np.tile(np.linspace(0, 255, 300, dtype=np.uint8)[None, :, None], (200, 1, 3))
    with pytest.raises(NoPersonFound, match="photo"):
        fit_person(gradient)
    with pytest.raises(NoFaceFound, match="photo"):
        fit_face(gradient)
    with pytest.raises(InvalidSize):
        fit_person(_deepfashion(PEOPLE[0]), (250, 176))
    framed = fit_face(load_image(FACES[0]))
    with pytest.raises(ValueError, match="uint8"):
        framed.paste_back(np.zeros((10, 10, 3), np.uint8), load_image(FACES[0]))
    with pytest.raises(ValueError, match="original photo"):
        framed.paste_back(framed.image, np.zeros((5, 5, 3), np.uint8))


def test_fit_command_writes_the_picture_and_transform(tmp_path: Path, capsys) -> None:
    from dynast.semantics.__main__ import main

    out, tjson = tmp_path / "fit" / "face.png", tmp_path / "face.json"
    code = main(["fit", "face", "--from-image", str(FACES[1]), "--size", "128x128",
                 "--out", str(out), "--transform", str(tjson)])
    assert code == 0
    assert load_image(out).shape == (128, 128, 3)
    t = FramingTransform.from_json(tjson.read_text())
    assert t.model_size == (128, 128) and t.original_size == (256, 256)
    painting = Path(__file__).parent / "assets" / "semantics" / "painting_mondrian.jpg"
    code = main(["fit", "face", "--from-image", str(painting), "--out", str(out)])
    assert code == 2
    assert "no face found" in capsys.readouterr().err


SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.mark.slow
def test_recovery_on_the_whole_shared_sample_set() -> None:
    """Every DeepFashion full-body photo and CelebA-HQ face of ../shared/data, 3 placements
    each; prints the statistics (run with -s)."""
    if not SHARED.is_dir():
        pytest.skip(f"needs the shared sample images at {SHARED}")
    people = sorted((SHARED / "people").glob("fashion_*.jpg"))
    cases = [_person_case(p, seed) for p in people for seed in range(3)]
    raw = np.array([c["iou"] for c in cases])
    same = np.array([c["iou_same_centre"] for c in cases])
    print(f"\npeople: {len(cases)} placements; IoU min {raw.min():.3f} median "
          f"{np.median(raw):.3f}; at the same centre min {same.min():.3f} median "
          f"{np.median(same):.3f}")
    faces = sorted((SHARED / "faces").glob("*.jpg"))
    errors = np.array([_face_case(f, seed)[0] for f in faces for seed in range(3)])
    print(f"faces: {len(errors)} placements; eye error median {np.median(errors):.4f}, "
          f"95th percentile {np.percentile(errors, 95):.4f}, max {errors.max():.4f}, "
          f"within 2%: {np.mean(errors <= 0.02):.3f}")
    assert same.min() >= 0.85
    assert np.mean(errors <= 0.02) >= 0.98


@pytest.mark.slow
def test_framing_constants_match_a_fresh_measurement() -> None:
    """scripts/measure_framing.py on ../shared/data gives the constants in the code."""
    if not SHARED.is_dir():
        pytest.skip(f"needs the shared sample images at {SHARED}")
    import importlib.util

    from dynast.semantics import framing_face as ff
    from dynast.semantics import framing_person as fp

    script = Path(__file__).resolve().parents[1] / "scripts" / "measure_framing.py"
    spec = importlib.util.spec_from_file_location("measure_framing", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    people = module.measure(SHARED / "people")
    for name, value in [("full_head_top", fp.FULL_HEAD_TOP), ("full_feet", fp.FULL_FEET),
                        ("centre_x", fp.CENTRE_X), ("torso", fp.TORSO), ("head", fp.HEAD)]:
        assert abs(people[name]["mean"] - value) <= 0.002, (name, people[name])
    assert np.abs(np.array(people["background"]) - fp.BACKGROUND).max() <= 2
    faces = module.measure_faces(SHARED / "faces")
    assert abs(faces["suggested_CELEBAHQ_ZOOM"] - ff.CELEBAHQ_ZOOM) <= 0.002
    assert np.abs(np.array(faces["suggested_CELEBAHQ_SHIFT"]) - ff.CELEBAHQ_SHIFT).max() <= 0.001


def test_fitted_person_carries_its_pose_in_the_model_frame() -> None:
    from dynast.semantics import extract_pose

    photo = _deepfashion(PEOPLE[2])
    framed = fit_person(photo, (256, 256))
    assert framed.keypoints is not None and framed.keypoints.count() >= 14
    separate = framed.transform.keypoints_to_model(extract_pose(photo)[0])
    both = (framed.keypoints.array[:, 2] > 0) & (separate.array[:, 2] > 0)
    assert both.sum() >= 12
    gap = np.abs(framed.keypoints.array[both, :2] - separate.array[both, :2]).max()
    assert gap <= 4.0, gap


def _synthetic_person(hips: bool, ankles: bool) -> PersonDetection:
    """A person 400 px tall in a 440 x 240 photo: head at the top, hips and ankles visible or
    not (MediaPipe landmark indices)."""
    mask = np.zeros((440, 240), np.float32)
    mask[20:420, 80:160] = 1.0
    lm = np.zeros((33, 3), np.float32)
    lm[:, 0] = 120.0
    lm[:11] = (120.0, 50.0, 1.0)  # head
    lm[[11, 12]] = [(95.0, 100.0, 1.0), (145.0, 100.0, 1.0)]  # shoulders
    lm[[23, 24]] = [(105.0, 230.0, float(hips)), (135.0, 230.0, float(hips))]
    lm[[27, 28]] = [(105.0, 400.0, float(ankles)), (135.0, 400.0, float(ankles))]
    return PersonDetection(mask, lm, (80.0, 20.0, 160.0, 420.0), ())


@pytest.mark.parametrize("hips, ankles, warned", [(True, True, False), (True, False, False),
                                                   (False, False, True)],
                         ids=["full_body", "cut_at_the_thighs", "head_and_shoulders"])
def test_only_photos_without_the_hips_warn(hips: bool, ankles: bool, warned: bool) -> None:
    from dynast.semantics.framing_person import person_transform

    _, warnings = person_transform(_synthetic_person(hips, ankles), (256, 176))
    assert any("hips are not visible" in w for w in warnings) == warned, warnings
    assert not any("feet" in w for w in warnings), warnings


def test_a_photo_cut_at_the_thighs_keeps_the_full_body_scale() -> None:
    """Scale from the torso and head: the same person framed alike with or without the legs,
    even when MediaPipe guesses ankles below where the photo stops (off the mask)."""
    from dynast.semantics.framing_person import person_transform

    full, _ = person_transform(_synthetic_person(True, True), (256, 176))
    guessed = _synthetic_person(True, True)
    guessed.mask[300:] = 0.0  # the photo stops at the thighs; the ankles are guesses
    cut = PersonDetection(guessed.mask, guessed.landmarks, (80.0, 20.0, 160.0, 300.0), ())
    for det in (_synthetic_person(True, False), cut):
        t, _ = person_transform(det, (256, 176))
        assert abs(t.scale / full.scale - 1) <= 0.1, (t.scale, full.scale)
        head = t.to_model(np.array([[120.0, 19.5]]))[0, 1] + 0.5
        assert abs(head / 256 - FULL_HEAD_TOP) <= 0.002


def _keypoint_box_iou(reference: Keypoints, fitted: Keypoints, above: float) -> float:
    """IoU of the boxes of the keypoints found in both and above the row ``above``."""
    both = reference.present & fitted.present & (reference.array[:, 1] < above)
    assert both.sum() >= 8, both.sum()
    boxes = [np.concatenate([k.array[both, :2].min(axis=0), k.array[both, :2].max(axis=0)])
             for k in (reference, fitted)]
    return _iou(*boxes)


@pytest.mark.parametrize("path", PEOPLE[:2], ids=lambda p: p.stem)
def test_person_cut_at_the_thighs_on_clutter_is_framed_at_the_natural_scale(path: Path) -> None:
    """A DeepFashion picture cut at mid-thigh and pasted on a photo: the keypoints above the
    cut land where they are in the original picture (its body centre put at CENTRE_X, as
    every fit does), not stretched to fill the frame."""
    picture = _deepfashion(path)
    original = detect_person(picture)
    landmarks = original.landmarks
    cut = round(landmarks[[23, 24], 1].mean() * 0.5 + landmarks[[25, 26], 1].mean() * 0.5)
    rng = np.random.default_rng(PEOPLE.index(path))
    canvas = _canvas(rng, 600)
    scale = rng.uniform(0.45, 0.75) * canvas.shape[0] / 256
    pasted, matrix = _paste(canvas, np.ascontiguousarray(picture[:cut]), scale, 0.0, rng)
    framed = fit_person(pasted)
    assert framed.keypoints is not None and framed.warnings == []
    # The original picture's keypoints, moved sideways as fitting centres the body.
    shift = (CENTRE_X * 176 - 0.5) - original.centre_x
    reference = landmarks_to_keypoints(landmarks, 256, 176).map_xy(lambda xy: xy + [shift, 0])
    assert _keypoint_box_iou(reference, framed.keypoints, cut - 0.5) >= 0.8
    hips = framed.transform.to_model(_apply(matrix, landmarks[[23, 24], :2]))
    assert np.abs(hips[:, 1] - landmarks[[23, 24], 1]).max() <= 256 * 0.03


def _scene() -> tuple[np.ndarray, dict[str, tuple[slice, slice]]]:
    """A person in a picture pasted on a dark painting, cut at the thighs: (360, 300, 3) uint8
    and the regions (rows, cols) drawn."""
    regions = {
        "picture": (slice(20, 250), slice(60, 240)), "head": (slice(40, 85), slice(135, 165)),
        "shirt": (slice(85, 170), slice(115, 185)), "pattern": (slice(110, 125), slice(140, 160)),
        "legs": (slice(170, 250), slice(120, 180)), "strip": (slice(250, 330), slice(118, 182)),
        "stray": (slice(280, 320), slice(10, 40)),
    }
    colours = {"picture": (240, 241, 242), "head": (220, 180, 150), "shirt": (200, 30, 30),
               "pattern": (230, 200, 40), "legs": (30, 30, 200), "strip": (70, 70, 70),
               "stray": (70, 70, 70)}
    rgb = np.full((360, 300, 3), 60, np.uint8)
    for name, region in regions.items():
        rgb[region] = colours[name]
    return rgb, regions


def _fake_pose_with_mask(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MediaPipe's mistakes on :func:`_scene`: the shirt's pattern missed (a hole), the legs
    continued over the painting below the picture (a strip) with knees and ankles there, and
    a patch of the painting taken for the person. Landmarks follow the shirt in ``rgb``."""
    person = np.zeros(rgb.shape[:2], bool)
    for colour in ((220, 180, 150), (200, 30, 30), (30, 30, 200), (70, 70, 70)):
        person |= (np.abs(rgb.astype(int) - colour).max(axis=2) <= 4)
    ys, xs = np.nonzero((np.abs(rgb.astype(int) - (200, 30, 30)).max(axis=2) <= 4))
    x0, y0, x1, y1 = xs.min(), ys.min(), xs.max(), ys.max()
    lm = np.zeros((33, 3), np.float32)
    lm[:, 2] = 0.9
    lm[:11, :2] = ((x0 + x1) / 2, y0 - 25)
    lm[[11, 12], :2] = [(x0 + 5, y0 + 5), (x1 - 5, y0 + 5)]
    lm[[13, 15, 17, 19, 21], :2] = (x0 + 2, y0 + 50)
    lm[[14, 16, 18, 20, 22], :2] = (x1 - 2, y0 + 50)
    lm[[23, 24], :2] = [(x0 + 13, y1 - 2), (x1 - 13, y1 - 2)]
    lm[[25, 26], :2] = [(x0 + 13, y1 + 120), (x1 - 13, y1 + 120)]
    lm[[27, 29, 31], :2] = (x0 + 13, y1 + 155)
    lm[[28, 30, 32], :2] = (x1 - 13, y1 + 155)
    return lm, person.astype(np.float32)


def test_person_mask_is_cleaned(monkeypatch: pytest.MonkeyPatch) -> None:
    """detect_person stops the mask at the edge of the picture the person is in (no strip of
    the painting under the legs, no guessed ankles there), keeps one part and fills the hole
    MediaPipe left in the shirt's pattern."""
    from dynast.semantics import _mediapipe
    from dynast.semantics import framing_detect as fd
    from dynast.semantics.framing_person import feet_seen

    monkeypatch.setattr(_mediapipe, "run_pose_with_mask", _fake_pose_with_mask)
    monkeypatch.setattr(fd, "person_boxes", lambda rgb: [])
    monkeypatch.setattr(fd, "_largest_face_crop", lambda rgb: None)
    rgb, regions = _scene()
    det = fd.detect_person(rgb)
    person = det.mask > 0.5
    assert person[regions["pattern"]].all(), "the hole in the shirt is filled"
    assert not person[250:].any(), "nothing past the picture's edge"
    assert person[regions["legs"]].mean() > 0.95 and person[regions["shirt"]].all()
    assert det.box[3] == 249.5
    assert not feet_seen(det) and (det.landmarks[25:33, 2] == 0).all()
