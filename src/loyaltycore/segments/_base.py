"""Results of segmenting a population: one label each, or every match.

Private module; the public names are re-exported by :mod:`loyaltycore.segments`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

import attrs
import numpy as np
import numpy.typing as npt

from loyaltycore._frames import Col, Frames
from loyaltycore._validate import check_id, freeze, type_name
from loyaltycore.errors import DuplicateId, InvalidColumn, InvalidType, NotFound

T = TypeVar("T")


def names_converter(value: object) -> tuple[str, ...]:
    """Segment names as a tuple of unique non-empty str."""
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidType(
            f"names={value!r} must be a sequence of str, not {type_name(value)}",
            field="names",
            value=value,
        )
    names = tuple(check_id(name, "name") for name in value)
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise DuplicateId(f"name={name!r} appears twice", field="name", value=name)
        seen.add(name)
    return names


def rebuild(cls: type[T], values: tuple[Any, ...]) -> T:
    """Unpickle a value through its constructor, so its arrays are frozen again."""
    return cls(*values)


def reduce_value(value: Any) -> tuple[Any, ...]:
    """``__reduce__`` for frozen values holding arrays (see :func:`rebuild`)."""
    fields = attrs.fields(type(value))
    return (rebuild, (type(value), tuple(getattr(value, f.name) for f in fields)))


def int_column(value: object, name: str, dtype: type[np.signedinteger[Any]]) -> npt.NDArray[Any]:
    """A frozen 1-D copy of an int array as ``dtype``; anything else names ``name``."""
    array = np.asarray(value)
    if array.dtype.kind not in "iu" or array.ndim != 1:
        raise InvalidColumn(
            f"{name} must be a 1-D int array, not {array.ndim}-D of dtype {array.dtype}",
            field=name,
            value=str(array.dtype),
        )
    frozen: npt.NDArray[Any] = freeze(array.astype(dtype))
    return frozen


def _codes_converter(value: object) -> npt.NDArray[np.int16]:
    return int_column(value, "codes", np.int16)


def _index(names: tuple[str, ...], name: str) -> int:
    try:
        return names.index(name)
    except ValueError:
        raise NotFound(
            f"name={name!r} is not a segment here (segments: {list(names)})",
            field="name",
            value=name,
        ) from None


@attrs.frozen
class Assignment(Frames):
    """One segment per customer: ``codes[i]`` indexes ``names``, -1 is no segment.

    >>> a = Assignment(codes=[0, 1, 1, -1], names=("gold", "silver"))
    >>> a.labels().tolist()
    ['gold', 'silver', 'silver', None]
    >>> a.counts()
    {'gold': 1, 'silver': 2}
    >>> a.mask("silver").tolist()
    [False, True, True, False]
    """

    codes: npt.NDArray[np.int16] = attrs.field(
        converter=_codes_converter, eq=attrs.cmp_using(eq=np.array_equal)
    )
    names: tuple[str, ...] = attrs.field(converter=names_converter)

    def __attrs_post_init__(self) -> None:
        if self.codes.size and (self.codes.min() < -1 or self.codes.max() >= len(self.names)):
            bad = int(self.codes.min() if self.codes.min() < -1 else self.codes.max())
            raise InvalidColumn(
                f"codes must lie in -1..{len(self.names) - 1}, not {bad}", field="codes", value=bad
            )

    @classmethod
    def _trusted(cls, codes: npt.NDArray[np.int16], names: tuple[str, ...]) -> Assignment:
        """Wrap freshly computed codes without copying them again."""
        codes.flags.writeable = False
        result = object.__new__(cls)
        object.__setattr__(result, "codes", codes)
        object.__setattr__(result, "names", names)
        return result

    __reduce__ = reduce_value

    def __len__(self) -> int:
        return int(self.codes.size)

    def _columns_for_frames(self) -> tuple[Col, ...]:
        return (Col("segment", "category", self.codes, labels=self.names),)

    def labels(self) -> npt.NDArray[np.object_]:
        """The segment name of each customer (``None`` where there is none).

        >>> Assignment(codes=[1, 0], names=("a", "b")).labels().tolist()
        ['b', 'a']
        """
        table = np.array([*self.names, None], dtype=object)
        labels: npt.NDArray[np.object_] = table[self.codes]
        return labels

    def counts(self) -> dict[str, int]:
        """The number of customers in each segment, in segment order.

        >>> Assignment(codes=[1, 1], names=("a", "b")).counts()
        {'a': 0, 'b': 2}
        """
        counts = np.bincount(self.codes[self.codes >= 0], minlength=len(self.names))
        return {name: int(n) for name, n in zip(self.names, counts, strict=True)}

    def mask(self, name: str) -> npt.NDArray[np.bool_]:
        """Which customers are in segment ``name``.

        >>> Assignment(codes=[1, 0], names=("a", "b")).mask("a").tolist()
        [False, True]
        """
        mask: npt.NDArray[np.bool_] = self.codes == _index(self.names, name)
        return mask


def _matrix_converter(value: object) -> npt.NDArray[np.bool_]:
    array = np.asarray(value)
    if array.dtype != np.bool_ or array.ndim != 2:
        raise InvalidColumn(
            f"matches must be a 2-D bool array, not {array.ndim}-D of dtype {array.dtype}",
            field="matches",
            value=str(array.dtype),
        )
    frozen: npt.NDArray[np.bool_] = freeze(array)
    return frozen


@attrs.frozen
class Membership(Frames):
    """Every segment each customer matches: ``matches[i, j]`` for segment ``names[j]``.

    >>> m = Membership(matches=[[True, True], [False, False]], names=("loyal", "diverse"))
    >>> m.of(0), m.of(1)
    (('loyal', 'diverse'), ())
    >>> m.counts()
    {'loyal': 1, 'diverse': 1}
    """

    matches: npt.NDArray[np.bool_] = attrs.field(
        converter=_matrix_converter, eq=attrs.cmp_using(eq=np.array_equal)
    )
    names: tuple[str, ...] = attrs.field(converter=names_converter)

    def __attrs_post_init__(self) -> None:
        if self.matches.shape[1] != len(self.names):
            raise InvalidColumn(
                f"matches has {self.matches.shape[1]} columns for {len(self.names)} names",
                field="matches",
                value=self.matches.shape[1],
            )

    @classmethod
    def _trusted(cls, matches: npt.NDArray[np.bool_], names: tuple[str, ...]) -> Membership:
        matches.flags.writeable = False
        result = object.__new__(cls)
        object.__setattr__(result, "matches", matches)
        object.__setattr__(result, "names", names)
        return result

    __reduce__ = reduce_value

    def __len__(self) -> int:
        return int(self.matches.shape[0])

    def _columns_for_frames(self) -> tuple[Col, ...]:
        return tuple(Col(name, "bool", self.matches[:, j]) for j, name in enumerate(self.names))

    def of(self, row: int) -> tuple[str, ...]:
        """The names of the segments customer ``row`` belongs to.

        >>> Membership(matches=[[False, True]], names=("a", "b")).of(0)
        ('b',)
        """
        flags = self.matches[row]
        return tuple(name for name, hit in zip(self.names, flags, strict=True) if hit)

    def counts(self) -> dict[str, int]:
        """The number of customers in each segment, in segment order.

        >>> Membership(matches=[[True, True], [False, True]], names=("a", "b")).counts()
        {'a': 1, 'b': 2}
        """
        totals = self.matches.sum(axis=0)
        return {name: int(n) for name, n in zip(self.names, totals, strict=True)}

    def mask(self, name: str) -> npt.NDArray[np.bool_]:
        """Which customers are in segment ``name``.

        >>> Membership(matches=[[True, False]], names=("a", "b")).mask("b").tolist()
        [False]
        """
        column: npt.NDArray[np.bool_] = self.matches[:, _index(self.names, name)].copy()
        return column

    def first(self) -> Assignment:
        """The first matching segment of each customer, as an :class:`Assignment`.

        >>> Membership(matches=[[False, True], [True, True]], names=("a", "b")).first().codes
        array([1, 0], dtype=int16)
        """
        if not self.names:
            return Assignment._trusted(np.full(len(self), -1, dtype=np.int16), self.names)
        any_hit = self.matches.any(axis=1)
        codes = np.where(any_hit, self.matches.argmax(axis=1), -1).astype(np.int16)
        return Assignment._trusted(codes, self.names)
