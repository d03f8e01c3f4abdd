"""Face landmarks from MediaPipe Face Mesh, averaged over several cheap passes.

One pass of the landmark model is not equivariant: shift the face by half a
pixel of the model's 192 px input, turn it by a degree, shrink the photo or
mirror it, and the mouth corners move by up to a millimetre. The protocol
(docs/metrics.md, "How the landmarks are made precise") therefore asks for
the average over a few passes over the photo and its mirror image. The engine computes, for a photo P,

    C = P or flip(P), whichever is smaller as a byte string ("canonical")
    F(C) = mean over the crops k of [L(crop_k(C)) + mirror(L(flip(crop_k(C))))] / 2

where L is one run of the landmark model and ``mirror`` relabels the points
through the left/right pair table, and reports F(C) for P (mirrored back when
C is the mirror image). Everything is computed on C, and C is the same image
for a photo and for its mirror image, so a mirrored photo yields exactly the
mirrored landmarks: the mirror case is exact by construction. Every crop is
run as a mirror pair, so the model's own left/right bias cancels.

The crops come in two stages. The face detector places the first crop the way
MediaPipe's own graph does (a square a little larger than the detected face,
turned by the line through the eyes). The averaged landmarks of that first
pair place the other crops: centred on the mean of the 468 mesh points, sized
by their RMS radius and turned by the mean direction between left/right
partner points. Those statistics average hundreds of points, so the placement
moves less when the photo is rotated, shrunk or recompressed than a bounding
box and two eye corners do, which is what keeps the result stable (where the
crops sit, not the model's response to the altered pixels, was the main
source of scatter). Around that placement the crops spread over small
rotations, scales and sub-pixel shifts, which averages out most of the
model's remaining jitter.

The crops are cut by the engine at exactly the model's input size and fed to
the landmark model through a small MediaPipe graph (``FaceLandmarkCpu`` over a
list of images), so a pass costs one run of the landmark network and nothing
else: no face detector per crop, no resampling inside the graph, one graph
call per stage. Face finding is one run of MediaPipe's short-range face
detector (the detector inside Face Mesh), with the full-range detector as a
fallback for small faces.

The MediaPipe graphs are created once per process and are not safe for
concurrent use, so every call goes through one lock.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

import cv2
import numpy as np

from .pairs import MIRROR, N_LANDMARKS, N_MESH, mirror_landmarks

# Side of the square crops, in pixels: the landmark model's own input size, so
# that the graph does not resample the crop again.
CROP_SIZE = 192
# MediaPipe frames a face for the landmark model with a square 1.5 times the
# long side of the face's box (from the detector or from the landmarks). The
# engine frames it a little tighter, 1.4 times, which gives the mouth more of
# the model's 192 pixels: on the test photos a commissure pulled down follows
# with slope 0.98-1.0 instead of 0.95, and the irises (the millimetre scale)
# agree better between altered copies.
ROI_SCALE = 1.4
# The same framing expressed with robust statistics of the 468 mesh points:
# the box's long side is about 3.31 times their RMS radius (on the test face),
# so the crop side is 1.4 x 3.31 = 4.64 RMS radii.
ROI_RMS_FACTOR = 4.64

# Each crop as (rotation in degrees, relative size change, shift right, shift
# down), the shifts in pixels of the model's input, all relative to the
# placement. The first stage is placed by the face detector; the second by
# the first stage's landmarks. The second stage's rotations are spread evenly
# over +-5 degrees, the sizes alternate by +-3 %, and the shifts form a
# lattice over one input pixel, so that together they sample the model's
# sub-pixel jitter evenly. Every crop is also run mirrored.
Geometry = tuple[tuple[float, float, float, float], ...]
FIRST_GEOMETRY: Geometry = ((0.0, 0.0, 0.0, 0.0),)


def pass_geometry(count: int) -> Geometry:
    """The second stage's ``count`` crops: rotations evenly over +-5 degrees,
    sizes alternating by +-3 %, and shifts on a lattice over one input pixel
    (crop i at (i, step * i mod count) / count, with ``step`` the largest
    stride below ``count - 1`` that visits every row). A single crop is the
    placement itself. The engine uses seven (``PASS_GEOMETRY``); other counts
    serve the passes-against-precision sweep in ``scripts/bench.py``."""
    if count < 1:
        raise ValueError("at least one crop")
    if count == 1:
        return ((0.0, 0.0, 0.0, 0.0),)
    step = max((s for s in range(1, count - 1) if math.gcd(s, count) == 1), default=1)
    return tuple(
        (-5.0 + 10.0 * i / (count - 1), 0.03 if i % 2 else -0.03, i / count, (step * i % count) / count)
        for i in range(count)
    )


PASS_GEOMETRY: Geometry = pass_geometry(7)
# Landmark passes averaged per photo: every crop of both stages, as it is and
# mirrored.
AVERAGED_PASSES = 2 * (len(FIRST_GEOMETRY) + len(PASS_GEOMETRY))
# Face-finding passes: one run of the face detector.
FIND_PASSES = 1
# Every model run for a photo with one face: the honest unit of cost
# (benchmarks compare the pipeline against PASSES single passes).
PASSES = FIND_PASSES + AVERAGED_PASSES
# The source the crops are cut from also covers crops turned this much further
# than the first stage's (the second stage's rotations and a few degrees of
# difference between the detector's and the landmarks' placement).
SPIN_DEG = 12.0
# The face detector runs on the photo shrunk to at most this long side (it
# resamples to 128 px internally anyway).
FIND_LONG_SIDE = 1024

_lock = threading.Lock()
_face_mesh = None
_face_detector = None
_short_range_detector = None
_landmark_graph = None


def get_face_mesh():
    """The process-wide MediaPipe FaceMesh (created on first use, so that
    importing the engine stays cheap and a process loads the graph once).

    This is the complete Face Mesh (detector and landmark model in one graph):
    the reference single pass (``run_mesh``) that benchmarks and tests compare
    against. Scoring itself runs the detector and the landmark model
    separately (``load_models`` creates what it uses). The graph is not safe
    for concurrent use: call it through ``run_mesh``, which holds
    ``model_lock()`` around every call.
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
    """The process-wide full-range face detector, used when the short-range
    detector finds nothing (a small face in a large photo)."""
    global _face_detector
    if _face_detector is None:
        with _lock:
            if _face_detector is None:
                from mediapipe.python.solutions import face_detection

                _face_detector = face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.5)
    return _face_detector


def get_short_range_detector():
    """The process-wide short-range face detector: the one Face Mesh runs
    internally, with the same threshold."""
    global _short_range_detector
    if _short_range_detector is None:
        with _lock:
            if _short_range_detector is None:
                from mediapipe.python.solutions import face_detection

                _short_range_detector = face_detection.FaceDetection(model_selection=0, min_detection_confidence=0.5)
    return _short_range_detector


# A MediaPipe graph that runs Face Mesh's landmark subgraph (with attention:
# refined lips, eyes and irises, 478 points) on every image of a list, each
# image being the whole region of interest. It is the second half of Face
# Mesh's own graph, without the detector that places the region.
_LANDMARK_GRAPH = """
input_stream: "images"
input_stream: "roi"
input_side_packet: "with_attention"
output_stream: "landmarks"
node {
  calculator: "BeginLoopImageCalculator"
  input_stream: "ITERABLE:images"
  input_stream: "CLONE:roi"
  output_stream: "ITEM:image"
  output_stream: "CLONE:loop_roi"
  output_stream: "BATCH_END:loop_end"
}
node {
  calculator: "FaceLandmarkCpu"
  input_stream: "IMAGE:image"
  input_stream: "ROI:loop_roi"
  input_side_packet: "WITH_ATTENTION:with_attention"
  output_stream: "LANDMARKS:face_landmarks"
}
node {
  calculator: "EndLoopNormalizedLandmarkListVectorCalculator"
  input_stream: "ITEM:face_landmarks"
  input_stream: "BATCH_END:loop_end"
  output_stream: "ITERABLE:landmarks"
}
"""
# One serialised NormalizedLandmark: field tags and a length byte around three
# little-endian floats (x, y, z).
_LANDMARK_RECORD = np.dtype(
    [("tag", "u1"), ("len", "u1"), ("tx", "u1"), ("x", "<f4"), ("ty", "u1"), ("y", "<f4"), ("tz", "u1"), ("z", "<f4")]
)


class LandmarkGraph:
    """Face Mesh's landmark model run on crops that the engine has cut itself."""

    def __init__(self) -> None:
        from google.protobuf import text_format
        from mediapipe.framework import calculator_pb2
        from mediapipe.framework.formats import rect_pb2
        from mediapipe.python import packet_creator
        from mediapipe.python._framework_bindings import calculator_graph

        config = text_format.Parse(_LANDMARK_GRAPH, calculator_pb2.CalculatorGraphConfig())
        self._graph = calculator_graph.CalculatorGraph(graph_config=config)
        self._outputs: list = []
        self._graph.observe_output_stream("landmarks", lambda _name, packet: self._outputs.append(packet))
        self._graph.start_run(input_side_packets={"with_attention": packet_creator.create_bool(True)})
        self._whole = rect_pb2.NormalizedRect(x_center=0.5, y_center=0.5, width=1.0, height=1.0, rotation=0.0)
        self._timestamp = 0

    def _run(self, images: list[np.ndarray]) -> list[np.ndarray]:
        from mediapipe.python import packet_creator
        from mediapipe.python._framework_bindings import image as mp_image
        from mediapipe.python._framework_bindings import image_frame

        self._timestamp += 1
        self._outputs.clear()
        frames = [mp_image.Image(image_format=image_frame.ImageFormat.SRGB, data=img) for img in images]
        self._graph.add_packet_to_input_stream(
            stream="images", packet=packet_creator.create_image_vector(frames).at(self._timestamp)
        )
        self._graph.add_packet_to_input_stream(
            stream="roi", packet=packet_creator.create_proto(self._whole).at(self._timestamp)
        )
        self._graph.wait_until_idle()
        if not self._outputs:
            return []
        return [_parse_landmarks(data) for data in _serialized_list(self._outputs[0])]

    def run(self, images: list[np.ndarray]) -> list[np.ndarray | None]:
        """Landmarks of the face filling each image, (478, 3) in the image's
        pixels (x and y spanning [0, width] x [0, height]; z the model's
        relative depth, larger further from the camera, in the same pixels as
        x), or None where the model finds no face. Call with ``model_lock()``
        held."""
        images = [np.ascontiguousarray(img, dtype=np.uint8) for img in images]
        found: list[np.ndarray | None] = list(self._run(images))
        if len(found) != len(images):
            # The graph drops the images without a face; find out which.
            found = [next(iter(self._run([img])), None) for img in images]
        out: list[np.ndarray | None] = []
        for img, pts in zip(images, found):
            if pts is None or pts.shape != (N_LANDMARKS, 3):
                out.append(None)
                continue
            h, w = img.shape[:2]
            # MediaPipe normalises z by the image width, like x.
            out.append(pts * np.array([w, h, w], dtype=np.float64))
        return out


def _serialized_list(packet) -> list[bytes]:
    from mediapipe.python import packet_getter

    getter = getattr(packet_getter._packet_getter, "_get_serialized_proto_list", None)
    if getter is not None:
        return list(getter(packet))
    return [message.SerializeToString() for message in packet_getter.get_proto_list(packet)]


def _parse_landmarks(data: bytes) -> np.ndarray:
    """Normalised (x, y, z) of a serialised NormalizedLandmarkList."""
    if len(data) % _LANDMARK_RECORD.itemsize == 0:
        records = np.frombuffer(data, dtype=_LANDMARK_RECORD)
        if (
            np.all(records["tag"] == 0x0A)
            and np.all(records["len"] == 15)
            and np.all(records["tx"] == 0x0D)
            and np.all(records["ty"] == 0x15)
            and np.all(records["tz"] == 0x1D)
        ):
            return np.stack([records["x"], records["y"], records["z"]], axis=1).astype(np.float64)
    from mediapipe.framework.formats import landmark_pb2

    message = landmark_pb2.NormalizedLandmarkList.FromString(data)
    return np.array([(p.x, p.y, p.z) for p in message.landmark], dtype=np.float64).reshape(-1, 3)


def get_landmark_graph() -> LandmarkGraph:
    """The process-wide landmark graph (created on first use)."""
    global _landmark_graph
    if _landmark_graph is None:
        with _lock:
            if _landmark_graph is None:
                _landmark_graph = LandmarkGraph()
    return _landmark_graph


def load_models() -> None:
    """Create every MediaPipe graph that scoring uses (the face detectors and
    the landmark graph), so that a worker pays for loading them once, at
    start-up, rather than in its first photo."""
    get_short_range_detector()
    get_face_detector()
    get_landmark_graph()


def model_lock() -> threading.Lock:
    """The lock that serialises every call into the MediaPipe graphs."""
    return _lock


def run_mesh(rgb: np.ndarray) -> list[np.ndarray]:
    """One pass of Face Mesh (detector and landmark model). Returns one
    (478, 2) float array per face found, in pixel coordinates of ``rgb``
    (image spans [0, width] x [0, height])."""
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


def run_crops(images: list[np.ndarray]) -> list[np.ndarray | None]:
    """One landmark pass on each image (each framed as the model's region of
    interest): (478, 3) arrays in the image's pixels (x, y and relative
    depth z), None where no face."""
    graph = get_landmark_graph()
    with _lock:
        return graph.run(images)


@dataclass(frozen=True)
class Detection:
    """A face found by a detector: its box (x, y, width, height) and the two
    eye keypoints (image-left eye first), in pixels."""

    box: tuple[float, float, float, float]
    eyes: tuple[tuple[float, float], tuple[float, float]]


def _detect(detector, rgb: np.ndarray) -> list[Detection]:
    h, w = rgb.shape[:2]
    with _lock:
        result = detector.process(np.ascontiguousarray(rgb, dtype=np.uint8))
    found = []
    for det in result.detections or ():
        data = det.location_data
        box = data.relative_bounding_box
        kp = data.relative_keypoints
        eyes = ((kp[0].x * w, kp[0].y * h), (kp[1].x * w, kp[1].y * h)) if len(kp) >= 2 else ((0, 0), (1, 0))
        found.append(Detection((box.xmin * w, box.ymin * h, box.width * w, box.height * h), eyes))
    return found


@dataclass(frozen=True)
class Placement:
    """Where a face is, for cutting crops: centre (pixels), side of the square
    region the model should see (pixels) and its rotation (degrees, the angle
    of the face's left-right axis in the image, y down)."""

    centre: tuple[float, float]
    size: float
    angle_deg: float

    @classmethod
    def from_detection(cls, det: Detection, scale: np.ndarray) -> Placement:
        """MediaPipe's own framing of a detection (``scale``: detector image
        pixels per photo pixel)."""
        x, y, bw, bh = det.box
        sx, sy = float(scale[0]), float(scale[1])
        (x0, y0), (x1, y1) = det.eyes
        angle = math.degrees(math.atan2((y1 - y0) / sy, (x1 - x0) / sx))
        return cls(
            centre=((x + bw / 2) / sx, (y + bh / 2) / sy),
            size=ROI_SCALE * max(bw / sx, bh / sy),
            angle_deg=angle,
        )

    @classmethod
    def from_landmarks(cls, points: np.ndarray) -> Placement:
        """Framing from robust statistics of the mesh: its centroid, its RMS
        radius and the mean direction from right to left partner points."""
        mesh = points[:N_MESH]
        across = points[MIRROR[_RIGHT_HALF]] - points[_RIGHT_HALF]
        angle = math.degrees(math.atan2(float(across[:, 1].sum()), float(across[:, 0].sum())))
        centre = mesh.mean(axis=0)
        rms = math.sqrt(float(((mesh - centre) ** 2).sum(axis=1).mean()))
        return cls(centre=(float(centre[0]), float(centre[1])), size=ROI_RMS_FACTOR * rms, angle_deg=angle)

    def crops(self, geometry) -> list[Crop]:
        a = math.radians(self.angle_deg)
        cos, sin = math.cos(a), math.sin(a)
        px = self.size / CROP_SIZE  # photo pixels per model pixel
        out = []
        for rotation, grow, dx, dy in geometry:
            cx = self.centre[0] + (cos * dx - sin * dy) * px
            cy = self.centre[1] + (sin * dx + cos * dy) * px
            out.append(Crop(centre=(cx, cy), scale=px * (1.0 + grow), angle_deg=self.angle_deg + rotation))
        return out


_MESH_INDEX = np.arange(N_MESH)
_RIGHT_HALF = _MESH_INDEX[MIRROR[:N_MESH] > _MESH_INDEX]  # one point of each left/right pair


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
        """Crop pixels to photo pixels: (N, 2), or (N, 3) with a depth column,
        which turning the crop in the image plane leaves alone and its scale
        scales."""
        rot = self.rotation() * self.scale
        xy = (points[:, :2] - self.size / 2.0) @ rot.T + np.asarray(self.centre)
        if points.shape[1] == 2:
            return xy
        return np.column_stack([xy, points[:, 2:] * self.scale])

    def reach(self, spin_deg: float = 0.0) -> float:
        """Half the side of the axis-aligned square, about the centre, that
        holds every photo pixel the crop reads, also when the crop is turned
        up to ``spin_deg`` further either way."""
        a = math.radians(self.angle_deg % 90.0)
        low, high = a - math.radians(spin_deg), a + math.radians(spin_deg)
        # |cos t| + |sin t| (the square's extent per unit side) over the
        # allowed turns: largest at an end or at a diagonal (45 deg + k 90 deg).
        turns = [low, high] + [d for d in (-math.pi / 4, math.pi / 4, 3 * math.pi / 4) if low <= d <= high]
        spread = max(abs(math.cos(t)) + abs(math.sin(t)) for t in turns)
        return 0.5 * spread * self.scale * self.size + 2

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
    (continuous coordinates). ``bounds`` is the photo region copied (x0, y0,
    x1, y1) and ``full`` the photo's (width, height).
    """

    pixels: np.ndarray
    offset: np.ndarray
    factor: np.ndarray
    bounds: tuple[int, int, int, int] = (0, 0, 0, 0)
    full: tuple[int, int] = (0, 0)

    @classmethod
    def for_crops(cls, rgb: np.ndarray, crops: list[Crop], margin: float = 1.0, spin_deg: float = 0.0) -> Source:
        """The region the crops read, grown by ``margin`` (and by turning the
        crops a further ``spin_deg`` either way), shrunk when the crops
        shrink the photo by more than a quarter.

        ``rgb`` must have positive strides; without shrinking nothing is
        copied.
        """
        h, w = rgb.shape[:2]
        reach = [c.reach(spin_deg) * margin for c in crops]
        x0 = max(0, int(min(c.centre[0] - r for c, r in zip(crops, reach))))
        x1 = min(w, int(math.ceil(max(c.centre[0] + r for c, r in zip(crops, reach)))))
        y0 = max(0, int(min(c.centre[1] - r for c, r in zip(crops, reach))))
        y1 = min(h, int(math.ceil(max(c.centre[1] + r for c, r in zip(crops, reach)))))
        if x1 - x0 < 2 or y1 - y0 < 2:  # crop entirely off the photo
            x0, y0, x1, y1 = 0, 0, w, h
        shrink = min(c.scale for c in crops)
        if shrink <= 1.25:
            # Read straight from the photo: the crops do not shrink it enough
            # to alias.
            return cls(rgb, np.zeros(2), np.ones(2), (0, 0, w, h), (w, h))
        step = int(shrink)  # >= 1
        if step > 1 and min(x1 - x0, y1 - y0) >= step:
            # An exact k x k box average is much faster than area resampling
            # by an arbitrary factor; the remaining factor (1-2) follows.
            x1 = x0 + (x1 - x0) // step * step
            y1 = y0 + (y1 - y0) // step * step
        else:
            step = 1
        region = rgb[y0:y1, x0:x1]
        out_w = max(1, round((x1 - x0) / shrink))
        out_h = max(1, round((y1 - y0) / shrink))
        if step > 1:
            region = cv2.resize(region, ((x1 - x0) // step, (y1 - y0) // step), interpolation=cv2.INTER_AREA)
        pixels = cv2.resize(region, (out_w, out_h), interpolation=cv2.INTER_AREA)
        offset = np.array([x0, y0], dtype=np.float64)
        return cls(pixels, offset, np.array([out_w / (x1 - x0), out_h / (y1 - y0)]), (x0, y0, x1, y1), (w, h))

    def covers(self, crop: Crop) -> bool:
        """Whether every photo pixel ``crop`` reads is in this source (or off
        the photo, where the border is replicated either way)."""
        x0, y0, x1, y1 = self.bounds
        w, h = self.full
        r = crop.reach()
        cx, cy = crop.centre
        return (
            (x0 == 0 or cx - r >= x0)
            and (y0 == 0 or cy - r >= y0)
            and (x1 == w or cx + r <= x1)
            and (y1 == h or cy + r <= y1)
            and 0.8 <= crop.scale * float(self.factor.max()) <= 1.3
        )


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


def mirror_is_canonical(rgb: np.ndarray) -> bool:
    """Whether the mirror image of ``rgb`` is the smaller of the two as a byte
    string (row by row, pixel by pixel). A photo and its mirror image get the
    same answer for the same image, so computing everything on the smaller one
    makes the result exactly mirror-consistent. An image equal to its mirror
    image gives False."""
    h = rgb.shape[0]
    step = 16
    for r0 in range(0, h, step):
        block = rgb[r0 : r0 + step]
        flipped = block[:, ::-1]
        differ = block != flipped
        if differ.any():
            first = np.unravel_index(int(np.argmax(differ)), differ.shape)
            return bool(flipped[first] < block[first])
    return False


def _passes(source: Source, crops: list[Crop]) -> list[np.ndarray]:
    """Every crop as it is and mirrored, through the landmark model; the
    landmarks that were found, (478, 3) in photo pixels with the relative
    depth, with the subject's labels (mirroring leaves the depth alone)."""
    images = []
    for crop in crops:
        pixels = crop.extract(source)
        images.append(pixels)
        images.append(np.ascontiguousarray(pixels[:, ::-1]))
    found = run_crops(images)
    out = []
    for i, crop in enumerate(crops):
        direct, mirrored = found[2 * i], found[2 * i + 1]
        if direct is not None:
            out.append(crop.to_photo(direct))
        if mirrored is not None:
            out.append(crop.to_photo(mirror_landmarks(mirrored, crop.size)))
    return out


@dataclass
class FaceSearch:
    """What the first stage found: the number of faces and, for one face, the
    landmarks of its first pair of passes (``points``, (478, 2) in pixels of
    the photo as given, subject's labels). With more than one face ``points`` holds one
    of them; with none, None. The rest is the state the second stage goes on
    from (all in the canonical orientation)."""

    faces_found: int
    points: np.ndarray | None
    flipped: bool = False
    width: int = 0
    canon: np.ndarray | None = None
    source: Source | None = None
    found: list[np.ndarray] = field(default_factory=list)


def _canonical(rgb: np.ndarray, flipped: bool) -> np.ndarray:
    """The photo or its mirror image, C-contiguous."""
    image = np.ascontiguousarray(rgb, dtype=np.uint8)
    return cv2.flip(image, 1) if flipped else image


def _to_photo(points: np.ndarray, flipped: bool, width: int) -> np.ndarray:
    return mirror_landmarks(points, width) if flipped else points


def _candidates(canon: np.ndarray) -> list[Placement]:
    """Placements of the faces in the (canonical) photo: the short-range
    detector, or the full-range one when that finds nothing."""
    small, ratio = _shrink(canon, FIND_LONG_SIDE)  # ratio: small px per photo px
    found = _detect(get_short_range_detector(), small)
    if not found:
        found = _detect(get_face_detector(), small)
    return [Placement.from_detection(d, ratio) for d in found[:2]]


def find_faces(rgb: np.ndarray) -> FaceSearch:
    """Count the faces and run the first pair of passes on a single face.

    With more than one detection, each is confirmed by one landmark pass
    (the landmark model rejects what is not a face).
    """
    width = rgb.shape[1]
    flipped = mirror_is_canonical(rgb)
    canon = _canonical(rgb, flipped)
    places = _candidates(canon)
    if len(places) > 1:
        crops = [p.crops(FIRST_GEOMETRY)[0] for p in places]
        confirmed = run_crops([c.extract(canon) for c in crops])
        faces = [c.to_photo(pts[:, :2]) for c, pts in zip(crops, confirmed) if pts is not None]
        if len(faces) != 1:
            points = _to_photo(faces[0], flipped, width) if faces else None
            return FaceSearch(faces_found=len(faces), points=points, flipped=flipped, width=width)
        places = [p for p, pts in zip(places, confirmed) if pts is not None]
    if not places:
        return FaceSearch(faces_found=0, points=None, flipped=flipped, width=width)
    crops = places[0].crops(FIRST_GEOMETRY)
    # One source for both stages: the second stage's crops sit within a few
    # per cent of the first's.
    source = Source.for_crops(canon, crops, margin=1.15, spin_deg=SPIN_DEG)
    found = _passes(source, crops)
    if not found:
        return FaceSearch(faces_found=0, points=None, flipped=flipped, width=width)
    points = _to_photo(np.mean(found, axis=0), flipped, width)[:, :2]
    return FaceSearch(
        faces_found=1, points=points, flipped=flipped, width=width, canon=canon, source=source, found=found
    )


@dataclass
class LandmarkResult:
    """Averaged landmarks of the one face in a photo."""

    points: np.ndarray  # (478, 2) photo pixels, subject's labels
    faces_found: int
    passes: int  # averaged passes that found the face
    # (478,) the model's relative depth averaged over the same passes, in photo pixels
    # (larger further from the camera); None when nothing was averaged.
    depth: np.ndarray | None = None


def locate_landmarks(rgb: np.ndarray, search: FaceSearch | None = None) -> LandmarkResult:
    """Find the face and its averaged landmarks (F in the module docstring).

    ``faces_found`` is the number of faces; when it is not exactly one,
    ``points`` holds the landmarks of one face (zeros when there is none) and
    nothing is averaged. ``search`` may pass in the result of
    ``find_faces(rgb)`` when the caller already has it.
    """
    if search is None:
        search = find_faces(rgb)
    if search.faces_found != 1 or search.source is None or search.canon is None:
        points = search.points if search.points is not None else np.zeros((N_LANDMARKS, 2))
        return LandmarkResult(points=points, faces_found=search.faces_found, passes=0)
    first = np.mean(search.found, axis=0)[:, :2]
    crops = Placement.from_landmarks(first).crops(PASS_GEOMETRY)
    source = search.source
    if not all(source.covers(c) for c in crops):
        source = Source.for_crops(search.canon, crops)
    found = search.found + _passes(source, crops)
    # The depth is averaged with x and y: it costs nothing beyond reading it.
    points = _to_photo(np.mean(found, axis=0), search.flipped, search.width)
    return LandmarkResult(points=points[:, :2], faces_found=1, passes=len(found), depth=points[:, 2].copy())
