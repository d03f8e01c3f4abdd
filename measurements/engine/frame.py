"""The facial frame and the millimetre scale (docs/metrics.md, "Conventions").

Origin at the midpoint of the two iris centres; x along the interpupillary
line from the subject's right iris (468) to the left iris (473), so x grows
towards the subject's left; y perpendicular to it, pointing down the face.
Rotating into this frame removes head roll, and the facial midline is x = 0.
Distances are converted to millimetres with the iris: 11.77 mm over the mean
horizontal iris diameter in pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Mean horizontal visible iris diameter of adults, mm (facial-palsy literature
# convention, see docs/metrics.md).
IRIS_DIAMETER_MM = 11.77

RIGHT_IRIS_CENTRE = 468
LEFT_IRIS_CENTRE = 473
# Horizontal ends of each iris ring (nasal, temporal).
RIGHT_IRIS_HORIZONTAL = (469, 471)
LEFT_IRIS_HORIZONTAL = (476, 474)


def iris_diameters_px(points: np.ndarray) -> tuple[float, float]:
    """Horizontal iris diameters (right, left) in pixels: the distance between
    the nasal and temporal points of each iris ring."""
    right = float(np.linalg.norm(points[RIGHT_IRIS_HORIZONTAL[0]] - points[RIGHT_IRIS_HORIZONTAL[1]]))
    left = float(np.linalg.norm(points[LEFT_IRIS_HORIZONTAL[0]] - points[LEFT_IRIS_HORIZONTAL[1]]))
    return right, left


@dataclass(frozen=True)
class FacialFrame:
    """Maps photo pixels to the facial frame in millimetres."""

    origin: np.ndarray  # (2,) photo pixels
    x_axis: np.ndarray  # (2,) unit vector, right iris -> left iris
    y_axis: np.ndarray  # (2,) unit vector, down the face
    mm_per_px: float
    iris_diameter_px: float
    roll_deg: float  # angle of the interpupillary line in the photo, y down

    @classmethod
    def from_landmarks(cls, points: np.ndarray) -> FacialFrame:
        right = points[RIGHT_IRIS_CENTRE]
        left = points[LEFT_IRIS_CENTRE]
        origin = (right + left) / 2.0
        axis = left - right
        length = float(np.linalg.norm(axis))
        if not np.isfinite(length) or length <= 0:
            raise ValueError("iris centres coincide")
        x_axis = axis / length
        # Image y points down; the perpendicular that points down the face in
        # an upright photo is (-x_y, x_x).
        y_axis = np.array([-x_axis[1], x_axis[0]])
        diameter = float(np.mean(iris_diameters_px(points)))
        if not np.isfinite(diameter) or diameter <= 0:
            raise ValueError("iris diameter is zero")
        roll = float(np.degrees(np.arctan2(x_axis[1], x_axis[0])))
        return cls(
            origin=origin,
            x_axis=x_axis,
            y_axis=y_axis,
            mm_per_px=IRIS_DIAMETER_MM / diameter,
            iris_diameter_px=diameter,
            roll_deg=roll,
        )

    def to_frame_mm(self, points: np.ndarray) -> np.ndarray:
        """Photo pixels (N, 2) -> facial frame millimetres (N, 2)."""
        rel = np.asarray(points, dtype=np.float64) - self.origin
        return np.stack([rel @ self.x_axis, rel @ self.y_axis], axis=-1) * self.mm_per_px

    def to_photo_px(self, points_mm: np.ndarray) -> np.ndarray:
        """Facial frame millimetres (N, 2) -> photo pixels (N, 2)."""
        pts = np.asarray(points_mm, dtype=np.float64) / self.mm_per_px
        return self.origin + pts[..., :1] * self.x_axis + pts[..., 1:2] * self.y_axis
