"""What fitting a photo to a model's training frame produces: the transform and the result.

:class:`FramingTransform` is a 2-D similarity (scale, rotation, translation) from the user's
photo to the model's frame, as a 2 x 3 matrix on pixel coordinates with pixel centres at
integers (the convention of :mod:`dynast.semantics.keypoints` and of OpenCV).
:class:`Framed` holds the picture the model sees and maps the model's output back.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

import cv2
import numpy as np

from dynast.semantics.keypoints import Keypoints

__all__ = ["FramingTransform", "Framed", "warp_image"]


@dataclass(frozen=True, eq=False)
class FramingTransform:
    """Original photo -> model frame similarity.

    ``matrix``: (2, 3) float64, ``[x', y'] = matrix @ [x, y, 1]``; ``original_size`` and
    ``model_size``: (height, width) of the photo and of the model frame.
    """

    matrix: np.ndarray
    original_size: tuple[int, int]
    model_size: tuple[int, int]

    def __post_init__(self) -> None:
        m = np.array(self.matrix, np.float64, copy=True).reshape(2, 3)
        m.setflags(write=False)
        object.__setattr__(self, "matrix", m)

    @property
    def scale(self) -> float:
        """Model pixels per original pixel."""
        return float(np.sqrt(abs(np.linalg.det(self.matrix[:, :2]))))

    @property
    def rotation_degrees(self) -> float:
        """Counter-clockwise rotation (in image axes, y down) from original to model."""
        return float(np.degrees(np.arctan2(self.matrix[1, 0], self.matrix[0, 0])))

    @property
    def inverse(self) -> np.ndarray:
        """(2, 3) float64: model frame -> original photo."""
        return cv2.invertAffineTransform(self.matrix)

    def to_model(self, points: np.ndarray) -> np.ndarray:
        """Map (N, 2) pixel coordinates (x, y) of the photo into the model frame."""
        xy = np.asarray(points, np.float64).reshape(-1, 2)
        return xy @ self.matrix[:, :2].T + self.matrix[:, 2]

    def to_original(self, points: np.ndarray) -> np.ndarray:
        """Map (N, 2) model-frame pixel coordinates (x, y) back into the photo."""
        inv = self.inverse
        xy = np.asarray(points, np.float64).reshape(-1, 2)
        return xy @ inv[:, :2].T + inv[:, 2]

    def keypoints_to_model(self, keypoints: Keypoints) -> Keypoints:
        """Keypoints of the photo in the model frame; joints that leave the frame go missing."""
        moved = keypoints.map_xy(lambda xy: self.to_model(xy).astype(np.float32))
        return moved.drop_outside(*self.model_size)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: matrix (2 x 3 rows), original_size and model_size as [H, W]."""
        return {
            "matrix": self.matrix.tolist(),
            "original_size": list(self.original_size),
            "model_size": list(self.model_size),
            "convention": "x' = M @ [x, y, 1], pixel centres at integers, original -> model",
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | str) -> FramingTransform:
        """Inverse of :meth:`to_json` (a dict or its JSON text)."""
        d = json.loads(data) if isinstance(data, str) else data
        return cls(
            np.array(d["matrix"], np.float64),
            tuple(int(v) for v in d["original_size"]),  # type: ignore[arg-type]
            tuple(int(v) for v in d["model_size"]),  # type: ignore[arg-type]
        )


def warp_image(
    image: np.ndarray, matrix: np.ndarray, size: tuple[int, int], *,
    border: tuple[float, ...] | float | None = None, interpolation: int = cv2.INTER_LINEAR,
) -> np.ndarray:
    """Warp ``image`` (H, W[, C]) by the (2, 3) ``matrix`` into ``size`` = (h, w).

    Strong reductions are first done with area averaging (no aliasing). ``border``: a constant
    colour outside the image, or None to repeat its edge pixels.
    """
    m = np.asarray(matrix, np.float64)
    scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
    if scale < 0.5:
        f = min(1.0, 2.0 * scale)
        h, w = image.shape[:2]
        small = cv2.resize(
            image, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA
        )
        fx, fy = small.shape[1] / w, small.shape[0] / h
        # small pixel (u, v) = ((x + 0.5) * fx - 0.5, ...); so x = (u + 0.5) / fx - 0.5.
        back = np.array([[1 / fx, 0, 0.5 / fx - 0.5], [0, 1 / fy, 0.5 / fy - 0.5], [0, 0, 1]])
        image, m = small, m @ back
    mode = cv2.BORDER_REPLICATE if border is None else cv2.BORDER_CONSTANT
    value = 0 if border is None else border
    return cv2.warpAffine(
        image, m, (size[1], size[0]), flags=interpolation, borderMode=mode, borderValue=value
    )


@dataclass(frozen=True, eq=False)
class Framed:
    """A photo fitted to a model's training frame.

    ``image``: (h, w, 3) uint8, what the model sees. ``transform``: photo -> model frame.
    ``warnings``: messages for the user. ``kind``: "person" or "face". ``background``: the
    RGB fill outside the person (people) or None. ``feather``: width of the blend at the
    border of a face crop, as a fraction of its side (faces). ``keypoints`` (people): the
    person's COCO-18 pose from the same detection, in the model frame.
    """

    image: np.ndarray
    transform: FramingTransform
    warnings: list[str] = field(default_factory=list)
    kind: Literal["person", "face"] = "person"
    background: tuple[int, int, int] | None = None
    feather: float = 0.1
    keypoints: Keypoints | None = None

    def paste_back(self, output: np.ndarray, original: np.ndarray) -> np.ndarray:
        """The model's ``output`` (h, w, 3) uint8 in the user's frame: (H, W, 3) uint8.

        Faces: the output blended into ``original`` (H, W, 3) through a feathered mask; every
        pixel outside the mask is ``original``'s, bit for bit. People: the output mapped back
        over the whole frame of ``original`` (its size), the background colour where the
        model's frame does not reach.
        """
        out = np.asarray(output)
        h, w = self.transform.model_size
        if out.shape != (h, w, 3) or out.dtype != np.uint8:
            raise ValueError(
                f"paste_back needs the model output as uint8 ({h}, {w}, 3), got "
                f"{out.dtype} {out.shape}"
            )
        orig = np.asarray(original)
        if orig.shape[:2] != self.transform.original_size or orig.ndim != 3:
            raise ValueError(
                f"paste_back needs the original photo of size {self.transform.original_size}, "
                f"got {orig.shape}; pass the photo that was fitted"
            )
        inv = self.transform.inverse
        if self.kind == "person":
            return warp_image(out, inv, orig.shape[:2], border=self.background)
        # Only the region the crop covers is touched (fast for large photos).
        corners = self.transform.to_original(
            np.array([[-0.5, -0.5], [w - 0.5, -0.5], [-0.5, h - 0.5], [w - 0.5, h - 0.5]])
        )
        big_h, big_w = orig.shape[:2]
        x0, y0 = np.clip(np.floor(corners.min(axis=0)).astype(int) - 1, 0, [big_w, big_h])
        x1, y1 = np.clip(np.ceil(corners.max(axis=0)).astype(int) + 2, 0, [big_w, big_h])
        result = orig.copy()
        if x1 <= x0 or y1 <= y0:
            return result
        roi = inv.copy()
        roi[:, 2] -= (x0, y0)
        back = warp_image(out, roi, (y1 - y0, x1 - x0), border=None)
        mask = warp_image(_feather_mask(h, w, self.feather), roi, (y1 - y0, x1 - x0), border=0.0)
        inside = mask > 0
        region = result[y0:y1, x0:x1]
        a = mask[inside][:, None]
        blend = a * back[inside].astype(np.float32) + (1 - a) * region[inside].astype(np.float32)
        region[inside] = np.clip(np.rint(blend), 0, 255).astype(np.uint8)
        return result


def _feather_mask(h: int, w: int, feather: float) -> np.ndarray:
    """(h, w) float32: 1 inside, falling linearly to 0 over ``feather`` x side at the border."""
    ramp = max(1.0, feather * min(h, w))
    y = np.minimum(np.arange(h), np.arange(h)[::-1]).astype(np.float32)
    x = np.minimum(np.arange(w), np.arange(w)[::-1]).astype(np.float32)
    dist = np.minimum(y[:, None], x[None, :])
    return np.clip(dist / ramp, 0.0, 1.0)
