"""Find one person in a photo: MediaPipe pose landmarks and the person's mask.

MediaPipe pose with its segmentation output (model_complexity=1) runs on the whole photo
(retried with a border of edge pixels when the person fills it), then, if that finds no whole
torso, on overlapping windows of 1/2 and 1/3 of the photo (MediaPipe misses people much
smaller than the picture); a window's find must look like a person (most landmarks and the
torso clearly visible, on the mask, at least 1/5 of the photo tall). The find is refined on a
crop around it with a margin, widened once if the person still touches the crop's edge.
Several people (counted by their bodies and their faces, as
:func:`~dynast.semantics.pose_extract.extract_pose` counts them): the largest, with a warning.
A person in a picture inside the photo (a collage: a straight edge runs across and past the
person) is looked for again inside that picture
(:func:`~dynast.semantics.framing_mask.picture_box`), and the mask is cleaned
(:func:`~dynast.semantics.framing_mask.clean_person_mask`: nothing past the picture's edge,
one part, holes that look like the person filled).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from dynast.semantics import _mediapipe
from dynast.semantics.errors import NoPersonFound
from dynast.semantics.framing_mask import clean_person_mask, picture_box
from dynast.semantics.image_io import ImageSource, load_image
from dynast.semantics.pose_extract import (
    _largest_face_crop,
    _largest_person_crop,
    person_boxes,
)

__all__ = [
    "ANKLES", "HIPS", "MASK_THRESHOLD", "SHOULDERS", "PersonDetection", "detect_person",
]

MAX_SIDE = 1024
WINDOW_MIN_LANDMARKS = 20  # of 33: a person found in a window must be this complete
MASK_THRESHOLD = 0.5  # mask probability above which a pixel is the person
# MediaPipe pose landmark ids.
ANKLES = (27, 28)
SHOULDERS = (11, 12)
HIPS = (23, 24)
_HEAD_LANDMARKS = 11  # 0-10: nose, eyes, ears, mouth


@dataclass(frozen=True, eq=False)
class PersonDetection:
    """One person in a photo, in pixels of that photo (pixel centres at integers).

    ``mask``: (H, W) float32 in [0, 1], the person only. ``landmarks``: (33, 3) MediaPipe pose
    (x, y, visibility). ``box``: (left, top, right, bottom) pixel edges of ``mask > 0.5``.
    """

    mask: np.ndarray
    landmarks: np.ndarray
    box: tuple[float, float, float, float]
    warnings: tuple[str, ...]

    def visible(self, ids: tuple[int, ...], threshold: float = 0.5) -> bool:
        """True when all the landmarks ``ids`` are visible and inside the photo."""
        h, w = self.mask.shape
        lm = self.landmarks[list(ids)]
        inside = (lm[:, 0] >= 0) & (lm[:, 0] <= w - 1) & (lm[:, 1] >= 0) & (lm[:, 1] <= h - 1)
        return bool(np.all((lm[:, 2] >= threshold) & inside))

    def level(self, ids: tuple[int, ...]) -> float:
        """Mean y of the landmarks ``ids``."""
        return float(self.landmarks[list(ids), 1].mean())

    @property
    def head_top(self) -> float:
        """Pixel edge of the top of the head: the highest mask pixel in the columns of the
        head's landmarks (widened by half the head's width: hair), so that a raised hand does
        not count; the box's top when the head is not in the photo."""
        head = self.landmarks[:_HEAD_LANDMARKS, 0]
        pad = 0.5 * (head.max() - head.min()) + 2
        c0 = int(max(0, np.floor(head.min() - pad)))
        c1 = int(min(self.mask.shape[1], np.ceil(head.max() + pad) + 1))
        rows = np.nonzero((self.mask[:, c0:c1] > MASK_THRESHOLD).any(axis=1))[0]
        return float(rows[0]) - 0.5 if c1 > c0 and rows.size else self.box[1]

    @property
    def centre_x(self) -> float:
        """Horizontal centre of the body: the midpoint of shoulders and hips (of the shoulders
        when the hips are not visible), else of the box."""
        for ids in (SHOULDERS + HIPS, SHOULDERS):
            if self.visible(ids):
                return float(self.landmarks[list(ids), 0].mean())
        return (self.box[0] + self.box[2]) / 2


def _torso(landmarks: np.ndarray) -> int:
    return int((landmarks[list(SHOULDERS + HIPS), 2] >= 0.5).sum())


def _pose_mask(
    rgb: np.ndarray, box: tuple[int, int, int, int], pads: tuple[float, ...] = (0.0,)
) -> tuple[np.ndarray, np.ndarray] | None:
    """Pose with mask in ``rgb[y0:y1, x0:x1]`` (``box`` = x0, y0, x1, y1), mapped back to
    ``rgb``'s pixels (mask (H, W)); each of ``pads`` (fractions of the side) adds a border of
    edge pixels, for people who fill the region. The try with the most torso joints wins."""
    x0, y0, x1, y1 = box
    region = rgb[y0:y1, x0:x1]
    best = None
    for pad_frac in pads:
        pad = round(pad_frac * max(region.shape[:2]))
        img = cv2.copyMakeBorder(region, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        found = _mediapipe.run_pose_with_mask(img)
        if found is None:
            continue
        landmarks, mask = found
        landmarks[:, :2] += (x0 - pad, y0 - pad)
        if best is None or _torso(landmarks) > _torso(best[0]):
            full = np.zeros(rgb.shape[:2], np.float32)
            full[y0:y1, x0:x1] = mask[pad:pad + y1 - y0, pad:pad + x1 - x0]
            best = (landmarks, full)
        if _torso(landmarks) == 4:
            break
    return best


def _search(
    rgb: np.ndarray, box: tuple[int, int, int, int]
) -> tuple[np.ndarray, np.ndarray] | None:
    """The person in ``box``: the whole region first, then overlapping windows of 1/2 and 1/3
    of its size (MediaPipe misses people much smaller than the picture)."""
    found = _pose_mask(rgb, box, (0.0, 0.25))
    if found is not None and _torso(found[0]) == 4:
        return found
    best = None if found is None else (_rank(found, box), found)
    x0, y0, x1, y1 = box
    for parts in (2, 3):
        wh, ww = (y1 - y0) / parts, (x1 - x0) / parts
        for i in range(2 * parts - 1):
            for j in range(2 * parts - 1):
                top, left = y0 + round(i * wh / 2), x0 + round(j * ww / 2)
                window = (left, top, left + round(ww), top + round(wh))
                seen = _pose_mask(rgb, window)
                if seen is None or not _plausible(seen, window, y1 - y0):
                    continue
                if best is None or _rank(seen, window) > best[0]:
                    best = (_rank(seen, window), seen)
        if best is not None and _torso(best[1][0]) == 4:
            break
    return None if best is None else best[1]


def _cut(
    mask: np.ndarray, box: tuple[int, int, int, int],
    outer: tuple[int, int, int, int] | None = None,
) -> bool:
    """True when the person's mask touches an edge of ``box`` that is not an edge of ``outer``
    (x0, y0, x1, y1; default the photo)."""
    x0, y0, x1, y1 = box
    h, w = mask.shape
    ox0, oy0, ox1, oy1 = outer or (0, 0, w, h)
    person = mask[y0:y1, x0:x1] > MASK_THRESHOLD
    return bool(
        (y0 > oy0 and person[0].any()) or (y1 < oy1 and person[-1].any())
        or (x0 > ox0 and person[:, 0].any()) or (x1 < ox1 and person[:, -1].any())
    )


def _plausible(
    found: tuple[np.ndarray, np.ndarray], box: tuple[int, int, int, int], height: int
) -> bool:
    """A person found in the window ``box``, not clutter MediaPipe took for one: most
    landmarks and the whole torso clearly visible, those inside the window on the mask, and
    the mask at least 1/5 of ``height`` tall."""
    landmarks, mask = found
    visible = landmarks[:, 2] >= 0.5
    if visible.sum() < WINDOW_MIN_LANDMARKS or landmarks[list(SHOULDERS + HIPS), 2].min() < 0.8:
        return False
    x0, y0, x1, y1 = box
    xy = np.round(landmarks[visible, :2]).astype(int)
    inside = (xy[:, 0] >= x0) & (xy[:, 0] < x1) & (xy[:, 1] >= y0) & (xy[:, 1] < y1)
    person = mask > MASK_THRESHOLD
    if inside.sum() < WINDOW_MIN_LANDMARKS // 2:
        return False
    if person[xy[inside, 1], xy[inside, 0]].mean() < 0.8:
        return False
    rows = np.nonzero(person.any(axis=1))[0]
    return rows.size > 0 and rows[-1] - rows[0] >= 0.2 * height


def _rank(
    found: tuple[np.ndarray, np.ndarray], box: tuple[int, int, int, int]
) -> tuple[int, bool, float]:
    """Better detections first: whole torso, not cut by the window, larger mask."""
    return _torso(found[0]), not _cut(found[1], box), float((found[1] > MASK_THRESHOLD).sum())


def _refine(
    rgb: np.ndarray, found: tuple[np.ndarray, np.ndarray],
    limit: tuple[int, int, int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Run again on a crop around the person found, with a margin (the whole person in view,
    at a better resolution), widened once if the person still touches the crop's edge; keeps
    the first result if the second is worse. ``limit``: (x0, y0, x1, y1), the crop stays
    inside it (default the photo)."""
    h, w = rgb.shape[:2]
    lx0, ly0, lx1, ly1 = limit or (0, 0, w, h)
    for margin_frac in (0.2, 0.5):
        landmarks, mask = found
        ys, xs = np.nonzero(mask > MASK_THRESHOLD)
        vis = landmarks[landmarks[:, 2] >= 0.5, :2]
        if ys.size == 0:
            return found
        lo = np.minimum([xs.min(), ys.min()], vis.min(axis=0) if len(vis) else np.inf)
        hi = np.maximum([xs.max(), ys.max()], vis.max(axis=0) if len(vis) else -np.inf)
        margin = margin_frac * (hi - lo).max()
        box = (
            int(max(lx0, lo[0] - margin)), int(max(ly0, lo[1] - margin)),
            int(min(lx1, hi[0] + margin + 1)), int(min(ly1, hi[1] + margin + 1)),
        )
        again = _pose_mask(rgb, box, (0.0, 0.25))
        if again is None or _torso(again[0]) < _torso(landmarks):
            return found
        found = again
        if not _cut(found[1], box, limit):
            break
    return found


def detect_person(image: ImageSource) -> PersonDetection:
    """Find the (largest) person in a photo: mask, landmarks and box in its pixels.

    Raises :class:`NoPersonFound` when nobody (or too little of anybody) is seen.
    """
    rgb = load_image(image)
    h, w = rgb.shape[:2]
    factor = min(1.0, MAX_SIDE / max(h, w))
    small = rgb if factor == 1.0 else cv2.resize(
        rgb, (round(w * factor), round(h * factor)), interpolation=cv2.INTER_AREA
    )
    sh, sw = small.shape[:2]
    warnings: list[str] = []
    found = None
    # Several people (counted by their bodies and by their faces): search around the largest.
    people = person_boxes(small)
    crops = [_largest_person_crop(small, people)] if len(people) >= 2 else []
    faces = _largest_face_crop(small)
    if faces is not None:
        crops.append(faces[:3])
    count = max(len(people), faces[3] if faces is not None else 0)
    if count >= 2:
        warnings.append(
            f"{count} people found; using the largest. Crop the photo to one person to "
            "choose another."
        )
    for region, x0, y0 in crops:
        found = _search(small, (x0, y0, x0 + region.shape[1], y0 + region.shape[0]))
        if found is not None:
            break
    if found is None:
        found = _search(small, (0, 0, sw, sh))
    if found is None:
        raise NoPersonFound(
            "no person found in the image; use a photo that shows one person's head and body, "
            "standing out from the background (full-body works best)"
        )
    found = _refine(small, found)
    # A person in a picture inside the photo (a collage): looked for again inside that picture.
    inside = picture_box(small, found[1], found[0], MASK_THRESHOLD)
    if inside != (0, 0, sw, sh):
        found = _refine(small, found, inside)
    soft, landmarks = clean_person_mask(small, found[1], found[0], inside, MASK_THRESHOLD)
    area = int((soft > MASK_THRESHOLD).sum())
    if area < 0.002 * sh * sw or area < 64:
        raise NoPersonFound(
            "the person found is too small or not separable from the background; use a photo "
            "where the person is larger and stands out from the background"
        )
    # Back to the photo's pixels.
    fx, fy = sw / w, sh / h
    landmarks[:, 0] = (landmarks[:, 0] + 0.5) / fx - 0.5
    landmarks[:, 1] = (landmarks[:, 1] + 0.5) / fy - 0.5
    if factor != 1.0:
        soft = cv2.resize(soft, (w, h), interpolation=cv2.INTER_LINEAR)
    ys, xs = np.nonzero(soft > MASK_THRESHOLD)
    if ys.size == 0:
        raise NoPersonFound("no person found in the image; use a clearer photo of one person")
    box = (xs.min() - 0.5, ys.min() - 0.5, xs.max() + 0.5, ys.max() + 0.5)
    return PersonDetection(soft.astype(np.float32), landmarks, box, tuple(warnings))
