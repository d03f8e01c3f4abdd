"""Where a scheduled visit stands for a patient, and whether it may be recorded now.

The one definition the patient's timeline, the dashboard's due and overdue lists, and the
outcome tables' "missing" count use. Plain Python over dates: no Django, so the rules can be
read and tested on their own.
"""

from dataclasses import dataclass
from datetime import date

DONE = "done"
UPCOMING = "upcoming"  # the window has not opened yet
DUE = "due"  # the window is open and the target day has not passed
OVERDUE = "overdue"  # the target day has passed; the window is still open
MISSED = "missed-window"  # the window closed with nothing recorded: missing in the outcome tables
CLOSED = "closed"  # the patient withdrew or completed before the visit
NOT_ENROLLED = "not-enrolled"  # no enrollment date, so no window

LABELS = {
    DONE: "Done",
    UPCOMING: "Upcoming",
    DUE: "Due",
    OVERDUE: "Overdue",
    MISSED: "Missed",
    CLOSED: "Closed",
    NOT_ENROLLED: "Not enrolled",
}

# States in which the visit can still be recorded. A missed visit can: the service asks for a
# protocol-deviation reason, because the date is then outside the window.
RECORDABLE = frozenset({DUE, OVERDUE, MISSED})


@dataclass(frozen=True)
class Window:
    earliest: date
    target: date
    latest: date

    def contains(self, day: date) -> bool:
        return self.earliest <= day <= self.latest


def visit_state(*, window: Window | None, recorded: bool, today: date, patient_closed: bool = False) -> str:
    if recorded:
        return DONE
    if window is None:
        return NOT_ENROLLED
    if patient_closed:
        return CLOSED
    if today < window.earliest:
        return UPCOMING
    if today <= window.target:
        return DUE
    if today <= window.latest:
        return OVERDUE
    return MISSED


def may_record(state: str, *, is_baseline: bool, baseline_recorded: bool, randomized: bool, accepts_data: bool) -> bool:
    """A coordinator is offered "Record" only for a visit the services will accept: the patient is
    enrolled and randomized, the follow-ups come after the baseline, and the window has opened."""
    return accepts_data and randomized and state in RECORDABLE and (is_baseline or baseline_recorded)


def window_text(window: Window) -> str:
    """How the visit form states a window: the same words with and without JavaScript."""
    if window.earliest == window.latest:
        return f"Target date {window.target:%Y-%m-%d}; the window is that day only."
    return f"Target date {window.target:%Y-%m-%d}; window {window.earliest:%Y-%m-%d} to {window.latest:%Y-%m-%d}."


def outside_window_text(window: Window, day: date) -> str:
    return (
        f"{day:%Y-%m-%d} is outside this visit's window ({window.earliest:%Y-%m-%d} to {window.latest:%Y-%m-%d}): "
        "saving needs a protocol-deviation reason."
    )
