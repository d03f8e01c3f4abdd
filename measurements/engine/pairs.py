"""Left/right landmark pairs for the 478-point MediaPipe face mesh.

``MIRROR[i]`` is the index of the landmark that sits at the mirror position of
landmark ``i`` on the other half of the face (``MIRROR[i] == i`` on the
midline). The table lets the engine average a pass over the mirrored photo back
into the original labelling, and defines the asymmetry index.

How the table is derived
------------------------
The protocol (docs/metrics.md, "Left/right pairs") defines the pairs by
mirroring MediaPipe's canonical face model (x -> -x) and taking the nearest
vertex. The 0.10.21 wheel does not ship that model
(``mediapipe/modules/face_geometry/data/`` holds only ``__init__.py``), so the
table is built from the model's structure instead, which is exactly
mirror-symmetric:

* 28 vertices lie on the midline (x = 0 in the canonical model), listed in
  ``MIDLINE`` below;
* vertices 0-247 hold the midline and the subject's right half; vertices
  248-467 hold the left half in the same order, so the k-th right-half vertex
  (counting upwards from 0, skipping the midline) mirrors onto vertex 248 + k;
* the refined iris points are 468 (right centre) with ring 469-472 and 473
  (left centre) with ring 474-477. Both rings run nasal-up-temporal-down on the
  right and temporal-up-nasal-down on the left as seen in the photo, so
  469<->476 (nasal), 470<->475 (upper), 471<->474 (temporal), 472<->477 (lower).

``tests/engine/test_pairs.py`` checks this table against the landmark model
itself: the mesh of a mirrored photo, mirrored back, must land on the partner
points of the mesh of the original photo (optimal assignment over all 478
points). That test reproduces the table exactly.
"""

from __future__ import annotations

import numpy as np

N_LANDMARKS = 478
N_MESH = 468

MIDLINE: tuple[int, ...] = (
    0, 1, 2, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
    94, 151, 152, 164, 168, 175, 195, 197, 199, 200,
)  # fmt: skip

_IRIS_PAIRS = ((468, 473), (469, 476), (470, 475), (471, 474), (472, 477))


def _build_mirror_table() -> np.ndarray:
    table = np.arange(N_LANDMARKS)
    midline = set(MIDLINE)
    right_half = [i for i in range(248) if i not in midline]
    for k, right in enumerate(right_half):
        left = 248 + k
        table[right], table[left] = left, right
    for right, left in _IRIS_PAIRS:
        table[right], table[left] = left, right
    if not np.array_equal(table[table], np.arange(N_LANDMARKS)):
        raise AssertionError("mirror table is not an involution")
    return table


MIRROR: np.ndarray = _build_mirror_table()
MIRROR.setflags(write=False)


def mirror_landmarks(points: np.ndarray, width: float) -> np.ndarray:
    """Landmarks of a horizontally flipped photo, expressed for the original.

    ``points`` are (478, 2) pixel coordinates found in a photo of ``width``
    pixels that was flipped left to right. The result holds, at index ``i``,
    where landmark ``i`` of the *unflipped* photo is: the flipped photo's
    landmark ``MIRROR[i]`` with its x reflected back (x -> width - x). Pixel
    coordinates follow MediaPipe's convention: the image spans [0, width], so
    reflecting is exact.
    """
    out = points[MIRROR].astype(np.float64, copy=True)
    out[:, 0] = width - out[:, 0]
    return out
