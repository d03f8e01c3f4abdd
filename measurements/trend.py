"""A patient's outcome over the visits, against baseline: numbers and a small SVG line.

Plain Python (no Django): deviations in, change, percent correction and SVG markup out. The
percent correction is the protocol's (docs/metrics.md, "Conventions"): (baseline - follow-up) /
baseline, positive when the deviation shrinks.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape


@dataclass(frozen=True)
class TrendPoint:
    label: str  # the visit's name
    value: float | None  # None: no scored photo at that visit
    change: float | None = None  # follow-up minus baseline (negative: less deviation)
    percent_correction: float | None = None


def percent_correction(baseline: float | None, value: float | None) -> float | None:
    # Undefined without a baseline deviation to correct (a symmetric baseline has nothing to correct).
    if baseline is None or value is None or baseline <= 0:
        return None
    return (baseline - value) / baseline * 100


def against_baseline(points: list[tuple[str, float | None]]) -> list[TrendPoint]:
    """The first point is the baseline; every later point gets its change and percent correction."""
    if not points:
        return []
    baseline = points[0][1]
    out = [TrendPoint(points[0][0], baseline)]
    for label, value in points[1:]:
        change = value - baseline if value is not None and baseline is not None else None
        out.append(TrendPoint(label, value, change, percent_correction(baseline, value)))
    return out


SPARK_WIDTH = 120
SPARK_HEIGHT = 32
SPARK_PAD = 4


def sparkline_svg(points: list[TrendPoint], *, title: str, unit: str = "mm") -> str:
    """An inline SVG line of the values (gaps where a visit has none), with the baseline dashed.

    Only presentation attributes, no style attribute, so that the page's Content-Security-Policy
    allows it. Up is more deviation: the line falls as the face becomes more symmetric.
    """
    values = [p.value for p in points]
    known = [v for v in values if v is not None]
    parts = [
        f'<svg class="sparkline" xmlns="http://www.w3.org/2000/svg" width="{SPARK_WIDTH}" height="{SPARK_HEIGHT}" '
        f'viewBox="0 0 {SPARK_WIDTH} {SPARK_HEIGHT}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}: "
        + escape(", ".join(f"{p.label} {_number(p.value, unit)}" for p in points))
        + "</title>",
    ]
    if known:
        low, high = min(known + [0.0]), max(known)
        span = (high - low) or 1.0
        step = (SPARK_WIDTH - 2 * SPARK_PAD) / max(len(values) - 1, 1)

        def xy(index: int, value: float) -> tuple[float, float]:
            x = SPARK_PAD + index * step
            y = SPARK_HEIGHT - SPARK_PAD - (value - low) / span * (SPARK_HEIGHT - 2 * SPARK_PAD)
            return round(x, 1), round(y, 1)

        if values[0] is not None:
            _, y0 = xy(0, values[0])
            parts.append(
                f'<line x1="{SPARK_PAD}" y1="{y0}" x2="{SPARK_WIDTH - SPARK_PAD}" y2="{y0}" '
                'stroke="#8a94a3" stroke-width="1" stroke-dasharray="3 3"/>'
            )
        segment: list[str] = []
        for index, value in enumerate(values + [None]):
            if value is None:
                if len(segment) > 1:
                    parts.append(
                        f'<polyline points="{" ".join(segment)}" fill="none" stroke="#1d5fa8" stroke-width="1.5"/>'
                    )
                segment = []
                continue
            x, y = xy(index, value)
            segment.append(f"{x},{y}")
            parts.append(f'<circle cx="{x}" cy="{y}" r="2" fill="#1d5fa8"/>')
    parts.append("</svg>")
    return "".join(parts)


def _number(value: float | None, unit: str) -> str:
    return "no score" if value is None else f"{value:.1f} {unit}"
