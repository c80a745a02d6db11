"""The points ledger engine, as :mod:`loyaltycore.points` uses it.

The engine is four modules, each depending only on the ones before it:

- :mod:`~loyaltycore.points._records`: the records of a history, a letter a
  field, and the writers, readers and encoders generated from them;
- :mod:`~loyaltycore.points._state`: the memory layout of a ledger's
  versions, thawing one into a builder and freezing it back, the lot table
  and the usable lots' queue;
- :mod:`~loyaltycore.points._commands`: the policies, one handler per
  command type (``HANDLERS``);
- :mod:`~loyaltycore.points._replay`: rebuilding a ledger from its history,
  checking each event against the record the engine writes for it.

This module gathers the names the public module uses.
"""

from __future__ import annotations

from loyaltycore.points._commands import HANDLERS, State
from loyaltycore.points._records import C_CAPTURED, C_REDEEMED
from loyaltycore.points._replay import Replayer, replay
from loyaltycore.points._state import (
    AVAIL,
    EXPIRES,
    H_DEADLINE,
    H_LAST,
    H_NEV,
    H_NEXT,
    H_NLOTS,
    PBIT,
    READ_ONLY,
    REM,
    SEP,
    Core,
    instant,
)

__all__ = [
    "AVAIL",
    "C_CAPTURED",
    "C_REDEEMED",
    "EXPIRES",
    "H_DEADLINE",
    "H_LAST",
    "H_NEV",
    "H_NEXT",
    "H_NLOTS",
    "HANDLERS",
    "PBIT",
    "READ_ONLY",
    "REM",
    "SEP",
    "Core",
    "Replayer",
    "State",
    "instant",
    "replay",
]
