"""Write dynast/semantics/face_mesh_topology.json from the installed MediaPipe.

    python scripts/face_mesh_topology.py

The file holds MediaPipe's face-mesh contour sets (FACE_OVAL, LIPS, ...) and the triangles of
its tesselation, so that drawing face semantics from known landmarks and the training
teacher's piecewise-affine warp run without MediaPipe (e.g. on a GPU machine that has training
data with cached landmarks). ``tests/test_face_teacher.py`` checks the file against MediaPipe.

Triangles: every 3-clique of FACEMESH_TESSELATION's edges, less the two cliques that are not
faces of the mesh: their three edges each belong to three cliques (a face's edge belongs to two,
or one on a border). That leaves 852 = 2V - B - 2 + 2 x holes faces for V = 468 vertices, B = 88
border edges and 3 holes: the eyes and the mouth stay holes, as in MediaPipe's mesh.
"""

from __future__ import annotations

import collections
import itertools
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "dynast/semantics/face_mesh_topology.json"
CONTOURS = ("FACE_OVAL", "LEFT_EYEBROW", "RIGHT_EYEBROW", "LEFT_EYE", "RIGHT_EYE",
            "LEFT_IRIS", "RIGHT_IRIS", "NOSE", "LIPS")


def _cliques(edges: set[tuple[int, int]]) -> set[tuple[int, int, int]]:
    neighbours = collections.defaultdict(set)
    for a, b in edges:
        neighbours[a].add(b)
        neighbours[b].add(a)
    return {tuple(sorted((a, b, c))) for a, b in edges for c in neighbours[a] & neighbours[b]}


def _faces(cliques: set[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """The cliques that are faces: not every one of their edges is shared by three cliques."""
    shared = collections.Counter(e for t in cliques for e in itertools.combinations(t, 2))
    return sorted(t for t in cliques
                  if not all(shared[e] == 3 for e in itertools.combinations(t, 2)))


def main() -> None:
    import mediapipe as mp

    fm = mp.solutions.face_mesh
    edges = {tuple(sorted(e)) for e in fm.FACEMESH_TESSELATION}
    triangles = _faces(_cliques(edges))
    contours = {n: sorted(sorted(e) for e in getattr(fm, "FACEMESH_" + n)) for n in CONTOURS}
    OUT.write_text(json.dumps({
        "source": f"mediapipe {mp.__version__} solutions.face_mesh (Apache-2.0)",
        "contours": contours,
        "triangles": triangles,
    }, separators=(",", ":")) + "\n")
    print(f"{OUT}: {len(triangles)} triangles, {sum(map(len, contours.values()))} contour edges")


if __name__ == "__main__":
    main()
