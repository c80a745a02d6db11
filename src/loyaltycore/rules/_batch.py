"""The vectorized rule engine: many events at once, same answers as the scalar one.

Conditions become masks (one :class:`~loyaltycore.predicates.Frame` shared by
every rule), awards become int64 arrays computed with the same integer
formulas as the scalar engine, and the stateful parts run in (member, at,
id) order:

* a standalone rule with a limit: :func:`loyaltycore.rules._limits.apply`
  over its candidate rows, segment by (member, period);
* an exclusive group whose priorities are distinct: a cascade in priority
  order (each rule may fire where no earlier rule of the group fired);
* a group whose winner depends on award sizes (ties, ``mode="best"``):
  an argmin per row when none of its rules has a limit, else an exact
  sequential loop over the rows where it has candidates;
* budgets: the engine runs again with a budget's rules blocked from the
  point where the budget ran out, earliest budget first (at most one extra
  run per budget that runs out).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from loyaltycore.calendar import date_parts, to_micros
from loyaltycore.predicates import FIELDS, MISSING_INT, And, Frame, Not, Or
from loyaltycore.progress import Progress
from loyaltycore.rules import _limits as limits_
from loyaltycore.rules._engine import (
    BUDGET,
    CONDITION,
    FIRED,
    K_FIXED,
    K_MULT,
    K_SPEND,
    LIMIT_POINTS,
    LIMIT_TIMES,
    LOST_GROUP,
    NO_RECIPIENT,
    NOT_VALID,
    TRUNCATED,
    ZERO,
    Compiled,
    Unit,
    counter_keys,
)
from loyaltycore.rules._math import scale_round_array

I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]
NO_BIRTHDAY: Final = -(2**40)


class Inputs:
    """Everything the engine reads, aligned on event rows (input order)."""

    __slots__ = (
        "at",
        "birthday",
        "counters",
        "eligible",
        "frame",
        "has_counters",
        "masks",
        "member",
        "member_frame",
        "member_ids",
        "n",
        "parts",
        "rank",
        "referrer",
        "spend_awards",
        "tier",
    )

    def __init__(
        self,
        *,
        frame: Frame,
        member_frame: Frame | None,
        at: I64,
        member: I64,
        member_ids: npt.NDArray[Any],
        counters: Sequence[Mapping[str, int]],
        eligible: I64,
        rank: I64,
        referrer: B,
        tier: npt.NDArray[Any] | None,
        birthday: I64 | None,
    ) -> None:
        self.frame = frame
        self.member_frame = member_frame
        self.masks: dict[Any, B] = {}
        #: spend awards before limits, by (num, den, rounding)
        self.spend_awards: dict[tuple[int, int, str], I64] = {}
        self.has_counters: B | None = None
        self.parts: tuple[I64, I64, I64] | None = None
        self.n = at.size
        self.at = at
        self.member = member
        self.member_ids = member_ids
        self.counters = counters
        self.eligible = eligible
        self.rank = rank
        self.referrer = referrer
        self.tier = tier
        self.birthday = birthday


class Run:
    """The outcome of one run of the engine."""

    __slots__ = ("amounts", "codes", "inc", "rows")

    def __init__(self, n_rules: int, n: int) -> None:
        self.codes = np.full((n_rules, n), CONDITION, dtype=np.int8)
        self.rows: list[I64] = [np.zeros(0, dtype=np.int64)] * n_rules
        self.amounts: list[I64] = [np.zeros(0, dtype=np.int64)] * n_rules
        #: per rule: (member row, period key, times, points) of fired segments
        self.inc: list[tuple[I64, I64, I64, I64] | None] = [None] * n_rules


class Engine:
    """One batch evaluation of a compiled rule set."""

    def __init__(
        self,
        c: Compiled,
        x: Inputs,
        blocked: Mapping[int, B],
        tick: Callable[[], None] | None = None,
    ) -> None:
        self.c = c
        self.x = x
        self.blocked = blocked
        self.tick = tick
        self.run = Run(len(c.rules), x.n)
        self.base: dict[str, I64] = {}
        self._days: I64 | None = None
        self._masks: dict[int, B] = {}

    # -- per-rule vectors -------------------------------------------------

    def condition(self, i: int) -> B:
        """Where rule ``i``'s condition and valid window hold (codes written)."""
        c, x = self.c, self.x
        rule = c.rules[i]
        codes = self.run.codes[i]
        if rule.valid is None:
            ok = (
                self.mask(rule.when).copy()
                if rule.when is not None
                else np.ones(x.n, dtype=np.bool_)
            )
            if rule.award.recipient == "referrer":
                codes[ok & ~x.referrer] = NO_RECIPIENT
                ok &= x.referrer
            return ok
        ok = np.ones(x.n, dtype=np.bool_)
        if rule.valid is not None:
            if rule.valid.start is not None:
                ok &= x.at >= to_micros(rule.valid.start)
            if rule.valid.end is not None:
                ok &= x.at < to_micros(rule.valid.end)
            codes[~ok] = NOT_VALID
        if rule.when is not None:
            ok &= self.mask(rule.when)
        if rule.award.recipient == "referrer":
            codes[ok & ~x.referrer] = NO_RECIPIENT
            ok &= x.referrer
        return ok

    def mask(self, node: Any) -> B:
        """The mask of a predicate node, shared across rules (and runs).

        ``&``, ``|`` and ``~`` are combined here so equal terms of different
        rules are computed once; a term that reads only member fields is
        computed on the member rows and spread to their events.
        """
        x = self.x
        got = x.masks.get(node)
        if got is not None:
            return got
        if isinstance(node, And | Or):
            out = self.mask(node.terms[0]).copy()
            for term in node.terms[1:]:
                if isinstance(node, And):
                    out &= self.mask(term)
                else:
                    out |= self.mask(term)
        elif isinstance(node, Not):
            out = ~self.mask(node.term)
        else:
            fields = node.fields()
            member_only = bool(fields) and all(f.source == "member" for f in fields)
            if member_only and x.member_frame is not None:
                out = np.asarray(node.mask(x.member_frame), dtype=np.bool_)[x.member]
            else:
                out = np.asarray(node.mask(x.frame), dtype=np.bool_)
        x.masks[node] = out
        return out

    def raw(self, i: int, ok: B) -> I64:
        """The award before limits on each row (0 where ``ok`` is False)."""
        c, x = self.c, self.x
        kind = c.kind[i]
        num, den = c.fraction[i]
        award = c.rules[i].award
        zero = np.int64(0)
        if kind == K_FIXED:
            return np.where(ok, np.int64(num), zero)
        rounding: str = award.rounding  # type: ignore[union-attr]
        if kind == K_SPEND:
            key = (num, den, rounding)
            full = x.spend_awards.get(key)
            if full is None:
                full = scale_round_array(np.maximum(x.eligible, 0), num, den, rounding)
                x.spend_awards[key] = full
            return np.where(ok, full, zero)
        base = self.base.get(award.currency)
        if base is None:
            return np.zeros(x.n, dtype=np.int64)
        if kind == K_MULT:
            return np.where(ok, scale_round_array(base, num, den, rounding), zero)
        out = np.zeros(x.n, dtype=np.int64)
        if x.tier is None:
            return out
        for tier, (p, q) in c.tier_fractions[i].items():
            sel = ok & self.tier_mask(tier)
            if sel.any():
                out = np.where(sel, scale_round_array(base, p - q, q, rounding), out)
        return out

    def tier_mask(self, tier: str) -> B:
        """Rows whose member holds ``tier`` (computed on member rows when possible)."""
        x = self.x
        key = ("tier", tier)
        got = x.masks.get(key)
        if got is None:
            if x.member_frame is not None and "tier" in x.member_frame.columns:
                column = np.asarray(x.member_frame.columns["tier"], dtype=object)
                got = np.asarray(column == tier, dtype=np.bool_)[x.member]
            else:
                assert x.tier is not None
                got = np.asarray(x.tier == tier, dtype=np.bool_)
            x.masks[key] = got
        return got

    def candidates(self, i: int) -> tuple[B, I64]:
        """Rule ``i``'s candidate rows (condition holds, award > 0) and raw awards."""
        ok = self.condition(i)
        raw = self.raw(i, ok)
        zero = ok & (raw <= 0)
        self.run.codes[i][zero] = ZERO
        return ok & ~zero, raw

    # -- limits -------------------------------------------------------------

    def day_numbers(self) -> I64:
        if self._days is None:
            self._days = np.asarray(self.x.frame.get(FIELDS["local_date"]), dtype=np.int64)
        return self._days

    def period_keys(self, period: str, rows: I64) -> I64:
        """Integer key of the limit period of each row."""
        if period == "lifetime":
            return np.zeros(rows.size, dtype=np.int64)
        days = self.day_numbers()[rows]
        if period == "day":
            return days
        if self.x.parts is None:
            self.x.parts = date_parts(self.day_numbers())
        year, month, day = (part[rows] for part in self.x.parts)
        if period == "month":
            return year * 12 + month - 1
        if period == "quarter":
            return year * 4 + (month - 1) // 3
        if period == "year":
            return year
        return _birthday_years(year, month, day, self.x.birthday, rows, days)

    def apply_limit(self, i: int, cand: B, raw: I64, open_: B) -> tuple[B, I64]:
        """Fire rule ``i`` on open candidate rows within its limit."""
        c, x = self.c, self.x
        limit = c.limits[i]
        codes = self.run.codes[i]
        if limit is None:
            fired = cand & open_
            return fired, raw
        rows = np.flatnonzero(cand)
        if rows.size == 0:
            return cand, raw
        rows = rows[np.argsort(x.rank[rows], kind="stable")]
        member = x.member[rows]
        keys = self.period_keys(limit.period, rows)
        start = limits_.segment_starts(member, keys)
        init_t, init_p = self.initial(i, limit.period, member, keys, start)
        capped = limits_.apply(
            raw[rows], open_[rows], start, init_t, init_p, limit.times, limit.points
        )
        codes[rows] = capped.code
        fired = np.zeros(x.n, dtype=np.bool_)
        fired[rows] = capped.fired
        amount = np.zeros(x.n, dtype=np.int64)
        amount[rows] = capped.amount
        self.record_increments(i, rows, member, keys, capped.fired, capped.amount)
        return fired, amount

    def initial(self, i: int, period: str, member: I64, keys: I64, start: I64) -> tuple[I64, I64]:
        """Counters already used, per row, read from the members' counters."""
        n = member.size
        init_t = np.zeros(n, dtype=np.int64)
        init_p = np.zeros(n, dtype=np.int64)
        counters = self.x.counters
        if self.x.has_counters is None:
            self.x.has_counters = np.fromiter(
                (bool(c) for c in counters), dtype=np.bool_, count=len(counters)
            )
        heads = np.flatnonzero((start == np.arange(n)) & self.x.has_counters[member])
        rule_id = self.c.ids[i]
        for h in heads.tolist():
            got = counters[int(member[h])]
            if not got:
                continue
            k_t, k_p = counter_keys(rule_id, key_label(period, int(keys[h])))
            t, p = got.get(k_t, 0), got.get(k_p, 0)
            if t or p:
                seg = start == h
                init_t[seg] = t
                init_p[seg] = p
        return init_t, init_p

    def record_increments(
        self, i: int, rows: I64, member: I64, keys: I64, fired: B, amount: I64
    ) -> None:
        if not fired.any():
            return
        m, k, a = member[fired], keys[fired], amount[fired]
        new = np.ones(m.size, dtype=np.bool_)
        new[1:] = (m[1:] != m[:-1]) | (k[1:] != k[:-1])
        heads = np.flatnonzero(new)
        times = np.diff(np.append(heads, m.size))
        points = np.add.reduceat(a, heads)
        self.run.inc[i] = (m[heads], k[heads], times.astype(np.int64), points)

    # -- units --------------------------------------------------------------

    def closed(self, i: int) -> B:
        """Rows where a budget blocks rule ``i``."""
        got = self.blocked.get(i)
        return np.zeros(self.x.n, dtype=np.bool_) if got is None else got

    def unit(self, unit: Unit) -> list[tuple[int, B, I64]]:
        """Resolve one unit; returns (rule, fired rows mask, amount) per rule."""
        if unit.group is None or unit.static:
            return self._cascade(unit)
        if all(self.c.limits[i] is None for i in unit.members):
            return self._argmin(unit)
        return self._sequential(unit)

    def _cascade(self, unit: Unit) -> list[tuple[int, B, I64]]:
        if len(unit.members) == 1:
            i = unit.members[0]
            if self.c.limits[i] is None and i not in self.blocked:
                cand, raw = self.candidates(i)
                self.run.codes[i][cand] = FIRED
                return [(i, cand, raw)]
        taken = np.zeros(self.x.n, dtype=np.bool_)
        out = []
        for i in unit.members:
            cand, raw = self.candidates(i)
            blocked = self.closed(i) & cand
            open_ = cand & ~taken & ~blocked
            fired, amount = self.apply_limit(i, cand, raw, open_)
            codes = self.run.codes[i]
            if self.c.limits[i] is None:
                codes[cand] = FIRED
            free = cand & ~fired & (codes != LIMIT_TIMES) & (codes != LIMIT_POINTS)
            codes[free & blocked] = BUDGET
            codes[free & ~blocked] = LOST_GROUP
            taken |= fired
            out.append((i, fired, amount))
        return out

    def _argmin(self, unit: Unit) -> list[tuple[int, B, I64]]:
        n = self.x.n
        rules = self.c.rules
        best = np.full(n, -1, dtype=np.int64)
        best_amt = np.zeros(n, dtype=np.int64)
        best_pri = np.zeros(n, dtype=np.int64)
        cands: dict[int, tuple[B, I64]] = {}
        order = sorted(unit.members, key=lambda j: rules[j].id)
        for i in order:
            cand, raw = self.candidates(i)
            blocked = self.closed(i) & cand
            self.run.codes[i][blocked] = BUDGET
            cand = cand & ~blocked
            cands[i] = (cand, raw)
            pri = rules[i].priority
            none = best < 0
            if unit.best:
                better = (raw > best_amt) | ((raw == best_amt) & (pri < best_pri))
            else:
                better = (pri < best_pri) | ((pri == best_pri) & (raw > best_amt))
            take = cand & (none | better)
            best[take] = i
            best_amt[take] = raw[take]
            best_pri[take] = pri
        out = []
        for i in unit.members:
            cand, raw = cands[i]
            fired = cand & (best == i)
            codes = self.run.codes[i]
            codes[fired] = FIRED
            codes[cand & ~fired] = LOST_GROUP
            out.append((i, fired, raw))
        return out

    def _sequential(self, unit: Unit) -> list[tuple[int, B, I64]]:
        x, c = self.x, self.c
        rules = c.rules
        data = {i: self.candidates(i) for i in unit.members}
        any_cand = np.zeros(x.n, dtype=np.bool_)
        for cand, _ in data.values():
            any_cand |= cand
        rows = np.flatnonzero(any_cand)
        rows = rows[np.argsort(x.rank[rows], kind="stable")]
        keys = {
            i: self.period_keys(c.limits[i].period, rows)  # type: ignore[union-attr]
            for i in unit.members
            if c.limits[i] is not None
        }
        used: dict[tuple[int, int, int], list[int]] = {}
        fired = {i: np.zeros(x.n, dtype=np.bool_) for i in unit.members}
        amounts = {i: np.zeros(x.n, dtype=np.int64) for i in unit.members}
        blocked = {i: self.closed(i) for i in unit.members}
        for pos, r in enumerate(rows.tolist()):
            m = int(x.member[r])
            options = []
            for i in unit.members:
                cand, raw = data[i]
                if not cand[r]:
                    continue
                amount, code = int(raw[r]), FIRED
                limit = c.limits[i]
                if limit is not None:
                    key = int(keys[i][pos])
                    slot = used.get((i, m, key))
                    if slot is None:
                        slot = self._seed(i, limit.period, m, key)
                        used[(i, m, key)] = slot
                    amount, code = _limit_one(limit.times, limit.points, slot, amount)
                self.run.codes[i][r] = code
                if amount <= 0:
                    continue
                if blocked[i][r]:
                    self.run.codes[i][r] = BUDGET
                    continue
                options.append((i, amount))
            if not options:
                continue
            if unit.best:
                win = min(options, key=lambda p: (-p[1], rules[p[0]].priority, rules[p[0]].id))
            else:
                win = min(options, key=lambda p: (rules[p[0]].priority, -p[1], rules[p[0]].id))
            for i, _ in options:
                if i != win[0]:
                    self.run.codes[i][r] = LOST_GROUP
            i, amount = win
            fired[i][r] = True
            amounts[i][r] = amount
            limit = c.limits[i]
            if limit is not None:
                slot = used[(i, m, int(keys[i][pos]))]
                slot[0] += 1
                slot[1] += amount
        for i in unit.members:
            if c.limits[i] is not None:
                sel = rows[fired[i][rows]]
                self.record_increments(
                    i,
                    sel,
                    x.member[sel],
                    self.period_keys(c.limits[i].period, sel),  # type: ignore[union-attr]
                    np.ones(sel.size, dtype=np.bool_),
                    amounts[i][sel],
                )
        return [(i, fired[i], amounts[i]) for i in unit.members]

    def _seed(self, i: int, period: str, m: int, key: int) -> list[int]:
        got = self.x.counters[m]
        if not got:
            return [0, 0]
        k_t, k_p = counter_keys(self.c.ids[i], key_label(period, key))
        return [got.get(k_t, 0), got.get(k_p, 0)]

    # -- the run --------------------------------------------------------------

    def execute(self) -> Run:
        c = self.c
        for stage, is_base in zip(c.stages, (True, False), strict=True):
            for unit in stage:
                for i, fired, amount in self.unit(unit):
                    rows = np.flatnonzero(fired)
                    self.run.rows[i] = rows
                    self.run.amounts[i] = amount[rows]
                    if is_base:
                        cur = c.rules[i].award.currency
                        total = self.base.setdefault(cur, np.zeros(self.x.n, dtype=np.int64))
                        total[rows] += amount[rows]
                if self.tick is not None:
                    self.tick()
        for i in range(len(c.rules)):
            codes = self.run.codes[i]
            rows = self.run.rows[i]
            if rows.size and c.limits[i] is not None:
                codes[rows] = np.where(codes[rows] == TRUNCATED, TRUNCATED, FIRED)
        return self.run


def _limit_one(
    times: int | None, points: int | None, slot: list[int], amount: int
) -> tuple[int, int]:
    if times is not None and slot[0] >= times:
        return 0, LIMIT_TIMES
    if points is not None:
        remaining = points - slot[1]
        if remaining <= 0:
            return 0, LIMIT_POINTS
        if amount > remaining:
            return remaining, TRUNCATED
    return amount, FIRED


def _anniversaries(year: I64, b_month: I64, b_day: I64) -> I64:
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    day = np.where((b_month == 2) & (b_day == 29) & ~leap, 28, b_day)
    months = ((year - 1970) * 12 + b_month - 1).astype("datetime64[M]")
    result: I64 = months.astype("datetime64[D]").astype(np.int64) + day - 1
    return result


def _birthday_years(
    year: I64, month: I64, day: I64, birthday: I64 | None, rows: I64, today: I64
) -> I64:
    """The year of the birthday nearest to each day (as ``birthday_year``)."""
    if birthday is None:
        return np.full(rows.size, NO_BIRTHDAY, dtype=np.int64)
    born = birthday[rows]
    has = born != MISSING_INT
    _, b_month, b_day = date_parts(np.where(has, born, 0))
    best = year - 1
    best_distance = np.abs(today - _anniversaries(year - 1, b_month, b_day))
    for shift in (0, 1):
        distance = np.abs(today - _anniversaries(year + shift, b_month, b_day))
        closer = distance < best_distance
        best = np.where(closer, year + shift, best)
        best_distance = np.where(closer, distance, best_distance)
    return np.where(has, best, NO_BIRTHDAY)


def key_label(period: str, key: int) -> str:
    """The counter label (as in the scalar engine) of an integer period key.

    >>> key_label("month", 2024 * 12 + 4), key_label("quarter", 2024 * 4 + 1)
    ('2024-05', '2024-Q2')
    """
    if period == "lifetime":
        return "lifetime"
    if period == "month":
        return f"{key // 12:04d}-{key % 12 + 1:02d}"
    if period == "quarter":
        return f"{key // 4:04d}-Q{key % 4 + 1}"
    if period == "year":
        return f"{key:04d}"
    if period == "day":
        return str(np.datetime64(key, "D"))
    return "birthday-none" if key == NO_BIRTHDAY else f"birthday-{key:04d}"


def run_with_budgets(
    c: Compiled, x: Inputs, budgets_used: Mapping[str, int], progress: Progress | None = None
) -> Run:
    """Run the engine, blocking each budget's rules from where it runs out.

    ``progress`` hears ``(done, total, "rules")`` after each group of rules
    has run over every event. Each budget that runs out re-runs the engine
    once, so ``total`` counts the most runs the budgets can cause; the last
    call reports ``done == total``.
    """
    blocked: dict[int, B] = {}
    pending = list(range(len(c.budgets)))
    unit_of = _unit_positions(c)
    units = sum(len(stage) for stage in c.stages)
    total = units * (1 + len(pending))
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        assert progress is not None
        progress(done, total, "rules")

    while True:
        run = Engine(c, x, blocked, None if progress is None else tick).execute()
        if not pending:
            break
        crossings = []
        for b in pending:
            cross = _crossing(c, x, run, b, budgets_used, unit_of)
            if cross is not None:
                crossings.append((cross, b))
        if not crossings:
            break
        (rank, unit), b = min(crossings)
        pending.remove(b)
        for rid in c.budgets[b].rules:
            i = c.ids.index(rid)
            mask = (x.rank > rank) | ((x.rank == rank) & (unit_of[i] > unit))
            blocked[i] = blocked[i] | mask if i in blocked else mask
    if progress is not None and done < total:
        progress(total, total, "rules")
    return run


def _unit_positions(c: Compiled) -> list[int]:
    pos = [0] * len(c.rules)
    k = 0
    for stage in c.stages:
        for unit in stage:
            for i in unit.members:
                pos[i] = k
            k += 1
    return pos


def _crossing(
    c: Compiled,
    x: Inputs,
    run: Run,
    b: int,
    budgets_used: Mapping[str, int],
    unit_of: list[int],
) -> tuple[int, int] | None:
    budget = c.budgets[b]
    start = budgets_used.get(budget.id, 0)
    if start >= budget.points:
        return (-1, -1)
    ranks, units, amounts = [], [], []
    for rid in budget.rules:
        i = c.ids.index(rid)
        rows = run.rows[i]
        ranks.append(x.rank[rows])
        units.append(np.full(rows.size, unit_of[i], dtype=np.int64))
        amounts.append(run.amounts[i])
    rank = np.concatenate(ranks) if ranks else np.zeros(0, dtype=np.int64)
    if rank.size == 0:
        return None
    unit = np.concatenate(units)
    amount = np.concatenate(amounts)
    order = np.lexsort((unit, rank))
    total = start + np.cumsum(amount[order])
    hit = np.flatnonzero(total >= budget.points)
    if hit.size == 0:
        return None
    j = order[int(hit[0])]
    return int(rank[j]), int(unit[j])
