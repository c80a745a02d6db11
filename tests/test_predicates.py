"""loyaltycore.predicates: the scalar and vectorized engines agree, and edge cases."""

from __future__ import annotations

import pickle
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyaltycore import predicates as P
from loyaltycore.errors import InvalidArgument, InvalidColumn, InvalidRule, InvalidType
from loyaltycore.predicates import (
    MISSING_INT,
    Context,
    Event,
    Item,
    Member,
    encode,
    field,
)
from loyaltycore.testing import events, facts, instants, members, predicates, zones

AT = datetime(2024, 5, 1, 12, tzinfo=UTC)
#: The tier ladder of the generated cases; members may also hold a retired tier.
LADDER = ("bronze", "silver", "gold", "platinum")
EVERYTHING = ("event", "member", "facts")


def any_predicate(max_leaves: int = 6) -> st.SearchStrategy[P.Predicate]:
    """Every kind of node, over every field of events, members and facts."""
    return predicates(tiers=LADDER, max_leaves=max_leaves, sources=EVERYTHING)


@st.composite
def cases(draw: st.DrawFn, *, max_rows: int = 6) -> dict[str, Any]:
    """Rows to evaluate in both engines: events, members, facts and parameters.

    Each of events / members / facts is either absent (None) or a list with
    one entry per row, some entries None (a missing event or member).
    """
    n = draw(st.integers(1, max_rows))

    def rows(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.one_of(
            st.none(), st.lists(st.one_of(st.none(), strategy), min_size=n, max_size=n)
        )

    return {
        "events": draw(rows(events(half_cents=False))),
        "members": draw(rows(members(tiers=(*LADDER, "legacy")))),
        "facts": draw(rows(facts())),
        "as_of": draw(st.one_of(st.none(), instants())),
        "tz": draw(zones()),
        "tiers": draw(st.sampled_from([LADDER, LADDER[:2], ()])),
        "size": n,
    }


def both(pred: P.Predicate, case: dict[str, Any]) -> tuple[list[bool] | str, list[bool] | str]:
    """The answers of both engines for every row of ``case`` ("InvalidRule" if refused)."""
    n = case["size"]
    events = case["events"] or [None] * n
    members = case["members"] or [None] * n
    facts = case["facts"] or [None] * n
    params = {"as_of": case["as_of"], "tz": case["tz"], "tiers": case["tiers"]}
    try:
        scalar: list[bool] | str = [
            pred.test(Context(e, m, f, **params))
            for e, m, f in zip(events, members, facts, strict=True)
        ]
    except InvalidRule:
        scalar = "InvalidRule"
    columns = encode(case["events"], case["members"], case["facts"], fields=pred.fields())
    try:
        mask = pred.mask(columns, size=n, **params)
    except InvalidRule:
        return scalar, "InvalidRule"
    assert mask.dtype == np.bool_
    assert mask.shape == (n,)
    return scalar, mask.tolist()


def _encodable(case: dict[str, Any]) -> dict[str, Any]:
    """Fill the sources a predicate needs (encode refuses fields without rows)."""
    n = case["size"]
    for key in ("events", "members", "facts"):
        if case[key] is None:
            case[key] = [None] * n
    return case


@given(any_predicate(), cases())
@settings(max_examples=300)
def test_scalar_equals_vectorized(pred: P.Predicate, case: dict[str, Any]) -> None:
    scalar, vector = both(pred, _encodable(case))
    assert scalar == vector


@given(predicates(tiers=LADDER, max_leaves=1, sources=EVERYTHING, leaves=["compare"]), cases())
def test_not_is_the_negation_in_both_engines(pred: P.Predicate, case: dict[str, Any]) -> None:
    scalar, vector = both(~pred, _encodable(case))
    positive, _ = both(pred, case)
    assert isinstance(positive, list)
    assert scalar == vector == [not p for p in positive]


@pytest.mark.parametrize(
    ("pred", "columns"),
    [
        (field("amount") >= 0, {"amount": np.array([MISSING_INT])}),
        (field("amount") != 5, {"amount": np.array([MISSING_INT])}),
        (field("amount") < 5, {"amount": np.array([MISSING_INT])}),
        (field("days_since_last") != 3.0, {"days_since_last": np.array([np.nan])}),
        (field("days_since_last") <= 1e9, {"days_since_last": np.array([np.nan])}),
        (field("channel") != "app", {"channel": np.array([None], dtype=object)}),
        (field("channel").isin({"app"}), {"channel": np.array([None], dtype=object)}),
        (field("at") > datetime(1900, 1, 1, tzinfo=UTC), {"at": np.array([MISSING_INT])}),
        (field("weekday").isin(range(7)), {"at": np.array([MISSING_INT])}),
        (field("attributes.staff", "bool") != True, {"attributes.staff": np.array([-1])}),  # noqa: E712
        (
            field("birthday").between(date(1, 1, 1), date(9999, 1, 1)),
            {"birthday": np.array([MISSING_INT])},
        ),
    ],
)
def test_missing_value_makes_every_comparison_false(
    pred: P.Predicate, columns: dict[str, Any]
) -> None:
    assert pred.mask(columns).tolist() == [False]
    assert pred.test() is False


def test_missing_fact_in_a_mapping_or_an_object_is_false() -> None:
    class Row:
        frequency = 4
        median_gap = float("nan")

    assert (field("frequency") >= 3).test(facts=Row())
    assert not (field("median_gap") >= 0).test(facts=Row())
    assert not (field("median_gap") != 1.0).test(facts={"median_gap": float("nan")})
    assert not (field("previous") < AT).test(facts={"previous": MISSING_INT})
    assert (field("previous") < AT).test(facts={"previous": datetime(2024, 1, 1, tzinfo=UTC)})


def test_money_thresholds_finer_than_a_cent_compare_exactly() -> None:
    columns = {"amount": np.array([1000, 1001, 999])}
    amounts = ["10.00", "10.01", "9.99"]
    for op in ("==", "!=", "<", "<=", ">", ">="):
        pred = P.Compare("amount", op, "10.005")
        scalar = [pred.test(event=Event("e", "purchase", AT, a)) for a in amounts]
        assert pred.mask(columns).tolist() == scalar, op


def test_money_threshold_beyond_int64_does_not_overflow() -> None:
    big = field("amount") >= Decimal("1e30")
    assert big.mask({"amount": np.array([5, MISSING_INT])}).tolist() == [False, False]
    small = field("amount") > Decimal("-1e30")
    assert small.mask({"amount": np.array([5, MISSING_INT])}).tolist() == [True, False]


def test_facts_total_reads_minor_units_with_the_exponent() -> None:
    pred = field("total") >= 100
    assert pred.test(facts={"total": 10_000})
    assert not pred.test(facts={"total": 10_000}, exponent=3)
    assert pred.mask({"total": np.array([10_000])}, exponent=3).tolist() == [False]


def test_dst_fold_local_hour_and_date() -> None:
    # 01:30 on 2024-11-03 happens twice in New York: EDT (05:30Z) then EST (06:30Z)
    first = datetime(2024, 11, 3, 5, 30, tzinfo=UTC)
    second = datetime(2024, 11, 3, 6, 30, tzinfo=UTC)
    events = [Event("a", "purchase", first), Event("b", "purchase", second)]
    pred = (field("hour") == 1) & (field("local_date") == date(2024, 11, 3))
    tz = "America/New_York"
    assert [pred.test(event=e, tz=tz) for e in events] == [True, True]
    assert pred.mask(encode(events), tz=tz).tolist() == [True, True]
    late = field("hour") == 2
    assert late.mask(encode(events), tz=tz).tolist() == [False, False]


def test_test_refuses_a_context_and_keywords_together() -> None:
    with pytest.raises(InvalidArgument, match="not both"):
        (field("amount") > 1).test(Context(), tz="Europe/Paris")


def test_truth_value_of_a_predicate_is_an_error() -> None:
    with pytest.raises(InvalidType, match="no truth value"):
        bool(field("amount") > 1)


def test_combinators_flatten() -> None:
    a, b, c = field("amount") > 1, field("tier") == "gold", field("channel") == "app"
    assert (a & b & c) == P.And((a, b, c))
    assert (a | b | c) == P.Or((a, b, c))
    assert ~~a == a


@given(any_predicate())
def test_predicates_pickle_and_hash(pred: P.Predicate) -> None:
    again = pickle.loads(pickle.dumps(pred))
    assert again == pred
    assert hash(again) == hash(pred)
    assert again.fields() == pred.fields()


@given(events(), members(tiers=(*LADDER, "legacy")))
def test_vocabulary_pickles(event: Event, member: Member) -> None:
    assert pickle.loads(pickle.dumps(event)) == event
    assert pickle.loads(pickle.dumps(member)) == member
    ctx = Context(event, member, tz="Europe/Berlin")
    assert pickle.loads(pickle.dumps(ctx)) == ctx


def test_encode_refuses_sub_cent_amounts_and_bad_columns() -> None:
    with pytest.raises(InvalidColumn, match="more decimals"):
        encode([Event("e", "purchase", AT, "1.005")])
    with pytest.raises(InvalidColumn, match="integer array"):
        (field("amount") > 1).mask({"amount": np.array([1.5])})
    with pytest.raises(InvalidColumn, match="no 'amount' column"):
        (field("amount") > 1).mask({"tier": np.array(["gold"], dtype=object)})
    with pytest.raises(InvalidColumn, match="shape"):
        (field("amount") > 1).mask({"tier": np.array([None] * 2), "amount": np.array([1])})


def test_unknown_field_and_wrong_literal_are_invalid_rules() -> None:
    with pytest.raises(InvalidRule, match="not a known field"):
        field("amout")
    with pytest.raises(InvalidRule, match="must be a Decimal"):
        field("amount") > 1.5  # noqa: B015
    with pytest.raises(InvalidRule, match="not defined for field 'channel'"):
        field("channel") > "a"  # noqa: B015


NAIVE = datetime(2024, 1, 1)

#: Bad vocabulary values: (call, error class, message fragment).
BAD_VALUES = [
    (lambda: Item(""), InvalidArgument, "sku=''"),
    (lambda: Item("A", category=3), InvalidType, "category=3"),
    (lambda: Item("A", quantity=0), InvalidArgument, "quantity=0"),
    (lambda: Item("A", quantity=1.0), InvalidType, "quantity=1.0"),
    (lambda: Item("A", unit_price=1.5), InvalidType, "unit_price=1.5"),
    (lambda: Item("A", unit_price="-1"), ValueError, "unit_price='-1'"),
    (lambda: Item("A", None, 1, "1", discount="2"), ValueError, "discount=2 must not exceed"),
    (lambda: Item("A", kind="coupon"), InvalidArgument, "kind='coupon'"),
    (lambda: Item("A", earning="no"), InvalidType, "earning='no'"),
    (lambda: Event("", "purchase", AT), InvalidArgument, "id=''"),
    (lambda: Event("e", "", AT), InvalidArgument, "kind=''"),
    (lambda: Event("e", "purchase", NAIVE), ValueError, "naive"),
    (lambda: Event("e", "purchase", "2024-01-01"), InvalidType, "at='2024-01-01'"),
    (lambda: Event("e", "purchase", AT, 12.5), InvalidType, "amount=12.5"),
    (lambda: Event("e", "purchase", AT, items=[("A", 1)]), InvalidType, "items[0]"),
    (lambda: Event("e", "purchase", AT, items="A"), InvalidType, "items='A'"),
    (lambda: Event("e", "purchase", AT, channel=1), InvalidType, "channel=1"),
    (lambda: Event("e", "purchase", AT, attributes={"x": [1]}), InvalidType, "attributes['x']"),
    (lambda: Event("e", "purchase", AT, attributes=[1]), InvalidType, "attributes=[1]"),
    (lambda: Event("e", "purchase", AT, discount=0.5), InvalidType, "discount=0.5"),
    (lambda: Event("e", "purchase", AT, points_paid="x"), ValueError, "points_paid='x'"),
    (lambda: Member(""), InvalidArgument, "id=''"),
    (lambda: Member("m", joined_at=NAIVE), ValueError, "joined_at"),
    (lambda: Member("m", birthday=AT), InvalidType, "birthday="),
    (lambda: Member("m", tier=1), InvalidType, "tier=1"),
    (lambda: Member("m", segments="vip"), InvalidType, "segments='vip'"),
    (lambda: Member("m", counters={"a": -1}), InvalidArgument, "counters['a']=-1"),
    (lambda: Member("m", counters={"a": True}), InvalidType, "counters['a']=True"),
    (lambda: Context(event="e"), InvalidType, "event='e'"),
    (lambda: Context(member="m"), InvalidType, "member='m'"),
    (lambda: Context(tz="Mars/Base"), InvalidArgument, "tz='Mars/Base'"),
    (lambda: Context(as_of=NAIVE), ValueError, "as_of"),
    (lambda: Context(tiers="gold"), InvalidType, "tiers='gold'"),
    (lambda: Context(exponent=12), InvalidArgument, "exponent=12"),
    (lambda: P.Frame({"a": np.array([1])}, exponent=-1), InvalidArgument, "exponent=-1"),
    (lambda: P.Frame({}), InvalidColumn, "size="),
    (lambda: encode([Event("e", "purchase", AT)], [None, None]), InvalidArgument, "members has 2"),
    (lambda: encode(["e"]), InvalidType, "events[0]='e'"),
    (lambda: encode(), InvalidArgument, "needs events"),
    (lambda: encode([None], fields=["tier"]), InvalidArgument, "needs member rows"),
]


@pytest.mark.parametrize(("call", "error", "fragment"), BAD_VALUES)
def test_bad_vocabulary_values_are_refused(call: Any, error: type, fragment: str) -> None:
    with pytest.raises(error) as info:
        call()
    assert fragment in str(info.value)
    again = pickle.loads(pickle.dumps(info.value))
    assert str(again) == str(info.value)


def test_public_names_are_sorted() -> None:
    assert P.__all__ == sorted(P.__all__)
    for name in P.__all__:
        assert getattr(P, name) is not None


def test_calendar_conditions_without_an_at_column_read_as_of() -> None:
    wednesday = datetime(2024, 5, 1, 12, tzinfo=UTC)
    columns = {"frequency": np.array([1, 4])}
    pred = P.on_weekdays("WE") & (field("frequency") >= 3)
    assert pred.mask(columns, as_of=wednesday).tolist() == [False, True]
    assert pred.mask(columns).tolist() == [False, False]  # no as_of: missing


def test_a_frame_is_shared_between_predicates() -> None:
    events = [Event("a", "purchase", datetime(2024, 5, 8, 12, tzinfo=UTC), "10")]
    frame = P.Frame(encode(events), tz="Europe/Berlin")
    assert P.Recurs("FREQ=MONTHLY;BYMONTHDAY=8").mask(frame).tolist() == [True]
    assert "local_date" in frame.cache
    assert P.on_weekdays("WE").mask(frame).tolist() == [True]
    with pytest.raises(InvalidType, match="mapping"):
        P.Always().mask([1])  # type: ignore[arg-type]


@given(any_predicate(), events(), members(tiers=(*LADDER, "legacy")))
def test_first_failure_is_none_exactly_when_the_predicate_holds(
    pred: P.Predicate, event: Event, member: Member
) -> None:
    ctx = Context(event, member, tz="Europe/Berlin", tiers=LADDER)
    failure = pred.first_failure(ctx)
    assert (failure is None) == pred.test(ctx)
    if failure is not None:
        assert not failure.test(ctx)
        assert not isinstance(failure, P.And)


@given(st.lists(st.integers(-700_000, 2_900_000), min_size=1, max_size=50))
def test_civil_date_arithmetic_matches_the_calendar(days: list[int]) -> None:
    from loyaltycore.calendar import civil, civil_days, days_in_month

    array = np.array(days, dtype=np.int64)
    year, month, day = civil(array)
    expected = [date(1970, 1, 1) + timedelta(days=d) for d in days]
    assert list(zip(year.tolist(), month.tolist(), day.tolist(), strict=True)) == [
        (e.year, e.month, e.day) for e in expected
    ]
    assert civil_days(year, month, day).tolist() == days
    lengths = [
        ((e.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)).day
        for e in expected
    ]
    assert days_in_month(year, month).tolist() == lengths


def test_facts_with_numpy_scalars_read_like_python_values() -> None:
    row = {
        "frequency": np.int64(3),
        "days_since_last": np.float64(12.5),
        "median_gap": np.float64("nan"),
        "total": np.int64(12_345),
        "last": np.int64(1_714_564_800_000_000),
        "previous": np.int64(MISSING_INT),
    }
    assert (field("frequency") >= 3).test(facts=row)
    assert (field("days_since_last") < 13).test(facts=row)
    assert not (field("median_gap") != 1.0).test(facts=row)
    assert (field("total") == "123.45").test(facts=row)
    assert (field("last") == datetime(2024, 5, 1, 12, tzinfo=UTC)).test(facts=row)
    assert not (field("previous") < datetime(2100, 1, 1, tzinfo=UTC)).test(facts=row)
