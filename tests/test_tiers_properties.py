"""Property tests of the tier engine: monotone, idempotent, path independent, two engines equal."""

from __future__ import annotations

import itertools
import pickle
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from loyaltycore.errors import InvalidTime
from loyaltycore.tiers import (
    Activity,
    ActivityIndex,
    AllOf,
    Anniversary,
    AnyOf,
    Benefits,
    CalendarYear,
    Lifetime,
    Rolling,
    Span,
    Tier,
    TierProgram,
    at_least,
)
from loyaltycore.tiers._model import METRIC_NAMES, holds
from loyaltycore.tiers._plan import compile_options, exponents_for, meets

JOINED = datetime(2023, 2, 28, 15, tzinfo=UTC)
ZONES = ["UTC", "Asia/Tokyo", "Pacific/Auckland", "America/New_York", "Europe/Berlin"]
LADDER = [
    Tier("Blue", 0),
    Tier("Silver", 1, at_least("nights", 10) | at_least("spend", 2000)),
    Tier("Gold", 2, at_least("nights", 25) | at_least("spend", 5000), Benefits("1.5")),
    Tier("Diamond", 3, (at_least("nights", 60) | at_least("spend", 15000)) & at_least("stays", 4)),
]


@st.composite
def programs(draw: Any, *, hold: bool = True) -> TierProgram:
    window = draw(
        st.sampled_from(["calendar", "anniversary", "rolling", "lifetime"]).map(
            lambda k: {
                "calendar": CalendarYear(),
                "anniversary": Anniversary(),
                "rolling": None,
                "lifetime": Lifetime(),
            }[k]
        )
    )
    if window is None:
        window = Rolling(
            months=draw(st.integers(1, 12)),
            review=draw(st.sampled_from(["FREQ=MONTHLY;BYMONTHDAY=1", "FREQ=WEEKLY;BYDAY=MO"])),
            min_hold=Span(months=draw(st.integers(0, 4))) if hold else Span(),
        )
    lifetime = isinstance(window, Lifetime)
    return TierProgram(
        LADDER,
        window=window,
        tz=draw(st.sampled_from(ZONES)),
        downgrade=draw(st.sampled_from(["justified", "soft"])),
        grace=Span() if lifetime else Span(days=draw(st.sampled_from([0, 0, 15, 45]))),
        extension=Span(months=draw(st.integers(0, 1)))
        if isinstance(window, CalendarYear | Anniversary)
        else Span(),
        upgrade="immediate" if lifetime else draw(st.sampled_from(["immediate", "period_end"])),
        returns=draw(st.sampled_from(["at_review", "at_once"])),
    )


@st.composite
def activities(draw: Any, *, returns: bool = True, prefix: str = "a") -> list[Activity]:
    n = draw(st.integers(0, 12))
    items: list[Activity] = []
    for i in range(n):
        metric = draw(st.sampled_from(["nights", "spend", "stays"]))
        amount = draw(st.integers(1, 40)) * (250 if metric == "spend" else 1)
        at = JOINED + timedelta(hours=draw(st.integers(1, 4 * 365 * 24)))
        items.append(Activity(metric, amount, at, f"{prefix}{i}"))
    if returns and items:
        for j in range(draw(st.integers(0, 3))):
            original = draw(st.sampled_from(items))
            if original.reverses is not None or original.amount <= 1:
                continue
            back = -draw(st.integers(1, int(original.amount) - 1))
            later = original.occurred_at + timedelta(days=draw(st.integers(0, 120)))
            items.append(
                Activity(original.metric, back, later, f"r{j}", reverses=original.source_id)
            )
    return items


AS_OF = st.integers(0, 5 * 365).map(lambda d: JOINED + timedelta(days=d, hours=7))


def index(program: TierProgram, name: str) -> int:
    return program.names.index(name)


@given(
    programs(hold=False),
    activities(),
    activities(returns=False, prefix="x"),
    AS_OF,
    st.integers(0, 3),
    st.integers(0, 700),
)
def test_tier_is_monotone_in_activity(
    program: TierProgram,
    base: list[Activity],
    extra: list[Activity],
    as_of: datetime,
    prior: int,
    days: int,
) -> None:
    lifetime = isinstance(program.window, Lifetime)
    start = JOINED.astimezone(program.tz).date()
    until = None if prior == 0 or lifetime else start + timedelta(days=days)
    status = program.join(JOINED, tier=program.names[prior], valid_until=until)
    less = program.evaluate(status, base, as_of=as_of)
    more = program.evaluate(status, base + extra, as_of=as_of)
    assert index(program, more.tier) >= index(program, less.tier)


@given(programs(), activities(), AS_OF)
def test_evaluating_twice_at_the_same_instant_changes_nothing(
    program: TierProgram, log: list[Activity], as_of: datetime
) -> None:
    first = program.evaluate(program.join(JOINED), log, as_of=as_of)
    again = program.evaluate(first.status, log, as_of=as_of)
    assert again.status == first.status
    assert (again.kind, again.events) == ("retain", ())


@settings(max_examples=60)
@given(programs(), activities(), AS_OF, st.lists(st.integers(1, 400), min_size=1, max_size=6))
def test_evaluating_in_steps_equals_evaluating_once(
    program: TierProgram, log: list[Activity], as_of: datetime, steps: list[int]
) -> None:
    once = program.evaluate(program.join(JOINED), log, as_of=as_of).status
    status = program.join(JOINED)
    at = JOINED
    for days in steps:
        at = min(at + timedelta(days=days), as_of)
        status = program.evaluate(status, log, as_of=at).status
    status = program.evaluate(status, log, as_of=as_of).status
    assert status == once
    assert program.replay(once.history, log, as_of=as_of) == once


@given(programs(), activities(), AS_OF)
def test_soft_landing_drops_at_most_one_step_per_review(
    program: TierProgram, log: list[Activity], as_of: datetime
) -> None:
    soft = TierProgram(
        program.tiers,
        window=program.window,
        tz=program.tz,
        downgrade="soft",
        grace=program.grace,
        extension=program.extension,
        upgrade=program.upgrade,
    )
    status = (
        soft.join(JOINED, tier="Diamond", valid_until=date(2023, 12, 31))
        if not isinstance(soft.window, Lifetime)
        else soft.join(JOINED)
    )
    history = soft.evaluate(status, log, as_of=as_of).status.history
    for event in history:
        if event.kind == "downgrade":
            assert index(soft, event.previous) - index(soft, event.tier) == 1


totals = st.fixed_dictionaries(
    {
        "nights": st.integers(0, 80),
        "spend": st.integers(0, 2_000_000),
        "stays": st.integers(0, 6),
        "miles": st.integers(0, 10),
    }
)


@given(st.lists(st.tuples(totals, st.integers(0, 3)), max_size=40), st.booleans())
def test_scalar_qualify_equals_vectorized_classify(
    rows: list[tuple[dict[str, int], int]], soft: bool
) -> None:
    program = TierProgram(LADDER, downgrade="soft" if soft else "justified")
    columns = {m: np.array([r[m] for r, _ in rows], dtype=np.int64) for m in totals_keys()}
    prior = np.array([p for _, p in rows], dtype=np.int64)
    plain = program.classify(columns)
    reviewed = program.classify(columns, prior=prior)
    for i, (row, p) in enumerate(rows):
        money = {**row, "spend": f"{row['spend'] / 100:.2f}"}
        assert program.qualify(money).rank == plain[i]
        assert program.qualify(money, prior=program.names[p]).rank == reviewed[i]


def totals_keys() -> list[str]:
    return ["nights", "spend", "stays", "miles"]


@settings(max_examples=60)
@given(activities(returns=False), st.integers(0, 3), st.booleans(), st.sampled_from(ZONES))
def test_evaluate_at_review_equals_classify(
    log: list[Activity], prior: int, soft: bool, tz: str
) -> None:
    program = TierProgram(LADDER, tz=tz, downgrade="soft" if soft else "justified")
    year = [a for a in log if a.occurred_at.astimezone(program.tz).year == 2024]
    joined = datetime(2023, 6, 1, tzinfo=UTC)
    name = program.names[prior]
    status = program.join(
        joined, tier=name, valid_until=None if prior == 0 else date(2024, 12, 31)
    )
    review = datetime(2025, 1, 1, tzinfo=program.tz)
    decision = program.evaluate(status, year, as_of=review)
    sums = dict.fromkeys(totals_keys(), 0)
    for a in year:
        sums[a.metric] += int(a.amount * (100 if a.metric == "spend" else 1))
    columns = {m: np.array([v], dtype=np.int64) for m, v in sums.items()}
    expected = program.classify(columns, prior=np.array([prior]))[0]
    assert program.tier(decision.tier).rank == expected


commands = st.lists(
    st.tuples(
        st.integers(1, 500),
        st.sampled_from(["override", "challenge", "evaluate"]),
        st.integers(1, 3),
        st.integers(0, 200),
    ),
    max_size=5,
)


@settings(max_examples=60)
@given(programs(), activities(), commands)
def test_replay_of_history_with_commands_gives_the_status_back(
    program: TierProgram, log: list[Activity], steps: list[tuple[int, str, int, int]]
) -> None:
    status = program.join(JOINED)
    at = JOINED
    for days, kind, tier, length in steps:
        at = at + timedelta(days=days)
        today = at.astimezone(program.tz).date()
        name = program.names[tier]
        if kind == "override":
            status = program.override(
                status, log, tier=name, until=today + timedelta(days=length), at=at
            )
        elif kind == "challenge":
            status = program.challenge(
                status,
                log,
                tier=name,
                target=at_least("nights", 1 + length // 10),
                deadline=today + timedelta(days=length),
                at=at,
            )
        else:
            status = program.evaluate(status, log, as_of=at).status
    final = program.evaluate(status, log, as_of=at + timedelta(days=400)).status
    assert program.replay(final.history, log, as_of=at + timedelta(days=400)) == final
    tiers = [e.tier for e in final.history]
    assert all(t in program.names for t in tiers)


class TierMachine(RuleBasedStateMachine):
    """A member's life: activity arrives, returns, commands and evaluations in time order."""

    def __init__(self) -> None:
        super().__init__()
        self.program = TierProgram(
            LADDER, tz="Asia/Tokyo", grace=Span(days=20), downgrade="soft", returns="at_once"
        )
        self.status = self.program.join(JOINED)
        self.at = JOINED
        self.log: list[Activity] = []

    @rule(
        days=st.integers(0, 120),
        metric=st.sampled_from(["nights", "spend", "stays"]),
        amount=st.integers(1, 40),
    )
    def earn(self, days: int, metric: str, amount: int) -> None:
        self.at += timedelta(days=days, minutes=1)
        scale = 250 if metric == "spend" else 1
        self.log.append(Activity(metric, amount * scale, self.at, f"e{len(self.log)}"))

    @rule(data=st.data())
    def give_back(self, data: st.DataObject) -> None:
        originals = [a for a in self.log if a.reverses is None and a.amount > 1]
        if not originals:
            return
        original = data.draw(st.sampled_from(originals))
        if any(a.reverses == original.source_id for a in self.log):
            return
        self.at += timedelta(minutes=1)
        self.log.append(
            Activity(
                original.metric,
                -(original.amount // 2),
                self.at,
                f"r{len(self.log)}",
                reverses=original.source_id,
            )
        )

    @rule(days=st.integers(0, 200))
    def evaluate(self, days: int) -> None:
        self.at += timedelta(days=days)
        self.status = self.program.evaluate(self.status, self.log, as_of=self.at).status

    @rule(tier=st.integers(1, 3), length=st.integers(0, 90))
    def override(self, tier: int, length: int) -> None:
        today = self.at.astimezone(self.program.tz).date()
        self.status = self.program.override(
            self.status,
            self.log,
            tier=self.program.names[tier],
            until=today + timedelta(days=length),
            at=self.at,
        )

    @rule(tier=st.integers(1, 3), length=st.integers(0, 90), need=st.integers(1, 30))
    def challenge(self, tier: int, length: int, need: int) -> None:
        today = self.at.astimezone(self.program.tz).date()
        self.status = self.program.challenge(
            self.status,
            self.log,
            tier=self.program.names[tier],
            target=at_least("nights", need),
            deadline=today + timedelta(days=length),
            at=self.at,
        )

    @invariant()
    def evaluating_again_changes_nothing(self) -> None:
        again = self.program.evaluate(self.status, self.log, as_of=self.status.evaluated_at)
        assert again.status == self.status

    @invariant()
    def replay_rebuilds_the_status(self) -> None:
        rebuilt = self.program.replay(
            self.status.history, self.log, as_of=self.status.evaluated_at
        )
        assert rebuilt == self.status

    @invariant()
    def effective_tier_is_the_best_source(self) -> None:
        s, names = self.status, self.program.names
        floor = names.index(s.earned)
        if s.override is not None:
            floor = max(floor, names.index(s.override.tier))
        if s.challenge is not None:
            floor = max(floor, names.index(s.challenge.tier))
        assert names.index(s.tier) >= floor


TierMachine.TestCase.settings = settings(max_examples=30, stateful_step_count=20)
test_tier_machine = TierMachine.TestCase


thresholds = st.builds(at_least, st.sampled_from(["nights", "spend", "stays"]), st.integers(1, 60))
requirements = st.recursive(
    thresholds,
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(AnyOf),
        st.lists(inner, min_size=1, max_size=3).map(AllOf),
    ),
    max_leaves=8,
)


@given(
    requirements,
    st.fixed_dictionaries(
        {"nights": st.integers(0, 70), "spend": st.integers(0, 70), "stays": st.integers(0, 70)}
    ),
)
def test_compiled_options_agree_with_the_requirement_tree(
    req: Any, totals: dict[str, int]
) -> None:
    exps = exponents_for(2)
    units = [0] * len(METRIC_NAMES)
    for metric, amount in totals.items():
        units[METRIC_NAMES.index(metric)] = amount * 10 ** exps[METRIC_NAMES.index(metric)]
    as_decimal = {m: Decimal(v) for m, v in totals.items()}
    assert meets(compile_options(req, exps, "req"), units) == holds(req, as_decimal)


REVIEWS = [
    "FREQ=MONTHLY;BYMONTHDAY=1",
    "FREQ=MONTHLY;BYMONTHDAY=31",
    "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=15",
    "FREQ=MONTHLY;BYDAY=-1FR",
    "FREQ=MONTHLY;BYSETPOS=-1;BYDAY=MO,TU,WE,TH,FR",
    "FREQ=MONTHLY;INTERVAL=5",
    "FREQ=WEEKLY;BYDAY=MO",
    "FREQ=WEEKLY;INTERVAL=2;BYDAY=FR",
    "FREQ=WEEKLY;INTERVAL=3",
    "FREQ=YEARLY;BYMONTH=4;BYMONTHDAY=1",
    "FREQ=YEARLY;INTERVAL=2",
    "FREQ=YEARLY;BYWEEKNO=1;BYDAY=MO",
    "FREQ=YEARLY;INTERVAL=3;BYYEARDAY=-1",
    "FREQ=DAILY",
    "FREQ=DAILY;INTERVAL=10",
]


@settings(max_examples=300)
@given(st.sampled_from(REVIEWS), st.dates(date(1990, 1, 1), date(2150, 12, 31)))
def test_review_dates_equal_the_schedule_stepped_from_its_anchor(text: str, day: date) -> None:
    from loyaltycore.tiers._model import next_review, review_rule

    stepped = review_rule(text).after(datetime.combine(day, datetime.min.time()))
    assert stepped is not None
    assert next_review(text, day) == stepped.date()


@settings(max_examples=80)
@given(
    programs(),
    activities(),
    st.lists(st.integers(0, 12), max_size=4),
    AS_OF,
    st.lists(st.integers(1, 400), max_size=4),
)
def test_an_activity_index_answers_as_the_activity_itself(
    program: TierProgram,
    log: list[Activity],
    cuts: list[int],
    as_of: datetime,
    steps: list[int],
) -> None:
    # built in pieces, in any order of posting, the index gives the same decisions
    ordered = sorted(log, key=lambda a: a.reverses is not None)
    bounds = sorted({0, len(ordered), *(min(c, len(ordered)) for c in cuts)})
    built = program.index(ordered[: bounds[1]] if len(bounds) > 1 else ordered)
    for lo, hi in itertools.pairwise(bounds[1:]):
        built = built.add(ordered[lo:hi])
    assert built.activity == tuple(ordered)
    assert built == program.index(ordered)
    # read back from plain rows, entries made on first need, then more added
    half = len(ordered) // 2
    from_rows = program.index_from_rows(program.index(ordered[:half]).rows())
    from_rows = from_rows.add(ordered[half:])
    assert from_rows.rows() == built.rows()
    assert program.evaluate(program.join(JOINED), from_rows, as_of=as_of) == program.evaluate(
        program.join(JOINED), ordered, as_of=as_of
    )
    assert from_rows == built
    status = index_status = program.join(JOINED)
    at = JOINED
    for days in [*steps, 10_000]:
        at = min(at + timedelta(days=days), as_of)
        plain = program.evaluate(status, ordered, as_of=at)
        indexed = program.evaluate(index_status, built, as_of=at)
        assert indexed == plain
        status, index_status = plain.status, indexed.status
    assert program.progress(status, built, as_of=as_of) == program.progress(
        status, ordered, as_of=as_of
    )


def test_an_activity_index_refuses_what_evaluate_refuses() -> None:
    from loyaltycore.errors import DuplicateId, InvalidType, UnknownEvent

    program = TierProgram(LADDER)
    at = JOINED + timedelta(days=3)
    built = program.index([Activity("nights", 3, at, "s-1")])
    cases = [
        ([Activity("nights", 1, at, "s-1")], DuplicateId),
        ([Activity("nights", -1, at, "r-1", reverses="nope")], UnknownEvent),
        (["s-2"], InvalidType),
    ]
    for items, error in cases:
        with pytest.raises(error):
            built.add(items)
    assert len(built) == 1  # unchanged
    with pytest.raises(TypeError):
        ActivityIndex()
    early = program.index([Activity("nights", 3, JOINED - timedelta(days=1), "s-0")])
    with pytest.raises(InvalidTime):
        program.evaluate(program.join(JOINED), early, as_of=at)
    assert pickle.loads(pickle.dumps(built)) == built


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("x", "must be a list of rows @ $"),
        ([["spend", "1"]], "must be [metric, amount, occurred_at, source_id, reverses] @ $[0]"),
        ([["gold", "1", "2024-01-01T00:00:00+00:00", "s", None]], "metric='gold'"),
        ([["spend", 1, "2024-01-01T00:00:00+00:00", "s", None]], "amount=1"),
        ([["spend", "0.001", "2024-01-01T00:00:00+00:00", "s", None]], "amount='0.001'"),
        ([["nights", "1.5", "2024-01-01T00:00:00+00:00", "s", None]], "amount='1.5'"),
        ([["spend", "NaN", "2024-01-01T00:00:00+00:00", "s", None]], "amount='NaN'"),
        ([["spend", "5", "2024-01-01T00:00:00", "s", None]], "occurred_at="),
        ([["spend", "5", "2024-01-01T00:00:00+00:00", " ", None]], "source_id=' '"),
        ([["spend", "-5", "2024-01-01T00:00:00+00:00", "s", "t"]], "reverses='t' names no entry"),
        ([["spend", "5", "2024-01-01T00:00:00+00:00", "s", "s"]], "amount='5'"),
        (
            [["spend", "5", "2024-01-01T00:00:00+00:00", "s", None]] * 2,
            "source_id='s' is not valid @ $[1]",
        ),
    ],
)
def test_bad_activity_rows_are_named(rows: Any, message: str) -> None:
    from loyaltycore.errors import InvalidData

    with pytest.raises(InvalidData) as caught:
        TierProgram(LADDER).index_from_rows(rows)
    assert message in str(caught.value)


@settings(max_examples=60)
@given(programs(), activities(), st.lists(st.integers(0, 40), min_size=1, max_size=8), AS_OF)
def test_indexes_that_share_their_storage_stay_apart(
    program: TierProgram, log: list[Activity], picks: list[int], as_of: datetime
) -> None:
    # versions branch: each add to an older version must not show in the newer ones
    ordered = sorted(log, key=lambda a: a.reverses is not None)
    plain = [a for a in ordered if a.reverses is None]
    versions = [(program.index([]), ())]
    for k in picks:
        base, items = versions[k % len(versions)]
        left = [a for a in plain if a not in items]
        if left:
            extra = left[(k // 3) % len(left)]
            versions.append((base.add([extra]), (*items, extra)))
    for built, items in versions:
        assert built.activity == items
        assert len(built) == len(items)
        status = program.join(JOINED)
        assert program.evaluate(status, built, as_of=as_of) == program.evaluate(
            status, list(items), as_of=as_of
        )


def test_an_index_of_many_entries_still_refuses_duplicates() -> None:
    from loyaltycore.errors import DuplicateId

    program = TierProgram(LADDER)
    built = program.index([])
    for k in range(150):  # (past the point where recent keys are folded in)
        built = built.add([Activity("nights", 1, JOINED + timedelta(hours=k), f"s-{k}")])
    for k in (0, 70, 149):
        with pytest.raises(DuplicateId):
            built.add([Activity("nights", 1, JOINED, f"s-{k}")])
    assert program.evaluate(program.join(JOINED), built, as_of=JOINED + timedelta(days=9)) == (
        program.evaluate(
            program.join(JOINED), list(built.activity), as_of=JOINED + timedelta(days=9)
        )
    )
