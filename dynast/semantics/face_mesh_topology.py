"""MediaPipe's face-mesh topology as data: contour sets and tesselation triangles.

Read from ``face_mesh_topology.json`` (written by ``scripts/face_mesh_topology.py`` from
MediaPipe 0.10.21 and checked against it by the tests), so that code which already has the
landmarks (drawing face semantics, the training teacher's warp) does not need MediaPipe.
Indices are MediaPipe's 478-point numbering (468 mesh points, then the two irises' 5 each).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np

__all__ = ["INNER_LIPS", "contour_edges", "mesh_triangles"]

_FILE = Path(__file__).with_name("face_mesh_topology.json")

# The inner lip contour (the mouth opening) in MediaPipe's face-mesh numbering.
INNER_LIPS = frozenset(
    (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 191, 80, 81, 82, 13, 312, 311, 310, 415)
)


@functools.lru_cache(maxsize=1)
def _topology() -> dict:
    return json.loads(_FILE.read_text())


def contour_edges() -> dict[str, frozenset[tuple[int, int]]]:
    """MediaPipe's contour sets by name (FACE_OVAL, LIPS, LEFT_EYE, ...): landmark index pairs."""
    return {
        name: frozenset((a, b) for a, b in pairs)
        for name, pairs in _topology()["contours"].items()
    }


def mesh_triangles() -> np.ndarray:
    """(852, 3) int64: the tesselation's triangles (the eyes and the mouth are holes)."""
    return np.asarray(_topology()["triangles"], np.int64)
