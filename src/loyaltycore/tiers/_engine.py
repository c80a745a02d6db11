"""The scalar tier engine: a member's timeline from one evaluation to the next.

Between ``status.evaluated_at`` (excluded) and ``as_of`` (included) the
engine visits, in time order, every instant where something can change:
window closes (rolling: review dates), the review at ``earned_until + 1``,
the end of grace, of an override and of a challenge, anniversaries (for
lifetime years) and each activity entry. Every change is dated at that
instant, so evaluating once or many times up to ``as_of`` gives the same
status (as long as the activity is the same).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, Final, NamedTuple

from loyaltycore.calendar import EPOCH, NEVER, micros
from loyaltycore.errors import InvalidTime
from loyaltycore.tiers._index import ActivityIndex, Entry, entries_of, occurred_of
from loyaltycore.tiers._model import (
    METRIC_INDEX,
    Activity,
    Challenge,
    EventKind,
    Override,
    Pending,
    Span,
    TierEvent,
    TierStatus,
)
from loyaltycore.tiers._plan import (
    ONE_DAY,
    Plan,
    cached_options,
    fmt_date,
    justified,
    local_day,
    meets,
    membership_year,
    next_review_day,
    start_us,
    window_label,
    window_of,
)


class LifetimeCheck(NamedTuple):
    """A compiled lifetime rule: tier index and either years or (metric, units)."""

    tier: int
    years: int
    metric: int
    units: int


class Config(NamedTuple):
    """Everything the engine needs from a program."""

    plan: Plan
    positions: dict[str, int]
    kind: str
    tz: tzinfo
    months: int
    review: str
    hold: Span
    grace: Span
    extension: Span
    soft: bool
    immediate: bool
    at_once: bool
    lifetime: tuple[LifetimeCheck, ...]
    pow10: tuple[int, ...]


#: Fields of an activity entry (see ``loyaltycore.tiers._index``).
OCC: Final = 0
UNITS: Final = 3
SOURCE: Final = 4


def prepare(
    cfg: Config, activity: Iterable[Activity] | ActivityIndex, joined_us: int
) -> list[Entry]:
    """Validate ``activity`` and return its entries in time order (an index's own: read only)."""
    if isinstance(activity, ActivityIndex):
        if activity._pow10 == cfg.pow10:
            entries = activity.entries()
            if entries and entries[0][OCC] < joined_us:
                _before_join(activity.first())
            return entries
        activity = activity.activity
    keys: dict[tuple[str, int], int] = {}
    entries = entries_of(activity, cfg.pow10, cfg.plan.exponents, keys)
    for occ, _, _, _, source in entries:
        if occ < joined_us:
            _before_join(next(a for a in activity if a.source_id == source and a._us == occ))
    entries.sort()
    return entries


def _before_join(item: Activity | None) -> None:
    assert item is not None
    raise InvalidTime(
        f"activity {item.source_id!r} occurred_at={item.occurred_at.isoformat()} "
        "is before the member joined",
        field="occurred_at",
        value=item.occurred_at,
    )


def _datetime(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


class Run:
    """The mutable state of one evaluation; turned back into a status at the end."""

    def __init__(
        self,
        cfg: Config,
        status: TierStatus,
        entries: list[Entry],
        index: ActivityIndex | None = None,
    ) -> None:
        self.cfg = cfg
        self.names = cfg.plan.names
        self.entries = entries
        #: the running totals of ``entries`` (when they are an index's)
        self.index = index if index is not None and index._pow10 == cfg.pow10 else None
        self.anchor = (
            local_day(micros(status.joined_at), cfg.tz) if cfg.kind != "calendar" else date.min
        )
        self.earned = cfg.positions[status.earned]
        self.earned_until = status.earned_until
        self.since = status.since
        self.grace_until = status.grace_until
        self.lifetime = -1 if status.lifetime is None else cfg.positions[status.lifetime]
        self.override = status.override
        self.challenge = status.challenge
        self.pending = status.pending
        n = len(self.names)
        self.years = list(status.years) if status.years else [0] * n
        self.status = status
        self.events: list[TierEvent] = []
        self.t = micros(status.evaluated_at)
        self.close_at = self.year_at = -NEVER
        self.seen = status.seen

    # -- totals ---------------------------------------------------------------

    def totals(self, start: date, end: date) -> list[int]:
        """Units per metric counted in local ``[start, end)``, visible at ``self.t``."""
        tz = self.cfg.tz
        lo = -NEVER if start == date.min else start_us(start, tz)
        hi = NEVER if end == date.max else start_us(end, tz)
        return self.totals_us(lo, hi)

    def totals_us(self, lo: int, hi: int) -> list[int]:
        """Units per metric with window instant in ``[lo, hi)``, visible at ``self.t``."""
        entries = self.entries
        t = self.t
        index = self.index
        if index is not None:
            visible = bisect_right(entries, t, key=occurred_of)
            if len(entries) - visible <= visible:
                # the running totals, less the entries posted after t
                result = index.totals(lo, hi)
                for _, win, m, units, _ in entries[visible:]:
                    if lo <= win < hi:
                        result[m] -= units
                return result
        result = [0] * len(METRIC_INDEX)
        for occ, win, m, units, _ in entries:
            if occ > t:
                break
            if lo <= win < hi:
                result[m] += units
        return result

    def justify(self, start: date, end: date) -> int:
        return justified(self.cfg.plan, self.totals(start, end))

    # -- effective tier -------------------------------------------------------

    def effective(self) -> tuple[int, date | None]:
        """The effective tier index and its last valid day (``None``: no end)."""
        idx = self.cfg.positions
        sources: list[tuple[int, date | None]] = [
            (self.earned, None if self.earned == 0 else self.earned_until)
        ]
        if self.lifetime >= 0:
            sources.append((self.lifetime, None))
        if self.override is not None:
            sources.append((idx[self.override.tier], self.override.until))
        if self.challenge is not None:
            sources.append((idx[self.challenge.tier], self.challenge.deadline))
        best = max(k for k, _ in sources)
        ends = [end for k, end in sources if k == best]
        return best, None if None in ends else max(e for e in ends if e is not None)

    def emit(self, kind: EventKind, before: int, reason: str, **command: Any) -> None:
        tier, until = self.effective()
        self.events.append(
            TierEvent(
                kind,
                _datetime(self.t),
                self.names[tier],
                self.names[before],
                until,
                reason,
                command.get("override"),
                command.get("challenge"),
            )
        )

    # -- validity -------------------------------------------------------------

    def extend(self, end: date) -> date:
        return self.cfg.extension.after(end) - ONE_DAY

    def window_after(self, end: date) -> date:
        """End of the window that starts at ``end``."""
        if self.cfg.kind == "calendar":
            return date(end.year + 1, 1, 1)
        return membership_year(end, self.anchor)[1]

    def valid_now(self, day: date, hold: bool = True) -> date | None:
        """Validity of a tier earned on ``day`` from the window containing it."""
        cfg = self.cfg
        if cfg.kind == "lifetime":
            return None
        if cfg.kind == "rolling":
            first = day + ONE_DAY
            if hold and cfg.hold:
                first = max(first, cfg.hold.after(day))
            return next_review_day(cfg.review, first - ONE_DAY) - ONE_DAY
        end = window_of(cfg.kind, day, self.anchor, cfg.months)[1]
        return self.extend(self.window_after(end))

    # -- changes --------------------------------------------------------------

    def grant(self, k: int, day: date, label: str, *, close: bool) -> None:
        """Upgrade to ``k`` or extend the earned tier when ``k`` requalifies it.

        ``close``: judged at the close of the window before ``day`` (else
        by the window containing ``day``, so far).
        """
        if k < self.earned or k == 0:
            return
        before = self.effective()[0]
        unconfirmed = not close
        if self.cfg.kind == "rolling":
            until = self.valid_now(day, hold=k > self.earned)
        elif close:
            until = self.extend(self.window_after(day))
        else:
            until = self.valid_now(day)
        if k > self.earned:
            if self.earned > 0 and until is not None and self.earned_until is not None:
                until = max(until, self.earned_until)  # an upgrade never ends sooner
            if unconfirmed and self.pending is None:
                self.pending = Pending(
                    self.names[self.earned], self.earned_until, self.since, self.grace_until
                )
            self.earned, self.earned_until = k, until
            self.since = _datetime(self.t)
            self.grace_until = None
            self.emit("upgrade", before, f"qualified for {self.names[k]} in {label}")
        elif (
            k == self.earned
            and k > 0
            and until is not None
            and (self.earned_until is None or until > self.earned_until)
        ):
            in_grace = self.grace_until is not None
            self.earned_until = until
            self.grace_until = None
            note = " during grace" if in_grace else ""
            self.emit("retain", before, f"requalified for {self.names[k]} in {label}{note}")

    def last_window(self, day: date) -> tuple[date, date]:
        """The last complete window before local ``day`` (rolling: trailing to ``day``)."""
        cfg = self.cfg
        start, end = window_of(cfg.kind, day - ONE_DAY, self.anchor, cfg.months)
        if cfg.kind != "rolling" and end > day:
            start, end = window_of(cfg.kind, start - ONE_DAY, self.anchor, cfg.months)
        return start, end

    def downgrade(self, day: date) -> None:
        """The review at local ``day``: drop to what the last window justifies.

        At the end of grace, the window judged at the review that opened the
        grace counts too, so a lapse in grace never lands lower than a lapse
        without it.
        """
        cfg = self.cfg
        before = self.effective()[0]
        start, end = self.last_window(day)
        if cfg.kind == "rolling":
            until = next_review_day(cfg.review, day) - ONE_DAY
        else:
            until = self.extend(self.window_after(end))
            if until < day:
                until = self.valid_now(day) or until
        k = self.justify(start, end)
        if self.grace_until is not None and self.earned_until is not None:
            opened = self.last_window(self.earned_until + ONE_DAY)
            if opened != (start, end) and self.justify(*opened) > k:
                start, end = opened
                k = self.justify(start, end)
        label = window_label(cfg.kind, start, end)
        old = self.earned
        target = min(max(k, old - 1) if cfg.soft else k, old)
        if cfg.immediate and cfg.kind != "rolling":
            # activity of the window under way counts too (extension, grace, late review)
            now_start, now_end = window_of(cfg.kind, day, self.anchor, cfg.months)
            k_now = min(self.justify(now_start, now_end), old)
            if k_now > target:
                target, k = k_now, k_now
                until = self.valid_now(day) or until
                label = window_label(cfg.kind, now_start, now_end)
        self.grace_until = None
        self.pending = None
        if target == old:
            self.earned_until = until
            self.emit("retain", before, f"requalified for {self.names[old]} in {label}")
            return
        self.earned = target
        self.earned_until = None if target == 0 else until
        self.since = _datetime(self.t)
        why = f"did not requalify for {self.names[old]} in {label}"
        if cfg.soft and target > k:
            why += f"; soft landing one step to {self.names[target]}"
        self.emit("downgrade", before, why)

    def review(self, day: date) -> None:
        if self.cfg.grace and self.grace_until is None:
            assert self.earned_until is not None
            before = self.effective()[0]
            self.grace_until = self.cfg.grace.after(self.earned_until)
            self.emit(
                "grace",
                before,
                f"{self.names[self.earned]} kept in grace through {fmt_date(self.grace_until)}",
            )
            return
        self.downgrade(day)

    def close(self, boundary: date) -> None:
        """A qualification window (or a rolling review) ends at local ``boundary``."""
        cfg = self.cfg
        if cfg.kind == "rolling":
            start, end = window_of("rolling", boundary - ONE_DAY, self.anchor, cfg.months)
        else:
            start, end = window_of(cfg.kind, boundary - ONE_DAY, self.anchor, cfg.months)
        k = self.justify(start, end)
        self.pending = None
        if cfg.kind != "rolling":
            self.count_year(k)
        self.grant(k, boundary, window_label(cfg.kind, start, end), close=True)
        self.check_lifetime()

    def year_close(self, boundary: date) -> None:
        """An anniversary, for lifetime years under rolling and lifetime windows."""
        start, end = membership_year(boundary - ONE_DAY, self.anchor)
        self.count_year(self.justify(start, end))
        self.check_lifetime()

    def count_year(self, k: int) -> None:
        for i in range(1, k + 1):
            self.years[i] += 1

    def check_lifetime(self) -> None:
        best = self.lifetime
        why = ""
        totals: list[int] | None = None
        for rule in self.cfg.lifetime:
            if rule.tier <= best:
                continue
            if rule.years:
                if self.years[rule.tier] >= rule.years:
                    best, why = rule.tier, f"{rule.years} years at or above"
            else:
                if totals is None:
                    totals = self.totals_us(-NEVER, NEVER)
                if totals[rule.metric] >= rule.units:
                    best, why = rule.tier, "cumulative activity reached"
        if best > self.lifetime:
            before = self.effective()[0]
            self.lifetime = best
            self.emit("lifetime", before, f"lifetime {self.names[best]}: {why}")

    def on_entries(self, batch: Sequence[Entry]) -> None:
        cfg = self.cfg
        day = local_day(self.t, cfg.tz)
        start, end = window_of(cfg.kind, day, self.anchor, cfg.months)
        label = window_label(cfg.kind, start, end)
        if cfg.immediate:
            k = self.justify(start, end)
            self.grant(k, day, label, close=False)
        if cfg.at_once and self.pending is not None:
            returns = [e[SOURCE] for e in batch if e[UNITS] < 0]
            if returns:
                self.undo(start, end, day, returns[0])
        if self.challenge is not None:
            self.check_challenge(day)
        if cfg.lifetime:
            self.check_lifetime()

    def undo(self, start: date, end: date, day: date, source: str) -> None:
        """A return under the at-once policy takes back unconfirmed upgrades."""
        k = self.justify(start, end)
        if k >= self.earned:
            return
        pending = self.pending
        assert pending is not None
        before, old = self.effective()[0], self.earned
        if k > self.cfg.positions[pending.earned]:
            self.earned, self.earned_until = k, self.valid_now(day)
        else:
            self.earned = self.cfg.positions[pending.earned]
            self.earned_until, self.since = pending.earned_until, pending.since
            self.grace_until = pending.grace_until
            self.pending = None
        self.emit("downgrade", before, f"return {source} undoes the upgrade to {self.names[old]}")

    def check_challenge(self, day: date) -> None:
        ch = self.challenge
        assert ch is not None
        tz = self.cfg.tz
        totals = self.totals_us(micros(ch.start), start_us(ch.deadline + ONE_DAY, tz))
        opts = cached_options(ch.target, self.cfg.plan.exponents)
        if not meets(opts, totals):
            return
        before = self.effective()[0]
        k = self.cfg.positions[ch.tier]
        if k > self.earned or (k == self.earned and k > 0):
            self.earned = max(k, self.earned)
            until = self.valid_now(day)
            if self.earned_until is None or (until is not None and until > self.earned_until):
                self.earned_until = until
            self.since = _datetime(self.t)
        self.challenge = None
        self.emit("challenge_won", before, f"met the {ch.tier} challenge target")

    # -- the loop ---------------------------------------------------------------

    def next_close(self) -> int:
        cfg = self.cfg
        if cfg.kind == "lifetime":
            return NEVER
        day = local_day(self.t, cfg.tz)
        if cfg.kind == "rolling":
            return start_us(next_review_day(cfg.review, day), cfg.tz)
        end = window_of(cfg.kind, day, self.anchor, cfg.months)[1]
        return start_us(end, cfg.tz)

    def next_year(self) -> int:
        if self.cfg.kind not in ("rolling", "lifetime"):
            return NEVER
        day = local_day(self.t, self.cfg.tz)
        return start_us(membership_year(day, self.anchor)[1], self.cfg.tz)

    def after_day(self, day: date | None) -> int:
        return NEVER if day is None else start_us(day + ONE_DAY, self.cfg.tz)

    def others(self) -> int:
        """The next instant after ``self.t`` where something other than activity happens."""
        after = self.after_day
        review = NEVER
        if self.grace_until is None and self.earned > 0:
            review = after(self.earned_until)
        grace = after(self.grace_until)
        over = after(None if self.override is None else self.override.until)
        chal = after(None if self.challenge is None else self.challenge.deadline)
        if self.close_at <= self.t:
            self.close_at = self.next_close()
        if self.year_at <= self.t:
            self.year_at = self.next_year()
        return min(self.close_at, self.year_at, review, grace, over, chal)

    def run(self, hi: int) -> None:
        """Visit every instant in ``(self.t, hi]`` where something changes."""
        entries = self.entries
        n = len(entries)
        i = bisect_right(entries, self.t, key=occurred_of)
        late = i != self.status.seen
        self.close_at = self.year_at = -NEVER
        other = self.others()
        while True:
            while i < n and entries[i][OCC] < other and entries[i][OCC] <= hi:
                t = self.t = entries[i][OCC]
                j = i + 1
                while j < n and entries[j][OCC] == t:
                    j += 1
                count = len(self.events)
                self.on_entries(entries[i:j])
                i = j
                if len(self.events) != count:
                    other = self.others()
            if other > hi:
                break
            # A restored or loaded state may be due already: handle it now.
            other = self.t = max(other, self.t)
            self.at_instant(other)
            if i < n and entries[i][OCC] == other:
                j = i
                while j < n and entries[j][OCC] == other:
                    j += 1
                self.on_entries(entries[i:j])
                i = j
            other = self.others()
        self.t = max(self.t, hi)
        self.seen = i
        if late:
            self.late()

    def late(self) -> None:
        """Activity posted after the last evaluation but dated before it counts now.

        Each entry is normally checked at its own instant; one that arrives
        late (the count of entries up to ``evaluated_at`` changed) is checked
        here, at ``as_of``.
        """
        cfg = self.cfg
        day = local_day(self.t, cfg.tz)
        start, end = window_of(cfg.kind, day, self.anchor, cfg.months)
        if cfg.immediate:
            self.grant(
                self.justify(start, end), day, window_label(cfg.kind, start, end), close=False
            )
        if self.challenge is not None:
            self.check_challenge(day)
        if cfg.lifetime:
            self.check_lifetime()

    def at_instant(self, t: int) -> None:
        """Closes, reviews and ends due at ``t``, in a fixed order."""
        day = local_day(t, self.cfg.tz)
        after = self.after_day
        if self.close_at == t:
            self.close(day)
        if self.year_at == t:
            self.year_close(day)
        if self.grace_until is None and self.earned > 0 and after(self.earned_until) <= t:
            self.review(day)
        if self.grace_until is not None and after(self.grace_until) <= t:
            self.downgrade(day)
        if self.override is not None and after(self.override.until) <= t:
            self.end_override()
        if self.challenge is not None and after(self.challenge.deadline) <= t:
            self.end_challenge()

    def end_override(self) -> None:
        assert self.override is not None
        before, tier = self.effective()[0], self.override.tier
        self.override = None
        self.emit("override_end", before, f"override to {tier} ended")

    def end_challenge(self) -> None:
        assert self.challenge is not None
        before, tier = self.effective()[0], self.challenge.tier
        self.challenge = None
        self.emit("challenge_lost", before, f"{tier} challenge target not met by the deadline")

    # -- results ----------------------------------------------------------------

    def result(self) -> TierStatus:
        tier, until = self.effective()
        s = self.status
        return TierStatus(
            tier=self.names[tier],
            valid_until=until,
            earned=self.names[self.earned],
            earned_until=None if self.earned == 0 else self.earned_until,
            since=self.since,
            joined_at=s.joined_at,
            evaluated_at=_datetime(self.t),
            grace_until=self.grace_until,
            lifetime=None if self.lifetime < 0 else self.names[self.lifetime],
            override=self.override,
            challenge=self.challenge,
            pending=self.pending,
            years=tuple(self.years),
            seen=self.seen,
            history=s.history + tuple(self.events),
        )


def set_override(run: Run, override: Override) -> None:
    """Apply an override command at ``run.t``."""
    before = run.effective()[0]
    run.override = override
    why = override.reason or "manual override"
    run.emit(
        "override",
        before,
        f"{why}: at least {override.tier} through {fmt_date(override.until)}",
        override=override,
    )


def set_challenge(run: Run, challenge: Challenge) -> None:
    """Apply a challenge command at ``run.t``."""
    before = run.effective()[0]
    run.challenge = challenge
    run.emit(
        "challenge",
        before,
        f"{challenge.tier} challenge until {fmt_date(challenge.deadline)}",
        challenge=challenge,
    )
