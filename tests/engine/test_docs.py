"""docs/metrics.md explains every metric the engine reports."""

import ast
import importlib
import re
from pathlib import Path

from measurements.engine import ENGINE_VERSION, EXPRESSIONS, METRIC_DEFINITIONS, MODEL_VERSION, PASSES, STATUSES

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "metrics.md"


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


# The engine's modules whose constants carry the numbers of the protocol.
ENGINE_MODULES = ("frame", "metrics", "pairs", "gates", "score", "decode", "landmarks", "reference", "pose")
CONSTANT_ROW = re.compile(r"^\| `(?P<name>[A-Z][A-Z0-9_]*)` \| `(?P<value>[^`]+)` \| `(?P<module>\w+)` \|")


def _documented_constants() -> dict[str, tuple[str, object]]:
    text = DOC.read_text().split("## Numbers the code relies on", 1)[1].split("\n## ", 1)[0]
    return {
        row["name"]: (row["module"], ast.literal_eval(row["value"]))
        for row in (CONSTANT_ROW.match(line) for line in text.splitlines())
        if row
    }


def _is_a_number_or_indices(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    return isinstance(value, tuple) and bool(value) and all(isinstance(v, int) for v in value)


def _engine_constants() -> dict[str, tuple[str, object]]:
    """Every upper-case number or landmark tuple assigned at the top of an engine module (not imported)."""
    found = {}
    for name in ENGINE_MODULES:
        module = importlib.import_module(f"measurements.engine.{name}")
        tree = ast.parse(Path(module.__file__).read_text())
        for node in tree.body:
            targets = (
                node.targets
                if isinstance(node, ast.Assign)
                else [node.target]
                if isinstance(node, ast.AnnAssign)
                else []
            )
            for target in targets:
                if isinstance(target, ast.Name) and re.fullmatch(r"[A-Z][A-Z0-9_]*", target.id):
                    value = getattr(module, target.id)
                    if _is_a_number_or_indices(value):
                        found[target.id] = (name, value)
    return found


def test_every_number_the_engine_relies_on_is_in_the_docs_with_its_value():
    documented, in_code = _documented_constants(), _engine_constants()
    assert in_code, "the engine's constants were not found"
    assert sorted(set(in_code) - set(documented)) == [], "constants missing from docs/metrics.md"
    assert sorted(set(documented) - set(in_code)) == [], "documented constants the engine no longer has"
    differing = {name: (documented[name], in_code[name]) for name in in_code if documented[name] != in_code[name]}
    assert differing == {}


def test_the_running_engine_version_has_a_changelog_entry():
    """A new engine version changes published numbers: CHANGELOG.md must say what changed and why."""
    entries = re.split(r"^## ", (ROOT / "CHANGELOG.md").read_text(), flags=re.MULTILINE)[1:]
    versions = {entry.split()[1]: entry for entry in entries if entry.startswith("Engine ")}
    assert ENGINE_VERSION in versions, f"CHANGELOG.md has no '## Engine {ENGINE_VERSION}' entry"
    assert "What changed in the scores" in versions[ENGINE_VERSION] or "The first engine" in versions[ENGINE_VERSION]
