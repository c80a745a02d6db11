"""The report's charts, drawn by :mod:`loyaltycore.plot` from the report's plain data.

Needs the ``plot`` extra (matplotlib). Each chart is saved as a PNG beside
the page, at a fixed size and without metadata, so the same report gives the
same bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from loyaltycore import plot
from loyaltycore.clv import PeriodTransactions
from loyaltycore.lifecycle import TransitionMatrix
from loyaltycore.metrics import CohortTable
from loyaltycore.report._format import local_day

if TYPE_CHECKING:
    from matplotlib.axes import Axes

#: PNG metadata: none, so the bytes depend on the picture only.
_METADATA: Final[dict[str, Any]] = {"Software": None}


def cohort_table(cohorts: Mapping[str, Any]) -> CohortTable:
    """The report's cohort section as a :class:`~loyaltycore.metrics.CohortTable`."""
    width = max((len(r) for r in cohorts["rates"]), default=1)
    rates = np.full((len(cohorts["rates"]), width), np.nan)
    counts = np.zeros((len(cohorts["rates"]), width), dtype=np.int64)
    for i, (row, seen) in enumerate(zip(cohorts["rates"], cohorts["counts"], strict=True)):
        rates[i, : len(row)] = [np.nan if x is None else x for x in row]
        counts[i, : len(seen)] = seen
    return CohortTable(
        cohort=np.array(cohorts["cohorts"], dtype="datetime64[D]"),
        size=np.array(cohorts["sizes"], dtype=np.int64),
        counts=counts,
        rates=rates,
        period=cohorts["period"],
    )


def _draws(data: Mapping[str, Any]) -> dict[str, Callable[[], Axes]]:
    """Each chart of ``data`` by key, as a function drawing it."""
    table = cohort_table(data["cohorts"])
    life = data["lifecycle"]
    before = local_day(life["earlier"]["as_of"], data["tz"])
    after = local_day(data["as_of"], data["tz"])
    draws: dict[str, Callable[[], Axes]] = {
        "cohorts": lambda: plot.plot_cohort_retention(table),
        "lifecycle": lambda: plot.plot_lifecycle_flow(
            TransitionMatrix(np.array(life["moves"])), before=before, after=after
        ),
        "rfm": lambda: plot.plot_rfm_grid(np.array(data["rfm"]["grid"], dtype=np.int64)),
    }
    if table.rates.shape[1] > 1:
        draws["retention"] = lambda: plot.plot_retention_curves(table)
    clv = data["clv"]
    if "note" not in clv:
        check = clv["period_transactions"]
        draws["clv"] = lambda: plot.plot_clv_distribution(
            clv["clv_values"],
            horizon=clv["horizon_weeks"],
            unit="week",
            currency=data["currency"],
        )
        draws["clv_check"] = lambda: plot.plot_period_transactions(
            PeriodTransactions(
                np.array(check["repeat_purchases"], dtype=np.float64),
                np.array(check["actual"], dtype=np.float64),
                np.array(check["model"], dtype=np.float64),
            )
        )
    return draws


def write_all(data: Mapping[str, Any], folder: Path) -> dict[str, str]:
    """Write every chart of ``data`` into ``folder``; return their file names by key."""
    written = {}
    for key, draw in _draws(data).items():
        name = f"{key}.png"
        figure = draw().get_figure(root=True)
        assert figure is not None
        figure.savefig(folder / name, format="png", dpi=100, metadata=_METADATA)
        written[key] = name
    return written
