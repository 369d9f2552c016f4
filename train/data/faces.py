"""Face data sets.

- ``FacePhotos``: any folder of face photos; semantics drawn from the photo's face mesh (the code
  the app runs at inference), the mesh cached; the exemplar is a warped copy of the target, or
  (``cross_identity``) another face with the landmark teacher. With ``fit`` the faces are first
  aligned as the pipeline aligns them (``dynast.semantics.fit_face``).
- ``CelebAMaskHQ``: CelebA-HQ + CelebAMask-HQ, the paper's 15-channel semantics made from the
  part masks; same self-supervised exemplars.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dynast.visualize import tensor_to_uint8
from train.data.base import PhotoFolder, SkippingDataset
from train.data.cache import ArrayCache
from train.data.exemplar_warp import apply_grid, colour_jitter
from train.data.face_teacher import face_teacher
from train.data.files import DataLayoutError, read_rgb, require, resize, to_tensor
from train.data.warped_pairs import warped_pair


def _self_pair(
    rng: np.random.Generator, image: np.ndarray, sem: torch.Tensor, warp_strength: float
) -> dict[str, torch.Tensor]:
    """A sample whose exemplar is a randomly warped copy of ``image`` (H, W, 3) uint8, with
    ``sem`` (C, H, W) warped alike for the reference semantics."""
    target, ref, grid = warped_pair(rng, to_tensor(image), warp_strength)
    return {
        "ref_image": ref,
        "ref_semantics": apply_grid(sem, grid),
        "target_semantics": sem,
        "target": target,
    }


@dataclass
class _Face:
    """A training photo as the model sees it: ``image`` (S, S, 3) uint8, ``landmarks`` (478, 2)
    in its pixels and ``semantics`` (C, S, S) drawn from them."""

    image: np.ndarray
    landmarks: np.ndarray
    semantics: torch.Tensor


class FacePhotos(PhotoFolder):
    """Folder of face photos -> {ref_image, ref_semantics, target_semantics, target} at ``size``.

    The face mesh of each photo is found once (MediaPipe) and cached; semantics are drawn from
    the cached landmarks. With ``cross_identity`` > 0 that share of the samples pairs two
    different photos: the exemplar is another face (colour-jittered), and the sample also
    carries ``teacher`` (3, S, S), the exemplar warped onto the target's mesh
    (:mod:`train.data.face_teacher`), ``teacher_mask`` (1, S, S) where it holds and ``cross``
    (1,) = 1. Self-pairs carry their target as the teacher, a mask of ones and ``cross`` = 0.
    """

    def __init__(
        self,
        folder: str | Path,
        size: int,
        cache_dir: str | Path,
        max_images: int = 0,
        warp_strength: float = 1.0,
        fit: bool = False,
        cross_identity: float = 0.0,
    ) -> None:
        from dynast.semantics import FACE_CHANNELS

        if not 0.0 <= cross_identity <= 1.0:
            raise ValueError(f"data.cross_identity must be in [0, 1], got {cross_identity}")
        key = f"face_mesh-v1|size={size}|fit_face-v1" if fit else "face_mesh-v1"
        super().__init__(folder, size, cache_dir, "face_photo", key, max_images=max_images,
                         warp_strength=warp_strength, fit=fit)
        self.cross_identity = cross_identity if len(self.files) > 1 else 0.0
        self.semantic_nc = self.ref_semantic_nc = FACE_CHANNELS

    def _landmarks(self, photo: np.ndarray) -> dict[str, np.ndarray]:
        from dynast import semantics

        try:
            landmarks, _warnings = semantics.detect_face_landmarks(photo)
        except semantics.NoFaceFound as err:  # cached too: a face-less photo is detected once
            return {"landmarks": np.zeros((0, 2)), "error": np.array(str(err))}
        return {"landmarks": landmarks}

    def _aligned(self, photo: np.ndarray) -> dict[str, np.ndarray]:
        """``fit``: the face aligned as at inference (``fit_face``), and its landmarks."""
        from dynast.semantics import NoFaceFound, fit_face

        try:
            image = fit_face(photo, (self.size, self.size)).image
        except NoFaceFound as err:
            return {"landmarks": np.zeros((0, 2)), "error": np.array(str(err))}
        return {**self._landmarks(image), "image": image}

    def face(self, index: int) -> _Face:
        """Photo ``index`` fitted to the training size, with its landmarks and semantics."""
        from dynast.semantics import face_semantics_from_landmarks, fit_to_size

        path = self.files[index]
        photo = read_rgb(path)
        if self.fit:
            arrays = self.cache.get(path, lambda: self._aligned(photo))
        else:
            arrays = self.cache.get(path, lambda: self._landmarks(photo))
        if "error" in arrays:
            raise ValueError(f"{arrays['error']} (cached)")
        if self.fit:
            image, transform, xy = arrays["image"], None, arrays["landmarks"]
        else:
            image, transform = fit_to_size(photo, self.size, self.size)
            xy = transform.to_dst(arrays["landmarks"])
        sem = face_semantics_from_landmarks(image, xy, transform)
        return _Face(image, xy, torch.from_numpy(np.asarray(sem, np.float32)))

    def load(self, index: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        target = self.face(index)
        if self.cross_identity > 0 and rng.random() < self.cross_identity:
            other = (index + 1 + int(rng.integers(len(self) - 1))) % len(self)
            return self._cross_pair(rng, target, self.face(other))
        sample = _self_pair(rng, target.image, target.semantics, self.warp_strength)
        if self.cross_identity > 0:  # every sample of the data set carries the same keys
            sample.update(teacher=sample["target"], teacher_mask=torch.ones(1, *sample[
                "target"].shape[1:]), cross=torch.zeros(1))
        return sample

    def _cross_pair(
        self, rng: np.random.Generator, target: _Face, exemplar: _Face
    ) -> dict[str, torch.Tensor]:
        ref = to_tensor(exemplar.image)
        ref = colour_jitter(rng, ref, self.warp_strength)
        teacher = face_teacher(tensor_to_uint8(ref), exemplar.landmarks,
                               target.image.shape[:2], target.landmarks)
        return {
            "ref_image": ref,
            "ref_semantics": exemplar.semantics,
            "target_semantics": target.semantics,
            "target": to_tensor(target.image),
            "teacher": to_tensor(teacher.image),
            "teacher_mask": torch.from_numpy(teacher.mask)[None],
            "cross": torch.ones(1),
        }


class CelebAMaskHQ(SkippingDataset):
    """CelebA-HQ + CelebAMask-HQ:

    root/CelebA-HQ-img/{id}.jpg, root/CelebAMask-HQ-mask-anno/{id // 2000}/{id:05d}_{part}.png,
    root/train.txt and root/val.txt (one image file name or id per line; without them every image
    is used). Semantics via ``dynast.semantics.render_celebamask_semantics``.
    """

    def __init__(
        self,
        root: str | Path,
        size: int,
        cache_dir: str | Path,
        split: str = "train",
        max_images: int = 0,
        warp_strength: float = 1.0,
    ) -> None:
        from dynast.semantics import CELEBAMASK_CHANNELS

        self.root = Path(root)
        self.images = require(
            self.root / "CelebA-HQ-img", "CelebA-HQ image folder (CelebA-HQ-img/)"
        )
        self.masks = require(
            self.root / "CelebAMask-HQ-mask-anno",
            "CelebAMask-HQ part masks (CelebAMask-HQ-mask-anno/)",
        )
        listing = self.root / f"{split}.txt"
        if listing.exists():
            ids = [line.strip() for line in listing.read_text().splitlines() if line.strip()]
            self.ids = [int(Path(i).stem) for i in ids]
        else:
            self.ids = sorted(int(p.stem) for p in self.images.glob("*.jpg"))
        if not self.ids:
            raise DataLayoutError(f"no images listed in {listing} or found in {self.images}")
        self.ids = self.ids[:max_images] if max_images > 0 else self.ids
        self.size, self.warp_strength = size, warp_strength
        self.semantic_nc = self.ref_semantic_nc = CELEBAMASK_CHANNELS
        self.cache = ArrayCache(Path(cache_dir) / "celebamask", f"size={size}")

    def __len__(self) -> int:
        return len(self.ids)

    def name(self, index: int) -> str:
        return str(self.images / f"{self.ids[index]}.jpg")

    def load(self, index: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        image_id = self.ids[index]
        path = Path(self.name(index))
        image = resize(read_rgb(path), self.size, self.size)

        def compute() -> dict[str, np.ndarray]:
            from dynast.semantics import load_celebamask_parts, render_celebamask_semantics

            parts = load_celebamask_parts(self.masks, image_id)
            return {
                "semantics": np.asarray(
                    render_celebamask_semantics(parts, image, self.size, self.size), np.float32
                )
            }

        sem = torch.from_numpy(self.cache.get(path, compute)["semantics"])
        return _self_pair(rng, image, sem, self.warp_strength)
