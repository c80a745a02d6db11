"""How a public name changes before 1.0: one minor release with a warning.

A rename, or an argument that becomes keyword-only or required, keeps the old
spelling working for one minor release. Using it emits a
``DeprecationWarning`` that names the new spelling and the version in which
the old one goes away; the CHANGELOG lists every such change.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


def warn(old: str, *, new: str, removed_in: str, stacklevel: int = 3) -> None:
    """Emit the one deprecation message shape the library uses.

    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn("f(x, tz)", new="f(x, tz=...)", removed_in="0.3.0", stacklevel=2)
    >>> str(caught[0].message)
    'f(x, tz) is deprecated: use f(x, tz=...); the old form goes away in 0.3.0'
    """
    warnings.warn(
        f"{old} is deprecated: use {new}; the old form goes away in {removed_in}",
        DeprecationWarning,
        stacklevel=stacklevel,
    )


def keyword_only(*names: str, removed_in: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Accept ``names`` positionally for one more minor release, with a warning.

    The decorated function declares ``names`` keyword-only; its signature (as
    ``inspect.signature`` and the docs show it) is the new one. A call that
    still passes them positionally, in their old order after the positional
    parameters, works and warns; the warning names only the arguments that
    were passed positionally.

    >>> @keyword_only("tz", removed_in="0.3.0")
    ... def local(at, *, tz):
    ...     return (at, tz)
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     local(1, "UTC")
    (1, 'UTC')
    >>> str(caught[0].message)
    'local(..., tz) is deprecated: use local(..., tz=...); the old form goes away in 0.3.0'
    >>> local(1, tz="UTC")
    (1, 'UTC')
    """

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        signature = inspect.signature(fn)
        positional = sum(
            p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            for p in signature.parameters.values()
        )

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            extra = args[positional:]
            if extra:
                if len(extra) > len(names):
                    raise TypeError(
                        f"{fn.__name__}() takes {positional + len(names)} positional "
                        f"arguments but {len(args)} were given"
                    )
                passed = names[: len(extra)]
                old = f"{fn.__name__}(..., {', '.join(passed)})"
                new = f"{fn.__name__}(..., " + ", ".join(f"{n}=..." for n in passed) + ")"
                warn(old, new=new, removed_in=removed_in)
                for name, value in zip(passed, extra, strict=True):
                    if name in kwargs:
                        raise TypeError(f"{fn.__name__}() got multiple values for {name!r}")
                    kwargs[name] = value
                args = args[:positional]  # type: ignore[assignment]
            return fn(*args, **kwargs)

        return wrapper

    return decorate


#: Each function with a keyword argument that is becoming required, and the
#: names of those arguments: omitting one still works until the version named,
#: with a warning. The conventions test counts these as required.
BECOMING_REQUIRED: dict[object, tuple[str, ...]] = {}


def becoming_required(*names: str, removed_in: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Warn when a keyword argument in ``names`` is omitted (or None).

    The function keeps its old default, ``None``, and its old meaning of it,
    for one more minor release; its docstring states that meaning. From
    ``removed_in`` on, the argument is required.

    >>> @becoming_required("as_of", removed_in="0.3.0")
    ... def rate(values, *, as_of=None):
    ...     return len(values) if as_of is None else as_of
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     rate([1, 2])
    2
    >>> str(caught[0].message).split("; ")
    ['rate(...) without as_of= is deprecated: use rate(..., as_of=...)',
     'the old form goes away in 0.3.0']
    >>> rate([1, 2], as_of=5)
    5
    """

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            missing = [n for n in names if kwargs.get(n) is None]
            if missing:
                old = f"{fn.__name__}(...) without " + ", ".join(f"{n}=" for n in missing)
                new = f"{fn.__name__}(..., " + ", ".join(f"{n}=..." for n in missing) + ")"
                warn(old, new=new, removed_in=removed_in)
            return fn(*args, **kwargs)

        BECOMING_REQUIRED[wrapper] = names
        return wrapper

    return decorate
