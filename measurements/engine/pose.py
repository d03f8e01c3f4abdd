"""Head pose (yaw, pitch, roll) from the face mesh's 3D landmarks (docs/metrics.md, "Head pose").

Reported with every score so that an investigator can check that pose does not
differ between arms; it changes no metric and no gate (the head-turn gate keeps
its own nose-to-eye-corner estimate, ``gates.yaw_deg``).

The mesh gives x and y in pixels and a relative depth z (larger further from
the camera, in the same pixels as x). MediaPipe's canonical face model, from
which a full pose fit would start, is not in the 0.10.21 wheel (see
``pairs``), so the pose is read from the face's own symmetry instead:

* the subject's left axis ``u`` is the summed vector from every right-half
  landmark to its mirror partner (weighted towards the wide pairs, whose
  direction is surest); its angle in the photo is the roll;
* the yaw is the turn of the plane of bilateral symmetry: the midpoints of the
  pairs and the midline points lie on it, so with the roll taken out their x
  is a linear function of their depth (and height), x = a + b z + c y, and a
  face turned by the yaw has b = -tan(yaw). The fit reads the pairs'
  positions against the depth of the face's own shape (nose in front of the
  cheeks), which the model gets right, rather than the depth difference
  between partners, which it underestimates on a turned face;
* the up axis ``v`` runs from the chin (152) to the nasal bridge between the
  eyes (168), made perpendicular to ``u``; the face's forward axis ``u x v``
  gives the pitch.

All three angles are in degrees, 0 for a face square to the camera:

* yaw: positive when the face is turned to the subject's left (the nose
  points to the subject's left, the image's right in an unmirrored photo),
  the same sign as the head-turn gate;
* pitch: positive when the chin is raised (the face looks up);
* roll: positive when the head tilts towards the subject's left shoulder (the
  left eye lower in the photo), the same sign as the facial frame's roll.

A mirrored photo gives exactly -yaw, the same pitch and -roll, since its
landmarks are exactly the mirrored landmarks (``landmarks``). Pitch is
measured against the chin-to-bridge line, so a face's own build (a receding
or a prominent chin) offsets it by a few degrees; it compares photos and arms,
it is not an absolute head angle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .pairs import MIRROR, N_MESH

CHIN = 152
NASAL_BRIDGE = 168
_MESH_INDEX = np.arange(N_MESH)
_RIGHT_HALF = _MESH_INDEX[MIRROR[:N_MESH] > _MESH_INDEX]
_HALF_AND_MIDLINE = _MESH_INDEX[MIRROR[:N_MESH] >= _MESH_INDEX]


@dataclass(frozen=True)
class HeadPose:
    yaw_deg: float
    pitch_deg: float
    roll_deg: float

    def as_dict(self) -> dict[str, float]:
        return {"yaw_deg": self.yaw_deg, "pitch_deg": self.pitch_deg, "roll_deg": self.roll_deg}


def _unit(vector: np.ndarray) -> np.ndarray | None:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 1e-9 and math.isfinite(norm) else None


def head_pose(points: np.ndarray, depth: np.ndarray) -> HeadPose | None:
    """The pose of a face from its (478, 2) landmarks and (478,) depths, all in
    the same pixels; None when the landmarks are degenerate."""
    mesh = np.column_stack([np.asarray(points, dtype=np.float64)[:N_MESH, :2], np.asarray(depth)[:N_MESH]])
    left_axis = _unit((mesh[MIRROR[_RIGHT_HALF]] - mesh[_RIGHT_HALF]).sum(axis=0))
    up = mesh[NASAL_BRIDGE] - mesh[CHIN]
    if left_axis is None:
        return None
    up_axis = _unit(up - float(up @ left_axis) * left_axis)
    if up_axis is None:
        return None
    forward = np.cross(left_axis, up_axis)  # towards the camera (-z) for a frontal face
    roll_rad = math.atan2(float(left_axis[1]), float(left_axis[0]))
    # Yaw and pitch are read with the roll taken out (the forward axis turned back by the roll in
    # the image plane), so that turning the photo in its plane changes the roll alone.
    cos, sin = math.cos(roll_rad), math.sin(roll_rad)
    across = cos * float(forward[0]) + sin * float(forward[1])
    down = -sin * float(forward[0]) + cos * float(forward[1])
    towards = -float(forward[2])
    pitch = math.degrees(math.atan2(-down, math.hypot(across, towards)))
    roll = math.degrees(roll_rad)
    # The symmetry plane, from the pair midpoints in the de-rolled photo.
    x = cos * mesh[:, 0] + sin * mesh[:, 1]
    y = -sin * mesh[:, 0] + cos * mesh[:, 1]
    partner = MIRROR[_HALF_AND_MIDLINE]
    mid_x = (x[_HALF_AND_MIDLINE] + x[partner]) / 2
    mid_y = (y[_HALF_AND_MIDLINE] + y[partner]) / 2
    mid_z = (mesh[_HALF_AND_MIDLINE, 2] + mesh[partner, 2]) / 2
    design = np.column_stack([np.ones_like(mid_z), mid_z - mid_z.mean(), mid_y - mid_y.mean()])
    (_, depth_slope, _), *_ = np.linalg.lstsq(design, mid_x, rcond=None)
    yaw = math.degrees(math.atan(-float(depth_slope)))
    if not all(math.isfinite(a) for a in (yaw, pitch, roll)):
        return None
    return HeadPose(yaw_deg=yaw, pitch_deg=pitch, roll_deg=roll)
