"""Tier programs: scenarios, calendar edge cases, policies, plain data and pickling."""

from __future__ import annotations

import decimal
import json
import pickle
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest

import loyaltycore.tiers as tiers_module
from loyaltycore import serialize
from loyaltycore.errors import (
    DuplicateId,
    InvalidAmount,
    InvalidArgument,
    InvalidColumn,
    InvalidData,
    InvalidRule,
    InvalidTime,
    InvalidType,
    LoyaltyError,
    NaiveDatetime,
    NotFound,
    OutOfOrder,
    UnknownEvent,
)
from loyaltycore.tiers import (
    Activity,
    Anniversary,
    Benefits,
    CalendarYear,
    Lifetime,
    LifetimeRule,
    Rolling,
    Span,
    Threshold,
    Tier,
    TierProgram,
    TierStatus,
    at_least,
)

UTC = UTC
GOLDEN = Path(__file__).parent / "golden" / "tiers_v1.json"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def ladder() -> list[Tier]:
    return [
        Tier("Blue", 0),
        Tier("Silver", 1, at_least("nights", 10) | at_least("spend", 2000)),
        Tier("Gold", 2, at_least("nights", 25) | at_least("spend", 5000), Benefits("1.5")),
        Tier("Diamond", 3, at_least("nights", 60) | at_least("spend", 15000), Benefits(2)),
    ]


def program(**kwargs: Any) -> TierProgram:
    return TierProgram(ladder(), **kwargs)


def nights(n: int, at: datetime, source: str, **kw: Any) -> Activity:
    return Activity("nights", n, at, source, **kw)


def kinds(status: TierStatus) -> list[tuple[str, str]]:
    return [(e.kind, e.tier) for e in status.history]


# -- scenarios ----------------------------------------------------------------


def test_calendar_upgrade_is_valid_to_end_of_next_year_then_downgrades() -> None:
    p = program()
    status = p.join(utc(2024, 2, 1))
    log = [nights(26, utc(2024, 5, 3), "s1")]
    d = p.evaluate(status, log, as_of=utc(2024, 6, 1))
    assert (d.kind, d.tier, d.valid_until) == ("upgrade", "Gold", date(2025, 12, 31))
    assert d.status.since == utc(2024, 5, 3)
    d2 = p.evaluate(d.status, log, as_of=utc(2026, 1, 1))
    assert (d2.kind, d2.tier, d2.valid_until) == ("downgrade", "Blue", None)
    assert d2.events[-1].at == utc(2026, 1, 1)
    assert d2.reason == "did not requalify for Gold in 2025"


def test_requalifying_early_extends_validity() -> None:
    p = program()
    log = [nights(26, utc(2024, 5, 3), "s1"), nights(25, utc(2025, 3, 1), "s2")]
    st = p.evaluate(p.join(utc(2024, 1, 1)), log, as_of=utc(2025, 4, 1)).status
    assert st.valid_until == date(2026, 12, 31)
    assert kinds(st)[-1] == ("retain", "Gold")


def test_justified_downgrade_vs_soft_landing() -> None:
    log = [nights(61, utc(2024, 5, 3), "s1")]
    hard = program()
    st = hard.evaluate(hard.join(utc(2024, 1, 1)), log, as_of=utc(2026, 1, 1)).status
    assert st.tier == "Blue"
    soft = program(downgrade="soft")
    st = soft.evaluate(soft.join(utc(2024, 1, 1)), log, as_of=utc(2029, 1, 1)).status
    steps = [(e.at.year, e.tier) for e in st.history if e.kind == "downgrade"]
    assert steps == [(2026, "Gold"), (2027, "Silver"), (2028, "Blue")]
    assert "soft landing" in next(e.reason for e in st.history if e.kind == "downgrade")


def test_soft_landing_stops_at_the_justified_tier() -> None:
    soft = program(downgrade="soft")
    log = [nights(61, utc(2024, 5, 3), "s1"), nights(26, utc(2025, 5, 3), "s2")]
    st = soft.evaluate(soft.join(utc(2024, 1, 1)), log, as_of=utc(2026, 1, 1)).status
    assert (st.tier, st.valid_until) == ("Gold", date(2026, 12, 31))


def test_extension_moves_validity_to_end_of_january() -> None:
    p = program(extension=Span(months=1))
    log = [nights(26, utc(2024, 5, 3), "s1")]
    d = p.evaluate(p.join(utc(2024, 1, 1)), log, as_of=utc(2024, 6, 1))
    assert d.valid_until == date(2026, 1, 31)
    later = p.evaluate(d.status, log, as_of=utc(2026, 1, 31, 23)).status
    assert later.tier == "Gold"
    assert p.evaluate(later, log, as_of=utc(2026, 2, 1)).tier == "Blue"


def test_grace_keeps_tier_then_downgrades_at_its_end() -> None:
    p = program(grace=Span(months=3))
    log = [nights(26, utc(2024, 5, 3), "s1")]
    st = p.evaluate(p.join(utc(2024, 1, 1)), log, as_of=utc(2026, 2, 1)).status
    assert (st.tier, st.grace_until) == ("Gold", date(2026, 3, 31))
    st = p.evaluate(st, log, as_of=utc(2026, 4, 2)).status
    assert st.tier == "Blue"
    assert st.history[-1].at == utc(2026, 4, 1)


def test_requalifying_in_grace_restores_full_validity() -> None:
    p = program(grace=Span(months=3))
    log = [nights(26, utc(2024, 5, 3), "s1"), nights(25, utc(2026, 2, 10), "s2")]
    st = p.evaluate(p.join(utc(2024, 1, 1)), log, as_of=utc(2026, 6, 1)).status
    assert (st.tier, st.valid_until, st.grace_until) == ("Gold", date(2027, 12, 31), None)
    assert "during grace" in st.history[-1].reason


def test_period_end_upgrades_at_the_window_close() -> None:
    p = program(upgrade="period_end")
    log = [nights(26, utc(2024, 5, 3), "s1")]
    st = p.evaluate(p.join(utc(2024, 1, 1)), log, as_of=utc(2024, 12, 31)).status
    assert st.tier == "Blue"
    d = p.evaluate(st, log, as_of=utc(2025, 1, 1))
    assert (d.kind, d.tier, d.valid_until) == ("upgrade", "Gold", date(2025, 12, 31))


def test_year_end_in_a_zone_ahead_of_utc() -> None:
    # 2024-12-31 16:00 UTC is already 2025-01-01 01:00 in Tokyo.
    p = program(tz="Asia/Tokyo")
    late = [nights(26, utc(2024, 12, 31, 16), "s1")]
    d = p.evaluate(p.join(utc(2024, 1, 1)), late, as_of=utc(2025, 1, 2))
    assert d.valid_until == date(2026, 12, 31)
    early = [nights(26, utc(2024, 12, 31, 14, 59), "s1")]
    d = p.evaluate(p.join(utc(2024, 1, 1)), early, as_of=utc(2025, 1, 2))
    assert d.valid_until == date(2025, 12, 31)
    # the downgrade happens at local midnight: 2025-12-31 15:00 UTC
    after = p.evaluate(d.status, early, as_of=utc(2025, 12, 31, 15)).status
    assert after.tier == "Blue"
    assert after.history[-1].at == utc(2025, 12, 31, 15)


def test_year_end_in_auckland_daylight_time() -> None:
    p = program(tz="Pacific/Auckland")  # UTC+13 in December
    log = [nights(26, utc(2024, 12, 31, 11), "s1")]
    d = p.evaluate(p.join(utc(2024, 1, 1)), log, as_of=utc(2025, 1, 2))
    assert d.valid_until == date(2026, 12, 31)


def test_anniversary_from_feb_29_uses_feb_28() -> None:
    p = program(window=Anniversary())
    joined = utc(2024, 2, 29, 12)
    log = [nights(26, utc(2024, 6, 1), "s1")]
    d = p.evaluate(p.join(joined), log, as_of=utc(2024, 7, 1))
    # window Feb 29 2024 - Feb 27 2025; valid to the end of the next: Feb 27 2026
    assert d.valid_until == date(2026, 2, 27)
    activity = [*log, nights(25, utc(2025, 2, 28, 1), "s2")]
    st = p.evaluate(d.status, activity, as_of=utc(2025, 3, 1)).status
    assert st.valid_until == date(2027, 2, 27)


def test_rolling_reviews_monthly_with_a_minimum_hold() -> None:
    p = program(window=Rolling(months=3, min_hold=Span(months=6)))
    log = [nights(26, utc(2024, 1, 15), "s1")]
    d = p.evaluate(p.join(utc(2024, 1, 1)), log, as_of=utc(2024, 1, 20))
    assert (d.tier, d.valid_until) == ("Gold", date(2024, 7, 31))
    st = p.evaluate(d.status, log, as_of=utc(2024, 7, 31)).status
    assert st.tier == "Gold"
    st = p.evaluate(st, log, as_of=utc(2024, 8, 1)).status
    assert st.tier == "Blue"


def test_rolling_retains_while_the_trailing_window_qualifies() -> None:
    p = program(window=Rolling(months=2))
    log = [nights(26, utc(2024, 1, 15), "s1"), nights(26, utc(2024, 3, 10), "s2")]
    st = p.evaluate(p.join(utc(2024, 1, 1)), log, as_of=utc(2024, 5, 1)).status
    assert (st.tier, st.valid_until) == ("Gold", date(2024, 5, 31))
    st = p.evaluate(st, log, as_of=utc(2024, 6, 1)).status
    assert st.tier == "Blue"


def test_lifetime_window_never_expires() -> None:
    p = program(window=Lifetime())
    log = [nights(10, utc(2020, 1, 1), "a"), nights(16, utc(2023, 1, 1), "b")]
    st = p.evaluate(p.join(utc(2019, 1, 1)), log, as_of=utc(2030, 1, 1)).status
    assert (st.tier, st.valid_until) == ("Gold", None)


def test_lifetime_status_by_years_and_by_total() -> None:
    p = program(
        lifetime=[
            LifetimeRule("Gold", years=2),
            LifetimeRule("Diamond", metric="nights", total=100),
        ]
    )
    log = [nights(26, utc(2020, 5, 1), "a"), nights(26, utc(2021, 5, 1), "b")]
    st = p.evaluate(p.join(utc(2020, 1, 1)), log, as_of=utc(2030, 1, 1)).status
    assert (st.tier, st.lifetime, st.earned) == ("Gold", "Gold", "Blue")
    more = [*log, nights(50, utc(2025, 5, 1), "c")]
    st = p.evaluate(p.join(utc(2020, 1, 1)), more, as_of=utc(2030, 1, 1)).status
    assert (st.tier, st.lifetime) == ("Diamond", "Diamond")


def test_override_is_a_floor_until_a_date() -> None:
    p = program()
    st = p.override(
        p.join(utc(2025, 1, 1)),
        [],
        tier="Gold",
        until=date(2025, 3, 31),
        at=utc(2025, 1, 10),
        reason="service recovery",
    )
    assert (st.tier, st.valid_until, st.earned) == ("Gold", date(2025, 3, 31), "Blue")
    log = [nights(61, utc(2025, 2, 1), "s1")]
    st2 = p.evaluate(st, log, as_of=utc(2025, 2, 2)).status
    assert st2.tier == "Diamond"
    st3 = p.evaluate(st, [], as_of=utc(2025, 4, 1)).status
    assert st3.tier == "Blue"
    assert kinds(st3)[-1] == ("override_end", "Blue")


def test_challenge_won_and_lost() -> None:
    p = program()
    start = p.challenge(
        p.join(utc(2025, 1, 1)),
        [],
        tier="Gold",
        target=at_least("nights", 8),
        deadline=date(2025, 3, 31),
        at=utc(2025, 1, 5),
    )
    assert start.tier == "Gold"
    won = p.evaluate(start, [nights(8, utc(2025, 3, 1), "s")], as_of=utc(2025, 4, 1)).status
    assert (won.tier, won.earned, won.valid_until) == ("Gold", "Gold", date(2026, 12, 31))
    lost = p.evaluate(start, [nights(7, utc(2025, 3, 1), "s")], as_of=utc(2025, 4, 1))
    assert (lost.kind, lost.tier) == ("downgrade", "Blue")
    assert lost.events[-1].kind == "challenge_lost"


def test_returns_count_in_the_window_of_the_original() -> None:
    p = program()
    log = [nights(26, utc(2024, 12, 20), "s1"), nights(-2, utc(2025, 1, 5), "r1", reverses="s1")]
    # at review policy: the upgrade stands; the return counts in 2024
    st = p.evaluate(p.join(utc(2024, 1, 1)), log, as_of=utc(2025, 2, 1)).status
    assert st.tier == "Gold"
    assert p.progress(st, log, as_of=utc(2025, 2, 1)).next is not None


def test_return_at_once_undoes_an_unconfirmed_upgrade() -> None:
    log = [nights(26, utc(2024, 5, 1), "s1"), nights(-2, utc(2024, 6, 1), "r1", reverses="s1")]
    lazy = program()
    assert lazy.evaluate(lazy.join(utc(2024, 1, 1)), log, as_of=utc(2024, 7, 1)).tier == "Gold"
    eager = program(returns="at_once")
    d = eager.evaluate(eager.join(utc(2024, 1, 1)), log, as_of=utc(2024, 7, 1))
    assert (d.tier, d.status.history[-1].kind) == ("Silver", "downgrade")
    assert "r1" in d.reason


def test_reviewed_window_reopens_only_when_asked() -> None:
    p = program(returns="at_once")
    base = [nights(26, utc(2024, 5, 1), "s1")]
    st = p.evaluate(p.join(utc(2024, 1, 1)), base, as_of=utc(2025, 1, 10)).status
    late = [*base, nights(-20, utc(2025, 1, 10), "r1", reverses="s1")]
    kept = p.evaluate(st, late, as_of=utc(2025, 2, 1))
    assert kept.tier == "Gold"
    reopened = p.evaluate(st, late, as_of=utc(2025, 2, 1), reopen=True)
    assert reopened.tier == "Blue"
    assert reopened.kind == "downgrade"


def test_progress_messages() -> None:
    p = program()
    st = p.join(utc(2024, 1, 1), tier="Gold", valid_until=date(2025, 12, 31))
    log = [Activity("spend", "4200", utc(2025, 3, 1), "o1"), nights(20, utc(2025, 4, 1), "s1")]
    prog = p.progress(st, log, as_of=utc(2025, 5, 1))
    assert prog.keep is not None
    assert prog.keep.message == (
        "spend 800 more or stay 5 more nights before 31 Dec 2025 to keep Gold"
    )
    assert prog.next is not None
    assert prog.next.tier == "Diamond"
    assert [g.metric for g in prog.next.options[0]] == ["nights"]


def test_progress_after_requalifying_says_kept() -> None:
    p = program()
    log = [nights(26, utc(2025, 3, 1), "s1")]
    st = p.join(utc(2024, 1, 1), tier="Gold", valid_until=date(2025, 12, 31))
    prog = p.progress(st, log, as_of=utc(2025, 5, 1))
    assert prog.keep is not None
    assert prog.keep.met
    assert prog.messages[0] == "Gold kept"


def test_replay_rebuilds_the_status() -> None:
    p = program(grace=Span(months=1), downgrade="soft")
    log = [nights(61, utc(2024, 5, 1), "a"), nights(12, utc(2025, 6, 1), "b")]
    st = p.join(utc(2024, 1, 1))
    st = p.override(st, log, tier="Gold", until=date(2024, 4, 30), at=utc(2024, 2, 1))
    st = p.challenge(
        st,
        log,
        tier="Gold",
        target=at_least("nights", 30),
        deadline=date(2027, 3, 1),
        at=utc(2026, 6, 1),
    )
    st = p.evaluate(st, log, as_of=utc(2028, 1, 1)).status
    assert p.replay(st.history, log, as_of=utc(2028, 1, 1)) == st


def test_evaluating_in_steps_equals_evaluating_once() -> None:
    p = program(grace=Span(days=20), downgrade="soft")
    log = [
        nights(61, utc(2024, 5, 1), "a"),
        nights(12, utc(2025, 6, 1), "b"),
        nights(30, utc(2027, 2, 1), "c"),
    ]
    once = p.evaluate(p.join(utc(2024, 1, 1)), log, as_of=utc(2029, 1, 1)).status
    st = p.join(utc(2024, 1, 1))
    at = utc(2024, 1, 1)
    while at < utc(2029, 1, 1):
        at = min(at + timedelta(days=37), utc(2029, 1, 1))
        st = p.evaluate(st, log, as_of=at).status
    assert st == once


def test_min_hold_dates_from_the_upgrade_so_earlier_activity_can_end_it_earlier() -> None:
    # The one documented exception to monotonicity: the hold runs from the upgrade.
    p = program(window=Rolling(months=3, min_hold=Span(months=6)))
    later = [nights(26, utc(2024, 3, 15), "a")]
    earlier = [*later, nights(26, utc(2024, 1, 10), "b")]
    as_of = utc(2024, 8, 20)
    assert p.evaluate(p.join(utc(2024, 1, 1)), later, as_of=as_of).tier == "Gold"
    assert p.evaluate(p.join(utc(2024, 1, 1)), earlier, as_of=as_of).tier == "Blue"


def test_weekly_review_schedule() -> None:
    p = program(window=Rolling(months=1, review="FREQ=WEEKLY;BYDAY=MO"))
    log = [nights(26, utc(2025, 3, 5), "a")]  # a Wednesday
    d = p.evaluate(p.join(utc(2025, 1, 1)), log, as_of=utc(2025, 3, 6))
    assert d.valid_until == date(2025, 3, 9)  # the Sunday before the next Monday review
    later = p.evaluate(d.status, log, as_of=utc(2025, 4, 8)).status
    assert later.tier == "Blue"
    assert later.history[-1].at == utc(2025, 4, 7)


def test_decision_reports_retain_when_nothing_changes() -> None:
    p = program()
    st = p.join(utc(2025, 1, 1))
    d = p.evaluate(st, [], as_of=utc(2025, 2, 1))
    assert (d.kind, d.reason, d.events) == ("retain", "no change", ())


def test_qualify_and_classify_what_if() -> None:
    p = program()
    spend = np.array([100_000, 450_000, 550_000, 2_000_000], dtype=np.int64)
    ranks = p.classify({"spend": spend, "nights": np.zeros(4, dtype=np.int64)})
    assert ranks.tolist() == [0, 1, 2, 3]
    stricter = TierProgram(
        [
            *ladder()[:2],
            attrs.evolve(ladder()[2], requires=at_least("nights", 25) | at_least("spend", 6000)),
            ladder()[3],
        ]
    )
    after = stricter.classify({"spend": spend, "nights": np.zeros(4, dtype=np.int64)})
    assert int((after < ranks).sum()) == 1
    assert p.qualify({"spend": "5000"}).name == "Gold"
    soft = program(downgrade="soft")
    prior = np.array([3, 3, 3, 3])
    assert soft.classify(
        {"spend": spend, "nights": np.zeros(4, dtype=np.int64)}, prior=prior
    ).tolist() == [2, 2, 2, 3]


def test_benefits_earn_multiplier() -> None:
    assert program().tier("Gold").benefits.earn_multiplier == Decimal("1.5")


# -- bad input ----------------------------------------------------------------


def _bad_cases() -> list[tuple[str, Any, type[LoyaltyError]]]:
    blue = Tier("Blue", 0)
    return [
        (
            "unordered thresholds",
            lambda: TierProgram(
                [
                    blue,
                    Tier("Gold", 1, at_least("nights", 25)),
                    Tier("Dia", 2, at_least("nights", 20)),
                ]
            ),
            InvalidRule,
        ),
        (
            "other metric only",
            lambda: TierProgram(
                [
                    blue,
                    Tier("Gold", 1, at_least("nights", 25)),
                    Tier("Dia", 2, at_least("spend", 20)),
                ]
            ),
            InvalidRule,
        ),
        (
            "duplicate names",
            lambda: TierProgram([blue, Tier("Blue", 1, at_least("nights", 2))]),
            DuplicateId,
        ),
        (
            "duplicate ranks",
            lambda: TierProgram([blue, Tier("Gold", 0, at_least("nights", 2))]),
            DuplicateId,
        ),
        ("unknown metric", lambda: at_least("karma", 5), InvalidRule),
        ("zero threshold", lambda: at_least("nights", 0), InvalidRule),
        ("fractional nights", lambda: at_least("nights", "2.5"), InvalidRule),
        ("float money", lambda: at_least("spend", 5000.0), InvalidType),
        ("float activity", lambda: Activity("spend", 9.99, utc(2025, 1, 1), "o"), InvalidType),
        (
            "naive activity",
            lambda: Activity("nights", 1, datetime(2025, 1, 1), "o"),
            NaiveDatetime,
        ),
        ("zero activity", lambda: Activity("nights", 0, utc(2025, 1, 1), "o"), InvalidArgument),
        (
            "positive reversal",
            lambda: Activity("nights", 1, utc(2025, 1, 1), "o", reverses="x"),
            InvalidArgument,
        ),
        (
            "base with requirement",
            lambda: TierProgram([Tier("Blue", 0, at_least("visits", 1))]),
            InvalidRule,
        ),
        ("tier without requirement", lambda: TierProgram([blue, Tier("Gold", 1)]), InvalidRule),
        ("empty ladder", lambda: TierProgram([]), InvalidRule),
        ("not a tier", lambda: TierProgram([blue, "Gold"]), InvalidType),
        ("bad window", lambda: TierProgram([blue], window="year"), InvalidType),
        ("bad downgrade", lambda: program(downgrade="gentle"), InvalidArgument),
        ("bad zone", lambda: program(tz="Mars/Olympus"), InvalidArgument),
        (
            "extension on rolling",
            lambda: program(window=Rolling(), extension=Span(days=5)),
            InvalidRule,
        ),
        ("bad rrule", lambda: Rolling(review="FREQ=SOMETIMES"), InvalidRule),
        ("ending rrule", lambda: Rolling(review="FREQ=MONTHLY;COUNT=3"), InvalidRule),
        ("negative span", lambda: Span(months=-1), InvalidArgument),
        (
            "spend below a cent",
            lambda: TierProgram([blue, Tier("G", 1, at_least("spend", "1.001"))]),
            InvalidAmount,
        ),
        (
            "lifetime on base",
            lambda: program(lifetime=[LifetimeRule("Blue", years=3)]),
            InvalidRule,
        ),
        (
            "lifetime both",
            lambda: LifetimeRule("Gold", years=3, metric="nights", total=9),
            InvalidRule,
        ),
        (
            "naive as_of",
            lambda: program().evaluate(
                program().join(utc(2025, 1, 1)), [], as_of=datetime(2025, 2, 1)
            ),
            NaiveDatetime,
        ),
        (
            "as_of in the past",
            lambda: program().evaluate(program().join(utc(2025, 1, 1)), [], as_of=utc(2024, 2, 1)),
            OutOfOrder,
        ),
        (
            "activity before joining",
            lambda: program().evaluate(
                program().join(utc(2025, 1, 1)),
                [nights(3, utc(2024, 1, 1), "s")],
                as_of=utc(2025, 2, 1),
            ),
            InvalidArgument,
        ),
        (
            "duplicate activity",
            lambda: program().evaluate(
                program().join(utc(2025, 1, 1)),
                [nights(3, utc(2025, 1, 2), "s")] * 2,
                as_of=utc(2025, 2, 1),
            ),
            DuplicateId,
        ),
        (
            "unknown reversal",
            lambda: program().evaluate(
                program().join(utc(2025, 1, 1)),
                [nights(-3, utc(2025, 1, 2), "r", reverses="s")],
                as_of=utc(2025, 2, 1),
            ),
            UnknownEvent,
        ),
        ("unknown tier", lambda: program().tier("Platinum"), NotFound),
        (
            "join without validity",
            lambda: program().join(utc(2025, 1, 1), tier="Gold"),
            InvalidType,
        ),
        (
            "float column",
            lambda: program().classify({"spend": np.array([1.5]), "nights": np.array([1])}),
            InvalidColumn,
        ),
        ("missing column", lambda: program().classify({"spend": np.array([1])}), InvalidColumn),
        (
            "bad prior",
            lambda: program().classify(
                {"spend": np.array([1]), "nights": np.array([1])}, prior=[7]
            ),
            InvalidColumn,
        ),
        ("float totals", lambda: program().qualify({"spend": 10.5}), InvalidType),
        (
            "spend below a cent",
            lambda: program().evaluate(
                program().join(utc(2025, 1, 1)),
                [Activity("spend", "9.999", utc(2025, 1, 2), "o")],
                as_of=utc(2025, 2, 1),
            ),
            InvalidAmount,
        ),
        ("unknown totals metric", lambda: program().qualify({"karma": 3}), InvalidRule),
        (
            "override in the past",
            lambda: program().override(
                program().join(utc(2025, 1, 1)),
                [],
                tier="Gold",
                until=date(2025, 1, 31),
                at=utc(2025, 2, 1),
            ),
            InvalidTime,
        ),
        (
            "challenge deadline passed",
            lambda: program().challenge(
                program().join(utc(2025, 1, 1)),
                [],
                tier="Gold",
                target=at_least("nights", 2),
                deadline=date(2024, 12, 31),
                at=utc(2025, 1, 2),
            ),
            InvalidTime,
        ),
        (
            "join validity before joining",
            lambda: program().join(utc(2025, 1, 1), tier="Gold", valid_until=date(2024, 12, 31)),
            InvalidTime,
        ),
        (
            "challenge at the base tier",
            lambda: program().challenge(
                program().join(utc(2025, 1, 1)),
                [],
                tier="Blue",
                target=at_least("nights", 2),
                deadline=date(2025, 3, 1),
                at=utc(2025, 1, 2),
            ),
            InvalidRule,
        ),
        (
            "unknown override tier",
            lambda: program().override(
                program().join(utc(2025, 1, 1)),
                [],
                tier="Platinum",
                until=date(2025, 1, 31),
                at=utc(2025, 1, 2),
            ),
            NotFound,
        ),
        (
            "not a status",
            lambda: program().evaluate("Gold", [], as_of=utc(2025, 1, 1)),
            InvalidType,
        ),
        (
            "not an activity",
            lambda: program().evaluate(
                program().join(utc(2025, 1, 1)), [("nights", 3)], as_of=utc(2025, 2, 1)
            ),
            InvalidType,
        ),
        (
            "naive challenge start",
            lambda: program().challenge(
                program().join(utc(2025, 1, 1)),
                [],
                tier="Gold",
                target=at_least("nights", 2),
                deadline=date(2025, 3, 1),
                at=datetime(2025, 1, 2),
            ),
            NaiveDatetime,
        ),
    ]


@pytest.mark.parametrize(
    ("label", "call", "error"), _bad_cases(), ids=[c[0] for c in _bad_cases()]
)
def test_bad_input(label: str, call: Any, error: type[LoyaltyError]) -> None:
    with pytest.raises(error) as info:
        call()
    assert isinstance(info.value, LoyaltyError)
    assert str(info.value)


def test_bad_input_leaves_status_unchanged() -> None:
    p = program()
    st = p.join(utc(2025, 1, 1))
    before = pickle.dumps(st)
    with pytest.raises(OutOfOrder):
        p.evaluate(st, [], as_of=utc(2024, 1, 1))
    assert pickle.dumps(st) == before


# -- plain data and pickling -------------------------------------------------


def golden_program() -> TierProgram:
    return TierProgram(
        [
            Tier("Silver", 0, benefits=Benefits(1)),
            Tier(
                "Gold",
                1,
                at_least("miles", 25000) | at_least("segments", 30),
                Benefits("1.5", {"lounge"}),
            ),
            Tier(
                "Diamond",
                2,
                (at_least("miles", 75000) | at_least("segments", 100))
                & at_least("spend", "15000.00"),
                Benefits(2, {"lounge", "upgrades"}),
            ),
        ],
        window=Rolling(months=12, min_hold=Span(months=3)),
        tz="Pacific/Auckland",
        downgrade="soft",
        grace=Span(days=30),
        returns="at_once",
        lifetime=[
            LifetimeRule("Gold", years=10),
            LifetimeRule("Diamond", metric="miles", total=2_000_000),
        ],
    )


def test_golden_document_loads() -> None:
    text = GOLDEN.read_text().strip()
    loaded = serialize.loads(text, TierProgram)
    assert loaded == golden_program()
    assert serialize.dumps(golden_program()) == text


def test_round_trip_of_status_with_history() -> None:
    p = program(grace=Span(months=1))
    log = [nights(61, utc(2024, 5, 1), "a")]
    st = p.challenge(
        p.join(utc(2024, 1, 1)),
        log,
        tier="Gold",
        target=at_least("nights", 3),
        deadline=date(2026, 3, 1),
        at=utc(2025, 6, 1),
    )
    st = p.override(st, log, tier="Silver", until=date(2027, 1, 1), at=utc(2025, 7, 1))
    st = p.evaluate(st, log, as_of=utc(2026, 2, 1)).status
    data = serialize.to_data(st)
    assert serialize.from_data(json.loads(json.dumps(data))) == st
    for item in log:
        assert serialize.loads(serialize.dumps(item)) == item
    d = p.evaluate(st, log, as_of=utc(2026, 6, 1))
    assert serialize.loads(serialize.dumps(d)) == d


def test_bad_document_names_the_path() -> None:
    data = serialize.to_data(program())
    data["data"]["tiers"][1]["requires"]["items"][0]["amount"] = 10.5
    with pytest.raises(InvalidData) as info:
        serialize.from_data(data)
    assert "tiers[1]" in str(info.value)


def test_everything_pickles() -> None:
    p = golden_program()
    log = [Activity("miles", 30000, utc(2025, 1, 3), "f1")]
    d = p.evaluate(p.join(utc(2025, 1, 1)), log, as_of=utc(2025, 2, 1))
    prog = p.progress(d.status, log, as_of=utc(2025, 2, 1))
    for value in (
        p,
        d,
        d.status,
        log[0],
        prog,
        Threshold("nights", 3),
        InvalidRule("x", field="requires", value=1),
    ):
        again = pickle.loads(pickle.dumps(value))
        assert again == value or str(again) == str(value)
    assert pickle.loads(pickle.dumps(p)).evaluate(
        d.status, log, as_of=utc(2025, 3, 1)
    ) == p.evaluate(d.status, log, as_of=utc(2025, 3, 1))


def test_public_names_are_sorted_and_exist() -> None:
    assert tiers_module.__all__ == sorted(tiers_module.__all__)
    for name in tiers_module.__all__:
        assert hasattr(tiers_module, name)


def test_metrics_registry_is_read_only() -> None:
    with pytest.raises(TypeError):
        tiers_module.METRICS["karma"] = "count"  # type: ignore[index]
    assert CalendarYear() == CalendarYear()


def test_review_counts_the_window_under_way() -> None:
    # Gold to 31 Jan 2026 (extension); 12 nights in January 2026 justify Silver at the review.
    p = program(extension=Span(months=1))
    log = [nights(26, utc(2024, 5, 3), "s1"), nights(12, utc(2026, 1, 10), "s2")]
    d = p.evaluate(p.join(utc(2024, 1, 1)), log, as_of=utc(2026, 2, 1))
    assert (d.tier, d.valid_until) == ("Silver", date(2028, 1, 31))
    assert d.reason == "did not requalify for Gold in 2026"


def test_return_in_grace_restores_the_lapsed_tier_and_reviews_it_at_once() -> None:
    p = program(grace=Span(months=3), returns="at_once")
    log = [
        nights(26, utc(2024, 5, 3), "s1"),
        nights(61, utc(2026, 2, 1), "s2"),
        nights(-50, utc(2026, 5, 10), "r2", reverses="s2"),
    ]
    st = p.evaluate(p.join(utc(2024, 1, 1)), log, as_of=utc(2026, 3, 1)).status
    assert st.tier == "Diamond"
    d = p.evaluate(st, log, as_of=utc(2026, 6, 1))
    assert (d.tier, d.status.grace_until) == ("Silver", None)
    assert [e.kind for e in d.events] == ["downgrade", "downgrade"]
    assert all(e.at == utc(2026, 5, 10) for e in d.events)


def test_a_hosts_decimal_context_changes_nothing() -> None:
    p = program()
    st = p.join(utc(2024, 1, 1), tier="Gold", valid_until=date(2025, 12, 31))
    log = [Activity("spend", "4199.99", utc(2025, 3, 1), "o1")]
    expected = p.progress(st, log, as_of=utc(2025, 5, 1))
    with decimal.localcontext() as ctx:
        ctx.prec = 3
        ctx.rounding = decimal.ROUND_UP
        assert p.progress(st, log, as_of=utc(2025, 5, 1)) == expected
        assert p.qualify({"spend": "4999.99"}).name == "Silver"
    assert expected.messages[0].startswith("spend 800.01 more")


def test_late_activity_counts_when_it_is_seen() -> None:
    p = program()
    early = [nights(20, utc(2025, 5, 1), "s1")]
    st = p.evaluate(p.join(utc(2025, 1, 1)), early, as_of=utc(2025, 6, 1)).status
    assert st.tier == "Silver"
    late = [*early, nights(6, utc(2025, 5, 20), "partner-7")]
    d = p.evaluate(st, late, as_of=utc(2025, 6, 2))
    assert (d.kind, d.tier, d.events[-1].at) == ("upgrade", "Gold", utc(2025, 6, 2))
    assert p.evaluate(d.status, late, as_of=utc(2025, 6, 2)).events == ()


def test_rolling_period_end_upgrades_at_the_next_review() -> None:
    p = program(window=Rolling(months=12), upgrade="period_end")
    log = [nights(26, utc(2025, 3, 10), "s1")]
    st = p.evaluate(p.join(utc(2025, 1, 1)), log, as_of=utc(2025, 3, 31, 23)).status
    assert st.tier == "Blue"
    d = p.evaluate(st, log, as_of=utc(2025, 4, 1))
    assert (d.kind, d.tier, d.valid_until) == ("upgrade", "Gold", date(2025, 4, 30))
    assert d.events[-1].at == utc(2025, 4, 1)


def test_anniversary_period_end_upgrades_at_the_membership_year_end() -> None:
    p = program(window=Anniversary(), upgrade="period_end", tz="Asia/Tokyo")
    log = [nights(26, utc(2025, 8, 1), "s1")]
    d = p.evaluate(p.join(utc(2025, 6, 15)), log, as_of=utc(2026, 6, 15))
    # membership years start on 15 Jun (Tokyo); the close is at 2026-06-14 15:00 UTC
    assert (d.tier, d.valid_until) == ("Gold", date(2027, 6, 14))
    assert d.events[-1].at == utc(2026, 6, 14, 15)
