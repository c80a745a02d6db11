"""Plots render to PNG: not blank, titled and labelled, their annotations equal the data.

Every plot is drawn with the Agg backend into a PNG in memory and read back.
None may open a pyplot figure (so none is left to close) or change rcParams.
"""

from __future__ import annotations

import ast
import io
import pickle
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.image
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from loyaltycore import campaigns, clv, lifecycle, metrics, plot, segments
from loyaltycore.errors import (
    EmptyData,
    InvalidArgument,
    InvalidColumn,
    InvalidType,
    LoyaltyError,
)
from loyaltycore.points import ExpireAfter, PointsLedger
from loyaltycore.simulate import simulate_campaign

#: After every transaction these tests make.
LATER = datetime(2100, 1, 1, tzinfo=UTC)
BG = clv.BetaGeo(r=0.243, alpha=4.414, a=0.793, b=2.426, unit="week")


def png(ax: Axes) -> np.ndarray[Any, Any]:
    """The figure of ``ax`` rendered by Agg to PNG bytes and decoded to RGBA pixels."""
    FigureCanvasAgg(ax.figure)
    buffer = io.BytesIO()
    ax.figure.savefig(buffer, format="png", dpi=60)
    assert buffer.getvalue().startswith(b"\x89PNG\r\n\x1a\n")
    buffer.seek(0)
    pixels: np.ndarray[Any, Any] = matplotlib.image.imread(buffer, format="png")
    return pixels


def assert_drawn(ax: Axes) -> None:
    """Not blank (many pixels away from white, several colours), with a title and labels."""
    pixels = png(ax)
    rgb = pixels[..., :3]
    inked = np.mean(np.any(rgb < 0.9, axis=-1))
    assert inked > 0.02, f"only {inked:.1%} of the image is drawn"
    assert len(np.unique(rgb.reshape(-1, 3), axis=0)) > 10
    assert ax.get_title(), "no title"
    assert ax.get_xlabel(), "no x label"
    assert ax.get_ylabel(), "no y label"


@pytest.fixture(autouse=True)
def _no_global_state() -> Iterator[None]:
    """Each test leaves pyplot without open figures and rcParams as they were."""
    import matplotlib.pyplot as plt

    before = dict(matplotlib.rcParams)
    assert plt.get_fignums() == []
    yield
    assert plt.get_fignums() == [], "a plot opened a pyplot figure"
    assert dict(matplotlib.rcParams) == before, "a plot changed rcParams"


def _percent(text: str) -> float:
    """The share a cell's text shows ("<0.1%" as 0.0005)."""
    if text == "<0.1%":
        return 0.0005
    return float(text.rstrip("%")) / 100


def _close(text: str, value: float) -> bool:
    """``text`` is ``value`` as a rounded percentage."""
    digits = 1 if abs(value) < 0.0995 or 0.995 <= value < 1 else 0
    if text == ">99.9%":
        return 0.9995 <= value < 1
    if text == "<0.1%":
        return 0 < value < 0.0005
    if text == "0%":
        return value == 0
    return abs(_percent(text) - value) <= 0.5 * 10 ** (-digits - 2) + 1e-12


# -- data ----------------------------------------------------------------------------------


def _cohorts() -> metrics.CohortTable:
    rng = np.random.default_rng(3)
    customer = rng.integers(0, 400, 3000)
    days = rng.integers(0, 365, 3000)
    at = np.datetime64("2024-01-01") + days.astype("timedelta64[D]")
    return metrics.cohort_retention(customer, at, tz="UTC", as_of=LATER)


def _scores() -> segments.RFMScores:
    rng = np.random.default_rng(5)
    return segments.rfm_scores(
        rng.integers(0, 400, 2000), rng.poisson(2, 2000), rng.gamma(2, 50, 2000)
    )


def _transitions() -> lifecycle.TransitionMatrix:
    rng = np.random.default_rng(11)
    return lifecycle.transition_matrix(rng.integers(0, 7, 500), rng.integers(0, 7, 500))


def _ledger(member: str, steps: list[tuple[int, int]]) -> PointsLedger:
    """A ledger from (day, points) steps: positive earns, negative redemptions when possible."""
    ledger = PointsLedger.open(member, policy=ExpireAfter(months=2))
    start = datetime(2024, 1, 1, 12, tzinfo=UTC)
    for k, (day, points) in enumerate(sorted(steps, key=lambda s: s[0])):
        at = start + timedelta(days=day)
        if points > 0:
            ledger = ledger.earn(f"e{k}", at=at, points=points)
        elif 0 < -points <= ledger.balance(as_of=at).available:
            ledger = ledger.redeem(f"r{k}", at=at, points=-points)
    return ledger


def _flow() -> metrics.PointsFlow:
    ledgers = [
        _ledger("a", [(0, 100), (10, -40), (40, 80), (70, 30)]),
        _ledger("b", [(5, 500), (6, -300), (120, 20)]),
    ]
    return metrics.points_flow(ledgers, start=date(2024, 1, 1), end=date(2024, 7, 1))


def _grid() -> clv.FrequencyRecencyMatrix:
    return clv.frequency_recency_matrix(
        BG, T=39.0, max_frequency=4, recencies=[10.0, 20.0, 30.0, 39.0], t=13.0
    )


def _track() -> clv.CumulativeTransactions:
    rng = np.random.default_rng(2)
    first = np.sort(rng.uniform(0, 12, 300))
    repeats = rng.uniform(1, 40, 900)
    return clv.expected_cumulative_transactions(
        BG, first_purchase=first, repeat_purchases=repeats, t=40
    )


def _holdout() -> clv.HoldoutComparison:
    rng = np.random.default_rng(4)
    frequency = rng.poisson(1.5, 400)
    recency = np.where(frequency > 0, rng.uniform(1, 39, 400), 0.0)
    return clv.calibration_vs_holdout(
        BG,
        frequency=frequency,
        recency=recency,
        T=np.full(400, 39.0),
        holdout_frequency=rng.poisson(1.0, 400),
        duration=26.0,
    )


def _periods() -> clv.PeriodTransactions:
    rng = np.random.default_rng(6)
    return clv.period_transactions(
        BG, frequency=rng.poisson(1.2, 500), T=rng.uniform(20, 52, 500), unit="week"
    )


def _history() -> clv.AliveHistory:
    return clv.p_alive_history(
        BG, purchases=[3.0, 5.0, 9.0, 20.0], at=np.linspace(3.0, 40.0, 120), unit="week"
    )


def _tiers() -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    rng = np.random.default_rng(8)
    ladder = np.array(["base", "silver", "gold"])
    return ladder[rng.integers(0, 3, 300)], ladder[rng.integers(0, 3, 300)]


LADDER = ["base", "silver", "gold"]


def _readout() -> campaigns.Windows:
    sim = simulate_campaign(800, start=date(2024, 6, 1), end=date(2024, 6, 15), seed=3)
    a = sim.assignment
    return campaigns.windows(sim.log, a.member, a.arm, start=sim.start, end=sim.end)


def _by_segment() -> campaigns.Breakdown:
    rng = np.random.default_rng(9)
    arm = rng.random(600) < 0.7
    segment = np.array(["bronze", "silver", "gold"])[rng.integers(0, 3, 600)]
    return campaigns.breakdown(rng.gamma(1.0, 10.0, 600) + 4.0 * arm, arm, segment)


#: Every public plot, drawn on representative data.
PLOTS: dict[str, Callable[..., Axes]] = {
    "frequency_recency": lambda **kw: plot.plot_frequency_recency_matrix(_grid(), **kw),
    "p_alive_matrix": lambda **kw: plot.plot_p_alive_matrix(_grid(), **kw),
    "calibration": lambda **kw: plot.plot_calibration_vs_holdout(_holdout(), **kw),
    "period": lambda **kw: plot.plot_period_transactions(_periods(), **kw),
    "cumulative": lambda **kw: plot.plot_cumulative_transactions(
        _track(), calibration_end=20, **kw
    ),
    "incremental": lambda **kw: plot.plot_incremental_transactions(_track(), **kw),
    "p_alive_history": lambda **kw: plot.plot_p_alive_history(_history(), **kw),
    "clv_log": lambda **kw: plot.plot_clv_distribution(
        np.random.default_rng(1).lognormal(3, 1.5, 1000), horizon=52, unit="week", **kw
    ),
    "clv_linear": lambda **kw: plot.plot_clv_distribution(
        np.random.default_rng(1).lognormal(3, 1.5, 1000),
        horizon=12,
        unit="month",
        scale="linear",
        cap=200.0,
        **kw,
    ),
    "cohorts": lambda **kw: plot.plot_cohort_retention(_cohorts(), **kw),
    "curves": lambda **kw: plot.plot_retention_curves(_cohorts(), **kw),
    "rfm": lambda **kw: plot.plot_rfm_grid(_scores(), **kw),
    "lifecycle": lambda **kw: plot.plot_lifecycle_flow(_transitions(), **kw),
    "tiers": lambda **kw: plot.plot_tier_distribution(
        metrics.tier_distribution(_tiers()[1], labels=LADDER), **kw
    ),
    "migration": lambda **kw: plot.plot_tier_migration(
        metrics.migration_matrix(*_tiers(), labels=LADDER), **kw
    ),
    "points": lambda **kw: plot.plot_points_flow(_flow(), **kw),
    "campaign_lift": lambda **kw: plot.plot_campaign_lift(_readout(), **kw),
    "campaign_curve": lambda **kw: plot.plot_campaign_curve(_readout(), **kw),
    "campaign_segments": lambda **kw: plot.plot_campaign_segments(_by_segment(), **kw),
}


def test_every_public_plot_is_exercised_here() -> None:
    assert len(PLOTS) - 1 == len(plot.__all__)  # the CLV histogram twice (log, linear)


@pytest.mark.parametrize("name", sorted(PLOTS))
def test_each_plot_renders_a_titled_labelled_image(name: str) -> None:
    assert_drawn(PLOTS[name]())


@pytest.mark.parametrize("name", sorted(PLOTS))
def test_each_plot_draws_on_the_axes_it_is_given_and_takes_a_title(name: str) -> None:
    figure = Figure(figsize=(12, 5))
    left, right = figure.subplots(1, 2)
    ax = PLOTS[name](ax=right, title="mine")
    assert ax is right
    assert right.get_title() == "mine"
    assert not left.has_data()
    assert not left.texts
    assert_drawn(ax)


@pytest.mark.parametrize("name", sorted(PLOTS))
def test_each_plot_refuses_an_axes_that_is_not_one(name: str) -> None:
    with pytest.raises(InvalidType, match="ax must be a matplotlib Axes"):
        PLOTS[name](ax="left")


@pytest.mark.parametrize("name", sorted(PLOTS))
def test_each_plot_refuses_a_title_that_is_not_text(name: str) -> None:
    with pytest.raises(InvalidType, match="title=3"):
        PLOTS[name](title=3)


# -- annotations equal the data ------------------------------------------------------------


def test_cohort_heatmap_cells_are_the_rates_and_plus_one_sets_the_colours() -> None:
    table = _cohorts()
    ax = plot.plot_cohort_retention(table, max_periods=None)
    rows = np.flatnonzero(table.size > 0)
    rates = table.rates[rows]
    expected = [x for x in rates.ravel() if np.isfinite(x)]
    shown = [t.get_text() for t in ax.texts]
    assert len(shown) == len(expected)
    assert all(_close(t, x) for t, x in zip(shown, expected, strict=True))
    image = ax.images[0]
    later = rates[:, 1:][np.isfinite(rates[:, 1:])]
    assert image.norm.vmax == pytest.approx(np.percentile(later, 98))
    assert image.norm.vmax < 1.0  # the +0 column (100 %) does not set the scale
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0] == f"{str(table.cohort[rows[0]])[:7]} ({table.size[rows[0]]:,})"


def test_cohort_heatmap_keeps_a_tiny_cohort_from_washing_out_the_rest() -> None:
    # 50 January customers, 10 of whom come back in February; one March
    # customer who comes back in April (a 100 % cohort of one).
    customer = [*range(50), *range(10), 99, 99]
    at = ["2024-01-05"] * 50 + ["2024-02-05"] * 10 + ["2024-03-07", "2024-04-02"]
    table = metrics.cohort_retention(
        customer, np.array(at, dtype="datetime64[D]"), tz="UTC", as_of=LATER
    )
    ax = plot.plot_cohort_retention(table)
    shown = [t.get_text() for t in ax.texts]
    assert shown == ["100%", "20%", "0%", "0%", "100%", "100%"]
    assert ax.images[0].norm.vmax < 1.0


def test_retention_curve_annotations_are_the_customer_weighted_average() -> None:
    table = _cohorts()
    ax = plot.plot_retention_curves(table, max_periods=6)
    rows = np.flatnonzero(table.size > 0)
    for k, text in enumerate(ax.texts, start=1):
        seen = np.isfinite(table.rates[rows, k])
        value = table.counts[rows, k][seen].sum() / table.size[rows][seen].sum()
        assert _close(text.get_text(), value)
    assert len(ax.texts) == 6


def test_retention_curves_leave_small_cohorts_out_of_the_thin_lines() -> None:
    table = _cohorts()
    sizes = table.size[table.size > 0]
    cut = int(np.median(sizes)) + 1
    ax = plot.plot_retention_curves(table, min_size=cut)
    assert len(ax.lines) == int(np.sum(sizes >= cut)) + 1


def test_rfm_grid_cells_count_the_customers_of_each_r_and_fm() -> None:
    scores = _scores()
    ax = plot.plot_rfm_grid(scores)
    cells = {}
    for text in ax.texts:
        name, figures = text.get_text().split("\n")
        x, y = text.get_position()
        cells[(5 - round(y), round(x) + 1)] = (name, int(figures.split(" ")[0].replace(",", "")))
    assert len(cells) == 25
    for (r, fm), (name, n) in cells.items():
        assert n == int(np.sum((scores.r == r) & (scores.fm == fm)))
        assert name == segments.RFM_GRID[r][fm - 1].replace("_", " ")
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    counts = segments.RFM_SEGMENTS.assign(scores).counts()
    assert legend[0] == f"champions ({counts['champions']:,})"


def test_rfm_grid_takes_a_count_matrix_too() -> None:
    counts = np.arange(25).reshape(5, 5)
    ax = plot.plot_rfm_grid(counts)
    lost = next(t for t in ax.texts if t.get_text().startswith("lost"))
    assert lost.get_text().split("\n")[1].startswith("0 (")
    champion = [t.get_text() for t in ax.texts if t.get_text().startswith("champions")]
    assert champion == ["champions\n23 (7.7%)", "champions\n24 (8.0%)"]


def test_lifecycle_flow_labels_each_block_with_the_matrix_totals() -> None:
    matrix = _transitions()
    ax = plot.plot_lifecycle_flow(matrix, before="Jan", after="Jul")
    left = [t for t in ax.texts if t.get_position()[0] < 0.5]
    right = [t for t in ax.texts if t.get_position()[0] > 0.5]
    out, into = matrix.counts.sum(axis=1), matrix.counts.sum(axis=0)
    assert [t.get_text() for t in left] == [
        f"{s.label.replace('_', ' ')}  {out[s]:,}" for s in lifecycle.Stage if out[s]
    ]
    assert [t.get_text() for t in right] == [
        f"{s.label.replace('_', ' ')}  {into[s]:,}" for s in lifecycle.Stage if into[s]
    ]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Jan", "Jul"]
    moved = int(matrix.counts.sum() - np.trace(matrix.counts))
    assert f"{moved:,} of {int(matrix.counts.sum()):,}" in ax.get_title()


def test_tier_plots_annotate_counts_and_shares() -> None:
    before, after = _tiers()
    dist = metrics.tier_distribution(after, labels=LADDER)
    ax = plot.plot_tier_distribution(dist)
    assert [t.get_text() for t in ax.texts] == [
        f"{c:,} ({round(100 * s)}%)" for c, s in zip(dist.counts, dist.shares, strict=True)
    ]
    matrix = metrics.migration_matrix(before, after, labels=LADDER)
    ax = plot.plot_tier_migration(matrix, before="2023", after="2024")
    for text, count, rate in zip(
        ax.texts, matrix.counts.ravel(), matrix.rates.ravel(), strict=True
    ):
        share, n = text.get_text().split("\n")
        assert int(n.replace(",", "")) == count
        assert _close(share, rate)
    assert ax.get_xlabel() == "tier at 2024"


def test_points_flow_bars_are_the_flows() -> None:
    flow = _flow()
    ax = plot.plot_points_flow(flow)
    for container, column in zip(ax.containers, ("issued", "redeemed", "expired"), strict=True):
        assert [int(b.get_height()) for b in container] == getattr(flow, column).tolist()
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[-1] == f"outstanding at the end: {int(flow.outstanding[-1]):,}"


def test_matrix_annotations_are_the_model_values() -> None:
    grid = _grid()
    ax = plot.plot_p_alive_matrix(grid)
    values = grid.matrix("p_alive")[::-1].ravel()
    assert [t.get_text() for t in ax.texts] == [f"{v:.2f}" for v in values]
    ax = plot.plot_frequency_recency_matrix(grid, annotate=False)
    assert len(ax.texts) == 0
    assert "next 13 weeks" in ax.get_title()
    assert "39 weeks ago" in ax.get_title()


def test_clv_plots_state_their_unit_and_horizon() -> None:
    assert plot.plot_calibration_vs_holdout(_holdout()).get_ylabel() == (
        "mean purchases in the 26-week holdout"
    )
    assert plot.plot_incremental_transactions(_track()).get_ylabel() == (
        "repeat transactions per week"
    )
    ax = plot.plot_clv_distribution([1.0, 2.0], horizon=1, unit="year", currency="EUR")
    assert ax.get_xlabel() == "predicted value over the next 1 year (EUR, log scale)"


def test_clv_histogram_counts_what_it_leaves_out_instead_of_piling_it_up() -> None:
    values = np.array([0.0, 0.0, 0.004, 5.0, 10.0, 20.0, 5000.0])
    ax = plot.plot_clv_distribution(values, horizon=52, unit="week", currency="USD")
    assert [t.get_text() for t in ax.texts] == ["3 customers below USD 0.01 not shown"]
    assert sum(p.get_height() for p in ax.patches) == 4
    ax = plot.plot_clv_distribution(
        values, horizon=52, unit="week", currency="USD", scale="linear", cap=100
    )
    assert [t.get_text() for t in ax.texts] == [
        "1 customer above USD 100.00 (up to USD 5,000.00) not shown"
    ]
    heights = [p.get_height() for p in ax.patches]
    assert sum(heights) == 6
    assert heights[-1] <= 1  # nothing piled into the last bar


# -- bad input ---------------------------------------------------------------------------------


BAD: list[tuple[Callable[[], object], type[LoyaltyError], str]] = [
    (lambda: plot.plot_cohort_retention(_grid()), InvalidType, "table must be"),
    (lambda: plot.plot_cohort_retention(_cohorts(), max_periods=-1), InvalidArgument, ">= 0"),
    (lambda: plot.plot_cohort_retention(_cohorts(), max_periods=True), InvalidType, "bool"),
    (lambda: plot.plot_retention_curves(_cohorts(), max_periods=0), EmptyData, "after \\+0"),
    (lambda: plot.plot_retention_curves(_cohorts(), min_size=0), InvalidArgument, "min_size"),
    (lambda: plot.plot_rfm_grid(np.ones((4, 4), dtype=int)), InvalidColumn, "5x5"),
    (lambda: plot.plot_rfm_grid(np.zeros((5, 5), dtype=int)), EmptyData, "no customer"),
    (lambda: plot.plot_rfm_grid(_scores(), segment_map="classic"), InvalidType, "segment_map"),
    (
        lambda: plot.plot_rfm_grid(segments.rfm_scores([1, 2, 3], [1, 2, 3], [1, 2, 3], bins=3)),
        InvalidArgument,
        "3 bins",
    ),
    (lambda: plot.plot_lifecycle_flow(_transitions(), before=1), InvalidType, "before=1"),
    (
        lambda: plot.plot_lifecycle_flow(lifecycle.TransitionMatrix(np.zeros((7, 7), int))),
        EmptyData,
        "no member",
    ),
    (lambda: plot.plot_tier_distribution(_cohorts()), InvalidType, "distribution must be"),
    (lambda: plot.plot_tier_migration(_cohorts()), InvalidType, "matrix must be"),
    (lambda: plot.plot_points_flow(_cohorts()), InvalidType, "flow must be"),
    (lambda: plot.plot_frequency_recency_matrix(_cohorts()), InvalidType, "grid must be"),
    (lambda: plot.plot_p_alive_history(_grid()), InvalidType, "history must be"),
    (lambda: plot.plot_calibration_vs_holdout(_grid()), InvalidType, "table must be"),
    (lambda: plot.plot_period_transactions(_grid()), InvalidType, "table must be"),
    (lambda: plot.plot_cumulative_transactions(_grid()), InvalidType, "track must be"),
    (
        lambda: plot.plot_cumulative_transactions(_track(), calibration_end=float("nan")),
        InvalidArgument,
        "calibration_end",
    ),
    (lambda: plot.plot_clv_distribution([], horizon=1, unit="week"), EmptyData, "empty"),
    (
        lambda: plot.plot_clv_distribution([1.0, np.nan], horizon=1, unit="week"),
        InvalidColumn,
        "values\\[1\\]",
    ),
    (
        lambda: plot.plot_clv_distribution([1.0], horizon=0, unit="week"),
        InvalidArgument,
        "horizon=0",
    ),
    (
        lambda: plot.plot_clv_distribution([1.0], horizon=1, unit="fortnight"),
        InvalidArgument,
        "unit='fortnight'",
    ),
    (
        lambda: plot.plot_clv_distribution([1.0], horizon=1, unit="week", scale="sqrt"),
        InvalidArgument,
        "scale='sqrt'",
    ),
    (
        lambda: plot.plot_clv_distribution([1.0], horizon=1, unit="week", cap=5.0),
        InvalidArgument,
        "cap applies",
    ),
    (
        lambda: plot.plot_clv_distribution(
            [10.0, 20.0], horizon=1, unit="week", scale="linear", cap=1.0
        ),
        InvalidArgument,
        "below every value",
    ),
    (
        lambda: plot.plot_clv_distribution([1.0], horizon=1, unit="week", bins=0),
        InvalidArgument,
        "bins=0",
    ),
    (
        lambda: plot.plot_clv_distribution([1.0], horizon=1, unit="week", currency=1),
        InvalidType,
        "currency=1",
    ),
]


@pytest.mark.parametrize(("call", "error", "message"), BAD)
def test_bad_input_raises_a_named_error(
    call: Callable[[], object], error: type[LoyaltyError], message: str
) -> None:
    with pytest.raises(error, match=message):
        call()


# -- properties --------------------------------------------------------------------------------


@given(
    st.lists(
        st.tuples(st.integers(0, 30), st.integers(0, 150)),
        min_size=1,
        max_size=60,
    )
)
def test_cohort_heatmap_annotates_every_observed_cell_with_its_rate(
    rows: list[tuple[int, int]],
) -> None:
    customer = [c for c, _ in rows]
    at = np.datetime64("2024-01-01") + np.array([d for _, d in rows]).astype("timedelta64[D]")
    table = metrics.cohort_retention(customer, at, tz="UTC", as_of=LATER)
    ax = plot.plot_cohort_retention(table, max_periods=None)
    rates = table.rates[table.size > 0]
    expected = rates[np.isfinite(rates)]
    shown = [t.get_text() for t in ax.texts]
    assert len(shown) == expected.size
    assert all(_close(t, x) for t, x in zip(shown, expected, strict=True))


@given(
    st.lists(
        st.tuples(st.integers(0, 6), st.integers(0, 6)),
        min_size=1,
        max_size=80,
    )
)
def test_lifecycle_flow_blocks_add_up_to_the_members(moves: list[tuple[int, int]]) -> None:
    matrix = lifecycle.transition_matrix([a for a, _ in moves], [b for _, b in moves])
    ax = plot.plot_lifecycle_flow(matrix)
    left = [t for t in ax.texts if t.get_position()[0] < 0.5]
    total = sum(int(t.get_text().rsplit(" ", 1)[1].replace(",", "")) for t in left)
    assert total == len(moves)
    assert len(ax.collections) == int(np.count_nonzero(matrix.counts))


# -- the module itself -------------------------------------------------------------------------


def test_drawing_without_matplotlib_names_the_extra_to_install() -> None:
    code = (
        "import sys\n"
        "sys.modules['matplotlib'] = None  # as if it were not installed\n"
        "from loyaltycore import plot\n"
        "from loyaltycore.errors import MissingDependency\n"
        "try:\n"
        "    plot.plot_clv_distribution([1.0], horizon=1, unit='week')\n"
        "except MissingDependency as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'loyaltycore[plot]'" in out.stdout


def test_plots_never_call_show_or_touch_rcparams_or_pyplot() -> None:
    names: set[str] = set()
    attributes: set[str] = set()
    for path in Path(plot.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                names.add(node.module or "")
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.Attribute):
                attributes.add(node.attr)
            elif isinstance(node, ast.Name):
                names.add(node.id)
    assert "matplotlib.pyplot" not in names
    assert "pyplot" not in names
    assert not attributes & {"show", "rcParams", "rc", "rc_context", "use"}
    assert not names & {"rcParams", "rc_context", "style"}


def test_tables_with_their_unit_and_horizon_still_pickle() -> None:
    for table in (_grid(), _track(), _holdout(), _periods(), _history(), _flow()):
        assert pickle.loads(pickle.dumps(table)) == table
