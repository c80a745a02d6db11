"""Predicate base class, field comparisons and boolean combinators.

Private module: the public names are re-exported by :mod:`loyaltycore.predicates`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, tzinfo
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any, ClassVar, Final

import attrs
import numpy as np
import numpy.typing as npt

from loyaltycore._validate import DECIMAL_CONTEXT, check_int, to_decimal, type_name
from loyaltycore.calendar import EPOCH_DATE, MISSING_INT, to_micros, to_utc
from loyaltycore.errors import InvalidArgument, InvalidRule, InvalidType, LoyaltyError
from loyaltycore.predicates._fields import (
    INT64_MAX,
    Context,
    Event,
    Field,
    Frame,
    Member,
    lookup,
    missing,
)

Mask = npt.NDArray[np.bool_]
_INT_KINDS: Final = frozenset({"money", "instant", "date", "int"})
ORDERED_KINDS: Final = frozenset({"money", "instant", "date", "int", "float"})
OPS: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


class Predicate:
    """A condition on an event, a member and their facts; one node of a closed set.

    Every node answers the same question two ways, side by side:

    * :meth:`test` — the scalar engine: one case, described by a
      :class:`Context` (event, member, facts, ``as_of``, program zone,
      tier order, currency exponent), returns a ``bool``;
    * :meth:`mask` — the vectorized engine: many cases, described by
      columns (a mapping of field name to numpy array, one row per case;
      see :class:`Frame`), returns a bool array.

    Property tests assert both agree on random inputs. A comparison with a
    missing value is False in both; ``~`` is plain boolean negation (so
    ``~(field("amount") >= 10)`` is True when the amount is missing).

    Nodes compose with ``&`` (:class:`And`), ``|`` (:class:`Or`) and ``~``
    (:class:`Not`), are immutable, hashable, picklable, and convert to
    plain data with a ``"type"`` tag (:func:`to_plain` / :func:`from_plain`).

    >>> from datetime import datetime, timezone
    >>> rule = (field("amount") >= 100) & field("channel").isin({"app", "web"})
    >>> at = datetime(2024, 5, 1, tzinfo=timezone.utc)
    >>> e = Event("o-1", "purchase", at, "120", channel="app")
    >>> rule.test(event=e)
    True
    >>> import numpy as np
    >>> channel = np.array(["app", "app"], dtype=object)
    >>> rule.mask({"amount": np.array([12000, 5000]), "channel": channel})
    array([ True, False])
    """

    __slots__ = ()
    #: The plain-data ``type`` tag of the node class.
    tag: ClassVar[str] = ""

    def test(
        self,
        context: Context | None = None,
        /,
        *,
        event: Event | None = None,
        member: Member | None = None,
        facts: object = None,
        as_of: datetime | None = None,
        tz: str | tzinfo = "UTC",
        tiers: Iterable[str] = (),
        exponent: int = 2,
    ) -> bool:
        """Whether the condition holds for one case (the scalar engine).

        Pass a prepared :class:`Context` (fastest when many predicates test
        the same case: derived values such as the local date are cached in
        it), or the parts as keywords.

        Args:
            context: a :class:`Context`; when given, no keyword may be.
            event: the :class:`Event`, or None.
            member: the :class:`Member`, or None.
            facts: the member's facts (a summary row), or None.
            as_of: the evaluation time (aware datetime). None: calendar
                conditions read the event's ``at``; without an event,
                conditions that read the time are False.
            tz: the program's IANA zone.
            tiers: tier names, lowest first (for :func:`tier_at_least`).
            exponent: the currency exponent.

        Returns:
            ``True`` or ``False``.

        Raises:
            InvalidArgument: a context and keywords together.

        >>> (field("frequency") >= 3).test(facts={"frequency": 4})
        True
        >>> (field("frequency") >= 3).test(facts={"frequency": None})
        False
        """
        if context is None:
            context = Context(
                event, member, facts, as_of=as_of, tz=tz, tiers=tiers, exponent=exponent
            )
        elif context.__class__ is not Context:
            raise InvalidType(
                f"context={context!r} must be a Context, not {type_name(context)}",
                field="context",
                value=context,
            )
        elif (
            event is not None
            or member is not None
            or facts is not None
            or as_of is not None
            or tz != "UTC"
            or tiers != ()
            or exponent != 2
        ):
            raise InvalidArgument(
                "pass either a Context or keywords, not both", field="context", value=context
            )
        return self._test(context)

    def mask(
        self,
        columns: Mapping[str, npt.ArrayLike] | Frame,
        /,
        *,
        tz: str | tzinfo = "UTC",
        as_of: datetime | None = None,
        tiers: Iterable[str] = (),
        exponent: int = 2,
        size: int | None = None,
    ) -> Mask:
        """Where the condition holds, row by row (the vectorized engine).

        Args:
            columns: field name -> numpy array, one row per case (see
                :class:`Frame` for dtypes and missing values), or a prepared
                :class:`Frame` (then no other argument may be given).
            tz: the program's IANA zone.
            as_of: the evaluation time (for ``as_of`` and for calendar
                conditions when there is no ``at`` column). None: those
                conditions are False.
            tiers: tier names, lowest first.
            exponent: the currency exponent of money columns.
            size: the number of rows, needed only when ``columns`` is empty.

        Returns:
            A bool array with one entry per row.

        Raises:
            InvalidColumn: a needed column is absent or has a wrong dtype or length.

        >>> import numpy as np
        >>> recent = field("days_since_last") <= 30
        >>> recent.mask({"days_since_last": np.array([3.0, np.nan, 45.0])})
        array([ True, False, False])
        """
        if isinstance(columns, Frame):
            return self._mask(columns)
        frame = Frame(columns, tz=tz, as_of=as_of, tiers=tiers, exponent=exponent, size=size)
        return self._mask(frame)

    def first_failure(self, context: Context) -> Predicate | None:
        """The first condition that fails for ``context``, or None when it holds.

        Conditions joined by ``&`` are searched in order (and nested ``&``
        inside them); any other node that fails is itself the answer. This
        is what a rule trace shows: "why didn't I get double points?".

        >>> from datetime import datetime, timezone
        >>> rule = (field("channel") == "app") & (field("amount") >= 50)
        >>> e = Event("o", "purchase", datetime(2024, 5, 1, tzinfo=timezone.utc), "20",
        ...           channel="app")
        >>> rule.first_failure(Context(e))
        Compare(field='amount', op='>=', value=Decimal('50'), kind=None)
        """
        if self._test(context):
            return None
        if isinstance(self, And):
            for term in self.terms:
                failure = term.first_failure(context)
                if failure is not None:
                    return failure
        return self

    def fields(self) -> frozenset[Field]:
        """The fields this predicate reads (what an encoder must provide).

        >>> sorted(f.name for f in ((field("amount") > 5) | (field("tier") == "gold")).fields())
        ['amount', 'tier']
        """
        return frozenset()

    def _test(self, ctx: Context) -> bool:
        raise InvalidRule(f"{type(self).__name__} is not a predicate node")

    def _mask(self, frame: Frame) -> Mask:
        raise InvalidRule(f"{type(self).__name__} is not a predicate node")

    def __and__(self, other: object) -> Predicate:
        if not isinstance(other, Predicate):
            return NotImplemented
        return And(_flatten(And, (self, other)))

    def __or__(self, other: object) -> Predicate:
        if not isinstance(other, Predicate):
            return NotImplemented
        return Or(_flatten(Or, (self, other)))

    def __invert__(self) -> Predicate:
        if isinstance(self, Not):
            return self.term
        return Not(self)

    def __bool__(self) -> bool:
        raise InvalidType(
            "a predicate has no truth value: combine with & | ~ (not and/or/not),"
            " and call .test() or .mask() to evaluate",
            field="predicate",
            value=self,
        )


def _flatten(cls: type[And] | type[Or], parts: Iterable[Predicate]) -> tuple[Predicate, ...]:
    out: list[Predicate] = []
    for part in parts:
        if isinstance(part, cls):
            out.extend(part.terms)
        else:
            out.append(part)
    return tuple(out)


def _terms(value: object) -> tuple[Predicate, ...]:
    if isinstance(value, Predicate) or not isinstance(value, Iterable):
        raise InvalidType(
            f"terms={value!r} must be a sequence of predicates", field="terms", value=value
        )
    terms = tuple(value)
    if not terms:
        raise InvalidRule("terms=() must hold at least one predicate", field="terms", value=())
    for i, term in enumerate(terms):
        if not isinstance(term, Predicate):
            raise InvalidType(
                f"terms[{i}]={term!r} must be a predicate, not {type_name(term)}",
                field="terms",
                value=term,
            )
    return terms


def _all_fields(terms: Iterable[Predicate]) -> frozenset[Field]:
    out: frozenset[Field] = frozenset()
    for term in terms:
        out |= term.fields()
    return out


@attrs.frozen
class And(Predicate):
    """All terms hold (``a & b``); plain data ``{"type": "all", "all": [...]}``.

    >>> (Always() & ~Always()).test()
    False
    """

    terms: tuple[Predicate, ...] = attrs.field(converter=_terms)
    tag: ClassVar[str] = "all"

    def _test(self, ctx: Context) -> bool:
        for term in self.terms:  # noqa: SIM110 (a plain loop is faster than all() on a generator)
            if not term._test(ctx):
                return False
        return True

    def _mask(self, frame: Frame) -> Mask:
        out = self.terms[0]._mask(frame).copy()
        for term in self.terms[1:]:
            out &= term._mask(frame)
        return out

    def fields(self) -> frozenset[Field]:
        """The fields of every term.

        >>> [f.name for f in And([field("amount") > 1]).fields()]
        ['amount']
        """
        return _all_fields(self.terms)


@attrs.frozen
class Or(Predicate):
    """At least one term holds (``a | b``); plain data ``{"type": "any", "any": [...]}``.

    >>> (Always() | ~Always()).test()
    True
    """

    terms: tuple[Predicate, ...] = attrs.field(converter=_terms)
    tag: ClassVar[str] = "any"

    def _test(self, ctx: Context) -> bool:
        for term in self.terms:  # noqa: SIM110 (a plain loop is faster than any() on a generator)
            if term._test(ctx):
                return True
        return False

    def _mask(self, frame: Frame) -> Mask:
        out = self.terms[0]._mask(frame).copy()
        for term in self.terms[1:]:
            out |= term._mask(frame)
        return out

    def fields(self) -> frozenset[Field]:
        """The fields of every term.

        >>> [f.name for f in Or([field("amount") > 1]).fields()]
        ['amount']
        """
        return _all_fields(self.terms)


def _predicate(value: object) -> Predicate:
    if not isinstance(value, Predicate):
        raise InvalidType(
            f"term={value!r} must be a predicate, not {type_name(value)}",
            field="term",
            value=value,
        )
    return value


@attrs.frozen
class Not(Predicate):
    """The term does not hold (``~a``); plain data ``{"type": "not", "not": {...}}``.

    >>> Not(Always()).test()
    False
    """

    term: Predicate = attrs.field(converter=_predicate)
    tag: ClassVar[str] = "not"

    def _test(self, ctx: Context) -> bool:
        return not self.term._test(ctx)

    def _mask(self, frame: Frame) -> Mask:
        return ~self.term._mask(frame)

    def fields(self) -> frozenset[Field]:
        """The fields of the term.

        >>> [f.name for f in Not(field("amount") > 1).fields()]
        ['amount']
        """
        return self.term.fields()


@attrs.frozen
class Always(Predicate):
    """Always true: the condition of an unconditional rule (base earning).

    >>> Always().test(), Always().mask({}, size=2)
    (True, array([ True,  True]))
    """

    tag: ClassVar[str] = "always"

    def _test(self, ctx: Context) -> bool:
        return True

    def _mask(self, frame: Frame) -> Mask:
        return np.ones(frame.n, dtype=np.bool_)


# -- literals ------------------------------------------------------------------


def literal(spec: Field, value: object, name: str = "value") -> tuple[Any, Any]:
    """``(stored, comparable)`` forms of a literal for a field of ``spec.kind``.

    The stored form is what the node keeps and writes as plain data; the
    comparable form is in the field's comparison space (micros, days ...).
    """
    kind = spec.kind
    try:
        if kind == "money":
            amount = to_decimal(value, name, allow_negative=True)
            return amount, amount
        if kind == "instant":
            at = to_utc(value, name)
            return at, to_micros(at)
        if kind == "date":
            if isinstance(value, datetime) or not isinstance(value, date):
                raise InvalidType(
                    f"{name}={value!r} must be a date for field {spec.name!r},"
                    f" not {type_name(value)}",
                    field=name,
                    value=value,
                )
            return value, (value - EPOCH_DATE).days
        if kind == "int":
            number = check_int(value, name)
            if not MISSING_INT < number <= INT64_MAX:
                raise InvalidArgument(
                    f"{name}={number} is outside the int64 range", field=name, value=number
                )
            return number, number
        if kind == "float":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidType(
                    f"{name}={value!r} must be a number, not {type_name(value)}",
                    field=name,
                    value=value,
                )
            number_f = float(value)
            if number_f != number_f or number_f in (float("inf"), float("-inf")):
                raise InvalidArgument(f"{name}={value!r} must be finite", field=name, value=value)
            return number_f, number_f
        expected = {"str": str, "bool": bool}.get(kind)
        if expected is None or not isinstance(value, expected):
            raise InvalidType(
                f"{name}={value!r} must be a {kind} for field {spec.name!r},"
                f" not {type_name(value)}",
                field=name,
                value=value,
            )
        return value, value
    except LoyaltyError as exc:
        if isinstance(exc, InvalidRule):
            raise
        raise InvalidRule(str(exc), field=name, value=value) from None


def _check_op(spec: Field, op: object) -> str:
    if op not in OPS:
        raise InvalidRule(f"op={op!r} must be one of {sorted(OPS)}", field="op", value=op)
    assert isinstance(op, str)
    if spec.kind == "set":
        raise InvalidRule(
            f"field {spec.name!r} is a set: use in_segment(...)", field="field", value=spec.name
        )
    if op not in ("==", "!=") and spec.kind not in ORDERED_KINDS:
        raise InvalidRule(
            f"op={op!r} is not defined for field {spec.name!r} of kind {spec.kind!r}"
            " (use ==, != or isin)",
            field="op",
            value=op,
        )
    return op


def _threshold(spec: Field, comparable: Any, exponent: int) -> Any:
    """The comparable literal in column space (money: Decimal minor units)."""
    if spec.kind == "money":
        return comparable.scaleb(exponent, DECIMAL_CONTEXT)
    if spec.kind == "bool":
        return int(comparable)
    return comparable


def int_compare(column: npt.NDArray[np.int64], op: str, threshold: Decimal | int) -> Mask:
    """``column op threshold`` for an int64 column and an exact threshold.

    A fractional threshold (a money literal finer than the minor unit) is
    compared exactly: ``x >= 9.5`` is ``x >= 10`` for integers. Missing
    values are not excluded here.
    """
    if isinstance(threshold, Decimal):
        floor = int(threshold.to_integral_value(ROUND_FLOOR, DECIMAL_CONTEXT))
        ceil = int(threshold.to_integral_value(ROUND_CEILING, DECIMAL_CONTEXT))
    else:
        floor = ceil = threshold
    if op == "==" and floor != ceil:
        return np.zeros(column.shape, dtype=np.bool_)
    if op == "!=" and floor != ceil:
        return np.ones(column.shape, dtype=np.bool_)
    bound = ceil if op in (">=", "<") else floor
    if not MISSING_INT <= bound <= INT64_MAX:
        return np.full(column.shape, OPS[op](0, bound), dtype=np.bool_)
    return np.asarray(OPS[op](column, bound), dtype=np.bool_)


def compare_column(frame: Frame, spec: Field, op: str, comparable: Any) -> Mask:
    """Vectorized ``field op literal``; False where the field is missing."""
    column = frame.get(spec)
    threshold = _threshold(spec, comparable, frame.exponent)
    if spec.kind in _INT_KINDS:
        result = int_compare(column, op, threshold)
    else:
        result = np.asarray(OPS[op](column, threshold), dtype=np.bool_)
    if op in ("!=", "<", "<=") or spec.kind not in ("float", "str"):
        result &= ~missing(spec, column)
    return result


def isin_column(frame: Frame, spec: Field, comparables: frozenset[Any]) -> Mask:
    """Vectorized ``field in values``; False where the field is missing."""
    column = frame.get(spec)
    if spec.kind in _INT_KINDS or spec.kind == "bool":
        wanted = [_threshold(spec, c, frame.exponent) for c in comparables]
        whole = (
            [int(w) for w in wanted if w == w.to_integral_value()]
            if spec.kind == "money"
            else wanted
        )
        fitting = [w for w in whole if MISSING_INT < w <= INT64_MAX]
        return np.isin(column, np.array(fitting, dtype=np.int64)) & ~missing(spec, column)
    if spec.kind == "float":
        return np.isin(column, np.array(sorted(comparables), dtype=np.float64))
    return objects_in(column, frozenset(comparables))


def objects_in(column: npt.NDArray[Any], values: frozenset[Any]) -> Mask:
    """Elementwise ``x in values`` for an object column of str (None never matches).

    A few values are compared with vectorized ``==``; many with one set lookup per row.
    """
    if len(values) <= 8:
        out = np.zeros(column.shape, dtype=np.bool_)
        for value in values:
            out |= np.asarray(column == value, dtype=np.bool_)
        return out
    return np.fromiter((v in values for v in column.tolist()), dtype=np.bool_, count=len(column))


# -- comparisons ---------------------------------------------------------------


def _spec_of(self: Any) -> Field:
    try:
        return lookup(self.field, self.kind)
    except LoyaltyError as exc:
        raise InvalidRule(str(exc), field="field", value=self.field) from None


def _check_kind_given(instance: Any, _: object, kind: object) -> None:
    if kind is not None and not isinstance(kind, str):
        raise InvalidRule(f"kind={kind!r} must be a str or None", field="kind", value=kind)


@attrs.frozen
class Compare(Predicate):
    """``field op value`` with op one of ``== != < <= > >=``.

    Build it with :func:`field`: ``field("amount") >= 100``. ``kind`` is
    given only for ``attributes.<key>`` fields that are not str. ``value``
    is a literal of the field's kind: Decimal/str/int for money (floats are
    refused), an aware datetime for instants, a date for dates, an int for
    ints, an int or float for floats, a str or a bool.

    >>> c = Compare("amount", ">=", 100)
    >>> c, c.test(facts=None)
    (Compare(field='amount', op='>=', value=Decimal('100'), kind=None), False)
    """

    field: str
    op: str
    value: object
    kind: str | None = attrs.field(default=None, validator=_check_kind_given)
    _spec: Field = attrs.field(init=False, eq=False, repr=False, hash=False)
    _get: Callable[[Context], Any] = attrs.field(init=False, eq=False, repr=False, hash=False)
    _cmp: Any = attrs.field(init=False, eq=False, repr=False, hash=False)
    _fn: Callable[[Any, Any], bool] = attrs.field(init=False, eq=False, repr=False, hash=False)
    tag: ClassVar[str] = "compare"

    def __attrs_post_init__(self) -> None:
        spec = _spec_of(self)
        op = _check_op(spec, self.op)
        stored, comparable = literal(spec, self.value)
        object.__setattr__(self, "value", stored)
        object.__setattr__(self, "_spec", spec)
        object.__setattr__(self, "_get", spec.fast)
        object.__setattr__(self, "_cmp", comparable)
        object.__setattr__(self, "_fn", OPS[op])

    def _test(self, ctx: Context) -> bool:
        value = self._get(ctx)
        return value is not None and self._fn(value, self._cmp)

    def _mask(self, frame: Frame) -> Mask:
        return compare_column(frame, self._spec, self.op, self._cmp)

    def fields(self) -> frozenset[Field]:
        """The compared field.

        >>> [f.name for f in Compare("tier", "==", "gold").fields()]
        ['tier']
        """
        return frozenset({self._spec})

    def __reduce__(self) -> tuple[Any, ...]:
        return (Compare, (self.field, self.op, self.value, self.kind))


def _values(value: object) -> frozenset[Any]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidRule(
            f"values={value!r} must be a set of literals", field="values", value=value
        )
    result = frozenset(value)
    if not result:
        raise InvalidRule("values must hold at least one literal", field="values", value=value)
    return result


@attrs.frozen
class IsIn(Predicate):
    """The field's value is one of ``values``: ``field("channel").isin({"app", "web"})``.

    >>> IsIn("weekday", {5, 6}).test(event=None)
    False
    """

    field: str
    values: frozenset[Any] = attrs.field(converter=_values)
    kind: str | None = attrs.field(default=None, validator=_check_kind_given)
    _spec: Field = attrs.field(init=False, eq=False, repr=False, hash=False)
    _get: Callable[[Context], Any] = attrs.field(init=False, eq=False, repr=False, hash=False)
    _cmp: frozenset[Any] = attrs.field(init=False, eq=False, repr=False, hash=False)
    tag: ClassVar[str] = "isin"

    def __attrs_post_init__(self) -> None:
        spec = _spec_of(self)
        _check_op(spec, "==")
        pairs = [literal(spec, v, "values item") for v in self.values]
        object.__setattr__(self, "values", frozenset(p[0] for p in pairs))
        object.__setattr__(self, "_spec", spec)
        object.__setattr__(self, "_get", spec.fast)
        object.__setattr__(self, "_cmp", frozenset(p[1] for p in pairs))

    def _test(self, ctx: Context) -> bool:
        value = self._get(ctx)
        return value is not None and value in self._cmp

    def _mask(self, frame: Frame) -> Mask:
        return isin_column(frame, self._spec, self._cmp)

    def fields(self) -> frozenset[Field]:
        """The tested field.

        >>> [f.name for f in IsIn("channel", {"app"}).fields()]
        ['channel']
        """
        return frozenset({self._spec})

    def __reduce__(self) -> tuple[Any, ...]:
        return (IsIn, (self.field, self.values, self.kind))


@attrs.frozen
class Between(Predicate):
    """``low <= field <= high`` (both ends included).

    >>> from datetime import date, datetime, timezone
    >>> advent = Between("local_date", date(2024, 12, 1), date(2024, 12, 24))
    >>> advent.test(as_of=datetime(2024, 12, 24, 23, tzinfo=timezone.utc), tz="Europe/Berlin")
    False
    """

    field: str
    low: object
    high: object
    kind: str | None = attrs.field(default=None, validator=_check_kind_given)
    _spec: Field = attrs.field(init=False, eq=False, repr=False, hash=False)
    _lo: Any = attrs.field(init=False, eq=False, repr=False, hash=False)
    _hi: Any = attrs.field(init=False, eq=False, repr=False, hash=False)
    tag: ClassVar[str] = "between"

    def __attrs_post_init__(self) -> None:
        spec = _spec_of(self)
        _check_op(spec, "<=")
        low, lo = literal(spec, self.low, "low")
        high, hi = literal(spec, self.high, "high")
        if lo > hi:
            raise InvalidRule(
                f"low={low!r} must not be greater than high={high!r}", field="low", value=low
            )
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)
        object.__setattr__(self, "_spec", spec)
        object.__setattr__(self, "_lo", lo)
        object.__setattr__(self, "_hi", hi)

    def _test(self, ctx: Context) -> bool:
        value = self._spec.get(ctx)
        return value is not None and self._lo <= value <= self._hi

    def _mask(self, frame: Frame) -> Mask:
        low = compare_column(frame, self._spec, ">=", self._lo)
        return low & compare_column(frame, self._spec, "<=", self._hi)

    def fields(self) -> frozenset[Field]:
        """The tested field.

        >>> [f.name for f in Between("amount", 1, 2).fields()]
        ['amount']
        """
        return frozenset({self._spec})

    def __reduce__(self) -> tuple[Any, ...]:
        return (Between, (self.field, self.low, self.high, self.kind))


class FieldRef:
    """A field to compare: ``field("amount") >= 100`` builds a :class:`Compare`.

    >>> field("channel") == "app"
    Compare(field='channel', op='==', value='app', kind=None)
    >>> field("attributes.visits", kind="int").between(1, 3)
    Between(field='attributes.visits', low=1, high=3, kind='int')
    """

    __slots__ = ("kind", "name", "spec")
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, name: str, kind: str | None = None) -> None:
        try:
            self.spec = lookup(name, kind)
        except LoyaltyError as exc:
            raise InvalidRule(str(exc), field="field", value=name) from None
        self.name = name
        self.kind = kind

    def __repr__(self) -> str:
        return f"field({self.name!r})"

    def _compare(self, op: str, value: object) -> Compare:
        return Compare(self.name, op, value, self.kind)

    def __eq__(self, value: object) -> Compare:  # type: ignore[override]
        return self._compare("==", value)

    def __ne__(self, value: object) -> Compare:  # type: ignore[override]
        return self._compare("!=", value)

    def __lt__(self, value: object) -> Compare:
        return self._compare("<", value)

    def __le__(self, value: object) -> Compare:
        return self._compare("<=", value)

    def __gt__(self, value: object) -> Compare:
        return self._compare(">", value)

    def __ge__(self, value: object) -> Compare:
        return self._compare(">=", value)

    def isin(self, values: Iterable[object]) -> IsIn:
        """The field's value is one of ``values``.

        >>> field("weekday").isin({5, 6})
        IsIn(field='weekday', values=frozenset({5, 6}), kind=None)
        """
        return IsIn(self.name, frozenset(values), self.kind)

    def between(self, low: object, high: object) -> Between:
        """``low <= field <= high``.

        >>> field("frequency").between(2, 5).test(facts={"frequency": 5})
        True
        """
        return Between(self.name, low, high, self.kind)


def field(name: str, kind: str | None = None) -> FieldRef:
    """A field of the registry, to compare with ``== != < <= > >=``, ``isin``, ``between``.

    Args:
        name: a registered field (:data:`FIELDS`), or ``attributes.<key>``,
            ``member.attributes.<key>``, ``counters.<key>``.
        kind: the kind of an attribute field (default ``"str"``).

    Returns:
        A :class:`FieldRef`.

    Raises:
        InvalidRule: an unknown field or a kind that does not match.

    >>> (field("amount") > 20).test(facts=None)
    False
    """
    return FieldRef(name, kind)
