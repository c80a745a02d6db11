"""Pre / during / post readouts of a campaign, per assigned member.

For a campaign running over [start, end) and each horizon h, every assigned
member gets three sums of net spend (purchases less returns) from the
transaction log, in int64 minor units:

* pre:    [start - h, start)  — balance check on the outcome itself;
* during: [start, end)        — the campaign's lift;
* post:   [end, end + h)      — negative when the campaign only pulled
  purchases forward (the post-campaign dip).

Members with no transaction in a window count with zero: the unit of
analysis is the assigned member, never the transaction, so a campaign that
makes a few members buy more often cannot pass for one that reaches many.
The sums are one bincount over the log's customer codes and the intervals
between the window boundaries, then running sums (``_fast`` explains the
layout); points earned per transaction, when given, are summed the same way.
"""

from __future__ import annotations

import math
from datetime import date, datetime, tzinfo
from typing import Any, Final, Literal, TypeAlias

import attrs
import numpy as np
import numpy.typing as npt

from loyaltycore._frames import Frames
from loyaltycore._validate import check_int
from loyaltycore.calendar import from_micros, to_micros, to_utc, zone
from loyaltycore.campaigns._arrays import (
    F64,
    I64,
    Mask,
    arm_mask,
    array_field,
    check_length,
    choice,
    column,
    fraction,
    need_members,
    optional_array_field,
)
from loyaltycore.campaigns._compare import compare
from loyaltycore.campaigns._fast import interval_sums, member_of_code, spread
from loyaltycore.errors import InvalidArgument, InvalidTime, InvalidType
from loyaltycore.transactions import TransactionLog

Unit: TypeAlias = Literal["day", "week", "month", "year"]

_DAY_US: Final = 86_400_000_000
#: Length of each unit in days (a month is 365.25 / 12 days, a year 365.25).
UNIT_DAYS: Final = {"day": 1.0, "week": 7.0, "month": 365.25 / 12, "year": 365.25}


@attrs.frozen
class Windows(Frames):
    """Net spend per assigned member around a campaign, and the lift in each window.

    Per-member columns (int64 minor units, aligned with ``member``):
    ``pre`` and ``post`` have one column per horizon, ``during`` one value;
    ``points_pre`` / ``points_during`` / ``points_post`` are the same sums of
    points earned, when :func:`windows` was given ``points``. ``start`` and
    ``end`` are the campaign's, in UTC, and ``ci`` the intervals' level.
    The readout table has one row per window: ``"during"`` (horizon 0),
    then for each horizon ``"pre"``, ``"post"`` and ``"during+post"`` (the
    net effect once the dip is counted). Means and differences are in
    currency units per member, with Welch intervals.

    >>> from datetime import datetime, timezone
    >>> import numpy as np
    >>> day = lambda d: datetime(2024, 6, d, 12, tzinfo=timezone.utc)
    >>> log = TransactionLog.from_arrays(["a", "a", "b", "c", "d", "c", "d"],
    ...     np.array([day(3), day(12), day(12), day(12), day(12), day(20), day(20)]),
    ...     [10, 20, 20, 10, 10, 5, 5])
    >>> r = windows(log, ["a", "b", "c", "d"], ["treatment"] * 2 + ["control"] * 2,
    ...             start=day(10), end=day(17), horizons=(7,))
    >>> r.window.tolist(), r.horizon.tolist()
    (['during', 'pre', 'post', 'during+post'], [0, 7, 7, 7])
    >>> r.difference.tolist(), r.pull_forward.tolist()
    ([10.0, 5.0, -5.0, 5.0], [0.5])
    >>> float(r.difference[r.row("post", 7)])
    -5.0
    """

    horizons: tuple[int, ...]
    unit: str
    exponent: int
    member: npt.NDArray[Any] = array_field()
    treated: Mask = array_field()
    pre: I64 = array_field()
    during: I64 = array_field()
    post: I64 = array_field()
    window: npt.NDArray[Any] = array_field()
    horizon: I64 = array_field()
    complete: Mask = array_field()
    treatment_mean: F64 = array_field()
    control_mean: F64 = array_field()
    difference: F64 = array_field()
    low: F64 = array_field()
    high: F64 = array_field()
    p_value: F64 = array_field()
    points_pre: I64 | None = optional_array_field()
    points_during: I64 | None = optional_array_field()
    points_post: I64 | None = optional_array_field()
    start: datetime | None = None
    end: datetime | None = None
    ci: float | None = None

    def __repr__(self) -> str:
        return f"Windows(members={len(self.member)}, horizons={self.horizons}, unit={self.unit!r})"

    def row(self, window: str, horizon: int = 0) -> int:
        """The index of the readout row of ``window`` at ``horizon`` (0 for ``"during"``)."""
        hit = np.flatnonzero((self.window == window) & (self.horizon == horizon))
        if len(hit) == 0:
            raise InvalidArgument(
                f"no readout for window={window!r} at horizon={horizon!r}",
                field="window",
                value=window,
            )
        return int(hit[0])

    @property
    def pull_forward(self) -> F64:
        """Per horizon: the share of the during-window lift lost in the post window.

        ``max(0, -post lift) / during lift``: 0 when the post window did not
        dip, 1 when the dip gave the whole lift back; NaN when there was no
        positive lift to give back.
        """
        during = float(self.difference[self.row("during")])
        out = []
        for h in self.horizons:
            post = float(self.difference[self.row("post", h)])
            out.append(max(0.0, -post) / during if during > 0 else math.nan)
        return np.array(out, dtype=np.float64)

    def columns(self) -> dict[str, npt.NDArray[Any]]:
        """The readout table by column name (``window``, ``horizon``, ``complete``, ...)."""
        return {
            "window": self.window,
            "horizon": self.horizon,
            "complete": self.complete,
            "treatment_mean": self.treatment_mean,
            "control_mean": self.control_mean,
            "difference": self.difference,
            "low": self.low,
            "high": self.high,
            "p_value": self.p_value,
        }


def _horizons(horizons: object) -> tuple[int, ...]:
    if isinstance(horizons, str) or not hasattr(horizons, "__iter__"):
        raise InvalidType(
            f"horizons={horizons!r} must be a sequence of ints", field="horizons", value=horizons
        )
    out = tuple(check_int(h, "horizons item", minimum=1) for h in horizons)
    if not out or list(out) != sorted(set(out)):
        raise InvalidArgument(
            f"horizons={horizons!r} must be distinct, increasing and not empty",
            field="horizons",
            value=horizons,
        )
    return out


def _instant(value: object, name: str, tz: tzinfo | None) -> int:
    if not isinstance(value, datetime | date):
        raise InvalidType(
            f"{name}={value!r} must be an aware datetime or a date", field=name, value=value
        )
    return to_micros(to_utc(value, name, tz=tz))


def _points(values: Any, n: int) -> I64:
    array = column(values, "points")
    check_length(array, n, "points", "the log's rows")
    if array.dtype.kind not in "iu":
        raise InvalidType(
            f"points must be an int column (points per transaction), not {array.dtype}",
            field="points",
            value=str(array.dtype),
        )
    result: I64 = array.astype(np.int64)
    return result


def _per_member(
    log: TransactionLog, columns: list[I64], edges: I64, rows: I64, n: int
) -> list[tuple[I64, I64, I64]]:
    """(pre, during, post) sums of each column per member; ``_fast`` explains the layout."""
    k = (len(edges) - 2) // 2  # horizons
    out = []
    for by_code in interval_sums(log.codes, log.at, columns, edges, log.n_customers):
        table = spread(by_code, rows, n)
        pre = np.cumsum(table[:, k - 1 :: -1], axis=1)  # the intervals nearest the start first
        post = np.cumsum(table[:, k + 1 :], axis=1)
        out.append((pre, np.ascontiguousarray(table[:, k]), post))
    return out


def windows(
    log: TransactionLog,
    members: npt.ArrayLike,
    arm: npt.ArrayLike,
    *,
    start: datetime | date,
    end: datetime | date,
    horizons: tuple[int, ...] = (7, 30, 90),
    unit: Unit = "day",
    as_of: datetime | date | None = None,
    tz: str | tzinfo | None = None,
    ci: float = 0.95,
    points: npt.ArrayLike | None = None,
) -> Windows:
    """Read out a campaign before, during and after it ran, per assigned member.

    Args:
        log: the transactions (``TransactionLog.from_arrays(customer, at,
            amount, ...)``: ``at`` instants in UTC, amounts in minor units;
            returns negative). Customers not in ``members`` are ignored.
        members: every assigned member id (``Assignment.member``), spenders
            or not.
        arm: their arms (``Assignment.arm``) or bools.
        start: when the campaign began (aware, or a date: local midnight in ``tz``).
        end: when it ended (exclusive), after ``start``.
        horizons: window lengths before ``start`` and after ``end``.
        unit: the horizons' unit: ``"day"``, ``"week"``, ``"month"`` (365.25/12
            days) or ``"year"`` (365.25 days).
        as_of: when the log was read; a horizon ending after it is marked
            incomplete (``complete`` False). None: every window is complete.
        tz: the program zone for date arguments.
        ci: the confidence level of the intervals.
        points: optional points earned on each row of the log (int, aligned
            with the log's rows; negative for clawbacks): summed over the same
            windows into ``points_pre`` / ``points_during`` / ``points_post``,
            ready for :func:`roi`.

    Returns:
        A :class:`Windows`.

    Raises:
        InvalidTime: ``end`` not after ``start``, or ``as_of`` before ``end``.
        EmptyArm: an arm with fewer than two members.
        InvalidColumn: ``arm`` and ``members`` of different lengths, a repeated member,
            ``points`` not aligned with the log.

    >>> from datetime import datetime, timezone
    >>> import numpy as np
    >>> day = lambda d: datetime(2024, 6, d, 12, tzinfo=timezone.utc)
    >>> log = TransactionLog.from_arrays(["a", "a", "b", "c"],
    ...     np.array([day(3), day(11), day(12), day(20)], dtype=object), [10, 30, 20, 5])
    >>> r = windows(log, ["a", "b", "c", "d"], ["treatment", "treatment", "control", "control"],
    ...             start=day(10), end=day(17), horizons=(7,))
    >>> r.during.tolist(), r.post[:, 0].tolist()
    ([3000, 2000, 0, 0], [0, 0, 500, 0])
    """
    if not isinstance(log, TransactionLog):
        raise InvalidType(
            f"log must be a TransactionLog, not {type(log).__name__}", field="log", value=None
        )
    ids = column(members, "members")
    treated = arm_mask(arm)
    check_length(treated, len(ids), "arm", "members")
    need_members(int(treated.sum()), 2, "treatment", "windows")
    need_members(int((~treated).sum()), 2, "control", "windows")
    hs = _horizons(horizons)
    unit_ = choice(unit, "unit", tuple(UNIT_DAYS))
    level = fraction(ci, "ci")
    zone_ = None if tz is None else zone(tz)
    t0, t1 = _instant(start, "start", zone_), _instant(end, "end", zone_)
    if t1 <= t0:
        raise InvalidTime(f"end={end!r} must be after start={start!r}", field="end", value=end)
    read = None if as_of is None else _instant(as_of, "as_of", zone_)
    if read is not None and read < t1:
        raise InvalidTime(
            f"as_of={as_of!r} must not be before end={end!r}", field="as_of", value=as_of
        )
    earned = None if points is None else _points(points, len(log))
    spans = [round(h * UNIT_DAYS[unit_] * _DAY_US) for h in hs]
    edges = np.array(
        [t0 - s for s in reversed(spans)] + [t0, t1] + [t1 + s for s in spans], dtype=np.int64
    )
    rows = member_of_code(ids, log.customer_ids)
    columns = [log.amount] if earned is None else [log.amount, earned]
    sums = _per_member(log, columns, edges, rows, len(ids))
    pre, during, post = sums[0]
    result = _readout(
        ids, treated, hs, unit_, log.exponent, pre, during, post, spans, t1, read, level
    )
    result = attrs.evolve(result, start=from_micros(t0), end=from_micros(t1), ci=level)
    if earned is None:
        return result
    p_pre, p_during, p_post = sums[1]
    return attrs.evolve(result, points_pre=p_pre, points_during=p_during, points_post=p_post)


def _readout(
    ids: npt.NDArray[Any],
    treated: Mask,
    hs: tuple[int, ...],
    unit: str,
    exponent: int,
    pre: I64,
    during: I64,
    post: I64,
    spans: list[int],
    t1: int,
    read: int | None,
    ci: float,
) -> Windows:
    scale = 10.0**exponent
    rows: list[tuple[str, int, bool, F64]] = [("during", 0, True, during / scale)]
    for j, h in enumerate(hs):
        done = read is None or t1 + spans[j] <= read
        rows.append(("pre", h, True, pre[:, j] / scale))
        rows.append(("post", h, done, post[:, j] / scale))
        rows.append(("during+post", h, done, (during + post[:, j]) / scale))
    stats = []
    for _, _, _, values in rows:
        c = compare(values[treated], values[~treated], ci=ci)
        stats.append(
            (
                c.mean_treatment,
                c.mean_control,
                c.difference,
                c.difference_low,
                c.difference_high,
                c.p_value,
            )
        )
    mt, mc, diff, low, high, p = (
        np.array(col, dtype=np.float64) for col in zip(*stats, strict=True)
    )
    return Windows(
        member=ids,
        treated=treated,
        horizons=hs,
        unit=unit,
        exponent=exponent,
        pre=pre,
        during=during,
        post=post,
        window=np.array([r[0] for r in rows], dtype=object),
        horizon=np.array([r[1] for r in rows], dtype=np.int64),
        complete=np.array([r[2] for r in rows], dtype=np.bool_),
        treatment_mean=mt,
        control_mean=mc,
        difference=diff,
        low=low,
        high=high,
        p_value=p,
    )
