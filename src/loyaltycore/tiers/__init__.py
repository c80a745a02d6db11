"""Tier programs: ladders, qualification windows, upgrades, downgrades and progress.

A :class:`TierProgram` is a ladder of :class:`Tier` values with requirements
on qualifying metrics (spend, nights, miles, status points ... — never
redeemable points), a qualification window and the policies that decide
what happens when a member requalifies or not. A member's state is a
:class:`TierStatus`; :meth:`TierProgram.evaluate` advances it to ``as_of``
over the member's dated :class:`Activity` and returns a :class:`TierDecision`.
:meth:`TierProgram.classify` answers the same question for a million members
at once from metric columns.

>>> from datetime import datetime, timezone
>>> program = TierProgram(
...     [Tier("Member", 0), Tier("Gold", 1, at_least("nights", 25) | at_least("spend", 5000))],
...     window=CalendarYear(), tz="Asia/Tokyo")
>>> status = program.join(datetime(2025, 1, 10, tzinfo=timezone.utc))
>>> stays = [Activity("nights", 26, datetime(2025, 6, 1, tzinfo=timezone.utc), "stay-1")]
>>> decision = program.evaluate(status, stays, as_of=datetime(2025, 7, 1, tzinfo=timezone.utc))
>>> decision.kind, decision.tier, decision.valid_until
('upgrade', 'Gold', datetime.date(2026, 12, 31))

The qualifying metrics and their kinds are in :data:`METRICS`:

>>> sorted(METRICS), METRICS["spend"]
(['miles', 'nights', 'segments', 'spend', 'status_points', 'stays', 'visits'], 'money')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import Any, Literal

import attrs
import numpy as np
import numpy.typing as npt
from cattrs.strategies import configure_tagged_union

from loyaltycore import serialize
from loyaltycore._public import publish
from loyaltycore._validate import check_int, to_decimal, type_name
from loyaltycore.calendar import micros, to_utc, zone
from loyaltycore.errors import (
    DuplicateId,
    InvalidArgument,
    InvalidColumn,
    InvalidRule,
    InvalidTime,
    InvalidType,
    NotFound,
    OutOfOrder,
)
from loyaltycore.tiers._engine import (
    Config,
    LifetimeCheck,
    Run,
    prepare,
    set_challenge,
    set_override,
)
from loyaltycore.tiers._index import ActivityIndex
from loyaltycore.tiers._model import (
    METRIC_INDEX,
    METRIC_NAMES,
    METRICS,
    Activity,
    AllOf,
    Anniversary,
    AnyOf,
    Benefits,
    CalendarYear,
    Challenge,
    Lifetime,
    LifetimeRule,
    Override,
    Pending,
    Requirement,
    Rolling,
    Span,
    Threshold,
    Tier,
    TierDecision,
    TierEvent,
    TierStatus,
    Window,
    at_least,
)
from loyaltycore.tiers._plan import (
    Plan,
    compile_options,
    exponents_for,
    justified,
    meets,
    to_units,
)
from loyaltycore.tiers._progress import Gap, Goal, Progress, progress

__all__ = [
    "Activity",
    "ActivityIndex",
    "AllOf",
    "Anniversary",
    "AnyOf",
    "Benefits",
    "CalendarYear",
    "Challenge",
    "Gap",
    "Goal",
    "Lifetime",
    "LifetimeRule",
    "METRICS",
    "Override",
    "Progress",
    "Rolling",
    "Span",
    "Threshold",
    "Tier",
    "TierDecision",
    "TierEvent",
    "TierProgram",
    "TierStatus",
    "at_least",
]

_KINDS = {
    CalendarYear: "calendar",
    Anniversary: "anniversary",
    Rolling: "rolling",
    Lifetime: "lifetime",
}


def _tiers(value: object) -> tuple[Tier, ...]:
    if isinstance(value, Tier | str) or not isinstance(value, Iterable):
        raise InvalidType(
            f"tiers={value!r} must be a sequence of Tier", field="tiers", value=value
        )
    items = tuple(value)
    for item in items:
        if not isinstance(item, Tier):
            raise InvalidType(
                f"tiers item {item!r} must be a Tier, not {type_name(item)}",
                field="tiers",
                value=item,
            )
    return tuple(sorted(items, key=lambda t: t.rank))


def _choice(*allowed: str) -> Any:
    def check(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value not in allowed:
            raise InvalidArgument(
                f"{attribute.name}={value!r} must be one of {list(allowed)}",
                field=attribute.name,
                value=value,
            )

    return check


def _window(_: Any, __: Any, value: Any) -> None:
    if type(value) not in _KINDS:
        raise InvalidType(
            f"window={value!r} must be CalendarYear(), Anniversary(), Rolling() or Lifetime()",
            field="window",
            value=value,
        )


def _span(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, Span):
        raise InvalidType(
            f"{attribute.name}={value!r} must be a Span, not {type_name(value)}",
            field=attribute.name,
            value=value,
        )


@attrs.frozen
class TierProgram:
    """A tier ladder with its qualification window and policies.

    Args:
        tiers: the ladder, any order (sorted by rank); the lowest tier has no
            requirement and every higher tier's requirement implies the one
            below it.
        window: ``CalendarYear()``, ``Anniversary()``, ``Rolling(months=)``
            or ``Lifetime()``, in the zone ``tz``.
        tz: the program's IANA zone (a name or a ``tzinfo``).
        downgrade: ``"justified"`` drops at review to the tier the activity
            justifies; ``"soft"`` (soft landing) drops one step per review.
        grace: after ``valid_until`` the member keeps the tier this long;
            requalifying meanwhile restores full validity.
        extension: added to the end of status validity (calendar and
            anniversary windows), e.g. ``Span(months=1)`` for "to 31 Jan".
        upgrade: ``"immediate"`` (when a threshold is crossed) or
            ``"period_end"`` (at the window close; rolling: at reviews).
        returns: ``"at_review"`` (a return counts at the next review) or
            ``"at_once"`` (it undoes upgrades its window has not confirmed).
        lifetime: :class:`LifetimeRule` values.
        exponent: decimal places of the currency (spend in columns is in
            minor units).

    Raises:
        DuplicateId: two tiers share a name or a rank.
        InvalidRule: thresholds out of order, a missing or extra requirement,
            an unknown metric or a policy that does not fit the window.

    >>> TierProgram([Tier("Blue", 0), Tier("Gold", 1, at_least("nights", 25))]).names
    ('Blue', 'Gold')
    """

    tiers: tuple[Tier, ...] = attrs.field(converter=_tiers)
    window: Window = attrs.field(factory=CalendarYear, validator=_window)
    tz: tzinfo = attrs.field(default=zone("UTC"), converter=zone, kw_only=True)
    downgrade: Literal["justified", "soft"] = attrs.field(
        default="justified", validator=_choice("justified", "soft"), kw_only=True
    )
    grace: Span = attrs.field(factory=Span, validator=_span, kw_only=True)
    extension: Span = attrs.field(factory=Span, validator=_span, kw_only=True)
    upgrade: Literal["immediate", "period_end"] = attrs.field(
        default="immediate", validator=_choice("immediate", "period_end"), kw_only=True
    )
    returns: Literal["at_review", "at_once"] = attrs.field(
        default="at_review", validator=_choice("at_review", "at_once"), kw_only=True
    )
    lifetime: tuple[LifetimeRule, ...] = attrs.field(default=(), converter=tuple, kw_only=True)
    exponent: int = attrs.field(default=2, kw_only=True)
    _config: Config = attrs.field(init=False, eq=False, repr=False)

    @exponent.validator
    def _check_exponent(self, _: Any, value: Any) -> None:
        check_int(value, "exponent", minimum=0)
        if value > 6:
            raise InvalidArgument(
                f"exponent={value} must be at most 6", field="exponent", value=value
            )

    def __attrs_post_init__(self) -> None:
        _check_ladder(self.tiers)
        exps = exponents_for(self.exponent)
        opts = tuple(
            () if t.requires is None else compile_options(t.requires, exps, f"{t.name}.requires")
            for t in self.tiers
        )
        plan = Plan(
            tuple(t.name for t in self.tiers), tuple(t.rank for t in self.tiers), opts, exps
        )
        _check_order(plan)
        index = {name: i for i, name in enumerate(plan.names)}
        kind = _KINDS[type(self.window)]
        self._check_policies(kind)
        rolling = self.window if isinstance(self.window, Rolling) else Rolling()
        config = Config(
            plan=plan,
            positions=index,
            kind=kind,
            tz=self.tz,
            months=rolling.months,
            review=rolling.review,
            hold=rolling.min_hold,
            grace=self.grace,
            extension=self.extension,
            soft=self.downgrade == "soft",
            immediate=self.upgrade == "immediate" or kind == "lifetime",
            at_once=self.returns == "at_once",
            lifetime=tuple(self._lifetime_check(rule, index, exps) for rule in self.lifetime),
            pow10=tuple(10**e for e in exps),
        )
        object.__setattr__(self, "_config", config)

    def _check_policies(self, kind: str) -> None:
        if kind in ("rolling", "lifetime") and self.extension:
            raise InvalidRule(
                f"extension={self.extension!r} applies to calendar and anniversary windows only",
                field="extension",
                value=self.extension,
            )
        if kind == "lifetime" and (self.upgrade != "immediate" or self.grace):
            raise InvalidRule(
                "a Lifetime window upgrades immediately and never expires "
                f"(upgrade={self.upgrade!r}, grace={self.grace!r})",
                field="upgrade",
                value=self.upgrade,
            )

    @staticmethod
    def _lifetime_check(rule: Any, index: dict[str, int], exps: tuple[int, ...]) -> LifetimeCheck:
        if not isinstance(rule, LifetimeRule):
            raise InvalidType(
                f"lifetime item {rule!r} must be a LifetimeRule, not {type_name(rule)}",
                field="lifetime",
                value=rule,
            )
        if index.get(rule.tier, 0) == 0:
            raise InvalidRule(
                f"tier={rule.tier!r} of a lifetime rule must be a tier above the base",
                field="tier",
                value=rule.tier,
            )
        if rule.years is not None:
            return LifetimeCheck(index[rule.tier], rule.years, 0, 0)
        assert rule.metric is not None
        assert rule.total is not None
        units = to_units(rule.total, rule.metric, exps, "total")
        return LifetimeCheck(index[rule.tier], 0, METRIC_INDEX[rule.metric], units)

    # -- lookups ----------------------------------------------------------------

    @property
    def names(self) -> tuple[str, ...]:
        """Tier names, lowest first.

        >>> TierProgram([Tier("Gold", 5, at_least("visits", 9)), Tier("Base", 1)]).names
        ('Base', 'Gold')
        """
        return self._config.plan.names

    def tier(self, name: str) -> Tier:
        """The tier called ``name``.

        Raises:
            NotFound: no tier has that name.

        >>> TierProgram([Tier("Blue", 0)]).tier("Blue").rank
        0
        """
        index = self._config.positions.get(name) if isinstance(name, str) else None
        if index is None:
            raise NotFound(
                f"tier={name!r} is not a tier of this program", field="tier", value=name
            )
        return self.tiers[index]

    # -- members ----------------------------------------------------------------

    def join(
        self, joined_at: datetime, *, tier: str | None = None, valid_until: date | None = None
    ) -> TierStatus:
        """A new member's status (the base tier, or ``tier`` when migrating a member).

        Args:
            joined_at: when the member joined (aware).
            tier: a starting tier other than the base (then ``valid_until``
                is required, except with a ``Lifetime`` window).
            valid_until: the last local day of the starting tier.

        >>> from datetime import timezone
        >>> program = TierProgram([Tier("Blue", 0), Tier("Gold", 1, at_least("nights", 25))])
        >>> program.join(datetime(2025, 3, 1, tzinfo=timezone.utc), tier="Gold",
        ...              valid_until=date(2025, 12, 31)).valid_until
        datetime.date(2025, 12, 31)
        """
        at = to_utc(joined_at, "joined_at")
        name = self.names[0] if tier is None else self.tier(tier).name
        k = self._config.positions[name]
        until = self._check_until(k, valid_until)
        if until is not None:
            self._not_before(until, at, "valid_until")
        event = TierEvent(
            "join", at, name, name, until, "joined" if k == 0 else f"joined at {name}"
        )
        return TierStatus(
            tier=name,
            valid_until=until,
            earned=name,
            earned_until=until,
            since=at,
            joined_at=at,
            evaluated_at=at,
            years=(0,) * len(self.tiers),
            history=(event,),
        )

    def _check_until(self, k: int, valid_until: object) -> date | None:
        if k == 0 or self._config.kind == "lifetime":
            if valid_until is not None and k == 0:
                raise InvalidArgument(
                    "valid_until must be None for the base tier",
                    field="valid_until",
                    value=valid_until,
                )
            return None
        if not isinstance(valid_until, date) or isinstance(valid_until, datetime):
            raise InvalidType(
                f"valid_until={valid_until!r} must be a date for tier {self.names[k]!r}",
                field="valid_until",
                value=valid_until,
            )
        return valid_until

    def _not_before(self, day: date, at: datetime, name: str) -> None:
        """``day`` must not end before the local date of ``at``."""
        today = at.astimezone(self.tz).date()
        if day < today:
            raise InvalidTime(
                f"{name}={day.isoformat()} is before the local date of the command "
                f"({today.isoformat()})",
                field=name,
                value=day,
            )

    def _check_status(self, status: object) -> TierStatus:
        if not isinstance(status, TierStatus):
            raise InvalidType(
                f"status={status!r} must be a TierStatus, not {type_name(status)}",
                field="status",
                value=status,
            )
        index = self._config.positions
        if status.tier not in index or status.earned not in index:
            for name in (status.tier, status.earned):
                self.tier(name)
        if len(status.years) != len(self.tiers):
            raise InvalidArgument(
                f"status.years={status.years!r} does not fit a ladder of {len(self.tiers)} tiers",
                field="years",
                value=status.years,
            )
        return status

    def _run(self, status: TierStatus, activity: Iterable[Activity], at: object, name: str) -> Run:
        """Advance ``status`` to ``at``."""
        status = self._check_status(status)
        hi = micros(to_utc(at, name))
        entries = prepare(self._config, activity, micros(status.joined_at))
        index = activity if isinstance(activity, ActivityIndex) else None
        run = Run(self._config, status, entries, index)
        if hi < run.t:
            raise OutOfOrder(
                f"{name}={to_utc(at, name).isoformat()} is before the status was last evaluated "
                f"({status.evaluated_at.isoformat()})",
                field=name,
                value=at,
            )
        run.run(hi)
        return run

    def evaluate(
        self,
        status: TierStatus,
        activity: Iterable[Activity],
        *,
        as_of: datetime,
        reopen: bool = False,
    ) -> TierDecision:
        """Advance ``status`` to ``as_of`` over the member's ``activity``.

        ``activity`` is the member's whole qualifying activity (entries before
        ``status.evaluated_at`` are needed for window totals). Evaluating again
        at the same ``as_of`` changes nothing. A window that was already
        reviewed is judged again only with ``reopen=True``, which replays the
        member's history over the current activity.

        Args:
            status: the member's status.
            activity: :class:`Activity` entries, any order.
            as_of: the instant to evaluate at; not before ``status.evaluated_at``.
            reopen: rebuild from the history so late returns and corrections
                count in windows already reviewed.

        Returns:
            The decision: kind, tier, valid_until, reason and the new status.

        Raises:
            OutOfOrder: ``as_of`` is before ``status.evaluated_at``.
            NaiveDatetime: ``as_of`` is naive.

        >>> from datetime import timezone
        >>> program = TierProgram([Tier("Blue", 0), Tier("Gold", 1, at_least("nights", 25))])
        >>> status = program.join(datetime(2024, 3, 1, tzinfo=timezone.utc), tier="Gold",
        ...                       valid_until=date(2024, 12, 31))
        >>> new_year = datetime(2025, 1, 1, tzinfo=timezone.utc)
        >>> decision = program.evaluate(status, [], as_of=new_year)
        >>> decision.kind, decision.tier, decision.reason
        ('downgrade', 'Blue', 'did not requalify for Gold in 2024')
        """
        if reopen:
            self._check_status(status)
            new = self.replay(status.history, activity, as_of=as_of, reopen=True)
            events = new.history[_common(status.history, new.history) :]
        else:
            run = self._run(status, activity, as_of, "as_of")
            new = run.result()
            events = tuple(run.events)
        return _decision(self, status, new, events)

    def index(self, activity: Iterable[Activity]) -> ActivityIndex:
        """``activity`` checked once and indexed with running totals (see :class:`ActivityIndex`).

        Raises:
            DuplicateId, UnknownEvent, InvalidType, InvalidAmount: as :meth:`evaluate`.

        >>> from datetime import timezone
        >>> program = TierProgram([Tier("Blue", 0), Tier("Gold", 1, at_least("nights", 25))])
        >>> at = datetime(2025, 3, 1, tzinfo=timezone.utc)
        >>> index = program.index([Activity("nights", 26, at, "stay-1")])
        >>> program.evaluate(program.join(at), index, as_of=at).kind
        'upgrade'
        """
        cfg = self._config
        return ActivityIndex._build(activity, cfg.pow10, cfg.plan.exponents)

    def index_from_rows(
        self, rows: Sequence[Sequence[object]], *, path: str = "$"
    ) -> ActivityIndex:
        """The index of plain rows (:meth:`ActivityIndex.rows`), checked as :class:`Activity` is.

        The entries become :class:`Activity` values only when asked for
        (:attr:`ActivityIndex.activity`): a tier check reads the rows' units.

        Raises:
            InvalidData: naming ``path`` and the index of every bad row.

        >>> from datetime import timezone
        >>> program = TierProgram([Tier("Blue", 0), Tier("Gold", 1, at_least("nights", 25))])
        >>> at = datetime(2025, 3, 1, tzinfo=timezone.utc)
        >>> rows = program.index([Activity("nights", 26, at, "stay-1")]).rows()
        >>> program.evaluate(program.join(at), program.index_from_rows(rows), as_of=at).kind
        'upgrade'
        >>> program.index_from_rows([["nights", "0", "2025-03-01", "s", None]])
        Traceback (most recent call last):
        ...
        loyaltycore.errors.InvalidData: invalid activity:
          amount='0' is not valid @ $[0]
          occurred_at='2025-03-01' is not valid @ $[0]
        """
        cfg = self._config
        return ActivityIndex._from_rows(rows, cfg.pow10, cfg.plan.exponents, path)

    def override(
        self,
        status: TierStatus,
        activity: Iterable[Activity],
        *,
        tier: str,
        until: date,
        at: datetime,
        reason: str = "",
    ) -> TierStatus:
        """Set a manual floor: the member holds at least ``tier`` through ``until``.

        The status is first advanced to ``at``. A later override replaces an
        earlier one.

        >>> from datetime import timezone
        >>> program = TierProgram([Tier("Blue", 0), Tier("Gold", 1, at_least("nights", 25))])
        >>> joined = datetime(2025, 1, 1, tzinfo=timezone.utc)
        >>> status = program.override(program.join(joined), [], tier="Gold",
        ...     until=date(2025, 6, 30), at=joined, reason="service recovery")
        >>> status.tier, status.valid_until
        ('Gold', datetime.date(2025, 6, 30))
        """
        order = Override(self.tier(tier).name, until, reason)
        self._not_before(order.until, to_utc(at, "at"), "until")
        run = self._run(status, activity, at, "at")
        set_override(run, order)
        return run.result()

    def challenge(
        self,
        status: TierStatus,
        activity: Iterable[Activity],
        *,
        tier: str,
        target: Requirement,
        deadline: date,
        at: datetime,
    ) -> TierStatus:
        """Start a challenge (status match): ``tier`` now, kept if ``target`` is met in time.

        The member holds ``tier`` through ``deadline``; meeting ``target`` with
        activity from ``at`` through ``deadline`` earns it as if qualified then.

        >>> from datetime import timezone
        >>> program = TierProgram([Tier("Blue", 0), Tier("Gold", 1, at_least("nights", 25))])
        >>> joined = datetime(2025, 1, 1, tzinfo=timezone.utc)
        >>> status = program.challenge(program.join(joined), [], tier="Gold",
        ...     target=at_least("nights", 8), deadline=date(2025, 3, 31), at=joined)
        >>> status.tier, status.earned
        ('Gold', 'Blue')
        """
        if self._config.positions[self.tier(tier).name] == 0:
            raise InvalidRule(
                f"tier={tier!r} of a challenge must be above the base tier",
                field="tier",
                value=tier,
            )
        order = Challenge(tier, target, to_utc(at, "at"), deadline)
        self._not_before(order.deadline, order.start, "deadline")
        run = self._run(status, activity, at, "at")
        set_challenge(run, order)
        return run.result()

    def replay(
        self,
        history: Sequence[TierEvent],
        activity: Iterable[Activity],
        *,
        as_of: datetime,
        reopen: bool = False,
    ) -> TierStatus:
        """Rebuild a status from its history's commands and the activity.

        The join event and the override and challenge commands are applied
        again at their times; everything else is recomputed. With the same
        activity this gives back the status the history came from. With
        ``reopen=True`` every return is dated back to the entry it reverses,
        so windows already reviewed are judged as if the returned activity
        had never happened.

        >>> from datetime import timezone
        >>> program = TierProgram([Tier("Blue", 0), Tier("Gold", 1, at_least("nights", 25))])
        >>> status = program.join(datetime(2025, 1, 1, tzinfo=timezone.utc))
        >>> as_of = datetime(2025, 2, 1, tzinfo=timezone.utc)
        >>> later = program.evaluate(status, [], as_of=as_of).status
        >>> program.replay(later.history, [], as_of=as_of) == later
        True
        """
        events = tuple(history)
        if not events or not isinstance(events[0], TierEvent) or events[0].kind != "join":
            raise InvalidArgument(
                "history must start with a join event", field="history", value=events[:1]
            )
        activity = _backdated(tuple(activity)) if reopen else tuple(activity)
        first = events[0]
        join_until = None if self._config.positions.get(first.tier, 0) == 0 else first.valid_until
        status = self.join(first.at, tier=first.tier, valid_until=join_until)
        for event in events[1:]:
            if event.kind == "override" and event.override is not None:
                o = event.override
                status = self.override(
                    status, activity, tier=o.tier, until=o.until, at=event.at, reason=o.reason
                )
            elif event.kind == "challenge" and event.challenge is not None:
                c = event.challenge
                status = self.challenge(
                    status,
                    activity,
                    tier=c.tier,
                    target=c.target,
                    deadline=c.deadline,
                    at=event.at,
                )
        return self.evaluate(status, activity, as_of=as_of).status

    def progress(
        self, status: TierStatus, activity: Iterable[Activity], *, as_of: datetime
    ) -> Progress:
        """What is still needed, per metric, to keep the tier and to reach the next.

        >>> from datetime import timezone
        >>> gold = at_least("nights", 25) | at_least("spend", 5000)
        >>> program = TierProgram([Tier("Blue", 0), Tier("Gold", 1, gold)])
        >>> status = program.join(datetime(2024, 3, 1, tzinfo=timezone.utc), tier="Gold",
        ...                       valid_until=date(2025, 12, 31))
        >>> spent = [Activity("spend", "4200", datetime(2025, 5, 1, tzinfo=timezone.utc), "o-1")]
        >>> june = datetime(2025, 6, 1, tzinfo=timezone.utc)
        >>> program.progress(status, spent, as_of=june).messages
        ('spend 800 more or stay 25 more nights before 31 Dec 2025 to keep Gold',)
        """
        run = self._run(status, activity, as_of, "as_of")
        return progress(run, run.result())

    # -- what-ifs -----------------------------------------------------------------

    def qualify(self, totals: Mapping[str, Decimal | int | str], prior: str | None = None) -> Tier:
        """The tier window ``totals`` justify; with ``prior``, the outcome of a review.

        At a review a member keeps or raises ``prior`` when the totals justify
        it, else drops to the justified tier (``downgrade="soft"``: one step).

        >>> program = TierProgram([Tier("Blue", 0), Tier("Gold", 1, at_least("nights", 25)),
        ...                        Tier("Diamond", 2, at_least("nights", 60))], downgrade="soft")
        >>> program.qualify({"nights": 30}).name, program.qualify({}, prior="Diamond").name
        ('Gold', 'Gold')
        """
        units = [0] * len(METRIC_NAMES)
        for metric, amount in _mapping(totals, "totals").items():
            m = METRIC_INDEX.get(metric)
            if m is None:
                raise InvalidRule(
                    f"metric={metric!r} is not a known metric", field="metric", value=metric
                )
            value = to_decimal(amount, metric, allow_negative=True)
            units[m] = to_units(value, metric, self._config.plan.exponents, metric)
        k = justified(self._config.plan, units)
        if prior is not None:
            k = self._review_one(k, self._config.positions[self.tier(prior).name])
        return self.tiers[k]

    def _review_one(self, k: int, old: int) -> int:
        if k >= old:
            return k
        return max(k, old - 1) if self._config.soft else k

    def classify(
        self, columns: Mapping[str, npt.ArrayLike], prior: npt.ArrayLike | None = None
    ) -> npt.NDArray[np.int64]:
        """Vectorized :meth:`qualify`: the rank of each member's tier.

        Args:
            columns: metric name -> int array of window totals (spend in minor
                units); metrics the ladder does not read are ignored.
            prior: ranks of the members' current tiers, for the review outcome.

        Returns:
            int64 ranks, one per member.

        Raises:
            InvalidColumn: a needed column is missing, not integer, or of
                another length; a prior rank is not a tier's.

        >>> program = TierProgram([Tier("Blue", 0), Tier("Gold", 1, at_least("spend", 5000))])
        >>> program.classify({"spend": np.array([499_999, 500_000])})
        array([0, 1])
        """
        plan = self._config.plan
        needed = sorted({METRIC_NAMES[m] for opts in plan.options for o in opts for m, _ in o})
        arrays, size = _columns(columns, needed)
        result = np.zeros(size, dtype=np.int64)
        for k in range(1, len(plan.names)):
            mask = np.zeros(size, dtype=np.bool_)
            for opt in plan.options[k]:
                part = np.ones(size, dtype=np.bool_)
                for m, minimum in opt:
                    part &= arrays[METRIC_NAMES[m]] >= minimum
                mask |= part
            result += mask
        if prior is not None:
            old = self._prior_index(prior, size)
            lower = result < old
            fallback = np.maximum(result, old - 1) if self._config.soft else result
            result = np.where(lower, fallback, result)
        ranks = np.asarray(plan.ranks, dtype=np.int64)
        out: npt.NDArray[np.int64] = ranks[result]
        return out

    def _prior_index(self, prior: npt.ArrayLike, size: int) -> npt.NDArray[np.int64]:
        array = np.asarray(prior)
        if array.dtype.kind not in "iu" or array.shape != (size,):
            raise InvalidColumn(
                f"prior must be an int array of {size} ranks, not {array.dtype}{array.shape}",
                field="prior",
            )
        ranks = np.asarray(self._config.plan.ranks, dtype=np.int64)
        index = np.searchsorted(ranks, array)
        bad = (index >= len(ranks)) | (ranks[np.minimum(index, len(ranks) - 1)] != array)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InvalidColumn(
                f"prior[{row}]={array[row]} is not a tier rank", field="prior", row=row
            )
        out: npt.NDArray[np.int64] = index.astype(np.int64)
        return out


def _backdated(activity: tuple[Activity, ...]) -> tuple[Activity, ...]:
    """Returns moved to the time of the entry they reverse (unknown ones unchanged)."""
    when = {(a.source_id, a.metric): a.occurred_at for a in activity if isinstance(a, Activity)}
    result = []
    for a in activity:
        original = None
        if isinstance(a, Activity) and a.reverses is not None:
            original = when.get((a.reverses, a.metric))
        result.append(a if original is None else attrs.evolve(a, occurred_at=original))
    return tuple(result)


def _mapping(value: object, name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidType(
            f"{name}={value!r} must be a mapping, not {type_name(value)}", field=name, value=value
        )
    return value


def _columns(
    columns: Mapping[str, npt.ArrayLike], needed: list[str]
) -> tuple[dict[str, npt.NDArray[Any]], int]:
    _mapping(columns, "columns")
    arrays: dict[str, npt.NDArray[Any]] = {}
    size = -1
    for name in needed:
        if name not in columns:
            raise InvalidColumn(f"columns has no {name!r} column", field=name)
        array = np.asarray(columns[name])
        if array.dtype.kind not in "iu" or array.ndim != 1:
            raise InvalidColumn(
                f"column {name!r} must be a 1-d int array (money in minor units), "
                f"not {array.dtype}{array.shape}",
                field=name,
            )
        if size >= 0 and len(array) != size:
            raise InvalidColumn(
                f"column {name!r} has {len(array)} rows, expected {size}", field=name
            )
        size = len(array)
        arrays[name] = array
    if size < 0:
        size = len(np.asarray(next(iter(columns.values())))) if columns else 0
    return arrays, size


def _check_ladder(tiers: tuple[Tier, ...]) -> None:
    if not tiers:
        raise InvalidRule("tiers must not be empty", field="tiers", value=())
    names: list[object] = [t.name for t in tiers]
    ranks: list[object] = [t.rank for t in tiers]
    for label, values in (("name", names), ("rank", ranks)):
        dupes = sorted({v for v in values if values.count(v) > 1}, key=str)
        if dupes:
            raise DuplicateId(
                f"tier {label}={dupes[0]!r} is used twice", field=label, value=dupes[0]
            )
    if tiers[0].requires is not None:
        raise InvalidRule(
            f"the lowest tier {tiers[0].name!r} must have no requirement",
            field="requires",
            value=tiers[0].requires,
        )
    for t in tiers[1:]:
        if t.requires is None:
            raise InvalidRule(
                f"tier {t.name!r} above the base needs a requirement", field="requires", value=None
            )


def _check_order(plan: Plan) -> None:
    """Every way to meet a tier must meet the tier below (thresholds in order)."""
    for k in range(2, len(plan.names)):
        for opt in plan.options[k]:
            point = [0] * len(METRIC_NAMES)
            for m, minimum in opt:
                point[m] = minimum
            if not meets(plan.options[k - 1], point):
                shown = {METRIC_NAMES[m]: v for m, v in opt}
                raise InvalidRule(
                    f"thresholds out of order: {shown} meets {plan.names[k]!r} "
                    f"but not the lower tier {plan.names[k - 1]!r}",
                    field="requires",
                    value=plan.names[k],
                )


def _common(a: tuple[TierEvent, ...], b: tuple[TierEvent, ...]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _decision(
    program: TierProgram, before: TierStatus, after: TierStatus, events: tuple[TierEvent, ...]
) -> TierDecision:
    index = program._config.positions
    diff = index[after.tier] - index[before.tier]
    kind: Literal["upgrade", "retain", "downgrade"] = (
        "upgrade" if diff > 0 else "downgrade" if diff < 0 else "retain"
    )
    reason = events[-1].reason if events else "no change"
    return TierDecision(kind, after.tier, before.tier, after.valid_until, reason, after, events)


# -- plain data ---------------------------------------------------------------------


def _register() -> None:
    conv = serialize.converter
    configure_tagged_union(Window, conv, tag_name="type")
    configure_tagged_union(Requirement, conv, tag_name="type")
    union: Any = Requirement
    conv.register_unstructure_hook(
        union | None, lambda v: None if v is None else conv.unstructure(v, union)
    )
    conv.register_structure_hook(
        union | None, lambda v, _: None if v is None else conv.structure(v, union)
    )
    # State is always written whole: loading it needs every key (a program,
    # written by hand, may leave out keys that have defaults).
    serialize.require_every_key(TierStatus, TierEvent, Pending, Override, Challenge)
    serialize.require_every_key(TierDecision, Activity)
    serialize.register_document(TierProgram, "tiers.TierProgram", 1)
    serialize.register_document(TierStatus, "tiers.TierStatus", 1)
    serialize.register_document(Activity, "tiers.Activity", 1)
    serialize.register_document(TierDecision, "tiers.TierDecision", 1)


_register()

publish(__name__, __all__, globals())
