"""What a member still needs: per metric, for the next tier and to keep the current one."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import attrs

from loyaltycore._validate import DECIMAL_CONTEXT
from loyaltycore.tiers._engine import Run
from loyaltycore.tiers._model import METRIC_NAMES, TierStatus
from loyaltycore.tiers._plan import (
    ONE_DAY,
    fmt_amount,
    fmt_date,
    from_units,
    local_day,
    next_review_day,
    window_of,
)

_VERBS = {
    "miles": "fly {} more miles",
    "nights": "stay {} more nights",
    "segments": "fly {} more segments",
    "spend": "spend {} more",
    "status_points": "earn {} more status points",
    "stays": "book {} more stays",
    "visits": "visit {} more times",
}


@attrs.frozen
class Gap:
    """One metric of one way to qualify: what counts so far and what is missing.

    >>> Gap("spend", Decimal("4200"), Decimal("5000")).short
    Decimal('800')
    """

    metric: str
    have: Decimal
    need: Decimal

    @property
    def short(self) -> Decimal:
        """How much more is needed (zero when met).

        >>> Gap("nights", Decimal(30), Decimal(25)).short
        Decimal('0')
        """
        return max(DECIMAL_CONTEXT.subtract(self.need, self.have), Decimal(0))

    def text(self) -> str:
        """``spend 800 more``.

        >>> Gap("nights", Decimal(20), Decimal(25)).text()
        'stay 5 more nights'
        """
        return _VERBS[self.metric].format(fmt_amount(self.short))


@attrs.frozen
class Goal:
    """A tier to reach or keep, the ways to qualify, and the last day to do it.

    ``options`` lists the alternative ways (any one suffices); each is a
    tuple of gaps that must all close. ``by`` is ``None`` when there is no
    deadline (lifetime window).

    >>> goal = Goal("keep", "Gold", date(2025, 12, 31), False,
    ...             ((Gap("spend", Decimal(4200), Decimal(5000)),),))
    >>> goal.message
    'spend 800 more before 31 Dec 2025 to keep Gold'
    """

    aim: str
    tier: str
    by: date | None
    met: bool
    options: tuple[tuple[Gap, ...], ...]

    @property
    def message(self) -> str:
        """The goal in one sentence.

        >>> Goal("reach", "Diamond", None, True, ()).message
        'Diamond reached'
        """
        if self.met:
            verb = "kept" if self.aim == "keep" else "reached"
            return f"{self.tier} {verb}"
        ways = " or ".join(
            " and ".join(gap.text() for gap in opt if gap.short > 0) for opt in self.options
        )
        when = f" before {fmt_date(self.by)}" if self.by is not None else ""
        aim = "to keep" if self.aim == "keep" else "to reach"
        return f"{ways}{when} {aim} {self.tier}"


@attrs.frozen
class Progress:
    """A member's progress: current tier, the goal to keep it, the goal for the next.

    >>> Progress("Gold", None, None, None).messages
    ()
    """

    tier: str
    valid_until: date | None
    keep: Goal | None
    next: Goal | None

    @property
    def messages(self) -> tuple[str, ...]:
        """The goals as sentences, keep first.

        >>> keep = Goal("keep", "Gold", None, True, ())
        >>> Progress("Gold", None, keep, None).messages
        ('Gold kept',)
        """
        return tuple(goal.message for goal in (self.keep, self.next) if goal is not None)


def _effort(gaps: tuple[Gap, ...]) -> tuple[int, Decimal]:
    """Closest way first: fewest open gaps, then the smallest share missing."""
    open_ = [DECIMAL_CONTEXT.divide(g.short, g.need) for g in gaps if g.short > 0]
    total = Decimal(0)
    for share in open_:
        total = DECIMAL_CONTEXT.add(total, share)
    return len(open_), total


def _goal(run: Run, aim: str, k: int, totals: list[int], by: date | None) -> Goal:
    plan = run.cfg.plan
    exps = plan.exponents
    met = False
    ways = []
    for opt in plan.options[k]:
        gaps = tuple(
            Gap(
                METRIC_NAMES[m],
                from_units(totals[m], METRIC_NAMES[m], exps),
                from_units(minimum, METRIC_NAMES[m], exps),
            )
            for m, minimum in opt
        )
        met = met or all(g.short == 0 for g in gaps)
        ways.append(gaps)
    ways.sort(key=_effort)
    return Goal(aim, plan.names[k], by, met, tuple(ways))


def progress(run: Run, status: TierStatus) -> Progress:
    """Goals for the member of ``status`` at ``run.t`` (already caught up)."""
    cfg = run.cfg
    day = local_day(run.t, cfg.tz)
    if cfg.kind == "rolling":
        review = next_review_day(cfg.review, day)
        start, end = window_of("rolling", review - ONE_DAY, run.anchor, cfg.months)
        by: date | None = review - ONE_DAY
    else:
        start, end = window_of(cfg.kind, day, run.anchor, cfg.months)
        by = None if cfg.kind == "lifetime" else end - ONE_DAY
    totals = run.totals(start, end)
    keep = None
    k = run.earned
    if k > 0 and cfg.kind != "lifetime":
        goal = _goal(run, "keep", k, totals, by)
        secured = run.valid_now(day) if cfg.kind != "rolling" else None
        if run.earned_until is not None and secured is not None and run.earned_until >= secured:
            goal = attrs.evolve(goal, met=True)
        keep = goal
    nxt = None
    if k + 1 < len(cfg.plan.names):
        nxt = _goal(run, "reach", k + 1, totals, by)
    return Progress(status.tier, status.valid_until, keep, nxt)
