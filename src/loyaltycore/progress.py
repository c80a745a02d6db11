"""Progress and cancellation for long work.

Every function documented as possibly slow (model fits, ``summarize`` on large
logs, batch rule evaluation, the report, simulations) takes ``progress=``: a
callable receiving ``(done, total, stage)``. ``done`` counts finished units of
``stage`` ("fit", "summarize", "rules", ...); ``total`` is how many there will
be, or ``None`` when unknown. Nothing is printed unless the caller asks: pass
a :class:`ProgressBar` to draw one on a terminal.

To cancel, raise from the callable: the exception propagates unchanged out of
the function doing the work, and nothing it was building is returned.

>>> seen = []
>>> def record(done, total, stage):
...     seen.append((done, total, stage))
>>> from datetime import date
>>> from loyaltycore.simulate import simulate
>>> program = simulate(20, start=date(2024, 1, 1), end=date(2024, 3, 31), progress=record)
>>> seen
[(1, 4, 'simulate'), (2, 4, 'simulate'), (3, 4, 'simulate'), (4, 4, 'simulate')]
"""

from __future__ import annotations

from typing import Protocol, TextIO

from loyaltycore.errors import InvalidType

__all__ = ["Progress", "ProgressBar", "check_progress"]


class Progress(Protocol):
    """The shape of a ``progress=`` callable: ``(done, total, stage) -> None``.

    >>> def quiet(done: int, total: int | None, stage: str) -> None:
    ...     pass
    >>> check_progress(quiet) is quiet
    True
    """

    def __call__(self, done: int, total: int | None, stage: str) -> None:
        """Called as work advances; raise to cancel."""


def check_progress(progress: object, name: str = "progress") -> Progress | None:
    """Return ``progress`` if it is ``None`` or callable; refuse anything else.

    Raises:
        InvalidType: ``progress`` is neither ``None`` nor callable.

    >>> check_progress(None) is None
    True
    >>> check_progress(5)
    Traceback (most recent call last):
    ...
    loyaltycore.errors.InvalidType: progress=5 must be a callable (done, total, stage) or None
    """
    if progress is None:
        return None
    if not callable(progress):
        raise InvalidType(
            f"{name}={progress!r} must be a callable (done, total, stage) or None",
            field=name,
            value=progress,
        )
    checked: Progress = progress
    return checked


class ProgressBar:
    """Draw progress on a text stream, one line rewritten in place.

    Meant for terminals: the report command uses one on standard error when
    standard error is a terminal.

    Args:
        stream: where to write (``sys.stderr``, usually).
        width: the bar's width in characters.

    >>> import io
    >>> out = io.StringIO()
    >>> bar = ProgressBar(out, width=10)
    >>> bar(5, 10, "fit")
    >>> out.getvalue()
    '\\rfit          [#####     ]  50%'
    >>> bar(10, 10, "fit")
    >>> out.getvalue().endswith("100%\\n")
    True
    """

    def __init__(self, stream: TextIO, *, width: int = 30) -> None:
        self._stream = stream
        self._width = width

    def __call__(self, done: int, total: int | None, stage: str) -> None:
        """Redraw the line for ``stage``; end it when ``done`` reaches ``total``."""
        if total:
            filled = min(self._width, self._width * done // total)
            bar = "#" * filled + " " * (self._width - filled)
            line = f"\r{stage:<12} [{bar}] {100 * done // total:3d}%"
        else:
            line = f"\r{stage:<12} {done:,}"
        self._stream.write(line)
        if total is not None and done >= total:
            self._stream.write("\n")
        self._stream.flush()
