"""Docs and docstrings name only files that exist: a promise of a test or a module that is not
there misleads whoever takes the code over. And they cite the repository's own documents, never the
protocol handed over at the start (METRICS.md), which is not part of the repository."""

import ast
import functools
import io
import os
import re
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKIPPED_DIRS = {".git", ".venv", "var", "staticfiles", "test-artifacts", "node_modules", "migrations", "__pycache__"}
TOP_LEVEL = ("analysis", "docs", "measurements", "patients", "scripts", "static", "templates", "tests", "trialsite")
# A repository path: starts at a top-level folder, or is a file at the top (CHANGELOG.md, Makefile);
# not part of a longer path or URL (no "/" or word character just before it).
PATH_REFERENCE = re.compile(
    r"(?<![\w/.-])((?:" + "|".join(TOP_LEVEL) + r")/[\w/.-]*[\w/]|[A-Z][A-Za-z]*\.md|Makefile|Dockerfile)"
)


def _files(suffix: str) -> list[Path]:
    # os.walk prunes the skipped folders instead of listing them: rglob would walk all of .venv first.
    found = []
    for folder, subfolders, names in os.walk(ROOT):
        subfolders[:] = [name for name in subfolders if name not in SKIPPED_DIRS]
        found += [Path(folder) / name for name in names if name.endswith(suffix)]
    return sorted(found)


def _python_prose(path: Path) -> str:
    """Docstrings and comments: what a reader takes as documentation."""
    source = path.read_text()
    texts = [
        ast.get_docstring(node, clean=False) or ""
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
    ]
    texts += [
        tok.string for tok in tokenize.generate_tokens(io.StringIO(source).readline) if tok.type == tokenize.COMMENT
    ]
    return "\n".join(texts)


@functools.cache
def _documentation() -> dict[Path, str]:
    docs = {path: path.read_text() for path in _files(".md")}
    docs.update({path: _python_prose(path) for path in _files(".py") if path != Path(__file__)})
    return docs


def _missing(reference: str) -> bool:
    target = reference.rstrip(".")
    if any(ch in target for ch in "*{}<>"):  # a pattern or placeholder, not a path
        return False
    return not (ROOT / target).exists()


def test_every_path_named_in_docs_and_docstrings_exists():
    missing = sorted(
        f"{path.relative_to(ROOT)}: {reference}"
        for path, text in _documentation().items()
        for reference in set(PATH_REFERENCE.findall(text))
        if _missing(reference)
    )
    assert missing == []


def test_the_protocol_is_cited_as_docs_metrics_md():
    citing = sorted(str(path.relative_to(ROOT)) for path, text in _documentation().items() if "METRICS.md" in text)
    assert citing == []
