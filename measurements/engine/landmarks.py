"""Face landmarks from MediaPipe Face Mesh, averaged over several cheap passes.

One pass of the landmark model is not equivariant: rotate, shrink or mirror the
photo and the points move by a fraction of a pixel to a few pixels, which is up
to a millimetre at the mouth. METRICS.md ("Precision") therefore asks for the
average over a few passes. The engine computes

    F(photo) = 1/2 * [G(photo) + mirror(G(flip(photo)))]

where G is the mean of ``len(PASS_GEOMETRY)`` passes over a crop around the
face at small rotations and two crop sizes, each mapped back into the photo,
and ``mirror`` relabels the points through the left/right pair table. Because G is a deterministic function
of the pixels and flip(flip(photo)) is the photo, F(flip(photo)) is exactly the
mirror image of F(photo): the mirror case is exact by construction. The
rotations cancel most of the rest.

The model object is created once per process (it loads the TFLite graph) and
is not safe for concurrent use, so calls go through a lock.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import cv2
import numpy as np

from .pairs import N_LANDMARKS, N_MESH, mirror_landmarks

# (rotation in degrees, crop context) of each crop pass inside G. Rotations are
# symmetric, so that the average does not favour one direction of head roll;
# two crop sizes alternate, so that it also spans a little scale. A single pass
# scatters the commissure height deviation by about 0.2 mm (SD); measured over
# rotated, shrunk, shifted and recompressed copies of the test photos, the
# averaged result scatters by 0.12-0.13 mm with five passes per side and
# 0.05 mm with these eight.
PASS_GEOMETRY: tuple[tuple[float, float], ...] = (
    (-7.0, 1.7),
    (-5.0, 1.9),
    (-3.0, 1.7),
    (-1.0, 1.9),
    (1.0, 1.7),
    (3.0, 1.9),
    (5.0, 1.7),
    (7.0, 1.9),
)
# Landmark passes averaged per photo: each crop pass on the photo and on its
# mirror image.
AVERAGED_PASSES = 2 * len(PASS_GEOMETRY)
# Face-finding passes over the whole photo and its mirror image.
FIND_PASSES = 2
# Every run of the landmark model for a photo with one face: the honest unit
# of cost (benchmarks compare the pipeline against PASSES single passes).
PASSES = FIND_PASSES + AVERAGED_PASSES
# Side of the square crop fed to the model, in pixels; the face (landmark
# extent) fills about 1/CROP_CONTEXT of it, i.e. about 210 px, a little more
# than the model's own 192 px face input. Larger crops only cost time.
CROP_SIZE = 384
CROP_CONTEXT = 1.6
# The face-finding pass runs on the photo shrunk to at most this long side;
# the model resamples the face to 192 px internally anyway.
FIND_LONG_SIDE = 1024

_lock = threading.Lock()
_face_mesh = None
_face_detector = None


def get_face_mesh():
    """The process-wide MediaPipe FaceMesh (created on first use, so that
    importing the engine stays cheap and a worker loads the graph once).

    The graph is not safe for concurrent use: call it through ``run_mesh``,
    which holds ``model_lock()`` around every call.
    """
    global _face_mesh
    if _face_mesh is None:
        with _lock:
            if _face_mesh is None:
                from mediapipe.python.solutions import face_mesh

                _face_mesh = face_mesh.FaceMesh(
                    static_image_mode=True,
                    refine_landmarks=True,
                    max_num_faces=2,
                    min_detection_confidence=0.5,
                )
    return _face_mesh


def get_face_detector():
    """The process-wide full-range face detector, used when the mesh's own
    short-range detector finds nothing (a small face in a large photo)."""
    global _face_detector
    if _face_detector is None:
        with _lock:
            if _face_detector is None:
                from mediapipe.python.solutions import face_detection

                _face_detector = face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.5)
    return _face_detector


def model_lock() -> threading.Lock:
    """The lock that serialises every call into the MediaPipe graphs."""
    return _lock


def run_mesh(rgb: np.ndarray) -> list[np.ndarray]:
    """One pass of Face Mesh. Returns one (478, 2) float array per face found,
    in pixel coordinates of ``rgb`` (image spans [0, width] x [0, height])."""
    mesh = get_face_mesh()
    h, w = rgb.shape[:2]
    image = np.ascontiguousarray(rgb, dtype=np.uint8)
    with _lock:
        result = mesh.process(image)
    faces = []
    for face in result.multi_face_landmarks or ():
        pts = np.array([(p.x * w, p.y * h) for p in face.landmark], dtype=np.float64)
        if pts.shape == (N_LANDMARKS, 2):
            faces.append(pts)
    return faces


def detect_faces(rgb: np.ndarray) -> list[tuple[float, float, float, float]]:
    """Full-range face detection: boxes (x, y, width, height) in pixels."""
    detector = get_face_detector()
    h, w = rgb.shape[:2]
    with _lock:
        result = detector.process(np.ascontiguousarray(rgb, dtype=np.uint8))
    boxes = []
    for det in result.detections or ():
        box = det.location_data.relative_bounding_box
        boxes.append((box.xmin * w, box.ymin * h, box.width * w, box.height * h))
    return boxes


@dataclass(frozen=True)
class Crop:
    """A square, possibly rotated, window of the photo fed to the model.

    A point ``u`` in crop pixels (crop spans [0, size]) sits at
    ``centre + scale * R(angle) @ (u - size / 2)`` in the photo.
    """

    centre: tuple[float, float]
    scale: float  # photo pixels per crop pixel
    angle_deg: float
    size: int = CROP_SIZE

    def rotation(self) -> np.ndarray:
        a = math.radians(self.angle_deg)
        return np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])

    def to_photo(self, points: np.ndarray) -> np.ndarray:
        rot = self.rotation() * self.scale
        return (points - self.size / 2.0) @ rot.T + np.asarray(self.centre)

    def extract(self, source: np.ndarray | Source) -> np.ndarray:
        """Resample the crop (bilinear) from the photo or a prepared ``Source``."""
        if not isinstance(source, Source):
            source = Source.for_crops(source, [self])
        rot = self.rotation() * self.scale
        lin = source.factor[:, None] * rot
        centre_src = (np.asarray(self.centre) - source.offset) * source.factor
        # Affine map from crop pixel centres to source-array pixel centres:
        # src = centre_src + lin @ (u - size/2) in continuous coordinates, and
        # pixel centres sit at continuous coordinate - 0.5 on both sides.
        trans = centre_src - 0.5 - lin @ np.array([self.size / 2.0 - 0.5] * 2)
        matrix = np.hstack([lin, trans[:, None]])
        return cv2.warpAffine(
            source.pixels,
            matrix,
            (self.size, self.size),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )


@dataclass(frozen=True)
class Source:
    """The part of the photo that a set of crops reads from, shrunk once with
    area averaging when the crops shrink the photo, so that the model never
    sees aliasing and the expensive resize is not repeated for every pass.

    A photo point p sits at ``(p - offset) * factor`` in ``pixels``
    (continuous coordinates).
    """

    pixels: np.ndarray
    offset: np.ndarray
    factor: np.ndarray

    @classmethod
    def for_crops(cls, rgb: np.ndarray, crops: list[Crop]) -> Source:
        """Copy (and shrink, if needed) only the region the crops read.

        ``rgb`` may be a view (such as the flipped photo); only the region is
        ever copied.
        """
        h, w = rgb.shape[:2]
        # 0.75 * size covers the square crop at any rotation (half-diagonal).
        reach = [0.75 * c.scale * c.size + 2 for c in crops]
        x0 = max(0, int(min(c.centre[0] - r for c, r in zip(crops, reach))))
        x1 = min(w, int(math.ceil(max(c.centre[0] + r for c, r in zip(crops, reach)))))
        y0 = max(0, int(min(c.centre[1] - r for c, r in zip(crops, reach))))
        y1 = min(h, int(math.ceil(max(c.centre[1] + r for c, r in zip(crops, reach)))))
        if x1 - x0 < 2 or y1 - y0 < 2:  # crop entirely off the photo
            x0, y0, x1, y1 = 0, 0, w, h
        region = np.ascontiguousarray(rgb[y0:y1, x0:x1])
        offset = np.array([x0, y0], dtype=np.float64)
        shrink = min(c.scale for c in crops)
        if shrink <= 1.25:
            return cls(region, offset, np.ones(2))
        out_w = max(1, round((x1 - x0) / shrink))
        out_h = max(1, round((y1 - y0) / shrink))
        pixels = cv2.resize(region, (out_w, out_h), interpolation=cv2.INTER_AREA)
        return cls(pixels, offset, np.array([out_w / (x1 - x0), out_h / (y1 - y0)]))


def _shrink(rgb: np.ndarray, long_side: int) -> tuple[np.ndarray, np.ndarray]:
    """The photo at no more than ``long_side`` pixels, and the per-axis scale.

    Large photos are first subsampled by an integer stride (cheap, and this
    pass only needs to find the face), then area-averaged to size.
    """
    h, w = rgb.shape[:2]
    if max(h, w) <= long_side:
        return np.ascontiguousarray(rgb), np.ones(2)
    stride = max(1, int(max(h, w) / long_side))
    sub = np.ascontiguousarray(rgb[::stride, ::stride])
    ratio = long_side / max(h, w)
    out_w, out_h = max(1, round(w * ratio)), max(1, round(h * ratio))
    out = cv2.resize(sub, (out_w, out_h), interpolation=cv2.INTER_AREA)
    # Subsampling keeps pixel i*stride; continuous coordinates map as
    # x_sub = x / stride (to within a constant sub-pixel shift that the rough
    # pass does not care about).
    return out, np.array([out_w / w, out_h / h])


def find_faces(rgb: np.ndarray) -> list[np.ndarray]:
    """Rough landmarks of every face in the photo (at most two), one pass.

    The mesh's built-in detector is a short-range model that misses faces
    smaller than about a fifth of the frame; when it finds nothing, the
    full-range detector looks again and the mesh is run on a crop around each
    face it reports.
    """
    small, ratio = _shrink(rgb, FIND_LONG_SIDE)  # ratio: small px per photo px
    faces = [pts / ratio for pts in run_mesh(small)]
    if faces:
        return faces
    found = []
    for x, y, bw, bh in detect_faces(small)[:2]:
        size = max(bw / ratio[0], bh / ratio[1])
        centre = ((x + bw / 2) / ratio[0], (y + bh / 2) / ratio[1])
        crop = Crop(centre=centre, scale=size * 2.2 / CROP_SIZE, angle_deg=0.0)
        pts = _central_face(run_mesh(crop.extract(rgb)), crop.size)
        if pts is not None:
            found.append(crop.to_photo(pts))
    return found


def _central_face(faces: list[np.ndarray], size: int) -> np.ndarray | None:
    if not faces:
        return None
    centre = np.array([size / 2.0, size / 2.0])
    return min(faces, key=lambda p: float(np.linalg.norm(p[:N_MESH].mean(0) - centre)))


def face_crop(points: np.ndarray, angle_deg: float = 0.0, context: float | None = None) -> Crop:
    """The crop that frames the face described by ``points``."""
    mesh = points[:N_MESH]
    lo, hi = mesh.min(axis=0), mesh.max(axis=0)
    centre = (lo + hi) / 2.0
    extent = float(max(hi - lo)) * (CROP_CONTEXT if context is None else context)
    return Crop(
        centre=(float(centre[0]), float(centre[1])), scale=extent / CROP_SIZE, size=CROP_SIZE, angle_deg=angle_deg
    )


def rotation_averaged(rgb: np.ndarray, rough: np.ndarray) -> tuple[np.ndarray, int]:
    """G: mean landmarks over the crop passes of ``PASS_GEOMETRY``, in photo
    pixels. Returns the mean and the number of passes that found the face."""
    crops = [face_crop(rough, angle, context) for angle, context in PASS_GEOMETRY]
    source = Source.for_crops(rgb, crops)
    total = np.zeros((N_LANDMARKS, 2))
    n = 0
    for crop in crops:
        pts = _central_face(run_mesh(crop.extract(source)), crop.size)
        if pts is None:
            continue
        total += crop.to_photo(pts)
        n += 1
    if n == 0:
        return rough.copy(), 0
    return total / n, n


@dataclass
class LandmarkResult:
    """Averaged landmarks of the one face in a photo."""

    points: np.ndarray  # (478, 2) photo pixels, subject's labels
    faces_found: int
    passes: int  # crop passes that contributed


def locate_landmarks(rgb: np.ndarray, faces: list[np.ndarray] | None = None) -> LandmarkResult:
    """Find the face and its averaged landmarks (F in the module docstring).

    The face-finding pass runs on the photo and on its mirror image, and the
    crops for each side come from that side's own pass, so that the whole
    computation is symmetric under flipping the photo. ``faces_found`` is the
    larger of the two counts; when it is not exactly one, ``points`` holds the
    rough landmarks of one face (zeros when there is none) and nothing is
    averaged. ``faces`` may pass in the result of ``find_faces(rgb)`` when the
    caller already has it.
    """
    width = rgb.shape[1]
    if faces is None:
        faces = find_faces(rgb)
    if len(faces) > 1:
        return LandmarkResult(points=faces[0], faces_found=len(faces), passes=0)
    flipped = rgb[:, ::-1]  # a view: only the regions the passes read are copied
    faces_flipped = find_faces(flipped)
    count = max(len(faces), len(faces_flipped))
    if count != 1:
        if faces_flipped:
            return LandmarkResult(points=mirror_landmarks(faces_flipped[0], width), faces_found=count, passes=0)
        return LandmarkResult(points=np.zeros((N_LANDMARKS, 2)), faces_found=0, passes=0)
    rough = faces[0] if faces else mirror_landmarks(faces_flipped[0], width)
    rough_flipped = faces_flipped[0] if faces_flipped else mirror_landmarks(faces[0], width)
    g_photo, n_photo = rotation_averaged(rgb, rough)
    g_flipped, n_flipped = rotation_averaged(flipped, rough_flipped)
    points = 0.5 * (g_photo + mirror_landmarks(g_flipped, width))
    return LandmarkResult(points=points, faces_found=1, passes=n_photo + n_flipped)
