"""Earning rules: a 20-rule promotion set, scalar and batch, against business-rules.

Usage: ``python benchmarks/rules.py [--size tiny|full]``.

The workload mixes the promotions of ``docs/rules.md``: base earning, member
day (the 8th), double-points Wednesdays in the app, birthday-month double
points, a first-purchase bonus, tier-accelerated earning, a capped holiday
campaign, a referral bonus to the referrer, basket-size bonuses in an
exclusive group, status points, and a few channel, store, hour and segment
offers.

* ``RuleSet.evaluate`` (scalar, the trace included) on 100,000 events at full
  size (target >= 100,000 events/s);
* ``RuleSet.evaluate_batch`` on 1,000,000 events in columns (target >=
  2,000,000 events/s);
* the same 20 rules written for ``business-rules`` 1.1.1 (``run_all`` over the
  same events, on a 10,000-event sample) and as a hand-written chain of 20
  ``if`` statements (no trace, no limits), with the ratios printed.

``business-rules`` lives in the benchmark venv (``.venv-bench``); when it is
not importable the comparison is skipped with one line saying so. Timings are
the best of a few runs.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np

from loyaltycore.calendar import to_micros
from loyaltycore.predicates import (
    MISSING_INT,
    BirthdayMonth,
    Event,
    FirstPurchase,
    InSegment,
    Member,
    Recurs,
    during,
    field,
    on_weekdays,
)
from loyaltycore.rules import (
    Budget,
    FixedPoints,
    Limit,
    Multiplier,
    PointsPerSpend,
    Rule,
    RuleSet,
    TierMultiplier,
    Window,
)

SIZES = {
    "tiny": {"scalar": 5_000, "batch": 50_000, "reference": 500, "members": 2_000, "repeat": 1},
    "full": {
        "scalar": 100_000,
        "batch": 1_000_000,
        "reference": 10_000,
        "members": 100_000,
        "repeat": 3,
    },
}
SCALAR_TARGET = 100_000
BATCH_TARGET = 2_000_000
START = datetime(2024, 1, 1, tzinfo=UTC)
SPAN_DAYS = 366
TIERS = ("silver", "gold", "platinum")
CHANNELS = ("app", "web", "store")
STORES = ("s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8")
KINDS = ("purchase",) * 17 + ("referral", "review", "signup")


def rule_set() -> RuleSet:
    """The 20-rule promotion set of the benchmark."""
    holiday = Window(datetime(2024, 11, 25, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC))
    purchase = field("kind") == "purchase"
    rules = [
        Rule("base", purchase, PointsPerSpend("1"), base=True),
        Rule("status", purchase, PointsPerSpend("1", currency="status_points"), base=True),
        Rule("member-day", Recurs("FREQ=MONTHLY;BYMONTHDAY=8") & purchase, Multiplier("2")),
        Rule(
            "app-wednesday",
            on_weekdays("WE") & (field("channel") == "app") & purchase,
            Multiplier("2"),
            group="day-offer",
            priority=1,
        ),
        Rule(
            "weekend",
            on_weekdays("SA", "SU") & purchase,
            Multiplier("1.5"),
            group="day-offer",
            priority=2,
        ),
        Rule("birthday-month", BirthdayMonth() & purchase, Multiplier("2")),
        Rule("first-purchase", FirstPurchase(), FixedPoints(500), limit=Limit(times=1)),
        Rule(
            "tier-boost",
            purchase,
            TierMultiplier({"silver": "1.25", "gold": "1.5", "platinum": "2"}),
        ),
        Rule(
            "holiday",
            during(date(2024, 12, 1), date(2024, 12, 24)) & purchase,
            Multiplier("3"),
            limit=Limit(points=1_000, period="year"),
            valid=holiday,
        ),
        Rule(
            "referral",
            field("kind") == "referral",
            FixedPoints(1_000, recipient="referrer", pending_days=30),
        ),
        Rule("referral-welcome", field("kind") == "referral", FixedPoints(250)),
        Rule("basket-200", (field("amount") >= 200) & purchase, FixedPoints(150), group="basket"),
        Rule(
            "basket-100",
            (field("amount") >= 100) & purchase,
            FixedPoints(50),
            group="basket",
            priority=200,
        ),
        Rule("app-order", (field("channel") == "app") & purchase, FixedPoints(10)),
        Rule("flagship", field("store").isin({"s1", "s2"}) & purchase, FixedPoints(25)),
        Rule(
            "review",
            field("kind") == "review",
            FixedPoints(50),
            limit=Limit(times=3, period="month"),
        ),
        Rule("happy-hour", field("hour").between(14, 16) & purchase, FixedPoints(15)),
        Rule("vip", InSegment("vip") & purchase, Multiplier("1.5")),
        Rule(
            "welcome-month",
            field("days_since_joined").between(0, 30) & purchase,
            Multiplier("2"),
        ),
        Rule(
            "signup",
            field("kind") == "signup",
            FixedPoints(200, expires_after_days=90),
        ),
    ]
    return RuleSet(
        rules,
        tz="Europe/Paris",
        tiers=TIERS,
        budgets=[Budget("referrals", 10**12, {"referral"})],
    )


# -- data ---------------------------------------------------------------------


def member_columns(n: int, seed: int) -> dict[str, np.ndarray]:
    """``n`` members as columns (ids 0..n-1)."""
    rng = np.random.default_rng(seed)
    tier = np.array([None, *TIERS], dtype=object)[rng.integers(0, 4, n)]
    birthday = rng.integers(
        (date(1950, 1, 1) - date(1970, 1, 1)).days, (date(2005, 1, 1) - date(1970, 1, 1)).days, n
    )
    birthday[rng.random(n) < 0.2] = MISSING_INT
    joined = to_micros(START) + rng.integers(-400, SPAN_DAYS, n) * 86_400_000_000
    segments = np.empty(n, dtype=object)
    vip, plain = frozenset({"vip"}), frozenset()
    segments[:] = [vip if v else plain for v in (rng.random(n) < 0.1).tolist()]
    purchases = rng.integers(0, 3, n)
    return {
        "member_id": np.arange(n, dtype=np.int64),
        "tier": tier,
        "birthday": birthday.astype(np.int64),
        "joined_at": joined.astype(np.int64),
        "segments": segments,
        "counters.purchases": purchases.astype(np.int64),
    }


def event_columns(n: int, members: int, seed: int) -> dict[str, np.ndarray]:
    """``n`` events as columns, sorted by (member, at, id)."""
    rng = np.random.default_rng(seed)
    member = np.sort(rng.integers(0, members, n)).astype(np.int64)
    at = to_micros(START) + rng.integers(0, SPAN_DAYS * 86_400, n) * 1_000_000
    order = np.lexsort((at, member))
    member, at = member[order], at[order]
    kind = np.array(KINDS, dtype=object)[rng.integers(0, len(KINDS), n)]
    amount = np.round(rng.gamma(2.0, 40.0, n) * 100).astype(np.int64)
    amount[kind != "purchase"] = MISSING_INT
    channel = np.array(CHANNELS, dtype=object)[rng.integers(0, 3, n)]
    store = np.array(STORES, dtype=object)[rng.integers(0, len(STORES), n)]
    store[channel != "store"] = None
    referrer = np.empty(n, dtype=object)
    referrer[:] = None
    refs = np.flatnonzero(kind == "referral")
    referrer[refs] = [f"r{int(v)}" for v in rng.integers(0, members, refs.size)]
    return {
        "event_id": np.arange(n, dtype=np.int64),
        "member_id": member,
        "at": at.astype(np.int64),
        "kind": kind,
        "amount": amount,
        "channel": channel,
        "store": store,
        "attributes.referrer": referrer,
    }


def _micros_to_dt(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)


def objects(
    ev: dict[str, np.ndarray], mem: dict[str, np.ndarray], n: int
) -> list[tuple[Event, Member]]:
    """The first ``n`` events with their members, as objects."""
    members: dict[int, Member] = {}
    out = []
    for i in range(n):
        m = int(ev["member_id"][i])
        if m not in members:
            born = int(mem["birthday"][m])
            members[m] = Member(
                str(m),
                joined_at=_micros_to_dt(int(mem["joined_at"][m])),
                birthday=None if born == MISSING_INT else date(1970, 1, 1) + timedelta(days=born),
                tier=mem["tier"][m],
                segments=mem["segments"][m],
                counters={"purchases": int(mem["counters.purchases"][m])},
            )
        amount = int(ev["amount"][i])
        ref = ev["attributes.referrer"][i]
        event = Event(
            str(int(ev["event_id"][i])),
            ev["kind"][i],
            _micros_to_dt(int(ev["at"][i])),
            None if amount == MISSING_INT else Decimal(amount).scaleb(-2),
            channel=ev["channel"][i],
            store=ev["store"][i],
            attributes={} if ref is None else {"referrer": ref},
        )
        out.append((event, members[m]))
    return out


# -- engines --------------------------------------------------------------------


def best_of(repeat: int, func: Callable[[], Any]) -> tuple[float, Any]:
    """The fastest of ``repeat`` runs, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - started)
    return best, result


def run_scalar(rs: RuleSet, pairs: Sequence[tuple[Event, Member]]) -> int:
    total = 0
    for event, member in pairs:
        result = rs.evaluate(event, member)
        total += result.points
        result.trace.codes  # the trace is built for every event  # noqa: B018
    return total


def hand_written(pairs: Sequence[tuple[Event, Member]]) -> int:
    """The same 20 rules as a chain of ifs (no trace, no limits carried)."""
    from zoneinfo import ZoneInfo

    paris = ZoneInfo("Europe/Paris")
    boost = {"silver": Decimal("0.25"), "gold": Decimal("0.5"), "platinum": Decimal(1)}
    total = 0
    for event, member in pairs:
        local = event.at.astimezone(paris)
        purchase = event.kind == "purchase"
        amount = event.amount or Decimal(0)
        base = int(amount) if purchase else 0
        points = base
        if purchase and local.day == 8:
            points += base
        if purchase and local.weekday() == 2 and event.channel == "app":
            points += base
        elif purchase and local.weekday() >= 5:
            points += base // 2
        if purchase and member.birthday is not None and member.birthday.month == local.month:
            points += base
        if purchase and member.counters.get("purchases", 0) == 0:
            points += 500
        if purchase and member.tier in boost:
            points += int(base * boost[member.tier])
        if purchase and local.month == 12 and local.day <= 24:
            points += 2 * base
        if event.kind == "referral":
            points += 250
        if purchase and amount >= 200:
            points += 150
        elif purchase and amount >= 100:
            points += 50
        if purchase and event.channel == "app":
            points += 10
        if purchase and event.store in ("s1", "s2"):
            points += 25
        if event.kind == "review":
            points += 50
        if purchase and 14 <= local.hour <= 16:
            points += 15
        if purchase and "vip" in member.segments:
            points += base // 2
        if purchase and member.joined_at is not None:
            days = (local.date() - member.joined_at.astimezone(paris).date()).days
            if 0 <= days <= 30:
                points += base
        if event.kind == "signup":
            points += 200
        total += points
    return total


def business_rules_run(pairs: Sequence[tuple[Event, Member]]) -> int | None:
    """The same 20 rules for business-rules 1.1.1; None when it is not importable."""
    try:
        from business_rules import run_all
        from business_rules.actions import BaseActions, rule_action
        from business_rules.fields import FIELD_NUMERIC
        from business_rules.variables import (
            BaseVariables,
            boolean_rule_variable,
            numeric_rule_variable,
            select_rule_variable,
            string_rule_variable,
        )
    except ImportError:
        return None
    from zoneinfo import ZoneInfo

    paris = ZoneInfo("Europe/Paris")

    class Vars(BaseVariables):  # type: ignore[misc]
        def __init__(self, event: Event, member: Member) -> None:
            self.event, self.member = event, member
            self.local = event.at.astimezone(paris)

        @string_rule_variable  # type: ignore[misc]
        def kind(self) -> str:
            return self.event.kind

        @numeric_rule_variable  # type: ignore[misc]
        def amount(self) -> Decimal:
            return self.event.amount or Decimal(0)

        @string_rule_variable  # type: ignore[misc]
        def channel(self) -> str:
            return self.event.channel or ""

        @string_rule_variable  # type: ignore[misc]
        def store(self) -> str:
            return self.event.store or ""

        @numeric_rule_variable  # type: ignore[misc]
        def day(self) -> int:
            return self.local.day

        @numeric_rule_variable  # type: ignore[misc]
        def weekday(self) -> int:
            return self.local.weekday()

        @numeric_rule_variable  # type: ignore[misc]
        def month(self) -> int:
            return self.local.month

        @numeric_rule_variable  # type: ignore[misc]
        def hour(self) -> int:
            return self.local.hour

        @numeric_rule_variable  # type: ignore[misc]
        def birthday_month(self) -> int:
            return self.member.birthday.month if self.member.birthday else 0

        @numeric_rule_variable  # type: ignore[misc]
        def purchases(self) -> int:
            return self.member.counters.get("purchases", 0)

        @string_rule_variable  # type: ignore[misc]
        def tier(self) -> str:
            return self.member.tier or ""

        @select_rule_variable(options=["vip"])  # type: ignore[misc]
        def segments(self) -> list[str]:
            return sorted(self.member.segments)

        @boolean_rule_variable  # type: ignore[misc]
        def new_member(self) -> bool:
            if self.member.joined_at is None:
                return False
            joined = self.member.joined_at.astimezone(paris).date()
            return 0 <= (self.local.date() - joined).days <= 30

    class Acts(BaseActions):  # type: ignore[misc]
        def __init__(self, base: int) -> None:
            self.base, self.points = base, 0

        @rule_action(params={"points": FIELD_NUMERIC})  # type: ignore[misc]
        def add(self, points: float) -> None:
            self.points += int(points)

        @rule_action(params={"factor": FIELD_NUMERIC})  # type: ignore[misc]
        def multiply(self, factor: float) -> None:
            self.points += int(self.base * (Decimal(str(factor)) - 1))

    def cond(name: str, op: str, value: Any) -> dict[str, Any]:
        return {"name": name, "operator": op, "value": value}

    purchase = cond("kind", "equal_to", "purchase")

    def rule(conditions: list[dict[str, Any]], action: str, value: float) -> dict[str, Any]:
        key = "points" if action == "add" else "factor"
        return {
            "conditions": {"all": conditions},
            "actions": [{"name": action, "params": {key: value}}],
        }

    rules = [
        rule([purchase, cond("day", "equal_to", 8)], "multiply", 2),
        rule(
            [purchase, cond("weekday", "equal_to", 2), cond("channel", "equal_to", "app")],
            "multiply",
            2,
        ),
        rule([purchase, cond("weekday", "greater_than_or_equal_to", 5)], "multiply", 1.5),
        rule([purchase, cond("birthday_month", "greater_than", 0)], "multiply", 2),
        rule([purchase, cond("purchases", "equal_to", 0)], "add", 500),
        rule([purchase, cond("tier", "equal_to", "silver")], "multiply", 1.25),
        rule([purchase, cond("tier", "equal_to", "gold")], "multiply", 1.5),
        rule([purchase, cond("tier", "equal_to", "platinum")], "multiply", 2),
        rule(
            [purchase, cond("month", "equal_to", 12), cond("day", "less_than_or_equal_to", 24)],
            "multiply",
            3,
        ),
        rule([cond("kind", "equal_to", "referral")], "add", 250),
        rule([purchase, cond("amount", "greater_than_or_equal_to", 200)], "add", 150),
        rule([purchase, cond("amount", "greater_than_or_equal_to", 100)], "add", 50),
        rule([purchase, cond("channel", "equal_to", "app")], "add", 10),
        rule([purchase, cond("store", "equal_to", "s1")], "add", 25),
        rule([purchase, cond("store", "equal_to", "s2")], "add", 25),
        rule([cond("kind", "equal_to", "review")], "add", 50),
        rule(
            [
                purchase,
                cond("hour", "greater_than_or_equal_to", 14),
                cond("hour", "less_than_or_equal_to", 16),
            ],
            "add",
            15,
        ),
        rule([purchase, cond("segments", "contains", "vip")], "multiply", 1.5),
        rule([purchase, cond("new_member", "is_true", True)], "multiply", 2),
        rule([cond("kind", "equal_to", "signup")], "add", 200),
    ]
    total = 0
    for event, member in pairs:
        base = int(event.amount or 0) if event.kind == "purchase" else 0
        actions = Acts(base)
        run_all(rules, Vars(event, member), actions)
        total += base + actions.points
    return total


# -- main -----------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", choices=["tiny", "full"], default="full")
    args = parser.parse_args()
    size = SIZES[args.size]
    rs = rule_set()
    mem = member_columns(size["members"], seed=7)
    ev = event_columns(size["batch"], size["members"], seed=11)
    pairs = objects(ev, mem, size["scalar"])
    n_scalar, n_batch = len(pairs), len(ev["at"])
    print(f"rule set: {len(rs.rules)} rules; {size['members']:,} members")

    seconds, _ = best_of(size["repeat"], lambda: run_scalar(rs, pairs))
    scalar_rate = n_scalar / seconds
    verdict = "ok" if scalar_rate >= SCALAR_TARGET else "MISSED"
    print(
        f"evaluate (scalar, with trace), {n_scalar:,} events: {seconds:.3f} s = "
        f"{scalar_rate:,.0f} events/s (target >= {SCALAR_TARGET:,}: {verdict})"
    )

    seconds, batch = best_of(size["repeat"], lambda: rs.evaluate_batch(ev, mem))
    batch_rate = n_batch / seconds
    verdict = "ok" if batch_rate >= BATCH_TARGET else "MISSED"
    print(
        f"evaluate_batch, {n_batch:,} events: {seconds:.3f} s = "
        f"{batch_rate:,.0f} events/s (target >= {BATCH_TARGET:,}: {verdict})"
    )
    print(f"  points issued: {int(batch.points.sum()):,}")

    sample = pairs[: size["reference"]]
    seconds, _ = best_of(size["repeat"], lambda: hand_written(pairs))
    chain_rate = n_scalar / seconds
    print(f"hand-written chain of 20 ifs, {n_scalar:,} events: {chain_rate:,.0f} events/s")
    elapsed, reference = best_of(size["repeat"], lambda: business_rules_run(sample))
    if reference is None:
        print("business-rules 1.1.1: not importable here, comparison skipped")
    else:
        br_rate = len(sample) / elapsed
        print(f"business-rules 1.1.1 run_all, {len(sample):,} events: {br_rate:,.0f} events/s")
        print(f"ratio scalar / business-rules: {scalar_rate / br_rate:,.1f}x")
        print(f"ratio batch / business-rules: {batch_rate / br_rate:,.1f}x")
    print(f"ratio scalar / hand-written ifs: {scalar_rate / chain_rate:.2f}x")
    print(f"ratio batch / hand-written ifs: {batch_rate / chain_rate:,.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
