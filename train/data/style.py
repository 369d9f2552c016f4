"""Style transfer data: a content folder (e.g. MS-COCO) and a style folder (e.g. WikiArt).

Each image is resized so its shorter side is ``load_size`` (512 in the paper) and a random
``size`` x ``size`` crop (256) is taken; every content image is paired with a random style image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from train.data.base import SkippingDataset
from train.data.files import list_images, read_rgb, resize, to_tensor


def random_crop(
    rng: np.random.Generator, image: np.ndarray, load_size: int, size: int
) -> np.ndarray:
    """Resize the shorter side to load_size, crop size x size at a random place: (size,size,3)."""
    h, w = image.shape[:2]
    scale = load_size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    image = resize(image, nh, nw)
    y, x = int(rng.integers(nh - size + 1)), int(rng.integers(nw - size + 1))
    return image[y : y + size, x : x + size]


class ContentStyle(SkippingDataset):
    """-> {target_semantics: content (3,S,S), ref_image: style (3,S,S)}; no reference semantics."""

    semantic_nc, ref_semantic_nc = 3, 0

    def __init__(
        self, content: str | Path, style: str | Path, size: int, load_size: int, max_images: int = 0
    ) -> None:
        self.content = list_images(content, max_images)
        self.style = list_images(style, max_images)
        self.size, self.load_size = size, load_size

    def __len__(self) -> int:
        return len(self.content)

    def name(self, index: int) -> str:
        return str(self.content[index])

    def load(self, index: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        content = random_crop(rng, read_rgb(self.content[index]), self.load_size, self.size)
        style_path = self.style[int(rng.integers(len(self.style)))]
        try:
            style = random_crop(rng, read_rgb(style_path), self.load_size, self.size)
        except OSError as err:
            raise OSError(f"style image {style_path}: {err}") from err
        return {"target_semantics": to_tensor(content), "ref_image": to_tensor(style)}
