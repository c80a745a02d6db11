"""The one condition language shared by earning rules and segments.

A predicate is a small tree of typed nodes (never ``eval``): field
comparisons, ``isin`` and ``between``; basket, calendar and member
conditions; and the combinators ``&``, ``|``, ``~``.

>>> from datetime import datetime, timezone
>>> double_app = (field("amount") >= 50) & (field("channel") == "app")
>>> at = datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
>>> e = Event("o-1", "purchase", at, "50.00", channel="app")
>>> double_app.test(event=e)
True

Evaluation API
--------------

**Scalar** — ``predicate.test(context)`` or ``predicate.test(event=..., member=...,
facts=..., as_of=..., tz=..., tiers=..., exponent=...)``. A :class:`Context`
holds one case: the :class:`Event` (None for segments), the :class:`Member`,
the member's facts (one row of the transaction summary: an object with the
Summary field names as attributes, or a mapping), ``as_of`` (aware), the
program's IANA zone ``tz``, the tier order ``tiers`` (lowest first) and the
currency ``exponent`` (default 2). Calendar conditions look at the event's
``at``, or at ``as_of`` when there is no event.

**Vectorized** — ``predicate.mask(columns, tz=..., as_of=..., tiers=...,
exponent=...)`` returns a bool array. ``columns`` maps field names to numpy
arrays, one row per case (a summary's ``columns()``, or :func:`encode` of
events and members). Dtypes and missing values per kind of field:

========  ==================================  =============================
kind      column                              missing value
========  ==================================  =============================
money     int64 minor units (10**exponent)    ``numpy.iinfo(int64).min``
instant   int64 microseconds UTC              ``numpy.iinfo(int64).min`` (NaT bits)
date      int64 days since 1970-01-01         ``numpy.iinfo(int64).min``
int       int64                               ``numpy.iinfo(int64).min``
float     float64                             NaN
str       object array of str                 ``None``
bool      int8 0/1 (or a bool array)          -1
set       object array of frozensets          ``None``
========  ==================================  =============================

Derived fields (``local_date``, ``weekday``, ``day``, ``month``, ``year``,
``hour``, ``days_since_joined``) are never stored: both engines compute them
from ``at`` (or ``as_of``) in the program zone. Basket conditions read the
item columns ``items.*`` made by :func:`encode`. A comparison with a missing
value is False in both engines.
"""

from __future__ import annotations

from loyaltycore._public import publish
from loyaltycore.calendar import MISSING_INT
from loyaltycore.predicates._core import (
    Always,
    And,
    Between,
    Compare,
    FieldRef,
    IsIn,
    Not,
    Or,
    Predicate,
    field,
)
from loyaltycore.predicates._data import from_plain, register, to_plain, walk
from loyaltycore.predicates._encode import encode, minor_units
from loyaltycore.predicates._fields import (
    FIELDS,
    Context,
    Event,
    Field,
    Frame,
    FrozenMap,
    Item,
    Member,
    lookup,
)
from loyaltycore.predicates._nodes import (
    BirthdayMonth,
    BirthdayWindow,
    Contains,
    FirstPurchase,
    InSegment,
    Quantity,
    Recurs,
    Spend,
    TierAtLeast,
    during,
    on_weekdays,
)

__all__ = [
    "Always",
    "And",
    "Between",
    "BirthdayMonth",
    "BirthdayWindow",
    "Compare",
    "Contains",
    "Context",
    "Event",
    "FIELDS",
    "Field",
    "FieldRef",
    "FirstPurchase",
    "Frame",
    "FrozenMap",
    "InSegment",
    "IsIn",
    "Item",
    "MISSING_INT",
    "Member",
    "Not",
    "Or",
    "Predicate",
    "Quantity",
    "Recurs",
    "Spend",
    "TierAtLeast",
    "during",
    "encode",
    "field",
    "from_plain",
    "lookup",
    "minor_units",
    "on_weekdays",
    "to_plain",
    "walk",
]

register()

publish(__name__, __all__, globals())
