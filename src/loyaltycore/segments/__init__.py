"""Segments: RFM scores and maps, value, behaviour, clusters, and your own.

* :func:`rfm_scores` places each customer's days since the last purchase,
  frequency and money in 1..5 against population quantiles (equal values
  share a score; R=5 is the most recent) or fixed :class:`RFMEdges`;
  :data:`RFM_SEGMENTS` names each of the 125 ``(R, F, M)`` cells and
  :func:`check_coverage` reports the gaps and overlaps of any map.
* :func:`value_segments` (Pareto share or revenue tiers),
  :func:`behaviour_segments` (relative to the population medians, see
  :class:`BehaviourPolicy`) and :func:`cluster_rfm` (k-means, extra ``cluster``).
* :class:`Segment` is a name and a predicate of :mod:`loyaltycore.predicates`;
  a :class:`SegmentSet` gives each member its first match or every match, one
  member at a time or vectorized over columns, with the same answers.

Results are an :class:`Assignment` (one segment each) or a
:class:`Membership` (every match).

>>> scores = rfm_scores([2, 15, 40, 120, 400], [6, 3, 1, 1, 0], [80, 45, 30, 20, 10])
>>> RFM_SEGMENTS.assign(scores).labels().tolist()
['champions', 'loyal', 'need_attention', 'hibernating', 'lost']
>>> from loyaltycore.predicates import field
>>> SegmentSet([Segment("regulars", field("frequency") >= 3)]).of({"frequency": 6})
('regulars',)
"""

from __future__ import annotations

from typing import Any

import attrs

from loyaltycore import serialize
from loyaltycore._public import publish
from loyaltycore.errors import InvalidType
from loyaltycore.segments._base import Assignment, Membership
from loyaltycore.segments._cluster import RFMClusters, cluster_rfm
from loyaltycore.segments._rfm import (
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
from loyaltycore.segments._set import Segment, SegmentSet
from loyaltycore.segments._value import (
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


@attrs.frozen
class _MapSegment:
    name: str
    cells: list[str]


@attrs.frozen
class _MapDocument:
    bins: int
    segments: list[_MapSegment]


def _parse_cell(text: str) -> tuple[int, int, int]:
    if len(text) != 3 or not text.isdigit():
        raise InvalidType(f"cell {text!r} must be three digits R, F, M such as '545'")
    r, f, m = (int(ch) for ch in text)
    return (r, f, m)


def _unstructure_map(value: SegmentMap) -> dict[str, Any]:
    segments = [
        {"name": name, "cells": sorted(f"{r}{f}{m}" for r, f, m in cells)}
        for name, cells in value.segments
    ]
    return {"bins": value.bins, "segments": segments}


def _structure_map(data: Any, _: Any) -> SegmentMap:
    doc = serialize.converter.structure(data, _MapDocument)
    cells = [(seg.name, [_parse_cell(text) for text in seg.cells]) for seg in doc.segments]
    return SegmentMap(cells, bins=doc.bins)


def _register_documents() -> None:
    serialize.converter.register_unstructure_hook(SegmentMap, _unstructure_map)
    serialize.converter.register_structure_hook(SegmentMap, _structure_map)
    for cls, name in (
        (Segment, "segments.Segment"),
        (SegmentSet, "segments.SegmentSet"),
        (SegmentMap, "segments.SegmentMap"),
        (RFMEdges, "segments.RFMEdges"),
        (BehaviourPolicy, "segments.BehaviourPolicy"),
    ):
        serialize.register_document(cls, name, 1)


_register_documents()

publish(__name__, __all__, globals())
