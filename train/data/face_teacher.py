"""The landmark teacher: where each pixel of one face comes from in another face.

MediaPipe's face mesh puts the same 478 landmarks on every face, so two meshes give a dense
correspondence between *any* two faces, also of two people. Warping the exemplar onto the
target's mesh triangle by triangle (a piecewise-affine warp) shows the exemplar's person in the
target's pose and expression inside the face: a teacher for cross-identity training pairs,
where no photo of the answer exists.

The mesh leaves the eyes and the mouth as holes. The eyes are closed with fans around the iris
centres (landmarks 468 and 473), the mouth with a fan around the mean of its inner lip points.
The validity mask keeps a target pixel when it lies inside the target's face oval, on a
triangle that keeps its orientation and roughly its size in the exemplar (no fold), inside the
exemplar's frame, and, for the mouth, only when both mouths are about as open; it is faded to
0 over ``border`` pixels towards its edge (the mesh border is where the meshes disagree most).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from dynast.semantics.face_mesh_topology import INNER_LIPS, contour_edges, mesh_triangles

# A triangle whose area changes by more than this factor (after the faces' overall scale is
# divided out) is treated as folded or torn.
MAX_AREA_CHANGE = 3.0
# The mouth fan counts when the smaller mouth opening is at least this share of the larger, or
# when both are closed (opening under CLOSED_MOUTH of the face oval's area).
MOUTH_OPENING_AGREEMENT = 0.5
CLOSED_MOUTH = 0.004
# Fade width of the mask, as a share of the image's shorter side (at least 1 pixel).
BORDER_SHARE = 0.03
MOUTH_CENTRE = 478  # the virtual landmark appended to the mesh: the inner lips' mean


@dataclass
class Teacher:
    """``flow`` (H, W, 2) float32: exemplar pixel (x, y) for each target pixel (undefined where
    ``mask`` is 0); ``mask`` (H, W) float32 in [0, 1]; ``image`` (H, W, 3) uint8: the exemplar
    warped onto the target (0 where ``mask`` is 0)."""

    flow: np.ndarray
    mask: np.ndarray
    image: np.ndarray


def _cycle(edges: frozenset[tuple[int, int]]) -> list[int]:
    """The landmark indices of a closed contour in order around it."""
    neighbours: dict[int, list[int]] = {}
    for a, b in edges:
        neighbours.setdefault(a, []).append(b)
        neighbours.setdefault(b, []).append(a)
    start = min(neighbours)
    order, prev = [start], None
    while True:
        here = order[-1]
        nxt = next(n for n in neighbours[here] if n != prev and (len(order) < 2 or n != order[-2]))
        if nxt == start:
            return order
        prev = here
        order.append(nxt)


@functools.lru_cache(maxsize=1)
def _rings() -> dict[str, list[int]]:
    """Ordered rings: the face oval, both eyes' contours and the mouth opening."""
    sets = contour_edges()
    ids_of = {"face_oval": sets["FACE_OVAL"], "left_eye": sets["LEFT_EYE"],
              "right_eye": sets["RIGHT_EYE"]}
    ids_of["mouth"] = frozenset(e for e in sets["LIPS"]
                                if e[0] in INNER_LIPS and e[1] in INNER_LIPS)
    return {name: _cycle(edges) for name, edges in ids_of.items()}


def _iris_centre(iris: frozenset[tuple[int, int]]) -> int:
    """MediaPipe numbers each iris's centre just before its four contour points."""
    return min(min(edge) for edge in iris) - 1


@functools.lru_cache(maxsize=1)
def teacher_triangles() -> tuple[np.ndarray, np.ndarray]:
    """(T, 3) landmark triples (the mesh, then the eye and mouth fans) and (T,) bool: is the
    triangle part of the mouth fan."""
    rings, sets = _rings(), contour_edges()
    fans = [(_iris_centre(sets["LEFT_IRIS"]), rings["left_eye"]),
            (_iris_centre(sets["RIGHT_IRIS"]), rings["right_eye"]),
            (MOUTH_CENTRE, rings["mouth"])]
    fan_triangles = [[(hub, a, b) for a, b in zip(ring, ring[1:] + ring[:1])]
                     for hub, ring in fans]
    mesh = mesh_triangles()
    triangles = np.concatenate([mesh, *(np.asarray(f) for f in fan_triangles)])
    is_mouth = np.zeros(len(triangles), bool)
    is_mouth[-len(fan_triangles[-1]):] = True
    return triangles, is_mouth


def with_mouth_centre(xy: np.ndarray) -> np.ndarray:
    """(478, 2) landmarks -> (479, 2) with the inner lips' mean appended (``MOUTH_CENTRE``)."""
    centre = xy[sorted(INNER_LIPS)].mean(0, keepdims=True)
    return np.concatenate([np.asarray(xy, np.float64)[:478], centre])


def _signed_areas(xy: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    a, b, c = (xy[triangles[:, i]] for i in range(3))
    return 0.5 * ((b - a)[:, 0] * (c - a)[:, 1] - (b - a)[:, 1] * (c - a)[:, 0])


def _polygon_area(xy: np.ndarray, ring: list[int]) -> float:
    return float(abs(cv2.contourArea(xy[ring].astype(np.float32))))


def _affines(src: np.ndarray, dst: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """(T, 3, 2): per triangle, [x y 1] @ A maps its ``src`` corners onto its ``dst`` corners."""
    p = np.concatenate([src[triangles], np.ones((len(triangles), 3, 1))], 2)  # (T, 3, 3)
    return np.linalg.solve(p, dst[triangles])


def face_teacher(
    exemplar: np.ndarray, exemplar_xy: np.ndarray, target_shape: tuple[int, int],
    target_xy: np.ndarray,
) -> Teacher:
    """The exemplar warped onto the target's face mesh.

    ``exemplar``: uint8 (He, We, 3); ``exemplar_xy`` (478, 2) its landmarks in its pixels;
    ``target_shape``: (H, W) of the target image; ``target_xy`` (478, 2) its landmarks.
    """
    h, w = target_shape
    triangles, is_mouth = teacher_triangles()
    xt, xe = with_mouth_centre(target_xy), with_mouth_centre(exemplar_xy)
    area_t, area_e = _signed_areas(xt, triangles), _signed_areas(xe, triangles)
    rings = _rings()
    oval_t, oval_e = _polygon_area(xt, rings["face_oval"]), _polygon_area(xe, rings["face_oval"])
    scale = oval_e / max(oval_t, 1e-9)
    drawable = np.abs(area_t) > 0.25  # sub-pixel triangles cannot be rasterised or inverted
    ratio = np.where(drawable, area_e / np.where(drawable, area_t, 1.0) / scale, 0.0)
    valid = (ratio > 1 / MAX_AREA_CHANGE) & (ratio < MAX_AREA_CHANGE)
    open_t = _polygon_area(xt, rings["mouth"]) / max(oval_t, 1e-9)
    open_e = _polygon_area(xe, rings["mouth"]) / max(oval_e, 1e-9)
    mouths_agree = (max(open_t, open_e) < CLOSED_MOUTH
                    or min(open_t, open_e) >= MOUTH_OPENING_AGREEMENT * max(open_t, open_e))
    if not mouths_agree:
        valid &= ~is_mouth

    index = np.full((h, w), -1, np.int32)
    corners = np.round(xt * 16).astype(np.int32)  # 4 fractional bits for cv2's rasteriser
    for t in np.flatnonzero(drawable):
        cv2.fillConvexPoly(index, corners[triangles[t]], int(t), cv2.LINE_8, 4)
    covered = index >= 0
    affine = np.zeros((len(triangles), 3, 2))
    affine[drawable] = _affines(xt, xe, triangles[drawable])
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    pix = np.stack([xs, ys, np.ones_like(xs)], -1)  # (H, W, 3)
    flow = np.einsum("hwk,hwkj->hwj", pix, affine[np.maximum(index, 0)]).astype(np.float32)

    oval = np.zeros((h, w), np.uint8)
    cv2.fillPoly(oval, [np.round(xt[rings["face_oval"]] * 16).astype(np.int32)], 1,
                 cv2.LINE_8, 4)
    he, we = exemplar.shape[:2]
    inside_frame = ((flow[..., 0] >= 0) & (flow[..., 0] <= we - 1)
                    & (flow[..., 1] >= 0) & (flow[..., 1] <= he - 1))
    keep = covered & valid[np.maximum(index, 0)] & (oval > 0) & inside_frame
    border = max(1.0, BORDER_SHARE * min(h, w))
    distance = cv2.distanceTransform(keep.astype(np.uint8), cv2.DIST_L2, 3)
    mask = np.clip(distance / border, 0.0, 1.0).astype(np.float32)

    image = cv2.remap(exemplar, flow[..., 0], flow[..., 1], cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_REPLICATE)
    image[mask <= 0] = 0
    return Teacher(flow=flow, mask=mask, image=image)
