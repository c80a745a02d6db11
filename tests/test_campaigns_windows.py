"""Pre / during / post readouts per assigned member, from a transaction log."""

from __future__ import annotations

import pickle
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyaltycore.campaigns import compare, windows
from loyaltycore.errors import (
    EmptyArm,
    InvalidArgument,
    InvalidColumn,
    InvalidTime,
    InvalidType,
    LoyaltyError,
    NaiveDatetime,
)
from loyaltycore.transactions import TransactionLog

START = datetime(2024, 6, 10, tzinfo=UTC)
END = datetime(2024, 6, 17, tzinfo=UTC)
MEMBERS = ["a", "b", "c", "d"]
ARMS = ["treatment", "treatment", "control", "control"]


def _log(rows: list[tuple[str, datetime, str]], **kwargs: object) -> TransactionLog:
    customer, at, amount = zip(*rows, strict=True)
    return TransactionLog.from_arrays(
        list(customer), np.array(at, dtype=object), list(amount), **kwargs
    )


def test_windows_are_half_open_and_count_every_assigned_member() -> None:
    log = _log(
        [
            ("a", START - timedelta(days=7), "1.00"),  # first instant of pre-7
            ("a", START - timedelta(microseconds=1), "2.00"),  # last instant of pre
            ("a", START, "4.00"),  # first instant of during
            ("b", END - timedelta(microseconds=1), "8.00"),  # last instant of during
            ("c", END, "16.00"),  # first instant of post
            ("c", END + timedelta(days=7), "32.00"),  # first instant after post-7
            ("zz", START, "64.00"),  # not assigned: ignored
        ]
    )
    r = windows(log, MEMBERS, ARMS, start=START, end=END, horizons=(7, 8))
    assert r.pre.tolist() == [[300, 300], [0, 0], [0, 0], [0, 0]]
    assert r.during.tolist() == [400, 800, 0, 0]
    assert r.post.tolist() == [[0, 0], [0, 0], [1600, 4800], [0, 0]]
    assert r.member.tolist() == MEMBERS  # d never bought and is still there


def test_returns_are_netted_and_means_are_per_member_in_currency() -> None:
    log = TransactionLog.from_arrays(
        ["a", "a", "c"],
        np.array([START, START + timedelta(days=1), START], dtype=object),
        [50, -20, 10],
        is_return=[False, True, False],
    )
    r = windows(log, MEMBERS, ARMS, start=START, end=END, horizons=(7,))
    assert r.during.tolist() == [3000, 0, 1000, 0]
    during = r.row("during")
    assert (r.treatment_mean[during], r.control_mean[during]) == (15.0, 5.0)
    assert r.difference[during] == 10.0


def test_readout_rows_are_welch_comparisons_of_the_member_columns() -> None:
    rng = np.random.default_rng(0)
    n = 400
    members = np.arange(n)
    arm = np.where(rng.random(n) < 0.5, "treatment", "control")
    rows = 3000
    customer = rng.integers(0, n, rows)
    at = START + timedelta(days=-30) + rng.integers(0, 67 * 86400, rows) * timedelta(seconds=1)
    log = TransactionLog.from_arrays(customer, at.astype(object), rng.integers(1, 200, rows))
    r = windows(log, members, arm, start=START, end=END, horizons=(7, 30))
    treated = arm == "treatment"
    for window, horizon, values in [
        ("during", 0, r.during),
        ("pre", 30, r.pre[:, 1]),
        ("post", 7, r.post[:, 0]),
        ("during+post", 30, r.during + r.post[:, 1]),
    ]:
        c = compare(values[treated] / 100, values[~treated] / 100)
        i = r.row(window, horizon)
        assert (r.difference[i], r.low[i], r.high[i], r.p_value[i]) == pytest.approx(
            (c.difference, c.difference_low, c.difference_high, c.p_value)
        )


def test_pull_forward_is_the_share_of_the_lift_given_back() -> None:
    day = lambda d: datetime(2024, 6, d, 12, tzinfo=UTC)  # noqa: E731
    log = _log(
        [
            ("a", day(12), "20"),
            ("b", day(12), "20"),
            ("c", day(12), "10"),
            ("d", day(12), "10"),
            ("c", day(20), "5"),
            ("d", day(20), "5"),
        ]
    )
    r = windows(log, MEMBERS, ARMS, start=START, end=END, horizons=(7, 30))
    assert r.difference[r.row("during")] == 10.0
    assert r.difference[r.row("post", 7)] == -5.0
    assert r.pull_forward.tolist() == [0.5, 0.5]
    assert r.difference[r.row("during+post", 30)] == 5.0


def test_horizon_units_and_completeness() -> None:
    log = _log([("a", START, "1"), ("c", END + timedelta(days=40), "3")])
    months = windows(log, MEMBERS, ARMS, start=START, end=END, horizons=(1, 2), unit="month")
    assert months.post[:, 0].tolist() == [0, 0, 0, 0]  # 40 days is past one month (30.44 d)
    assert months.post[:, 1].tolist() == [0, 0, 300, 0]
    cut = windows(
        log, MEMBERS, ARMS, start=START, end=END, horizons=(7, 30), as_of=END + timedelta(days=10)
    )
    rows = zip(cut.window.tolist(), cut.horizon.tolist(), strict=True)
    assert dict(zip(rows, cut.complete.tolist(), strict=True)) == {
        ("during", 0): True,
        ("pre", 7): True,
        ("post", 7): True,
        ("during+post", 7): True,
        ("pre", 30): True,
        ("post", 30): False,
        ("during+post", 30): False,
    }
    local = windows(log, MEMBERS, ARMS, start=date(2024, 6, 10), end=date(2024, 6, 17), tz="UTC")
    assert local.during.tolist() == [100, 0, 0, 0]
    assert pickle.loads(pickle.dumps(local)) == local
    assert list(local.columns())[:3] == ["window", "horizon", "complete"]


@settings(max_examples=40)
@given(
    st.lists(
        st.tuples(st.integers(0, 9), st.integers(-40 * 24, 50 * 24), st.integers(-500, 500)),
        max_size=60,
    ),
    st.integers(1, 20),
)
def test_member_sums_add_up_to_the_log_inside_each_window(
    rows: list[tuple[int, int, int]], horizon: int
) -> None:
    members = list(range(8))  # customers 8 and 9 are not assigned
    arm = [True, False] * 4
    if rows:
        customer, hours, amount = (list(c) for c in zip(*rows, strict=True))
    else:
        customer, hours, amount = [], [], []
    at = [START + timedelta(hours=h) for h in hours]
    log = TransactionLog.from_arrays(
        np.array(customer, dtype=np.int64), np.array(at, dtype=object),
        np.array(amount, dtype=np.int64), minor_units=True,
        is_return=np.array([a < 0 for a in amount], dtype=bool),
    )  # fmt: skip
    r = windows(log, members, arm, start=START, end=END, horizons=(horizon,))

    def total(low: datetime, high: datetime) -> int:
        return sum(
            a for c, t, a in zip(customer, at, amount, strict=True) if c < 8 and low <= t < high
        )

    span = timedelta(days=horizon)
    assert int(r.during.sum()) == total(START, END)
    assert int(r.pre.sum()) == total(START - span, START)
    assert int(r.post.sum()) == total(END, END + span)


BAD = [
    ({"end": START}, InvalidTime, "end=.* must be after start="),
    ({"end": START - timedelta(days=1)}, InvalidTime, "must be after start"),
    ({"as_of": END - timedelta(days=1)}, InvalidTime, "as_of=.* must not be before end"),
    ({"start": datetime(2024, 6, 10)}, NaiveDatetime, "start=.* is naive"),
    ({"start": date(2024, 6, 10)}, NaiveDatetime, "start=.* is a date"),
    ({"start": "2024-06-10"}, InvalidType, "start='2024-06-10' must be an aware datetime"),
    ({"horizons": (30, 7)}, InvalidArgument, "must be distinct, increasing"),
    ({"horizons": ()}, InvalidArgument, "must be distinct, increasing and not empty"),
    ({"horizons": (0,)}, InvalidArgument, "horizons item=0 must be >= 1"),
    ({"horizons": 7}, InvalidType, "horizons=7 must be a sequence of ints"),
    ({"unit": "fortnight"}, InvalidArgument, "unit='fortnight' must be one of"),
    ({"arm": ["treatment", "control", "control"]}, InvalidColumn, "arm has 3 rows, expected 4"),
    ({"arm": ["treatment", "control", "control", "control"]}, EmptyArm, "treatment has 1 member"),
    (
        {"members": ["a", "b", "a", "d"]},
        InvalidColumn,
        "members\\[2\\]='a' repeats members\\[0\\]",
    ),
    ({"log": {"customer": [1]}}, InvalidType, "log must be a TransactionLog"),
]


@pytest.mark.parametrize(("change", "error", "message"), BAD)
def test_bad_readouts_raise_named_errors(
    change: dict[str, object], error: type[LoyaltyError], message: str
) -> None:
    kwargs: dict[str, object] = {
        "log": _log([("a", START, "1")]),
        "members": MEMBERS,
        "arm": ARMS,
        "start": START,
        "end": END,
    }
    kwargs.update(change)
    with pytest.raises(error, match=message):
        windows(**kwargs)  # type: ignore[arg-type]


def test_the_readout_keeps_the_campaign_dates_in_utc() -> None:
    log = _log([("a", START, "1")])
    r = windows(
        log, MEMBERS, ARMS, start=date(2024, 6, 10), end=date(2024, 6, 17), tz="Asia/Tokyo"
    )
    assert (r.start, r.end) == (START - timedelta(hours=9), END - timedelta(hours=9))
    assert r.ci == 0.95
