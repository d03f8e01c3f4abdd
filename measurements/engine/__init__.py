"""Facial symmetry scoring engine: photo in, landmarks and millimetres out.

Plain Python over numpy arrays; imports nothing from Django, so it can be
tested, benchmarked and run from the command line on its own. docs/metrics.md
is the protocol it implements and explains every number to clinicians;
CHANGELOG.md says what each ENGINE_VERSION changed in the scores.

Typical use::

    from measurements.engine import score_image_bytes
    result = score_image_bytes(photo_bytes, expression="smile_open", affected_side="left")
    if result.status == "scored":
        result.metrics["commissure_height_deviation_mm"]
"""

from .decode import DEFAULT_MAX_PIXELS, DEFAULT_TARGET_LONG_SIDE, DecodedImage, decode_image
from .errors import GATE_STATUSES, STATUSES, EngineError
from .frame import IRIS_DIAMETER_MM, FacialFrame
from .gates import EXPRESSIONS, EYES_OPEN_REQUIRED
from .landmarks import AVERAGED_PASSES, FIND_PASSES, PASS_GEOMETRY, PASSES, get_face_mesh, load_models
from .metrics import (
    BILATERAL_MEASURES,
    METRIC_DEFINITIONS,
    METRICS_BY_NAME,
    RATIO_METRIC_NAMES,
    REFERENCE_METRIC_NAMES,
    SIGNED_METRIC_NAMES,
    UNSIGNED_METRIC_NAMES,
    MetricDefinition,
)
from .overlay import crop_to_face, render_overlay
from .pairs import MIRROR
from .pose import HeadPose, head_pose
from .reference import EYE_CLOSURES, ReferenceGeometry
from .score import ENGINE_VERSION, MODEL_VERSION, ScoreResult, score_array, score_image_bytes

__all__ = [
    "AVERAGED_PASSES",
    "FIND_PASSES",
    "BILATERAL_MEASURES",
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_TARGET_LONG_SIDE",
    "ENGINE_VERSION",
    "EXPRESSIONS",
    "EYES_OPEN_REQUIRED",
    "EYE_CLOSURES",
    "GATE_STATUSES",
    "IRIS_DIAMETER_MM",
    "METRICS_BY_NAME",
    "METRIC_DEFINITIONS",
    "MIRROR",
    "MODEL_VERSION",
    "PASSES",
    "PASS_GEOMETRY",
    "RATIO_METRIC_NAMES",
    "REFERENCE_METRIC_NAMES",
    "SIGNED_METRIC_NAMES",
    "STATUSES",
    "UNSIGNED_METRIC_NAMES",
    "DecodedImage",
    "EngineError",
    "FacialFrame",
    "HeadPose",
    "MetricDefinition",
    "ReferenceGeometry",
    "ScoreResult",
    "decode_image",
    "get_face_mesh",
    "head_pose",
    "load_models",
    "crop_to_face",
    "render_overlay",
    "score_array",
    "score_image_bytes",
]
