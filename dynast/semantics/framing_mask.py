"""Clean MediaPipe's person mask before a person is cut out and framed.

MediaPipe's segmentation guesses where a body goes on when the photo stops: a person whose
picture ends at the thighs (a photo pasted in a larger one, a collage) gets legs of whatever is
below the picture, with knees and ankles to match (and hips placed too high), and clutter next
to a person can join their mask.

* :func:`picture_box`: the picture the person is in. A straight horizontal step in the image
  that runs across the whole width of the person and on past them on both sides, above the
  torso or below it, is the top or bottom edge of a picture inside the photo (a body hides
  the lines of the background behind it: where the mask goes on across the line, what it
  holds past the line must look like the background there, not like the person); how far it
  runs gives the picture's width. MediaPipe then looks for the person
  again inside that box, as in a photo that stops there (on a person whose picture stops at
  the thighs above a painting, it places the hips too high).

:func:`clean_person_mask` then keeps what is seen:

* nothing past the picture's edges, mask or landmarks;
* one part: the largest connected part of the mask among those with the most torso and face
  landmarks on it (a patch of clutter MediaPipe took for the person has none);
* holes filled: a gap in the mask the colour of the person around it (a pattern MediaPipe
  missed) is the person's; one the colour of the background (between an arm and the body)
  stays background.
"""
from __future__ import annotations

import cv2
import numpy as np

__all__ = ["EDGE_STEP", "clean_person_mask", "picture_box"]

EDGE_STEP = 16.0  # step of a colour channel (0-255) that marks a picture's edge
EDGE_RUN = 0.8  # fraction of the background along a line that must show the step
INSIDE = 3  # pixels from the mask's border: the person's inside
BAND = 3  # rows: what the mask holds just before and past a line
EDGE_BORDER = 0.02  # lines this close to the photo's top or bottom (fraction) are its border
EDGE_MARGIN = 0.25  # how far past the person the step must run, as a fraction of their width
EDGE_GAP = 9  # pixels: an edge runs on where it shows on half of this many pixels around
RING = 3  # pixels: the rings of colour around a hole and around the person
_TORSO = (11, 12, 23, 24)  # MediaPipe shoulders and hips
_ANCHORS = (0, 2, 5, 11, 12, 23, 24)  # nose, eyes, shoulders, hips: on the person's part


def _run(line: np.ndarray, lo: int, hi: int) -> tuple[int, int]:
    """``[a, b)``: ``line`` (W,) bool is mostly true (over :data:`EDGE_GAP`-pixel windows)
    from ``a`` to ``b``, which contain ``[lo, hi)``."""
    mostly = np.convolve(line.astype(np.float32), np.ones(EDGE_GAP) / EDGE_GAP, "same") >= 0.5
    gaps = np.nonzero(~mostly)[0]
    return int(gaps[gaps < lo].max(initial=-1)) + 1, int(gaps[gaps >= hi].min(initial=len(line)))


def _band(colour: np.ndarray, rows: slice, where: np.ndarray) -> np.ndarray:
    """(3,) mean colour of ``colour`` (H, W, 3) in ``rows`` at the columns ``where`` (W,)."""
    return colour[rows][:, where].reshape(-1, 3).mean(axis=0)


def _edge_below(
    colour: np.ndarray, person: np.ndarray, start: int
) -> tuple[int, int, int] | None:
    """The first picture edge at or below row ``start``: the row it begins, and the columns
    ``[a, b)`` it runs along (the picture's width); None when there is none.

    ``colour``: (H, W, 3) float32; ``person``: (H, W) bool. Between rows i - 1 and i there is
    an edge when a colour channel steps by more than :data:`EDGE_STEP` on :data:`EDGE_RUN`
    of the background in the columns the person spans, widened by :data:`EDGE_MARGIN` of
    that on both sides (within the photo). Where the person's inside (:data:`INSIDE` pixels
    from the mask's border) goes on across the line, what the mask holds past it (:data:`BAND`
    rows) must look more like the background past it than like the person before it: a body
    hides the lines of the background behind it, only a picture's edge cuts it. Lines within
    :data:`EDGE_BORDER` of the photo's top or bottom are its own border.
    """
    height, width = person.shape
    cols = np.nonzero(person.any(axis=0))[0]
    if cols.size == 0:
        return None
    margin = round(EDGE_MARGIN * (cols[-1] - cols[0] + 1))
    lo, hi = int(max(0, cols[0] - margin)), int(min(width, cols[-1] + margin + 1))
    span = np.zeros(width, bool)
    span[lo:hi] = True
    step = np.abs(np.diff(colour, axis=0)).max(axis=2) > EDGE_STEP
    inside = cv2.erode(person.astype(np.uint8), np.ones((2 * INSIDE + 1,) * 2, np.uint8)) > 0
    border = max(BAND, round(EDGE_BORDER * height))
    for i in range(max(border, start), height - 1 - border):
        background = span & ~person[i] & ~person[i + 1]
        if not background.any() or step[i, background].mean() < EDGE_RUN:
            continue
        across = inside[i] & inside[i + 1]
        if across.any():
            before, past = slice(i + 1 - BAND, i + 1), slice(i + 1, i + 1 + BAND)
            held = _band(colour, past, across)
            if np.linalg.norm(held - _band(colour, past, background)) >= np.linalg.norm(
                held - _band(colour, before, across)
            ):
                continue
        return (i + 1, *_run(step[i], lo, hi))
    return None


def _picture_box(
    colour: np.ndarray, person: np.ndarray, landmarks: np.ndarray
) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): the rows between the picture edges above and below the torso and the
    columns those edges run along; the whole of ``colour`` (H, W, 3) / ``person`` (H, W)
    without edges. ``landmarks``: (33, 3) x, y, visibility; without a visible torso landmark
    (:data:`_TORSO`) there are no edges."""
    height, width = person.shape
    box = [0, 0, width, height]
    torso = landmarks[list(_TORSO)]
    torso = torso[torso[:, 2] >= 0.5, 1]
    if torso.size == 0:
        return 0, 0, width, height
    below = _edge_below(colour, person, int(np.ceil(torso.max())) + 1)
    above = _edge_below(colour[::-1], person[::-1], height - int(np.floor(torso.min())))
    if below is not None:
        box[3] = below[0]
    if above is not None:
        box[1] = height - above[0]
    for edge in (below, above):
        if edge is not None:
            box[0], box[2] = max(box[0], edge[1]), min(box[2], edge[2])
    return box[0], box[1], box[2], box[3]


def picture_box(
    rgb: np.ndarray, mask: np.ndarray, landmarks: np.ndarray, threshold: float = 0.5
) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): the pixels ``[y0:y1, x0:x1]`` of the picture the person is in.

    ``rgb``: (H, W, 3) uint8; ``mask``: (H, W) float32 in [0, 1], the person above
    ``threshold`` (its main part counts); ``landmarks``: (33, 3) x, y (pixels of ``rgb``),
    visibility. The whole photo, (0, 0, W, H), unless the person is in a picture inside it
    (see the module): then bounded by that picture's top and bottom edges and by how far they
    run.
    """
    return _picture_box(rgb.astype(np.float32), _main_part(mask > threshold, landmarks), landmarks)


def _main_part(person: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """(H, W) bool: the connected part of ``person`` (H, W) bool with the most visible torso
    and face landmarks (``landmarks``: (33, 3) x, y, visibility) on it, the largest of those
    (the largest part when none has one)."""
    count, labels = cv2.connectedComponents(person.astype(np.uint8), connectivity=8)
    if count <= 2:
        return person
    h, w = person.shape
    votes = np.zeros(count, np.int64)
    for x, y, vis in landmarks[list(_ANCHORS)]:
        xi, yi = int(round(x)), int(round(y))
        if vis >= 0.5 and 0 <= xi < w and 0 <= yi < h:
            votes[labels[yi, xi]] += 1
    votes[0] = -1
    sizes = np.bincount(labels.ravel(), minlength=count)
    best = max(range(1, count), key=lambda k: (votes[k], sizes[k]))
    return labels == best


def _window(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The part of ``image`` (H, W, ...) inside ``box`` = (x, y, w, h) widened by its size on
    every side."""
    x, y, bw, bh = (int(v) for v in box[:4])
    return image[max(0, y - bh):y + 2 * bh, max(0, x - bw):x + 2 * bw]


def _fill_holes(rgb: np.ndarray, person: np.ndarray) -> np.ndarray:
    """(H, W) bool: ``person`` with the holes that look like the person filled.

    ``rgb``: (H, W, 3) uint8. A hole (background the mask encloses) is filled when its mean
    colour is nearer the person's around it (the median of a ring of :data:`RING` pixels) than
    the background's near it (the median of a band of :data:`RING` pixels outside the person,
    within the hole's size of it): a pattern MediaPipe missed is the person's, the background
    seen between an arm and the body is not.
    """
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        (~person).astype(np.uint8), connectivity=4
    )
    h, w = person.shape
    enclosed = [
        k for k in range(1, count)
        if stats[k, 0] > 0 and stats[k, 1] > 0 and stats[k, 0] + stats[k, 2] < w
        and stats[k, 1] + stats[k, 3] < h
    ]
    kernel = np.ones((2 * RING + 1, 2 * RING + 1), np.uint8)
    band = (cv2.dilate(person.astype(np.uint8), kernel) > 0) & ~person
    band &= ~np.isin(labels, enclosed)
    filled = person.copy()
    for k in enclosed:
        hole = labels == k
        ring = (cv2.dilate(hole.astype(np.uint8), kernel) > 0) & person
        mean = rgb[hole].astype(np.float32).mean(axis=0)
        inner = np.median(rgb[ring], axis=0)
        outer = _window(rgb, stats[k])[_window(band, stats[k])]
        if outer.size == 0 or np.linalg.norm(mean - inner) < np.linalg.norm(
            mean - np.median(outer, axis=0)
        ):
            filled |= hole
    return filled


def clean_person_mask(
    rgb: np.ndarray, mask: np.ndarray, landmarks: np.ndarray,
    box: tuple[int, int, int, int], threshold: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """The person's mask, cleaned, and their landmarks with those outside ``box`` hidden.

    ``rgb``: (H, W, 3) uint8; ``mask``: (H, W) float32 in [0, 1] from MediaPipe, the person
    where above ``threshold``; ``landmarks``: (33, 3) x, y (pixels of ``rgb``), visibility;
    ``box``: (x0, y0, x1, y1) from :func:`picture_box`. Returns the (H, W) float32 mask
    (MediaPipe's values on the person, 1 in filled holes, a soft border of 2 pixels below
    ``threshold`` around it, 0 elsewhere and outside ``box``) and a copy of ``landmarks``
    whose visibility is 0 outside ``box``.
    """
    x0, y0, x1, y1 = box
    inside = np.zeros(mask.shape, bool)
    inside[y0:y1, x0:x1] = True
    kept = landmarks.copy()
    x, y = kept[:, 0], kept[:, 1]
    kept[(x < x0 - 0.5) | (x > x1 - 0.5) | (y < y0 - 0.5) | (y > y1 - 0.5), 2] = 0.0
    person = _fill_holes(rgb, _main_part((mask > threshold) & inside, kept))
    near = cv2.dilate(person.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    soft = np.where(near & inside, np.minimum(mask, threshold), 0.0).astype(np.float32)
    soft[person] = np.where(mask[person] > threshold, mask[person], 1.0)
    return soft, kept
