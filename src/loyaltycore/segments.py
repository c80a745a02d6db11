"""Segments: RFM scores and named maps, value, behaviour and cluster segments.

Scores first: :func:`rfm_scores` places each customer's days since the last
purchase, frequency and money in 1..5 against population quantiles (equal
values share a score; R=5 is the most recent), and :data:`RFM_SEGMENTS` names
each of the 125 ``(R, F, M)`` cells.

>>> scores = rfm_scores([2, 15, 40, 120, 400], [6, 3, 1, 1, 0], [80, 45, 30, 20, 10])
>>> RFM_SEGMENTS.assign(scores).labels().tolist()
['champions', 'loyal', 'need_attention', 'hibernating', 'lost']
"""

from __future__ import annotations

from loyaltycore._rfm import (
    RFM_GRID,
    RFM_SEGMENTS,
    Coverage,
    RFMEdges,
    RFMScores,
    SegmentMap,
    all_cells,
    check_coverage,
    rfm_scores,
)
from loyaltycore._segments_base import Assignment, Membership
from loyaltycore._segments_cluster import RFMClusters, cluster_rfm
from loyaltycore._segments_set import Segment, SegmentSet
from loyaltycore._segments_value import (
    BEHAVIOUR_SEGMENTS,
    BehaviourPolicy,
    behaviour_segments,
    value_segments,
)

__all__ = [
    "Assignment",
    "BEHAVIOUR_SEGMENTS",
    "BehaviourPolicy",
    "Coverage",
    "Membership",
    "RFMClusters",
    "RFMEdges",
    "RFMScores",
    "RFM_GRID",
    "RFM_SEGMENTS",
    "Segment",
    "SegmentMap",
    "SegmentSet",
    "all_cells",
    "behaviour_segments",
    "check_coverage",
    "cluster_rfm",
    "rfm_scores",
    "value_segments",
]
