"""One member's history replayed day by day through the vectorized engine.

Every local day from the start of the journey to ``until`` becomes one row of
engine inputs, built from the purchases made up to that day exactly as
``summarize`` would condense them (first, previous and last purchase day,
frequency, median gap). The stage of each day is then the stage
:func:`loyaltycore.lifecycle.stages` gives for that day; a journey lists the
days on which it changes.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import attrs
import numpy as np
import numpy.typing as npt

from loyaltycore.lifecycle import _days as _days
from loyaltycore.lifecycle import _engine as _engine

Int = npt.NDArray[np.int64]
Float = npt.NDArray[np.float64]


@attrs.frozen
class DailyStages:
    """Stage codes for consecutive local days, and which days had a purchase."""

    days: Int
    codes: _engine.Codes
    purchased: npt.NDArray[np.bool_]


def _medians(gaps: Int, keep_last: int) -> Float:
    """Median gap per number of purchase days k (index), leaving out ``keep_last`` days."""
    out = np.full(gaps.size + 2, math.nan)
    for k in range(2 + keep_last, gaps.size + 2):
        out[k] = float(np.median(gaps[: k - 1 - keep_last]))
    return out


def _alive(model: object, rows: dict[str, Int], k: Int) -> dict[str, Float]:
    bought, has_prev = k >= 1, k >= 2
    first, last, prev, t = rows["first"], rows["last"], rows["previous"], rows["t"]
    p_now = np.ones(k.size)
    p_now[bought] = _days.model_p_alive(
        model, k[bought] - 1, last[bought] - first[bought], t[bought] - first[bought]
    )
    p_before = np.ones(k.size)
    h = has_prev
    p_before[h] = _days.model_p_alive(model, k[h] - 2, prev[h] - first[h], last[h] - 1 - first[h])
    return {"p_now": p_now, "p_before": p_before}


def daily_stages(
    purchase_days: Int,
    start: int,
    until: int,
    classify: Callable[[_engine.Rows], _engine.Codes],
    *,
    model: object = None,
    needs_model: bool = False,
) -> DailyStages:
    """Stages of every day in ``[start, until]`` given distinct sorted purchase days."""
    t = np.arange(start, until + 1, dtype=np.int64)
    k = np.searchsorted(purchase_days, t, side="right").astype(np.int64)
    if purchase_days.size:
        last = purchase_days[np.maximum(k - 1, 0)]
        previous = np.where(k >= 2, purchase_days[np.maximum(k - 2, 0)], last)
        first = np.full(t.size, purchase_days[0])
    else:
        last = previous = first = t.copy()
    gaps = np.diff(purchase_days)
    extra: dict[str, object] = {
        "frequency": np.maximum(k - 1, 0),
        "median_gap": _medians(gaps, 0)[k],
        "median_before": _medians(gaps, 1)[k],
    }
    if needs_model:
        columns = {"first": first, "last": last, "previous": previous, "t": t}
        extra.update(_alive(model, columns, k))
    bought = k >= 1
    rows = _engine.Rows(
        bought=bought,
        since_first=np.where(bought, t - first, 0),
        since_last=np.where(bought, t - last, 0),
        gap=last - previous,
        **extra,  # type: ignore[arg-type]
    )
    purchased = np.isin(t, purchase_days)
    return DailyStages(t, classify(rows), purchased)
