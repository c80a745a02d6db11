"""Orders share equal award lines and kept tuples: nothing a reader sees depends on it."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from loyaltycore.accounts import Account, Profile, _orders, _values, event_to_data, example_program
from loyaltycore.predicates import Item

PROGRAM = example_program()
START = datetime(2024, 5, 6, 8, tzinfo=UTC)
MENU = (
    (Item("latte", "drinks", 1, "4.50"),),
    (Item("croissant", "food", 2, "1.80"), Item("latte", "drinks", 3, "4.50")),
    (Item("beans", "retail", 2, "12.50"),),
    (Item("catering", "food", 1, "86.00"),),
)


def forget() -> None:
    """Empty the shared values, so the next order builds every part anew."""
    _values._SHARED.clear()
    _orders._lines.cache_clear()


def run(member: str, plan: list[tuple[int, int]], *, fresh: bool) -> Account:
    """Orders on ``(day, basket)``; ``fresh``: every one with nothing shared yet."""
    profile = Profile(birthday=date(1990, 5, 17))
    account = Account.open(member, program=PROGRAM, at=START, profile=profile)
    for k, (day, basket) in enumerate(plan):
        if fresh:
            forget()
        at = START + timedelta(days=day, minutes=k)
        account = account.order(f"o{k}", at=at, lines=MENU[basket], channel="app").account
    return account


def documents(account: Account) -> tuple[str, str]:
    events = json.dumps([event_to_data(e) for e in account.events], sort_keys=True)
    return events, json.dumps(account.snapshot(), sort_keys=True)


plans = st.lists(
    st.tuples(st.integers(0, 60), st.integers(0, len(MENU) - 1)), min_size=1, max_size=8
).map(sorted)


@settings(max_examples=30, deadline=None)
@given(plan=plans, refund=st.integers(0, 7))
def test_an_account_of_shared_parts_equals_one_built_from_fresh_parts(
    plan: list[tuple[int, int]], refund: int
) -> None:
    fresh = run("ann", plan, fresh=True)
    run("ben", plan, fresh=False)  # (the same baskets: their lines and tuples are kept)
    shared = run("ann", plan, fresh=False)
    assert shared == fresh
    assert documents(shared) == documents(fresh)
    assert pickle.loads(pickle.dumps(shared)) == fresh
    assert [e.outcome for e in shared.events] == [e.outcome for e in fresh.events]
    # a refund reads the kept parts: the same from either
    of = f"o{refund % len(plan)}"
    at = shared.last_at + timedelta(hours=1)
    if of in shared.orders:
        a = shared.refund("r-1", at=at, of=of)
        b = fresh.refund("r-1", at=at, of=of)
        assert a.outcome == b.outcome
        assert documents(a.account) == documents(b.account)


def test_equal_orders_keep_one_copy_of_their_lines_and_tuples() -> None:
    forget()
    a = run("ann", [(1, 1)], fresh=False)
    b = run("ben", [(1, 1)], fresh=False)  # (lines name the recipient: only tuples shared)
    assert a.orders["o0"].granted is b.orders["o0"].granted
    assert a.outcomes["o0"].outcome.lines != b.outcomes["o0"].outcome.lines
    again, anew = run("ann", [(1, 1)], fresh=False), run("ann", [(1, 1)], fresh=True)
    lines = a.outcomes["o0"].outcome.lines
    assert lines
    assert lines[0].points > 0
    assert again.outcomes["o0"].outcome.lines is lines
    assert anew.outcomes["o0"].outcome.lines is not lines
    assert anew.outcomes["o0"].outcome.lines == lines


def test_the_shared_values_are_bounded_and_equal_ones_are_the_first_seen() -> None:
    forget()
    first = ("x", 1, None)
    assert _values.shared(first) is first
    assert _values.shared(("x", 1, None)) is first
    for k in range(_values._SHARED_MAX + 10):
        _values.shared(("filler", k))
        assert len(_values._SHARED) <= _values._SHARED_MAX
    again = ("x", 1, None)
    assert _values.shared(again) == first
    forget()
