"""Figures rendered on the server with matplotlib (Agg): SVG for the page and papers, PNG too.

Colour-blind-safe colours (Okabe-Ito), labelled axes with units, and the n under each group.
Every function takes plain data (the summary dict or a values table) and returns bytes.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
# Stable element ids, so the same data give the same SVG bytes.
matplotlib.rcParams["svg.hashsalt"] = "trial-analysis"
# Text stays text: searchable, editable in a paper's figure, and readable by screen readers.
matplotlib.rcParams["svg.fonttype"] = "none"

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

# Okabe-Ito: distinguishable with every common colour-vision deficiency.
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00")
PLOTS = ("means", "waterfall", "strip", "scatter", "consort")
FORMATS = {"svg": "image/svg+xml", "png": "image/png"}


def _render(fig, fmt: str) -> bytes:
    buffer = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else {}
    fig.savefig(buffer, format=fmt, bbox_inches="tight", dpi=150, metadata=metadata)
    plt.close(fig)
    return buffer.getvalue()


def _dash(value) -> str:
    return "–" if value is None else str(value)


def _colour(index: int) -> str:
    return COLOURS[index % len(COLOURS)]


def _grade_axis(axis, levels: list[dict]) -> None:
    """A grade axis shows its grades (I to VI), never fractions of a grade."""
    axis.set_ticks([level["value"] for level in levels])
    axis.set_ticklabels([level["label"] for level in levels])


def _whole_steps(axis) -> None:
    """A change of grade moves in whole grades: integer ticks only."""
    axis.set_major_locator(MaxNLocator(integer=True))


def means_plot(summary: dict, fmt: str = "svg") -> bytes:
    """Mean with 95% CI per arm across visits; for an ordinal grade the median with its IQR. n per arm
    under each visit."""
    ordinal = summary["metric"].get("ordinal", False)
    centre, low_key, high_key = ("median", "q1", "q3") if ordinal else ("mean", "ci_low", "ci_high")
    fig, ax = plt.subplots(figsize=(7, 4.2))
    days = [v["day"] for v in summary["visits"]]
    for i, arm in enumerate(summary["arms"]):
        offset = (i - (len(summary["arms"]) - 1) / 2) * 1.2
        xs, ys, lows, highs = [], [], [], []
        for visit in summary["visits"]:
            d = visit["arms"][arm["code"]]
            if d[centre] is None:
                continue
            xs.append(visit["day"] + offset)
            ys.append(d[centre])
            lows.append(d[centre] - (d[low_key] if d[low_key] is not None else d[centre]))
            highs.append((d[high_key] if d[high_key] is not None else d[centre]) - d[centre])
        ax.errorbar(xs, ys, yerr=[lows, highs], marker="o", capsize=4, color=_colour(i), label=arm["name"])
    ax.set_xticks(days)
    ax.set_xticklabels(
        [
            f"{v['name']}\n" + "\n".join(f"n={v['arms'][a['code']]['n']}" for a in summary["arms"])
            for v in summary["visits"]
        ],
        fontsize=8,
    )
    _labels(ax, summary, "Visit (days since enrollment; n per arm in legend order)")
    if ordinal:
        _grade_axis(ax.yaxis, summary["metric"]["levels"])
        ax.set_ylabel(f"{summary['metric']['label']}: median and IQR")
    ax.legend(frameon=False)
    return _render(fig, fmt)


def _labels(ax, summary: dict, xlabel: str) -> None:
    metric = summary["metric"]
    ax.set_ylabel(f"{metric['label']} ({metric['unit']})")
    ax.set_xlabel(xlabel)
    where = f", {summary['expression_label']}" if summary.get("expression_label") else ""
    ax.set_title(f"{summary['study']}: {metric['label']}{where}", fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)


def waterfall_plot(summary: dict, changes: pd.DataFrame, visit_name: str, fmt: str = "svg") -> bytes:
    """Per-patient change from baseline at a visit, sorted, coloured by arm (no patient labels).

    Each bar and each legend swatch carries an SVG id naming its arm (`bar-<arm>-<n>`,
    `legend-<arm>`), so a test can check that a swatch has its arm's colour."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ordered = changes.sort_values("change", ascending=False).reset_index(drop=True)
    codes = [a["code"] for a in summary["arms"]]
    colours = [_colour(codes.index(g)) if g in codes else "#777777" for g in ordered["group"]]
    bars = ax.bar(np.arange(len(ordered)), ordered["change"], color=colours)
    for k, (bar, group) in enumerate(zip(bars, ordered["group"], strict=True)):
        bar.set_gid(f"bar-{group}-{k}")
    ax.axhline(0, color="#333333", linewidth=0.8)
    # Legend handles drawn from the arms' own colours: a handle taken from an empty bar container
    # falls back to the first colour of the cycle, which painted every arm blue.
    handles = [
        Patch(facecolor=_colour(i), label=f"{arm['name']} (n={int((ordered['group'] == arm['code']).sum())})")
        for i, arm in enumerate(summary["arms"])
    ]
    ax.set_xticks([])
    metric = summary["metric"]
    _labels(ax, summary, f"Patients, sorted by change at {visit_name}")
    ax.set_ylabel(f"Change from baseline, {metric['label']} ({metric['unit']})")
    if metric.get("ordinal"):
        _whole_steps(ax.yaxis)
    legend = ax.legend(handles=handles, frameon=False)
    for arm, swatch in zip(summary["arms"], legend.get_patches(), strict=True):
        swatch.set_gid(f"legend-{arm['code']}")
    return _render(fig, fmt)


def strip_plot(summary: dict, values: pd.DataFrame, visit_name: str, fmt: str = "svg") -> bytes:
    """Each patient's value at a visit as a point over a box per arm; n under each arm."""
    fig, ax = plt.subplots(figsize=(6, 4.2))
    rng = np.random.default_rng(0)  # jitter only; fixed so the figure is reproducible
    labels = []
    for i, arm in enumerate(summary["arms"]):
        data = values.loc[values["group"] == arm["code"], "value"].to_numpy(dtype=float)
        labels.append(f"{arm['name']}\nn={len(data)}")
        if len(data):
            ax.boxplot([data], positions=[i], widths=0.5, showfliers=False, medianprops={"color": "#333333"})
            ax.scatter(i + rng.uniform(-0.12, 0.12, len(data)), data, color=_colour(i), alpha=0.8, zorder=3, s=18)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels)
    ax.set_xlim(-0.6, len(labels) - 0.4)
    _labels(ax, summary, f"Arm, at {visit_name}")
    if summary["metric"].get("ordinal"):
        _grade_axis(ax.yaxis, summary["metric"]["levels"])
    return _render(fig, fmt)


def scatter_plot(x: pd.Series, y: pd.Series, groups: pd.Series, *, x_label: str, y_label: str, title: str,
                 arms: list[dict], correlation: dict, fmt: str = "svg", x_levels: list[dict] | None = None,
                 y_levels: list[dict] | None = None, whole_steps: bool = False) -> bytes:  # fmt: skip
    """Two outcomes at a visit, one point per patient coloured by arm, with Spearman's rho. An axis with
    `levels` is a grade axis (I to VI); `whole_steps` (changes of grade) keeps integer ticks."""
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for i, arm in enumerate(arms):
        mask = groups == arm["code"]
        ax.scatter(x[mask], y[mask], color=_colour(i), label=f"{arm['name']} (n={int(mask.sum())})", s=22)
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    for axis, levels in ((ax.xaxis, x_levels), (ax.yaxis, y_levels)):
        if levels and not whole_steps:
            _grade_axis(axis, levels)
        elif levels:
            _whole_steps(axis)
    rho = correlation.get("estimate")
    note = f"Spearman rho = {rho:.2f}, n = {correlation['n']}" if rho is not None else "Spearman rho not estimable"
    ax.set_title(f"{title}\n{note}", fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(frameon=False)
    return _render(fig, fmt)


def consort_plot(flow: dict, visit_name: str, fmt: str = "svg") -> bytes:
    """The CONSORT flow as boxes: registered, enrolled, randomized, then one column per arm."""
    arms = flow["arms"]
    fig, ax = plt.subplots(figsize=(max(6, 3.2 * len(arms)), 6.5))
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)

    def box(x, y, text):
        ax.text(x, y, text, ha="center", va="center", fontsize=8.5, wrap=True,
                bbox={"boxstyle": "round,pad=0.4", "facecolor": "white", "edgecolor": "#333333"})  # fmt: skip

    box(0.5, 0.94, f"Registered (n={flow['registered']})")
    box(0.5, 0.83, f"Enrolled (n={flow['enrolled']})\nNot enrolled: {flow['not_enrolled']}")
    box(0.5, 0.72, f"Randomized (n={flow['randomized']})\nEnrolled, not randomized: {flow['not_randomized']}")
    for i, arm in enumerate(arms):
        x = (i + 0.5) / max(len(arms), 1)
        box(x, 0.55, f"{arm['name']}: allocated n={arm['randomized']}\n"
                     f"(in system {arm['randomized_in_system']}, outside {arm['assigned_outside']})\n"
                     f"Received allocated intervention: {arm['received_allocated']}")  # fmt: skip
        lost = "\n".join(f"after {w['after']}: {w['n']}" for w in arm["withdrawn_after"]) or "none"
        box(x, 0.36, f"Withdrawn: {arm['withdrawn']}\n{lost}")
        analysed = arm["analysed"] if arm["analysed"] is not None else "–"
        box(x, 0.19, f"Follow-up in progress at {visit_name}\n(not yet due): n={_dash(arm['follow_up_in_progress'])}")
        box(x, 0.04, f"Analysed at {visit_name}: n={analysed}\nNot analysed: n={_dash(arm['not_analysed'])}\n"
                     "(missed, left before it, or excluded)")  # fmt: skip
    ax.set_title("CONSORT flow", fontsize=11)
    return _render(fig, fmt)
