"""Give each public name its public home.

A class or function defined in an area's private helper (``points/_values.py``)
is re-exported by the area's public module (``loyaltycore.points``). Setting its
``__module__`` to that public path keeps reprs, pickles, tracebacks in docs and
the API reference stable when helpers move again.

attrs classes resolve their string annotations first, in the namespace where
they were written, since ``typing.get_type_hints`` looks them up through
``__module__``.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Iterable, Mapping

import attrs

#: Where each published name was written (its module before ``publish``), for
#: tools that must read a name in its own module: the doctest collector runs
#: an example with the globals of the module that wrote it.
HOMES: dict[object, str] = {}


def is_function(obj: object) -> bool:
    """Whether ``obj`` is a function written in Python: compiled or not
    (a function of a module compiled by Cython is not a ``FunctionType``).

    >>> import loyaltycore.points
    >>> is_function(loyaltycore.points.merge), is_function(len)
    (True, False)
    """
    return inspect.isfunction(obj) or type(obj).__name__ == "cython_function_or_method"


def publish(module: str, names: Iterable[str], namespace: Mapping[str, object]) -> None:
    """Set ``__module__`` of each name defined below ``module`` to ``module``.

    Names defined elsewhere (another area's values re-exported for convenience)
    keep their own home. String annotations are resolved first, in the module
    that wrote them, and stored resolved, so type lookups (cattrs, attrs,
    ``typing.get_type_hints``) no longer depend on ``__module__``.

    >>> import loyaltycore.points
    >>> loyaltycore.points.PointsLedger.__module__
    'loyaltycore.points'
    """
    inside = module + "."
    moving = [
        obj
        for obj in (namespace[name] for name in names)
        if (inspect.isclass(obj) or is_function(obj)) and obj.__module__.startswith(inside)
    ]
    for obj in moving:
        if inspect.isclass(obj):
            _resolve_annotations(obj)
    for obj in moving:
        HOMES[obj] = obj.__module__
        obj.__module__ = module


def _resolve_annotations(cls: type) -> None:
    """Store ``cls``'s own annotations (and its attrs fields' types) resolved."""
    own = inspect.get_annotations(cls)
    if own:
        hints = typing.get_type_hints(cls, include_extras=True)
        cls.__annotations__ = {name: hints.get(name, value) for name, value in own.items()}
    if attrs.has(cls):
        attrs.resolve_types(cls)
