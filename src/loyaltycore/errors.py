"""Every error loyaltycore raises.

There is one root, :class:`LoyaltyError`, and every subclass also derives from
the builtin a caller would naturally catch (``ValueError``, ``TypeError``,
``LookupError`` — never ``KeyError``, which quotes its message). Messages name
the argument and the offending value. Extra context is kept as attributes
(``err.field``, ``err.value`` ...), and every error pickles with it.

>>> from loyaltycore.errors import InvalidPoints, LoyaltyError
>>> err = InvalidPoints("points=-5 must be a positive int", field="points", value=-5)
>>> isinstance(err, LoyaltyError), isinstance(err, ValueError), err.value
(True, True, -5)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "ConcurrencyConflict",
    "ConvergenceError",
    "DegenerateFit",
    "DuplicateId",
    "EmptyArm",
    "EmptyData",
    "ForeignHold",
    "HoldAlreadyResolved",
    "HoldError",
    "HoldExpired",
    "IdempotencyConflict",
    "InsufficientPoints",
    "InvalidAmount",
    "InvalidArgument",
    "InvalidColumn",
    "InvalidData",
    "InvalidPoints",
    "InvalidRule",
    "InvalidTime",
    "InvalidType",
    "LoyaltyError",
    "MissingDependency",
    "NaiveDatetime",
    "NotFound",
    "OutOfOrder",
    "OverCapture",
    "OverReversal",
    "SameMember",
    "SchemaVersionError",
    "StrictPolicyViolation",
    "UnknownEvent",
    "UnknownHold",
]


class LoyaltyError(Exception):
    """Root of every error raised by loyaltycore.

    Keyword arguments become attributes, so a handler can read the field and
    value without parsing the message. Errors pickle with their attributes.

    >>> import pickle
    >>> err = LoyaltyError("boom", field="x", value=1)
    >>> again = pickle.loads(pickle.dumps(err))
    >>> str(again), again.field, again.value
    ('boom', 'x', 1)
    """

    def __init__(self, message: str, **context: object) -> None:
        super().__init__(message)
        for key, value in context.items():
            setattr(self, key, value)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self),), dict(self.__dict__))

    def __setstate__(self, state: dict[str, Any] | None) -> None:
        self.__dict__.update(state or {})


# -- bad values -------------------------------------------------------------


class InvalidArgument(LoyaltyError, ValueError):
    """An argument has the right type but a value that is not allowed."""


class InvalidType(LoyaltyError, TypeError):
    """An argument has the wrong type (a float for money, a bool for points)."""


class InvalidPoints(InvalidArgument):
    """A points quantity that is not a positive int (zero, negative, too large)."""


class InvalidAmount(InvalidArgument):
    """A money amount that is negative, non-finite or has too many decimals."""


class InvalidTime(InvalidArgument):
    """A time that breaks an ordering rule (``occurred_at`` after ``at`` ...)."""


class NaiveDatetime(InvalidTime):
    """A datetime without a time zone, or a datetime64 column without ``tz=``."""


class InvalidColumn(InvalidArgument):
    """A column is missing, has the wrong length, NaN, NaT or an unparseable value."""


class InvalidRule(InvalidArgument):
    """A rule, predicate, tier or policy definition that cannot be evaluated."""


class EmptyData(InvalidArgument):
    """An operation needs at least one row and was given none."""


class EmptyArm(EmptyData):
    """An arm of a campaign (treatment or control) with too few members.

    A mean needs one member, a variance two; the message says which arm and
    how many it has.
    """


class InvalidData(LoyaltyError, ValueError):
    """Plain data that does not load; ``errors`` lists every bad path.

    >>> err = InvalidData.from_messages(["expected int @ $.points"])
    >>> err.errors
    ('expected int @ $.points',)
    """

    errors: tuple[str, ...]

    @classmethod
    def from_messages(cls, messages: Sequence[str], *, what: str = "data") -> InvalidData:
        """Build the error from one message per bad path."""
        lines = "\n  ".join(messages)
        return cls(f"invalid {what}:\n  {lines}", errors=tuple(messages))


class SchemaVersionError(InvalidData):
    """A document's schema name or version is not one this release reads."""


# -- commands on state ------------------------------------------------------


class OutOfOrder(InvalidTime):
    """A command posted earlier than the last command the ledger applied."""


class IdempotencyConflict(LoyaltyError, ValueError):
    """An id already used with a different payload; ``field`` names the difference."""


class DuplicateId(InvalidArgument):
    """Two definitions share an id or a name (rule ids, tier names, segments)."""


class InsufficientPoints(LoyaltyError, ValueError):
    """A redemption, hold, transfer or debit asks for more than is available."""


class OverReversal(InvalidArgument):
    """Reversals of an earn, a redemption or a purchase would exceed the original.

    A ledger reverse of more points than were earned, or a rule-set refund of
    more units of a sku than were bought (or more money than was paid).
    """


class StrictPolicyViolation(LoyaltyError, ValueError):
    """A reverse that would create debt under the strict (no-debt) policy."""


class SameMember(InvalidArgument):
    """A transfer or merge whose source and destination are the same member."""


class HoldError(LoyaltyError, ValueError):
    """Base class of the errors raised when resolving a hold."""


class HoldExpired(HoldError):
    """A capture after the hold's deadline."""


class HoldAlreadyResolved(HoldError):
    """A capture or release of a hold that was already captured or released."""


class OverCapture(HoldError):
    """A capture larger than the points held."""


# -- lookups ----------------------------------------------------------------


class NotFound(LoyaltyError, LookupError):
    """An id that is not known (member, rule, tier, hold, event)."""


class UnknownHold(NotFound):
    """A hold id this ledger has never seen."""


class ForeignHold(NotFound):
    """A hold that belongs to another member's ledger."""


class UnknownEvent(NotFound):
    """An event id (an earn or redemption to reverse) this ledger has never seen."""


# -- models and environment -------------------------------------------------


class ConvergenceError(LoyaltyError, RuntimeError):
    """A model fit did not converge; the message says what to try."""


class DegenerateFit(ConvergenceError):
    """A fit whose parameters ran off to a boundary (data without heterogeneity)."""


class ConcurrencyConflict(LoyaltyError, RuntimeError):
    """A store command kept meeting concurrent writers and gave up after its bounded retries.

    Nothing was written; the command may be sent again (it is idempotent by its id).
    """


class MissingDependency(LoyaltyError, ImportError):
    """An optional extra is needed; the message names the ``pip install`` to run."""
