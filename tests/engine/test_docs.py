"""docs/metrics.md explains every metric the engine reports."""

from pathlib import Path

from measurements.engine import ENGINE_VERSION, EXPRESSIONS, METRIC_DEFINITIONS, MODEL_VERSION, PASSES, STATUSES

DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


def test_every_metric_status_and_expression_is_documented():
    text = DOC.read_text()
    for definition in METRIC_DEFINITIONS:
        assert f"`{definition.name}`" in text, definition.name
    for status in STATUSES:
        assert f"`{status}`" in text, status
    for expression in EXPRESSIONS:
        assert f"`{expression}`" in text, expression
    assert ENGINE_VERSION in text
    assert MODEL_VERSION in text
    assert f"{PASSES} passes" in text
