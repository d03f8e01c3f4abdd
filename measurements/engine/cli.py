"""Scoring one photo from the command line, without Django.

``python manage.py score_image`` wraps ``run``; ``python -m
measurements.engine.cli`` does the same without settings. Exit status: 0 when
scored, 3 when a quality gate failed, 2 when the file cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

from .errors import SCORED, UNREADABLE
from .gates import EXPRESSIONS
from .metrics import METRIC_DEFINITIONS
from .reference import ReferenceGeometry
from .score import ScoreResult, score_image_bytes

EXIT_SCORED = 0
EXIT_UNREADABLE = 2
EXIT_GATE_FAILED = 3


def exit_code(result: ScoreResult) -> int:
    if result.status == SCORED:
        return EXIT_SCORED
    if result.status == UNREADABLE:
        return EXIT_UNREADABLE
    return EXIT_GATE_FAILED


def flat_dict(result: ScoreResult) -> dict:
    """The JSON object printed by ``--json``: status, reason, versions, scale,
    and every metric by name at the top level."""
    out = {
        "status": result.status,
        "reason": result.reason,
        "engine_version": result.engine_version,
        "model_version": result.model_version,
        "mm_per_px": result.mm_per_px,
        "expression": result.expression,
        "affected_side": result.affected_side,
        "scale_source": result.scale_source,
    }
    for name, value in result.metrics.items():
        out[name] = round(float(value), 4)
    return out


def _print_table(result: ScoreResult, path: str, out: TextIO) -> None:
    lines = [f"Photo:      {path}", f"Status:     {result.status}"]
    if result.reason:
        lines.append(f"Reason:     {result.reason}")
    lines.append(f"Engine:     {result.engine_version} ({result.model_version})")
    side = f", affected side {result.affected_side}" if result.affected_side else ""
    lines.append(f"Expression: {result.expression}{side}")
    if result.mm_per_px:
        source = " (from the reference photo)" if result.scale_source == "reference" else ""
        lines.append(f"Scale:      {result.mm_per_px:.4f} mm/px{source}")
    if result.metrics:
        lines.append("")
        width = max(len(d.name) for d in METRIC_DEFINITIONS)
        for definition in METRIC_DEFINITIONS:
            if definition.name in result.metrics:
                value = result.metrics[definition.name]
                lines.append(f"{definition.name:<{width}}  {value:9.2f} {definition.unit}")
    # One write: Django's OutputWrapper appends a newline to every write.
    out.write("\n".join(lines) + "\n")


def run(
    path: str | Path,
    expression: str = "rest",
    affected_side: str | None = None,
    as_json: bool = False,
    stdout: TextIO | None = None,
    reference: str | Path | None = None,
) -> int:
    """Score the photo at ``path`` and print the result; returns the exit code.

    ``reference`` is an open-eye photo of the same visit (rest first) for an eye-closure photo,
    which takes its frame and scale from it (docs/metrics.md, "A visit-level frame and scale");
    when it does not score on its own irises, the photo is scored without one."""
    out = stdout if stdout is not None else sys.stdout
    geometry = None
    if reference is not None:
        try:
            scored = score_image_bytes(Path(reference).read_bytes())
        except OSError:
            scored = None
        if scored is not None and scored.scored and scored.scale_source == "own" and not scored.scale_note:
            geometry = ReferenceGeometry.from_landmarks(scored.landmarks, label=str(reference))
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        result = ScoreResult(
            status=UNREADABLE,
            reason=f"There is no file at {path}; check the path.",
            expression=expression,
            affected_side=affected_side,
        )
    except OSError as exc:
        result = ScoreResult(
            status=UNREADABLE,
            reason=f"The file {path} cannot be read ({exc.strerror or exc}).",
            expression=expression,
            affected_side=affected_side,
        )
    else:
        result = score_image_bytes(data, expression=expression, affected_side=affected_side, reference=geometry)
    if as_json:
        out.write(json.dumps(flat_dict(result)) + "\n")
    else:
        _print_table(result, str(path), out)
    return exit_code(result)


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    parser = parser or argparse.ArgumentParser(description="Score one facial photo.")
    parser.add_argument("path", help="photo file (JPEG, PNG, HEIC)")
    parser.add_argument(
        "--affected-side",
        choices=("left", "right"),
        default=None,
        help="the patient's affected side, for signed values",
    )
    parser.add_argument("--expression", choices=EXPRESSIONS, default="rest")
    parser.add_argument("--json", action="store_true", dest="as_json", help="print one JSON object instead of a table")
    parser.add_argument(
        "--reference",
        default=None,
        help="an open-eye photo of the same visit (rest first): the frame and scale of an eye-closure photo",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run(args.path, args.expression, args.affected_side, args.as_json, reference=args.reference)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
