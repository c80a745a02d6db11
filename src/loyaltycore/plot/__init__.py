"""Figures of loyaltycore's results, drawn with matplotlib (the ``plot`` extra).

Every function has the form ``plot_<thing>(result, *, ax=None, ...) -> Axes``:
it draws one result of the library on ``ax``, or on a new
:class:`matplotlib.figure.Figure` when ``ax`` is None, and returns the Axes.
Nothing here uses pyplot's global state, calls ``show()`` or changes
``rcParams``; every plot has a title (``title=`` replaces it), labelled axes,
and states its units and horizon. Importing this module does not import
matplotlib; drawing without it raises
:class:`~loyaltycore.errors.MissingDependency` naming
``pip install 'loyaltycore[plot]'``.

In a notebook, show the figure with ``ax.figure``; to save it,
``ax.figure.savefig("cohorts.png")``; to place plots side by side, pass the
Axes of your own ``fig.subplots(1, 2)``.

CLV diagnostics draw the tables of :mod:`loyaltycore.clv`; program plots
draw :mod:`loyaltycore.metrics`, :mod:`loyaltycore.lifecycle` and
:mod:`loyaltycore.segments` results; campaign plots draw the read-outs of
:mod:`loyaltycore.campaigns`.

>>> import numpy as np
>>> from datetime import date
>>> from loyaltycore.metrics import cohort_retention
>>> at = np.array(["2024-01-03", "2024-02-03", "2024-01-09"], dtype="datetime64[D]")
>>> table = cohort_retention([1, 1, 2], at, tz="UTC", as_of=date(2024, 3, 1))
>>> ax = plot_cohort_retention(table)
>>> ax.get_xlabel()
'months since the first purchase'
"""

from __future__ import annotations

from loyaltycore._public import publish
from loyaltycore.plot._campaigns import (
    plot_campaign_curve,
    plot_campaign_lift,
    plot_campaign_segments,
)
from loyaltycore.plot._clv import (
    plot_calibration_vs_holdout,
    plot_clv_distribution,
    plot_cumulative_transactions,
    plot_frequency_recency_matrix,
    plot_incremental_transactions,
    plot_p_alive_history,
    plot_p_alive_matrix,
    plot_period_transactions,
)
from loyaltycore.plot._program import (
    plot_cohort_retention,
    plot_lifecycle_flow,
    plot_points_flow,
    plot_retention_curves,
    plot_rfm_grid,
    plot_tier_distribution,
    plot_tier_migration,
)

__all__ = [
    "plot_calibration_vs_holdout",
    "plot_campaign_curve",
    "plot_campaign_lift",
    "plot_campaign_segments",
    "plot_clv_distribution",
    "plot_cohort_retention",
    "plot_cumulative_transactions",
    "plot_frequency_recency_matrix",
    "plot_incremental_transactions",
    "plot_lifecycle_flow",
    "plot_p_alive_history",
    "plot_p_alive_matrix",
    "plot_period_transactions",
    "plot_points_flow",
    "plot_retention_curves",
    "plot_rfm_grid",
    "plot_tier_distribution",
    "plot_tier_migration",
]

publish(__name__, __all__, globals())
