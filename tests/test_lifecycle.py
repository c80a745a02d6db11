"""Lifecycle stages: both engines agree, journeys, transitions, rates, plain data."""

from __future__ import annotations

import importlib
import itertools
import json
import math
import pickle
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyaltycore import lifecycle, serialize
from loyaltycore.calendar import DAY_US
from loyaltycore.errors import (
    DuplicateId,
    InvalidArgument,
    InvalidColumn,
    InvalidData,
    InvalidRule,
    InvalidTime,
    InvalidType,
    LoyaltyError,
    NaiveDatetime,
)
from loyaltycore.lifecycle import (
    ALLOWED_TRANSITIONS,
    MISSING,
    AbsoluteDays,
    CycleMultiple,
    LifecyclePolicy,
    ProbabilityAlive,
    SnapshotRates,
    Stage,
    StageChange,
    align_snapshot,
    journey,
    period_rates,
    population_cycle,
    stage,
    stages,
    to_mermaid,
    transition_matrix,
)

GOLDEN = Path(__file__).parent / "golden" / "lifecycle_v1.json"
EPOCH_DAY = date(1970, 1, 1)


def at_day(day: int, hour: int = 12) -> datetime:
    return datetime(1970, 1, 1, hour, tzinfo=UTC) + timedelta(days=day)


def history(days: list[int], hour: int = 12) -> dict[str, Any]:
    """The Facts fields of a member who bought on ``days`` (distinct, sorted)."""
    if not days:
        return {
            "first": MISSING,
            "previous": MISSING,
            "last": MISSING,
            "frequency": 0,
            "median_gap": math.nan,
            "median_gap_before_last": math.nan,
        }
    micros = [d * DAY_US + hour * 3_600_000_000 for d in days]
    gaps = np.diff(days)
    return {
        "first": micros[0],
        "previous": micros[-2] if len(days) > 1 else MISSING,
        "last": micros[-1],
        "frequency": len(days) - 1,
        "median_gap": float(np.median(gaps)) if gaps.size else math.nan,
        "median_gap_before_last": float(np.median(gaps[:-1])) if gaps.size > 1 else math.nan,
    }


def as_columns(rows: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    return {name: np.array([r[name] for r in rows]) for name in rows[0]}


purchase_days = st.lists(st.integers(0, 900), max_size=8, unique=True).map(sorted)

absolute = st.builds(
    lambda a, b, c, n: LifecyclePolicy(AbsoluteDays(a, a + b, a + b + c), new_days=min(n, a)),
    st.integers(1, 120),
    st.integers(1, 200),
    st.integers(1, 400),
    st.integers(1, 90),
)
cycle = st.builds(
    lambda pop, a, b, c, n: LifecyclePolicy(CycleMultiple(pop, a, a + b, a + b + c), new_days=n),
    st.floats(1, 120),
    st.floats(0.5, 4),
    st.floats(0.01, 4),
    st.floats(0.01, 8),
    st.integers(1, 90),
)
alive = st.builds(
    lambda c, b, a, n: LifecyclePolicy(ProbabilityAlive(c + b + a, c + b, c), new_days=n),
    st.floats(0.01, 0.3),
    st.floats(0.01, 0.3),
    st.floats(0.01, 0.3),
    st.integers(1, 90),
)


def model() -> Any:
    from loyaltycore.clv import BetaGeo

    return BetaGeo(r=0.243, alpha=4.414, a=0.793, b=2.426, unit="week")


# -- the two engines agree ---------------------------------------------------------


ZONES = st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Pacific/Kiritimati"])


@given(
    st.lists(purchase_days, min_size=1, max_size=12),
    st.integers(1, 400),
    absolute | cycle,
    ZONES,
    st.integers(0, 23),
)
def test_scalar_and_vectorized_engines_agree(
    members: list[list[int]], after: int, policy: LifecyclePolicy, tz: str, hour: int
) -> None:
    rows = [history(days, hour=hour) for days in members]
    as_of = at_day(max([d[-1] for d in members if d], default=0) + after, hour=18)
    codes = stages(as_columns(rows), policy, as_of=as_of, tz=tz)
    assert codes.dtype == np.int8
    assert codes.tolist() == [int(stage(r, policy, as_of=as_of, tz=tz)) for r in rows]


@given(
    st.lists(st.tuples(purchase_days, st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=8),
    st.integers(0, 400),
    alive,
)
def test_engines_agree_on_p_alive_columns(
    members: list[tuple[list[int], float, float]], after: int, policy: LifecyclePolicy
) -> None:
    rows = [{**history(days), "p_alive": p, "p_alive_before_last": q} for days, p, q in members]
    as_of = at_day(max([m[0][-1] for m in members if m[0]], default=0) + after)
    codes = stages(as_columns(rows), policy, as_of=as_of)
    assert codes.tolist() == [int(stage(r, policy, as_of=as_of)) for r in rows]


@given(st.lists(purchase_days, min_size=1, max_size=6), st.integers(0, 400), alive)
def test_engines_agree_with_a_fitted_model(
    members: list[list[int]], after: int, policy: LifecyclePolicy
) -> None:
    fitted = model()
    rows = [history(days) for days in members]
    as_of = at_day(max([d[-1] for d in members if d], default=0) + after)
    codes = stages(as_columns(rows), policy, as_of=as_of, model=fitted)
    expected = [int(stage(r, policy, as_of=as_of, model=fitted)) for r in rows]
    assert codes.tolist() == expected


@given(st.lists(purchase_days, min_size=2, max_size=10), st.randoms(use_true_random=False))
def test_stages_do_not_depend_on_row_order(members: list[list[int]], rnd: Any) -> None:
    rows = [history(days) for days in members]
    as_of = at_day(1000)
    codes = stages(as_columns(rows), as_of=as_of)
    order = list(range(len(rows)))
    rnd.shuffle(order)
    shuffled = stages(as_columns([rows[i] for i in order]), as_of=as_of)
    assert shuffled.tolist() == [codes[i] for i in order]


# -- journeys ------------------------------------------------------------------------


def _stage_on(changes: tuple[StageChange, ...], day: date) -> Stage:
    current = changes[0].stage
    for change in changes:
        if change.on > day:
            break
        current = change.stage
    return current


@given(purchase_days.filter(bool), st.integers(0, 500), absolute | cycle, st.data())
def test_journey_matches_stage_on_every_day_and_follows_the_table(
    days: list[int], after: int, policy: LifecyclePolicy, data: st.DataObject
) -> None:
    until = days[-1] + after
    changes = journey([at_day(d) for d in days], policy, until=at_day(until))
    assert changes[0].on == EPOCH_DAY + timedelta(days=days[0])
    assert changes[0].stage == Stage.NEW
    for a, b in itertools.pairwise(changes):
        assert a.on < b.on
        assert b.stage in ALLOWED_TRANSITIONS[a.stage], (a, b)
        assert (b.cause == "purchase") == ((b.on - EPOCH_DAY).days in days)
    for day in data.draw(st.lists(st.integers(days[0], until), max_size=5)):
        known = [d for d in days if d <= day]
        expected = stage(history(known), policy, as_of=at_day(day, hour=23))
        assert _stage_on(changes, EPOCH_DAY + timedelta(days=day)) == expected


@given(purchase_days.filter(bool), st.integers(0, 300), alive)
def test_p_alive_journey_matches_stage(
    days: list[int], after: int, policy: LifecyclePolicy
) -> None:
    fitted = model()
    until = days[-1] + after
    changes = journey([at_day(d) for d in days], policy, until=at_day(until), model=fitted)
    last = stage(history(days), policy, as_of=at_day(until), model=fitted)
    assert changes[-1].stage == last


def test_journey_changes_on_threshold_dates() -> None:
    policy = LifecyclePolicy(AbsoluteDays(at_risk=30, dormant=60, churned=90), new_days=10)
    changes = journey(
        [at_day(100)], policy, until=at_day(300), joined=at_day(95), tz="Europe/Berlin"
    )
    got = [((c.on - EPOCH_DAY).days, c.stage.label, c.cause) for c in changes]
    assert got == [
        (95, "prospect", "joined"),
        (100, "new", "purchase"),
        (110, "active", "time"),
        (130, "at_risk", "time"),
        (160, "dormant", "time"),
        (190, "churned", "time"),
    ]


def test_reactivated_lasts_new_days_after_the_returning_purchase() -> None:
    policy = LifecyclePolicy(AbsoluteDays(at_risk=30, dormant=60, churned=90), new_days=10)
    changes = journey([at_day(0), at_day(200)], policy, until=at_day(215))
    tail = [((c.on - EPOCH_DAY).days, c.stage.label) for c in changes][-2:]
    assert tail == [(200, "reactivated"), (210, "active")]


def test_reactivation_needs_the_member_dormant_the_day_before() -> None:
    policy = LifecyclePolicy(AbsoluteDays(at_risk=30, dormant=60, churned=90), new_days=10)
    as_of = at_day(125)
    on_threshold = stage(history([0, 60, 120]), policy, as_of=as_of)  # gap 60: at risk on day 59
    after_threshold = stage(history([0, 59, 120]), policy, as_of=as_of)  # gap 61: dormant on 60
    assert (on_threshold, after_threshold) == (Stage.ACTIVE, Stage.REACTIVATED)


def test_cycle_policy_uses_the_population_cycle_below_three_purchases() -> None:
    policy = LifecyclePolicy(CycleMultiple(population_cycle=10.0), new_days=5)
    as_of = at_day(120)
    two = history([0, 100])  # cycle 10: at risk from day 20, dormant from 40
    three = history([0, 2, 100])  # median gap 50: at risk from 100 days
    assert stage(two, policy, as_of=as_of) == Stage.AT_RISK
    assert stage(three, policy, as_of=as_of) == Stage.ACTIVE


def test_cycle_reactivation_uses_median_before_last_when_given() -> None:
    policy = LifecyclePolicy(CycleMultiple(population_cycle=100.0), new_days=5)
    member = history([0, 10, 20, 30, 200])  # gaps 10, 10, 10, 170
    as_of = at_day(201)
    assert stage(member, policy, as_of=as_of) == Stage.REACTIVATED
    approx = {k: v for k, v in member.items() if k != "median_gap_before_last"}
    assert stage(approx, policy, as_of=as_of) == Stage.REACTIVATED  # median 10 as well
    skewed = history([0, 10, 20, 190, 200])  # before last: 10, 10, 170 -> 10; all -> 10
    assert stage(skewed, policy, as_of=at_day(201)) == Stage.ACTIVE


def test_journey_tracks_the_summary_of_the_same_purchases() -> None:
    from loyaltycore.transactions import TransactionLog, summarize

    buys = ["2024-01-03T10:00", "2024-01-03T18:00", "2024-02-01T09:00", "2024-09-20T23:30"]
    log = TransactionLog.from_arrays(["m"] * 4, buys, [10, 20, 30, 40], tz="Europe/Berlin")
    berlin = ZoneInfo("Europe/Berlin")
    for day in (date(2024, 1, 20), date(2024, 4, 1), date(2024, 9, 25), date(2025, 3, 1)):
        until = datetime(day.year, day.month, day.day, tzinfo=berlin)
        summary = summarize(log, as_of=until, tz="Europe/Berlin")
        at = summary.as_of
        aware = [datetime.fromisoformat(b).replace(tzinfo=berlin) for b in buys]
        aware = [p for p in aware if p <= at]
        changes = journey(aware, until=at, tz="Europe/Berlin")
        assert stages(summary, as_of=summary.as_of).tolist() == [int(changes[-1].stage)]
        assert stage(summary.facts(0), as_of=at, tz="Europe/Berlin") == changes[-1].stage


@settings(max_examples=50)
@given(
    st.lists(st.integers(0, 600 * 24), min_size=1, max_size=10),
    st.integers(0, 400),
    absolute,
    st.sampled_from(["UTC", "Europe/Berlin", "America/New_York"]),
)
def test_journey_ends_where_stages_of_the_summary_are(
    hours: list[int], after: int, policy: LifecyclePolicy, tz: str
) -> None:
    from loyaltycore.transactions import TransactionLog, summarize

    start = datetime(2023, 3, 1, tzinfo=UTC)
    buys = [start + timedelta(hours=h) for h in hours]
    until = max(buys) + timedelta(days=after)
    log = TransactionLog.from_arrays(["m"] * len(buys), buys, [10] * len(buys))
    summary = summarize(log, as_of=until, tz=tz, unit="day")
    changes = journey(buys, policy, until=until, tz=tz)
    assert stages(summary, policy, as_of=summary.as_of).tolist() == [int(changes[-1].stage)]
    assert stage(summary.facts(0), policy, as_of=until, tz=tz) == changes[-1].stage


# -- summaries -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cdnow(data_dir: Path) -> Any:
    from loyaltycore.transactions import TransactionLog

    return TransactionLog.from_csv(
        data_dir / "CDNOW_master.txt",
        customer=0,
        at=1,
        amount=3,
        delimiter=None,
        at_format="%Y%m%d",
        tz="UTC",
    )


def test_cdnow_stages_figures(cdnow: Any) -> None:
    from loyaltycore.transactions import summarize

    summary = summarize(cdnow, as_of=datetime(1998, 7, 1, tzinfo=UTC), unit="day")
    counts = np.bincount(stages(summary, as_of=summary.as_of), minlength=len(Stage)).tolist()
    assert dict(zip([s.label for s in Stage], counts, strict=True)) == {
        "prospect": 0,
        "new": 0,
        "active": 1983,
        "at_risk": 1758,
        "dormant": 4085,
        "churned": 15258,
        "reactivated": 486,
    }
    assert population_cycle(summary) == 56.0
    sample = range(0, len(summary), 997)
    vector = stages(summary, as_of=summary.as_of)
    for i in sample:
        assert int(stage(summary.facts(i), as_of=summary.as_of)) == vector[i]


def test_summary_in_another_zone_counts_local_days() -> None:
    from loyaltycore.transactions import TransactionLog, summarize

    # 23:30 UTC on Jan 31 is Feb 1 in Berlin: 59 days before as_of there, 60 in UTC.
    log = TransactionLog.from_arrays([1], ["2024-01-31T23:30+00:00"], [5])
    as_of = datetime(2024, 3, 31, 12, tzinfo=UTC)
    policy = LifecyclePolicy(AbsoluteDays(at_risk=60, dormant=90, churned=120))
    berlin = summarize(log, as_of=as_of, tz="Europe/Berlin", unit="day")
    utc = summarize(log, as_of=as_of, tz="UTC", unit="day")
    assert stages(berlin, policy, as_of=berlin.as_of).tolist() == [Stage.ACTIVE]
    assert stages(utc, policy, as_of=utc.as_of).tolist() == [Stage.AT_RISK]
    with pytest.raises(InvalidArgument, match="differs from the zone"):
        stages(berlin, policy, tz="UTC", as_of=berlin.as_of)


def test_data_frames_are_read_by_column() -> None:
    pandas = importlib.import_module("pandas")
    polars = importlib.import_module("polars")
    rows = [history([0, 200]), history([]), history([5])]
    columns = as_columns(rows)
    as_of = at_day(210)
    expected = stages(columns, as_of=as_of).tolist()
    assert expected == [Stage.REACTIVATED, Stage.PROSPECT, Stage.DORMANT]
    assert stages(pandas.DataFrame(columns), as_of=as_of).tolist() == expected
    assert stages(polars.DataFrame(columns), as_of=as_of).tolist() == expected


# -- transitions and rates ---------------------------------------------------------


def test_transition_matrix_counts_skips_and_rates() -> None:
    before = [Stage.ACTIVE, Stage.ACTIVE, Stage.ACTIVE, Stage.DORMANT, Stage.PROSPECT]
    after = ["churned", "active", "at_risk", "active", "prospect"]
    m = transition_matrix(before, after)
    assert m.counts.sum() == 5
    assert m.count(Stage.ACTIVE, Stage.CHURNED) == 1
    assert m.rate("active", "at_risk") == pytest.approx(1 / 3)
    assert math.isnan(m.rate("new", "active"))
    assert m.outside_table() == 1  # dormant -> active skips reactivated
    assert not m.counts.flags.writeable
    assert m == transition_matrix(np.array(before), np.array([5, 2, 3, 2, 0]))


@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), max_size=50))
def test_transition_counts_add_up(pairs: list[tuple[int, int]]) -> None:
    before = np.array([p[0] for p in pairs], dtype=np.int64)
    after = np.array([p[1] for p in pairs], dtype=np.int64)
    m = transition_matrix(before, after)
    assert m.counts.sum() == len(pairs)
    assert m.counts.sum(axis=1).tolist() == np.bincount(before, minlength=7).tolist()
    rates = m.rates[m.counts.sum(axis=1) > 0]
    assert np.allclose(rates.sum(axis=1), 1.0)


def test_period_rates_churn_and_reactivation() -> None:
    snapshots = {
        "2024-01": [Stage.ACTIVE, Stage.AT_RISK, Stage.DORMANT, Stage.CHURNED, Stage.PROSPECT],
        "2024-02": [Stage.ACTIVE, Stage.CHURNED, Stage.REACTIVATED, Stage.CHURNED, Stage.NEW],
        "2024-03": [Stage.CHURNED, Stage.CHURNED, Stage.ACTIVE, Stage.DORMANT, Stage.ACTIVE],
    }
    jan, feb = period_rates(snapshots)
    assert (jan.start, jan.end, jan.live, jan.churned) == ("2024-01", "2024-02", 3, 1)
    assert (jan.lapsed, jan.returned, jan.reactivation_rate) == (2, 1, 0.5)
    assert feb.churn_rate == pytest.approx(1 / 3)
    assert math.isnan(SnapshotRates("a", "b", 0, 0, 0, 0).churn_rate)


@given(
    st.dictionaries(st.text(max_size=3), st.integers(0, 6), max_size=20),
    st.lists(st.text(max_size=3), max_size=30),
)
def test_align_snapshot_looks_members_up_by_id(
    snapshot: dict[str, int], universe: list[str]
) -> None:
    ids = list(snapshot)
    codes = [snapshot[i] for i in ids]
    got = align_snapshot(np.array(codes, dtype=np.int64), np.array(ids, dtype=object), universe)
    assert got.tolist() == [snapshot.get(member, Stage.PROSPECT) for member in universe]


def test_period_rates_over_customers_who_arrive_later() -> None:
    from loyaltycore.transactions import TransactionLog, summarize

    log = TransactionLog.from_arrays(
        [3, 1, 1, 2],
        ["2024-01-05", "2024-01-10", "2024-07-20", "2024-06-01"],
        [10, 10, 10, 10],
        tz="UTC",
    )
    policy = LifecyclePolicy(AbsoluteDays(at_risk=30, dormant=60, churned=120), new_days=10)
    universe = np.array([1, 2, 3])
    snapshots = {}
    for month in (3, 6, 9):
        summary = summarize(log, as_of=datetime(2024, month, 30, tzinfo=UTC))
        codes = stages(summary, policy, as_of=summary.as_of)
        snapshots[month] = align_snapshot(codes, summary.customer_id, universe)
    assert [Stage(c).label for c in snapshots[3]] == ["dormant", "prospect", "dormant"]
    assert [Stage(c).label for c in snapshots[6]] == ["churned", "active", "churned"]
    assert [Stage(c).label for c in snapshots[9]] == ["dormant", "churned", "churned"]
    spring, summer = period_rates(snapshots)
    assert (spring.live, spring.churned, spring.lapsed, spring.returned) == (2, 2, 2, 0)
    # customer 1 came back in July and is dormant again: churned -> dormant is a return
    assert (summer.live, summer.churned, summer.lapsed, summer.returned) == (1, 1, 2, 1)


def test_mermaid_lists_every_allowed_transition() -> None:
    text = to_mermaid()
    edges = sum(len(targets) for targets in ALLOWED_TRANSITIONS.values())
    assert text.count("-->") == edges + 1
    assert "    dormant --> reactivated" in text
    m = transition_matrix([2, 2, 4], [3, 3, 6])
    assert to_mermaid(m).splitlines()[1:] == [
        "    active --> at_risk: 2",
        "    dormant --> reactivated: 1",
    ]


def test_allowed_table_never_leaves_prospect_backwards() -> None:
    assert set(ALLOWED_TRANSITIONS) == set(Stage)
    assert all(Stage.PROSPECT not in targets for targets in ALLOWED_TRANSITIONS.values())
    assert all(s not in ALLOWED_TRANSITIONS[s] for s in Stage)


# -- plain data ----------------------------------------------------------------------

POLICIES = [
    LifecyclePolicy(),
    LifecyclePolicy(AbsoluteDays(at_risk=45, dormant=90, churned=180), new_days=14),
    LifecyclePolicy(CycleMultiple(population_cycle=56.0, at_risk=1.5), new_days=30),
    LifecyclePolicy(ProbabilityAlive(at_risk=0.6, dormant=0.3, churned=0.05), new_days=7),
]


@pytest.mark.parametrize("policy", POLICIES)
def test_policy_round_trips_through_plain_data(policy: LifecyclePolicy) -> None:
    assert serialize.loads(serialize.dumps(policy), LifecyclePolicy) == policy


def test_golden_document_still_loads_and_is_reproduced() -> None:
    golden = json.loads(GOLDEN.read_text())
    assert [serialize.from_data(doc, LifecyclePolicy) for doc in golden] == POLICIES
    assert [serialize.to_data(p) for p in POLICIES] == golden


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"thresholds": {"type": "AbsoluteDays", "at_risk": 5.5}, "new_days": 1}, "at_risk"),
        ({"thresholds": {"type": "Weekly"}, "new_days": 1}, "thresholds"),
        ({"thresholds": {"type": "AbsoluteDays"}, "new_days": "30"}, "new_days"),
        ({"thresholds": {"type": "AbsoluteDays"}, "new_days": 30, "extra": 1}, "extra"),
        ({"thresholds": {"type": "ProbabilityAlive", "at_risk": 2}, "new_days": 3}, "at_risk"),
    ],
)
def test_bad_plain_data_names_the_path(data: dict[str, Any], path: str) -> None:
    doc = {"schema": "lifecycle.LifecyclePolicy", "version": 1, "data": data}
    with pytest.raises(InvalidData) as info:
        serialize.from_data(doc, LifecyclePolicy)
    assert path in str(info.value)


# -- bad input -------------------------------------------------------------------------

DAY0 = at_day(0)
GOOD = history([0, 10])
Bad = tuple[Callable[[], object], type[LoyaltyError], str]

BAD_INPUTS: dict[str, Bad] = {
    "absolute not increasing": (lambda: AbsoluteDays(10, 10, 20), InvalidRule, "increasing"),
    "absolute float": (lambda: AbsoluteDays(at_risk=1.5), InvalidType, "at_risk=1.5"),  # type: ignore[arg-type]
    "absolute zero": (lambda: AbsoluteDays(0, 10, 20), InvalidArgument, "at_risk=0"),
    "cycle bool": (lambda: CycleMultiple(True), InvalidType, "population_cycle=True"),
    "cycle nan": (lambda: CycleMultiple(math.nan), InvalidRule, "population_cycle=nan"),
    "cycle order": (lambda: CycleMultiple(10, 3, 2), InvalidRule, "increasing"),
    "alive order": (lambda: ProbabilityAlive(0.1, 0.2, 0.05), InvalidRule, "decreasing"),
    "alive one": (lambda: ProbabilityAlive(1.0, 0.2, 0.05), InvalidRule, "in (0, 1)"),
    "new_days zero": (lambda: LifecyclePolicy(new_days=0), InvalidArgument, "new_days=0"),
    "new_days > at_risk": (lambda: LifecyclePolicy(new_days=61), InvalidRule, "new_days=61"),
    "thresholds type": (lambda: LifecyclePolicy("days"), InvalidType, "thresholds='days'"),  # type: ignore[arg-type]
    "policy type": (lambda: stage(GOOD, "x", as_of=DAY0), InvalidType, "policy='x'"),  # type: ignore[arg-type]
    "naive as_of": (lambda: stage(GOOD, as_of=datetime(2024, 1, 1)), NaiveDatetime, "naive"),
    "purchase after as_of": (lambda: stage(GOOD, as_of=at_day(5)), InvalidTime, "after as_of"),
    "column after as_of": (
        lambda: stages(as_columns([GOOD]), as_of=at_day(5)),
        InvalidTime,
        "last[0] is after",
    ),
    "missing column": (lambda: stages({"last": [0]}, as_of=DAY0), InvalidColumn, "first"),
    "float instants": (
        lambda: stages({"first": [0.0], "previous": [0.0], "last": [0.0]}, as_of=DAY0),
        InvalidColumn,
        "integer column",
    ),
    "short column": (
        lambda: stages({"first": [0], "previous": [MISSING, 0], "last": [0]}, as_of=DAY0),
        InvalidColumn,
        "previous has 2 rows",
    ),
    "out of order": (
        lambda: stages({"first": [DAY_US], "previous": [MISSING], "last": [0]}, as_of=DAY0),
        InvalidColumn,
        "first <= previous <= last",
    ),
    "first missing": (
        lambda: stages({"first": [MISSING], "previous": [MISSING], "last": [0]}, as_of=DAY0),
        InvalidColumn,
        "first[0] must be set",
    ),
    "scalar float instant": (
        lambda: stage({"first": 0.5, "previous": None, "last": 0}, as_of=DAY0),
        InvalidType,
        "first=0.5",
    ),
    "frequency disagrees": (
        lambda: stages(
            as_columns([{**GOOD, "frequency": 0}]),
            LifecyclePolicy(CycleMultiple(10)),
            as_of=at_day(20),
        ),
        InvalidColumn,
        "frequency[0]=0 disagrees",
    ),
    "median gap nan": (
        lambda: stage(
            {**history([0, 1, 2]), "median_gap": math.nan},
            LifecyclePolicy(CycleMultiple(10)),
            as_of=at_day(20),
        ),
        InvalidArgument,
        "median_gap=nan",
    ),
    "p_alive out of range": (
        lambda: stages(
            as_columns([{**GOOD, "p_alive": 1.5, "p_alive_before_last": 0.5}]),
            LifecyclePolicy(ProbabilityAlive()),
            as_of=at_day(20),
        ),
        InvalidColumn,
        "p_alive[0]=1.5",
    ),
    "p_alive missing": (
        lambda: stages(as_columns([GOOD]), LifecyclePolicy(ProbabilityAlive()), as_of=at_day(20)),
        InvalidColumn,
        "p_alive",
    ),
    "model without p_alive": (
        lambda: stage(GOOD, LifecyclePolicy(ProbabilityAlive()), as_of=at_day(20), model=1),
        InvalidType,
        "no p_alive method",
    ),
    "journey without model": (
        lambda: journey([DAY0], LifecyclePolicy(ProbabilityAlive()), until=DAY0),
        InvalidArgument,
        "needs model=",
    ),
    "journey empty": (lambda: journey([], until=DAY0), InvalidArgument, "at least one"),
    "journey late purchase": (lambda: journey([at_day(3)], until=DAY0), InvalidTime, "until"),
    "journey joined late": (
        lambda: journey([DAY0], until=at_day(3), joined=at_day(1)),
        InvalidTime,
        "joined=",
    ),
    "journey naive": (
        lambda: journey([datetime(2024, 1, 1)], until=DAY0),
        NaiveDatetime,
        "purchases[0]",
    ),
    "journey str": (lambda: journey("2024", until=DAY0), InvalidType, "purchases"),  # type: ignore[arg-type]
    "stage label": (lambda: Stage.parse("lost"), InvalidArgument, "stage='lost'"),
    "matrix code": (lambda: transition_matrix([7], [0]), InvalidColumn, "before[0]=7"),
    "matrix lengths": (lambda: transition_matrix([1, 2], [2]), InvalidColumn, "after has 1"),
    "matrix str": (lambda: transition_matrix("active", [2]), InvalidType, "before"),
    "align duplicate": (
        lambda: align_snapshot([1, 2], ["a", "a"], ["a"]),
        DuplicateId,
        "customer_id='a'",
    ),
    "align lengths": (lambda: align_snapshot([1], ["a", "b"], ["a"]), InvalidColumn, "2 rows"),
    "rates one snapshot": (lambda: period_rates({"a": [1]}), InvalidArgument, "two"),
    "population empty": (
        lambda: population_cycle({"frequency": [0], "median_gap": [math.nan]}),
        InvalidArgument,
        "three or more",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS), ids=list(BAD_INPUTS))
def test_bad_input_raises_a_specific_error_naming_the_value(case: str) -> None:
    func, error, fragment = BAD_INPUTS[case]
    with pytest.raises(error) as info:
        func()
    assert fragment in str(info.value)


def test_stages_without_as_of_warns_and_uses_the_summary_s_own() -> None:
    from loyaltycore.lifecycle import stage_table
    from loyaltycore.transactions import TransactionLog, summarize

    summary = summarize(
        TransactionLog.from_arrays(["a"], ["2024-01-02"], [5], tz="UTC"),
        as_of=datetime(2024, 6, 1, tzinfo=UTC),
    )
    with pytest.warns(DeprecationWarning, match=r"stages\(\.\.\.\) without as_of= is deprecated"):
        old = stages(summary)
    assert old.tolist() == stages(summary, as_of=summary.as_of).tolist()
    with pytest.warns(DeprecationWarning, match="0.3.0"):
        table = stage_table(summary)
    assert table == stage_table(summary, as_of=summary.as_of)
    # Columns that carry no as_of of their own still need one.
    with (
        pytest.warns(DeprecationWarning, match="without as_of="),
        pytest.raises(InvalidArgument, match="as_of=None"),
    ):
        stages(as_columns([GOOD]))


# -- values ----------------------------------------------------------------------------


def test_values_and_errors_pickle() -> None:
    values: list[object] = [
        *POLICIES,
        Stage.REACTIVATED,
        StageChange(date(2024, 1, 1), Stage.NEW, "purchase"),
        transition_matrix([1, 2], [2, 3]),
        SnapshotRates("a", "b", 1, 1, 0, 0),
    ]
    for value in values:
        assert pickle.loads(pickle.dumps(value)) == value
    with pytest.raises(InvalidColumn) as info:
        transition_matrix([9], [0])
    again = pickle.loads(pickle.dumps(info.value))
    assert (again.field, again.row) == ("before", 0)


def test_values_are_frozen() -> None:
    policy = LifecyclePolicy()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        policy.new_days = 3  # type: ignore[misc]
    m = transition_matrix([1], [2])
    with pytest.raises(ValueError, match="read-only"):
        m.counts[0, 0] = 5


def test_all_is_sorted() -> None:
    assert lifecycle.__all__ == sorted(lifecycle.__all__)


def test_import_loads_no_extra() -> None:
    code = "import sys, loyaltycore.lifecycle; print('scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("tz", ["UTC", "Europe/Berlin"])
def test_empty_and_prospect_only_columns(tz: str) -> None:
    empty = np.array([], dtype=np.int64)
    columns = {"first": empty, "previous": empty, "last": empty}
    assert stages(columns, as_of=DAY0, tz=tz).tolist() == []
    nobody = {name: np.full(2, MISSING) for name in ("first", "previous", "last")}
    assert stages(nobody, as_of=DAY0, tz=tz).tolist() == [Stage.PROSPECT] * 2
