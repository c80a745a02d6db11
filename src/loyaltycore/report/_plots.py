"""PNG charts of a report (the ``plot`` extra, matplotlib).

Importing this module raises :class:`~loyaltycore.errors.MissingDependency`
when matplotlib is missing. Charts are drawn with the non-interactive Agg
backend on a figure object (no pyplot state), and saved without metadata so
the same report gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from loyaltycore._validate import require

require("matplotlib", "report charts")

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

__all__ = ["write_all"]

_METADATA: dict[str, Any] = {"Software": None}
_COLOR = "#3b6ea5"


def _save(figure: Figure, path: Path) -> None:
    FigureCanvasAgg(figure)
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=100, metadata=_METADATA)


def _bars(counts: Mapping[str, int], title: str, path: Path) -> None:
    figure = Figure(figsize=(7, 3.2))
    axes = figure.add_subplot()
    names = list(counts)
    axes.barh(names[::-1], [counts[n] for n in names][::-1], color=_COLOR)
    axes.set_title(title)
    axes.set_xlabel("customers")
    _save(figure, path)


def _heatmap(cohorts: Mapping[str, Any], path: Path) -> None:
    rates = cohorts["rates"]
    width = max((len(r) for r in rates), default=1)
    grid = np.full((len(rates), width), np.nan)
    for i, row in enumerate(rates):
        grid[i, : len(row)] = [np.nan if x is None else x for x in row]
    figure = Figure(figsize=(7, 0.35 * max(len(rates), 4) + 1))
    axes = figure.add_subplot()
    image = axes.imshow(grid, aspect="auto", cmap="Blues", vmin=0, vmax=1)
    axes.set_yticks(range(len(rates)), cohorts["cohorts"])
    axes.set_xticks(range(width), [f"+{k}" for k in range(width)])
    axes.set_xlabel(f"{cohorts['period']}s since first purchase")
    axes.set_title("Cohort retention")
    figure.colorbar(image, ax=axes, format="{x:.0%}")
    _save(figure, path)


def _histogram(values: list[float], path: Path) -> None:
    figure = Figure(figsize=(7, 3.2))
    axes = figure.add_subplot()
    data = np.asarray(values, dtype=float)
    cap = float(np.quantile(data, 0.99)) if data.size else 1.0
    axes.hist(np.minimum(data, cap), bins=40, color=_COLOR)
    axes.set_title("Predicted customer lifetime value (capped at the 99th percentile)")
    axes.set_xlabel("CLV")
    axes.set_ylabel("customers")
    _save(figure, path)


def write_all(data: Mapping[str, Any], folder: Path) -> dict[str, str]:
    """Write every chart of ``data`` into ``folder``; return their file names by section."""
    charts = {"cohorts": "cohorts.png", "lifecycle": "lifecycle.png", "rfm": "rfm.png"}
    _heatmap(data["cohorts"], folder / charts["cohorts"])
    _bars(data["lifecycle"]["stages"], "Lifecycle stages", folder / charts["lifecycle"])
    _bars(data["rfm"]["segments"], "RFM segments", folder / charts["rfm"])
    if "clv_values" in data["clv"]:
        charts["clv"] = "clv.png"
        _histogram(data["clv"]["clv_values"], folder / charts["clv"])
    return charts
