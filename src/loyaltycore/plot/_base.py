"""What every plot shares: a fresh or given Axes, number formats, annotated heatmaps.

matplotlib is imported here, lazily, when a plot is drawn; a new figure is a
:class:`matplotlib.figure.Figure` (never pyplot's global state), so drawing
changes no rcParams and opens no window.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt

from loyaltycore._validate import require, type_name
from loyaltycore.errors import InvalidArgument, InvalidType

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.image import AxesImage

Float = npt.NDArray[np.float64]

#: The colours every plot uses for the data and for a model of it.
ACTUAL: Final = "#2b2b2b"
MODEL: Final = "#3b6ea5"
ACCENT: Final = "#d9822b"
MUTED: Final = "#9a9a9a"
#: Periods as a reader says them ("2 weeks", "1 month").
_UNIT_NAMES: Final = {"day": "day", "week": "week", "month": "month", "year": "year"}


def axes(ax: object, size: tuple[float, float]) -> Axes:
    """``ax`` checked, or the Axes of a new figure of ``size`` inches (constrained layout)."""
    require("matplotlib", "plots")
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    if ax is None:
        figure = Figure(figsize=size, layout="constrained")
        new: Axes = figure.add_subplot()
        return new
    if not isinstance(ax, Axes):
        raise InvalidType(f"ax must be a matplotlib Axes or None, not {type_name(ax)}", field="ax")
    return ax


def check_result(value: object, kind: type, name: str = "result") -> None:
    """Refuse a result of the wrong kind with a message naming what is expected."""
    if not isinstance(value, kind):
        raise InvalidType(
            f"{name} must be a {kind.__module__}.{kind.__name__}, not {type_name(value)}",
            field=name,
        )


def check_flag(value: object, name: str) -> bool:
    """A plain bool option."""
    if not isinstance(value, bool):
        raise InvalidType(f"{name}={value!r} must be True or False", field=name, value=value)
    return value


def check_title(value: object) -> str | None:
    """A title override: a str or None."""
    if value is not None and not isinstance(value, str):
        raise InvalidType(f"title={value!r} must be a str or None", field="title", value=value)
    return value


def finish(ax: Axes, title: str, xlabel: str, ylabel: str, override: str | None) -> Axes:
    """Set the title (or the caller's) and the axis labels."""
    ax.set_title(title if override is None else override)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return ax


# -- words and numbers ------------------------------------------------------------------


def unit_name(unit: str | None, count: float = 2.0) -> str:
    """ "week" / "weeks" for a count; "periods" when the unit is unknown."""
    word = _UNIT_NAMES.get(unit or "", "period")
    return word if count == 1 else word + "s"


def span(amount: float | None, unit: str | None) -> str:
    """ "39 weeks", "1 month", "2.5 days": an amount of time as a reader says it."""
    if amount is None:
        return f"the given {unit_name(unit)}"
    return f"{number(amount)} {unit_name(unit, amount)}"


def number(value: float) -> str:
    """A figure with thousands separators and no needless decimals: 1,234 / 0.35 / 12.5."""
    if not math.isfinite(value):
        return "-"
    if float(value).is_integer():
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:,.1f}"
    return f"{value:,.2f}"


def count(value: float) -> str:
    """A count with thousands separators: 12,345."""
    return f"{round(value):,}"


def percent(value: float) -> str:
    """A share as a percentage: 27%, 8.6%, 99.6%, <0.1%, >99.9%, 0% (whole from 10 % up)."""
    if not math.isfinite(value):
        return ""
    share = 100.0 * value
    if 0 < share < 0.05:
        return "<0.1%"
    if 99.95 <= share < 100:
        return ">99.9%"
    if share == 0:
        return "0%"
    if abs(share) < 9.95 or 99.5 <= share < 100:
        return f"{share:.1f}%"
    return f"{share:.0f}%"


def money(value: float, currency: str | None) -> str:
    """An amount with thousands separators and two decimals, with its currency code."""
    text = f"{value:,.2f}"
    return f"{currency} {text}" if currency else text


def label(name: str) -> str:
    """A snake_case name as words: ``potential_loyalist`` -> ``potential loyalist``."""
    return name.replace("_", " ")


def thousands(ax: Axes, axis: str = "y") -> None:
    """Tick labels with thousands separators on ``axis``."""
    from matplotlib.ticker import FuncFormatter

    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_formatter(FuncFormatter(lambda x, _: tick(x)))


def tick(value: float) -> str:
    """A tick label: 1,000 / 2.5 / 0.01 (no trailing zeros)."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.6g}"


def percent_axis(ax: Axes, axis: str = "y") -> None:
    """Tick labels as percentages on ``axis`` (data are shares in [0, 1])."""
    from matplotlib.ticker import PercentFormatter

    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))


# -- heatmaps ---------------------------------------------------------------------------


def text_colour(rgba: Sequence[float]) -> str:
    """Black or white, whichever reads better on a background colour."""
    red, green, blue = rgba[:3]
    luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    return "black" if luminance > 0.55 else "white"


def heatmap(
    ax: Axes,
    values: Float,
    texts: Sequence[Sequence[str]] | None,
    *,
    cmap: str,
    vmin: float,
    vmax: float,
    fontsize: float = 8.0,
) -> AxesImage:
    """Draw ``values`` (rows top to bottom) as coloured cells, NaN blank, each with its text."""
    from matplotlib import colormaps
    from matplotlib.colors import Normalize

    colours = colormaps[cmap].with_extremes(bad="white")
    norm = Normalize(vmin=vmin, vmax=vmax)
    image = ax.imshow(
        np.ma.masked_invalid(values), aspect="auto", cmap=colours, norm=norm, origin="upper"
    )
    if texts is not None:
        for i, row in enumerate(texts):
            for j, text in enumerate(row):
                if not text:
                    continue
                value = values[i, j]
                shade = colours(norm(value)) if math.isfinite(value) else (1.0, 1.0, 1.0, 1.0)
                ax.text(
                    j,
                    i,
                    text,
                    ha="center",
                    va="center",
                    fontsize=fontsize,
                    color=text_colour(shade),
                )
    return image


def colour_range(values: Float) -> tuple[float, float]:
    """(0, the largest finite value), or (0, 1) when there is none above 0."""
    finite = values[np.isfinite(values)]
    top = float(finite.max()) if finite.size else 0.0
    return 0.0, top if top > 0 else 1.0


def check_choice(value: object, name: str, choices: Sequence[str]) -> str:
    """One of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise InvalidArgument(
            f"{name}={value!r} must be one of {list(choices)}", field=name, value=value
        )
    return value


def finite_float(value: object, name: str) -> float:
    """A finite real option (ints and floats, not bools)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise InvalidType(f"{name}={value!r} must be a number", field=name, value=value)
    out = float(value)
    if not math.isfinite(out):
        raise InvalidArgument(f"{name}={value!r} must be finite", field=name, value=value)
    return out
