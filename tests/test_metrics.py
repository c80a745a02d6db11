"""Tests of the KPI calculators: definitions, references, bad input, row order."""

from __future__ import annotations

import pickle
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyaltycore import metrics
from loyaltycore.calendar import UTC, to_micros
from loyaltycore.errors import (
    EmptyData,
    InvalidArgument,
    InvalidColumn,
    InvalidType,
    LoyaltyError,
    NaiveDatetime,
)
from loyaltycore.metrics import (
    CohortTable,
    RedemptionCurve,
    active_rate,
    arpu,
    average_order_value,
    breakage_rate,
    churn_rate,
    cohort_retention,
    growth_rate,
    historic_clv,
    migration_matrix,
    nps,
    points_liability,
    purchase_frequency,
    redemption_rate,
    repurchase_rate,
    retention_rate,
    tier_distribution,
)
from loyaltycore.transactions import TransactionLog, summarize


def test_public_names_are_sorted_and_documented() -> None:
    assert metrics.__all__ == sorted(metrics.__all__)
    for name in metrics.__all__:
        obj = getattr(metrics, name)
        assert obj.__doc__ is not None
        assert ">>>" in obj.__doc__, name


def micros(day: date) -> int:
    return to_micros(datetime(day.year, day.month, day.day, 12, tzinfo=UTC))


# -- reference implementations in plain Python -------------------------------------


def month_of(day: date) -> int:
    return day.year * 12 + day.month - 1


def ref_retention(rows: list[tuple[int, date]]) -> dict[int, tuple[int, int]]:
    active: dict[int, set[int]] = defaultdict(set)
    for cust, day in rows:
        active[month_of(day)].add(cust)
    lo, hi = min(active), max(active)
    return {p: (len(active[p - 1] & active[p]), len(active[p - 1])) for p in range(lo + 1, hi + 1)}


def ref_cohorts(rows: list[tuple[int, date]]) -> dict[tuple[int, int], int]:
    first: dict[int, int] = {}
    for cust, day in rows:
        first[cust] = min(first.get(cust, 10**9), month_of(day))
    cells: dict[tuple[int, int], set[int]] = defaultdict(set)
    for cust, day in rows:
        cells[first[cust], month_of(day) - first[cust]].add(cust)
    return {key: len(value) for key, value in cells.items()}


START = date(2023, 11, 20)
#: After every transaction these tests make: the KPIs count them all.
LATER = datetime(2100, 1, 1, tzinfo=UTC)
tx_rows = st.lists(
    st.tuples(st.integers(0, 15), st.integers(0, 200).map(lambda d: START + timedelta(days=d))),
    min_size=1,
    max_size=80,
)


@given(tx_rows)
def test_retention_rate_matches_the_definition(rows: list[tuple[int, date]]) -> None:
    r = retention_rate(
        [c for c, _ in rows], [micros(d) for _, d in rows], period="month", as_of=LATER
    )
    expected = ref_retention(rows)
    assert [month_of(p) for p in r.period.tolist()] == sorted(expected)
    assert r.numerator.tolist() == [expected[p][0] for p in sorted(expected)]
    assert r.denominator.tolist() == [expected[p][1] for p in sorted(expected)]
    for num, den, rate in zip(r.numerator, r.denominator, r.rate, strict=True):
        assert (np.isnan(rate) and den == 0) or rate == num / den


@given(tx_rows)
def test_cohort_retention_matches_the_definition(rows: list[tuple[int, date]]) -> None:
    t = cohort_retention(
        [c for c, _ in rows], [micros(d) for _, d in rows], period="month", as_of=LATER
    )
    cells = ref_cohorts(rows)
    lo = month_of(min(d for _, d in rows))
    n = month_of(max(d for _, d in rows)) - lo + 1
    assert t.counts.shape == (n, n)
    for i in range(n):
        for k in range(n):
            assert t.counts[i, k] == cells.get((lo + i, k), 0)
            if i + k >= n or t.size[i] == 0:
                assert np.isnan(t.rates[i, k])
            else:
                assert t.rates[i, k] == t.counts[i, k] / t.size[i]
    assert int(t.size.sum()) == len({c for c, _ in rows})


@given(tx_rows, st.integers(1, 60))
def test_repurchase_rate_matches_the_definition(rows: list[tuple[int, date]], window: int) -> None:
    as_of = datetime(2024, 5, 1, tzinfo=UTC)
    days: dict[int, list[date]] = defaultdict(list)
    for cust, day in rows:
        days[cust].append(day)
    eligible = again = 0
    for values in days.values():
        ordered = sorted(set(values))
        if ordered[0] <= as_of.date() - timedelta(days=window):
            eligible += 1
            again += len(ordered) > 1 and (ordered[1] - ordered[0]).days <= window
    args = ([c for c, _ in rows], [micros(d) for _, d in rows])
    if eligible == 0:
        with pytest.raises(EmptyData):
            repurchase_rate(*args, within_days=window, as_of=as_of)
    else:
        assert repurchase_rate(*args, within_days=window, as_of=as_of) == again / eligible


def test_periods_are_local_calendar_periods() -> None:
    # 23:30 UTC on Sunday 31 March is Monday 1 April in Berlin.
    at = [to_micros(datetime(2024, 3, 31, 23, 30, tzinfo=UTC))]
    assert cohort_retention([1], at, period="month", as_of=LATER).cohort.tolist() == [
        date(2024, 3, 1)
    ]
    berlin = cohort_retention([1], at, period="month", tz="Europe/Berlin", as_of=LATER)
    assert berlin.cohort.tolist() == [date(2024, 4, 1)]
    assert cohort_retention([1], at, period="week", as_of=LATER).cohort.tolist() == [
        date(2024, 3, 25)
    ]
    assert cohort_retention(
        [1], at, period="week", tz="Europe/Berlin", as_of=LATER
    ).cohort.tolist() == [date(2024, 4, 1)]
    assert cohort_retention([1], at, period="quarter", as_of=LATER).cohort.tolist() == [
        date(2024, 1, 1)
    ]
    assert cohort_retention([1], at, period="year", as_of=LATER).cohort.tolist() == [
        date(2024, 1, 1)
    ]
    assert cohort_retention([1], at, period="day", as_of=LATER).cohort.tolist() == [
        date(2024, 3, 31)
    ]


def test_as_of_drops_later_rows() -> None:
    at = [micros(date(2024, 1, 5)), micros(date(2024, 2, 5))]
    r = cohort_retention([1, 1], at, as_of=datetime(2024, 1, 31, tzinfo=UTC))
    assert r.counts.tolist() == [[1]]


# -- simple KPIs ----------------------------------------------------------------------


def test_simple_kpis_by_hand() -> None:
    assert churn_rate(np.array([0.0, 30.0, 91.0]), threshold_days=30) == pytest.approx(1 / 3)
    assert active_rate([0, 30, 91], within_days=30) == pytest.approx(2 / 3)
    assert purchase_frequency(np.array([5, 5, 6])) == 1.5
    assert average_order_value([10.0, 20.0]) == 15.0
    assert arpu([], users=3) == 0.0
    assert arpu(np.array([1000, 500]), users=3, exponent=2) == 5.0
    assert growth_rate(0, 5) != growth_rate(0, 5)  # NaN: growth from zero is undefined
    np.testing.assert_allclose(growth_rate([100, 200], [110, 100]), [0.1, -0.5])
    assert growth_rate(100, -21, periods=2) != growth_rate(100, -21, periods=2)  # NaN
    assert growth_rate(100, -21) == -1.21
    assert nps([6, 7, 8]) == -100 / 3
    assert redemption_rate(50, 200) == 0.25
    assert breakage_rate(np.array([10]), np.array([40])) == 0.25


def test_historic_clv_is_exact_and_ordered() -> None:
    v = historic_clv([3, 1, 3, 3], np.array([0.1, 5.0, 0.2, -0.05]), margin=1.0)
    assert v.customer_id.tolist() == [1, 3]
    assert v.value.tolist() == [5.0, pytest.approx(0.25)]
    assert historic_clv([1], [1999], exponent=2).value.tolist() == [19.99]


def test_points_liability_is_decimal() -> None:
    assert points_liability(1000, Decimal("0.01"), 0.25) == Decimal("7.50")
    assert points_liability(0, "0.01", 0.0) == 0
    assert points_liability(10, 1, 1.0) == 0


def test_redemption_curve() -> None:
    curve = RedemptionCurve.fit(np.array([1000, 1000]), [[500, 800], [600, np.nan]])
    # f = 800/500 = 1.6; first-age share = 1100/2000
    np.testing.assert_allclose(curve.cumulative, [0.55, 0.88])
    assert curve.breakage_rate() == pytest.approx(0.12)
    assert curve.breakage_rate(age=0) == pytest.approx(1 - (0.88 - 0.55) / 0.45)
    assert curve.breakage_rate(age=9) == pytest.approx(1.0)
    assert breakage_rate(model=curve, age=0) == curve.breakage_rate(age=0)
    capped = RedemptionCurve.fit([10], [[10, 10]])
    assert capped.breakage_rate(age=0) == 0.0
    assert pickle.loads(pickle.dumps(curve)) == curve


def test_distributions_and_migration() -> None:
    d = tier_distribution(np.array([2, 1, 2, 2]))
    assert d.labels.tolist() == [1, 2]
    assert d.shares.tolist() == [0.25, 0.75]
    m = migration_matrix(["x", "y", "y"], ["y", "y", "z"])
    assert m.labels.tolist() == ["x", "y", "z"]
    assert m.counts.tolist() == [[0, 1, 0], [0, 1, 1], [0, 0, 0]]
    assert np.isnan(m.rates[2]).all()
    mixed = migration_matrix(np.array([1, 2]), np.array(["a", "b"], dtype=object))
    assert mixed.counts.sum() == 2


def test_results_pickle_and_are_frozen() -> None:
    t = cohort_retention([1, 2, 1], [0, 10**11, 3 * 10**12], as_of=LATER)
    assert isinstance(t, CohortTable)
    values = [
        t,
        retention_rate([1, 2, 1], [0, 10**11, 3 * 10**12], period="day", as_of=LATER),
        historic_clv([1], [1.0]),
        tier_distribution(["a"]),
        migration_matrix(["a"], ["b"]),
    ]
    for value in values:
        assert pickle.loads(pickle.dumps(value)) == value
    with pytest.raises(ValueError, match="read-only"):
        t.counts[0, 0] = 5


# -- bad input ---------------------------------------------------------------------

AT = [0, 86_400_000_000]
BAD: list[tuple[str, Callable[[], Any], type[LoyaltyError], str]] = [
    (
        "unknown period",
        lambda: retention_rate([1, 2], AT, period="fortnight", as_of=LATER),
        InvalidArgument,
        "period='fortnight'",
    ),
    ("empty log", lambda: cohort_retention([], [], as_of=LATER), EmptyData, "no transactions"),
    (
        "nothing before as_of",
        lambda: cohort_retention([1, 2], AT, as_of=datetime(1960, 1, 1, tzinfo=UTC)),
        EmptyData,
        "no transactions",
    ),
    (
        "naive as_of",
        lambda: cohort_retention([1, 2], AT, as_of=datetime(2024, 1, 1)),
        NaiveDatetime,
        "as_of",
    ),
    (
        "NaT",
        lambda: cohort_retention(
            [1, 2], np.array(["2024-01-01", "NaT"], "datetime64[D]"), as_of=LATER
        ),
        InvalidColumn,
        r"at\[1\] is NaT",
    ),
    (
        "None id",
        lambda: retention_rate([1, None], AT, as_of=LATER),
        InvalidColumn,
        r"customer\[1\]",
    ),
    (
        "short at",
        lambda: retention_rate([1, 2, 3], AT, as_of=LATER),
        InvalidColumn,
        "at has 2 rows",
    ),
    (
        "bad window",
        lambda: repurchase_rate([1, 2], AT, within_days=0, as_of=datetime(2024, 1, 1, tzinfo=UTC)),
        InvalidArgument,
        "within_days=0",
    ),
    (
        "no as_of",
        lambda: repurchase_rate([1, 2], AT, within_days=3, as_of=None),
        InvalidArgument,
        "as_of",
    ),
    (
        "NaN days",
        lambda: churn_rate([1.0, np.nan], threshold_days=30),
        InvalidColumn,
        r"days_since_last\[1\]=nan",
    ),
    (
        "inf threshold",
        lambda: churn_rate([1.0], threshold_days=float("inf")),
        InvalidArgument,
        "threshold_days",
    ),
    ("empty churn", lambda: churn_rate([], threshold_days=3), EmptyData, "empty"),
    ("text days", lambda: active_rate(["3"], within_days=3), InvalidType, "numeric"),
    (
        "members below buyers",
        lambda: active_rate([1, 2], within_days=3, members=1),
        InvalidArgument,
        "members=1",
    ),
    ("inf amount", lambda: average_order_value([1.0, np.inf]), InvalidColumn, r"amount\[1\]"),
    ("zero users", lambda: arpu([1.0], users=0), InvalidArgument, "users=0"),
    ("bad exponent", lambda: average_order_value([1], exponent=-1), InvalidArgument, "exponent"),
    ("growth shapes", lambda: growth_rate([1, 2], [1]), InvalidColumn, "previous has 2"),
    ("growth periods", lambda: growth_rate(1, 2, periods=0), InvalidArgument, "periods=0"),
    ("nps 11", lambda: nps([10, 11]), InvalidColumn, r"scores\[1\]=11.0"),
    ("nps 7.5", lambda: nps([7.5]), InvalidColumn, r"scores\[0\]"),
    ("nps empty", lambda: nps([]), EmptyData, "scores"),
    ("float points", lambda: redemption_rate([1.5], [3]), InvalidType, "int points"),
    ("negative points", lambda: breakage_rate([-1], [3]), InvalidColumn, r"expired\[0\]"),
    ("nothing issued", lambda: breakage_rate([0], [0]), EmptyData, "breakage_rate"),
    ("float cost", lambda: points_liability(10, 0.01, 0.1), InvalidType, "cost_per_point"),  # type: ignore[arg-type]
    ("breakage > 1", lambda: points_liability(10, "1", 1.5), InvalidArgument, "[0, 1]"),
    (
        "negative outstanding",
        lambda: points_liability(-1, "1", 0.1),
        InvalidArgument,
        "outstanding",
    ),
    (
        "breakage both",
        lambda: breakage_rate([1], [2], model=RedemptionCurve.fit([1], [[1]])),
        InvalidArgument,
        "not both",
    ),
    ("breakage neither", lambda: breakage_rate([1]), InvalidArgument, "needs expired"),
    ("breakage age", lambda: breakage_rate([1], [2], age=1), InvalidArgument, "age"),
    ("breakage model type", lambda: breakage_rate(model="urr"), InvalidType, "RedemptionCurve"),
    ("curve rows", lambda: RedemptionCurve.fit([10, 10], [[1, 2]]), InvalidColumn, "2 rows"),
    ("curve gap", lambda: RedemptionCurve.fit([10], [[np.nan, 2]]), InvalidColumn, "gap"),
    ("curve over issued", lambda: RedemptionCurve.fit([10], [[5, 11]]), InvalidColumn, "exceeds"),
    ("curve issued", lambda: RedemptionCurve.fit([0], [[0]]), InvalidColumn, "issued"),
    (
        "label not in ladder",
        lambda: tier_distribution(["gold"], labels=["base"]),
        InvalidColumn,
        "'gold'",
    ),
    (
        "repeated ladder",
        lambda: tier_distribution(["a"], labels=["a", "a"]),
        InvalidArgument,
        "repeat",
    ),
    ("empty tiers", lambda: tier_distribution([]), EmptyData, "tiers"),
    (
        "migration lengths",
        lambda: migration_matrix(["a"], ["a", "b"]),
        InvalidColumn,
        "after has 2 rows",
    ),
    ("migration empty", lambda: migration_matrix([], []), EmptyData, "before"),
    ("clv lengths", lambda: historic_clv([1, 2], [1.0]), InvalidColumn, "amount has 1 rows"),
]


@pytest.mark.parametrize(("case", "call", "error", "pattern"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_refused(
    case: str, call: Callable[[], Any], error: type[LoyaltyError], pattern: str
) -> None:
    with pytest.raises(error, match=pattern) as info:
        call()
    assert pickle.loads(pickle.dumps(info.value)).args == info.value.args


# -- every metric is invariant to row order -----------------------------------------

big_rows = st.lists(
    st.tuples(
        st.integers(0, 20),
        st.integers(0, 400 * 24),
        st.floats(-100, 1000, allow_nan=False).map(lambda x: round(x, 2)),
        st.integers(0, 10),
        st.sampled_from(["base", "silver", "gold"]),
        st.sampled_from(["base", "silver", "gold"]),
    ),
    min_size=2,
    max_size=60,
)


def all_metrics(rows: list[tuple[int, int, float, int, str, str]]) -> list[Any]:
    cust = np.array([r[0] for r in rows])
    at = np.array(
        [to_micros(datetime(2023, 1, 1, tzinfo=UTC)) + r[1] * 3_600_000_000 for r in rows]
    )
    amount = np.array([r[2] for r in rows])
    as_of = datetime(2023, 12, 1, tzinfo=UTC)
    days = (to_micros(as_of) - at) / 86_400_000_000
    points = np.array([abs(int(r[2])) for r in rows])
    out: list[Any] = []
    for period in ("week", "month", "quarter"):
        out.append(retention_rate(cust, at, period=period, tz="America/Chicago", as_of=LATER))  # type: ignore[arg-type]
        out.append(cohort_retention(cust, at, period=period, as_of=LATER))  # type: ignore[arg-type]
    try:
        out.append(repurchase_rate(cust, at, within_days=30, as_of=as_of))
    except EmptyData:
        out.append("empty")
    out += [
        churn_rate(days, threshold_days=90),
        active_rate(days, within_days=90, members=len(rows) + 3),
        purchase_frequency(cust),
        average_order_value(amount),
        arpu(amount, users=25),
        nps([r[3] for r in rows]),
        historic_clv(cust, amount, margin=0.3),
        redemption_rate(points, points + 1),
        breakage_rate(points // 2, points + 1),
        tier_distribution([r[4] for r in rows], labels=["base", "silver", "gold"]),
        migration_matrix([r[4] for r in rows], [r[5] for r in rows]),
        summarize(TransactionLog.from_arrays(cust, at, np.abs(amount)), as_of=as_of),
    ]
    return out


@given(big_rows, st.randoms(use_true_random=False))
def test_every_metric_is_invariant_to_row_order(rows: list[Any], rnd: Any) -> None:
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    for a, b in zip(all_metrics(rows), all_metrics(shuffled), strict=True):
        assert a == b, (a, b)


@given(
    st.lists(st.tuples(st.floats(1, 1e6), st.floats(0, 1e6)), min_size=1, max_size=20),
    st.randoms(use_true_random=False),
)
def test_growth_rate_is_elementwise(pairs: list[tuple[float, float]], rnd: Any) -> None:
    index = list(range(len(pairs)))
    rnd.shuffle(index)
    before = np.array([p[0] for p in pairs])
    after = np.array([p[1] for p in pairs])
    whole = growth_rate(before, after, periods=3)
    np.testing.assert_array_equal(
        growth_rate(before[index], after[index], periods=3), whole[index]
    )


# -- the CDNOW walkthrough figures ----------------------------------------------------


def test_cdnow_kpis(data_dir: Path) -> None:
    log = TransactionLog.from_csv(
        data_dir / "CDNOW_sample.txt",
        customer=1,
        at=2,
        amount=4,
        header=False,
        delimiter=None,
        at_format="%Y%m%d",
        tz="UTC",
    )
    as_of = datetime(1997, 9, 30, tzinfo=UTC)
    table = cohort_retention(log.customer, log.at, period="month", as_of=as_of)
    # The sample holds customers acquired in the first quarter of 1997.
    assert table.cohort.tolist()[:3] == [date(1997, 1, 1), date(1997, 2, 1), date(1997, 3, 1)]
    assert int(table.size.sum()) == 2357
    assert table.size[3:].sum() == 0
    s = summarize(log, as_of=as_of, unit="week")
    assert purchase_frequency(log.customer[log.at <= to_micros(as_of)]) == pytest.approx(
        s.count.sum() / len(s)
    )
    assert 0 < churn_rate(s.days_since_last, threshold_days=90) < 1


def test_importing_loads_no_frame_library_or_extra() -> None:
    code = (
        "import sys, loyaltycore.transactions, loyaltycore.metrics; "
        "print(sorted(m for m in ('pandas', 'polars', 'narwhals', 'scipy', 'hypothesis') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
