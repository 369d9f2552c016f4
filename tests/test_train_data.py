"""Data-set parsers on small trees in the published layouts, corrupt files, warps, sampling."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from train.data.base import collate
from train.data.exemplar_warp import apply_grid, random_warp_grid, warp_points
from train.data.files import DataLayoutError, read_rgb
from train.data.people import DeepFashion
from train.data.sampling import StepBatchSampler
from train.data.style import ContentStyle

ASSETS = Path(__file__).resolve().parent / "assets" / "train"
PEOPLE = sorted((ASSETS / "people").glob("*.jpg"))

# One person's OpenPose output in the release's text format
# (x y score id / 18 indices + score + count).
CANDIDATE = "\n".join(
    f"{x:.18e} {y:.18e} {0.9:.18e} {i:.18e}"
    for i, (x, y) in enumerate(
        [
            (128, 31),
            (128, 69),
            (98, 67),
            (93, 121),
            (105, 164),
            (157, 71),
            (160, 124),
            (172, 171),
            (111, 169),
            (113, 250),
            (150, 169),
            (144, 250),
            (123, 26),
            (137, 25),
            (113, 29),
            (145, 28),
        ]
    )
)
SUBSET = " ".join(
    f"{v:.18e}" for v in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, -1, 10, 11, -1, 12, 13, 14, 15, 28.2, 16]
)

ENTRIES = [
    r"img\WOMEN\Dresses\id_00000001\01_1_front.jpg",
    r"img\WOMEN\Dresses\id_00000001\01_2_side.jpg",
    r"img\MEN\Denim\id_00000002\02_1_front.jpg",
    r"img\MEN\Denim\id_00000002\02_3_back.jpg",
]


def make_deepfashion(root: Path, corrupt: str | None = None) -> Path:
    """The CoCosNet / DynaST DeepFashion layout with four images of two people."""
    for entry, src in zip(ENTRIES, PEOPLE):
        rel = Path(entry.replace("\\", "/"))
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, root / rel)
        pose = root / "pose" / rel.relative_to("img")
        pose.parent.mkdir(parents=True, exist_ok=True)
        Path(f"{pose.with_suffix('')}_candidate.txt").write_text(CANDIDATE + "\n")
        Path(f"{pose.with_suffix('')}_subset.txt").write_text(SUBSET + "\n")
    if corrupt:
        (root / corrupt.replace("\\", "/")).write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (root / "train.txt").write_text("\n".join(ENTRIES))
    (root / "val.txt").write_text("\n".join(ENTRIES[:2]))
    (root / "deepfashion_self_pair.txt").write_text(
        f"{ENTRIES[0]},{ENTRIES[1]}\n{ENTRIES[1]},{ENTRIES[0]}\n{ENTRIES[2]},{ENTRIES[3]}\n"
    )
    (root / "deepfashion_ref.txt").write_text(f"{ENTRIES[3]},{ENTRIES[0]},{ENTRIES[2]}\n")
    (root / "deepfashion_ref_test.txt").write_text(
        f"{ENTRIES[0]},{ENTRIES[2]}\n{ENTRIES[1]},{ENTRIES[3]}\n"
    )
    return root


def test_deepfashion_layout_pairs_and_semantics(tmp_path: Path) -> None:
    ds = DeepFashion(make_deepfashion(tmp_path / "df"), size=64, split="train")
    assert len(ds) == 4
    pairs = dict(ds.pairs)
    assert pairs["img/WOMEN/Dresses/id_00000001/01_1_front.jpg"] == [
        "img/WOMEN/Dresses/id_00000001/01_2_side.jpg"
    ]
    assert pairs["img/MEN/Denim/id_00000002/02_3_back.jpg"] == [
        "img/MEN/Denim/id_00000002/02_1_front.jpg"
    ]  # ref.txt fallback
    sample = ds[(0, 7)]
    assert sample["skipped"] == []
    assert sample["target_semantics"].shape == (20, 64, 64) and sample["ref_semantics"].shape == (
        20,
        64,
        64,
    )
    assert (
        sample["target"].shape == (3, 64, 64)
        and -1 <= sample["target"].min() < sample["target"].max() <= 1
    )
    assert sample["target_semantics"][:3].amax() > 0  # the skeleton is drawn
    val = DeepFashion(tmp_path / "df", size=64, split="val")
    assert dict(val.pairs)["img/WOMEN/Dresses/id_00000001/01_1_front.jpg"] == [
        "img/MEN/Denim/id_00000002/02_1_front.jpg"
    ]


def test_deepfashion_corrupt_jpeg_is_skipped_and_reported(tmp_path: Path) -> None:
    ds = DeepFashion(make_deepfashion(tmp_path / "df", corrupt=ENTRIES[0]), size=64, split="train")
    sample = ds[
        (0, 1)
    ]  # the corrupt target, then a target whose reference is that file: both skipped
    assert sample["skipped"] and all(
        "01_1_front.jpg" in reason for _name, reason in sample["skipped"]
    )
    assert sample["skipped"][0][0].endswith("01_1_front.jpg")  # (sample name, reason)
    assert sample["target"].shape == (3, 64, 64)
    batch = collate([sample, ds[(2, 3)]])
    assert batch["target"].shape == (2, 3, 64, 64) and batch["skipped"] == sample["skipped"]


@pytest.mark.parametrize("missing", ["pose", "train.txt", "deepfashion_self_pair.txt"])
def test_deepfashion_wrong_layout_names_the_missing_path(tmp_path: Path, missing: str) -> None:
    root = make_deepfashion(tmp_path / "df")
    target = root / missing
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    with pytest.raises(DataLayoutError, match=str(target).replace("\\", "\\\\")):
        DeepFashion(root, size=64, split="train")


def test_style_folders_crop_and_skip_corrupt(tmp_path: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(ASSETS / "style" / "content", content)
    (content / "broken.jpg").write_bytes(b"garbage")
    ds = ContentStyle(content, ASSETS / "style" / "style", size=32, load_size=48)
    names = [Path(ds.name(i)).name for i in range(len(ds))]
    sample = ds[(names.index("broken.jpg"), 5)]
    assert len(sample["skipped"]) == 1 and "broken.jpg" in sample["skipped"][0][1]
    assert sample["target_semantics"].shape == (3, 32, 32) and sample["ref_image"].shape == (
        3,
        32,
        32,
    )
    assert torch.equal(
        ds[(0, 5)]["target_semantics"], ds[(0, 5)]["target_semantics"]
    )  # seeded crops
    with pytest.raises(DataLayoutError, match="nowhere"):
        ContentStyle(tmp_path / "nowhere", ASSETS / "style" / "style", 32, 48)


def test_warp_moves_points_where_the_image_content_goes() -> None:
    rng = np.random.default_rng(3)
    h = w = 64
    grid = random_warp_grid(rng, h, w, strength=1.5)
    assert np.abs(grid - random_warp_grid(np.random.default_rng(3), h, w, 1.5)).max() == 0
    points = np.array([[20.0, 30.0], [40.0, 25.0], [32.0, 44.0]])
    image = torch.zeros(1, h, w)
    for x, y in points.astype(int):
        image[0, y - 1 : y + 2, x - 1 : x + 2] = 1.0
    warped = apply_grid(image, grid)[0]
    moved, visible = warp_points(points, grid)
    assert visible.all()
    for x, y in moved.round().astype(int):
        assert (
            warped[y - 1 : y + 2, x - 1 : x + 2].max() > 0.5
        )  # the blob arrived at the predicted place
    far, vis = warp_points(np.array([[500.0, 500.0]]), grid)
    assert not vis[0]


def test_sampler_is_deterministic_sharded_and_resumable() -> None:
    full = StepBatchSampler(10, 2, seed=4, rank=0, world_size=2)
    other = StepBatchSampler(10, 2, seed=4, rank=1, world_size=2)
    assert full.steps_per_epoch == 2
    for step in range(6):
        a, b = full.batch_at(step), other.batch_at(step)
        assert not {i for i, _ in a} & {i for i, _ in b}
    resumed = StepBatchSampler(10, 2, seed=4, rank=0, world_size=2, start_step=3)
    it_full, it_res = iter(full), iter(resumed)
    straight = [next(it_full) for _ in range(6)]
    assert [next(it_res) for _ in range(3)] == straight[3:]
    frozen = StepBatchSampler(4, 4, seed=1, freeze_augmentation=True)
    assert sorted(frozen.batch_at(0)) == sorted(frozen.batch_at(1))
    with pytest.raises(ValueError, match="fewer than one global batch"):
        StepBatchSampler(3, 2, seed=0, world_size=2)


def test_celebamask_layout(tmp_path: Path) -> None:
    from PIL import Image

    from train.data.faces import CelebAMaskHQ

    root = tmp_path / "CelebAMask-HQ"
    (root / "CelebA-HQ-img").mkdir(parents=True)
    for image_id, face in ((1, "sean_28083.jpg"), (2500, "sean_28090.jpg")):
        shutil.copy(ASSETS / "faces" / face, root / "CelebA-HQ-img" / f"{image_id}.jpg")
        masks = root / "CelebAMask-HQ-mask-anno" / str(image_id // 2000)
        masks.mkdir(parents=True, exist_ok=True)
        skin = np.zeros((512, 512), np.uint8)
        skin[100:400, 120:380] = 255
        Image.fromarray(skin).save(masks / f"{image_id:05d}_skin.png")
        nose = np.zeros((512, 512), np.uint8)
        nose[220:300, 230:280] = 255
        Image.fromarray(nose).save(masks / f"{image_id:05d}_nose.png")
    (root / "train.txt").write_text("1.jpg\n2500.jpg\n")
    ds = CelebAMaskHQ(root, size=64, cache_dir=tmp_path / "cache", split="train")
    assert len(ds) == 2 and ds.semantic_nc == 15
    sample = ds[(1, 0)]
    assert sample["skipped"] == [] and sample["target_semantics"].shape == (15, 64, 64)
    assert sample["ref_semantics"].shape == (15, 64, 64) and sample["ref_image"].shape == (
        3,
        64,
        64,
    )
    with pytest.raises(DataLayoutError, match="CelebAMask-HQ-mask-anno"):
        shutil.rmtree(root / "CelebAMask-HQ-mask-anno")
        CelebAMaskHQ(root, size=64, cache_dir=tmp_path / "cache")


def test_face_photos_cache_semantics_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dynast.semantics as semantics
    from train.data.faces import FacePhotos

    calls = []
    real = semantics.detect_face_landmarks

    def counting(image):
        calls.append(image.shape)
        return real(image)

    monkeypatch.setattr(semantics, "detect_face_landmarks", counting)
    ds = FacePhotos(ASSETS / "faces", size=32, cache_dir=tmp_path / "cache", max_images=2)
    first = ds[(0, 1)]
    again = FacePhotos(ASSETS / "faces", size=32, cache_dir=tmp_path / "cache", max_images=2)[
        (0, 2)
    ]
    assert len(calls) == 1  # the second data set read the .npz
    assert torch.equal(first["target_semantics"], again["target_semantics"])
    photo = read_rgb(ds.files[0])
    expected, _ = semantics.face_semantics_from_photo(photo, (32, 32))  # as at inference
    assert torch.equal(first["target_semantics"], torch.from_numpy(np.asarray(expected)))
    assert not torch.equal(
        first["ref_image"], again["ref_image"]
    )  # a different random exemplar warp
    assert first["target_semantics"].shape[0] == ds.semantic_nc


def _colour_stats(image: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """(3,H,W) -> (3, 2): per-channel mean and std over the pixels in ``mask`` (H,W) bool."""
    pixels = image.flatten(1) if mask is None else image[:, mask]
    return torch.stack([pixels.mean(1), pixels.std(1)], 1)


def _in_frame(grid: np.ndarray) -> torch.Tensor:
    """Exemplar pixels whose source lies inside the target (at least a pixel from the border)."""
    h, w = grid.shape[:2]
    margin = np.array([2 / w, 2 / h])
    return torch.from_numpy((np.abs(grid) <= 1 - margin).all(-1))


def test_exemplar_colours_match_the_target_up_to_the_warp() -> None:
    """Only geometry differs between exemplar and target: the jitter reaches both."""
    from train.data.files import read_rgb, resize, to_tensor
    from train.data.warped_pairs import warped_pair

    photo = to_tensor(resize(read_rgb(sorted((ASSETS / "faces").glob("*.jpg"))[0]), 64, 64))
    jittered, diffs = 0, []
    for seed in range(8):
        target, exemplar, grid = warped_pair(np.random.default_rng(seed), photo, strength=1.0)
        torch.testing.assert_close(exemplar, apply_grid(target, grid))  # the target, warped
        # Mean and std per channel; the warp alone (crop, zoom) moves them by a few hundredths,
        # a jitter of the exemplar alone moved them by 0.16 on average on this photo.
        diffs.append(
            float((_colour_stats(exemplar, _in_frame(grid)) - _colour_stats(target)).abs().max())
        )
        jittered += int((_colour_stats(target) - _colour_stats(photo)).abs().max() > 0.02)
    assert max(diffs) < 0.09 and sum(diffs) / len(diffs) < 0.05, diffs
    assert jittered >= 6  # photometric jitter happened, to both sides


def test_face_photo_pairs_share_colours(tmp_path: Path) -> None:
    from train.data.faces import FacePhotos

    ds = FacePhotos(ASSETS / "faces", size=64, cache_dir=tmp_path / "cache", max_images=1)
    for seed in range(3):
        sample = ds[(0, seed)]
        ref, target = sample["ref_image"], sample["target"]
        valid = (ref != 0).any(0)  # pixels sampled from inside the target (outside: exactly 0)
        diff = (_colour_stats(ref, valid) - _colour_stats(target)).abs()[:, 0].max()
        assert diff < 0.08, f"seed {seed}: mean colour of exemplar and target differ by {diff:.3f}"


def test_photo_folders_fit_as_the_pipeline_does(tmp_path: Path) -> None:
    """data.fit: faces aligned with fit_face, people framed with fit_person, before semantics."""
    from dynast.semantics import face_semantics_from_photo, fit_face, fit_person
    from train.data.faces import FacePhotos
    from train.data.files import read_rgb
    from train.data.people import PeoplePhotos, render

    framing = ASSETS.parent / "framing"
    size = 64
    faces, people = tmp_path / "faces", tmp_path / "people"
    faces.mkdir()
    people.mkdir()
    shutil.copy(framing / "face_0.jpg", faces)
    shutil.copy(framing / "person_0.jpg", people)

    aligned = fit_face(read_rgb(faces / "face_0.jpg"), (size, size)).image
    expected, _ = face_semantics_from_photo(aligned, (size, size))
    fitted = FacePhotos(faces, size=size, cache_dir=tmp_path / "c", fit=True)[(0, 1)]
    plain = FacePhotos(faces, size=size, cache_dir=tmp_path / "c")[(0, 1)]
    assert torch.equal(fitted["target_semantics"], torch.from_numpy(np.asarray(expected)))
    assert not torch.equal(fitted["target_semantics"], plain["target_semantics"])

    framed = fit_person(read_rgb(people / "person_0.jpg"), (size, size))
    assert framed.keypoints is not None
    pose = PeoplePhotos(people, size=size, cache_dir=tmp_path / "c", fit=True)[(0, 1)]
    expected_pose = render(framed.keypoints.drop_outside(size, size), size, size)
    assert torch.equal(pose["target_semantics"], torch.as_tensor(expected_pose))
