"""The scoring pipeline: photo in, status, landmarks and metrics out."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import numpy as np

from . import gates
from .decode import DEFAULT_TARGET_LONG_SIDE, DecodedImage, decode_image
from .errors import FACE_TOO_SMALL, NO_FACE, NO_REFERENCE, SCORED, EngineError
from .frame import FacialFrame
from .landmarks import AVERAGED_PASSES, PASSES, find_faces, locate_landmarks
from .metrics import compute_metrics
from .pose import head_pose
from .reference import EYE_CLOSURES, ReferenceGeometry, iris_problem, with_reference_irises

ENGINE_VERSION = "1.2.0"


def _model_version() -> str:
    try:
        version = metadata.version("mediapipe")
    except metadata.PackageNotFoundError:  # pragma: no cover
        version = "unknown"
    return f"mediapipe-{version}/face_mesh-refined-478"


MODEL_VERSION = _model_version()

# The passes feed the model 192 px crops in which the iris spans about 10 px,
# whatever the photo's resolution. When a photo was decoded at reduced size and
# its iris comes out under REDECODE_BELOW_IRIS_PX, it is decoded again at a
# size that gives an iris of about REDECODE_IRIS_PX (or in full), so that the
# crops never come close to being enlarged and the face-size gate is judged at
# a resolution where a pixel is well under a millimetre.
REDECODE_BELOW_IRIS_PX = 20.0
REDECODE_IRIS_PX = 30.0
_DEGENERATE_REASON = (
    "A face was found but could not be measured (its landmarks are degenerate); retake "
    "the photo with the whole face in view, evenly lit and facing the camera."
)
# Any face in an image smaller than this is too small to measure.
MIN_IMAGE_SIDE_PX = 64
NO_REFERENCE_REASON = (
    "An eye-closure photo takes its millimetre scale from an open-eye photo of the same visit "
    "(rest first), and this visit has none that scored; upload or retake the rest photo and this "
    "photo is scored again automatically."
)
# ScoreResult.scale_source: where the frame and the millimetre scale came from.
SCALE_OWN = "own"
SCALE_REFERENCE = "reference"


@dataclass
class ScoreResult:
    """Outcome of scoring one photo.

    ``status`` is ``"scored"`` or the quality gate that failed (see
    ``errors.STATUSES``); ``reason`` is empty when scored, otherwise one
    sentence for the coordinator. ``metrics`` maps metric names (see
    ``metrics.METRIC_DEFINITIONS``) to values and is empty unless scored.
    ``landmarks`` is a (478, 2) array in pixels of the upright original photo
    (x right, y down, the photo spanning [0, width] x [0, height]) or ``None``
    when no face was found; it is kept for failed gates too, so the photo can be
    shown with what the engine saw. ``mm_per_px`` refers to those original
    pixels. ``quality`` holds what the gates looked at. ``scale_source`` says
    where the frame and the millimetre scale came from: ``"own"`` (this photo's
    irises) or ``"reference"`` (the visit's open-eye photo named by
    ``reference_label``); ``scale_note`` says why a reference was needed.
    ``pose`` is the head's ``yaw_deg``, ``pitch_deg`` and ``roll_deg`` from the
    mesh's 3D landmarks (``pose.head_pose``), whenever one face was measured,
    failed gates included; empty otherwise.
    """

    status: str
    reason: str = ""
    expression: str = "rest"
    affected_side: str | None = None
    engine_version: str = ENGINE_VERSION
    model_version: str = MODEL_VERSION
    image_size: tuple[int, int] | None = None  # (width, height) of the upright original
    mm_per_px: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    landmarks: np.ndarray | None = None
    quality: dict[str, float] = field(default_factory=dict)
    pose: dict[str, float] = field(default_factory=dict)
    scale_source: str = ""
    reference_label: str = ""
    scale_note: str = ""
    elapsed_ms: float = 0.0

    @property
    def scored(self) -> bool:
        return self.status == SCORED

    def to_dict(self, *, include_landmarks: bool = True) -> dict[str, Any]:
        """A JSON-serialisable dict (floats, lists, strings, None)."""
        out: dict[str, Any] = {
            "status": self.status,
            "reason": self.reason,
            "expression": self.expression,
            "affected_side": self.affected_side,
            "engine_version": self.engine_version,
            "model_version": self.model_version,
            "image_size": list(self.image_size) if self.image_size else None,
            "mm_per_px": self.mm_per_px,
            "metrics": {k: float(v) for k, v in self.metrics.items()},
            "quality": {k: float(v) for k, v in self.quality.items()},
            "pose": {k: float(v) for k, v in self.pose.items()},
            "scale_source": self.scale_source,
            "reference_label": self.reference_label,
            "scale_note": self.scale_note,
            "elapsed_ms": round(self.elapsed_ms, 1),
        }
        if include_landmarks:
            out["landmarks"] = np.round(self.landmarks, 3).tolist() if self.landmarks is not None else None
        return out


def _check_arguments(expression: str, affected_side: str | None) -> None:
    if expression not in gates.EXPRESSIONS:
        raise ValueError(f"unknown expression {expression!r}; expected one of {gates.EXPRESSIONS}")
    if affected_side not in (None, "right", "left"):
        raise ValueError(f"affected_side must be 'right', 'left' or None, not {affected_side!r}")


def _score_decoded(
    decoded: DecodedImage,
    expression: str,
    affected_side: str | None,
    redecode: Callable[[int | None], DecodedImage] | None,
    started: float,
    reference: ReferenceGeometry | None = None,
) -> ScoreResult:
    result = ScoreResult(
        status=SCORED,
        expression=expression,
        affected_side=affected_side,
        image_size=decoded.original_size,
    )
    quality = result.quality
    try:
        rgb = decoded.rgb
        height, width = rgb.shape[:2]
        if min(height, width) < MIN_IMAGE_SIDE_PX:
            raise EngineError(
                FACE_TOO_SMALL,
                f"The photo is only {decoded.original_size[0]}x{decoded.original_size[1]} "
                "pixels, too small to measure a face; upload the original photo.",
            )
        search = find_faces(rgb)
        if (
            search.faces_found == 1
            and search.points is not None
            and redecode is not None
            and decoded.scale_factor < 1.0
            and gates.iris_size_px(search.points) < REDECODE_BELOW_IRIS_PX
        ):
            iris_original = gates.iris_size_px(search.points) / decoded.scale_factor
            long_side = max(decoded.original_size)
            target = math.ceil(REDECODE_IRIS_PX * long_side / max(iris_original, 1.0))
            decoded = redecode(None if target >= long_side else target)
            rgb = decoded.rgb
            search = find_faces(rgb)
        sx, sy = decoded.scale_xy
        quality["analysis_scale"] = decoded.scale_factor

        located = locate_landmarks(rgb, search)
        quality["faces_found"] = located.faces_found
        quality["passes"] = located.passes
        if located.faces_found >= 1:
            result.landmarks = located.points / np.array([sx, sy])
        if located.faces_found == 1 and located.depth is not None:
            # In the analysed pixels, where x, y and depth share one scale.
            pose = head_pose(located.points, located.depth)
            if pose is not None:
                result.pose = pose.as_dict()
        gates.check_face_count(located.faces_found)
        points = located.points

        iris_px = gates.iris_size_px(points)
        quality["iris_diameter_px"] = iris_px / sx  # in original pixels
        gates.check_face_size(iris_px)

        try:
            frame = FacialFrame.from_landmarks(points)
        except ValueError:
            raise EngineError(NO_FACE, _DEGENERATE_REASON) from None
        result.mm_per_px = frame.mm_per_px * sx
        quality["roll_deg"] = frame.roll_deg
        yaw = gates.yaw_deg(points, frame)
        quality["yaw_deg"] = yaw
        gates.check_head_pose(yaw)
        # The eyes' openings against the photo's own irises: whether they are
        # closed (the gate) and whether those irises can be trusted.
        ratios = gates.eye_opening_ratios(points, frame)
        quality["eye_opening_right"], quality["eye_opening_left"] = ratios
        gates.check_eyes_open(ratios, expression)

        needs = "an eye-closure photo" if expression in EYE_CLOSURES else iris_problem(points, ratios)
        used_reference = None
        result.scale_source = SCALE_OWN
        if needs:
            result.scale_note = needs
            if reference is not None:
                points = with_reference_irises(points, reference)
                result.landmarks = points / np.array([sx, sy])
                try:
                    frame = FacialFrame.from_landmarks(points)
                except ValueError:
                    raise EngineError(NO_FACE, _DEGENERATE_REASON) from None
                used_reference = reference
                result.scale_source, result.reference_label = SCALE_REFERENCE, reference.label
            elif expression in EYE_CLOSURES:
                result.mm_per_px, result.scale_source = None, ""  # no millimetres from guessed irises
                raise EngineError(NO_REFERENCE, NO_REFERENCE_REASON)
            # An open-eye photo with doubtful irises and no reference keeps its own (the
            # note says why they were doubted).
        result.mm_per_px = frame.mm_per_px * sx
        quality["roll_deg"] = frame.roll_deg

        metrics = compute_metrics(points, frame, affected_side, used_reference)
        if not all(math.isfinite(v) for v in metrics.values()):
            raise EngineError(NO_FACE, _DEGENERATE_REASON)
        result.metrics = metrics
    except EngineError as exc:
        result.status = exc.status
        result.reason = exc.reason
    finally:
        result.elapsed_ms = (time.perf_counter() - started) * 1000.0
    return result


def score_array(
    rgb: np.ndarray,
    *,
    expression: str = "rest",
    affected_side: str | None = None,
    reference: ReferenceGeometry | None = None,
) -> ScoreResult:
    """Score a photo that is already an (H, W, 3) uint8 RGB array, upright.

    Landmarks and ``mm_per_px`` refer to the array's own pixels. ``reference``
    is the visit's open-eye reference (``ReferenceGeometry``), used when this
    photo's own irises cannot set its frame; an eye-closure photo without one
    comes back ``no_reference``.
    """
    started = time.perf_counter()
    _check_arguments(expression, affected_side)
    rgb = np.asarray(rgb)
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[:, :, None], 3, axis=2)
    if rgb.ndim != 3 or rgb.shape[2] not in (3, 4):
        raise ValueError(f"expected an (H, W, 3) RGB array, got shape {rgb.shape}")
    rgb = np.ascontiguousarray(rgb[:, :, :3], dtype=np.uint8)
    decoded = DecodedImage(rgb=rgb, original_size=(rgb.shape[1], rgb.shape[0]), scale_factor=1.0)
    return _score_decoded(decoded, expression, affected_side, None, started, reference)


def score_image_bytes(
    data: bytes,
    *,
    expression: str = "rest",
    affected_side: str | None = None,
    target_long_side: int | None = DEFAULT_TARGET_LONG_SIDE,
    reference: ReferenceGeometry | None = None,
) -> ScoreResult:
    """Score an uploaded photo file (JPEG, PNG, HEIC, ...).

    Never raises for a bad file: an unreadable file, like every failed quality
    gate, comes back as a ``ScoreResult`` with that status and a reason. Raises
    ``ValueError`` only for an unknown ``expression`` or ``affected_side``.
    ``reference`` as for ``score_array``.
    """
    started = time.perf_counter()
    _check_arguments(expression, affected_side)
    try:
        decoded = decode_image(data, target_long_side=target_long_side)
    except EngineError as exc:
        return ScoreResult(
            status=exc.status,
            reason=exc.reason,
            expression=expression,
            affected_side=affected_side,
            elapsed_ms=(time.perf_counter() - started) * 1000.0,
        )

    def redecode(target: int | None) -> DecodedImage:
        return decode_image(data, target_long_side=target)

    return _score_decoded(decoded, expression, affected_side, redecode, started, reference)


__all__ = [
    "ENGINE_VERSION",
    "MODEL_VERSION",
    "AVERAGED_PASSES",
    "PASSES",
    "ScoreResult",
    "score_array",
    "score_image_bytes",
]
