"""How well a fitted model tracks the data: the tables the CLV literature plots.

Every result is a frozen value with named numpy columns (``columns()``) and
``to_frame(backend=...)``; the plotting layer only draws them. Times are in the
model's unit unless ``unit=`` says otherwise, measured from one origin (the
start of the data) for tracking, or from the customer's first purchase.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
import numpy as np

from loyaltycore._frames import Frames
from loyaltycore._validate import check_int, check_rate, freeze
from loyaltycore.clv import _data
from loyaltycore.clv._base import ArrayLike, Float
from loyaltycore.errors import InvalidArgument, InvalidColumn, InvalidType


def _column() -> Any:
    return attrs.field(converter=freeze, eq=attrs.cmp_using(eq=np.array_equal))


class _Table(Frames):
    """Named columns of equal length, readable as a mapping and convertible to a frame.

    ``to_frame``, ``to_pandas``, ``to_polars``, ``to_arrow`` and the Arrow C
    stream come from :class:`loyaltycore._frames.Frames`.
    """

    __slots__ = ()
    COLUMNS: ClassVar[tuple[str, ...]]

    def columns(self) -> dict[str, Float]:
        """The columns by name, in order."""
        return {name: getattr(self, name) for name in self.COLUMNS}

    def __getitem__(self, name: str) -> Float:
        if name not in self.COLUMNS:
            raise InvalidColumn(f"{name}: no such column; columns are {list(self.COLUMNS)}")
        value: Float = getattr(self, name)
        return value

    def __len__(self) -> int:
        return len(getattr(self, self.COLUMNS[0]))


def _purchase_model(model: object) -> Any:
    from loyaltycore.clv import BetaGeo, ModifiedBetaGeo, ParetoNBD

    if not isinstance(model, BetaGeo | ModifiedBetaGeo | ParetoNBD):
        raise InvalidType(
            f"model={model!r} must be a BetaGeo, ModifiedBetaGeo or ParetoNBD model",
            field="model",
        )
    return model


def _scale(model: Any, unit: str | None) -> float:
    return _data.unit_ratio(_data.data_unit(None, unit, model.unit), model.unit)


def _meta(**kwargs: Any) -> Any:
    """A keyword-only field describing a table (its unit, horizon), not a column."""
    return attrs.field(kw_only=True, **kwargs)


# -- tracking: cumulative repeat transactions ---------------------------------------------


@attrs.frozen
class CumulativeTransactions(_Table):
    """Repeat transactions up to the end of each period: actual and expected.

    ``period`` k = 1, 2, ... ends k units after the start of the data;
    ``actual`` counts the repeat transactions before it, ``predicted`` is the
    model's expectation for the customers acquired before it. ``unit`` names
    the period ("week", ...; None when unknown).

    >>> c = CumulativeTransactions(np.array([1, 2]), np.array([0.0, 3]), np.array([0.5, 2.5]))
    >>> c.incremental()["actual"].tolist()
    [0.0, 3.0]
    """

    COLUMNS: ClassVar[tuple[str, ...]] = ("period", "actual", "predicted")
    period: Float = _column()
    actual: Float = _column()
    predicted: Float = _column()
    unit: str | None = _meta(default=None)

    def incremental(self) -> CumulativeTransactions:
        """Transactions within each period instead of up to its end."""
        return CumulativeTransactions(
            self.period,
            np.diff(self.actual, prepend=0.0),
            np.diff(self.predicted, prepend=0.0),
            unit=self.unit,
        )


def expected_cumulative_transactions(
    model: object,
    *,
    first_purchase: ArrayLike,
    repeat_purchases: ArrayLike,
    t: int,
    unit: str | None = None,
) -> CumulativeTransactions:
    """Track cumulative repeat transactions, actual against the model, period by period.

    The tracking plot of the CLV literature (Fader, Hardie and Lee's notes; R
    BTYD's ``cum.tracking``; lifetimes' ``expected_cumulative_transactions``):
    at the end of period k each customer first seen at ``f < k`` is expected
    to have made ``E[X(k - f)]`` repeat transactions (the new-customer
    expectation); the sum over customers is compared with the repeat
    transactions actually seen before ``k``.

    Args:
        model: a fitted BG/NBD, MBG/NBD or Pareto/NBD model.
        first_purchase: each customer's first purchase, as time since the
            start of the data.
        repeat_purchases: the time of each repeat transaction (for the
            literature's counts, one per customer and purchase day), on the
            same origin.
        t: number of periods to track (>= 1); a period is one ``unit``.
        unit: the unit of the times and periods (default: the model's).

    Returns:
        A :class:`CumulativeTransactions` with ``t`` rows.

    >>> from loyaltycore.clv import BetaGeo
    >>> bg = BetaGeo(r=0.243, alpha=4.414, a=0.793, b=2.426, unit="week")
    >>> track = expected_cumulative_transactions(
    ...     bg, first_purchase=[0.0, 0.5, 1.2], repeat_purchases=[1.5, 2.1, 2.9], t=3)
    >>> track["actual"].tolist(), track["predicted"].round(3).tolist()
    ([0.0, 1.0, 3.0], [0.08, 0.225, 0.372])
    """
    fitted = _purchase_model(model)
    periods = check_int(t, "t", minimum=1)
    scale = _scale(fitted, unit)
    first = _data.as_float_column(first_purchase, "first_purchase")
    repeats = _data.as_float_column(repeat_purchases, "repeat_purchases")
    starts, counts = np.unique(first, return_counts=True)
    ends = np.arange(1, periods + 1, dtype=np.float64)
    predicted = np.empty(periods)
    for index, end in enumerate(ends):
        before = starts < end
        ages = (end - starts[before]) * scale
        predicted[index] = float(counts[before] @ fitted.expected_purchases_new(ages))
    actual = np.searchsorted(np.sort(repeats), ends, side="left").astype(np.float64)
    return CumulativeTransactions(ends, actual, predicted, unit=unit or fitted.unit)


# -- the frequency / recency matrices --------------------------------------------------


@attrs.frozen
class FrequencyRecencyMatrix(_Table):
    """Expected purchases and P(alive) over a grid of (frequency, recency) at one age ``T``.

    Long format: one row per cell; ``expected`` is the expected purchases in
    the next ``t``. ``matrix(name)`` gives a (frequency x recency) array.
    ``T``, ``t`` and their ``unit`` describe the grid (None when unknown).

    >>> from loyaltycore.clv import BetaGeo
    >>> bg = BetaGeo(r=0.243, alpha=4.414, a=0.793, b=2.426, unit="week")
    >>> grid = frequency_recency_matrix(bg, T=39.0, max_frequency=2, recencies=[13.0, 39.0])
    >>> grid.matrix("p_alive").round(2).tolist()
    [[1.0, 1.0], [0.5, 0.75], [0.36, 0.81]]
    """

    COLUMNS: ClassVar[tuple[str, ...]] = ("frequency", "recency", "expected", "p_alive")
    frequency: Float = _column()
    recency: Float = _column()
    expected: Float = _column()
    p_alive: Float = _column()
    T: float | None = _meta(default=None)
    t: float | None = _meta(default=None)
    unit: str | None = _meta(default=None)

    def matrix(self, name: str) -> Float:
        """One column as a 2-D array, frequencies down, recencies across."""
        rows = np.unique(self.frequency).size
        return np.asarray(self[name].reshape(rows, -1), dtype=np.float64)


def frequency_recency_matrix(
    model: object,
    *,
    T: float,
    max_frequency: int,
    recencies: ArrayLike | None = None,
    t: float = 1.0,
    unit: str | None = None,
) -> FrequencyRecencyMatrix:
    """Expected purchases in the next ``t`` and P(alive) for every (frequency, recency).

    Frequency 0 has recency 0 by definition; its row repeats that value
    across the recencies so the matrix stays rectangular.

    Args:
        model: a BG/NBD, MBG/NBD or Pareto/NBD model.
        T: the customers' age (time since their first purchase).
        max_frequency: the last frequency row (>= 0).
        recencies: the recency columns (default: 0 to ``T`` in 20 steps).
        t: the horizon of the expected purchases.
        unit: the unit of ``T``, ``recencies`` and ``t`` (default: the model's).

    >>> from loyaltycore.clv import ParetoNBD
    >>> pnbd = ParetoNBD(r=0.553, alpha=10.578, s=0.606, beta=11.669, unit="week")
    >>> grid = frequency_recency_matrix(pnbd, T=39.0, max_frequency=3, t=39.0)
    >>> grid.matrix("expected").shape, grid.to_frame().shape
    ((4, 20), (80, 4))
    """
    fitted = _purchase_model(model)
    age = check_rate(T, "T")
    if age <= 0:
        raise InvalidArgument(f"T={T!r} must be > 0", field="T", value=T)
    top = check_int(max_frequency, "max_frequency", minimum=0)
    grid = (
        np.linspace(age / 20.0, age, 20)
        if recencies is None
        else _data.as_float_column(recencies, "recencies")
    )
    if np.any(grid <= 0) or np.any(grid > age):
        raise InvalidArgument(
            f"recencies must lie in (0, T={age!r}]", field="recencies", value=recencies
        )
    rows, cells = np.meshgrid(np.arange(top + 1, dtype=np.float64), grid, indexing="ij")
    x = rows.ravel()
    t_x = np.where(x > 0, cells.ravel(), 0.0)
    big_t = np.full(x.size, age)
    history = {"frequency": x, "recency": t_x, "T": big_t, "unit": unit}
    horizon = check_rate(t, "t")
    expected = fitted.expected_purchases(horizon, **history)
    alive = fitted.p_alive(**history)
    return FrequencyRecencyMatrix(
        x,
        np.where(x > 0, t_x, np.tile(grid, top + 1)),
        expected,
        alive,
        T=age,
        t=horizon,
        unit=unit or fitted.unit,
    )


# -- calibration against holdout ----------------------------------------------------------


@attrs.frozen
class HoldoutComparison(_Table):
    """Mean holdout purchases by calibration frequency, actual and predicted.

    The last row gathers every frequency from ``frequency[-1]`` up;
    ``duration`` is the holdout's length in ``unit`` (None when unknown).

    >>> c = HoldoutComparison(np.array([0, 1]), np.array([5.0, 2]), np.array([0.2, 1.0]),
    ...                        np.array([0.25, 0.9]))
    >>> len(c), c["customers"].tolist()
    (2, [5.0, 2.0])
    """

    COLUMNS: ClassVar[tuple[str, ...]] = ("frequency", "customers", "actual", "predicted")
    frequency: Float = _column()
    customers: Float = _column()
    actual: Float = _column()
    predicted: Float = _column()
    duration: float | None = _meta(default=None)
    unit: str | None = _meta(default=None)


def calibration_vs_holdout(
    model: object,
    data: object = None,
    *,
    frequency: ArrayLike | None = None,
    recency: ArrayLike | None = None,
    T: ArrayLike | None = None,
    holdout_frequency: ArrayLike,
    duration: float,
    max_frequency: int = 7,
    unit: str | None = None,
) -> HoldoutComparison:
    """Holdout purchases against the model's conditional expectation, by calibration frequency.

    For the customers of each calibration frequency (0, 1, ..., and
    ``max_frequency`` or more), the mean of their actual holdout purchases and
    of ``expected_purchases(duration, ...)`` given their calibration history
    (NaN for a frequency no customer has).

    >>> from loyaltycore.clv import BetaGeo
    >>> bg = BetaGeo(r=0.243, alpha=4.414, a=0.793, b=2.426, unit="week")
    >>> table = calibration_vs_holdout(
    ...     bg, frequency=[0, 0, 1, 2, 5], recency=[0, 0, 30.0, 30.0, 38.0], T=[39.0] * 5,
    ...     holdout_frequency=[0, 1, 0, 1, 4], duration=39.0, max_frequency=2)
    >>> table["actual"].tolist(), table["predicted"].round(2).tolist()
    ([0.5, 0.0, 2.5], [0.19, 0.67, 2.27])
    """
    fitted = _purchase_model(model)
    given = {"frequency": frequency, "recency": recency, "T": T}
    columns = _data.collect(data, ("frequency", "recency", "T"), given)
    holdout = _data.as_float_column(holdout_frequency, "holdout_frequency")
    if holdout.size != columns["frequency"].size:
        raise InvalidColumn(
            f"holdout_frequency has {holdout.size} rows, the data {columns['frequency'].size}",
            field="holdout_frequency",
        )
    top = check_int(max_frequency, "max_frequency", minimum=1)
    length = check_rate(duration, "duration")
    predicted = fitted.expected_purchases(length, data, **given, unit=unit)
    bucket = np.minimum(columns["frequency"], top).astype(np.int64)
    customers = np.bincount(bucket, minlength=top + 1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        actual = np.bincount(bucket, weights=holdout, minlength=top + 1) / customers
        expected = np.bincount(bucket, weights=predicted, minlength=top + 1) / customers
    return HoldoutComparison(
        np.arange(top + 1, dtype=np.float64),
        customers,
        actual,
        expected,
        duration=length,
        unit=_data.data_unit(data, unit, fitted.unit),
    )


# -- period transactions ------------------------------------------------------------------


@attrs.frozen
class PeriodTransactions(_Table):
    """How many customers made each number of repeat purchases: actual and model.

    The last row gathers every count from ``repeat_purchases[-1]`` up.

    >>> p = PeriodTransactions(np.array([0, 1]), np.array([3.0, 1]), np.array([2.9, 1.1]))
    >>> p.columns()["model"].tolist()
    [2.9, 1.1]
    """

    COLUMNS: ClassVar[tuple[str, ...]] = ("repeat_purchases", "actual", "model")
    repeat_purchases: Float = _column()
    actual: Float = _column()
    model: Float = _column()


def period_transactions(
    model: object,
    data: object = None,
    *,
    frequency: ArrayLike | None = None,
    T: ArrayLike | None = None,
    n_periods: ArrayLike | None = None,
    max_frequency: int = 7,
    unit: str | None = None,
) -> PeriodTransactions:
    """Customers by number of repeat purchases, against the model's expected counts.

    The model's count for k is the sum over customers of the new-customer
    probability of k repeat purchases over their own observation length
    (``T``; ``n_periods`` for a BG/BB model), computed exactly, no simulation.

    >>> from loyaltycore.clv import BetaGeoBetaBinom
    >>> bgbb = BetaGeoBetaBinom(alpha=1.204, beta=0.750, gamma=0.657, delta=2.783)
    >>> table = period_transactions(bgbb, frequency=[0, 0, 1, 6], n_periods=[6] * 4,
    ...                             max_frequency=2)
    >>> table["actual"].tolist(), table["model"].round(2).tolist()
    ([2.0, 1.0, 1.0], [1.24, 0.68, 2.07])
    """
    from loyaltycore.clv import BetaGeoBetaBinom

    top = check_int(max_frequency, "max_frequency", minimum=1)
    counts = np.arange(top, dtype=np.float64)
    if isinstance(model, BetaGeoBetaBinom):
        columns = _data.collect(
            data, ("frequency", "n_periods"), {"frequency": frequency, "n_periods": n_periods}
        )
        ages, unique_counts = np.unique(columns["n_periods"], return_counts=True)
        probability = np.array([model.probability_of_purchases(counts, age) for age in ages])
    else:
        fitted = _purchase_model(model)
        columns = _data.collect(data, ("frequency", "T"), {"frequency": frequency, "T": T})
        ages, unique_counts = np.unique(columns["T"], return_counts=True)
        scale = _scale(fitted, _data.data_unit(data, unit, fitted.unit))
        probability = np.array(
            [fitted.probability_of_purchases(counts, age * scale) for age in ages]
        )
    expected = unique_counts @ probability
    expected = np.append(expected, unique_counts.sum() - expected.sum())
    bucket = np.minimum(columns["frequency"], top).astype(np.int64)
    actual = np.bincount(bucket, minlength=top + 1).astype(np.float64)
    return PeriodTransactions(np.arange(top + 1, dtype=np.float64), actual, expected)


# -- one customer's P(alive) over time -----------------------------------------------------


@attrs.frozen
class AliveHistory(_Table):
    """One customer's probability of being alive at each time.

    ``purchases`` are the customer's purchase times and ``unit`` the unit of
    every time (None when unknown).

    >>> h = AliveHistory(np.array([0.0, 1.0]), np.array([1.0, 0.9]))
    >>> h["p_alive"].tolist()
    [1.0, 0.9]
    """

    COLUMNS: ClassVar[tuple[str, ...]] = ("at", "p_alive")
    at: Float = _column()
    p_alive: Float = _column()
    purchases: Float = _meta(
        factory=lambda: np.empty(0),
        converter=lambda value: freeze(np.asarray(value, dtype=np.float64)),
        eq=attrs.cmp_using(eq=np.array_equal),
    )
    unit: str | None = _meta(default=None)


def p_alive_history(
    model: object,
    *,
    purchases: ArrayLike,
    at: ArrayLike,
    unit: str | None = None,
) -> AliveHistory:
    """P(alive) of one customer at each time of ``at``, from their purchase times.

    At time ``a`` the history is what was known then: purchases at or before
    ``a`` (the first one starts the clock), so the curve jumps up at each
    purchase and decays between them.

    Args:
        model: a BG/NBD, MBG/NBD or Pareto/NBD model.
        purchases: the customer's purchase times (distinct; any order).
        at: the times to evaluate, none before the first purchase.
        unit: the unit of the times (default: the model's).

    >>> from loyaltycore.clv import BetaGeo
    >>> bg = BetaGeo(r=0.243, alpha=4.414, a=0.793, b=2.426, unit="week")
    >>> curve = p_alive_history(bg, purchases=[0.0, 2.0, 5.0], at=[1.0, 5.0, 20.0])
    >>> curve["p_alive"].round(3).tolist()
    [1.0, 0.812, 0.338]
    """
    fitted = _purchase_model(model)
    times = np.sort(_data.as_float_column(purchases, "purchases"))
    when = _data.as_float_column(at, "at")
    if times.size == 0:
        raise InvalidColumn("purchases: no purchase, so no history", field="purchases")
    if np.any(when < times[0]):
        raise InvalidArgument(
            f"at must not be before the first purchase ({times[0]!r})", field="at"
        )
    known = np.searchsorted(times, when, side="right")  # purchases at or before each time
    x = (known - 1).astype(np.float64)
    t_x = times[known - 1] - times[0]
    big_t = when - times[0]
    alive = fitted.p_alive(frequency=x, recency=t_x, T=big_t, unit=unit)
    return AliveHistory(when, alive, purchases=times, unit=unit or fitted.unit)
