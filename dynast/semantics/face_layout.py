"""The face-edge semantics used for photos and hand-drawn sketches (FACE_CHANNELS = 12).

Both :func:`~dynast.semantics.face_photo.face_semantics_from_photo` and
:func:`~dynast.semantics.face_sketch.face_semantics_from_sketch` return float32
(12, H, W) arrays in [0, 1] with this layout:

====  ===================  ===============================================  =====================
ch    name                 from a photo                                     from a sketch
====  ===================  ===============================================  =====================
0     all_edges            face-mesh contours + Canny edges outside the     all drawn lines
                           face oval (binary 0/1)                           (thinned, binary)
1     all_edges_distance   distance map of channel 0                        distance map of ch 0
2     face_oval            distance map of the face-oval contour            1 (unknown)
3     right_brow           distance map of the person's right eyebrow       1 (unknown)
4     left_brow            distance map of the left eyebrow                 1 (unknown)
5     right_eye            distance map of the right eye + iris contours    1 (unknown)
6     left_eye             distance map of the left eye + iris contours     1 (unknown)
7     nose                 distance map of the nose contours                1 (unknown)
8     lips                 distance map of the outer lip contour            1 (unknown)
9     mouth                distance map of the inner lip contour            1 (unknown)
10    background           distance map of the Canny edges outside the      1 (unknown)
                           face oval (hair, clothes, background)
11    face_edges           the face-mesh contours alone (binary 0/1)        all drawn lines
====  ===================  ===============================================  =====================

Distance maps use the release's encoding ``min(floor(d / 3), 255) / 255`` with d the L1
(3x3) distance in output pixels; a part that is absent (or unknown) is all ones, exactly as
an absent part in the paper's CelebAMask-HQ data. Lines are one pixel wide in both cases
(sketch lines are thinned), so the two sources look alike to a model.

Training a model for both sources: apply :func:`as_sketch_semantics` to a random share of the
photo semantics (it turns them into exactly what a sketch of the same lines would give).
"""
from __future__ import annotations

import numpy as np

from dynast.semantics._distance import distance_map

__all__ = [
    "FACE_CHANNELS", "FACE_CHANNEL_NAMES", "FACE_PARTS", "assemble_face", "as_sketch_semantics",
]

FACE_PARTS: tuple[str, ...] = (
    "face_oval", "right_brow", "left_brow", "right_eye", "left_eye", "nose", "lips", "mouth",
    "background",
)
FACE_CHANNEL_NAMES: tuple[str, ...] = ("all_edges", "all_edges_distance", *FACE_PARTS, "face_edges")
FACE_CHANNELS = len(FACE_CHANNEL_NAMES)


def assemble_face(parts: dict[str, np.ndarray] | None, all_edges: np.ndarray) -> np.ndarray:
    """Build the (12, H, W) float32 semantics.

    ``all_edges``: (H, W) bool, every line. ``parts``: part name -> (H, W) bool lines for
    the names in ``FACE_PARTS`` (the face parts and "background"), or None when the parts
    are unknown (a sketch).
    """
    h, w = all_edges.shape
    out = np.ones((FACE_CHANNELS, h, w), np.float32)
    out[0] = all_edges
    out[1] = distance_map(all_edges)
    if parts is None:
        out[-1] = all_edges
        return out
    face = np.zeros((h, w), bool)
    for i, name in enumerate(FACE_PARTS):
        out[2 + i] = distance_map(parts[name])
        if name != "background":
            face |= parts[name]
    out[-1] = face
    return out


def as_sketch_semantics(semantics: np.ndarray) -> np.ndarray:
    """Turn photo face semantics (12, H, W) (or a batch (B, 12, H, W)) into the sketch form.

    The part channels become 1 (unknown) and the face-edges channel becomes all edges. The
    input is not modified.
    """
    if semantics.shape[-3] != FACE_CHANNELS:
        raise ValueError(
            f"expected {FACE_CHANNELS} face channels at axis -3, got shape {semantics.shape}"
        )
    out = semantics.copy()
    out[..., 2:-1, :, :] = 1.0
    out[..., -1, :, :] = semantics[..., 0, :, :]
    return out
