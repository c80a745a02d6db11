"""Code generated at run time, compiled so tracebacks and debuggers can show it.

The points engine and the rules compiler write Python source and run it.
Each source is compiled under a file name of its own, derived from what it
is and a digest of its text (``<loyaltycore rules 1a2b3c4d5e6f>``), and its
lines are registered in :mod:`linecache` under that name, as attrs does for
the methods it writes. A traceback through generated code then shows the
generated line, and ``pdb`` can list it. Equal sources share one name, so
compiling the same rule set again does not grow the cache.
"""

from __future__ import annotations

import hashlib
import linecache
from typing import Any


def run_generated(source: str, what: str, namespace: dict[str, Any]) -> str:
    """Run ``source`` in ``namespace`` under a file name of its own; return the name.

    Args:
        source: the generated module text.
        what: a few words naming what it is (``"points reader Earned"``).
        namespace: the globals it runs in; the functions it defines land there.

    Returns:
        The file name its code objects carry, registered in :mod:`linecache`.

    >>> scope: dict[str, Any] = {}
    >>> name = run_generated("def f():\\n    return 1\\n", "example", scope)
    >>> scope["f"](), name.startswith("<loyaltycore example ")
    (1, True)
    >>> linecache.getline(name, 2)
    '    return 1\\n'
    """
    if not source.endswith("\n"):
        source += "\n"
    digest = hashlib.sha256(source.encode("utf-8")).hexdigest()[:12]
    lines = source.splitlines(keepends=True)
    filename = f"<loyaltycore {what} {digest}>"
    entry = (len(source), None, lines, filename)
    found = linecache.cache.setdefault(filename, entry)
    if found != entry:  # (another text under this name: keep both apart)
        filename = f"<loyaltycore {what} {hashlib.sha256(source.encode()).hexdigest()}>"
        linecache.cache[filename] = (len(source), None, lines, filename)
    exec(compile(source, filename, "exec"), namespace)
    return filename
