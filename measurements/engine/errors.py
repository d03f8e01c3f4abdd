"""Statuses and the error type every quality-gate failure travels in."""

from __future__ import annotations

SCORED = "scored"
UNREADABLE = "unreadable"
NO_FACE = "no_face"
MULTIPLE_FACES = "multiple_faces"
FACE_TOO_SMALL = "face_too_small"
HEAD_TURNED = "head_turned"
EYES_CLOSED = "eyes_closed"
# Not the photo's fault: an eye-closure photo whose visit has no scored
# open-eye photo to take its frame and scale from (docs/metrics.md, "A
# visit-level frame and scale"). Scored again once the visit has one.
NO_REFERENCE = "no_reference"

STATUSES: tuple[str, ...] = (
    SCORED,
    UNREADABLE,
    NO_FACE,
    MULTIPLE_FACES,
    FACE_TOO_SMALL,
    HEAD_TURNED,
    EYES_CLOSED,
    NO_REFERENCE,
)

# Statuses that mean "the photo was read but failed a quality gate", as opposed
# to "the file could not be read at all".
GATE_STATUSES: tuple[str, ...] = (
    NO_FACE,
    MULTIPLE_FACES,
    FACE_TOO_SMALL,
    HEAD_TURNED,
    EYES_CLOSED,
)


class EngineError(Exception):
    """A photo that cannot be scored, with a status and a reason for people.

    ``status`` is one of ``STATUSES`` (never ``scored``); ``reason`` is one
    sentence a study coordinator can act on.
    """

    def __init__(self, status: str, reason: str):
        if status not in STATUSES or status == SCORED:
            raise ValueError(f"not a failure status: {status!r}")
        super().__init__(reason)
        self.status = status
        self.reason = reason
