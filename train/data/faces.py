"""Face data sets.

- ``FacePhotos``: any folder of face photos; semantics computed from the photo (the code the app
  runs at inference) and cached; the exemplar is a warped copy of the target. With ``fit`` the
  faces are first aligned as the pipeline aligns them (``dynast.semantics.fit_face``).
- ``CelebAMaskHQ``: CelebA-HQ + CelebAMask-HQ, the paper's 15-channel semantics made from the
  part masks; same self-supervised exemplars.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from train.data.base import SkippingDataset
from train.data.cache import ArrayCache
from train.data.exemplar_warp import apply_grid
from train.data.files import DataLayoutError, list_images, read_rgb, require, resize, to_tensor
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


class FacePhotos(SkippingDataset):
    """Folder of face photos -> {ref_image, ref_semantics, target_semantics, target} at ``size``."""

    def __init__(
        self,
        folder: str | Path,
        size: int,
        cache_dir: str | Path,
        max_images: int = 0,
        warp_strength: float = 1.0,
        fit: bool = False,
    ) -> None:
        from dynast.semantics import FACE_CHANNELS

        self.files = list_images(folder, max_images)
        self.size, self.warp_strength, self.fit = size, warp_strength, fit
        self.semantic_nc = self.ref_semantic_nc = FACE_CHANNELS
        key = f"size={size}|channels={FACE_CHANNELS}" + ("|fit_face-v1" if fit else "")
        self.cache = ArrayCache(Path(cache_dir) / "face_photo", key)

    def __len__(self) -> int:
        return len(self.files)

    def name(self, index: int) -> str:
        return str(self.files[index])

    def _semantics(self, photo: np.ndarray) -> dict[str, np.ndarray]:
        from dynast.semantics import NoFaceFound, face_semantics_from_photo

        try:
            sem, _warnings = face_semantics_from_photo(photo, (self.size, self.size))
        except NoFaceFound as err:  # cached too, so a face-less photo costs one detection only
            return {"semantics": np.zeros((0,), np.float32), "error": np.array(str(err))}
        return {"semantics": np.asarray(sem, np.float32)}

    def _aligned(self, photo: np.ndarray) -> dict[str, np.ndarray]:
        """``fit``: the face aligned as at inference (``fit_face``), and its semantics."""
        from dynast.semantics import NoFaceFound, fit_face

        try:
            image = fit_face(photo, (self.size, self.size)).image
        except NoFaceFound as err:
            return {"semantics": np.zeros((0,), np.float32), "error": np.array(str(err))}
        return {**self._semantics(image), "image": image}

    def load(self, index: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        from dynast.semantics import fit_to_size

        path = self.files[index]
        photo = read_rgb(path)
        if self.fit:
            arrays = self.cache.get(path, lambda: self._aligned(photo))
        else:
            arrays = self.cache.get(path, lambda: self._semantics(photo))
        if "error" in arrays:
            raise ValueError(f"{arrays['error']} (cached)")
        if self.fit:
            image = arrays["image"]
        else:
            image, _ = fit_to_size(photo, self.size, self.size)  # as the semantics were fitted
        sem = torch.from_numpy(arrays["semantics"])
        return _self_pair(rng, image, sem, self.warp_strength)


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
