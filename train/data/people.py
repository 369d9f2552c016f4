"""Pose-guided people data sets.

- ``DeepFashion``: the CoCosNet / DynaST layout (below): real pairs of the same person.
- ``PeoplePhotos``: any folder of people photos; MediaPipe keypoints (cached), the exemplar is a
  warped copy of the target and its keypoints move with the same warp.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dynast.semantics import POSE_CHANNELS
from train.data.base import PhotoFolder, SkippingDataset
from train.data.exemplar_warp import warp_points
from train.data.files import DataLayoutError, read_rgb, require, resize, to_tensor
from train.data.warped_pairs import warped_pair


def render(keypoints, height: int, width: int) -> torch.Tensor:
    """(20,H,W) float32 pose semantics of a ``dynast.semantics.Keypoints`` in H x W pixels: the
    renderer inference uses (``dynast.semantics.render_pose``), nothing of our own."""
    from dynast.semantics import render_pose

    return torch.from_numpy(render_pose(keypoints, height, width))


def stretched(keypoints, src_hw: tuple[int, int], size: int):
    """Keypoints of a (h, w) photo in the pixels of that photo resized to size x size (the
    release's DeepFashion geometry; centre-aligned like ``FitTransform``)."""
    h, w = src_hw
    scale = np.array([size / w, size / h])
    return keypoints.map_xy(lambda xy: (xy + 0.5) * scale - 0.5).drop_outside(size, size)


def _normalise_entry(line: str) -> str:
    return line.strip().replace("\\", "/")


class DeepFashion(SkippingDataset):
    """DeepFashion In-shop in the CoCosNet / DynaST layout::

        root/train.txt, root/val.txt          img/<...>.jpg per line ('\\' or '/' separators)
        root/img/<...>.jpg
        root/pose/<...>_candidate.txt, root/pose/<...>_subset.txt   (OpenPose output per image)
        root/deepfashion_self_pair.txt        target,same-person ref,... (training pairs)
        root/deepfashion_ref.txt              target,...,ref (fallback reference: the last entry)
        root/deepfashion_ref_test.txt         target,ref (evaluation pairs)

    Training pairs each target with a random one of its same-person references (the release takes
    the first); evaluation uses deepfashion_ref_test.txt. Images are resized to size x size.
    """

    semantic_nc = ref_semantic_nc = POSE_CHANNELS

    def __init__(
        self, root: str | Path, size: int, split: str = "train", max_images: int = 0
    ) -> None:
        self.root = Path(root)
        listing = require(
            self.root / ("train.txt" if split == "train" else "val.txt"),
            f"DeepFashion {split} list",
        )
        require(self.root / "img", "DeepFashion image folder (img/)")
        require(self.root / "pose", "DeepFashion OpenPose folder (pose/)")
        targets = [_normalise_entry(s) for s in listing.read_text().splitlines() if s.strip()]
        refs: dict[str, list[str]] = {}
        if split == "train":
            pair_file = require(self.root / "deepfashion_self_pair.txt", "same-person pair list")
            for line in pair_file.read_text().splitlines():
                items = [_normalise_entry(s) for s in line.split(",") if s.strip()]
                if len(items) > 1:
                    refs[items[0]] = items[1:]
            fallback = self.root / "deepfashion_ref.txt"
            if fallback.exists():
                for line in fallback.read_text().splitlines():
                    items = [_normalise_entry(s) for s in line.split(",") if s.strip()]
                    if len(items) > 1 and items[0] not in refs:
                        refs[items[0]] = [items[-1]]
        else:
            test_file = require(self.root / "deepfashion_ref_test.txt", "evaluation pair list")
            for line in test_file.read_text().splitlines():
                items = [_normalise_entry(s) for s in line.split(",") if s.strip()]
                if len(items) > 1:
                    refs[items[0]] = [items[1]]
        self.pairs = [(t, refs[t]) for t in targets if t in refs]
        if not self.pairs:
            raise DataLayoutError(
                f"no entry of {listing} has a reference in the pair lists under {self.root}"
            )
        self.pairs = self.pairs[:max_images] if max_images > 0 else self.pairs
        self.size = size

    def __len__(self) -> int:
        return len(self.pairs)

    def name(self, index: int) -> str:
        return str(self.root / self.pairs[index][0])

    def _pose_files(self, entry: str) -> tuple[Path, Path]:
        stem = str(Path(entry).with_suffix(""))
        if not stem.startswith("img/"):
            raise DataLayoutError(f"DeepFashion entries start with img/, got {entry!r}")
        base = self.root / ("pose/" + stem[len("img/") :])
        return Path(f"{base}_candidate.txt"), Path(f"{base}_subset.txt")

    def _person(self, entry: str) -> tuple[torch.Tensor, torch.Tensor]:
        from dynast.semantics import read_openpose_txt

        image = read_rgb(self.root / entry)
        candidate, subset = self._pose_files(entry)
        keypoints, _warnings = read_openpose_txt(candidate, subset)
        sem = render(stretched(keypoints, image.shape[:2], self.size), self.size, self.size)
        return to_tensor(resize(image, self.size, self.size)), sem

    def load(self, index: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        target_entry, ref_entries = self.pairs[index]
        target, target_sem = self._person(target_entry)
        ref, ref_sem = self._person(ref_entries[int(rng.integers(len(ref_entries)))])
        return {
            "ref_image": ref,
            "ref_semantics": ref_sem,
            "target_semantics": target_sem,
            "target": target,
        }


class PeoplePhotos(PhotoFolder):
    """Folder of people photos -> warped self-pairs with pose semantics at size x size.

    Photos are fitted into the square keeping their aspect ratio (``fit_to_size``); MediaPipe
    keypoints (``extract_pose``) are cached, including "no person found". With ``fit`` the person
    is first cut out and framed as the pipeline frames them (``dynast.semantics.fit_person``).
    """

    semantic_nc = ref_semantic_nc = POSE_CHANNELS

    def __init__(
        self,
        folder: str | Path,
        size: int,
        cache_dir: str | Path,
        max_images: int = 0,
        warp_strength: float = 1.0,
        fit: bool = False,
    ) -> None:
        key = f"fit_person-v1|size={size}" if fit else "extract_pose-v1"
        super().__init__(folder, size, cache_dir, "people_photo", key, max_images=max_images,
                         warp_strength=warp_strength, fit=fit)

    @staticmethod
    def _detect(image: np.ndarray) -> dict[str, np.ndarray]:
        from dynast.semantics import NoPersonFound, extract_pose

        try:
            keypoints, _warnings = extract_pose(image)
        except NoPersonFound:
            return {"keypoints": np.zeros((18, 3), np.float32), "found": np.array(False)}
        return {"keypoints": np.asarray(keypoints.array), "found": np.array(True)}

    def _framed(self, photo: np.ndarray) -> dict[str, np.ndarray]:
        """``fit``: the person framed as at inference (``fit_person``) and their pose there."""
        from dynast.semantics import NoPersonFound, fit_person

        try:
            framed = fit_person(photo, (self.size, self.size))
        except NoPersonFound:
            return {"keypoints": np.zeros((18, 3), np.float32), "found": np.array(False)}
        assert framed.keypoints is not None  # fit_person always sets them
        return {
            "keypoints": np.asarray(framed.keypoints.array),
            "found": np.array(True),
            "image": framed.image,
        }

    def load(self, index: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        from dynast.semantics import Keypoints, fit_to_size

        path = self.files[index]
        photo = read_rgb(path)
        arrays = self.cache.get(path, lambda: (self._framed if self.fit else self._detect)(photo))
        if not bool(arrays["found"]):
            raise ValueError("no person found (cached)")
        if self.fit:
            fitted = arrays["image"]
            keypoints = Keypoints(arrays["keypoints"]).drop_outside(self.size, self.size)
        else:
            fitted, transform = fit_to_size(photo, self.size, self.size)
            keypoints = transform.keypoints_to_dst(Keypoints(arrays["keypoints"])).drop_outside(
                self.size, self.size
            )
        target, ref, grid = warped_pair(rng, to_tensor(fitted), self.warp_strength)
        moved = keypoints.array.copy()
        if keypoints.count():
            xy, visible = warp_points(keypoints.xy[keypoints.present].astype(np.float64), grid)
            moved[keypoints.present, :2] = xy
            moved[np.flatnonzero(keypoints.present)[~visible], 2] = 0.0
        ref_keypoints = Keypoints(moved)
        return {
            "ref_image": ref,
            "ref_semantics": render(ref_keypoints, self.size, self.size),
            "target_semantics": render(keypoints, self.size, self.size),
            "target": target,
        }
