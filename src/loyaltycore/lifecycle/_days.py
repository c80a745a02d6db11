"""Reading lifecycle inputs: columns and facts turned into local day numbers.

The lifecycle engines work on whole local calendar days in the program zone.
This module reads the contract's fields (``first``, ``previous``, ``last`` as
int64 microseconds UTC with the missing sentinel, ``frequency``,
``median_gap`` ...) from a Summary, a mapping of columns or one member's Facts,
and converts instants to day numbers once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any, Final

import attrs
import numpy as np
import numpy.typing as npt

from loyaltycore._validate import type_name
from loyaltycore.calendar import EPOCH, local_date, local_days, to_micros, to_utc, zone
from loyaltycore.errors import InvalidArgument, InvalidColumn, InvalidTime, InvalidType

Int = npt.NDArray[np.int64]
Float = npt.NDArray[np.float64]

#: The missing instant (same bits as NaT).
MISSING: Final = int(np.iinfo(np.int64).min)


def read(data: object, name: str, *, required: bool = True) -> Any:
    """Field ``name`` of ``data``: a mapping key, an item (data frames) or an attribute.

    Items come before attributes so that a data frame's column wins over a
    method of the same name (``DataFrame.first``).
    """
    if isinstance(data, Mapping):
        if name in data:
            return data[name]
    else:
        try:
            return data[name]  # type: ignore[index]
        except (KeyError, IndexError, TypeError, ValueError):
            pass
        if hasattr(data, name):
            return getattr(data, name)
    if not required:
        return None
    raise InvalidColumn(f"{name}: field missing from the {type_name(data)} given", field=name)


def resolve_zone(data: object, tz: str | tzinfo | None) -> tzinfo:
    """The zone to count days in: ``tz``, else the data's own ``tz``, else UTC."""
    own = getattr(data, "tz", None) if not isinstance(data, Mapping) else None
    if tz is None:
        return zone(own) if own is not None else zone("UTC")
    chosen = zone(tz)
    if own is not None and zone(own) != chosen:
        raise InvalidArgument(
            f"tz={tz!r} differs from the zone {own!r} the data was summarised in",
            field="tz",
            value=tz,
        )
    return chosen


def resolve_as_of(data: object, as_of: object, tz: tzinfo | None = None) -> datetime:
    """``as_of`` in UTC (a date: local midnight in ``tz``); defaults to the data's own."""
    if as_of is None:
        own = None if isinstance(data, Mapping) else getattr(data, "as_of", None)
        if own is None:
            raise InvalidArgument(
                "as_of=None: pass as_of= (the data carries no as_of)", field="as_of", value=None
            )
        as_of = own
    return to_utc(as_of, "as_of", tz=tz)


def day_of(at: datetime, tz: tzinfo) -> int:
    """Local day number (days since 1970-01-01) of an instant."""
    return (local_date(at, tz=tz) - EPOCH.date()).days


# -- scalar ------------------------------------------------------------------


def instant(value: object, name: str) -> int | None:
    """One member's instant field as micros, or None when missing."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return to_micros(value)
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InvalidType(
            f"{name}={value!r} must be int64 micros UTC or an aware datetime, "
            f"not {type_name(value)}",
            field=name,
            value=value,
        )
    micros = int(value)
    return None if micros == MISSING else micros


def scalar_int(value: object, name: str) -> int:
    """One member's count field as an int (numpy ints accepted, bools refused)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InvalidType(
            f"{name}={value!r} must be an int, not {type_name(value)}", field=name, value=value
        )
    if int(value) < 0:
        raise InvalidArgument(f"{name}={value!r} must be >= 0", field=name, value=value)
    return int(value)


def scalar_float(value: object, name: str, *, nan_ok: bool = False) -> float:
    """One member's real field as a float (NaN only where allowed)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise InvalidType(
            f"{name}={value!r} must be a real number, not {type_name(value)}",
            field=name,
            value=value,
        )
    result = float(value)
    if math.isnan(result) and nan_ok:
        return result
    if not math.isfinite(result):
        raise InvalidArgument(f"{name}={value!r} must be finite", field=name, value=value)
    return result


@attrs.frozen
class DayFact:
    """One member's purchase days: first, previous and last (None if missing)."""

    first: int | None
    previous: int | None
    last: int | None


def fact_days(facts: object, as_of_day: int, tz: tzinfo) -> DayFact:
    """Local day numbers of one member's first, previous and last purchase."""
    values = {name: instant(read(facts, name), name) for name in ("first", "previous", "last")}
    days = {
        name: None if v is None else int(local_days(np.array([v], dtype=np.int64), tz=tz)[0])
        for name, v in values.items()
    }
    result = DayFact(days["first"], days["previous"], days["last"])
    check_order_scalar(result, as_of_day)
    return result


def check_order_scalar(days: DayFact, as_of_day: int) -> None:
    """Refuse histories out of order or purchases after ``as_of``."""
    if days.last is None:
        if days.first is not None or days.previous is not None:
            raise InvalidColumn("last is missing but first or previous is set", field="last")
        return
    if days.first is None:
        raise InvalidColumn("first is missing but last is set", field="first")
    if days.last > as_of_day:
        raise InvalidTime(
            f"last purchase day {days.last} is after as_of day {as_of_day}",
            field="as_of",
            value=as_of_day,
        )
    prev = days.last if days.previous is None else days.previous
    if not days.first <= prev <= days.last:
        raise InvalidColumn("first <= previous <= last does not hold", field="previous")


# -- columns -----------------------------------------------------------------


def int_column(data: object, name: str, size: int | None = None) -> Int:
    """An integer column as a 1-D int64 array of the expected size."""
    value = read(data, name)
    array = np.asarray(value)
    if array.ndim != 1:
        raise InvalidColumn(f"{name} must be one-dimensional, got shape {array.shape}", field=name)
    if array.dtype.kind not in "iu":
        raise InvalidColumn(
            f"{name} must be an integer column (int64), not {array.dtype}", field=name
        )
    if size is not None and array.shape[0] != size:
        raise InvalidColumn(
            f"{name} has {array.shape[0]} rows, expected {size}", field=name, value=array.shape[0]
        )
    return array.astype(np.int64, copy=False)


def float_column(data: object, name: str, size: int, *, required: bool = True) -> Float | None:
    """A real column as 1-D float64 of the expected size (None if absent)."""
    value = read(data, name, required=required)
    if value is None:
        return None
    array = np.asarray(value)
    if array.ndim != 1 or array.dtype.kind not in "iuf":
        raise InvalidColumn(
            f"{name} must be a one-dimensional real column, not {array.dtype}{array.shape}",
            field=name,
        )
    if array.shape[0] != size:
        raise InvalidColumn(
            f"{name} has {array.shape[0]} rows, expected {size}", field=name, value=array.shape[0]
        )
    return array.astype(np.float64, copy=False)


@attrs.frozen
class DayColumns:
    """Purchase days of every member (local day numbers).

    ``first`` and ``last`` are undefined on rows without a purchase
    (``bought`` False); ``gap`` is last - previous purchase day, 0 without a
    previous purchase.
    """

    bought: npt.NDArray[np.bool_]
    has_previous: npt.NDArray[np.bool_]
    first: Int
    last: Int
    gap: Int


def _days(micros: Int, present: npt.NDArray[np.bool_], everyone: bool, tz: tzinfo) -> Int:
    """Local days of ``micros``; values on rows not ``present`` are undefined."""
    if everyone:
        return local_days(micros, tz=tz)
    if not present.any():
        return np.zeros(micros.shape, dtype=np.int64)
    # Missing instants hold the int64 minimum: give them a present row's value.
    fill = micros[int(np.argmax(present))]
    return local_days(np.where(present, micros, fill), tz=tz)


def _first_row(mask: npt.NDArray[np.bool_]) -> int | None:
    if not mask.any():
        return None
    return int(np.argmax(mask))


def column_days(data: object, as_of: datetime, tz: tzinfo) -> DayColumns:
    """Local purchase days of ``first``, ``previous`` and ``last`` for every row.

    Pure numpy with as few passes and temporaries as possible: this is the
    hot path of :func:`loyaltycore.lifecycle.stages`.
    """
    last = int_column(data, "last")
    first = int_column(data, "first", last.shape[0])
    previous = int_column(data, "previous", last.shape[0])
    bought = last != MISSING
    has_previous = previous != MISSING
    everyone = bool(bought.all())
    has_first = first != MISSING
    row = _first_row(has_first != bought)
    if row is not None:
        raise InvalidColumn(
            f"first[{row}] must be set exactly when last is", field="first", row=row
        )
    if not everyone:
        has_previous &= bought
        row = _first_row(has_previous != (previous != MISSING))
        if row is not None:
            raise InvalidColumn(
                f"previous[{row}] is set but last is missing", field="previous", row=row
            )
    last_days = _days(last, bought, everyone, tz)
    first_days = _days(first, bought, everyone, tz)
    gap = last_days - _days(previous, has_previous, False, tz)
    gap *= has_previous
    _check_order(bought, first_days, gap, last_days)
    row = _first_row((last_days > day_of(as_of, tz)) & bought)
    if row is not None:
        raise InvalidTime(f"last[{row}] is after as_of={as_of.isoformat()}", field="last", row=row)
    return DayColumns(bought, has_previous, first_days, last_days, gap)


def engine_days(days: DayColumns, as_of_day: int) -> tuple[Int, Int, Int]:
    """``since_first``, ``since_last`` and ``gap``, computed in place.

    ``days`` must not be used afterwards: its arrays now hold these values.
    """
    since_last = np.subtract(as_of_day, days.last, out=days.last)
    since_first = np.subtract(as_of_day, days.first, out=days.first)
    return since_first, since_last, days.gap


def _check_order(bought: npt.NDArray[np.bool_], first: Int, gap: Int, last: Int) -> None:
    span = last - first
    bad = span < gap
    bad |= gap < 0
    bad &= bought
    row = _first_row(bad)
    if row is not None:
        raise InvalidColumn(
            f"row {row}: first <= previous <= last does not hold", field="previous", row=row
        )


# -- engine inputs -------------------------------------------------------------


def model_p_alive(model: object, frequency: Int, recency: Int, age: Int) -> Float:
    """``model.p_alive`` for histories given in days, converted to the model's unit."""
    method = getattr(model, "p_alive", None)
    if not callable(method):
        raise InvalidType(
            f"model={type_name(model)} has no p_alive method (pass a fitted BetaGeo)",
            field="model",
            value=type_name(model),
        )
    result = np.ones(frequency.shape, dtype=np.float64)
    observed = age > 0  # on the first purchase day a member is alive for sure
    if not observed.any():
        return result
    scale = 7.0 if getattr(model, "unit", "day") == "week" else 1.0
    result[observed] = method(
        frequency=frequency[observed].astype(np.float64),
        recency=recency[observed].astype(np.float64) / scale,
        T=age[observed].astype(np.float64) / scale,
    )
    return result


def _frequency(data: object, days: DayColumns) -> Int:
    frequency = int_column(data, "frequency", days.last.shape[0])
    row = _first_row(days.bought & ((frequency >= 1) != days.has_previous))
    if row is not None:
        raise InvalidColumn(
            f"frequency[{row}]={int(frequency[row])} disagrees with previous "
            "(set exactly when frequency >= 1)",
            field="frequency",
            row=row,
        )
    return frequency


def cycle_inputs(data: object, days: DayColumns) -> dict[str, Any]:
    """``frequency``, ``median_gap`` and the median gap before the last purchase."""
    n = days.last.shape[0]
    frequency = _frequency(data, days)
    median_gap = float_column(data, "median_gap", n)
    assert median_gap is not None
    row = _first_row(days.bought & (frequency >= 2) & ~(median_gap > 0))
    if row is not None:
        raise InvalidColumn(
            f"median_gap[{row}]={float(median_gap[row])} must be > 0 with frequency >= 2",
            field="median_gap",
            row=row,
        )
    before = float_column(data, "median_gap_before_last", n, required=False)
    if before is None:
        before = median_gap
    else:
        row = _first_row(days.bought & (frequency >= 3) & ~(before > 0))
        if row is not None:
            raise InvalidColumn(
                f"median_gap_before_last[{row}]={float(before[row])} must be > 0 "
                "with frequency >= 3",
                field="median_gap_before_last",
                row=row,
            )
    return {"frequency": frequency, "median_gap": median_gap, "median_before": before}


def _probability(data: object, name: str, mask: npt.NDArray[np.bool_], n: int) -> Float:
    values = float_column(data, name, n)
    assert values is not None
    row = _first_row(mask & ~((values >= 0) & (values <= 1)))
    if row is not None:
        raise InvalidColumn(
            f"{name}[{row}]={float(values[row])} must be a probability in [0, 1]",
            field=name,
            row=row,
        )
    return values


def alive_inputs(
    data: object, days: DayColumns, as_of_day: int, model: object | None
) -> dict[str, Any]:
    """``p_now`` and ``p_before`` from a fitted model or from columns."""
    n = days.last.shape[0]
    if model is None:
        return {
            "p_now": _probability(data, "p_alive", days.bought, n),
            "p_before": _probability(data, "p_alive_before_last", days.has_previous, n),
        }
    frequency = _frequency(data, days)
    p_now = np.ones(n, dtype=np.float64)
    b = days.bought
    p_now[b] = model_p_alive(
        model, frequency[b], days.last[b] - days.first[b], as_of_day - days.first[b]
    )
    p_before = np.ones(n, dtype=np.float64)
    h = days.has_previous
    span = days.last[h] - days.first[h]
    p_before[h] = model_p_alive(model, frequency[h] - 1, span - days.gap[h], span - 1)
    return {"p_now": p_now, "p_before": p_before}
