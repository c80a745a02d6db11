"""RFM scoring: quantile edges, scores placed as ``searchsorted`` would, segment maps.

Private module; the public names are re-exported by :mod:`loyaltycore.segments`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, TypeAlias

import attrs
import numpy as np
import numpy.typing as npt

from loyaltycore import _native
from loyaltycore._frames import Col, Frames
from loyaltycore._validate import check_int, type_name
from loyaltycore.errors import EmptyData, InvalidArgument, InvalidColumn, InvalidRule, InvalidType
from loyaltycore.segments._base import Assignment, int_column, reduce_value

Cell: TypeAlias = tuple[int, int, int]
FloatArray: TypeAlias = npt.NDArray[np.float64]

MIN_BINS: Final = 2
MAX_BINS: Final = 9


def _array_eq() -> Any:
    return attrs.cmp_using(eq=np.array_equal)


def check_bins(value: object, name: str = "bins") -> int:
    """Return ``value`` if it is an int number of score bins (2..9)."""
    bins = check_int(value, name)
    if not MIN_BINS <= bins <= MAX_BINS:
        raise InvalidArgument(
            f"{name}={bins!r} must be between {MIN_BINS} and {MAX_BINS}", field=name, value=bins
        )
    return bins


def as_column(values: object, name: str, *, minimum: float | None = None) -> FloatArray:
    """A 1-D float64 view of a numeric column; NaN, inf and bools are refused."""
    if isinstance(values, str | bytes) or values is None:
        raise InvalidType(
            f"{name}={values!r} must be a numeric array, not {type_name(values)}",
            field=name,
            value=values,
        )
    array = np.asarray(values)
    if array.dtype.kind not in "iuf" or array.ndim != 1:
        raise InvalidColumn(
            f"{name} must be a 1-D numeric array, not {array.ndim}-D of dtype {array.dtype}",
            field=name,
            value=str(array.dtype),
        )
    column = array.astype(np.float64, copy=False)
    if array.dtype.kind == "f" and not np.isfinite(column).all():
        bad = column[~np.isfinite(column)][0]
        raise InvalidColumn(f"{name} holds a non-finite value {bad!r}", field=name, value=bad)
    if minimum is not None and column.size and column.min() < minimum:
        low = float(column.min())
        raise InvalidColumn(
            f"{name} holds {low!r}, below the minimum {minimum!r}", field=name, value=low
        )
    return column


def rfm_columns(
    days_since_last: object, frequency: object, monetary: object
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Check the three RFM columns: numeric, finite, equally long, non-empty."""
    days = as_column(days_since_last, "days_since_last", minimum=0.0)
    freq = as_column(frequency, "frequency", minimum=0.0)
    money = as_column(monetary, "monetary")
    if not days.size == freq.size == money.size:
        raise InvalidColumn(
            f"columns differ in length: days_since_last={days.size}, "
            f"frequency={freq.size}, monetary={money.size}",
            field="frequency",
            value=freq.size,
        )
    return days, freq, money


def quantiles(values: FloatArray, probs: Sequence[float]) -> tuple[float, ...]:
    """``numpy.quantile(values, probs)`` (linear method) from one sort.

    numpy's vectorized sort is several times faster than ``numpy.partition``
    with several ``kth`` (which ``numpy.quantile`` uses) on large columns.

    >>> quantiles(np.array([4.0, 1.0, 3.0, 2.0]), [0.25, 0.5])
    (1.75, 2.5)
    """
    if values.size == 0:
        raise EmptyData("quantiles need at least one value", field="values", value=0)
    last = values.size - 1
    pos = np.asarray(probs, dtype=np.float64) * last
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, last)
    ordered = np.sort(values)
    low, high = ordered[lo], ordered[hi]
    # The same interpolation numpy uses, so ties stay exactly equal.
    frac = pos - lo
    result = np.where(frac >= 0.5, high - (high - low) * (1 - frac), low + (high - low) * frac)
    return tuple(float(v) for v in result)


def count_edges(
    edges: Sequence[float], values: FloatArray, *, above: bool
) -> npt.NDArray[np.int8]:
    """How many edges each value is strictly above (or strictly below), as int8.

    With ``above=True`` this is ``numpy.searchsorted(edges, values, side="left")``
    and with ``above=False`` it is ``len(edges) - searchsorted(..., side="right")``
    (tests assert both). It is computed with one vectorized comparison per
    edge: with at most 8 edges that is several times faster than a binary
    search per value, and needs no int64 temporaries.

    >>> count_edges([1.0, 2.0, 2.0], np.array([0.5, 2.0, 3.0]), above=True).tolist()
    [0, 1, 3]
    >>> count_edges([1.0, 2.0, 2.0], np.array([0.5, 2.0, 3.0]), above=False).tolist()
    [3, 0, 0]
    """
    counts = np.zeros(values.size, dtype=np.int8)
    hit = np.empty(values.size, dtype=np.bool_)
    compare = np.greater if above else np.less
    for edge in edges:
        compare(values, edge, out=hit)
        counts += hit
    return counts


def _edges_converter(value: object) -> tuple[float, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidType(
            f"edges={value!r} must be a sequence of numbers, not {type_name(value)}",
            field="edges",
            value=value,
        )
    items = list(value)
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int | float | np.integer | np.floating):
            raise InvalidType(
                f"edge {item!r} must be a real number, not {type_name(item)}",
                field="edges",
                value=item,
            )
    return tuple(float(v) for v in items)


def _check_edges(instance: RFMEdges, attribute: attrs.Attribute[Any], value: Any) -> None:
    name = attribute.name
    array = np.asarray(value, dtype=np.float64)
    if not np.isfinite(array).all():
        raise InvalidArgument(f"{name}={value!r} must be finite", field=name, value=value)
    if array.size + 1 < MIN_BINS or array.size + 1 > MAX_BINS:
        raise InvalidArgument(
            f"{name}={value!r} must hold between {MIN_BINS - 1} and {MAX_BINS - 1} edges",
            field=name,
            value=value,
        )
    if (np.diff(array) < 0).any():
        raise InvalidArgument(f"{name}={value!r} must be non-decreasing", field=name, value=value)


@attrs.frozen
class RFMEdges:
    """Breakpoints of the R, F and M scores: ``bins - 1`` non-decreasing edges each.

    A value strictly better than ``k`` edges scores ``k + 1``: more frequency
    or money is better, fewer days since the last purchase is better, so the
    most recent customers score ``R = bins``. A value equal to an edge gets the
    lower score. Fit them as population quantiles with :meth:`fit`, or write
    fixed breakpoints.

    >>> edges = RFMEdges(recency=(30, 90, 180, 365), frequency=(0, 1, 3, 6),
    ...                  monetary=(20, 50, 100, 250))
    >>> edges.bins
    5
    >>> scores = edges.score([10, 400], [7, 0], [30, 500])
    >>> scores.r.tolist(), scores.f.tolist(), scores.m.tolist()
    ([5, 1], [5, 1], [2, 5])
    """

    recency: tuple[float, ...] = attrs.field(converter=_edges_converter, validator=_check_edges)
    frequency: tuple[float, ...] = attrs.field(converter=_edges_converter, validator=_check_edges)
    monetary: tuple[float, ...] = attrs.field(converter=_edges_converter, validator=_check_edges)

    def __attrs_post_init__(self) -> None:
        sizes = {len(self.recency), len(self.frequency), len(self.monetary)}
        if len(sizes) != 1:
            raise InvalidArgument(
                f"recency, frequency and monetary need as many edges, not "
                f"{len(self.recency)}, {len(self.frequency)} and {len(self.monetary)}",
                field="frequency",
                value=self.frequency,
            )

    @property
    def bins(self) -> int:
        """The number of scores, one more than the number of edges."""
        return len(self.recency) + 1

    @classmethod
    def fit(
        cls, days_since_last: object, frequency: object, monetary: object, bins: int = 5
    ) -> RFMEdges:
        """Population quantile edges at ``1/bins, 2/bins ...`` of each column.

        >>> RFMEdges.fit([1, 2, 3, 4, 5], [0, 0, 0, 1, 2], [5, 10, 10, 10, 40], bins=2)
        RFMEdges(recency=(3.0,), frequency=(0.0,), monetary=(10.0,))
        """
        bins = check_bins(bins)
        days, freq, money = rfm_columns(days_since_last, frequency, monetary)
        if days.size == 0:
            raise EmptyData("rfm_scores needs at least one customer", field="frequency", value=0)
        return cls._fit(days, freq, money, bins)

    @classmethod
    def _fit(cls, days: FloatArray, freq: FloatArray, money: FloatArray, bins: int) -> RFMEdges:
        probs = [k / bins for k in range(1, bins)]
        return cls(quantiles(days, probs), quantiles(freq, probs), quantiles(money, probs))

    def score(self, days_since_last: object, frequency: object, monetary: object) -> RFMScores:
        """Score customers against these edges.

        >>> edges = RFMEdges(recency=(30,), frequency=(1,), monetary=(50,))
        >>> edges.score([30, 29], [1, 2], [50, 51]).code.tolist()
        [111, 222]
        """
        days, freq, money = rfm_columns(days_since_last, frequency, monetary)
        return self._score(days, freq, money)

    def _score(self, days: FloatArray, freq: FloatArray, money: FloatArray) -> RFMScores:
        r = 1 + count_edges(self.recency, days, above=False)
        f = 1 + count_edges(self.frequency, freq, above=True)
        m = 1 + count_edges(self.monetary, money, above=True)
        return RFMScores._trusted(r, f, m, self)


def _int8_scores(value: object) -> npt.NDArray[np.int8]:
    return int_column(value, "scores", np.int8)


def _check_scores(instance: RFMScores, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value.size and (value.min() < 1 or value.max() > instance.edges.bins):
        raise InvalidColumn(
            f"{attribute.name} scores must lie in 1..{instance.edges.bins}",
            field=attribute.name,
            value=int(value.min() if value.min() < 1 else value.max()),
        )


@attrs.frozen
class RFMScores(Frames):
    """R, F and M scores (1 .. ``bins``) of each customer, with the edges used.

    Build it with :func:`rfm_scores` or :meth:`RFMEdges.score`.

    >>> scores = rfm_scores([3, 40, 200], [5, 1, 0], [80.0, 20.0, 0.0], bins=3)
    >>> scores.code.tolist(), scores.fm.tolist()
    ([333, 222, 111], [3, 2, 1])
    """

    r: npt.NDArray[np.int8] = attrs.field(
        converter=_int8_scores, validator=_check_scores, eq=_array_eq()
    )
    f: npt.NDArray[np.int8] = attrs.field(
        converter=_int8_scores, validator=_check_scores, eq=_array_eq()
    )
    m: npt.NDArray[np.int8] = attrs.field(
        converter=_int8_scores, validator=_check_scores, eq=_array_eq()
    )
    edges: RFMEdges = attrs.field(validator=attrs.validators.instance_of(RFMEdges))

    def __attrs_post_init__(self) -> None:
        if not self.r.size == self.f.size == self.m.size:
            raise InvalidColumn(
                f"r, f and m differ in length: {self.r.size}, {self.f.size}, {self.m.size}",
                field="f",
                value=self.f.size,
            )

    @classmethod
    def _trusted(
        cls,
        r: npt.NDArray[np.int8],
        f: npt.NDArray[np.int8],
        m: npt.NDArray[np.int8],
        edges: RFMEdges,
    ) -> RFMScores:
        """Wrap freshly computed arrays without copying them again."""
        for array in (r, f, m):
            array.flags.writeable = False
        scores = object.__new__(cls)
        object.__setattr__(scores, "r", r)
        object.__setattr__(scores, "f", f)
        object.__setattr__(scores, "m", m)
        object.__setattr__(scores, "edges", edges)
        return scores

    __reduce__ = reduce_value

    def __len__(self) -> int:
        return int(self.r.size)

    def _columns_for_frames(self) -> tuple[Col, ...]:
        return (
            Col("r", "int", self.r),
            Col("f", "int", self.f),
            Col("m", "int", self.m),
            Col("code", "int", self.code),
        )

    @property
    def bins(self) -> int:
        """The number of scores per letter."""
        return self.edges.bins

    @property
    def code(self) -> npt.NDArray[np.int16]:
        """The scores as one number per customer, ``R * 100 + F * 10 + M`` (555 is best)."""
        code: npt.NDArray[np.int16] = (
            self.r.astype(np.int16) * 100 + self.f.astype(np.int16) * 10 + self.m
        )
        return code

    @property
    def fm(self) -> npt.NDArray[np.int8]:
        """The combined frequency-monetary score ``(F + M + 1) // 2``."""
        fm: npt.NDArray[np.int8] = ((self.f.astype(np.int16) + self.m + 1) // 2).astype(np.int8)
        return fm

    def cell_index(self) -> npt.NDArray[np.int16]:
        """Each customer's cell as one index ``((R-1) * bins + F-1) * bins + M-1``.

        int16 arithmetic (at most 9**3 cells) keeps this light on memory.

        >>> grid = RFMEdges(*[(1, 2, 3, 4)] * 3)
        >>> RFMScores(r=[1, 5], f=[1, 5], m=[2, 5], edges=grid).cell_index()
        array([  1, 124], dtype=int16)
        """
        bins = self.bins
        index: npt.NDArray[np.int16] = self.r.astype(np.int16) * np.int16(bins * bins)
        index += self.f.astype(np.int16) * np.int16(bins)
        index += self.m
        index -= np.int16(bins * bins + bins + 1)
        return index


def rfm_scores(
    days_since_last: object = "days_since_last",
    frequency: object = "frequency",
    monetary: object = "monetary",
    bins: int | RFMEdges = 5,
    *,
    data: object = None,
) -> RFMScores:
    """Score recency, frequency and monetary value from 1 to ``bins``.

    With an int, the edges are the population quantiles at ``1/bins, 2/bins
    ...`` and each value is placed with ``numpy.searchsorted``, so equal values
    always share a score (bins may hold unequal counts) and the result does not
    depend on row order. With an :class:`RFMEdges`, those fixed breakpoints
    are used. ``R = bins`` is the most recent customer (fewest days since the
    last purchase); ``F`` and ``M`` grow with frequency and money.

    Args:
        days_since_last: Days between the last purchase and the as-of date (>= 0).
        frequency: Purchase frequency (repeat purchases, >= 0).
        monetary: Money per customer (mean or total spend), finite.
        bins: Number of quantile bins (2..9), or fixed :class:`RFMEdges`.
        data: A summary, its frame (pandas, polars, pyarrow, DuckDB) or a
            mapping; then the three column arguments name its columns (by
            default the summary's own).

    Returns:
        The scores, with the edges they were scored against.

    Raises:
        InvalidColumn: A column is not numeric, holds NaN or infinity, a
            negative day count or frequency, or the lengths differ.
        EmptyData: Quantile edges of zero customers.
        InvalidArgument: ``bins`` outside 2..9.

    >>> scores = rfm_scores([1, 5, 30, 90, 365], [9, 4, 2, 1, 0], [90, 40, 40, 15, 5])
    >>> scores.r.tolist(), scores.f.tolist(), scores.m.tolist()
    ([5, 4, 3, 2, 1], [5, 4, 3, 2, 1], [5, 3, 3, 2, 1])
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"days_since_last": [1, 90], "frequency": [3, 0],
    ...                       "monetary": [20.0, 0.0]})
    >>> rfm_scores(data=frame, bins=2).code.tolist()
    [222, 111]
    """
    if data is None:
        given = [_native.column(v) for v in (days_since_last, frequency, monetary)]
    else:
        wanted = {"days_since_last": days_since_last, "frequency": frequency}
        given = list(_native.read_columns(data, {**wanted, "monetary": monetary}).values())
    days, freq, money = rfm_columns(*given)
    if isinstance(bins, RFMEdges):
        return bins._score(days, freq, money)
    count = check_bins(bins)
    if days.size == 0:
        raise EmptyData("rfm_scores needs at least one customer", field="frequency", value=0)
    return RFMEdges._fit(days, freq, money, count)._score(days, freq, money)


def all_cells(bins: int) -> tuple[Cell, ...]:
    """Every ``(R, F, M)`` cell of a ``bins`` score grid, in index order.

    >>> all_cells(2)
    ((1, 1, 1), (1, 1, 2), (1, 2, 1), (1, 2, 2), (2, 1, 1), (2, 1, 2), (2, 2, 1), (2, 2, 2))
    """
    span = range(1, bins + 1)
    return tuple((r, f, m) for r in span for f in span for m in span)


def _cell(value: object, name: str) -> Cell:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence) or len(value) != 3:
        raise InvalidType(
            f"cell {value!r} of {name!r} must be an (R, F, M) triple of ints",
            field="cells",
            value=value,
        )
    r, f, m = (check_int(v, "cell") for v in value)
    return (r, f, m)


def _segments_converter(value: object) -> tuple[tuple[str, frozenset[Cell]], ...]:
    if isinstance(value, Mapping):
        value = list(value.items())
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidType(
            f"segments={value!r} must be (name, cells) pairs, not {type_name(value)}",
            field="segments",
            value=value,
        )
    result = []
    for item in value:
        if isinstance(item, str | bytes) or not isinstance(item, Sequence) or len(item) != 2:
            raise InvalidType(
                f"segment {item!r} must be a (name, cells) pair", field="segments", value=item
            )
        name, cells = item
        if not isinstance(name, str) or not name:
            raise InvalidType(
                f"segment name {name!r} must be a non-empty str", field="segments", value=name
            )
        if isinstance(cells, str | bytes) or not isinstance(cells, Iterable):
            raise InvalidType(
                f"cells of {name!r} must be a collection of (R, F, M) triples",
                field="cells",
                value=cells,
            )
        result.append((name, frozenset(_cell(c, name) for c in cells)))
    return tuple(result)


@attrs.frozen
class Coverage:
    """Which score cells a segment map misses, names twice, or names out of range.

    >>> report = check_coverage({"all": all_cells(2)[1:], "twice": [(2, 2, 2)]}, bins=2)
    >>> report.ok, report.gaps, report.overlaps
    (False, ((1, 1, 1),), (((2, 2, 2), ('all', 'twice')),))
    """

    bins: int
    gaps: tuple[Cell, ...]
    overlaps: tuple[tuple[Cell, tuple[str, ...]], ...]
    outside: tuple[tuple[Cell, str], ...] = ()

    @property
    def ok(self) -> bool:
        """True when every cell is in exactly one segment and none is out of range."""
        return not (self.gaps or self.overlaps or self.outside)

    def describe(self) -> str:
        """One line per problem, or ``"complete"``.

        >>> print(check_coverage(RFM_SEGMENTS).describe())
        every one of the 125 cells is in exactly one segment
        """
        if self.ok:
            return f"every one of the {self.bins**3} cells is in exactly one segment"
        lines = [f"gap: {cell} is in no segment" for cell in self.gaps]
        lines += [f"overlap: {cell} is in {list(names)}" for cell, names in self.overlaps]
        lines += [
            f"outside: {cell} of {name!r} is not a 1..{self.bins} cell"
            for cell, name in self.outside
        ]
        return "\n".join(lines)


def check_coverage(
    segment_map: SegmentMap | Mapping[str, Iterable[Cell]], bins: int | None = None
) -> Coverage:
    """Report every gap and overlap of a segment map over the ``bins**3`` cells.

    Args:
        segment_map: A :class:`SegmentMap`, or a mapping of segment name to
            its ``(R, F, M)`` cells.
        bins: Scores per letter; defaults to the map's own (5 for a mapping).

    Returns:
        A :class:`Coverage`: ``gaps`` (cells in no segment), ``overlaps``
        (cells in several, with their names, in map order) and ``outside``
        (cells out of range), each sorted by cell.

    >>> check_coverage(RFM_SEGMENTS).ok
    True
    >>> check_coverage({"champions": [(5, 5, 5)]}).gaps[:2]
    ((1, 1, 1), (1, 1, 2))
    """
    if not isinstance(segment_map, SegmentMap):
        segment_map = SegmentMap(segment_map, bins=5 if bins is None else bins)
    size = segment_map.bins if bins is None else check_bins(bins)
    owners: dict[Cell, list[str]] = {cell: [] for cell in all_cells(size)}
    outside = []
    for name, cells in segment_map.segments:
        for cell in sorted(cells):
            if cell in owners:
                owners[cell].append(name)
            else:
                outside.append((cell, name))
    gaps = tuple(cell for cell, names in owners.items() if not names)
    overlaps = tuple((cell, tuple(names)) for cell, names in owners.items() if len(names) > 1)
    return Coverage(size, gaps, overlaps, tuple(sorted(outside)))


@attrs.frozen
class SegmentMap:
    """Named segments over the ``(R, F, M)`` score cells, in priority order.

    Build one from an ``R x FM`` grid with :meth:`from_grid`, or from the
    cells of each segment. :func:`check_coverage` reports gaps and overlaps;
    :meth:`assign` needs a map that covers every cell exactly once.

    >>> small = SegmentMap.from_grid({2: ["rising", "best"], 1: ["gone", "slipping"]}, bins=2)
    >>> small.segment_of(2, 1, 2), small.segment_of(1, 1, 1)
    ('best', 'gone')
    """

    segments: tuple[tuple[str, frozenset[Cell]], ...] = attrs.field(converter=_segments_converter)
    bins: int = attrs.field(default=5, converter=check_bins)

    def __attrs_post_init__(self) -> None:
        names = [name for name, _ in self.segments]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise InvalidRule(
                    f"segment name {name!r} appears twice", field="segments", value=name
                )

    @classmethod
    def from_grid(
        cls,
        grid: Mapping[int, Sequence[str]],
        bins: int = 5,
        *,
        order: Sequence[str] | None = None,
    ) -> SegmentMap:
        """A map from an ``R x FM`` table, ``FM = (F + M + 1) // 2``.

        ``grid[r][fm - 1]`` names the segment of the cells with that R and FM.
        Segments come in ``order``, or in the order names first appear,
        highest R first.

        >>> SegmentMap.from_grid({2: ["a", "a"], 1: ["b", "c"]}, bins=2).names
        ('a', 'b', 'c')
        """
        bins = check_bins(bins)
        if set(grid) != set(range(1, bins + 1)):
            raise InvalidRule(
                f"grid rows {sorted(grid)} must be R = 1..{bins}", field="grid", value=sorted(grid)
            )
        cells: dict[str, set[Cell]] = {}
        for r in sorted(grid, reverse=True):
            row = list(grid[r])
            if len(row) != bins:
                raise InvalidRule(
                    f"grid row R={r} has {len(row)} names, not {bins}", field="grid", value=row
                )
            for f in range(1, bins + 1):
                for m in range(1, bins + 1):
                    cells.setdefault(row[(f + m + 1) // 2 - 1], set()).add((r, f, m))
        if order is not None:
            if sorted(order) != sorted(cells):
                raise InvalidRule(
                    f"order={list(order)!r} must list each grid name once: {sorted(cells)}",
                    field="order",
                    value=list(order),
                )
            return cls(tuple((name, cells[name]) for name in order), bins=bins)
        return cls(tuple(cells.items()), bins=bins)

    @property
    def names(self) -> tuple[str, ...]:
        """The segment names, in priority order."""
        return tuple(name for name, _ in self.segments)

    def table(self) -> npt.NDArray[np.int16]:
        """The segment index of every cell (first segment wins, -1 for a gap).

        >>> RFM_SEGMENTS.table().shape
        (125,)
        """
        bins = self.bins
        table = np.full(bins**3, -1, dtype=np.int16)
        for code, (_, cells) in reversed(list(enumerate(self.segments))):
            for r, f, m in cells:
                if all(1 <= v <= bins for v in (r, f, m)):
                    table[((r - 1) * bins + f - 1) * bins + m - 1] = code
        return table

    def segment_of(self, r: int, f: int, m: int) -> str:
        """The segment of one score cell.

        >>> RFM_SEGMENTS.segment_of(5, 5, 4)
        'champions'
        """
        cell = tuple(check_int(v, name) for v, name in ((r, "r"), (f, "f"), (m, "m")))
        for name, cells in self.segments:
            if cell in cells:
                return name
        raise InvalidRule(f"cell {cell} is in no segment", field="cell", value=cell)

    def assign(self, scores: RFMScores) -> Assignment:
        """The segment of every customer, vectorized with a 125-cell lookup table.

        >>> scores = rfm_scores([1, 300], [8, 0], [90.0, 5.0])
        >>> RFM_SEGMENTS.assign(scores).labels().tolist()
        ['champions', 'lost']
        """
        if not isinstance(scores, RFMScores):
            raise InvalidType(
                f"scores must be RFMScores, not {type_name(scores)}", field="scores", value=scores
            )
        if scores.bins != self.bins:
            raise InvalidArgument(
                f"scores have {scores.bins} bins but the map has {self.bins}",
                field="bins",
                value=scores.bins,
            )
        coverage = check_coverage(self)
        if not coverage.ok:
            raise InvalidRule(
                f"segment map does not cover every cell once:\n{coverage.describe()}",
                field="segments",
                value=coverage,
            )
        codes = self.table()[scores.cell_index()]
        return Assignment._trusted(codes, self.names)


#: The classic RFM segments on the R x FM grid, FM = (F + M + 1) // 2.
RFM_GRID: Final[Mapping[int, tuple[str, ...]]] = {
    5: ("new", "potential_loyalist", "potential_loyalist", "champions", "champions"),
    4: ("promising", "potential_loyalist", "potential_loyalist", "loyal", "loyal"),
    3: ("about_to_sleep", "about_to_sleep", "need_attention", "loyal", "loyal"),
    2: ("hibernating", "hibernating", "at_risk", "at_risk", "cant_lose"),
    1: ("lost", "hibernating", "at_risk", "at_risk", "cant_lose"),
}

#: The classic named RFM segments, covering each of the 125 cells exactly once.
RFM_SEGMENTS: Final = SegmentMap.from_grid(
    RFM_GRID,
    order=(
        "champions",
        "loyal",
        "potential_loyalist",
        "new",
        "promising",
        "need_attention",
        "about_to_sleep",
        "at_risk",
        "cant_lose",
        "hibernating",
        "lost",
    ),
)
