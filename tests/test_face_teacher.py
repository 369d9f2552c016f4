"""The landmark teacher (train.data.face_teacher), the mesh topology it reads, cross-identity
pairs in FacePhotos, and the losses that use them."""

from __future__ import annotations

import functools
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from dynast.semantics import detect_face_landmarks, fit_to_size, load_image
from dynast.semantics.face_mesh_topology import INNER_LIPS, contour_edges, mesh_triangles
from train.data.face_teacher import face_teacher, teacher_triangles, with_mouth_centre

REPO = Path(__file__).resolve().parents[1]
FACES = REPO / "tests" / "assets" / "train" / "faces"
SIZE = 128


@functools.lru_cache(maxsize=4)
def _face(name: str) -> tuple[np.ndarray, np.ndarray]:
    """A test face fitted to SIZE and its landmarks (MediaPipe, once per name)."""
    rgb = load_image(FACES / name)
    fitted, transform = fit_to_size(rgb, SIZE, SIZE)
    xy, _ = detect_face_landmarks(rgb)
    return fitted, transform.to_dst(xy)


def test_topology_file_is_mediapipes_mesh() -> None:
    import mediapipe as mp

    fm = mp.solutions.face_mesh
    for name, edges in contour_edges().items():
        assert edges == {tuple(sorted(e)) for e in getattr(fm, "FACEMESH_" + name)}, name
    tesselation = {tuple(sorted(e)) for e in fm.FACEMESH_TESSELATION}
    triangles = mesh_triangles()
    assert triangles.shape == (852, 3)  # 2V - B - 2 + 2 x 3 holes (eyes, mouth)
    used = {tuple(sorted((t[i], t[j]))) for t in triangles for i, j in ((0, 1), (1, 2), (0, 2))}
    assert used == tesselation  # every triangle is made of mesh edges, and covers every edge


def test_same_face_maps_every_pixel_onto_itself() -> None:
    image, xy = _face("sean_28083.jpg")
    teacher = face_teacher(image, xy, image.shape[:2], xy)
    inside = teacher.mask > 0
    assert inside.mean() > 0.15  # the face oval covers a good part of a portrait
    ys, xs = np.nonzero(inside)
    np.testing.assert_allclose(teacher.flow[ys, xs], np.stack([xs, ys], 1), atol=1e-3)
    diff = np.abs(teacher.image[inside].astype(int) - image[inside].astype(int))
    assert diff.max() <= 1
    assert (teacher.image[~inside] == 0).all()


def test_a_known_affine_move_is_recovered() -> None:
    """Exemplar = target rotated, scaled and shifted: the flow is that affine map."""
    target, xy = _face("sean_28083.jpg")
    affine = cv2.getRotationMatrix2D((SIZE / 2, SIZE / 2), 8.0, 0.9)
    affine[:, 2] += (3.0, -2.0)
    exemplar = cv2.warpAffine(target, affine, (SIZE, SIZE), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)
    ex_xy = xy @ affine[:, :2].T + affine[:, 2]
    teacher = face_teacher(exemplar, ex_xy, target.shape[:2], xy)
    inside = teacher.mask > 0.99
    ys, xs = np.nonzero(inside)
    expected = np.stack([xs, ys, np.ones_like(xs)], 1) @ affine.T
    np.testing.assert_allclose(teacher.flow[ys, xs], expected, atol=1e-3)
    err = np.abs(teacher.image[inside].astype(float) - target[inside].astype(float)).mean()
    assert err < 6, err  # two bilinear resamplings of the photo


def test_mirrored_exemplar_folds_every_triangle() -> None:
    image, xy = _face("sean_28083.jpg")
    mirrored = xy.copy()
    mirrored[:, 0] = SIZE - 1 - mirrored[:, 0]
    teacher = face_teacher(image[:, ::-1].copy(), mirrored, image.shape[:2], xy)
    assert teacher.mask.max() == 0


def _mouth_pixels(xy: np.ndarray) -> np.ndarray:
    triangles, is_mouth = teacher_triangles()
    canvas = np.zeros((SIZE, SIZE), np.uint8)
    pts = with_mouth_centre(xy)
    for t in triangles[is_mouth]:
        cv2.fillConvexPoly(canvas, np.round(pts[t]).astype(np.int32), 1)
    return cv2.erode(canvas, np.ones((3, 3), np.uint8)) > 0  # its inside, not the lips' edge


def test_mouth_is_left_out_when_one_mouth_is_open_and_the_other_not() -> None:
    image, xy = _face("sean_28083.jpg")
    lower = [i for i in INNER_LIPS if xy[i, 1] > xy[sorted(INNER_LIPS)].mean(0)[1]]
    opened = xy.copy()
    opened[lower, 1] += 0.04 * SIZE  # the target's mouth drops open
    mouth = _mouth_pixels(opened)
    assert mouth.sum() > 20
    open_vs_closed = face_teacher(image, xy, image.shape[:2], opened)
    assert open_vs_closed.mask[mouth].max() == 0
    same = face_teacher(image, opened, image.shape[:2], opened)
    assert same.mask[mouth].mean() > 0.5


def test_cross_identity_pairs_carry_the_teacher(tmp_path: Path) -> None:
    from train.data.faces import FacePhotos

    cross = FacePhotos(FACES, size=64, cache_dir=tmp_path / "c", cross_identity=1.0)
    sample = cross[(0, 3)]
    assert sample["cross"].item() == 1
    assert sample["teacher"].shape == (3, 64, 64) and sample["teacher_mask"].shape == (1, 64, 64)
    mask = sample["teacher_mask"][0]
    assert 0 <= mask.min() and mask.max() == 1 and (mask > 0).float().mean() > 0.1
    assert (sample["teacher"][:, mask == 0] == -1).all()  # black outside the mask
    target = cross.face(0)
    assert torch.equal(sample["target_semantics"], target.semantics)
    assert not torch.equal(sample["ref_semantics"], target.semantics)  # another face

    mixed = FacePhotos(FACES, size=64, cache_dir=tmp_path / "c", cross_identity=0.5)
    kinds = {mixed[(0, seed)]["cross"].item() for seed in range(12)}
    assert kinds == {0.0, 1.0}
    self_pair = next(mixed[(0, s)] for s in range(12) if mixed[(0, s)]["cross"].item() == 0)
    assert torch.equal(self_pair["teacher"], self_pair["target"])
    assert self_pair["teacher_mask"].min() == 1
    plain = FacePhotos(FACES, size=64, cache_dir=tmp_path / "c")[(0, 3)]
    assert "teacher" not in plain  # the paper's recipe: batches as before


def test_cross_identity_is_refused_where_there_are_no_faces(tmp_path: Path) -> None:
    from train.config import DataConfig
    from train.tasks import training_task

    data = DataConfig(kind="photos", path=str(REPO / "tests/assets/train/people"), size=32,
                      cross_identity=0.5)
    with pytest.raises(ValueError, match="cross_identity is for face photo folders"):
        training_task("pose").build_dataset(data, tmp_path)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        training_task("face").build_dataset(DataConfig(path=str(FACES), size=32, cross_identity=2),
                                       tmp_path)


def test_teacher_figure_rows_are_exemplar_target_teacher_mask(tmp_path: Path) -> None:
    from train.teacher_figure import main, teacher_rows

    grid = teacher_rows(sorted(FACES.glob("*.jpg")), 64, 2)
    assert grid.shape == (128, 256, 3) and grid.dtype == np.uint8
    mask = grid[:64, 192:]
    assert (mask == 0).any() and (mask == 255).any()  # a mask with inside and outside
    main(["--heldout", str(FACES), "--out", str(tmp_path / "t.jpg"), "--size", "64"])
    assert (tmp_path / "t.jpg").stat().st_size > 0
