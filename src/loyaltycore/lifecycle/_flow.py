"""Transitions between two snapshots of stages, rates per period, diagrams."""

from __future__ import annotations

import itertools
import math
from collections.abc import Hashable, Iterable, Mapping
from typing import Any, Final, TypeVar

import attrs
import numpy as np
import numpy.typing as npt

from loyaltycore._frames import Col, Frames
from loyaltycore._validate import type_name
from loyaltycore.errors import DuplicateId, InvalidArgument, InvalidColumn, InvalidType
from loyaltycore.lifecycle._stage import ALLOWED_TRANSITIONS, Stage

#: A snapshot label: a date, a period name, anything hashable.
K = TypeVar("K", bound=Hashable)

_N: Final = len(Stage)


def _code(value: object, name: str, row: int) -> int:
    try:
        return int(Stage.parse(value))
    except InvalidArgument:
        raise InvalidColumn(
            f"{name}[{row}]={value!r} is not a stage code (0..{_N - 1}) or name",
            field=name,
            row=row,
            value=value,
        ) from None


def _codes(value: object, name: str) -> npt.NDArray[np.int64]:
    if isinstance(value, np.ndarray):
        array = value
    elif isinstance(value, Iterable) and not isinstance(value, str | bytes | Mapping):
        array = np.array([_code(v, name, row) for row, v in enumerate(value)], dtype=np.int64)
    else:
        raise InvalidType(
            f"{name} must be an array of stage codes, not {type_name(value)}", field=name
        )
    if array.ndim != 1 or (array.size and array.dtype.kind not in "iu"):
        raise InvalidColumn(f"{name} must be a 1-D integer array of stage codes", field=name)
    bad = np.flatnonzero((array < 0) | (array >= _N))
    if bad.size:
        row = int(bad[0])
        raise InvalidColumn(
            f"{name}[{row}]={int(array[row])} is not a stage code (0..{_N - 1})",
            field=name,
            row=row,
        )
    return array.astype(np.int64, copy=False)


def _frozen_counts(value: object) -> npt.NDArray[np.int64]:
    array = np.array(value, dtype=np.int64, copy=True)
    if array.shape != (_N, _N) or (array < 0).any():
        raise InvalidArgument(f"counts must be a {_N}x{_N} array of counts >= 0", field="counts")
    array.flags.writeable = False
    return array


@attrs.frozen
class TransitionMatrix(Frames):
    """Members counted by (stage before, stage after), rows and columns in Stage order.

    ``rates[i, j]`` is the share of members in stage ``i`` before who are in
    stage ``j`` after (NaN for a stage nobody was in). Moves that skip stages
    (active straight to churned between two distant snapshots) are counted
    like any other; :meth:`outside_table` counts those not in
    :data:`ALLOWED_TRANSITIONS`.

    >>> m = transition_matrix([2, 2, 5], [2, 5, 2])
    >>> m.count("active", "churned"), m.rate("active", "active"), m.outside_table()
    (1, 0.5, 1)

    As a frame it is long: one row per (before, after) pair of stages, with
    columns ``before``, ``after`` (stage labels), ``count`` and ``rate``.
    """

    counts: npt.NDArray[np.int64] = attrs.field(
        converter=_frozen_counts, eq=attrs.cmp_using(eq=np.array_equal)
    )

    def _columns_for_frames(self) -> tuple[Col, ...]:
        before, after = np.divmod(np.arange(_N * _N, dtype=np.int64), _N)
        labels = [stage.label for stage in Stage]
        return (
            Col("before", "category", before, labels=labels),
            Col("after", "category", after, labels=labels),
            Col("count", "int", self.counts.reshape(-1)),
            Col("rate", "float", self.rates.reshape(-1)),
        )

    @property
    def rates(self) -> npt.NDArray[np.float64]:
        """Row-normalised counts (NaN rows where no member started).

        >>> transition_matrix([2, 2], [2, 3]).rates[2].tolist()
        [0.0, 0.0, 0.5, 0.5, 0.0, 0.0, 0.0]
        """
        totals = self.counts.sum(axis=1, keepdims=True)
        out = np.full(self.counts.shape, math.nan)
        np.divide(self.counts, totals, out=out, where=totals > 0)
        return out

    def count(self, before: Stage | str | int, after: Stage | str | int) -> int:
        """Members that were in ``before`` and are in ``after``.

        >>> transition_matrix([4, 4], [5, 6]).count(Stage.DORMANT, "reactivated")
        1
        """
        return int(self.counts[Stage.parse(before), Stage.parse(after)])

    def rate(self, before: Stage | str | int, after: Stage | str | int) -> float:
        """Share of the members in ``before`` who are in ``after``.

        >>> transition_matrix([4, 4], [5, 6]).rate("dormant", "churned")
        0.5
        """
        return float(self.rates[Stage.parse(before), Stage.parse(after)])

    def outside_table(self) -> int:
        """Members whose move is not one step of :data:`ALLOWED_TRANSITIONS`.

        >>> transition_matrix(["dormant", "dormant"], ["active", "reactivated"]).outside_table()
        1
        """
        total = 0
        for a in Stage:
            for b in Stage:
                if a != b and b not in ALLOWED_TRANSITIONS[a]:
                    total += int(self.counts[a, b])
        return total

    def to_mermaid(self) -> str:
        """A Mermaid state diagram with one edge per observed move, labelled by count.

        >>> print(transition_matrix([2, 2], [3, 3]).to_mermaid())
        stateDiagram-v2
            active --> at_risk: 2
        """
        lines = ["stateDiagram-v2"]
        for a in Stage:
            for b in Stage:
                if a != b and self.counts[a, b]:
                    lines.append(f"    {a.label} --> {b.label}: {int(self.counts[a, b])}")
        return "\n".join(lines)


def transition_matrix(before: object, after: object) -> TransitionMatrix:
    """Count members by stage in two snapshots (same members, same order).

    Args:
        before: stage codes (or Stage values or labels) at the earlier date.
        after: the same members' stages at the later date.

    Returns:
        The :class:`TransitionMatrix`.

    Raises:
        InvalidColumn: a value that is not a stage, or different lengths.

    >>> transition_matrix(["new", "active"], ["active", "churned"]).count("new", "active")
    1
    """
    a, b = _codes(before, "before"), _codes(after, "after")
    if a.shape != b.shape:
        raise InvalidColumn(
            f"after has {b.size} rows, expected {a.size} (one per member of before)",
            field="after",
            value=b.size,
        )
    counts = np.bincount(a * _N + b, minlength=_N * _N).reshape(_N, _N)
    return TransitionMatrix(counts)


@attrs.frozen
class SnapshotRates:
    """Churn and reactivation between two consecutive snapshots.

    ``churn_rate`` = ``churned / live``: of the members who had bought and
    were not churned at ``start``, the share churned at ``end``.
    ``reactivation_rate`` = ``returned / lapsed``: of the members dormant or
    churned at ``start``, the share less lapsed at ``end`` (in a live stage,
    or dormant after churned). Time alone only ever worsens a stage, so each
    of those made a purchase in the period. Snapshots see only the two ends:
    a member who churned and came back within one period is not counted.
    Rates are NaN when their base is empty.

    >>> SnapshotRates("Q1", "Q2", live=4, churned=1, lapsed=2, returned=1).churn_rate
    0.25
    """

    start: Hashable
    end: Hashable
    live: int
    churned: int
    lapsed: int
    returned: int

    @property
    def churn_rate(self) -> float:
        """Share of the live members churned by the end of the period.

        >>> SnapshotRates("Q1", "Q2", live=0, churned=0, lapsed=0, returned=0).churn_rate
        nan
        """
        return self.churned / self.live if self.live else math.nan

    @property
    def reactivation_rate(self) -> float:
        """Share of the lapsed members back in a live stage by the end of the period.

        >>> SnapshotRates("Q1", "Q2", live=4, churned=1, lapsed=4, returned=1).reactivation_rate
        0.25
        """
        return self.returned / self.lapsed if self.lapsed else math.nan


#: How far each stage has lapsed; a prospect is never "back" from anything.
_SEVERITY: Final = np.array(
    [
        {Stage.PROSPECT: 9, Stage.AT_RISK: 1, Stage.DORMANT: 2, Stage.CHURNED: 3}.get(s, 0)
        for s in Stage
    ]
)
_LIVE: Final = np.array([s not in (Stage.PROSPECT, Stage.CHURNED) for s in Stage])
_LAPSED: Final = np.array([s in (Stage.DORMANT, Stage.CHURNED) for s in Stage])
#: (before, after) pairs that count as a return: lapsed, then less lapsed.
_RETURNS: Final = _LAPSED[:, None] & (_SEVERITY[None, :] < _SEVERITY[:, None])


def period_rates(snapshots: Mapping[K, object]) -> tuple[SnapshotRates, ...]:
    """Churn and reactivation rates per period from stage snapshots.

    Args:
        snapshots: ordered ``{label: stage codes}`` (e.g. one per month end),
            each covering the same members in the same order; members without
            a purchase yet are prospects.

    Returns:
        One :class:`SnapshotRates` per consecutive pair of snapshots.

    Raises:
        InvalidArgument: fewer than two snapshots.
        InvalidColumn: a snapshot of another length or with a non-stage value.

    >>> rates = period_rates({"jan": [2, 4, 5, 2], "feb": [5, 6, 5, 3]})
    >>> rates[0].churn_rate, rates[0].reactivation_rate
    (0.3333333333333333, 0.5)
    """
    if not isinstance(snapshots, Mapping) or len(snapshots) < 2:
        raise InvalidArgument(
            "snapshots must be a mapping of at least two {label: stage codes}",
            field="snapshots",
        )
    items = [(label, _codes(codes, f"snapshots[{label!r}]")) for label, codes in snapshots.items()]
    result = []
    for (start, a), (end, b) in itertools.pairwise(items):
        counts = transition_matrix(a, b).counts
        result.append(
            SnapshotRates(
                start,
                end,
                live=int(counts[_LIVE].sum()),
                churned=int(counts[_LIVE, int(Stage.CHURNED)].sum()),
                lapsed=int(counts[_LAPSED].sum()),
                returned=int(counts[_RETURNS].sum()),
            )
        )
    return tuple(result)


def to_mermaid(matrix: TransitionMatrix | None = None) -> str:
    """The lifecycle as a Mermaid state diagram.

    Without ``matrix``, the allowed transitions; with one, the observed moves
    labelled by count (see :meth:`TransitionMatrix.to_mermaid`).

    >>> print(to_mermaid().splitlines()[:3])
    ['stateDiagram-v2', '    [*] --> prospect', '    prospect --> new']
    """
    if matrix is not None:
        return matrix.to_mermaid()
    lines = ["stateDiagram-v2", "    [*] --> prospect"]
    for a in Stage:
        for b in sorted(ALLOWED_TRANSITIONS[a]):
            lines.append(f"    {a.label} --> {b.label}")
    return "\n".join(lines)


def _ids(value: object, name: str) -> npt.NDArray[Any]:
    array = np.asarray(value)
    if array.ndim != 1:
        raise InvalidColumn(f"{name} must be one-dimensional, got shape {array.shape}", field=name)
    return array


def align_snapshot(codes: object, customer_id: object, universe: object) -> npt.NDArray[np.int8]:
    """Stage codes of the members of ``universe``, prospects where a snapshot lacks them.

    A summary only has the customers who had bought by its ``as_of``; to
    compare snapshots (:func:`transition_matrix`, :func:`period_rates`),
    put them on one list of members first.

    Args:
        codes: stage codes of a snapshot.
        customer_id: the snapshot's member ids, one per code, no repeats.
        universe: the member ids to report on, in the order wanted.

    Returns:
        An int8 array with one code per member of ``universe``.

    Raises:
        InvalidColumn: lengths that differ, or a value that is not a stage.
        DuplicateId: an id repeated in ``customer_id``.

    >>> align_snapshot([2, 5], ["b", "c"], ["a", "b", "c"]).tolist()
    [0, 2, 5]
    """
    values = _codes(codes, "codes")
    ids = _ids(customer_id, "customer_id")
    wanted = _ids(universe, "universe")
    if ids.shape != values.shape:
        raise InvalidColumn(
            f"customer_id has {ids.size} rows, expected {values.size} (one per code)",
            field="customer_id",
            value=ids.size,
        )
    order = np.argsort(ids, kind="stable")
    ordered = ids[order]
    repeated = np.flatnonzero(ordered[1:] == ordered[:-1])
    if repeated.size:
        value = ordered[int(repeated[0])]
        value = value.item() if isinstance(value, np.generic) else value
        raise DuplicateId(
            f"customer_id={value!r} appears more than once", field="customer_id", value=value
        )
    result = np.zeros(wanted.shape, dtype=np.int8)
    if ids.size == 0:
        return result
    where = np.minimum(np.searchsorted(ordered, wanted), ids.size - 1)
    found = ordered[where] == wanted
    result[found] = values[order[where[found]]]
    return result
