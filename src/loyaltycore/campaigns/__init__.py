"""Campaign measurement: holdouts, lift with intervals, CUPED, DiD, windows, ROI, uplift.

The steps of a campaign's life, one function each:

* plan: :func:`sample_size`, :func:`minimum_detectable_effect`;
* hold out: :func:`assign` (salted hash, strata, households), then
  :func:`balance` on pre-period covariates;
* read out: :func:`windows` (pre / during / post spend per assigned member),
  :func:`compare` (Welch or bootstrap), :func:`cuped`, :func:`diff_in_diff`,
  :func:`breakdown` by segment with :func:`p_adjust`;
* value: :func:`roi`;
* target the next wave: :func:`uplift_at_k`, :func:`qini_curve`,
  :func:`qini_auc`, :func:`uplift_by_decile`.

Columns are numpy arrays (or sequences) aligned member by member; the arm
is ``"treatment"`` / ``"control"`` labels (``Assignment.arm``) or bools.
Statistics need scipy: ``pip install 'loyaltycore[stats]'``; importing this
module does not load it.

>>> import numpy as np
>>> a = assign([f"m-{i}" for i in range(200)], share=0.5, salt="doc")
>>> spend = np.arange(200) % 7 + np.where(a.treated, 12.0, 10.0)
>>> c = compare(spend[a.treated], spend[~a.treated])
>>> round(c.difference, 1), c.significant
(2.2, True)
"""

from __future__ import annotations

from loyaltycore._public import publish
from loyaltycore.campaigns._assign import Assignment, assign
from loyaltycore.campaigns._balance import Balance, ImbalanceWarning, balance
from loyaltycore.campaigns._breakdown import Breakdown, breakdown, p_adjust
from loyaltycore.campaigns._compare import Comparison, compare
from loyaltycore.campaigns._cuped import Cuped, cuped
from loyaltycore.campaigns._did import DiffInDiff, PreTrend, diff_in_diff
from loyaltycore.campaigns._power import (
    Detectable,
    SampleSize,
    minimum_detectable_effect,
    sample_size,
)
from loyaltycore.campaigns._roi import Roi, roi
from loyaltycore.campaigns._uplift import (
    QiniCurve,
    UpliftTable,
    qini_auc,
    qini_curve,
    uplift_at_k,
    uplift_by_decile,
)
from loyaltycore.campaigns._windows import Windows, windows

__all__ = [
    "Assignment",
    "Balance",
    "Breakdown",
    "Comparison",
    "Cuped",
    "Detectable",
    "DiffInDiff",
    "ImbalanceWarning",
    "PreTrend",
    "QiniCurve",
    "Roi",
    "SampleSize",
    "UpliftTable",
    "Windows",
    "assign",
    "balance",
    "breakdown",
    "compare",
    "cuped",
    "diff_in_diff",
    "minimum_detectable_effect",
    "p_adjust",
    "qini_auc",
    "qini_curve",
    "roi",
    "sample_size",
    "uplift_at_k",
    "uplift_by_decile",
    "windows",
]

publish(__name__, __all__, globals())
