"""Which modules run compiled, and the switch back to their pure-Python source.

The build (``setup.py``) compiles the modules in :data:`MODULES` with Cython
from their own source, which is plain Python: no Cython syntax, type
annotations ignored, so compiled and pure behave the same (the tests run on
both). A build without Cython or a C compiler installs pure Python.

Setting ``LOYALTYCORE_PURE_PYTHON=1`` before importing loyaltycore loads the
pure-Python source of a compiled install instead (to step through it in a
debugger or see it in a profiler): importing this module does it, which
``loyaltycore/__init__.py`` does first.

One step stays interpreted on purpose: ``points/_thaw.py``, which copies a
ledger's fields into the builder of a command. Python 3.11 runs slot reads
and writes specialized, while compiled code looks each one up through the
type, so compiling that copy made it twice as slow.

Cython (3.0 to 3.3) gets two constructs wrong, so the compiled modules avoid
them, and ``tests/test_compiled.py`` checks that they do:

* unpacking a slice with computed bounds straight into names
  (``a, b = row[i : j]``) crashes the compiler: the slice is named first;
* an ``and`` or ``or`` of three operands, or a nested one, inside a
  conditional expression (``x if c else p and q and r``) compiles to code
  that crashes the interpreter when it runs.
"""

from __future__ import annotations

import importlib.machinery
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Final

#: The compiled modules: the points ledger's engine, where a command's time goes.
MODULES: Final = (
    "loyaltycore.points",
    "loyaltycore.points._commands",
    "loyaltycore.points._replay",
    "loyaltycore.points._state",
)


class _SourceFinder:
    """A meta-path finder that loads :data:`MODULES` from their ``.py`` files."""

    @staticmethod
    def find_spec(
        name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if name not in MODULES or not path:
            return None
        loaders = [(importlib.machinery.SourceFileLoader, importlib.machinery.SOURCE_SUFFIXES)]
        for entry in path:
            spec = importlib.machinery.FileFinder(entry, *loaders).find_spec(name)
            if spec is not None:
                return spec
        return None


def prefer_source() -> None:
    """Load :data:`MODULES` from source if ``LOYALTYCORE_PURE_PYTHON`` is ``1``."""
    if os.environ.get("LOYALTYCORE_PURE_PYTHON") == "1" and _SourceFinder not in sys.meta_path:
        sys.meta_path.insert(0, _SourceFinder)


def compiled() -> bool:
    """Whether the points engine runs compiled: False for a pure-Python install
    or under ``LOYALTYCORE_PURE_PYTHON=1``.

    Compiled and pure behave the same; compiled applies commands faster
    (``benchmarks/ledger.py`` prints which one it measured).

    >>> import loyaltycore
    >>> loyaltycore.compiled() in (True, False)
    True
    """
    import loyaltycore.points

    return not (loyaltycore.points.__file__ or "").endswith(".py")


prefer_source()
