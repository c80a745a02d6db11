"""Lifecycle stages and the transitions allowed between them."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Final

import numpy as np

from loyaltycore.errors import InvalidArgument
from loyaltycore.lifecycle import _engine as _engine


class Stage(enum.IntEnum):
    """A lifecycle stage; the int value is the code :func:`stages` returns.

    >>> Stage.AT_RISK.label, int(Stage.AT_RISK), Stage.parse("churned")
    ('at_risk', 3, <Stage.CHURNED: 5>)
    """

    PROSPECT = _engine.PROSPECT
    NEW = _engine.NEW
    ACTIVE = _engine.ACTIVE
    AT_RISK = _engine.AT_RISK
    DORMANT = _engine.DORMANT
    CHURNED = _engine.CHURNED
    REACTIVATED = _engine.REACTIVATED

    @property
    def label(self) -> str:
        """The lower-case name used in plain data, tables and diagrams.

        >>> Stage.REACTIVATED.label
        'reactivated'
        """
        return self.name.lower()

    @classmethod
    def parse(cls, value: object) -> Stage:
        """The stage named ``value`` ("at_risk"), or with that code.

        >>> Stage.parse("new"), Stage.parse(6)
        (<Stage.NEW: 1>, <Stage.REACTIVATED: 6>)
        >>> Stage.parse("lost")
        Traceback (most recent call last):
        ...
        loyaltycore.errors.InvalidArgument: stage='lost' is not one of prospect, new, ...
        """
        if isinstance(value, Stage):
            return value
        if isinstance(value, str) and value.upper() in cls.__members__:
            return cls[value.upper()]
        if isinstance(value, int | np.integer) and not isinstance(value, bool):
            code = int(value)
            if 0 <= code < len(cls):
                return cls(code)
        names = ", ".join(s.label for s in cls)
        raise InvalidArgument(f"stage={value!r} is not one of {names}", field="stage", value=value)


#: Stages reachable in one day from each stage (by a purchase or by time).
#: Decline stages may be skipped in one day when thresholds fall on the same
#: day (a short member cycle, a steep drop of p_alive).
ALLOWED_TRANSITIONS: Final[Mapping[Stage, frozenset[Stage]]] = {
    Stage.PROSPECT: frozenset({Stage.NEW}),
    Stage.NEW: frozenset({Stage.ACTIVE, Stage.AT_RISK, Stage.DORMANT, Stage.CHURNED}),
    Stage.ACTIVE: frozenset({Stage.AT_RISK, Stage.DORMANT, Stage.CHURNED}),
    Stage.AT_RISK: frozenset({Stage.NEW, Stage.ACTIVE, Stage.DORMANT, Stage.CHURNED}),
    Stage.DORMANT: frozenset({Stage.CHURNED, Stage.REACTIVATED}),
    Stage.CHURNED: frozenset({Stage.REACTIVATED}),
    Stage.REACTIVATED: frozenset(
        {Stage.NEW, Stage.ACTIVE, Stage.AT_RISK, Stage.DORMANT, Stage.CHURNED}
    ),
}
