"""The CLV literature's diagnostic plots, drawn from :mod:`loyaltycore.clv`'s tables."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from loyaltycore._validate import check_int
from loyaltycore.clv import (
    AliveHistory,
    CumulativeTransactions,
    FrequencyRecencyMatrix,
    HoldoutComparison,
    PeriodTransactions,
)
from loyaltycore.errors import EmptyData, InvalidArgument, InvalidColumn, InvalidType
from loyaltycore.plot import _base
from loyaltycore.plot._base import ACCENT, ACTUAL, MODEL, MUTED

if TYPE_CHECKING:
    from matplotlib.axes import Axes

_MATRIX_CELLS_ANNOTATED = 160


def _bucket_labels(values: npt.NDArray[np.float64]) -> list[str]:
    """0, 1, ..., and "7+" for the last bucket, which gathers every larger count."""
    labels = [f"{int(v)}" for v in values]
    labels[-1] += "+"
    return labels


# -- the frequency / recency matrices ----------------------------------------------------


def _matrix(
    grid: FrequencyRecencyMatrix,
    column: str,
    *,
    ax: object,
    annotate: bool | None,
    cmap: str,
    vmax: float | None,
    title: str,
    bar_label: str,
    override: str | None,
) -> Axes:
    _base.check_result(grid, FrequencyRecencyMatrix, "grid")
    if len(grid) == 0:
        raise EmptyData("grid has no cell", field="grid")
    values = grid.matrix(column)
    rows, cols = values.shape
    show = rows * cols <= _MATRIX_CELLS_ANNOTATED if annotate is None else annotate
    axes = _base.axes(ax, (max(6.0, 0.45 * cols + 2.5), max(3.5, 0.4 * rows + 1.8)))
    lo, hi = _base.colour_range(values)
    texts = [
        [_base.number(v) if column == "expected" else f"{v:.2f}" for v in row] for row in values
    ]
    image = _base.heatmap(
        axes,
        values[::-1],
        texts[::-1] if show else None,
        cmap=cmap,
        vmin=lo,
        vmax=hi if vmax is None else vmax,
        fontsize=7.0,
    )
    recency = grid.recency[grid.frequency == grid.frequency.max()]
    frequency = np.unique(grid.frequency)
    step = max(1, cols // 10)
    axes.set_xticks(range(0, cols, step), [_base.number(r) for r in recency[::step]])
    every = max(1, rows // 12)
    ticks = list(range(0, rows, every))
    axes.set_yticks(ticks, [f"{int(frequency[::-1][i])}" for i in ticks])
    axes.figure.colorbar(image, ax=axes, label=bar_label)
    unit = grid.unit
    return _base.finish(
        axes,
        title,
        f"recency: {_base.unit_name(unit)} from the first purchase to the last",
        "frequency: repeat purchases",
        override,
    )


def plot_frequency_recency_matrix(
    grid: FrequencyRecencyMatrix,
    *,
    ax: Axes | None = None,
    annotate: bool | None = None,
    cmap: str = "viridis",
    title: str | None = None,
) -> Axes:
    """Expected purchases in the next ``t`` for every (frequency, recency) of one age.

    Frequencies go up the y axis, recencies along x; customers with many
    repeat purchases and a recent last one (top right) buy most.

    Args:
        grid: a :func:`loyaltycore.clv.frequency_recency_matrix`.
        ax: the Axes to draw on (default: a new figure's).
        annotate: write each cell's value (default: when there are at most
            160 cells).
        cmap: a matplotlib colour map name.
        title: replaces the default title.

    Returns:
        The Axes drawn on.

    >>> from loyaltycore.clv import BetaGeo, frequency_recency_matrix
    >>> bg = BetaGeo(r=0.243, alpha=4.414, a=0.793, b=2.426, unit="week")
    >>> grid = frequency_recency_matrix(bg, T=39.0, max_frequency=5, t=39.0)
    >>> ax = plot_frequency_recency_matrix(grid)
    >>> ax.get_title()
    'Expected purchases in the next 39 weeks, for customers first seen 39 weeks ago'
    """
    _base.check_title(title)
    horizon = _base.span(grid.t, grid.unit) if isinstance(grid, FrequencyRecencyMatrix) else ""
    age = _base.span(grid.T, grid.unit) if isinstance(grid, FrequencyRecencyMatrix) else ""
    return _matrix(
        grid,
        "expected",
        ax=ax,
        annotate=annotate,
        cmap=cmap,
        vmax=None,
        title=f"Expected purchases in the next {horizon}, for customers first seen {age} ago",
        bar_label=f"expected purchases in the next {horizon}",
        override=title,
    )


def plot_p_alive_matrix(
    grid: FrequencyRecencyMatrix,
    *,
    ax: Axes | None = None,
    annotate: bool | None = None,
    cmap: str = "RdYlGn",
    title: str | None = None,
) -> Axes:
    """The probability that a customer is still active, by frequency and recency.

    The colour scale runs from 0 to 1. A customer who bought often but not
    for a long while (top left) has most likely stopped buying.

    Args:
        grid: a :func:`loyaltycore.clv.frequency_recency_matrix`.
        ax: the Axes to draw on (default: a new figure's).
        annotate: write each cell's value (default: at most 160 cells).
        cmap: a matplotlib colour map name.
        title: replaces the default title.

    >>> from loyaltycore.clv import BetaGeo, frequency_recency_matrix
    >>> bg = BetaGeo(r=0.243, alpha=4.414, a=0.793, b=2.426, unit="week")
    >>> grid = frequency_recency_matrix(bg, T=39.0, max_frequency=2, recencies=[13.0, 39.0])
    >>> ax = plot_p_alive_matrix(grid)
    >>> sorted(text.get_text() for text in ax.texts)
    ['0.36', '0.50', '0.75', '0.81', '1.00', '1.00']
    """
    _base.check_title(title)
    age = _base.span(grid.T, grid.unit) if isinstance(grid, FrequencyRecencyMatrix) else ""
    return _matrix(
        grid,
        "p_alive",
        ax=ax,
        annotate=annotate,
        cmap=cmap,
        vmax=1.0,
        title=f"Probability a customer is still active, {age} after the first purchase",
        bar_label="P(alive)",
        override=title,
    )


# -- fit against the data ----------------------------------------------------------------


def plot_calibration_vs_holdout(
    table: HoldoutComparison, *, ax: Axes | None = None, title: str | None = None
) -> Axes:
    """Mean holdout purchases by calibration frequency: what happened and what the model said.

    The x tick labels give how many customers each point averages; the last
    point gathers every larger frequency.

    Args:
        table: a :func:`loyaltycore.clv.calibration_vs_holdout`.
        ax: the Axes to draw on (default: a new figure's).
        title: replaces the default title.

    >>> import numpy as np
    >>> from loyaltycore.clv import HoldoutComparison
    >>> table = HoldoutComparison(np.array([0.0, 1, 2]), np.array([50.0, 20, 9]),
    ...                           np.array([0.2, 0.8, 2.1]), np.array([0.25, 0.7, 2.3]),
    ...                           duration=39.0, unit="week")
    >>> ax = plot_calibration_vs_holdout(table)
    >>> ax.get_ylabel()
    'mean purchases in the 39-week holdout'
    """
    _base.check_result(table, HoldoutComparison, "table")
    _base.check_title(title)
    if len(table) == 0:
        raise EmptyData("table has no row", field="table")
    axes = _base.axes(ax, (7.0, 4.0))
    x = np.arange(len(table))
    axes.plot(x, table.actual, marker="o", color=ACTUAL, label="actual")
    axes.plot(x, table.predicted, marker="s", linestyle="--", color=MODEL, label="model")
    labels = _bucket_labels(table.frequency)
    axes.set_xticks(
        x, [f"{lab}\n({_base.count(n)})" for lab, n in zip(labels, table.customers, strict=True)]
    )
    axes.set_ylim(bottom=0)
    axes.legend(frameon=False)
    length = "holdout" if table.duration is None else f"{_holdout(table)} holdout"
    return _base.finish(
        axes,
        "Calibration against holdout: actual and predicted purchases",
        "repeat purchases in the calibration period (customers)",
        f"mean purchases in the {length}",
        title,
    )


def _holdout(table: HoldoutComparison) -> str:
    assert table.duration is not None
    return f"{_base.number(table.duration)}-{_base.unit_name(table.unit, 1)}"


def plot_period_transactions(
    table: PeriodTransactions, *, ax: Axes | None = None, title: str | None = None
) -> Axes:
    """Customers by number of repeat purchases: the data's counts beside the model's.

    Args:
        table: a :func:`loyaltycore.clv.period_transactions`.
        ax: the Axes to draw on (default: a new figure's).
        title: replaces the default title.

    >>> import numpy as np
    >>> from loyaltycore.clv import PeriodTransactions
    >>> table = PeriodTransactions(np.array([0.0, 1, 2]), np.array([60.0, 25, 15]),
    ...                            np.array([58.0, 27, 15]))
    >>> ax = plot_period_transactions(table)
    >>> [float(bar.get_height()) for bar in ax.containers[0]]
    [60.0, 25.0, 15.0]
    """
    _base.check_result(table, PeriodTransactions, "table")
    _base.check_title(title)
    if len(table) == 0:
        raise EmptyData("table has no row", field="table")
    axes = _base.axes(ax, (7.0, 4.0))
    x = np.arange(len(table))
    width = 0.4
    axes.bar(x - width / 2, table.actual, width, color=ACTUAL, label="actual")
    axes.bar(x + width / 2, table.model, width, color=MODEL, label="model")
    axes.set_xticks(x, _bucket_labels(table.repeat_purchases))
    axes.legend(frameon=False)
    _base.thousands(axes)
    return _base.finish(
        axes,
        "Customers by number of repeat purchases: actual and model",
        "repeat purchases during each customer's observation",
        "customers",
        title,
    )


def _tracking(
    track: CumulativeTransactions,
    *,
    ax: object,
    calibration_end: float | None,
    title: str,
    ylabel: str,
    override: str | None,
) -> Axes:
    if len(track) == 0:
        raise EmptyData("track has no period", field="track")
    axes = _base.axes(ax, (8.0, 4.0))
    axes.plot(track.period, track.actual, color=ACTUAL, label="actual")
    axes.plot(track.period, track.predicted, color=MODEL, linestyle="--", label="model")
    if calibration_end is not None:
        end = _base.finite_float(calibration_end, "calibration_end")
        axes.axvline(end, color=MUTED, linestyle=":", label="end of calibration")
    axes.set_ylim(bottom=0)
    axes.legend(frameon=False)
    _base.thousands(axes)
    return _base.finish(
        axes,
        title,
        f"{_base.unit_name(track.unit)} since the start of the data",
        ylabel,
        override,
    )


def plot_cumulative_transactions(
    track: CumulativeTransactions,
    *,
    ax: Axes | None = None,
    calibration_end: float | None = None,
    title: str | None = None,
) -> Axes:
    """Repeat transactions so far, period by period: the data against the model.

    Args:
        track: a :func:`loyaltycore.clv.expected_cumulative_transactions`.
        ax: the Axes to draw on (default: a new figure's).
        calibration_end: the period the model was fitted up to, drawn as a
            dotted line (same unit as ``track.period``).
        title: replaces the default title.

    >>> from loyaltycore.clv import BetaGeo, expected_cumulative_transactions
    >>> bg = BetaGeo(r=0.243, alpha=4.414, a=0.793, b=2.426, unit="week")
    >>> track = expected_cumulative_transactions(
    ...     bg, first_purchase=[0.0, 0.5, 1.2], repeat_purchases=[1.5, 2.1, 2.9], t=3)
    >>> plot_cumulative_transactions(track, calibration_end=2).get_xlabel()
    'weeks since the start of the data'
    """
    _base.check_result(track, CumulativeTransactions, "track")
    _base.check_title(title)
    return _tracking(
        track,
        ax=ax,
        calibration_end=calibration_end,
        title="Cumulative repeat transactions: actual and model",
        ylabel="repeat transactions so far",
        override=title,
    )


def plot_incremental_transactions(
    track: CumulativeTransactions,
    *,
    ax: Axes | None = None,
    calibration_end: float | None = None,
    title: str | None = None,
) -> Axes:
    """Repeat transactions in each period: the data against the model.

    Args:
        track: a :func:`loyaltycore.clv.expected_cumulative_transactions`
            (cumulative; the plot takes the differences).
        ax: the Axes to draw on (default: a new figure's).
        calibration_end: the period the model was fitted up to, drawn as a
            dotted line.
        title: replaces the default title.

    >>> from loyaltycore.clv import BetaGeo, expected_cumulative_transactions
    >>> bg = BetaGeo(r=0.243, alpha=4.414, a=0.793, b=2.426, unit="week")
    >>> track = expected_cumulative_transactions(
    ...     bg, first_purchase=[0.0, 0.5, 1.2], repeat_purchases=[1.5, 2.1, 2.9], t=3)
    >>> plot_incremental_transactions(track).get_ylabel()
    'repeat transactions per week'
    """
    _base.check_result(track, CumulativeTransactions, "track")
    _base.check_title(title)
    return _tracking(
        track.incremental(),
        ax=ax,
        calibration_end=calibration_end,
        title="Repeat transactions per period: actual and model",
        ylabel=f"repeat transactions per {_base.unit_name(track.unit, 1)}",
        override=title,
    )


def plot_p_alive_history(
    history: AliveHistory, *, ax: Axes | None = None, title: str | None = None
) -> Axes:
    """One customer's probability of being alive over time, with their purchases marked.

    Args:
        history: a :func:`loyaltycore.clv.p_alive_history`.
        ax: the Axes to draw on (default: a new figure's).
        title: replaces the default title.

    >>> import numpy as np
    >>> from loyaltycore.clv import BetaGeo, p_alive_history
    >>> bg = BetaGeo(r=0.243, alpha=4.414, a=0.793, b=2.426, unit="week")
    >>> curve = p_alive_history(bg, purchases=[0.0, 2.0, 5.0], at=np.linspace(0, 30, 61))
    >>> plot_p_alive_history(curve).get_xlabel()
    'weeks since the first purchase'
    """
    _base.check_result(history, AliveHistory, "history")
    _base.check_title(title)
    if len(history) == 0:
        raise EmptyData("history has no time", field="history")
    axes = _base.axes(ax, (8.0, 3.5))
    origin = float(history.purchases[0]) if history.purchases.size else 0.0
    axes.plot(history.at - origin, history.p_alive, color=MODEL, label="P(alive)")
    for n, when in enumerate(history.purchases.tolist()):
        axes.axvline(
            when - origin,
            color=ACCENT,
            linestyle=":",
            linewidth=1.2,
            label="purchase" if n == 0 else None,
        )
    axes.set_ylim(0.0, 1.05)
    _base.percent_axis(axes)
    axes.legend(frameon=False, loc="lower left")
    since = "since the first purchase" if history.purchases.size else "(the data's own origin)"
    return _base.finish(
        axes,
        "Probability this customer is still active",
        f"{_base.unit_name(history.unit)} {since}",
        "P(alive)",
        title,
    )


# -- lifetime value -----------------------------------------------------------------------


def plot_clv_distribution(
    values: npt.ArrayLike,
    *,
    horizon: float,
    unit: str,
    currency: str | None = None,
    scale: str = "log",
    cap: float | None = None,
    bins: int = 40,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """How predicted lifetime values spread over customers, without a false spike.

    With ``scale="log"`` (the default) the bars are evenly spaced on a log
    axis from 0.01 (a cent) to the largest value, so the long tail of a CLV
    distribution shows without capping; the customers below 0.01 are counted
    in a note, not drawn. With ``scale="linear"`` every value up to ``cap``
    (default: the largest) is drawn, and the customers above the cap are
    counted in a note rather than piled into the last bar. The median and the
    mean are marked.

    Args:
        values: each customer's predicted CLV (from
            :func:`loyaltycore.clv.customer_lifetime_value`).
        horizon: the horizon the values are predicted over, in ``unit``.
        unit: "day", "week", "month" or "year".
        currency: the currency code shown with amounts ("USD").
        scale: "log" or "linear".
        cap: the largest value drawn on a linear axis.
        bins: the number of bars.
        ax: the Axes to draw on (default: a new figure's).
        title: replaces the default title.

    >>> ax = plot_clv_distribution([0.0, 12.5, 30.0, 31.0, 250.0], horizon=52, unit="week",
    ...                            currency="USD")
    >>> ax.get_xlabel()
    'predicted value over the next 52 weeks (USD, log scale)'
    >>> [text.get_text() for text in ax.texts]
    ['1 customer below USD 0.01 not shown']
    """
    data = np.asarray(values, dtype=np.float64).ravel()
    _base.check_title(title)
    if data.size == 0:
        raise EmptyData("values is empty", field="values")
    bad = np.flatnonzero(~np.isfinite(data))
    if bad.size:
        row = int(bad[0])
        raise InvalidColumn(f"values[{row}]={data[row]!r} is not finite", field="values", row=row)
    how = _base.check_choice(scale, "scale", ("log", "linear"))
    count = check_int(bins, "bins", minimum=1)
    length = _base.finite_float(horizon, "horizon")
    if length <= 0:
        raise InvalidArgument(f"horizon={horizon!r} must be > 0", field="horizon", value=horizon)
    period = _base.check_choice(unit, "unit", ("day", "week", "month", "year"))
    if currency is not None and not isinstance(currency, str):
        raise InvalidType(f"currency={currency!r} must be a str or None", field="currency")
    if how == "log" and cap is not None:
        raise InvalidArgument("cap applies to scale='linear'", field="cap", value=cap)
    axes = _base.axes(ax, (8.0, 4.0))
    if how == "log":
        note = _log_histogram(axes, data, count, currency)
    else:
        note = _linear_histogram(axes, data, count, cap, currency)
    for name, value, dash in (
        ("median", float(np.median(data)), "--"),
        ("mean", float(np.mean(data)), ":"),
    ):
        if how == "linear" or value >= _FLOOR:
            axes.axvline(
                value,
                color=ACCENT,
                linestyle=dash,
                label=f"{name} {_base.money(value, currency)}",
            )
    if note:
        axes.text(0.99, 0.97, note, transform=axes.transAxes, ha="right", va="top", fontsize=8)
    axes.legend(frameon=False, loc="upper right", bbox_to_anchor=(1.0, 0.9))
    _base.thousands(axes)
    _base.thousands(axes, "x")
    return _base.finish(
        axes,
        "Predicted customer lifetime value",
        f"predicted value over the next {_base.span(length, period)} "
        f"({currency or 'currency of the data'}, {how} scale)",
        "customers",
        title,
    )


#: The smallest value a log-scale CLV histogram draws: a cent.
_FLOOR = 0.01


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _log_histogram(
    axes: Axes, data: npt.NDArray[np.float64], bins: int, currency: str | None
) -> str:
    shown = data[data >= _FLOOR]
    below = int(data.size - shown.size)
    if shown.size:
        top = float(shown.max())
        edges = np.geomspace(_FLOOR, top if top > _FLOOR else _FLOOR * 10, bins + 1)
        axes.hist(shown, bins=edges.tolist(), color=MODEL)
    axes.set_xscale("log")
    if not below:
        return ""
    return f"{_plural(below, 'customer')} below {_base.money(_FLOOR, currency)} not shown"


def _linear_histogram(
    axes: Axes,
    data: npt.NDArray[np.float64],
    bins: int,
    cap: float | None,
    currency: str | None,
) -> str:
    top = float(data.max()) if cap is None else _base.finite_float(cap, "cap")
    low = float(data.min())
    if top < low:
        raise InvalidArgument(
            f"cap={cap!r} is below every value (the smallest is {low!r})", field="cap", value=cap
        )
    kept = data[data <= top]
    above = int(data.size - kept.size)
    edges = np.linspace(low, top if top > low else low + 1.0, bins + 1)
    axes.hist(kept, bins=edges.tolist(), color=MODEL)
    note = ""
    if above:
        most = _base.money(float(data.max()), currency)
        note = (
            f"{_plural(above, 'customer')} above {_base.money(top, currency)} "
            f"(up to {most}) not shown"
        )
    return note
