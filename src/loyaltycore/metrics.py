"""KPI calculators: retention, cohorts, churn, order value, NPS, points KPIs.

Pure functions over numpy columns: arrays in, numbers or frozen results out.
None of them reads the clock (time is an argument), and none depends on the
order of the rows: sums are exact (:func:`math.fsum`) or taken in sorted
order, customers are ordered by id and periods by date.

Transaction-level KPIs take a ``customer`` column (any hashable ids) and an
``at`` column: int64 microseconds UTC (``log.at``), or ``datetime64`` read on
the wall clock of ``tz``, or aware datetimes. Columns may be numpy arrays,
sequences or series of any engine; with ``data=`` (a pandas, polars or
pyarrow frame, a DuckDB relation, a mapping or a Summary) the column
arguments are column names instead. Periods ("day", "week" —
Monday first, "month", "quarter", "year") are local calendar periods in the
program zone ``tz``. Customer-level KPIs take a summary column
(:func:`~loyaltycore.transactions.summarize`).

>>> import numpy as np
>>> customer = [1, 2, 1, 3, 2]
>>> at = np.array(["2024-01-05", "2024-01-20", "2024-02-03", "2024-02-10", "2024-03-01"],
...               dtype="datetime64[D]")
>>> retention_rate(customer, at, period="month", tz="UTC", as_of=date(2024, 4, 1)).rate
array([0.5, 0. ])
>>> nps([10, 9, 8, 3, 10])
40.0
>>> import polars as pl
>>> log = pl.DataFrame({"id": ["007", "008", "007"], "ts": at[:3]})
>>> retention_rate("id", "ts", data=log, tz="UTC", as_of=date(2024, 4, 1)).rate
array([0.5])
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING, Any, overload

import attrs
import numpy as np
import numpy.typing as npt

from loyaltycore import _native
from loyaltycore._deprecate import becoming_required
from loyaltycore._frames import Col, Frames
from loyaltycore._validate import DECIMAL_CONTEXT, check_int, check_rate, to_decimal
from loyaltycore.calendar import Period, add_period, period_start, start_of_day, zone
from loyaltycore.errors import EmptyData, InvalidArgument, InvalidColumn, InvalidType
from loyaltycore.transactions import _input as tx
from loyaltycore.transactions._periods import (
    Frequency,
    check_period,
    cohort_counts,
    distinct_pairs,
    events,
    first_per_code,
    period_numbers,
    period_offsets,
    period_starts,
)

if TYPE_CHECKING:
    from loyaltycore.points import PointsLedger

__all__ = [
    "CohortTable",
    "CustomerValues",
    "Distribution",
    "MigrationMatrix",
    "PeriodRates",
    "PointsFlow",
    "RedemptionCurve",
    "active_rate",
    "arpu",
    "average_order_value",
    "breakage_rate",
    "churn_rate",
    "cohort_retention",
    "growth_rate",
    "historic_clv",
    "migration_matrix",
    "nps",
    "points_flow",
    "points_liability",
    "purchase_frequency",
    "redemption_rate",
    "repurchase_rate",
    "retention_rate",
    "tier_distribution",
]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


def _array_eq(a: Any, b: Any) -> bool:
    if a.dtype.kind == "f" and b.dtype.kind == "f":
        return bool(np.array_equal(a, b, equal_nan=True))
    return bool(np.array_equal(a, b))


def _frozen(value: npt.ArrayLike) -> npt.NDArray[Any]:
    array = np.array(value, copy=True)
    array.flags.writeable = False
    return array


def _array_field() -> Any:
    return attrs.field(converter=_frozen, eq=attrs.cmp_using(eq=_array_eq))


def _floats(values: Any, name: str, *, allow_empty: bool = False) -> F64:
    """A finite float64 column (NaN, inf, bools and text refused)."""
    array = tx.as_array(values, name)
    if array.dtype.kind not in "iuf":
        raise InvalidType(
            f"{name} must be a numeric column, not {array.dtype}",
            field=name,
            value=str(array.dtype),
        )
    out = array.astype(np.float64)
    bad = ~np.isfinite(out)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InvalidColumn(
            f"{name}[{row}]={out[row].item()!r} is not finite", field=name, row=row
        )
    if not allow_empty and len(out) == 0:
        raise EmptyData(f"{name} is empty", field=name)
    return out


def _read(data: object, **columns: Any) -> list[Any]:
    """The column arguments: read from ``data`` by name, or taken as columns."""
    if data is None:
        return [_native.column(values) for values in columns.values()]
    return list(_native.read_columns(data, columns).values())


def _exact_sum(values: F64) -> float:
    """Correctly rounded sum: independent of the order of the values."""
    return math.fsum(values.tolist())


def _ratio(numerator: float, denominator: float, name: str) -> float:
    if denominator == 0:
        raise EmptyData(f"{name} is undefined: the denominator is 0", field=name)
    return numerator / denominator


# -- customer activity over periods ---------------------------------------------


@attrs.frozen
class PeriodRates(Frames):
    """A rate per calendar period: ``rate = numerator / denominator``.

    ``period`` holds each period's local start date; ``rate`` is NaN where
    the denominator is 0.

    >>> r = PeriodRates(np.array(["2024-02-01"], "datetime64[D]"), [1], [2], [0.5])
    >>> r.rate.tolist()
    [0.5]
    """

    period: npt.NDArray[np.datetime64] = _array_field()
    numerator: I64 = _array_field()
    denominator: I64 = _array_field()
    rate: F64 = _array_field()

    def _columns_for_frames(self) -> tuple[Col, ...]:
        return (
            Col("period", "date", self.period),
            Col("numerator", "int", self.numerator),
            Col("denominator", "int", self.denominator),
            Col("rate", "float", self.rate),
        )


def _rates(numerator: I64, denominator: I64) -> F64:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / np.maximum(denominator, 1), np.nan)


@becoming_required("as_of", removed_in="0.3.0")
def retention_rate(
    customer: npt.ArrayLike,
    at: npt.ArrayLike,
    *,
    data: object = None,
    period: Frequency = "month",
    tz: str | tzinfo = "UTC",
    as_of: object = None,
) -> PeriodRates:
    """Period-over-period retention of buying customers.

    ``rate[P] = |bought in P-1 and in P| / |bought in P-1|``, for every
    period P after the first one observed (NaN when nobody bought in P-1).
    Transactions after ``as_of`` are left out; the last period may be
    partial.

    Args:
        customer: customer ids, one per transaction.
        at: transaction instants (see the module docstring).
        data: a frame; then ``customer`` and ``at`` name its columns.
        period: "day", "week", "month", "quarter" or "year".
        tz: the program zone of the calendar.
        as_of: when the log was read (an aware instant, or a date: local
            midnight in ``tz``); transactions after it are left out.
            Required: until 0.3.0 omitting it still counts every
            transaction, with a ``DeprecationWarning``.

    Returns:
        :class:`PeriodRates` indexed by P.

    Raises:
        EmptyData: no transaction.

    >>> r = retention_rate(["a", "b", "a", "a"],
    ...     np.array(["2024-01-02", "2024-01-09", "2024-02-05", "2024-03-01"], "datetime64[D]"),
    ...     tz="UTC", as_of=date(2024, 4, 1))
    >>> r.period.tolist(), r.numerator.tolist(), r.denominator.tolist(), r.rate.tolist()
    ([datetime.date(2024, 2, 1), datetime.date(2024, 3, 1)], [1, 1], [2, 1], [0.5, 1.0])
    """
    freq = check_period(period)
    customer, at = _read(data, customer=customer, at=at)
    codes, _, days, _ = events(customer, at, tz, as_of=as_of)
    pair_codes, pair_p = distinct_pairs(codes, period_numbers(days, freq))
    lo = int(pair_p.min())
    n = int(pair_p.max()) - lo + 1
    active = np.bincount(pair_p - lo, minlength=n)
    follow = (pair_codes[1:] == pair_codes[:-1]) & (pair_p[1:] == pair_p[:-1] + 1)
    retained = np.bincount(pair_p[1:][follow] - lo, minlength=n)
    numbers = np.arange(lo + 1, lo + n, dtype=np.int64)
    return PeriodRates(
        period=period_starts(numbers, freq),
        numerator=retained[1:].astype(np.int64),
        denominator=active[:-1].astype(np.int64),
        rate=_rates(retained[1:], active[:-1]),
    )


@attrs.frozen
class CohortTable(Frames):
    """Acquisition cohorts by periods since acquisition.

    ``counts[i, k]`` is the number of customers of cohort ``i`` (first
    purchase in period ``cohort[i]``) who bought in its k-th period after
    acquisition; ``size = counts[:, 0]``; ``rates = counts / size``. Cells
    after the last observed period are unobserved: count 0, rate NaN.
    As a frame it is long: one row per observed cell, with columns
    ``cohort``, ``offset`` (k), ``size``, ``customers`` and ``rate``.

    >>> t = cohort_retention([1, 1, 2], np.array(["2024-01-03", "2024-02-03", "2024-02-04"],
    ...                      "datetime64[D]"), tz="UTC", as_of=date(2024, 3, 1))
    >>> t.cohort.tolist(), t.size.tolist(), t.counts.tolist()
    ([datetime.date(2024, 1, 1), datetime.date(2024, 2, 1)], [1, 1], [[1, 1], [1, 0]])
    >>> t.rates
    array([[ 1.,  1.],
           [ 1., nan]])
    """

    cohort: npt.NDArray[np.datetime64] = _array_field()
    size: I64 = _array_field()
    counts: I64 = _array_field()
    rates: F64 = _array_field()
    period: str = attrs.field(kw_only=True)

    def _columns_for_frames(self) -> tuple[Col, ...]:
        n = len(self.cohort)
        row, offset = np.divmod(np.arange(n * n, dtype=np.int64), max(n, 1))
        observed = row + offset < n
        row, offset = row[observed], offset[observed]
        return (
            Col("cohort", "date", self.cohort[row]),
            Col("offset", "int", offset),
            Col("size", "int", self.size[row]),
            Col("customers", "int", self.counts[row, offset]),
            Col("rate", "float", self.rates[row, offset]),
        )


@becoming_required("as_of", removed_in="0.3.0")
def cohort_retention(
    customer: npt.ArrayLike,
    at: npt.ArrayLike,
    *,
    data: object = None,
    period: Frequency = "month",
    tz: str | tzinfo = "UTC",
    as_of: object = None,
) -> CohortTable:
    """Cohort retention: acquisition cohort x periods since acquisition.

    A customer's cohort is the period of their first purchase;
    ``counts[c, k] = |customers of c who bought in period c + k|`` and
    ``rates[c, k] = counts[c, k] / counts[c, 0]``.

    Args:
        customer: customer ids, one per transaction.
        at: transaction instants (see the module docstring).
        data: a frame; then ``customer`` and ``at`` name its columns.
        period: "day", "week", "month", "quarter" or "year".
        tz: the program zone of the calendar.
        as_of: when the log was read (an aware instant, or a date: local
            midnight in ``tz``); transactions after it are left out.
            Required: until 0.3.0 omitting it still counts every
            transaction, with a ``DeprecationWarning``.

    Returns:
        A :class:`CohortTable` with one row per period from the first to the
        last observed (empty cohorts have size 0 and NaN rates).

    >>> t = cohort_retention(["a", "a", "b"], ["2024-01-01T10:00+00:00",
    ...     "2024-03-01T10:00+00:00", "2024-01-05T10:00+00:00"], period="month",
    ...     as_of=date(2024, 4, 1))
    >>> t.counts.tolist()
    [[2, 0, 1], [0, 0, 0], [0, 0, 0]]
    """
    freq = check_period(period)
    customer, at = _read(data, customer=customer, at=at)
    codes, _, days, _ = events(customer, at, tz, as_of=as_of)
    p, lo, n = period_offsets(days, freq)
    del days
    pair_codes, pair_p = distinct_pairs(codes, p)  # by customer, then period
    del codes, p
    counts = cohort_counts(pair_codes, pair_p, n)
    size = counts[:, 0].copy()
    observed = np.arange(n)[None, :] < (n - np.arange(n))[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = np.where(
            observed & (size[:, None] > 0), counts / np.maximum(size, 1)[:, None], np.nan
        )
    return CohortTable(
        cohort=period_starts(np.arange(lo, lo + n, dtype=np.int64), freq),
        size=size.astype(np.int64),
        counts=counts.astype(np.int64),
        rates=rates,
        period=freq,
    )


def repurchase_rate(
    customer: npt.ArrayLike,
    at: npt.ArrayLike,
    *,
    within_days: int,
    as_of: object,
    tz: str | tzinfo = "UTC",
    data: object = None,
) -> float:
    """Share of customers who bought again within ``within_days`` of their first purchase.

    Only customers whose window is fully observed count: first purchase day
    ``f <= as_of's day - within_days``. ``rate = |eligible with a second
    purchase day in (f, f + within_days]| / |eligible|``. Days are local
    calendar days in ``tz``; rows after ``as_of`` are ignored. With
    ``data``, ``customer`` and ``at`` name its columns.

    Raises:
        EmptyData: no customer is eligible.

    >>> from datetime import datetime, timezone
    >>> at = np.array(["2024-01-01", "2024-01-20", "2024-01-02", "2024-03-01", "2024-03-20"],
    ...               "datetime64[D]")
    >>> repurchase_rate([1, 1, 2, 2, 3], at, within_days=30, tz="UTC",
    ...                 as_of=datetime(2024, 3, 25, tzinfo=timezone.utc))
    0.5
    """
    window = check_int(within_days, "within_days", minimum=1)
    if as_of is None:
        raise InvalidArgument("repurchase_rate needs as_of", field="as_of")
    customer, at = _read(data, customer=customer, at=at)
    codes, _, days, zone_ = events(customer, at, tz, as_of=as_of)
    _, limit = tx.as_of_micros(as_of, zone_)
    as_of_day = _local_day(limit, zone_)
    pair_codes, pair_days = distinct_pairs(codes, days)
    first, _ = first_per_code(pair_codes, pair_days)
    first_day = pair_days[first]
    eligible = first_day <= as_of_day - window
    nxt = np.minimum(first + 1, len(pair_codes) - 1)
    again = (pair_codes[nxt] == pair_codes[first]) & (nxt > first)
    again &= pair_days[nxt] - first_day <= window
    return _ratio(float(np.sum(again & eligible)), float(np.sum(eligible)), "repurchase_rate")


def _local_day(micros: int, zone_: tzinfo) -> int:
    from loyaltycore.calendar import local_days

    return int(local_days(np.array([micros], dtype=np.int64), tz=zone_)[0])


# -- customer-level rates -------------------------------------------------------


def churn_rate(
    days_since_last: npt.ArrayLike, *, threshold_days: float, data: object = None
) -> float:
    """Share of customers inactive for more than ``threshold_days``.

    ``churn = |days_since_last > threshold_days| / |customers|``. The
    threshold is explicit: there is no default inactivity period. With
    ``data`` (a summary or its frame), ``days_since_last`` names its column.

    >>> churn_rate([3, 40, 200, 95], threshold_days=90)
    0.5
    """
    (column,) = _read(data, days_since_last=days_since_last)
    days = _floats(column, "days_since_last")
    threshold = check_rate(threshold_days, "threshold_days")
    return float(np.count_nonzero(days > threshold)) / len(days)


def active_rate(
    days_since_last: npt.ArrayLike,
    *,
    within_days: float,
    members: int | None = None,
    data: object = None,
) -> float:
    """Share of customers (or of ``members``) who bought within ``within_days``.

    ``active = |days_since_last <= within_days| / (members or |customers|)``.
    Pass ``members`` to count members who never bought in the denominator.
    With ``data``, ``days_since_last`` names its column.

    >>> active_rate([3, 40, 200, 95], within_days=90, members=8)
    0.25
    """
    (column,) = _read(data, days_since_last=days_since_last)
    days = _floats(column, "days_since_last")
    window = check_rate(within_days, "within_days")
    base = len(days) if members is None else check_int(members, "members", minimum=len(days))
    return _ratio(float(np.count_nonzero(days <= window)), float(base), "active_rate")


def purchase_frequency(customer: npt.ArrayLike, *, data: object = None) -> float:
    """Orders per customer: ``transactions / distinct customers``.

    With ``data``, ``customer`` names its column.

    >>> purchase_frequency(["a", "b", "a", "a"])
    2.0
    """
    (column,) = _read(data, customer=customer)
    codes, ids = tx.factorize(column, "customer")
    return _ratio(float(len(codes)), float(len(ids)), "purchase_frequency")


def average_order_value(
    amount: npt.ArrayLike, *, exponent: int | None = None, data: object = None
) -> float:
    """AOV: ``sum(amount) / number of orders``, one amount per order.

    ``amount`` is in currency units, or int minor units with ``exponent``
    (then divided by ``10**exponent``, e.g. ``log.amount`` with 2). With
    ``data``, ``amount`` names its column.

    >>> average_order_value([1999, 501], exponent=2)
    12.5
    """
    (column,) = _read(data, amount=amount)
    values = _floats(column, "amount")
    scale = 1.0 if exponent is None else 10.0 ** tx.check_exponent(exponent)
    return _exact_sum(values) / len(values) / scale


def arpu(
    amount: npt.ArrayLike, users: int, *, exponent: int | None = None, data: object = None
) -> float:
    """Average revenue per user: ``sum(amount) / users``.

    ``users`` counts every user of the base (buyers or not) over the same
    period as the amounts. With ``data``, ``amount`` names its column.

    >>> arpu([10.0, 20.0, 30.0], users=4)
    15.0
    """
    (column,) = _read(data, amount=amount)
    values = _floats(column, "amount", allow_empty=True)
    base = check_int(users, "users", minimum=1)
    scale = 1.0 if exponent is None else 10.0 ** tx.check_exponent(exponent)
    return _exact_sum(values) / base / scale


@overload
def growth_rate(previous: float, current: float, *, periods: int = 1) -> float: ...
@overload
def growth_rate(
    previous: npt.ArrayLike, current: npt.ArrayLike, *, periods: int = 1
) -> float | npt.NDArray[np.float64]: ...
def growth_rate(
    previous: npt.ArrayLike, current: npt.ArrayLike, *, periods: int = 1
) -> float | npt.NDArray[np.float64]:
    """Growth from ``previous`` to ``current``, compounded per period.

    ``growth = (current / previous) ** (1 / periods) - 1``; with
    ``periods=1`` that is ``(current - previous) / previous``. Works on
    scalars or element-wise on arrays: NaN where ``previous`` is 0, and
    where a compounded rate (``periods > 1``) would need a negative ratio.

    >>> growth_rate(200, 250)
    0.25
    >>> round(growth_rate(100, 121, periods=2), 12)
    0.1
    """
    steps = check_int(periods, "periods", minimum=1)
    before = _floats(np.atleast_1d(previous), "previous")
    after = _floats(np.atleast_1d(current), "current")
    if before.shape != after.shape:
        raise InvalidColumn(
            f"previous has {len(before)} values and current {len(after)}", field="current"
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(before != 0, after / np.where(before != 0, before, 1.0), np.nan)
        if steps == 1:
            result = ratio - 1.0
        else:  # a compounded rate needs a non-negative ratio
            result = np.where(ratio >= 0, np.abs(ratio) ** (1.0 / steps) - 1.0, np.nan)
    if np.ndim(previous) == 0 and np.ndim(current) == 0:
        return float(result[0])
    return result


def nps(scores: npt.ArrayLike, *, data: object = None) -> float:
    """Net promoter score of 0-10 answers, from -100 to 100.

    ``NPS = 100 * (|scores >= 9| - |scores <= 6|) / |scores|``. With
    ``data``, ``scores`` names its column.

    Raises:
        InvalidColumn: a score that is not an integer from 0 to 10.

    >>> nps([10, 10, 9, 7, 0])
    40.0
    """
    (column,) = _read(data, scores=scores)
    values = _floats(column, "scores")
    bad = (values < 0) | (values > 10) | (values != np.rint(values))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InvalidColumn(
            f"scores[{row}]={values[row].item()!r} must be an integer from 0 to 10",
            field="scores",
            row=row,
        )
    promoters = np.count_nonzero(values >= 9)
    detractors = np.count_nonzero(values <= 6)
    return float(100.0 * (promoters - detractors) / len(values))


@attrs.frozen
class CustomerValues(Frames):
    """One value per customer, ordered by customer id.

    >>> CustomerValues(np.array(["a"], dtype=object), [2.5]).value.tolist()
    [2.5]
    """

    customer_id: npt.NDArray[Any] = _array_field()
    value: F64 = _array_field()

    def _columns_for_frames(self) -> tuple[Col, ...]:
        return (Col("customer_id", "id", self.customer_id), Col("value", "float", self.value))


def historic_clv(
    customer: npt.ArrayLike,
    amount: npt.ArrayLike,
    *,
    margin: float = 1.0,
    exponent: int | None = None,
    data: object = None,
) -> CustomerValues:
    """Historic customer lifetime value: margin x the customer's past spend.

    ``clv[c] = margin * sum(amount of c's transactions)``, per customer,
    ordered by id. Sums are taken in sorted order, so row order cannot change
    a digit. Returns (negative amounts) reduce the value. With ``data``,
    ``customer`` and ``amount`` name its columns.

    >>> v = historic_clv(["b", "a", "b"], [10.0, 4.0, 6.0], margin=0.25)
    >>> v.customer_id.tolist(), v.value.tolist()
    (['a', 'b'], [1.0, 4.0])
    """
    customer, amount = _read(data, customer=customer, amount=amount)
    codes, ids = tx.factorize(customer, "customer")
    values = _floats(amount, "amount")
    tx.check_length(values, len(codes), "amount")
    rate = check_rate(margin, "margin")
    order = np.lexsort((values, codes))
    sorted_codes = codes[order]
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    sums = np.add.reduceat(values[order], starts)
    scale = 1.0 if exponent is None else 10.0 ** tx.check_exponent(exponent)
    return CustomerValues(customer_id=ids, value=rate * sums / scale)


# -- points KPIs -----------------------------------------------------------------


def _points_total(values: Any, name: str) -> int:
    array = tx.as_array(np.atleast_1d(values), name)
    if array.dtype.kind not in "iu":
        raise InvalidType(
            f"{name} must be int points, not {array.dtype}", field=name, value=str(array.dtype)
        )
    if (array < 0).any():
        row = int(np.flatnonzero(array < 0)[0])
        raise InvalidColumn(f"{name}[{row}] is negative", field=name, row=row)
    return int(sum(array.tolist()))


def redemption_rate(redeemed: npt.ArrayLike, issued: npt.ArrayLike) -> float:
    """Share of issued points that were redeemed: ``sum(redeemed) / sum(issued)``.

    >>> redemption_rate([300, 200], [1000, 1000])
    0.25
    """
    return _ratio(
        float(_points_total(redeemed, "redeemed")),
        float(_points_total(issued, "issued")),
        "redemption_rate",
    )


def breakage_rate(
    expired: npt.ArrayLike | None = None,
    issued: npt.ArrayLike | None = None,
    *,
    model: RedemptionCurve | None = None,
    age: int | None = None,
) -> float:
    """Breakage: historical from counts of points, or expected from a model.

    Historical: ``sum(expired) / sum(issued)`` points — final only for
    cohorts of points that can no longer be redeemed. Expected, given a
    fitted :class:`RedemptionCurve` as ``model``: ``1 - ultimate`` for new
    points, or, for points still outstanding at the end of age ``age``,
    ``1 - (ultimate - cumulative[age]) / (1 - cumulative[age])``.

    Raises:
        InvalidArgument: both or neither of (expired, issued) and model.

    >>> breakage_rate(expired=[150, 50], issued=[1000, 1000])
    0.1
    >>> curve = RedemptionCurve.fit([1000, 1000], [[500, 800], [600, np.nan]])
    >>> round(breakage_rate(model=curve), 4), round(breakage_rate(model=curve, age=0), 4)
    (0.12, 0.2667)
    """
    if model is not None:
        if expired is not None or issued is not None:
            raise InvalidArgument(
                "pass expired and issued, or a model, not both", field="model", value=None
            )
        if not isinstance(model, RedemptionCurve):
            raise InvalidType(
                f"model must be a RedemptionCurve, not {type(model).__name__}",
                field="model",
                value=type(model).__name__,
            )
        return model.breakage_rate(age)
    if expired is None or issued is None:
        raise InvalidArgument("breakage_rate needs expired and issued, or a model", field="model")
    if age is not None:
        raise InvalidArgument("age applies to a model's expected breakage", field="age", value=age)
    return _ratio(
        float(_points_total(expired, "expired")),
        float(_points_total(issued, "issued")),
        "breakage_rate",
    )


@attrs.frozen
class RedemptionCurve(Frames):
    """Cumulative share of issued points redeemed by age, fitted by chain ladder.

    ``cumulative[k]`` is the expected share of a cohort's points redeemed by
    the end of its k-th period after issue; ``ultimate`` (the ultimate
    redemption rate, URR) is the share ever redeemed, and the expected
    breakage of newly issued points is ``1 - ultimate``.

    This is the actuarial method used for loyalty liabilities (IFRS 15
    breakage): cohorts of issued points form a triangle of cumulative
    redemptions by age; each age-to-age development factor is the
    volume-weighted ratio over the cohorts observed at both ages,
    ``f[k] = sum_c R[c, k + 1] / sum_c R[c, k]``; a cohort's ultimate is its
    latest cumulative redemption times the remaining factors. Ages beyond
    the oldest observed are assumed fully developed — pass a triangle as long
    as the points' lifetime (the expiry period).

    >>> issued = [1000, 1000, 1000]
    >>> triangle = [[400, 600, 700], [500, 750, np.nan], [450, np.nan, np.nan]]
    >>> curve = RedemptionCurve.fit(issued, triangle)
    >>> round(curve.ultimate, 4), round(curve.breakage_rate(), 4)
    (0.7875, 0.2125)
    >>> round(curve.breakage_rate(age=1), 4)  # of points still outstanding at age 1
    0.6538
    """

    cumulative: F64 = _array_field()
    factors: F64 = _array_field()

    def _columns_for_frames(self) -> tuple[Col, ...]:
        ages = np.arange(len(self.cumulative), dtype=np.int64)
        factor = np.append(self.factors, np.nan)  # no development after the last age
        return (
            Col("age", "int", ages),
            Col("cumulative", "float", self.cumulative),
            Col("factor", "float", factor),
        )

    @property
    def ultimate(self) -> float:
        """The ultimate redemption rate (share of points ever redeemed).

        >>> RedemptionCurve.fit([100], [[40, 60]]).ultimate
        0.6
        """
        return float(self.cumulative[-1])

    @classmethod
    def fit(cls, issued: npt.ArrayLike, redeemed: npt.ArrayLike) -> RedemptionCurve:
        """Fit the curve from a triangle of cumulative redemptions.

        Args:
            issued: points issued per cohort (int, > 0).
            redeemed: cohorts x ages cumulative points redeemed; NaN where a
                cohort is not that old yet (the lower-right triangle).

        Raises:
            InvalidColumn: a cumulative redemption that decreases with age,
                exceeds the cohort's issued points, or a gap inside a row.

        >>> RedemptionCurve.fit([100], [[50, 40]])
        Traceback (most recent call last):
        ...
        loyaltycore.errors.InvalidColumn: redeemed[0, 1]=40.0 is below the previous age
        """
        base = tx.as_array(np.atleast_1d(issued), "issued")
        if base.dtype.kind not in "iu" or (base <= 0).any():
            raise InvalidColumn("issued must be positive int points per cohort", field="issued")
        tri = np.array(redeemed, dtype=np.float64)
        if tri.ndim != 2 or tri.shape[0] != len(base) or tri.shape[1] == 0:
            raise InvalidColumn(
                f"redeemed must be cohorts x ages with {len(base)} rows, got shape {tri.shape}",
                field="redeemed",
            )
        _check_triangle(tri, base.astype(np.float64))
        seen = ~np.isnan(tri)
        ages = tri.shape[1]
        factors = np.ones(max(ages - 1, 0))
        for k in range(ages - 1):
            both = seen[:, k] & seen[:, k + 1]
            below = _exact_sum(tri[both, k])
            factors[k] = _exact_sum(tri[both, k + 1]) / below if below > 0 else 1.0
        first = tri[:, 0]
        if np.isnan(first).all():
            raise EmptyData("redeemed has no observed cell", field="redeemed")
        share0 = _exact_sum(first[seen[:, 0]]) / _exact_sum(base[seen[:, 0]].astype(float))
        cumulative = share0 * np.concatenate(([1.0], np.cumprod(factors)))
        return cls(cumulative=np.minimum(cumulative, 1.0), factors=factors)

    def breakage_rate(self, age: int | None = None) -> float:
        """Expected breakage of new points, or of those outstanding at ``age``.

        New points: ``1 - ultimate``. Points still outstanding at the end of
        age k: ``1 - (ultimate - cumulative[k]) / (1 - cumulative[k])``.

        >>> curve = RedemptionCurve.fit([100], [[40, 60]])
        >>> round(curve.breakage_rate(), 4), round(curve.breakage_rate(age=0), 4)
        (0.4, 0.6667)
        """
        if age is None:
            return 1.0 - self.ultimate
        k = check_int(age, "age", minimum=0)
        done = float(self.cumulative[min(k, len(self.cumulative) - 1)])
        if done >= 1.0:
            return 0.0
        return 1.0 - (self.ultimate - done) / (1.0 - done)


def _check_triangle(tri: F64, issued: F64) -> None:
    seen = ~np.isnan(tri)
    for i in range(tri.shape[0]):
        row = tri[i]
        observed = np.flatnonzero(seen[i])
        if len(observed) and observed[-1] + 1 != len(observed):
            raise InvalidColumn(
                f"redeemed[{i}] has a gap: observed ages must come first", field="redeemed", row=i
            )
        values = row[observed]
        if not np.isfinite(values).all() or (values < 0).any():
            raise InvalidColumn(
                f"redeemed[{i}] has a negative or infinite value", field="redeemed"
            )
        drop = np.flatnonzero(np.diff(values) < 0)
        if len(drop):
            k = int(drop[0]) + 1
            raise InvalidColumn(
                f"redeemed[{i}, {k}]={values[k].item()!r} is below the previous age",
                field="redeemed",
                row=i,
            )
        if len(values) and values[-1] > issued[i]:
            raise InvalidColumn(
                f"redeemed[{i}] exceeds the {int(issued[i])} points issued",
                field="redeemed",
                row=i,
            )


def points_liability(
    outstanding: int, cost_per_point: Decimal | str | int, expected_breakage: float
) -> Decimal:
    """The money owed for outstanding points, net of expected breakage.

    ``liability = outstanding x cost_per_point x (1 - expected_breakage)``,
    in the library's Decimal context, not rounded (round it to the currency
    when you book it).

    Args:
        outstanding: points not yet redeemed or expired.
        cost_per_point: the cost of a point (Decimal, str or int; no floats).
        expected_breakage: the expected share never redeemed, in [0, 1].

    >>> points_liability(1_000_000, "0.008", 0.2)
    Decimal('6400.0000')
    """
    points = check_int(outstanding, "outstanding", minimum=0)
    cost = to_decimal(cost_per_point, "cost_per_point")
    breakage = check_rate(expected_breakage, "expected_breakage")
    if not 0.0 <= breakage <= 1.0:
        raise InvalidArgument(
            f"expected_breakage={breakage!r} must be in [0, 1]",
            field="expected_breakage",
            value=breakage,
        )
    kept = DECIMAL_CONTEXT.subtract(Decimal(1), Decimal(repr(breakage)))
    return DECIMAL_CONTEXT.multiply(DECIMAL_CONTEXT.multiply(Decimal(points), cost), kept)


@attrs.frozen
class PointsFlow:
    """Points issued, redeemed and expired in each calendar period, and what is left.

    ``start[k]`` is the local first date of period k; ``issued``,
    ``redeemed`` (net of cancelled redemptions) and ``expired`` are the points
    of those flows in the period, summed over the ledgers; ``outstanding`` is
    the points the members own at its end (available, pending and held).
    ``period`` names the period ("month", "quarter" or "year") and ``tz``
    the zone of the calendar.

    >>> flow = PointsFlow(np.array(["2024-01-01"], "datetime64[D]"), [100], [40], [0], [60],
    ...                   period="month", tz="UTC")
    >>> int(flow.issued[0] - flow.redeemed[0] - flow.expired[0]) == int(flow.outstanding[0])
    True
    """

    start: npt.NDArray[np.datetime64] = _array_field()
    issued: I64 = _array_field()
    redeemed: I64 = _array_field()
    expired: I64 = _array_field()
    outstanding: I64 = _array_field()
    period: str = attrs.field(kw_only=True)
    tz: str = attrs.field(kw_only=True)


def points_flow(
    ledgers: Iterable[PointsLedger],
    *,
    start: date,
    end: date,
    period: Period = "month",
    tz: str | tzinfo = "UTC",
) -> PointsFlow:
    """Points issued, redeemed and expired by calendar period, over many ledgers.

    Each figure is the change of a ledger's lifetime totals
    (:class:`~loyaltycore.points.Balance`) across the period: ``issued`` is
    ``earned``, ``redeemed`` is ``redeemed - cancelled`` and ``expired`` is
    ``expired``; ``outstanding`` is ``available + pending + held`` at the
    period's end. Balances between events are rebuilt from each ledger's
    history, and expiries due by a period's end count even when the ledger
    recorded no event since.

    Args:
        ledgers: the members' :class:`~loyaltycore.points.PointsLedger` values.
        start: a local date in the first period.
        end: the local date the last period ends on or before (exclusive):
            periods start from ``start``'s period up to the last one starting
            before ``end``.
        period: "month", "quarter" or "year".
        tz: the zone whose calendar the periods follow.

    Returns:
        A :class:`PointsFlow` with one row per period.

    Raises:
        InvalidArgument: ``end`` is not after ``start``, or an unknown period.
        InvalidType: an item that is not a points ledger.

    >>> from datetime import datetime, timezone
    >>> from loyaltycore.points import ExpireAfter, PointsLedger
    >>> ledger = PointsLedger.open("m-1", policy=ExpireAfter(months=1))
    >>> ledger = ledger.earn("e1", at=datetime(2024, 1, 10, tzinfo=timezone.utc), points=100)
    >>> ledger = ledger.redeem("r1", at=datetime(2024, 1, 20, tzinfo=timezone.utc), points=30)
    >>> flow = points_flow([ledger], start=date(2024, 1, 1), end=date(2024, 4, 1))
    >>> flow.issued.tolist(), flow.redeemed.tolist(), flow.expired.tolist()
    ([100, 0, 0], [30, 0, 0], [0, 70, 0])
    >>> flow.outstanding.tolist()
    [70, 0, 0]
    """
    from loyaltycore.points import PointsLedger

    zone_ = zone(tz)
    first = period_start(_date(start, "start"), period)
    stop = _date(end, "end")
    if stop <= first:
        raise InvalidArgument(
            f"end={stop.isoformat()} must be after the period of start={start.isoformat()}",
            field="end",
            value=stop,
        )
    bounds = [first]
    while bounds[-1] < stop:
        bounds.append(add_period(bounds[-1], period))
    instants = [start_of_day(day, tz=zone_) for day in bounds]
    totals = np.zeros((len(bounds), 4), dtype=np.int64)
    for index, ledger in enumerate(ledgers):
        if not isinstance(ledger, PointsLedger):
            raise InvalidType(
                f"ledgers[{index}] must be a PointsLedger, not {type(ledger).__name__}",
                field="ledgers",
                row=index,
            )
        for k, when in enumerate(instants):
            b = ledger.balance(as_of=when)
            totals[k] += (
                b.earned,
                b.redeemed - b.cancelled,
                b.expired,
                b.available + b.pending + b.held,
            )
    flows = np.diff(totals[:, :3], axis=0)
    return PointsFlow(
        start=np.array(bounds[:-1], dtype="datetime64[D]"),
        issued=flows[:, 0],
        redeemed=flows[:, 1],
        expired=flows[:, 2],
        outstanding=totals[1:, 3],
        period=period,
        tz=str(getattr(zone_, "key", zone_)),
    )


def _date(value: object, name: str) -> date:
    if isinstance(value, datetime) or not isinstance(value, date):
        raise InvalidType(f"{name}={value!r} must be a date (a local calendar day)", field=name)
    return value


# -- distributions over labels -----------------------------------------------------


@attrs.frozen
class Distribution(Frames):
    """Counts and shares of each label.

    >>> Distribution(np.array(["gold"], dtype=object), [3], [1.0]).shares.tolist()
    [1.0]
    """

    labels: npt.NDArray[Any] = _array_field()
    counts: I64 = _array_field()
    shares: F64 = _array_field()

    def _columns_for_frames(self) -> tuple[Col, ...]:
        codes = np.arange(len(self.labels), dtype=np.int64)
        return (
            Col("label", "category", codes, labels=self.labels.tolist()),
            Col("count", "int", self.counts),
            Col("share", "float", self.shares),
        )


def _label_codes(values: Any, name: str, order: Sequence[Any] | None) -> tuple[I64, Any]:
    codes, ids = tx.factorize(values, name, allow_blank=True)
    if order is None:
        return codes, ids
    ladder = list(order)
    position = {label: i for i, label in enumerate(ladder)}
    if len(position) != len(ladder):
        raise InvalidArgument("labels repeat a label", field="labels", value=ladder)
    missing = [label for label in ids.tolist() if label not in position]
    if missing:
        raise InvalidColumn(
            f"{name} has {missing[0]!r}, which is not in labels={ladder}",
            field=name,
            value=missing[0],
        )
    remap = np.array([position[label] for label in ids.tolist()], dtype=np.int64)
    out = np.empty(len(ladder), dtype=object)
    out[:] = ladder
    return remap[codes], out


def tier_distribution(
    tiers: npt.ArrayLike, *, labels: Sequence[Hashable] | None = None, data: object = None
) -> Distribution:
    """How many members are in each tier (or any label), and which share.

    ``share[t] = |members in t| / |members|``. ``labels`` fixes the order
    (e.g. the ladder, lowest first) and lists tiers with no member. With
    ``data``, ``tiers`` names its column.

    >>> d = tier_distribution(["gold", "base", "base", "silver"],
    ...                       labels=["base", "silver", "gold", "platinum"])
    >>> d.counts.tolist(), d.shares.tolist()
    ([2, 1, 1, 0], [0.5, 0.25, 0.25, 0.0])
    """
    (column,) = _read(data, tiers=tiers)
    codes, names = _label_codes(column, "tiers", labels)
    if len(codes) == 0:
        raise EmptyData("tiers is empty", field="tiers")
    counts = np.bincount(codes, minlength=len(names)).astype(np.int64)
    return Distribution(labels=names, counts=counts, shares=counts / len(codes))


@attrs.frozen
class MigrationMatrix(Frames):
    """Counts of members by (label before, label after), and row shares.

    ``rates[i, j] = counts[i, j] / sum_j counts[i, j]`` (NaN for an empty
    row): the probability of moving from ``labels[i]`` to ``labels[j]``.
    As a frame it is long: one row per (before, after) cell, with columns
    ``before``, ``after``, ``count`` and ``rate``.

    >>> m = migration_matrix(["a", "a", "b"], ["a", "b", "b"])
    >>> m.counts.tolist(), m.rates.tolist()
    ([[1, 1], [0, 1]], [[0.5, 0.5], [0.0, 1.0]])
    """

    labels: npt.NDArray[Any] = _array_field()
    counts: I64 = _array_field()
    rates: F64 = _array_field()

    def _columns_for_frames(self) -> tuple[Col, ...]:
        n = len(self.labels)
        before, after = np.divmod(np.arange(n * n, dtype=np.int64), max(n, 1))
        names = self.labels.tolist()
        return (
            Col("before", "category", before, labels=names),
            Col("after", "category", after, labels=names),
            Col("count", "int", self.counts.reshape(-1)),
            Col("rate", "float", self.rates.reshape(-1)),
        )


def migration_matrix(
    before: npt.ArrayLike,
    after: npt.ArrayLike,
    *,
    labels: Sequence[Hashable] | None = None,
    data: object = None,
) -> MigrationMatrix:
    """Migration between two label arrays of the same members (tiers, segments).

    ``counts[i, j] = |members with before == labels[i] and after == labels[j]|``.
    Labels are the union of both arrays, sorted, unless ``labels`` gives the
    order. With ``data``, ``before`` and ``after`` name its columns.

    >>> migration_matrix(["base", "gold"], ["gold", "gold"],
    ...                  labels=["base", "gold"]).counts.tolist()
    [[0, 1], [0, 1]]
    """
    before, after = _read(data, before=before, after=after)
    first = tx.as_array(before, "before")
    second = tx.as_array(after, "after")
    tx.check_length(second, len(first), "after")
    if len(first) == 0:
        raise EmptyData("before is empty", field="before")
    if first.dtype == second.dtype:
        both = np.concatenate([first, second])
    else:
        both = np.concatenate([first.astype(object), second.astype(object)])
    codes, names = _label_codes(both, "labels", labels)
    n = len(names)
    m = len(first)
    counts = np.bincount(codes[:m] * n + codes[m:], minlength=n * n).reshape(n, n)
    totals = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = np.where(totals > 0, counts / np.maximum(totals, 1), np.nan)
    return MigrationMatrix(labels=names, counts=counts.astype(np.int64), rates=rates)
