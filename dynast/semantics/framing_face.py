"""Align a face photo to the FFHQ / CelebA-HQ frame, and paste the result back.

The alignment is the one FFHQ (and, with the same formula, CelebA-HQ) was made with: from the
eye centres and the mouth corners,

* ``eye_to_eye`` = right-of-image eye - left-of-image eye; ``eye_to_mouth`` = mouth centre -
  eye midpoint;
* the crop's x axis is ``eye_to_eye`` minus ``eye_to_mouth`` turned by 90 degrees, normalised,
  and its half side is max(2.0 |eye_to_eye|, 1.8 |eye_to_mouth|); its y axis is x turned by 90
  degrees;
* the crop's centre is the eye midpoint + 0.1 ``eye_to_mouth``.

The square crop is mapped onto the model frame by a similarity (no shear). Landmarks come from
MediaPipe face mesh (:func:`dynast.semantics.face_photo.detect_face_landmarks`: the largest
face, with a warning when there are several); eye centre = mean of the eye's contour points,
mouth corners = mesh points 61 and 291. :data:`CELEBAHQ_ZOOM` and :data:`CELEBAHQ_SHIFT`
correct the small systematic difference between MediaPipe's landmarks and the detector the
data sets were aligned with (measured by ``scripts/measure_framing.py --faces``).
"""
from __future__ import annotations

import functools

import numpy as np

from dynast.semantics import _mediapipe
from dynast.semantics.face_mesh_topology import contour_edges
from dynast.semantics.face_photo import detect_face_landmarks
from dynast.semantics.framing_base import Framed, FramingTransform, warp_image
from dynast.semantics.image_io import ImageSource, check_size, load_image

__all__ = [
    "CELEBAHQ_SHIFT", "CELEBAHQ_ZOOM", "FEATHER", "face_anchors", "face_transform",
    "find_face_anchors", "fit_face",
]

# Measured by scripts/measure_framing.py: the 112 CelebA-HQ photos of the shared sample set
# (512 x 512, already aligned) re-aligned with ZOOM 1 and no shift came out at scale 1.0105
# (sd 0.021), rotation -0.08 degrees (sd 0.68) and their centre moved by (-0.0022, -0.0076)
# of the side (sd 0.004, 0.002); these two constants undo that mean.
CELEBAHQ_ZOOM = 0.990
CELEBAHQ_SHIFT = (0.0022, 0.0076)
FEATHER = 0.1  # blend width at the crop's border when pasting back, fraction of its side
MOUTH_CORNERS = (61, 291)
REFINE_SIDE = 256  # side of the first aligned crop the landmarks are found again on


@functools.lru_cache(maxsize=1)
def _eye_ids() -> tuple[tuple[int, ...], tuple[int, ...]]:
    sets = contour_edges()
    right = tuple(sorted({i for e in sets["RIGHT_EYE"] for i in e}))  # the person's right
    left = tuple(sorted({i for e in sets["LEFT_EYE"] for i in e}))
    return right, left


def face_anchors(landmarks: np.ndarray) -> np.ndarray:
    """(4, 2): image-left eye centre, image-right eye centre, image-left and -right mouth corner.

    ``landmarks``: (478, 2) MediaPipe face mesh in pixels. The person's right eye is on the
    image's left in a frontal photo.
    """
    right, left = _eye_ids()
    return np.stack([
        landmarks[list(right)].mean(axis=0),
        landmarks[list(left)].mean(axis=0),
        landmarks[MOUTH_CORNERS[0]],
        landmarks[MOUTH_CORNERS[1]],
    ])


def face_transform(
    anchors: np.ndarray, original_size: tuple[int, int], size: tuple[int, int]
) -> FramingTransform:
    """The similarity taking the FFHQ crop square of ``anchors`` (see :func:`face_anchors`)
    onto a model frame of ``size`` = (h, w) (a non-square frame gets the square's middle)."""
    eye_l, eye_r, mouth_l, mouth_r = np.asarray(anchors, np.float64)
    eye_mid = (eye_l + eye_r) / 2
    eye_to_eye = eye_r - eye_l
    eye_to_mouth = (mouth_l + mouth_r) / 2 - eye_mid
    x = eye_to_eye - np.array([-eye_to_mouth[1], eye_to_mouth[0]])
    x /= np.hypot(*x)
    half = max(2.0 * np.hypot(*eye_to_eye), 1.8 * np.hypot(*eye_to_mouth)) / CELEBAHQ_ZOOM
    centre = eye_mid + 0.1 * eye_to_mouth
    height, width = size
    side = max(height, width)
    scale = side / (2 * half)
    cos, sin = x
    rot = scale * np.array([[cos, sin], [-sin, cos]])
    # The crop centre lands on the frame centre (+ the calibration shift, fractions of side).
    target = np.array([width / 2 - 0.5, height / 2 - 0.5]) + side * np.array(CELEBAHQ_SHIFT)
    matrix = np.concatenate([rot, (target - rot @ centre)[:, None]], axis=1)
    return FramingTransform(matrix, original_size, size)


def _refine(rgb: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """The anchors again, from landmarks found on a first aligned crop (upright, at a standard
    size: MediaPipe places them better there than on a tilted or small face)."""
    coarse = face_transform(anchors, rgb.shape[:2], (REFINE_SIDE, REFINE_SIDE))
    crop = warp_image(rgb, coarse.matrix, (REFINE_SIDE, REFINE_SIDE), border=None)
    faces = _mediapipe.run_face_mesh(crop)
    if not faces:
        return anchors
    middle = REFINE_SIDE / 2
    best = min(faces, key=lambda f: float(np.abs(f.mean(axis=0) - middle).sum()))
    return coarse.to_original(face_anchors(best))


def find_face_anchors(rgb: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """The largest face's :func:`face_anchors` in ``rgb`` (H, W, 3) uint8, and warnings.

    When MediaPipe face detection sees several faces, the landmarks are found on a crop
    around the largest one (face mesh alone may miss some of them or pick a smaller one).
    Raises :class:`NoFaceFound`.
    """
    h, w = rgb.shape[:2]
    boxes = _mediapipe.run_face_detection(rgb)
    if len(boxes) < 2:
        landmarks, warnings = detect_face_landmarks(rgb)
        return _refine(rgb, face_anchors(landmarks)), warnings
    x, y, bw, bh = max(boxes, key=lambda b: b[2] * b[3])
    side = 1.5 * max(bw, bh)
    x0, y0 = int(max(0, x + bw / 2 - side)), int(max(0, y + bh / 2 - side))
    x1, y1 = int(min(w, x + bw / 2 + side)), int(min(h, y + bh / 2 + side))
    landmarks, _ = detect_face_landmarks(rgb[y0:y1, x0:x1])
    anchors = _refine(rgb, face_anchors(landmarks) + (x0, y0))
    return anchors, [
        f"{len(boxes)} faces found; using the largest. Crop the photo to one face to choose "
        "another."
    ]


def fit_face(photo: ImageSource, size: tuple[int, int] = (256, 256)) -> Framed:
    """Align the (largest) face of ``photo`` as CelebA-HQ / FFHQ faces are aligned.

    ``photo``: (H, W, 3) uint8 RGB or anything :func:`load_image` reads. ``size``: (h, w),
    multiples of 8. Returns :class:`Framed`: ``image`` (h, w, 3) uint8 (edge pixels repeated
    where the crop leaves the photo); ``paste_back`` blends an output into the photo.
    Raises :class:`NoFaceFound`.
    """
    check_size(*size)
    rgb = load_image(photo)
    anchors, warnings = find_face_anchors(rgb)
    transform = face_transform(anchors, rgb.shape[:2], size)
    image = warp_image(rgb, transform.matrix, size, border=None)
    h, w = rgb.shape[:2]
    corners = transform.to_original(
        np.array([[0, 0], [size[1] - 1, 0], [0, size[0] - 1], [size[1] - 1, size[0] - 1]])
    )
    if corners.min() < -0.05 * max(h, w) or (corners - [w - 1, h - 1]).max() > 0.05 * max(h, w):
        warnings.append(
            "the face is close to the photo's edge; the aligned crop repeats the edge pixels "
            "there. A photo with more room around the head works better."
        )
    return Framed(image, transform, warnings, kind="face", feather=FEATHER)
