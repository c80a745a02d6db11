"""Tier status and the bounded state around it: activity, counters and cap usage.

The account keeps only the qualifying activity a future tier decision can
read: entries whose window instant is older than the program's horizon
(the longest window the ladder judges, its grace and extension, the refund
window) before the last evaluation are dropped. When the ladder counts all
activity ever (a lifetime window, a lifetime total), the dropped amounts are
kept as one entry per metric, dated before the horizon. Counters and cap
usage of periods that ended long ago are dropped too (margins below), so
the state stays the size of the member's recent activity.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Final

import attrs

from loyaltycore.accounts._program import Program
from loyaltycore.tiers import (
    Activity,
    Lifetime,
    Rolling,
    Span,
    TierEvent,
    TierProgram,
    TierStatus,
)

#: Source ids of the entries that keep the amounts of dropped activity.
CARRIED: Final = "~before:"
_FAR: Final = date(9999, 12, 31)
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_WEEK = re.compile(r"(\d{4})-W(\d{2})")
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_QUARTER = re.compile(r"(\d{4})-Q([1-4])")
_YEAR = re.compile(r"\d{4}")
_BIRTHDAY = re.compile(r"birthday-(\d{4})")


def _span_days(span: Span) -> int:
    return span.months * 31 + span.days


def horizon_days(program: Program) -> int:
    """How far back (days before the last evaluation) activity may still count."""
    tiers = program.tiers
    window = tiers.window
    extra = _span_days(tiers.grace) + _span_days(tiers.extension)
    if isinstance(window, Rolling):
        days = 31 * (window.months + 2) + _span_days(window.min_hold) + extra
    else:
        days = 366 * 3 + extra
    return max(days, program.refund_days + 31)


def keeps_totals(tiers: TierProgram) -> bool:
    """Whether the ladder reads all activity ever (so dropped amounts are carried)."""
    return isinstance(tiers.window, Lifetime) or any(
        rule.metric is not None for rule in tiers.lifetime
    )


def prune_activity(
    activity: tuple[Activity, ...], status: TierStatus, program: Program
) -> tuple[tuple[Activity, ...], TierStatus]:
    """Drop entries no future decision reads; the status's ``seen`` count follows.

    With ``retro="reopen"`` nothing is dropped: a review may judge any
    reviewed window again, from the whole history.
    """
    if program.retro == "reopen":
        return activity, status
    cutoff = status.evaluated_at - timedelta(days=horizon_days(program))
    status = _trimmed(status, cutoff)
    if status.challenge is not None:
        cutoff = min(cutoff, status.challenge.start)
    when = {(a.source_id, a.metric): a.occurred_at for a in activity}
    seen_at = status.evaluated_at

    def window(a: Activity) -> datetime:
        if a.reverses is None:
            return a.occurred_at
        return when.get((a.reverses, a.metric), a.occurred_at)

    drop = {
        i
        for i, a in enumerate(activity)
        if a.occurred_at <= seen_at and window(a) < cutoff and not a.source_id.startswith(CARRIED)
    }
    if not drop:
        return activity, status
    needed = {
        (a.reverses, a.metric)
        for i, a in enumerate(activity)
        if i not in drop and a.reverses is not None
    }
    drop = {i for i in drop if (activity[i].source_id, activity[i].metric) not in needed}
    if not drop:
        return activity, status
    kept = [a for i, a in enumerate(activity) if i not in drop]
    removed = len(drop)
    if keeps_totals(program.tiers):
        kept, removed = _carry(activity, drop, kept, removed, cutoff)
    return tuple(kept), attrs.evolve(status, seen=status.seen - removed)


def _trimmed(status: TierStatus, cutoff: datetime) -> TierStatus:
    """The status with its history cut to the join, the commands and the recent events."""
    history = status.history
    kept = history[:1] + tuple(
        e for e in history[1:] if e.at >= cutoff or e.kind in ("override", "challenge")
    )
    return status if len(kept) == len(history) else attrs.evolve(status, history=kept)


def _carry(
    activity: tuple[Activity, ...],
    drop: set[int],
    kept: list[Activity],
    removed: int,
    cutoff: datetime,
) -> tuple[list[Activity], int]:
    """Fold the dropped amounts (and earlier carried ones) into one entry per metric."""
    totals: dict[str, Decimal] = {}
    for i in sorted(drop):
        a = activity[i]
        totals[a.metric] = totals.get(a.metric, Decimal(0)) + a.amount
    for a in kept:
        if a.source_id.startswith(CARRIED):
            totals[a.metric] = totals.get(a.metric, Decimal(0)) + a.amount
            removed += 1
    kept = [a for a in kept if not a.source_id.startswith(CARRIED)]
    stamp = cutoff - timedelta(microseconds=1)
    carried = [
        Activity(metric, amount, stamp, CARRIED + metric)
        for metric, amount in sorted(totals.items())
        if amount != 0
    ]
    return carried + kept, removed - len(carried)


def may_change(status: TierStatus, program: Program, at: datetime) -> bool:
    """Whether the effective tier may have changed by ``at`` without new activity."""
    tiers = program.tiers
    tz = program.zone
    today = at.astimezone(tz).date()
    if today == status.evaluated_at.astimezone(tz).date():
        return False
    if tiers.upgrade == "period_end" or tiers.lifetime or status.challenge is not None:
        return True
    ends = [status.valid_until, status.earned_until, status.grace_until]
    if status.override is not None:
        ends.append(status.override.until)
    return any(end is not None and end < today for end in ends)


def before(
    status: TierStatus, activity: Iterable[Activity], program: Program, at: datetime
) -> TierStatus:
    """The status as of ``at`` before a new command's activity (what the rules read)."""
    if may_change(status, program, at):
        return program.tiers.evaluate(status, activity, as_of=at).status
    return status


def rank(tiers: TierProgram, name: str) -> int:
    """The position of tier ``name`` in the ladder (unknown names rank lowest)."""
    names = tiers.names
    return names.index(name) if name in names else -1


def change(tiers: TierProgram, old: str, new: str) -> str:
    """``"upgrade"``, ``"retain"`` or ``"downgrade"`` from ``old`` to ``new``."""
    if old == new:  # (most commands: no ladder lookup)
        return "retain"
    a, b = rank(tiers, old), rank(tiers, new)
    return "upgrade" if b > a else "downgrade" if b < a else "retain"


def joined(
    tiers: TierProgram,
    joined_at: datetime,
    at: datetime,
    tier: str | None,
    until: date | None,
    activity: Iterable[Activity],
) -> TierStatus:
    """A status under a (new) ladder: ``tier`` through ``until``, as of ``at``.

    The member keeps their join date, so activity since then still counts;
    the status is evaluated from ``at`` on (nothing before it is judged again).
    """
    names = tiers.names
    name = names[0] if tier is None else tier
    base = name == names[0]
    valid = None if base else until
    seen = sum(1 for a in activity if a.occurred_at <= at)
    event = TierEvent("join", at, name, name, valid, f"joined at {name}" if not base else "joined")
    return TierStatus(
        tier=name,
        valid_until=valid,
        earned=name,
        earned_until=valid,
        since=at,
        joined_at=joined_at,
        evaluated_at=at,
        years=(0,) * len(names),
        seen=seen,
        history=(event,),
    )


def override_until(until: date | None) -> date:
    """An override's last day for a tier valid through ``until`` (None: no end)."""
    return _FAR if until is None else until


# -- counters and cap usage ---------------------------------------------------------


def _label_over(label: str, today: date) -> bool:
    """Whether the period ``label`` ended long enough before ``today`` to forget it."""
    if _DAY.fullmatch(label):
        return date.fromisoformat(label) < today - timedelta(days=35)
    found = _WEEK.fullmatch(label)
    if found:
        monday = date.fromisocalendar(int(found[1]), int(found[2]), 1)
        return monday < today - timedelta(days=42)
    found = _MONTH.fullmatch(label)
    if found:
        return (int(found[1]), int(found[2])) < _months_back(today, 2)
    found = _QUARTER.fullmatch(label)
    if found:
        return (int(found[1]), 3 * int(found[2])) < _months_back(today, 6)
    if _YEAR.fullmatch(label):
        return int(label) < today.year - 1
    found = _BIRTHDAY.fullmatch(label)
    if found:
        return int(found[1]) < today.year - 2
    return False


def _months_back(day: date, months: int) -> tuple[int, int]:
    index = day.year * 12 + day.month - 1 - months
    return index // 12, index % 12 + 1


def prune_counters(counters: Mapping[str, int], today: date) -> dict[str, int]:
    """Rule counters (``rule/label/kind``) without the periods long over."""
    out = {}
    for key, value in counters.items():
        parts = key.rsplit("/", 2)
        if len(parts) == 3 and _label_over(parts[1], today):
            continue
        out[key] = value
    return out


def prune_caps(usage: Mapping[str, int], today: date) -> dict[str, int]:
    """Cap usage (``cap/label``) without the periods long over."""
    return {
        key: value
        for key, value in usage.items()
        if not _label_over(key.rsplit("/", 1)[-1], today)
    }
