"""Plots of a campaign read-out: the lift with its intervals, spend over time, lift by segment."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt

from loyaltycore.campaigns import Breakdown, Windows
from loyaltycore.errors import EmptyData, InvalidArgument, InvalidType
from loyaltycore.plot import _base
from loyaltycore.plot._base import ACCENT, ACTUAL, MODEL, MUTED

if TYPE_CHECKING:
    from matplotlib.axes import Axes

Float = npt.NDArray[np.float64]

#: Days in each unit a read-out's horizons can be given in (a month is 365.25 / 12 days).
_UNIT_DAYS: Final = {"day": 1.0, "week": 7.0, "month": 365.25 / 12, "year": 365.25}
#: The colour of each kind of window: the campaign, the balance check, the dip, the net.
_WINDOW_COLOURS: Final = {"during": MODEL, "pre": MUTED, "post": ACCENT, "during+post": ACTUAL}
_METHODS: Final = {"holm": "Holm", "bh": "Benjamini-Hochberg"}


def _shown(name: str) -> str:
    """A label from the user's data as plain text: unprintable characters as escapes, and
    ``$`` escaped so matplotlib does not read it as mathematics."""
    if not name.isprintable():
        name = "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in name)
    return name.replace("$", r"\$")


def _level(ci: float | None) -> str:
    return "" if ci is None else f"{ci:.0%} "


def _currency(value: object) -> str:
    if value is not None and not isinstance(value, str):
        raise InvalidType(
            f"currency={value!r} must be a str or None", field="currency", value=value
        )
    return "currency" if value is None else value


def _estimates(
    axes: Axes,
    labels: Sequence[str],
    centre: Float,
    low: Float,
    high: Float,
    colours: Sequence[str],
    filled: Sequence[bool],
) -> None:
    """One row per estimate, top down: a dot at its value, annotated, and its interval."""
    rows = np.arange(len(labels))[::-1]
    for k, y in enumerate(rows.tolist()):
        if math.isfinite(low[k]) and math.isfinite(high[k]):
            axes.hlines(y, low[k], high[k], color=colours[k], linewidth=2.2)
        face = colours[k] if filled[k] else "white"
        axes.plot([centre[k]], [y], "o", markersize=7, color=colours[k], markerfacecolor=face)
        axes.annotate(
            _base.number(float(centre[k])),
            (centre[k], y),
            textcoords="offset points",
            xytext=(0, 7),
            ha="center",
            fontsize=8,
        )
    axes.axvline(0.0, color=ACTUAL, linewidth=0.8, linestyle="--")
    axes.set_yticks(rows, list(labels))
    axes.set_ylim(-0.7, len(labels) - 0.3)
    _base.thousands(axes, "x")


def plot_campaign_lift(
    windows: Windows,
    *,
    ax: Axes | None = None,
    currency: str | None = None,
    title: str | None = None,
) -> Axes:
    """The lift per member in every window of a read-out, each with its interval.

    One row per row of :func:`loyaltycore.campaigns.windows`, annotated with
    its value: during the campaign, then for each horizon the pre-period (a
    balance check: its interval should straddle 0), the post-period (below
    0: the dip after the campaign, the pull-forward) and during + post (the
    net effect once the dip is counted). A hollow dot is a window that had
    not ended when the log was read. The x axis is the difference of mean
    net spend per member, treatment minus control.

    Args:
        windows: a :func:`loyaltycore.campaigns.windows` read-out.
        ax: the Axes to draw on (default: a new figure's).
        currency: the currency code for the axis label.
        title: replaces the default title.

    >>> from datetime import date
    >>> from loyaltycore.campaigns import windows
    >>> from loyaltycore.simulate import simulate_campaign
    >>> sim = simulate_campaign(500, start=date(2024, 6, 1), end=date(2024, 6, 15), seed=1)
    >>> a = sim.assignment
    >>> r = windows(sim.log, a.member, a.arm, start=sim.start, end=sim.end, horizons=(7, 30))
    >>> ax = plot_campaign_lift(r, currency="EUR")
    >>> [t.get_text() for t in ax.get_yticklabels()][:4]
    ['during', 'pre 7 days', 'post 7 days', 'during + post 7 days']
    >>> ax.get_xlabel()
    'difference in mean net spend per member, EUR'
    """
    _base.check_result(windows, Windows, "windows")
    _base.check_title(title)
    money = _currency(currency)
    labels = [
        w if w == "during" else f"{w.replace('+', ' + ')} {_base.span(float(h), windows.unit)}"
        for w, h in zip(windows.window.tolist(), windows.horizon.tolist(), strict=True)
    ]
    axes = _base.axes(ax, (7.5, 0.42 * len(labels) + 1.6))
    colours = [_WINDOW_COLOURS[w] for w in windows.window.tolist()]
    _estimates(
        axes,
        labels,
        windows.difference,
        windows.low,
        windows.high,
        colours,
        windows.complete.tolist(),
    )
    return _base.finish(
        axes,
        f"Lift per member, treatment - control, with {_level(windows.ci)}intervals",
        f"difference in mean net spend per member, {money}",
        "window",
        title,
    )


def _arm_rates(windows: Windows) -> tuple[Float, Float, Float]:
    """(edges in days from the start, treatment and control spend per member per day)."""
    if windows.start is None or windows.end is None:
        raise InvalidArgument(
            "windows has no start and end; read it out with loyaltycore.campaigns.windows",
            field="windows",
        )
    if len(windows.member) == 0:
        raise EmptyData("windows has no member", field="windows")
    days = np.array(windows.horizons, dtype=np.float64) * _UNIT_DAYS[windows.unit]
    length = (windows.end - windows.start).total_seconds() / 86_400
    edges = np.concatenate([-days[::-1], [0.0, length], length + days])
    # Window sums are cumulative away from the campaign; their steps are the intervals.
    zeros = np.zeros((len(windows.member), 1), dtype=np.int64)
    pre = np.diff(np.hstack([zeros, windows.pre]), axis=1)[:, ::-1]
    post = np.diff(np.hstack([zeros, windows.post]), axis=1)
    sums = np.column_stack([pre, windows.during, post]) / 10.0**windows.exponent
    widths = np.diff(edges)
    treated = windows.treated
    return edges, sums[treated].mean(axis=0) / widths, sums[~treated].mean(axis=0) / widths


def plot_campaign_curve(
    windows: Windows,
    *,
    ax: Axes | None = None,
    currency: str | None = None,
    title: str | None = None,
) -> Axes:
    """Spend per member per day before, during and after a campaign, in each arm.

    The read-out's windows cut time into steps: from the longest pre-period
    up to the start, the campaign (shaded), and the post-periods after the
    end. Each step is an arm's mean net spend per member per day over it,
    so windows of different lengths compare: before the campaign the arms
    should run together, during it the treatment arm rises, and a treatment
    step below the control's after the end is the pull-forward.

    Args:
        windows: a :func:`loyaltycore.campaigns.windows` read-out.
        ax: the Axes to draw on (default: a new figure's).
        currency: the currency code for the axis label.
        title: replaces the default title.

    >>> from datetime import date
    >>> from loyaltycore.campaigns import windows
    >>> from loyaltycore.simulate import simulate_campaign
    >>> sim = simulate_campaign(500, start=date(2024, 6, 1), end=date(2024, 6, 15), seed=1)
    >>> a = sim.assignment
    >>> ax = plot_campaign_curve(windows(sim.log, a.member, a.arm, start=sim.start, end=sim.end))
    >>> ax.get_xlabel(), [t.get_text() for t in ax.get_legend().get_texts()]
    ('days from the start of the campaign', ['treatment', 'control (holdout)', 'campaign'])
    """
    _base.check_result(windows, Windows, "windows")
    _base.check_title(title)
    money = _currency(currency)
    edges, treatment, control = _arm_rates(windows)
    axes = _base.axes(ax, (8.0, 4.0))
    axes.stairs(treatment, edges, color=MODEL, linewidth=2.2, label="treatment", baseline=None)
    axes.stairs(
        control,
        edges,
        color=ACTUAL,
        linewidth=1.6,
        linestyle="--",
        label="control (holdout)",
        baseline=None,
    )
    end = float(edges[len(windows.horizons) + 1])
    axes.axvspan(0.0, end, color=MODEL, alpha=0.12, label="campaign")
    axes.set_xlim(float(edges[0]), float(edges[-1]))
    axes.set_ylim(bottom=0)
    _base.thousands(axes)
    axes.legend(frameon=False, fontsize=8)
    return _base.finish(
        axes,
        "Spend per member per day, before, during and after the campaign",
        "days from the start of the campaign",
        f"mean net spend per member per day, {money}",
        title,
    )


def plot_campaign_segments(
    breakdown: Breakdown, *, ax: Axes | None = None, title: str | None = None
) -> Axes:
    """The lift in each segment with its interval; filled where it is significant.

    One row per segment of :func:`loyaltycore.campaigns.breakdown`, labelled
    with its members in each arm and annotated with its lift. The intervals
    are each segment's own; a filled dot is a segment whose p-value,
    adjusted for the number of segments (Holm or Benjamini-Hochberg), is at
    most ``alpha``.

    Args:
        breakdown: a :func:`loyaltycore.campaigns.breakdown`.
        ax: the Axes to draw on (default: a new figure's).
        title: replaces the default title.

    >>> from loyaltycore.campaigns import breakdown
    >>> b = breakdown([5.0, 6.0, 1.0, 2.0, 3.0, 3.5, 3.0, 2.5], [True, True, False, False] * 2,
    ...               ["new", "new", "new", "new", "old", "old", "old", "old"])
    >>> ax = plot_campaign_segments(b)
    >>> [t.get_text() for t in ax.get_yticklabels()], [t.get_text() for t in ax.texts]
    (['new (2 / 2)', 'old (2 / 2)'], ['4', '0.50'])
    """
    from matplotlib.lines import Line2D

    _base.check_result(breakdown, Breakdown, "breakdown")
    _base.check_title(title)
    if len(breakdown.segment) == 0:
        raise EmptyData("breakdown has no segment", field="breakdown")
    arms = zip(breakdown.n_treatment.tolist(), breakdown.n_control.tolist(), strict=True)
    labels = [
        f"{_shown(_base.label(str(name)))} ({_base.count(t)} / {_base.count(c)})"
        for name, (t, c) in zip(breakdown.segment.tolist(), arms, strict=True)
    ]
    significant = breakdown.significant.tolist()
    axes = _base.axes(ax, (8.0, 0.45 * len(labels) + 2.0))
    colours = [MODEL if s else MUTED for s in significant]
    _estimates(
        axes, labels, breakdown.difference, breakdown.low, breakdown.high, colours, significant
    )
    method = _METHODS.get(breakdown.method, breakdown.method)
    marks = [
        Line2D(
            [],
            [],
            marker="o",
            color=MODEL,
            linestyle="",
            label=f"significant at {breakdown.alpha:g} ({method}-adjusted)",
        ),
        Line2D(
            [], [], marker="o", color=MUTED, markerfacecolor="white", linestyle="",
            label="not significant",
        ),
    ]  # fmt: skip
    axes.legend(handles=marks, frameon=False, fontsize=8)
    return _base.finish(
        axes,
        f"Lift by segment with {_level(breakdown.ci)}intervals",
        "difference in mean outcome per member, treatment - control",
        "segment (treatment / control members)",
        title,
    )
