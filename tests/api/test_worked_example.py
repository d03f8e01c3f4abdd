"""docs/api.md's worked example runs as written, against a live server with a real token,
and its ANCOVA reproduces the summary endpoint's estimate to the digits the page shows."""

import contextlib
import io
import re
from pathlib import Path

import pytest

from analysis.formatting import DECIMALS
from patients.models import ApiToken
from tests.analysis.conftest import trial  # noqa: F401 - fixture

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"

# (baseline, week 12) commissure height deviation, mm
BONT_A = [(3.5, 1.5), (3.0, 1.0), (4.0, 2.5), (2.6, 1.9)]
CONTROL = [(3.0, 2.8), (3.2, 3.3), (3.8, 3.0), (2.9, 2.2)]


def example_code() -> str:
    text = DOC.read_text()
    section = text.split("## Worked example", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert blocks, "docs/api.md has no worked example"
    return "\n".join(blocks)


@pytest.fixture
def primary_trial(trial):  # noqa: F811 - the imported fixture
    for base, follow in BONT_A:
        trial.measured("bont-a", {"baseline": base, "week-12": follow})
    for base, follow in CONTROL:
        trial.measured("control", {"baseline": base, "week-12": follow})
    # A subject without a week-12 photo: counted by neither the summary's ANCOVA nor the script's.
    trial.measured("bont-a", {"baseline": 3.1})


def test_the_worked_example_reproduces_the_summary(
    live_server, primary_trial, study, api_client_user, data_manager, monkeypatch, tmp_path
):
    _, token = ApiToken.objects.create(
        user=api_client_user, study=study, client_name="Worked example", created_by=data_manager
    )
    monkeypatch.setenv("TRIAL_API", f"{live_server.url}/api/v1")
    monkeypatch.setenv("TRIAL_STUDY", study.code)
    monkeypatch.setenv("TRIAL_TOKEN", token)
    monkeypatch.chdir(tmp_path)  # the example writes its downloads to the working folder
    namespace: dict = {"__name__": "worked_example"}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(example_code(), str(DOC), "exec"), namespace)  # noqa: S102 - our own documentation

    ancova, fit = namespace["ancova"], namespace["fit"]
    assert ancova["not_estimable"] is None
    assert round(fit.params["treated"], DECIMALS) == round(ancova["estimate"], DECIMALS)
    low, high = fit.conf_int().loc["treated"]
    assert (round(low, DECIMALS), round(high, DECIMALS)) == (
        round(ancova["ci_low"], DECIMALS),
        round(ancova["ci_high"], DECIMALS),
    )
    assert int(fit.nobs) == len(BONT_A) + len(CONTROL)
    summary_line, script_line = (
        line for line in printed.getvalue().splitlines() if line.startswith(("Summary:", "Script:"))
    )
    assert summary_line.split("=")[1].split("mm")[0].strip() == script_line.split(":")[1].split("mm")[0].strip()
    assert (tmp_path / f"{study.code}-dataset.zip").stat().st_size > 0
    assert len(namespace["subjects"]) == len(BONT_A) + len(CONTROL) + 1
