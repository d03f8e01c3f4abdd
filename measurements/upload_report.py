"""What became of each file of a photo upload, carried from the POST to the patient page it redirects to.

The upload answers with a redirect (POST/redirect/GET), so that reloading the page never submits
the files again. The report travels in the session under a key named in the redirect's query
(`?upload=<key>`): the page shows it as often as it is reloaded (the live status script reloads
it when scoring finishes), and only the last few reports of a session are kept.
"""

import secrets
from dataclasses import asdict, dataclass

SESSION_KEY = "photo_upload_reports"
REPORTS_KEPT = 5


class Fate:
    """What became of one file. Each file of an upload is judged on its own."""

    STORED = "stored"
    DUPLICATE = "duplicate"  # the same bytes are already in the study: not stored again
    REFUSED = "refused"  # not a photo we take, or not one we may take now; the message says why

    LABELS = {STORED: "Stored", DUPLICATE: "Duplicate", REFUSED: "Refused"}


@dataclass
class UploadOutcome:
    """One chosen file, as the coordinator is told beside the upload form."""

    label: str  # the expression
    filename: str
    fate: str
    message: str
    link: str = ""

    @property
    def saved(self) -> bool:
        return self.fate == Fate.STORED

    @property
    def fate_label(self) -> str:
        return Fate.LABELS[self.fate]


def report_store(session, *, patient_id: int, visit_id: int, outcomes: list[UploadOutcome], problems: list[str]) -> str:
    """Keep the report for the page the upload redirects to; returns its key for the redirect's query."""
    reports = dict(session.get(SESSION_KEY, {}))
    key = secrets.token_urlsafe(8)
    reports[key] = {
        "patient_id": patient_id,
        "visit_id": visit_id,
        "outcomes": [asdict(o) for o in outcomes],
        "problems": problems,
    }
    session[SESSION_KEY] = dict(list(reports.items())[-REPORTS_KEPT:])  # dicts keep insertion order
    return key


def report_for(session, *, patient_id: int, key: str | None) -> dict | None:
    """The report named by `key`, if it is this session's and this patient's; for the patient page."""
    report = session.get(SESSION_KEY, {}).get(key or "")
    if report is None or report["patient_id"] != patient_id:
        return None
    outcomes = [UploadOutcome(**o) for o in report["outcomes"]]
    counts = {fate: sum(o.fate == fate for o in outcomes) for fate in Fate.LABELS}
    return {
        **report,
        "outcomes": outcomes,
        "all_stored": bool(outcomes) and counts[Fate.STORED] == len(outcomes) and not report["problems"],
        "summary": ", ".join(f"{n} {fate}" for fate, n in counts.items() if n),  # "2 stored, 1 refused"
    }
