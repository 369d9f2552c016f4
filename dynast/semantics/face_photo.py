"""Face-edge semantics from a face photo (MediaPipe face mesh + Canny); layout in face_layout.

Steps: the photo is fitted to the output size (:func:`fit_to_size`, edge padding); MediaPipe
face mesh (478 landmarks with irises) runs on the original photo (retried with padding, then
on a zoomed crop around a face found by MediaPipe face detection) and the landmarks are mapped
into the output; each part's mesh contour is drawn as 1-pixel lines; Canny edges (Gaussian
sigma 1, thresholds 40 / 80, L2 gradient) of the fitted photo outside the face oval and
inside the photo's own area (not the padding) make the "background" part.
"""
from __future__ import annotations

import functools

import cv2
import numpy as np

from dynast.semantics import _mediapipe
from dynast.semantics.errors import NoFaceFound
from dynast.semantics.face_layout import FACE_PARTS, assemble_face
from dynast.semantics.face_mesh_topology import INNER_LIPS, contour_edges
from dynast.semantics.image_io import (
    FitTransform,
    ImageSource,
    check_min_side,
    default_size,
    fit_to_size,
    load_image,
)

__all__ = [
    "CANNY_THRESHOLDS",
    "face_semantics_from_photo",
    "face_semantics_from_landmarks",
    "detect_face_landmarks",
]

CANNY_THRESHOLDS = (40, 80)
MAX_SIDE = 1280
CROP_SIDE = 384
# Mesh contour sets (MediaPipe names) that make up each face part.
_PART_SETS = {
    "face_oval": ("FACE_OVAL",),
    "right_brow": ("RIGHT_EYEBROW",),
    "left_brow": ("LEFT_EYEBROW",),
    "right_eye": ("RIGHT_EYE", "RIGHT_IRIS"),
    "left_eye": ("LEFT_EYE", "LEFT_IRIS"),
    "nose": ("NOSE",),
}


@functools.lru_cache(maxsize=1)
def _part_edges() -> dict[str, list[tuple[int, int]]]:
    sets = contour_edges()
    parts = {
        name: sorted(set().union(*(sets[s] for s in names))) for name, names in _PART_SETS.items()
    }
    lips = sorted(sets["LIPS"])
    parts["mouth"] = [e for e in lips if e[0] in INNER_LIPS and e[1] in INNER_LIPS]
    parts["lips"] = [e for e in lips if e not in parts["mouth"]]
    return parts


def _mesh_around_detected_face(rgb: np.ndarray) -> list[np.ndarray]:
    """Face mesh on an enlarged crop around the largest detected face (small faces)."""
    boxes = _mediapipe.run_face_detection(rgb)
    if not boxes:
        return []
    h, w = rgb.shape[:2]
    x, y, bw, bh = max(boxes, key=lambda b: b[2] * b[3])
    side = 2 * max(bw, bh)
    x0, y0 = int(max(0, x + bw / 2 - side)), int(max(0, y + bh / 2 - side))
    crop = rgb[y0:int(min(h, y + bh / 2 + side)), x0:int(min(w, x + bw / 2 + side))]
    zoom = CROP_SIDE / max(crop.shape[:2])
    crop = cv2.resize(crop, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_CUBIC)
    offset = np.array([x0, y0])
    return [(f + 0.5) / zoom - 0.5 + offset for f in _mediapipe.run_face_mesh(crop)]


def detect_face_landmarks(rgb: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """The largest face's 478 face-mesh landmarks, (478, 2) float64 pixels of ``rgb``.

    ``rgb``: uint8 (H, W, 3). Retries with a padded copy when the face fills the frame, then
    on an enlarged crop around the largest face MediaPipe face detection finds (small faces).
    Raises :class:`NoFaceFound`; warns (second return value) when several faces are seen.
    """
    h, w = rgb.shape[:2]
    factor = min(1.0, MAX_SIDE / max(h, w))
    small = rgb if factor == 1.0 else cv2.resize(
        rgb, (round(w * factor), round(h * factor)), interpolation=cv2.INTER_AREA
    )
    faces = _mediapipe.run_face_mesh(small)
    if not faces:
        pad = round(0.25 * max(small.shape[:2]))
        padded = cv2.copyMakeBorder(small, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        faces = [f - pad for f in _mediapipe.run_face_mesh(padded)]
    if not faces:
        faces = _mesh_around_detected_face(small)
    if not faces:
        raise NoFaceFound(
            "no face found in the image; use a photo where one face is clearly visible and "
            "roughly frontal, or draw the face as a line sketch"
        )
    areas = [float(np.prod(f.max(axis=0) - f.min(axis=0))) for f in faces]
    best = faces[int(np.argmax(areas))]
    scale = np.array([small.shape[1] / w, small.shape[0] / h])
    landmarks = (best + 0.5) / scale - 0.5
    warnings = []
    if len(faces) > 1:
        warnings.append(
            f"{len(faces)} faces found; using the largest. Crop the photo to one face to "
            "choose another."
        )
    return landmarks, warnings


def _draw_lines(xy: np.ndarray, edges: list[tuple[int, int]], shape: tuple[int, int]) -> np.ndarray:
    """(H, W) bool: 1-pixel lines between the landmark pairs ``edges`` of ``xy`` (N, 2)."""
    canvas = np.zeros(shape, np.uint8)
    pts = [(int(x), int(y)) for x, y in np.round(xy)]
    for a, b in edges:
        cv2.line(canvas, pts[a], pts[b], 1, 1, cv2.LINE_8)
    return canvas > 0


def face_semantics_from_photo(
    image: ImageSource, size: tuple[int, int] | None = None
) -> tuple[np.ndarray, list[str]]:
    """Face-edge semantics of a photo: float32 (FACE_CHANNELS, H, W) in [0, 1], warnings.

    ``size``: (H, W), multiples of 8; the photo is fitted into it with
    ``fit_to_size(load_image(image), H, W)`` (call that yourself for the transform). Default:
    the photo's own size padded up to multiples of 8 (scaled down to the size limits of
    :func:`~dynast.semantics.image_io.check_bounded` if needed).
    """
    rgb = load_image(image)
    check_min_side(rgb, "the face photo")
    (height, width), warnings = (size, []) if size is not None else default_size(*rgb.shape[:2])
    fitted, transform = fit_to_size(rgb, height, width)
    landmarks, found = detect_face_landmarks(rgb)
    return face_semantics_from_landmarks(fitted, transform.to_dst(landmarks), transform), (
        warnings + found
    )


def face_semantics_from_landmarks(
    fitted: np.ndarray, xy: np.ndarray, transform: FitTransform | None = None
) -> np.ndarray:
    """Face-edge semantics drawn from known landmarks: float32 (FACE_CHANNELS, H, W) in [0, 1].

    ``fitted``: uint8 (H, W, 3), the photo as the model sees it; ``xy``: (478, 2) face-mesh
    landmarks in its pixels; ``transform``: how ``fitted`` was made (:func:`fit_to_size`), so
    that background edges are taken from the photo's own area only (default: all of it).
    The same drawing as :func:`face_semantics_from_photo`, without running MediaPipe (training
    caches the landmarks once per photo and draws the semantics at any size).
    """
    shape = fitted.shape[:2]
    part_edges = _part_edges()
    parts = {name: _draw_lines(xy, edges, shape) for name, edges in part_edges.items()}

    oval_ids = sorted({i for edge in part_edges["face_oval"] for i in edge})
    oval = cv2.convexHull(np.round(xy[oval_ids]).astype(np.int32))
    outside = np.ones(shape, np.uint8)
    cv2.fillConvexPoly(outside, oval, 0)
    content = np.zeros(shape, bool)
    if transform is None:
        content[:] = True
    else:
        content[transform.top:transform.top + transform.content_height,
                transform.left:transform.left + transform.content_width] = True
    gray = cv2.GaussianBlur(cv2.cvtColor(fitted, cv2.COLOR_RGB2GRAY), (0, 0), 1.0)
    canny = cv2.Canny(gray, *CANNY_THRESHOLDS, L2gradient=True) > 0
    parts["background"] = canny & (outside > 0) & content

    all_edges = np.zeros(shape, bool)
    for name in FACE_PARTS:
        all_edges |= parts[name]
    return assemble_face(parts, all_edges)
