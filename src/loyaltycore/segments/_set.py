"""Segments defined by a predicate, and ordered sets of them; two engines each.

Private module; the public names are re-exported by :mod:`loyaltycore.segments`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, tzinfo
from typing import Any, Final, Literal, Protocol, TypeAlias

import attrs
import numpy as np
import numpy.typing as npt

from loyaltycore import _native
from loyaltycore._validate import check_id, type_name
from loyaltycore.errors import DuplicateId, InvalidArgument, InvalidType
from loyaltycore.predicates import Context, Frame, Member, Predicate
from loyaltycore.segments._base import Assignment, Membership

Mode = Literal["first", "all"]
MODES: Final = ("first", "all")


def _where(value: object) -> Predicate:
    if not isinstance(value, Predicate):
        raise InvalidType(
            f"where={value!r} must be a predicate, not {type_name(value)}",
            field="where",
            value=value,
        )
    return value


def _name(value: object) -> str:
    return check_id(value, "name")


def _description(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidType(
            f"description={value!r} must be a str, not {type_name(value)}",
            field="description",
            value=value,
        )
    return value


def _context(
    facts: Any,
    member: Any,
    as_of: datetime | None,
    tz: str | tzinfo,
    tiers: Iterable[str],
    exponent: int,
) -> Context:
    return Context(None, member, facts, as_of=as_of, tz=tz, tiers=tuple(tiers), exponent=exponent)


class HasColumns(Protocol):
    """A value offering its columns, such as a transaction :class:`Summary`."""

    def columns(self) -> Mapping[str, Any]:
        """Field name to numpy array."""
        ...


Columns: TypeAlias = Mapping[str, npt.ArrayLike] | Frame | HasColumns


def _frame(
    columns: Columns,
    as_of: datetime | None,
    tz: str | tzinfo,
    tiers: Iterable[str],
    exponent: int,
    size: int | None,
) -> Frame:
    if isinstance(columns, Frame):
        return columns
    if not isinstance(columns, Mapping):
        if callable(getattr(columns, "columns", None)):
            columns = columns.columns()  # a Summary, or any value offering its columns
        elif _native.is_frame(columns):
            columns = _native.read_all(columns)
        else:
            raise InvalidType(
                f"columns must be a mapping of field name to array, a Summary or a data "
                f"frame, not {type_name(columns)}",
                field="columns",
                value=type(columns),
            )
    return Frame(columns, tz=tz, as_of=as_of, tiers=tiers, exponent=exponent, size=size)


@attrs.frozen
class Segment:
    """A named group of members: those for whom ``where`` holds.

    ``where`` is a predicate of the shared condition language over a member's
    facts (a row of the transaction summary), the :class:`Member` and the
    evaluation time, so ``field("frequency") >= 3`` or
    ``field("days_since_joined") <= 30`` (as of the date given). It is tested
    one member at a time with :meth:`contains`, or over columns with
    :meth:`mask`; both give the same answers.

    >>> from loyaltycore.predicates import field
    >>> regulars = Segment("regulars", field("frequency") >= 3)
    >>> regulars.contains({"frequency": 4}), regulars.contains({"frequency": 1})
    (True, False)
    >>> regulars.mask({"frequency": np.array([4, 1, 3])}).tolist()
    [True, False, True]
    """

    name: str = attrs.field(converter=_name)
    where: Predicate = attrs.field(converter=_where)
    description: str = attrs.field(default="", converter=_description)

    def contains(
        self,
        facts: object = None,
        *,
        member: Member | None = None,
        as_of: datetime | None = None,
        tz: str | tzinfo = "UTC",
        tiers: Iterable[str] = (),
        exponent: int = 2,
    ) -> bool:
        """Whether one member is in the segment (the scalar engine).

        Args:
            facts: The member's facts: a summary row (:class:`Facts`) or a mapping.
            member: The :class:`Member`, when the condition reads member fields.
            as_of: The evaluation time (aware); time-window conditions use it.
                None: there is no "now", so conditions that read it (``as_of``,
                calendar conditions) are False.
            tz: The program's IANA zone.
            tiers: Tier names, lowest first.
            exponent: The currency exponent of money amounts in the facts.

        >>> from loyaltycore.predicates import field
        >>> Segment("big", field("aov") > 50.0).contains({"aov": 80.0})
        True
        """
        return self.where.test(_context(facts, member, as_of, tz, tiers, exponent))

    def mask(
        self,
        columns: Columns,
        *,
        as_of: datetime | None = None,
        tz: str | tzinfo = "UTC",
        tiers: Iterable[str] = (),
        exponent: int = 2,
        size: int | None = None,
    ) -> npt.NDArray[np.bool_]:
        """Which members are in the segment (the vectorized engine).

        Args:
            columns: Field name to array, one row per member (a summary's
                ``columns()``, or the summary itself).
            as_of: The evaluation time (aware). None: conditions that read
                it (``as_of``, calendar conditions) are False.
            tz: The program's IANA zone.
            tiers: Tier names, lowest first.
            exponent: The currency exponent of money columns.
            size: The number of rows, when ``columns`` is empty.

        >>> from loyaltycore.predicates import field
        >>> Segment("big", field("aov") > 50.0).mask({"aov": np.array([80.0, 20.0])})
        array([ True, False])
        """
        frame = _frame(columns, as_of, tz, tiers, exponent, size)
        mask: npt.NDArray[np.bool_] = self.where.mask(frame)
        return mask


def _segments(value: object) -> tuple[Segment, ...]:
    if isinstance(value, str | bytes | Segment) or not isinstance(value, Iterable):
        raise InvalidType(
            f"segments={value!r} must be a sequence of Segment, not {type_name(value)}",
            field="segments",
            value=value,
        )
    segments = tuple(value)
    seen: set[str] = set()
    for i, segment in enumerate(segments):
        if not isinstance(segment, Segment):
            raise InvalidType(
                f"segments[{i}]={segment!r} must be a Segment, not {type_name(segment)}",
                field="segments",
                value=segment,
            )
        if segment.name in seen:
            raise DuplicateId(
                f"segment name {segment.name!r} appears twice", field="name", value=segment.name
            )
        seen.add(segment.name)
    return segments


def _mode(value: object) -> Mode:
    if value not in MODES:
        raise InvalidArgument(
            f"mode={value!r} must be 'first' or 'all'", field="mode", value=value
        )
    return "first" if value == "first" else "all"


@attrs.frozen
class SegmentSet:
    """Segments in priority order: each member gets the first match, or every match.

    With ``mode="first"`` the segments partition the members (a member
    matching none has no segment); with ``mode="all"`` they may overlap. The
    scalar engine (:meth:`of`) and the vectorized one (:meth:`evaluate`)
    give the same answers.

    >>> from loyaltycore.predicates import field
    >>> tiers = SegmentSet([
    ...     Segment("vip", field("aov") >= 100.0),
    ...     Segment("regular", field("frequency") >= 2),
    ... ])
    >>> tiers.of({"aov": 150.0, "frequency": 5}), tiers.of({"aov": 10.0, "frequency": 0})
    (('vip',), ())
    >>> cols = {"aov": np.array([150.0, 20.0, 5.0]), "frequency": np.array([5, 2, 0])}
    >>> tiers.assign(cols).labels().tolist()
    ['vip', 'regular', None]
    """

    segments: tuple[Segment, ...] = attrs.field(converter=_segments)
    mode: Mode = attrs.field(default="first", converter=_mode)

    @property
    def names(self) -> tuple[str, ...]:
        """The segment names, in priority order."""
        return tuple(segment.name for segment in self.segments)

    def of(
        self,
        facts: object = None,
        *,
        member: Member | None = None,
        as_of: datetime | None = None,
        tz: str | tzinfo = "UTC",
        tiers: Iterable[str] = (),
        exponent: int = 2,
    ) -> tuple[str, ...]:
        """The segments of one member: at most one in ``"first"`` mode, every match in ``"all"``.

        Arguments as in :meth:`Segment.contains` (``as_of=None``: conditions
        that read it are False).

        >>> from loyaltycore.predicates import field
        >>> both = SegmentSet([Segment("a", field("frequency") > 1),
        ...                    Segment("b", field("frequency") > 2)], mode="all")
        >>> both.of({"frequency": 3})
        ('a', 'b')
        """
        context = _context(facts, member, as_of, tz, tiers, exponent)
        (row,) = self._walk(lambda segment: np.array([segment.where.test(context)]), 1)
        return tuple(name for name, hit in zip(self.names, row.tolist(), strict=True) if hit)

    def evaluate(
        self,
        columns: Columns,
        *,
        as_of: datetime | None = None,
        tz: str | tzinfo = "UTC",
        tiers: Iterable[str] = (),
        exponent: int = 2,
        size: int | None = None,
    ) -> Membership:
        """Every member's segments as a :class:`Membership` (vectorized :meth:`of`).

        In ``"first"`` mode each row holds at most one match. Arguments as in
        :meth:`Segment.mask` (``as_of=None``: conditions that read it are
        False).

        >>> from loyaltycore.predicates import field
        >>> both = SegmentSet([Segment("a", field("frequency") > 1),
        ...                    Segment("b", field("frequency") > 2)], mode="all")
        >>> both.evaluate({"frequency": np.array([3, 2, 0])}).counts()
        {'a': 2, 'b': 1}
        """
        frame = _frame(columns, as_of, tz, tiers, exponent, size)
        matches = self._walk(lambda segment: segment.where.mask(frame), frame.n)
        return Membership._trusted(matches, self.names)

    def _walk(
        self, test: Callable[[Segment], npt.NDArray[np.bool_]], n: int
    ) -> npt.NDArray[np.bool_]:
        """The (row, segment) matches of ``n`` rows, segments walked in priority order.

        ``test(segment)`` gives the rows the segment's condition holds for
        (the scalar engine passes one row). In ``"first"`` mode a row keeps
        only its first match, and the walk stops once every row has one, so
        a later condition is never tested on a row that is already placed.
        """
        matches = np.zeros((n, len(self.segments)), dtype=np.bool_)
        taken = np.zeros(n, dtype=np.bool_)
        for j, segment in enumerate(self.segments):
            if self.mode == "all":
                matches[:, j] = test(segment)
                continue
            if taken.all():
                break
            hit = test(segment) & ~taken
            taken |= hit
            matches[:, j] = hit
        return matches

    def assign(
        self,
        columns: Columns,
        *,
        as_of: datetime | None = None,
        tz: str | tzinfo = "UTC",
        tiers: Iterable[str] = (),
        exponent: int = 2,
        size: int | None = None,
    ) -> Assignment:
        """Each member's first matching segment, as an :class:`Assignment`.

        Arguments as in :meth:`Segment.mask` (``as_of=None``: conditions that
        read it are False).

        >>> from loyaltycore.predicates import field
        >>> SegmentSet([Segment("a", field("frequency") > 1)]).assign(
        ...     {"frequency": np.array([3, 0])}).codes.tolist()
        [0, -1]
        """
        first = attrs.evolve(self, mode="first")
        return first.evaluate(
            columns, as_of=as_of, tz=tz, tiers=tiers, exponent=exponent, size=size
        ).first()
