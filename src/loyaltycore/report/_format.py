"""How the report writes its figures: counts, shares, money, periods, instants, ids."""

from __future__ import annotations

import math
from datetime import date, datetime

from loyaltycore.calendar import zone

#: The name the text and the page give a period: "month" -> "monthly".
ADVERB = {"month": "monthly", "quarter": "quarterly"}


def visible(text: str) -> str:
    """``text`` with control and other unprintable characters as escapes.

    Customer ids and file names come from the user: a line break, a tab or a
    terminal escape sequence in one must not break a table or restyle the
    terminal.
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def count(value: int | float | None) -> str:
    """12,345 (or "-" when unknown)."""
    return "-" if value is None else f"{round(value):,}"


def percent(value: float | None) -> str:
    """A share as a percentage: 27%, 8.6%, 99.6%, <0.1%, 0% (or "-" when unknown)."""
    if value is None or not math.isfinite(value):
        return "-"
    share = 100.0 * value
    if 0 < share < 0.05:
        return "<0.1%"
    if 99.95 <= share < 100:
        return ">99.9%"
    if share == 0:
        return "0%"
    if abs(share) < 9.95 or 99.5 <= share < 100:
        return f"{share:.1f}%"
    return f"{share:.0f}%"


def money(value: float | str | None, currency: str | None) -> str:
    """USD 1,234.56: thousands separators, two decimals, the currency code first."""
    if value is None:
        return "-"
    amount = f"{float(value):,.2f}"
    return f"{currency} {amount}" if currency else amount


def decimal(value: float | None, digits: int = 2) -> str:
    """1,234.57 / 0.27 (or "-" when unknown)."""
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:,.{digits}f}"


def parameter(value: float | None) -> str:
    """A model parameter: 3 significant decimals, or scientific when very large or small."""
    if value is None or not math.isfinite(value):
        return "-"
    if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
        return f"{value:.3g}"
    return f"{value:,.3f}"


def period_label(start: str, period: str) -> str:
    """A period by its start date as a reader names it: 2024-03, 2024 Q1."""
    day = date.fromisoformat(start[:10])
    if period == "quarter":
        return f"{day.year} Q{(day.month - 1) // 3 + 1}"
    return f"{day:%Y-%m}"


def local_day(instant: str, tz: str) -> str:
    """The local date of an ISO instant in ``tz``: 2024-12-31."""
    return datetime.fromisoformat(instant).astimezone(zone(tz)).date().isoformat()


def when(instant: str, tz: str) -> str:
    """An instant on the program's clock, and in UTC when that differs.

    "2025-01-01 00:00 Europe/Berlin (2024-12-31 23:00 UTC)", or
    "1998-07-01 00:00 UTC".
    """
    at = datetime.fromisoformat(instant)
    local = at.astimezone(zone(tz))
    text = f"{local:%Y-%m-%d %H:%M} {tz}"
    if local.utcoffset():
        text += f" ({at.astimezone(zone('UTC')):%Y-%m-%d %H:%M} UTC)"
    return text


def words(name: str) -> str:
    """A snake_case name in words: ``potential_loyalist`` -> ``potential loyalist``."""
    return name.replace("_", " ")
