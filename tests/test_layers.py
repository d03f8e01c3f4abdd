"""The project's layers import downwards only: a lower layer never imports a higher one.

Every module is parsed (not imported), so an import inside a function counts as much as one at
the top; relative imports are resolved against the module's package.
"""

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Highest first: each may import those after it, never those before it.
LAYERS = ["scripts", "analysis", "measurements", "patients", "trialsite"]
# The project's URL confs mount every app's views: they are the root that wires the layers
# together, not part of trialsite's layer underneath them.
WIRING = {"trialsite/urls.py", "trialsite/api_urls.py"}


def _modules() -> list[Path]:
    return sorted(
        path
        for layer in LAYERS
        for path in (ROOT / layer).rglob("*.py")
        if path.relative_to(ROOT).as_posix() not in WIRING
    )


def _imported(path: Path) -> list[tuple[int, str]]:
    """(line, dotted name) of every import in the module, relative ones made absolute."""
    package = list(path.relative_to(ROOT).parent.parts)  # of a module or of a package's __init__
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                found.append((node.lineno, ".".join([*base, node.module] if node.module else base)))
            else:
                found.append((node.lineno, node.module or ""))
    return found


def _layer(dotted: str) -> int | None:
    top = dotted.split(".", 1)[0]
    return LAYERS.index(top) if top in LAYERS else None


def _violations() -> list[str]:
    wrong = []
    for path in _modules():
        own = LAYERS.index(path.relative_to(ROOT).parts[0])
        for line, name in _imported(path):
            other = _layer(name)
            if other is not None and other < own:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {name} ({LAYERS[other]} is above {LAYERS[own]})")
    return wrong


def test_no_layer_imports_a_layer_above_it():
    assert _violations() == []


@pytest.mark.parametrize(
    ("source", "where", "expected"),
    [
        ("def f():\n    from measurements.models import Photo\n", "trialsite/x.py", "measurements.models"),
        ("from ..dataset import views\n", "analysis/dataset/x.py", "analysis.dataset"),
        ("from . import services\n", "patients/x.py", "patients"),
        ("import scripts.bench\n", "patients/x.py", "scripts.bench"),
    ],
)
def test_the_walk_sees_function_level_and_relative_imports(tmp_path, monkeypatch, source, where, expected):
    # The checker itself must be able to fail: a planted module of each kind is read as expected.
    module = tmp_path / where
    module.parent.mkdir(parents=True)
    module.write_text(source)
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert expected in [name for _, name in _imported(module)]


def test_a_planted_upward_import_is_reported(tmp_path, monkeypatch):
    (tmp_path / "trialsite").mkdir()
    (tmp_path / "trialsite" / "late.py").write_text("def limit():\n    from measurements.models import Expression\n")
    for layer in LAYERS[:-1]:
        (tmp_path / layer).mkdir()
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert _violations() == ["trialsite/late.py:2 imports measurements.models (measurements is above trialsite)"]
