"""Plots of a loyalty program: cohorts, retention, RFM, lifecycle, tiers and points."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt

from loyaltycore._validate import check_int
from loyaltycore.errors import EmptyData, InvalidArgument, InvalidColumn, InvalidType
from loyaltycore.lifecycle import Stage, TransitionMatrix
from loyaltycore.metrics import CohortTable, Distribution, MigrationMatrix, PointsFlow
from loyaltycore.plot import _base
from loyaltycore.plot._base import ACCENT, ACTUAL, MODEL, MUTED
from loyaltycore.segments import RFM_SEGMENTS, RFMScores, SegmentMap

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.colors import Colormap

#: One colour per lifecycle stage, from a fresh green to a faded grey.
STAGE_COLOURS: Final = {
    Stage.PROSPECT: "#c9d6df",
    Stage.NEW: "#7fc97f",
    Stage.ACTIVE: "#1b9e77",
    Stage.AT_RISK: "#f0a73a",
    Stage.DORMANT: "#d95f02",
    Stage.CHURNED: "#8c8c8c",
    Stage.REACTIVATED: "#6a8fd8",
}


def period_label(start: object, period: str) -> str:
    """A period's start date as a reader names it: 2024-03, 2024 Q1, 2024, or the date."""
    day = start if isinstance(start, date) else date.fromisoformat(str(start)[:10])
    if period == "month":
        return f"{day:%Y-%m}"
    if period == "quarter":
        return f"{day.year} Q{(day.month - 1) // 3 + 1}"
    if period == "year":
        return f"{day.year}"
    return day.isoformat()


def _starts(values: npt.NDArray[np.datetime64]) -> list[date]:
    days: list[date] = values.astype("datetime64[D]").tolist()
    return days


# -- cohorts and retention -----------------------------------------------------------------


def _cohort_rows(table: CohortTable, max_periods: int | None) -> tuple[list[int], int]:
    _base.check_result(table, CohortTable, "table")
    rows = np.flatnonzero(np.asarray(table.size) > 0).tolist()
    if not rows:
        raise EmptyData("table has no cohort with a customer", field="table")
    width = table.rates.shape[1]
    if max_periods is not None:
        width = min(width, check_int(max_periods, "max_periods", minimum=0) + 1)
    return rows, width


def plot_cohort_retention(
    table: CohortTable,
    *,
    ax: Axes | None = None,
    max_periods: int | None = 12,
    cmap: str = "Blues",
    title: str | None = None,
) -> Axes:
    """Cohort retention as a heatmap: one row per cohort, one column per period since joining.

    Every cell is annotated with its share. Column +0 is 100 % by definition
    and drawn grey: the colour scale runs from 0 to the shares from column +1
    on (to their 98th percentile, so a one-customer cohort's 100 % does not
    wash the rest out), and differences between later cells stay visible.
    Cells not observed yet are blank. Each row's label gives the cohort's
    size.

    Args:
        table: a :func:`loyaltycore.metrics.cohort_retention`.
        ax: the Axes to draw on (default: a new figure's).
        max_periods: the last column drawn (+12 by default; None for all).
        cmap: a matplotlib colour map name.
        title: replaces the default title.

    >>> import numpy as np
    >>> from loyaltycore.metrics import cohort_retention
    >>> at = np.array(["2024-01-03", "2024-02-03", "2024-01-09", "2024-02-04", "2024-03-07"],
    ...               dtype="datetime64[D]")
    >>> table = cohort_retention([1, 1, 2, 3, 3], at, tz="UTC", as_of=date(2024, 4, 1))
    >>> ax = plot_cohort_retention(table)
    >>> [text.get_text() for text in ax.texts]
    ['100%', '50%', '0%', '100%', '100%']
    """
    _base.check_title(title)
    rows, width = _cohort_rows(table, max_periods)
    rates = np.asarray(table.rates)[rows, :width]
    axes = _base.axes(ax, (max(6.0, 0.55 * width + 3.0), max(3.0, 0.32 * len(rows) + 1.6)))
    lo, hi = _colour_top(rates[:, 1:])
    later = rates.copy()
    later[:, 0] = np.nan
    texts = [[_base.percent(x) for x in row] for row in rates]
    image = _base.heatmap(axes, later, texts, cmap=cmap, vmin=lo, vmax=hi)
    axes.imshow(
        np.ma.masked_invalid(np.where(np.isfinite(rates[:, :1]), 0.0, np.nan)),
        cmap=_grey(),
        aspect="auto",
        extent=(-0.5, 0.5, len(rows) - 0.5, -0.5),
        zorder=0.5,
    )
    axes.set_xlim(-0.5, width - 0.5)
    axes.set_xticks(range(width), [f"+{k}" for k in range(width)])
    cohorts = _starts(np.asarray(table.cohort)[rows])
    sizes = np.asarray(table.size)[rows]
    axes.set_yticks(
        range(len(rows)),
        [
            f"{period_label(c, table.period)} ({_base.count(n)})"
            for c, n in zip(cohorts, sizes, strict=True)
        ],
    )
    axes.tick_params(length=0)
    axes.figure.colorbar(
        image,
        ax=axes,
        format=_percent_formatter(),
        extend="max" if bool(np.nanmax(later, initial=0.0) > hi) else "neither",
        label=f"share buying (colours from +1 {table.period})",
    )
    return _base.finish(
        axes,
        f"Cohort retention: share of each {table.period}'s new customers buying again",
        f"{table.period}s since the first purchase",
        "cohort: first purchase (customers)",
        title,
    )


def _colour_top(shares: npt.NDArray[np.float64]) -> tuple[float, float]:
    """0 to the 98th percentile of the shares: one tiny cohort's 100 % does not set the scale."""
    finite = shares[np.isfinite(shares)]
    top = float(np.percentile(finite, 98)) if finite.size else 0.0
    return 0.0, top if top > 0 else 1.0


def _grey() -> Colormap:
    from matplotlib.colors import ListedColormap

    return ListedColormap(["#ececec"])


def _percent_formatter() -> object:
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(xmax=1.0, decimals=0)


def _weighted_curve(table: CohortTable, rows: list[int], width: int) -> npt.NDArray[np.float64]:
    """The share of all observed cohorts' customers buying in each period since joining."""
    rates = np.asarray(table.rates)[rows, :width]
    counts = np.asarray(table.counts)[rows, :width].astype(np.float64)
    sizes = np.asarray(table.size)[rows].astype(np.float64)
    seen = np.isfinite(rates)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(
            seen.any(axis=0),
            (counts * seen).sum(axis=0) / (sizes[:, None] * seen).sum(axis=0),
            np.nan,
        )


def plot_retention_curves(
    table: CohortTable,
    *,
    ax: Axes | None = None,
    max_periods: int | None = 12,
    min_size: int = 20,
    title: str | None = None,
) -> Axes:
    """Each cohort's share buying again by periods since joining, and all cohorts together.

    Thin lines are the cohorts of at least ``min_size`` customers; the thick
    line is all cohorts together (every customer of the cohorts observed
    that long, so big cohorts weigh more) and is annotated with its values.
    Lines start at +1: at +0 every cohort is at 100 %.

    Args:
        table: a :func:`loyaltycore.metrics.cohort_retention`.
        ax: the Axes to draw on (default: a new figure's).
        max_periods: the last period drawn (+12 by default; None for all).
        min_size: the smallest cohort drawn as its own line (smaller ones,
            whose shares jump about, still count in the thick line).
        title: replaces the default title.

    >>> import numpy as np
    >>> from loyaltycore.metrics import cohort_retention
    >>> at = np.array(["2024-01-03", "2024-02-03", "2024-01-09", "2024-02-04", "2024-03-07"],
    ...               dtype="datetime64[D]")
    >>> table = cohort_retention([1, 1, 2, 3, 3], at, tz="UTC", as_of=date(2024, 4, 1))
    >>> ax = plot_retention_curves(table, min_size=1)
    >>> [text.get_text() for text in ax.texts]
    ['67%', '0%']
    """
    _base.check_title(title)
    rows, width = _cohort_rows(table, max_periods)
    if width < 2:
        raise EmptyData("retention curves need at least one period after +0", field="table")
    smallest = check_int(min_size, "min_size", minimum=1)
    axes = _base.axes(ax, (8.0, 4.0))
    x = np.arange(1, width)
    lines = [row for row in rows if int(table.size[row]) >= smallest]
    many = len(lines) > 8
    for n, row in enumerate(lines):
        name = period_label(_starts(np.asarray(table.cohort)[[row]])[0], table.period)
        axes.plot(
            x,
            np.asarray(table.rates)[row, 1:width],
            color=MUTED if many else None,
            linewidth=0.8,
            alpha=0.6 if many else 0.9,
            label=(f"each cohort of {smallest:,}+" if n == 0 else None) if many else name,
        )
    average = _weighted_curve(table, rows, width)[1:]
    axes.plot(x, average, color=ACTUAL, linewidth=2.4, marker="o", label="all cohorts")
    for k, value in zip(x.tolist(), average.tolist(), strict=True):
        if np.isfinite(value):
            axes.annotate(
                _base.percent(value),
                (k, value),
                textcoords="offset points",
                xytext=(0, 7),
                ha="center",
                fontsize=8,
            )
    axes.set_xticks(x, [f"+{k}" for k in x.tolist()])
    axes.set_ylim(bottom=0)
    _base.percent_axis(axes)
    axes.legend(frameon=False, fontsize=8, ncols=2 if len(lines) > 4 and not many else 1)
    return _base.finish(
        axes,
        f"Retention curves: share of each cohort buying, by {table.period}s since joining",
        f"{table.period}s since the first purchase",
        "share of the cohort buying",
        title,
    )


# -- RFM ------------------------------------------------------------------------------------


def _segment_grid(segment_map: SegmentMap) -> list[list[str]]:
    """The segment of each (R, FM) cell, rows R = bins..1; "mixed" where F and M disagree."""
    bins = segment_map.bins
    grid = []
    for r in range(bins, 0, -1):
        row = []
        for fm in range(1, bins + 1):
            names = {
                segment_map.segment_of(r, f, m)
                for f in range(1, bins + 1)
                for m in range(1, bins + 1)
                if (f + m + 1) // 2 == fm
            }
            row.append(names.pop() if len(names) == 1 else "mixed")
        grid.append(row)
    return grid


def _rfm_counts(scores: object, bins: int) -> npt.NDArray[np.int64]:
    """Customers by (R, FM), rows R = 1..bins."""
    if isinstance(scores, RFMScores):
        if scores.bins != bins:
            raise InvalidArgument(
                f"scores have {scores.bins} bins but segment_map has {bins}",
                field="scores",
                value=scores.bins,
            )
        cell = (scores.r.astype(np.int64) - 1) * bins + scores.fm.astype(np.int64) - 1
        return np.bincount(cell, minlength=bins * bins).reshape(bins, bins)
    array = np.asarray(scores)
    if array.shape != (bins, bins) or array.dtype.kind not in "iu" or (array < 0).any():
        raise InvalidColumn(
            f"scores must be RFMScores or a {bins}x{bins} array of counts >= 0 "
            "(rows R = 1.., columns FM = 1..)",
            field="scores",
        )
    return array.astype(np.int64)


def plot_rfm_grid(
    scores: RFMScores | npt.ArrayLike,
    *,
    segment_map: SegmentMap = RFM_SEGMENTS,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Customers on the R x FM grid, each cell coloured and named by its segment.

    Rows are the recency score R (5, the most recent buyers, on top), columns
    the combined frequency-monetary score ``FM = (F + M + 1) // 2``. Each
    cell gives its segment, customers and share; white lines separate the
    segments, and the legend gives each segment's total.

    Args:
        scores: :func:`loyaltycore.segments.rfm_scores`, or a bins x bins
            array of customer counts (rows R = 1.., columns FM = 1..).
        segment_map: the map naming the cells (default: the classic RFM map).
        ax: the Axes to draw on (default: a new figure's).
        title: replaces the default title.

    >>> from loyaltycore.segments import rfm_scores
    >>> scores = rfm_scores([2, 15, 40, 120, 400], [6, 3, 1, 1, 0], [80, 45, 30, 20, 10])
    >>> ax = plot_rfm_grid(scores)
    >>> [t.get_text() for t in ax.texts if t.get_text().startswith("champions")]
    ['champions\\n0 (0%)', 'champions\\n1 (20%)']
    """
    from matplotlib.patches import Patch

    _base.check_result(segment_map, SegmentMap, "segment_map")
    _base.check_title(title)
    bins = segment_map.bins
    counts = _rfm_counts(scores, bins)[::-1]  # R = bins on top
    total = int(counts.sum())
    if total == 0:
        raise EmptyData("scores has no customer", field="scores")
    names = _segment_grid(segment_map)
    order = [*segment_map.names, "mixed"]
    colours = _segment_colours(order)
    axes = _base.axes(ax, (9.5, 6.0))
    from matplotlib.colors import to_rgba

    image = np.array([[to_rgba(colours[n]) for n in row] for row in names])
    axes.imshow(image, aspect="auto")
    for i in range(bins):
        for j in range(bins):
            n = int(counts[i, j])
            axes.text(
                j,
                i,
                f"{_base.label(names[i][j])}\n{_base.count(n)} ({_base.percent(n / total)})",
                ha="center",
                va="center",
                fontsize=8,
                color="black",
            )
    _borders(axes, names)
    totals: dict[str, int] = {}
    for i in range(bins):
        for j in range(bins):
            totals[names[i][j]] = totals.get(names[i][j], 0) + int(counts[i, j])
    handles = [
        Patch(color=colours[n], label=f"{_base.label(n)} ({_base.count(totals[n])})")
        for n in order
        if n in totals
    ]
    axes.legend(
        handles=handles, frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0)
    )
    axes.set_xticks(range(bins), [str(k) for k in range(1, bins + 1)])
    axes.set_yticks(range(bins), [str(k) for k in range(bins, 0, -1)])
    axes.tick_params(length=0)
    return _base.finish(
        axes,
        f"RFM segments: {_base.count(total)} customers by recency and frequency-monetary score",
        f"FM: frequency and spend combined, (F + M + 1) // 2 ({bins} = buys most and spends most)",
        f"R: recency score ({bins} = bought most recently)",
        title,
    )


def _segment_colours(order: Sequence[str]) -> dict[str, str]:
    """Pale colours from green (the first, best segment) to red (the last)."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    ramp = colormaps["RdYlGn_r"]
    real = [n for n in order if n != "mixed"]
    colours = {}
    for k, name in enumerate(real):
        red, green, blue, _ = ramp(0.08 + 0.84 * k / max(len(real) - 1, 1))
        colours[name] = to_hex((0.55 * red + 0.45, 0.55 * green + 0.45, 0.55 * blue + 0.45))
    colours["mixed"] = "#e0e0e0"
    return colours


def _borders(axes: Axes, names: list[list[str]]) -> None:
    """White lines between neighbouring cells of different segments."""
    size = len(names)
    for i in range(size):
        for j in range(size):
            if j + 1 < size and names[i][j] != names[i][j + 1]:
                axes.plot([j + 0.5, j + 0.5], [i - 0.5, i + 0.5], color="white", linewidth=3)
            if i + 1 < size and names[i][j] != names[i + 1][j]:
                axes.plot([j - 0.5, j + 0.5], [i + 0.5, i + 0.5], color="white", linewidth=3)
    axes.set_xlim(-0.5, size - 0.5)
    axes.set_ylim(size - 0.5, -0.5)


# -- lifecycle flow -------------------------------------------------------------------------


def _band(
    axes: Axes, left: tuple[float, float], right: tuple[float, float], x: tuple[float, float]
) -> None:
    """A smooth band from the span ``left`` at x[0] to the span ``right`` at x[1]."""
    steps = np.linspace(0.0, 1.0, 50)
    ease = steps * steps * (3 - 2 * steps)
    xs = x[0] + (x[1] - x[0]) * steps
    low = left[0] + (right[0] - left[0]) * ease
    high = left[1] + (right[1] - left[1]) * ease
    axes.fill_between(xs, low, high, linewidth=0)


def _stack(sizes: npt.NDArray[np.int64], gap: float) -> npt.NDArray[np.float64]:
    """Bottom of each block stacked from the top down (Stage order top to bottom)."""
    tops = np.zeros(len(sizes))
    level = 0.0
    for k in range(len(sizes)):
        tops[k] = level
        level += float(sizes[k]) + (gap if sizes[k] else 0.0)
    return tops


def plot_lifecycle_flow(
    matrix: TransitionMatrix,
    *,
    before: str = "before",
    after: str = "after",
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Members by lifecycle stage at two dates, and the flows between them.

    The left column stacks the stages at ``before``, the right one at
    ``after``; each band carries the members who moved from one stage to
    another (or stayed), its width proportional to their number and its
    colour that of the stage they left. Each block is labelled with its
    stage and count.

    Args:
        matrix: a :func:`loyaltycore.lifecycle.transition_matrix`.
        before: what the left column is (a date, "2024-06-30").
        after: what the right column is.
        ax: the Axes to draw on (default: a new figure's).
        title: replaces the default title.

    >>> from loyaltycore.lifecycle import transition_matrix
    >>> matrix = transition_matrix(["active", "active", "new"], ["active", "at_risk", "active"])
    >>> ax = plot_lifecycle_flow(matrix, before="June", after="December")
    >>> [text.get_text() for text in ax.texts]
    ['new  1', 'active  2', 'active  2', 'at risk  1']
    """
    _base.check_result(matrix, TransitionMatrix, "matrix")
    _base.check_title(title)
    for name, value in (("before", before), ("after", after)):
        if not isinstance(value, str):
            raise InvalidType(f"{name}={value!r} must be a str", field=name, value=value)
    counts = np.asarray(matrix.counts)
    total = int(counts.sum())
    if total == 0:
        raise EmptyData("matrix counts no member", field="matrix")
    axes = _base.axes(ax, (9.0, 5.5))
    out_sizes, in_sizes = counts.sum(axis=1), counts.sum(axis=0)
    gap = 0.03 * total
    out_tops, in_tops = _stack(out_sizes, gap), _stack(in_sizes, gap)
    width = 0.06
    out_used = out_tops.copy()
    in_used = in_tops.copy()
    for a in Stage:
        for b in Stage:
            n = float(counts[a, b])
            if not n:
                continue
            left = (out_used[a], out_used[a] + n)
            right = (in_used[b], in_used[b] + n)
            out_used[a] += n
            in_used[b] += n
            _band(axes, left, right, (width, 1.0 - width))
            axes.collections[-1].set(color=STAGE_COLOURS[a], alpha=0.35)
    for tops, sizes, x0, side in (
        (out_tops, out_sizes, 0.0, "left"),
        (in_tops, in_sizes, 1.0 - width, "right"),
    ):
        for stage in Stage:
            size = int(sizes[stage])
            if not size:
                continue
            axes.bar(
                x0,
                size,
                width=width,
                bottom=tops[stage],
                align="edge",
                color=STAGE_COLOURS[stage],
                edgecolor="white",
            )
            axes.text(
                -0.01 if side == "left" else 1.01,
                tops[stage] + size / 2,
                f"{_base.label(stage.label)}  {_base.count(size)}",
                ha="right" if side == "left" else "left",
                va="center",
                fontsize=9,
            )
    axes.set_ylim(max(out_tops[-1] + out_sizes[-1], in_tops[-1] + in_sizes[-1]) + gap, -gap)
    axes.set_xlim(-0.28, 1.28)
    axes.set_xticks([width / 2, 1.0 - width / 2], [before, after])
    axes.set_yticks([])
    for side in ("top", "right", "left"):
        axes.spines[side].set_visible(False)
    moved = total - int(np.trace(counts))
    return _base.finish(
        axes,
        f"Lifecycle stages: {_base.count(moved)} of {_base.count(total)} members changed stage",
        "snapshot",
        "members (band width)",
        title,
    )


# -- tiers ----------------------------------------------------------------------------------


def plot_tier_distribution(
    distribution: Distribution, *, ax: Axes | None = None, title: str | None = None
) -> Axes:
    """Members by tier as bars, each annotated with its count and share.

    Tiers are drawn in the distribution's order from the top (pass
    ``labels=`` to :func:`loyaltycore.metrics.tier_distribution` for the
    ladder's order).

    Args:
        distribution: a :func:`loyaltycore.metrics.tier_distribution`.
        ax: the Axes to draw on (default: a new figure's).
        title: replaces the default title.

    >>> from loyaltycore.metrics import tier_distribution
    >>> d = tier_distribution(["gold", "base", "base", "silver"],
    ...                       labels=["base", "silver", "gold"])
    >>> [text.get_text() for text in plot_tier_distribution(d).texts]
    ['2 (50%)', '1 (25%)', '1 (25%)']
    """
    _base.check_result(distribution, Distribution, "distribution")
    _base.check_title(title)
    labels = [str(x) for x in np.asarray(distribution.labels).tolist()]
    if not labels:
        raise EmptyData("distribution has no label", field="distribution")
    counts = np.asarray(distribution.counts)
    shares = np.asarray(distribution.shares)
    axes = _base.axes(ax, (7.0, max(2.5, 0.45 * len(labels) + 1.2)))
    y = np.arange(len(labels))
    axes.barh(y, counts, color=MODEL)
    for k in range(len(labels)):
        axes.annotate(
            f"{_base.count(counts[k])} ({_base.percent(shares[k])})",
            (float(counts[k]), k),
            textcoords="offset points",
            xytext=(4, 0),
            va="center",
            fontsize=9,
        )
    axes.set_yticks(y, [_base.label(x) for x in labels])
    axes.invert_yaxis()
    axes.set_xlim(0, max(float(counts.max()), 1.0) * 1.2)
    _base.thousands(axes, "x")
    return _base.finish(
        axes,
        f"Members by tier ({_base.count(counts.sum())} members)",
        "members",
        "tier",
        title,
    )


def plot_tier_migration(
    matrix: MigrationMatrix,
    *,
    before: str = "before",
    after: str = "after",
    ax: Axes | None = None,
    cmap: str = "Blues",
    title: str | None = None,
) -> Axes:
    """Where each tier's members went: row shares as a heatmap, counts in each cell.

    Row i shows the members in ``labels[i]`` at ``before`` by their tier at
    ``after``; the diagonal is those who stayed. Row labels give each row's
    members.

    Args:
        matrix: a :func:`loyaltycore.metrics.migration_matrix`.
        before: what the rows are (a date, "2023").
        after: what the columns are.
        ax: the Axes to draw on (default: a new figure's).
        cmap: a matplotlib colour map name.
        title: replaces the default title.

    >>> from loyaltycore.metrics import migration_matrix
    >>> m = migration_matrix(["base", "base", "gold"], ["base", "gold", "gold"],
    ...                      labels=["base", "gold"])
    >>> [text.get_text() for text in plot_tier_migration(m).texts]
    ['50%\\n1', '50%\\n1', '0%\\n0', '100%\\n1']
    """
    _base.check_result(matrix, MigrationMatrix, "matrix")
    _base.check_title(title)
    for name, value in (("before", before), ("after", after)):
        if not isinstance(value, str):
            raise InvalidType(f"{name}={value!r} must be a str", field=name, value=value)
    labels = [_base.label(str(x)) for x in np.asarray(matrix.labels).tolist()]
    counts = np.asarray(matrix.counts)
    rates = np.asarray(matrix.rates)
    if counts.sum() == 0:
        raise EmptyData("matrix counts no member", field="matrix")
    size = len(labels)
    axes = _base.axes(ax, (max(5.5, 1.1 * size + 3.0), max(3.5, 0.8 * size + 1.6)))
    texts = [
        [
            f"{_base.percent(rates[i, j])}\n{_base.count(counts[i, j])}"
            if np.isfinite(rates[i, j])
            else ""
            for j in range(size)
        ]
        for i in range(size)
    ]
    image = _base.heatmap(axes, rates, texts, cmap=cmap, vmin=0.0, vmax=1.0, fontsize=9)
    axes.set_xticks(range(size), labels)
    rows = counts.sum(axis=1)
    axes.set_yticks(
        range(size), [f"{n} ({_base.count(c)})" for n, c in zip(labels, rows, strict=True)]
    )
    axes.tick_params(length=0)
    axes.figure.colorbar(image, ax=axes, format=_percent_formatter(), label="share of the row")
    return _base.finish(
        axes,
        "Tier migration: each tier's members by their later tier",
        f"tier at {after}",
        f"tier at {before} (members)",
        title,
    )


# -- points -----------------------------------------------------------------------------------


def plot_points_flow(
    flow: PointsFlow, *, ax: Axes | None = None, title: str | None = None
) -> Axes:
    """Points issued, redeemed and expired in each period, as grouped bars.

    The legend gives each flow's total over the periods drawn, and the
    outstanding points at the end.

    Args:
        flow: a :func:`loyaltycore.metrics.points_flow`.
        ax: the Axes to draw on (default: a new figure's).
        title: replaces the default title.

    >>> import numpy as np
    >>> from loyaltycore.metrics import PointsFlow
    >>> flow = PointsFlow(np.array(["2024-01-01", "2024-02-01"], "datetime64[D]"),
    ...                   [500, 300], [100, 250], [0, 50], [400, 400], period="month", tz="UTC")
    >>> ax = plot_points_flow(flow)
    >>> [float(bar.get_height()) for bar in ax.containers[1]]
    [100.0, 250.0]
    """
    _base.check_result(flow, PointsFlow, "flow")
    _base.check_title(title)
    n = len(flow.start)
    if n == 0:
        raise EmptyData("flow has no period", field="flow")
    axes = _base.axes(ax, (min(12.0, max(7.0, 0.3 * n + 3.0)), 4.0))
    x = np.arange(n)
    width = 0.27
    for k, (name, values, colour) in enumerate(
        (
            ("issued", flow.issued, MODEL),
            ("redeemed", flow.redeemed, ACCENT),
            ("expired", flow.expired, MUTED),
        )
    ):
        total = int(np.asarray(values).sum())
        axes.bar(
            x + (k - 1) * width,
            np.asarray(values, dtype=np.float64),
            width,
            color=colour,
            label=f"{name} ({_base.count(total)} in all)",
        )
    from matplotlib.patches import Patch

    outstanding = int(np.asarray(flow.outstanding)[-1])
    handles, _ = axes.get_legend_handles_labels()
    handles.append(
        Patch(
            facecolor="none",
            edgecolor="none",
            label=f"outstanding at the end: {_base.count(outstanding)}",
        )
    )
    labels = [period_label(d, flow.period) for d in _starts(np.asarray(flow.start))]
    step = max(1, n // 16)
    axes.set_xticks(
        x[::step], labels[::step], rotation=45 if n > 8 else 0, ha="right" if n > 8 else "center"
    )
    axes.legend(handles=handles, frameon=False, fontsize=8)
    _base.thousands(axes)
    return _base.finish(
        axes,
        f"Points issued, redeemed and expired per {flow.period}",
        f"{flow.period} (calendar of {flow.tz})",
        "points",
        title,
    )
