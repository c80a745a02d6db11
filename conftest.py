"""Collect each docstring example in the module that wrote it.

Public names carry their public module as ``__module__`` (see
``loyaltycore._public``), while their examples use the imports of the helper
module that defines them. Python 3.11's doctest finder decides where a name
belongs by ``__module__``; this tells it the name's real home instead, so each
example is collected once, with the globals it was written against.
"""

from __future__ import annotations

import doctest
from types import ModuleType

from loyaltycore._public import HOMES

_standard = doctest.DocTestFinder._from_module  # type: ignore[attr-defined]


def _from_module(self: doctest.DocTestFinder, module: ModuleType | None, obj: object) -> bool:
    try:
        home = HOMES.get(obj)
    except TypeError:  # an unhashable attribute: not a published name
        home = None
    if home is not None and module is not None:
        return module.__name__ == home
    result: bool = _standard(self, module, obj)
    return result


doctest.DocTestFinder._from_module = _from_module  # type: ignore[attr-defined]
