"""A member's qualifying activity, checked once and kept with running totals.

Layout (what the engine reads):

* ``entries``: one tuple per activity entry, ``(occurred micros, window
  micros, metric index, units, source id)``, sorted; a return's window
  instant is the one of the entry it reverses;
* ``wins``: every window instant, sorted;
* ``cum``: per metric present, the running total of units over ``wins``
  (``cum[m][k]`` is the sum of the first ``k``), so the units counted in a
  window ``[lo, hi)`` are two bisections and a subtraction;
* ``keys``: ``(source id, metric index) -> occurred micros``, what a new
  entry is checked against (no duplicates; a return names a known entry).

Adding entries copies these lists (C speed) and updates the running totals
from the first changed position on: activity posted in time order appends.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections import ChainMap
from collections.abc import Iterable, Iterator, MutableMapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Context, Decimal, Inexact, InvalidOperation, Overflow, Rounded, Underflow
from itertools import accumulate, repeat
from operator import attrgetter, eq, floordiv, itemgetter, mul, sub
from typing import Any

from loyaltycore._validate import type_name
from loyaltycore.calendar import EPOCH, micros
from loyaltycore.errors import DuplicateId, InvalidData, InvalidType, UnknownEvent
from loyaltycore.tiers._model import METRIC_INDEX, METRIC_NAMES, Activity
from loyaltycore.tiers._plan import to_units

#: One entry: (occurred micros, window micros, metric index, units, source id).
Entry = tuple[int, int, int, int, str]
#: One entry as plain data: [metric, amount, occurred_at, source_id, reverses].
Row = list[str | None]
occurred_of = itemgetter(0)
_BY_WIN = itemgetter(1, 2, 3)
_WIN = itemgetter(1)
_ROW = "must be [metric, amount, occurred_at, source_id, reverses]"


def row_of(item: Activity) -> Row:
    """An entry as a plain row (amount as Decimal text, instant as ISO-8601 UTC)."""
    return [
        item.metric,
        str(item.amount),
        item.occurred_at.isoformat(),
        item.source_id,
        item.reverses,
    ]


def activity_of(row: Row) -> Activity:
    """The entry of a row :func:`entries_of_rows` checked."""
    metric, amount, occurred, source, reverses = row
    return Activity(
        str(metric),
        Decimal(str(amount)),
        datetime.fromisoformat(str(occurred)),
        str(source),
        reverses,
    )


def entries_of_rows(
    rows: object, pow10: tuple[int, ...], keys: dict[tuple[str, int], int], path: str
) -> tuple[list[Row], list[Entry]]:
    """Check plain rows as :class:`Activity` checks its fields; their entries, unsorted.

    Rows as :meth:`ActivityIndex.rows` writes them (plain decimal amounts,
    instants in UTC) are read in one pass, each distinct amount text parsed
    once; anything else is read by :func:`checked_entries_of_rows`, which
    gives the same entries and names every bad row.

    Raises:
        InvalidData: naming the path of every bad row.
    """
    entries = _plain_entries(rows, pow10, keys)
    if entries is None:
        return checked_entries_of_rows(rows, pow10, keys, path)
    return rows, entries  # type: ignore[return-value]


def _plain_entries(
    rows: object, pow10: tuple[int, ...], keys: dict[tuple[str, int], int]
) -> list[Entry] | None:
    """The entries of rows as :func:`row_of` writes them, column by column (None: other rows)."""
    if type(rows) is not list or not rows:
        return None
    if set(map(type, rows)) != {list} or set(map(len, rows)) != {5}:
        return None
    metrics, amounts, occurred, sources, reverses = zip(*rows, strict=True)
    if set(map(type, metrics)) != {str}:
        return None
    distinct = set(metrics)
    if not distinct <= _METRIC_NAMES:
        return None
    ms = list(map(METRIC_INDEX.__getitem__, metrics))
    # amounts: each distinct (text, metric) parsed once
    if set(map(type, amounts)) != {str}:
        return None
    if len(distinct) == 1:
        texts = list(set(amounts))
        scales: Iterable[Decimal] = repeat(Decimal(pow10[ms[0]]))
        units = _plain_units(texts, scales, amounts)
    else:
        pairs = list(zip(amounts, ms, strict=True))
        distinct_pairs = list(set(pairs))
        texts = [text for text, _ in distinct_pairs]
        scales = [Decimal(pow10[m]) for _, m in distinct_pairs]
        units = _plain_units(texts, scales, pairs, distinct_pairs)
    if units is None:
        return None
    # instants: parsed in C; any in UTC (+00:00, Z) is read as micros here, others below
    if set(map(type, occurred)) != {str}:
        return None
    stamps = list(set(occurred))  # (the rows of one order share their instant)
    try:
        instants = list(map(_FROMISO, stamps))
    except ValueError:
        return None
    if set(map(_TZINFO, instants)) != {UTC}:
        return None
    micros_of = dict(
        zip(
            stamps,
            map(_MICROS, map(sub, instants, repeat(EPOCH)), repeat(_ONE_MICRO)),
            strict=True,
        )
    )
    us = list(map(micros_of.__getitem__, occurred))
    if set(map(type, sources)) != {str} or not all(map(str.strip, sources)):
        return None
    seen = dict(zip(zip(sources, ms, strict=True), us, strict=True))
    if len(seen) != len(rows) or (keys and not seen.keys().isdisjoint(keys)):
        return None
    wins = us
    if set(map(type, reverses)) != {type(None)}:
        wins = list(us)
        for k, reversed_id in enumerate(reverses):
            if reversed_id is None:
                continue
            if type(reversed_id) is not str or not reversed_id or units[k] > 0:
                return None
            original = seen.get((reversed_id, ms[k]))
            if original is None:
                original = keys.get((reversed_id, ms[k]))
                if original is None:
                    return None
            wins[k] = original
    keys.update(seen)
    return list(zip(us, wins, ms, units, sources, strict=True))


_TZINFO = attrgetter("tzinfo")
_MICROS = floordiv
_ONE_MICRO = timedelta(microseconds=1)
_METRIC_NAMES = frozenset(METRIC_INDEX)
#: Exact products of amounts and scales (anything inexact or invalid raises).
_EXACT = Context(prec=100, traps=[InvalidOperation, Inexact, Rounded, Overflow, Underflow])
_FROMISO = datetime.fromisoformat


def _plain_units(
    texts: list[str],
    scales: Iterable[Decimal],
    column: Sequence[object],
    keys: Sequence[object] | None = None,
) -> list[int] | None:
    """The units of ``column`` from its distinct amount ``texts``, each read once.

    ``keys`` (default ``texts``) are what ``column`` holds, one per text.
    None: a text is not plain decimal text of an exact, non-zero amount.
    """
    try:
        decimals = list(map(_EXACT.create_decimal, texts))
        if any(d.is_finite() and d and abs(d.adjusted()) > 100 for d in decimals):
            return None  # (no amount: the row-by-row check names it)
        scaled = list(map(_EXACT.multiply, decimals, scales))
        ints = list(map(int, scaled))
    except (ArithmeticError, ValueError):  # (not a number, not exact in 100 digits, infinite)
        return None
    if ints != scaled or not all(ints):
        return None
    parsed = dict(zip(texts if keys is None else keys, ints, strict=True))
    return list(map(parsed.__getitem__, column))


def checked_entries_of_rows(
    rows: object, pow10: tuple[int, ...], keys: dict[tuple[str, int], int], path: str
) -> tuple[list[Row], list[Entry]]:
    """:func:`entries_of_rows` for any rows, one field at a time (names every bad row).

    Raises:
        InvalidData: naming the path of every bad row.
    """
    if type(rows) is not list:
        raise InvalidData.from_messages([f"must be a list of rows @ {path}"], what="activity")
    errors: list[str] = []
    entries: list[Entry] = []
    reversals = []
    for i, row in enumerate(rows):
        where = f"{path}[{i}]"
        if type(row) is not list or len(row) != 5:
            errors.append(f"{_ROW} @ {where}")
            continue
        metric, amount, occurred, source, reverses = row
        m = METRIC_INDEX.get(metric) if type(metric) is str else None
        units = _units(amount, pow10[m]) if m is not None else None
        us = _instant(occurred)
        bad = [
            name
            for name, ok in (
                ("metric", m is not None),
                ("amount", units is not None and (reverses is None or units < 0)),
                ("occurred_at", us is not None),
                ("source_id", type(source) is str and source and not source.isspace()),
                ("reverses", reverses is None or (type(reverses) is str and reverses)),
            )
            if not ok
        ]
        if not bad and (source, m) in keys:
            bad = ["source_id"]
        if bad:
            errors.extend(f"{name}={row[_FIELDS[name]]!r} is not valid @ {where}" for name in bad)
            continue
        assert m is not None
        assert units is not None
        assert us is not None
        keys[(source, m)] = us
        if reverses is not None:
            reversals.append((len(entries), reverses, m, where))
        entries.append((us, us, m, units, source))
    for position, reverses, m, where in reversals:
        original = keys.get((reverses, m))
        if original is None:
            errors.append(f"reverses={reverses!r} names no entry @ {where}")
            continue
        occ, _, m, units, source = entries[position]
        entries[position] = (occ, original, m, units, source)
    if errors:
        raise InvalidData.from_messages(errors, what="activity")
    return rows, entries


_FIELDS = {"metric": 0, "amount": 1, "occurred_at": 2, "source_id": 3, "reverses": 4}


def _units(amount: object, scale: int) -> int | None:
    """Integer units of a Decimal text amount (None: not an exact, non-zero amount)."""
    if type(amount) is not str:
        return None
    try:
        value = Decimal(amount)
    except ArithmeticError:
        return None
    if not value.is_finite() or not value or abs(value.adjusted()) > 100:
        return None  # (beyond 10**±100 it is no amount, and its ratio would take ages)
    num, den = value.as_integer_ratio()
    num *= scale
    return None if num % den else num // den


def _instant(text: object) -> int | None:
    """Micros of an aware ISO-8601 instant (None: not one)."""
    if type(text) is not str:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        return None
    if at.tzinfo is None or at.utcoffset() is None:
        return None
    return micros(at.astimezone(UTC))


def entries_of(
    items: Iterable[Activity],
    pow10: tuple[int, ...],
    exponents: tuple[int, ...],
    keys: MutableMapping[tuple[str, int], int],
) -> list[Entry]:
    """Check ``items`` against ``keys`` (updated in place) and return their entries, unsorted."""
    entries: list[Entry] = []
    reversals = []
    for item in items:
        if type(item) is not Activity:
            raise InvalidType(
                f"activity item {item!r} must be an Activity, not {type_name(item)}",
                field="activity",
                value=item,
            )
        m, us = item._m, item._us
        key = (item.source_id, m)
        if key in keys:
            raise DuplicateId(
                f"source_id={item.source_id!r} has two {item.metric} entries",
                field="source_id",
                value=item.source_id,
            )
        keys[key] = us
        units = item._num * pow10[m]
        if item._den != 1:
            if units % item._den:
                to_units(item.amount, item.metric, exponents, "amount")
            units //= item._den
        if item.reverses is not None:
            reversals.append((len(entries), item))
        entries.append((us, us, m, units, item.source_id))
    for position, item in reversals:
        original = keys.get((item.reverses, item._m))  # type: ignore[arg-type]
        if original is None:
            raise UnknownEvent(
                f"reverses={item.reverses!r} names no {item.metric} entry in the activity",
                field="reverses",
                value=item.reverses,
            )
        occ, _, m, units, source = entries[position]
        entries[position] = (occ, original, m, units, source)
    return entries


class ActivityIndex:
    """A member's qualifying activity for one tier program, checked once, with running totals.

    Pass it wherever a :class:`TierProgram` method takes ``activity``: the
    answer is the same as with the entries themselves, but the entries are
    not checked and sorted again, and a window's totals are read from
    running totals instead of a scan of the history. :meth:`add` returns a
    new index with more entries (the index itself never changes), so a
    member's tier check costs the same after ten years as after ten days.
    Make one with :meth:`TierProgram.index`.

    >>> from datetime import datetime, timezone
    >>> from loyaltycore.tiers import Tier, TierProgram, at_least
    >>> program = TierProgram([Tier("Blue", 0), Tier("Gold", 1, at_least("spend", 100))])
    >>> at = datetime(2025, 3, 1, tzinfo=timezone.utc)
    >>> index = program.index([Activity("spend", 60, at, "o-1")])
    >>> index = index.add([Activity("spend", 50, at, "o-2")])
    >>> len(index), program.evaluate(program.join(at), index, as_of=at).tier
    (2, 'Gold')
    """

    __slots__ = (
        "_activity",
        "_base",
        "_cum",
        "_entries",
        "_exponents",
        "_n",
        "_pow10",
        "_recent",
        "_src",
        "_wins",
    )

    # Versions made by ``add`` share their lists: each sees the first ``_n``
    # items (``_cum`` columns: ``_n + 1``; the map of columns is shared too,
    # until an add brings a metric it has no column for). An add that only appends, to
    # the newest version, appends in place (then checks the slot is its
    # own); any other add copies. ``_base`` is never changed once made;
    # ``_recent`` holds the keys added since, and is folded in now and then.

    #: the entries as given: Activity values, or plain rows read back
    _src: list[Activity | Row]
    _n: int
    #: ``_src`` as Activity values (made on first need)
    _activity: tuple[Activity, ...] | None
    _entries: list[Entry]
    _wins: list[int]
    _cum: dict[int, list[int]]
    _base: dict[tuple[str, int], int]
    _recent: dict[tuple[str, int], int]
    _pow10: tuple[int, ...]
    _exponents: tuple[int, ...]

    def __init__(self) -> None:
        raise TypeError("make an ActivityIndex with TierProgram.index")

    @classmethod
    def _build(
        cls, activity: Iterable[Activity], pow10: tuple[int, ...], exponents: tuple[int, ...]
    ) -> ActivityIndex:
        items = tuple(activity)
        keys: dict[tuple[str, int], int] = {}
        entries = entries_of(items, pow10, exponents, keys)
        return cls._indexed(list(items), items, entries, keys, pow10, exponents)

    @classmethod
    def _from_rows(
        cls, rows: object, pow10: tuple[int, ...], exponents: tuple[int, ...], path: str
    ) -> ActivityIndex:
        keys: dict[tuple[str, int], int] = {}
        checked, entries = entries_of_rows(rows, pow10, keys, path)
        return cls._indexed(list(checked), None, entries, keys, pow10, exponents)

    @classmethod
    def _indexed(
        cls,
        src: list[Activity | Row],
        items: tuple[Activity, ...] | None,
        entries: list[Entry],
        keys: dict[tuple[str, int], int],
        pow10: tuple[int, ...],
        exponents: tuple[int, ...],
    ) -> ActivityIndex:
        """The index of ``entries`` (unsorted): sorted, with their running totals."""
        entries.sort()
        by_win = list(map(_BY_WIN, entries))
        if not all(map(eq, map(occurred_of, entries), map(_WIN, entries))):
            by_win.sort()  # (else the window instants are the sorted occurred instants)
        cum: dict[int, list[int]] = {}
        wins: list[int] = []
        if by_win:
            instants, ms, units = zip(*by_win, strict=True)
            wins = list(instants)
            present = set(ms)
            for m in present:
                counted = units if len(present) == 1 else map(mul, units, map(m.__eq__, ms))
                cum[m] = [0, *accumulate(counted)]
        return cls._of(src, len(src), items, entries, wins, cum, keys, {}, pow10, exponents)

    @classmethod
    def _of(
        cls,
        src: list[Activity | Row],
        n: int,
        items: tuple[Activity, ...] | None,
        entries: list[Entry],
        wins: list[int],
        cum: dict[int, list[int]],
        base: dict[tuple[str, int], int],
        recent: dict[tuple[str, int], int],
        pow10: tuple[int, ...],
        exponents: tuple[int, ...],
    ) -> ActivityIndex:
        self = object.__new__(cls)
        set_ = object.__setattr__
        set_(self, "_src", src)
        set_(self, "_n", n)
        set_(self, "_activity", items)
        set_(self, "_entries", entries)
        set_(self, "_wins", wins)
        set_(self, "_cum", cum)
        set_(self, "_base", base)
        set_(self, "_recent", recent)
        set_(self, "_pow10", pow10)
        set_(self, "_exponents", exponents)
        return self

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"ActivityIndex is immutable; {name} cannot be set")

    def add(self, activity: Iterable[Activity]) -> ActivityIndex:
        """A new index with ``activity`` added (checked as :meth:`TierProgram.evaluate` does).

        Raises:
            DuplicateId: an entry's ``(source_id, metric)`` is already indexed.
            UnknownEvent: a return reverses an entry that is not indexed.
            InvalidType: an item is not an :class:`Activity`.

        >>> from datetime import datetime, timezone
        >>> from loyaltycore.tiers import Tier, TierProgram, at_least
        >>> program = TierProgram([Tier("Blue", 0), Tier("Gold", 1, at_least("nights", 5))])
        >>> at = datetime(2025, 3, 1, tzinfo=timezone.utc)
        >>> index = program.index([Activity("nights", 3, at, "stay-1")])
        >>> index.add([Activity("nights", -1, at, "ret-1", reverses="stay-1")]).activity[-1].amount
        Decimal('-1')
        """
        items = tuple(activity)
        if not items:
            return self
        n = self._n
        recent = dict(self._recent)
        new = entries_of(items, self._pow10, self._exponents, ChainMap(recent, self._base))
        base = self._base
        if len(recent) > 64:  # (fold the recent keys in: a copy every 64 entries or so)
            base = {**base, **recent}
            recent = {}
        new.sort()
        src = _extended(self._src, n, items)
        entries, wins, cum = self._entries, self._wins, self._cum
        by_win = sorted((win, m, units) for _, win, m, units, _ in new)
        appends = (
            len(entries) == n
            and len(wins) == n
            and (n == 0 or (new[0] >= entries[-1] and by_win[0][0] >= wins[-1]))
            and all(len(column) == n + 1 for column in cum.values())
        )
        if appends:
            entries.extend(new)
            if entries[n] is not new[0]:  # (another version appended first)
                appends = False
        if appends:
            wins.extend(win for win, _, _ in by_win)
            fresh = {m for _, m, _ in by_win} - cum.keys()
            if fresh:  # (a metric not seen yet: this version gets its own map of columns)
                cum = dict(cum)
                for m in fresh:
                    cum[m] = [0] * (n + 1)
            for _, m, units in by_win:
                for other, column in cum.items():
                    column.append(column[-1] + (units if other == m else 0))
        else:
            entries, wins, cum = _inserted(
                self._entries[:n], self._wins[:n], self._cum, n, new, by_win
            )
        return ActivityIndex._of(
            src,
            n + len(items),
            None,
            entries,
            wins,
            cum,
            base,
            recent,
            self._pow10,
            self._exponents,
        )

    @property
    def activity(self) -> tuple[Activity, ...]:
        """The entries, in the order they were given.

        >>> from datetime import datetime, timezone
        >>> from loyaltycore.tiers import Tier, TierProgram, at_least
        >>> program = TierProgram([Tier("Blue", 0), Tier("Gold", 1, at_least("nights", 5))])
        >>> at = datetime(2025, 3, 1, tzinfo=timezone.utc)
        >>> [a.source_id for a in program.index([Activity("nights", 1, at, "s-1")]).activity]
        ['s-1']
        """
        items = self._activity
        if items is None:
            items = tuple(
                activity_of(x) if type(x) is list else x  # type: ignore[misc]
                for x in self._src[: self._n]
            )
            object.__setattr__(self, "_activity", items)
        return items

    def rows(self) -> list[Row]:
        """The entries as plain rows ``[metric, amount, occurred_at, source_id, reverses]``.

        Amounts are Decimal text, instants ISO-8601 in UTC; a program's
        :meth:`TierProgram.index_from_rows` reads them back.

        >>> from datetime import datetime, timezone
        >>> from loyaltycore.tiers import Tier, TierProgram, at_least
        >>> program = TierProgram([Tier("Blue", 0), Tier("Gold", 1, at_least("nights", 5))])
        >>> at = datetime(2025, 3, 1, tzinfo=timezone.utc)
        >>> program.index([Activity("nights", 2, at, "s-1")]).rows()
        [['nights', '2', '2025-03-01T00:00:00+00:00', 's-1', None]]
        """
        return [
            list(x) if type(x) is list else row_of(x)  # type: ignore[arg-type]
            for x in self._src[: self._n]
        ]

    def __len__(self) -> int:
        return self._n

    def __iter__(self) -> Iterator[Activity]:
        return iter(self.activity)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ActivityIndex):
            return NotImplemented
        return self._exponents == other._exponents and self.activity == other.activity

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ActivityIndex(entries={self._n})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuilt, (self.activity, self._pow10, self._exponents))

    # -- what the engine reads ------------------------------------------------------

    def entries(self) -> list[Entry]:
        """The entries in time order (the shared list when it holds exactly these; read only)."""
        entries = self._entries
        return entries if len(entries) == self._n else entries[: self._n]

    def totals(self, lo: int, hi: int) -> list[int]:
        """Units per metric index of every entry with its window instant in ``[lo, hi)``."""
        wins, n = self._wins, self._n
        a = bisect_left(wins, lo, 0, n)
        b = bisect_left(wins, hi, 0, n)
        result = [0] * len(METRIC_NAMES)
        for m, column in self._cum.items():
            result[m] = column[b] - column[a]
        return result

    def first(self) -> Activity | None:
        """The entry that occurred first (None: no entries)."""
        if not self._n:
            return None
        first = self._entries[0][0]
        return next(a for a in self.activity if a._us == first)


def _extended(
    src: list[Activity | Row], n: int, items: tuple[Activity, ...]
) -> list[Activity | Row]:
    """``src[:n] + items``, in place when ``src`` holds exactly ``n`` (and the slot stays ours)."""
    if len(src) == n:
        src.extend(items)
        if src[n] is items[0]:
            return src
    return [*src[:n], *items]


def _inserted(
    entries: list[Entry],
    wins: list[int],
    cum: dict[int, list[int]],
    n: int,
    new: list[Entry],
    by_win: list[tuple[int, int, int]],
) -> tuple[list[Entry], list[int], dict[int, list[int]]]:
    """Own copies with ``new`` inserted in order and the running totals updated after each."""
    columns = {m: column[: n + 1] for m, column in cum.items()}
    for entry in new:
        insort(entries, entry)
    size = n
    for win, m, units in by_win:
        at = bisect_right(wins, win)
        wins.insert(at, win)
        if m not in columns:
            columns[m] = [0] * (size + 1)
        for other, column in columns.items():
            column.insert(at + 1, column[at])
            if other == m:
                for k in range(at + 1, len(column)):
                    column[k] += units
        size += 1
    return entries, wins, columns


def _rebuilt(
    activity: tuple[Activity, ...], pow10: tuple[int, ...], exponents: tuple[int, ...]
) -> ActivityIndex:
    return ActivityIndex._build(activity, pow10, exponents)
