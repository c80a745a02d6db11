"""Value segments (Pareto share or quantile tiers) and behaviour segments.

Private module; the public names are re-exported by :mod:`loyaltycore.segments`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

import attrs
import numpy as np
import numpy.typing as npt

from loyaltycore._validate import check_rate, type_name
from loyaltycore.errors import EmptyData, InvalidArgument, InvalidColumn, InvalidType
from loyaltycore.predicates import Predicate, field, lookup
from loyaltycore.segments._base import Assignment, Membership, names_converter
from loyaltycore.segments._rfm import FloatArray, as_column, check_bins, quantiles
from loyaltycore.segments._set import Segment, SegmentSet

PARETO_NAMES: Final = ("top", "rest")


def _check_share(value: object) -> float:
    share = check_rate(value, "share")
    if not 0.0 < share < 1.0:
        raise InvalidArgument(
            f"share={value!r} must be between 0 and 1", field="share", value=value
        )
    return share


def pareto_top(revenue: FloatArray, share: float) -> npt.NDArray[np.bool_]:
    """The fewest highest spenders bringing at least ``share`` of the revenue.

    Customers who spent exactly as much as the last one needed are included
    too, so equal spenders always share a segment and row order is irrelevant.
    Customers without revenue are never in the top.
    """
    total = float(revenue.sum())
    if total <= 0.0:
        return np.zeros(revenue.size, dtype=np.bool_)
    ordered = np.sort(revenue)[::-1]
    cumulative = np.cumsum(ordered)
    cut = int(np.searchsorted(cumulative, share * total, side="left"))
    threshold = ordered[min(cut, ordered.size - 1)]
    top: npt.NDArray[np.bool_] = (revenue >= threshold) & (revenue > 0.0)
    return top


def _default_tier_names(bins: int) -> tuple[str, ...]:
    return tuple(f"value_{k}" for k in range(bins, 0, -1))


def value_segments(
    revenue: object,
    method: Literal["pareto", "quantile"] = "pareto",
    *,
    share: float = 0.8,
    bins: int = 4,
    names: Sequence[str] | None = None,
) -> Assignment:
    """Split customers by the revenue they bring.

    ``method="pareto"``: ``"top"`` is the smallest set of highest spenders
    bringing at least ``share`` of the revenue (the 80/20 rule), ``"rest"`` the
    others. ``method="quantile"``: ``bins`` tiers cut at population quantiles,
    best first (``value_4`` ... ``value_1`` by default); equal spend always
    shares a tier, as in :func:`rfm_scores`.

    Args:
        revenue: Spend per customer (>= 0), e.g. ``summary["total"]``.
        method: ``"pareto"`` or ``"quantile"``.
        share: The revenue share of the top segment (Pareto).
        bins: The number of tiers (quantile, 2..9).
        names: Segment names, best first (2 for Pareto, ``bins`` for quantile).

    Returns:
        An :class:`Assignment` of every customer.

    Raises:
        InvalidColumn: Negative, NaN or non-numeric revenue.
        InvalidArgument: An unknown method, a share outside (0, 1), a bad
            bin count or the wrong number of names.

    >>> spend = [500, 300, 100, 50, 30, 20]
    >>> value_segments(spend).labels().tolist()
    ['top', 'top', 'rest', 'rest', 'rest', 'rest']
    >>> value_segments(spend, "quantile", bins=2, names=["high", "low"]).labels().tolist()
    ['high', 'high', 'high', 'low', 'low', 'low']
    """
    money = as_column(revenue, "revenue", minimum=0.0)
    if method == "pareto":
        top = pareto_top(money, _check_share(share))
        labels = _check_names(PARETO_NAMES if names is None else names, 2)
        return Assignment._trusted(np.where(top, 0, 1).astype(np.int16), labels)
    if method == "quantile":
        count = check_bins(bins)
        labels = _check_names(_default_tier_names(count) if names is None else names, count)
        if money.size == 0:
            raise EmptyData("value_segments needs at least one customer", field="revenue", value=0)
        edges = np.asarray(quantiles(money, [k / count for k in range(1, count)]))
        tier = np.searchsorted(edges, money, side="left")
        return Assignment._trusted((count - 1 - tier).astype(np.int16), labels)
    raise InvalidArgument(
        f"method={method!r} must be 'pareto' or 'quantile'", field="method", value=method
    )


def _check_names(names: Sequence[str], count: int) -> tuple[str, ...]:
    result = names_converter(names)
    if len(result) != count:
        raise InvalidArgument(
            f"names={list(result)!r} must hold {count} names", field="names", value=list(result)
        )
    return result


def _ratio(name: str) -> Any:
    def convert(value: object) -> float:
        ratio = check_rate(value, name)
        if ratio < 0.0:
            raise InvalidArgument(f"{name}={value!r} must be >= 0", field=name, value=value)
        return ratio

    return attrs.field(default=1.0, converter=convert)


#: The columns behaviour segments read, by role.
BEHAVIOUR_FIELDS: Final = ("frequency", "T", "aov", "categories")


@attrs.frozen
class BehaviourPolicy:
    """Thresholds of behaviour segments, as multiples of the population medians.

    A customer is *above* a field when its value is greater than
    ``ratio * median`` and *below* when smaller; a value on the threshold is
    neither. The segments (a customer can be in several, or none):

    * ``loyal``: frequency above and tenure (``T``) above;
    * ``impulsive``: frequency above, order value (``aov``) below;
    * ``rational``: frequency below, order value above;
    * ``diverse``: distinct categories above.

    >>> BehaviourPolicy(frequency=1.5).frequency
    1.5
    """

    frequency: float = _ratio("frequency")
    tenure: float = _ratio("tenure")
    order_value: float = _ratio("order_value")
    categories: float = _ratio("categories")

    def segment_set(self, columns: Mapping[str, npt.ArrayLike]) -> SegmentSet:
        """The behaviour segments of this population as a :class:`SegmentSet`.

        The thresholds are fixed from ``columns`` (see :meth:`thresholds`), so
        the set can score one member at a time, be stored as plain data, or be
        applied to another population; on ``columns`` it agrees with
        :func:`behaviour_segments`.

        >>> cols = {"frequency": [0, 2, 4], "T": [10, 20, 30], "aov": [5, 9, 7],
        ...         "categories": [1, 1, 3]}
        >>> behaviour = BehaviourPolicy().segment_set(cols)
        >>> behaviour.of({"frequency": 4, "T": 30.0, "aov": 7.0, "categories": 3})
        ('loyal', 'diverse')
        """
        limits = self.thresholds(columns)
        freq_up = _above("frequency", limits["frequency"])
        freq_down = _below("frequency", limits["frequency"])
        return SegmentSet(
            [
                Segment("loyal", freq_up & _above("T", limits["T"]), "frequency and tenure above"),
                Segment(
                    "impulsive",
                    freq_up & _below("aov", limits["aov"]),
                    "frequency above, order value below",
                ),
                Segment(
                    "rational",
                    freq_down & _above("aov", limits["aov"]),
                    "frequency below, order value above",
                ),
                Segment(
                    "diverse",
                    _above("categories", limits["categories"]),
                    "distinct categories above",
                ),
            ],
            mode="all",
        )

    def thresholds(self, columns: Mapping[str, npt.ArrayLike]) -> dict[str, float]:
        """The population thresholds: each field's median times its ratio.

        >>> cols = {"frequency": [0, 2, 4], "T": [10, 20, 30], "aov": [5, 9, 7],
        ...         "categories": [1, 1, 3]}
        >>> BehaviourPolicy(tenure=0.5).thresholds(cols)
        {'frequency': 2.0, 'T': 10.0, 'aov': 7.0, 'categories': 1.0}
        """
        ratios = (self.frequency, self.tenure, self.order_value, self.categories)
        values = behaviour_columns(columns)
        result = {}
        for (name, column), ratio in zip(values.items(), ratios, strict=True):
            if column.size == 0:
                raise EmptyData(f"{name} has no rows to take a median of", field=name, value=0)
            result[name] = ratio * float(np.median(column))
        return result


def _above(name: str, threshold: float) -> Predicate:
    """``field(name) > threshold``, exact for int fields (``x > 2.5`` is ``x >= 3``)."""
    if lookup(name).kind == "int":
        return field(name) >= math.floor(threshold) + 1
    return field(name) > threshold


def _below(name: str, threshold: float) -> Predicate:
    """``field(name) < threshold``, exact for int fields (``x < 2.5`` is ``x <= 2``)."""
    if lookup(name).kind == "int":
        return field(name) <= math.ceil(threshold) - 1
    return field(name) < threshold


def behaviour_columns(columns: Mapping[str, npt.ArrayLike]) -> dict[str, FloatArray]:
    """The four behaviour columns, checked and equally long."""
    if not hasattr(columns, "__getitem__"):
        raise InvalidType(
            f"columns must be a mapping of field name to array, not {type_name(columns)}",
            field="columns",
            value=columns,
        )
    result: dict[str, FloatArray] = {}
    for name in BEHAVIOUR_FIELDS:
        try:
            raw = columns[name]
        except (KeyError, LookupError):
            raise InvalidColumn(
                f"columns lack {name!r} (behaviour segments need {list(BEHAVIOUR_FIELDS)})",
                field=name,
                value=None,
            ) from None
        result[name] = as_column(raw, name, minimum=0.0)
    sizes = {column.size for column in result.values()}
    if len(sizes) > 1:
        raise InvalidColumn(
            f"columns differ in length: { {k: v.size for k, v in result.items()} }",
            field="columns",
            value=sorted(sizes),
        )
    return result


#: The behaviour segment names, in order.
BEHAVIOUR_SEGMENTS: Final = ("loyal", "impulsive", "rational", "diverse")


def behaviour_segments(
    columns: Mapping[str, npt.ArrayLike], policy: BehaviourPolicy | None = None
) -> Membership:
    """Every behaviour segment each customer is in (see :class:`BehaviourPolicy`).

    Args:
        columns: ``frequency``, ``T``, ``aov`` and ``categories`` columns, such
            as a transaction summary.
        policy: Threshold ratios; the defaults compare with the plain medians.

    Returns:
        A :class:`Membership` over ``loyal``, ``impulsive``, ``rational``,
        ``diverse``.

    >>> cols = {"frequency": [5, 4, 0, 1], "T": [300, 20, 50, 90],
    ...         "aov": [40.0, 8.0, 90.0, 30.0], "categories": [4, 1, 1, 2]}
    >>> m = behaviour_segments(cols)
    >>> [m.of(i) for i in range(4)]
    [('loyal', 'diverse'), ('impulsive',), ('rational',), ('diverse',)]
    """
    policy = BehaviourPolicy() if policy is None else policy
    if not isinstance(policy, BehaviourPolicy):
        raise InvalidType(
            f"policy must be a BehaviourPolicy, not {type_name(policy)}",
            field="policy",
            value=policy,
        )
    values = behaviour_columns(columns)
    limits = policy.thresholds(values)
    freq, tenure = values["frequency"], values["T"]
    aov, cats = values["aov"], values["categories"]
    freq_up, freq_down = freq > limits["frequency"], freq < limits["frequency"]
    aov_up, aov_down = aov > limits["aov"], aov < limits["aov"]
    matches = np.column_stack(
        [
            freq_up & (tenure > limits["T"]),
            freq_up & aov_down,
            freq_down & aov_up,
            cats > limits["categories"],
        ]
    )
    return Membership._trusted(matches, BEHAVIOUR_SEGMENTS)
