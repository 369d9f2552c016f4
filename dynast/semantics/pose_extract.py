"""COCO-18 keypoints from a photo with MediaPipe pose.

MediaPipe's 33 landmarks map onto OpenPose COCO-18; the neck is the midpoint of the
shoulders (present only if both are); a joint whose visibility is below the threshold, or
that falls outside the image, is missing.

Robustness: MediaPipe sometimes misses people who fill the frame (tightly cropped full-body
shots) or sees only part of them. If the first pass does not give both shoulders and both
hips, the photo is tried again with a border of its edge pixels around it and at a smaller
scale inside a larger canvas; the attempt with the most complete torso wins and its
coordinates are mapped back.

Several people: MediaPipe pose follows one person. People are counted without relying on
faces: pose runs again with each person found so far painted over (up to ``MAX_PEOPLE``).
Faces are counted too (MediaPipe face detection). With several people, pose runs on a crop
around the largest one (by body box, or else the largest face's body) and a warning says so.
"""
from __future__ import annotations

import cv2
import numpy as np

from dynast.semantics import _mediapipe
from dynast.semantics.errors import NoPersonFound
from dynast.semantics.image_io import ImageSource, check_min_side, load_image
from dynast.semantics.keypoints import NUM_JOINTS, Keypoints

__all__ = ["MEDIAPIPE_TO_COCO18", "extract_pose", "landmarks_to_keypoints"]

# MediaPipe landmark for each COCO-18 joint (-1: the neck, from the shoulders).
MEDIAPIPE_TO_COCO18 = (0, -1, 12, 14, 16, 11, 13, 15, 24, 26, 28, 23, 25, 27, 5, 2, 8, 7)
TORSO = ("r-shoulder", "l-shoulder", "r-hip", "l-hip")
MAX_SIDE = 1280
MIN_JOINTS = 4
MAX_PEOPLE = 4


def landmarks_to_keypoints(
    landmarks: np.ndarray, height: int, width: int, visibility: float = 0.5
) -> Keypoints:
    """Map MediaPipe (33, 3) landmarks (x, y pixels, visibility) to COCO-18.

    Joints below ``visibility`` or outside the height x width image are missing.
    """
    arr = np.zeros((NUM_JOINTS, 3), np.float32)
    for j, m in enumerate(MEDIAPIPE_TO_COCO18):
        if m >= 0 and landmarks[m, 2] >= visibility:
            arr[j] = (landmarks[m, 0], landmarks[m, 1], 1.0)
    if arr[2, 2] and arr[5, 2]:
        arr[1] = ((arr[2, 0] + arr[5, 0]) / 2, (arr[2, 1] + arr[5, 1]) / 2, 1.0)
    return Keypoints(arr).drop_outside(height, width)


def _score(kp: Keypoints) -> tuple[int, int]:
    return sum(kp.has(n) for n in TORSO), kp.count()


def _pose_in(rgb: np.ndarray, visibility: float) -> Keypoints:
    """One MediaPipe pass, with retries on a padded and a shrunken copy if needed."""
    h, w = rgb.shape[:2]
    best = Keypoints.empty()
    side = max(h, w)
    for pad_frac, shrink in ((0.0, 1.0), (0.25, 1.0), (0.5, 0.5)):
        img = rgb if shrink == 1.0 else cv2.resize(
            rgb, (max(1, round(w * shrink)), max(1, round(h * shrink))),
            interpolation=cv2.INTER_AREA,
        )
        pad = round(pad_frac * side * shrink)
        if pad:
            img = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        landmarks = _mediapipe.run_pose(img)
        if landmarks is not None:
            landmarks[:, :2] = (landmarks[:, :2] - pad + 0.5) / shrink - 0.5
            kp = landmarks_to_keypoints(landmarks, h, w, visibility)
            if _score(kp) > _score(best):
                best = kp
        if _score(best)[0] == len(TORSO):
            break
    return best


def person_boxes(rgb: np.ndarray, visibility: float = 0.5) -> list[tuple[int, int, int, int]]:
    """Boxes (x0, y0, x1, y1), pixels of ``rgb`` (H, W, 3) uint8, of the people MediaPipe sees.

    Pose runs on the photo, then again with each person found so far painted grey (their
    landmark box plus a 10 % margin), until no one with ``MIN_JOINTS`` visible joints is
    left or ``MAX_PEOPLE`` are found. Does not depend on faces being visible.
    """
    h, w = rgb.shape[:2]
    canvas = rgb.copy()
    boxes: list[tuple[int, int, int, int]] = []
    for _ in range(MAX_PEOPLE):
        landmarks = _mediapipe.run_pose(canvas)
        if landmarks is None:
            break
        if landmarks_to_keypoints(landmarks, h, w, visibility).count() < MIN_JOINTS:
            break
        (x0, y0), (x1, y1) = landmarks[:, :2].min(axis=0), landmarks[:, :2].max(axis=0)
        m = 0.1 * max(x1 - x0, y1 - y0)
        box = (int(max(0, x0 - m)), int(max(0, y0 - m)),
               int(min(w, x1 + m + 1)), int(min(h, y1 + m + 1)))
        if box[2] <= box[0] or box[3] <= box[1]:
            break
        if (canvas[box[1]:box[3], box[0]:box[2]] == 127).all():
            break  # the painted-over area again
        boxes.append(box)
        canvas[box[1]:box[3], box[0]:box[2]] = 127
    return boxes


def _largest_person_crop(
    rgb: np.ndarray, people: list[tuple[int, int, int, int]]
) -> tuple[np.ndarray, int, int]:
    """(crop around the largest person box with a 25 % margin, x0, y0)."""
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = max(people, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
    m = round(0.25 * max(x1 - x0, y1 - y0))
    x0, y0, x1, y1 = max(0, x0 - m), max(0, y0 - m), min(w, x1 + m), min(h, y1 + m)
    return rgb[y0:y1, x0:x1], x0, y0


def _largest_face_crop(rgb: np.ndarray) -> tuple[np.ndarray, int, int, int] | None:
    """If several faces are seen: (crop around the largest face's body, x0, y0, count)."""
    boxes = _mediapipe.run_face_detection(rgb)
    if len(boxes) < 2:
        return None
    h, w = rgb.shape[:2]
    x, y, bw, bh = max(boxes, key=lambda b: b[2] * b[3])
    cx = x + bw / 2
    x0, x1 = int(max(0, cx - 4 * bw)), int(min(w, cx + 4 * bw))
    y0, y1 = int(max(0, y - 1.5 * bh)), int(min(h, y + 9 * bh))
    return rgb[y0:y1, x0:x1], x0, y0, len(boxes)


def _several(small: np.ndarray, visibility: float) -> tuple[Keypoints, list[str]] | None:
    """With several people in ``small``: the largest one's keypoints and a warning, else None."""
    people = person_boxes(small, visibility)
    crops = [_largest_person_crop(small, people)] if len(people) >= 2 else []
    faces = _largest_face_crop(small)
    if faces is not None:
        crops.append(faces[:3])
    count = max(len(people), faces[3] if faces is not None else 0)
    if count < 2:
        return None
    for region, x0, y0 in crops:
        kp = _pose_in(region, visibility).map_xy(lambda xy: xy + np.array([x0, y0]))
        if kp.count() >= MIN_JOINTS:
            return kp, [
                f"{count} people found; using the largest. Crop the photo to one person to "
                "choose another."
            ]
    return _pose_in(small, visibility), [
        f"{count} people found; the pose is of the most prominent person."
    ]


def extract_pose(image: ImageSource, visibility: float = 0.5) -> tuple[Keypoints, list[str]]:
    """Detect one person's COCO-18 keypoints in a photo.

    ``image``: anything :func:`~dynast.semantics.image_io.load_image` accepts.
    ``visibility``: MediaPipe visibility in [0, 1] below which a joint is missing.
    Returns keypoints in pixels of the loaded (EXIF-rotated) image and a list of warnings
    for the user. Raises :class:`NoPersonFound` when no person (fewer than 4 joints) is seen.
    """
    rgb = load_image(image)
    check_min_side(rgb, "the photo")
    h, w = rgb.shape[:2]
    factor = min(1.0, MAX_SIDE / max(h, w))
    small = rgb if factor == 1.0 else cv2.resize(
        rgb, (round(w * factor), round(h * factor)), interpolation=cv2.INTER_AREA
    )
    sh, sw = small.shape[:2]
    several = _several(small, visibility)
    kp, warnings = several if several is not None else (_pose_in(small, visibility), [])
    if kp.count() < MIN_JOINTS:
        raise NoPersonFound(
            "no person found in the image; use a photo that shows one person's head and body "
            "(full-body or at least the upper body), or load OpenPose keypoints instead"
        )
    if factor != 1.0:
        kp = kp.map_xy(lambda xy: (xy + 0.5) / np.array([sw / w, sh / h]) - 0.5)
        kp = kp.drop_outside(h, w)
    missing = [n for n in TORSO if not kp.has(n)]
    if missing:
        warnings.append(
            f"not visible: {', '.join(missing)}; the generated person may look incomplete. "
            "A photo showing shoulders and hips works best."
        )
    return kp, warnings
