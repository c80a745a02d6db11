"""Plain data of segment definitions: round trips, golden documents, bad data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from loyaltycore import serialize
from loyaltycore.errors import InvalidData
from loyaltycore.predicates import field
from loyaltycore.segments import (
    RFM_SEGMENTS,
    BehaviourPolicy,
    RFMEdges,
    Segment,
    SegmentMap,
    SegmentSet,
)

GOLDEN = Path(__file__).parent / "golden" / "segments_v1.json"


def golden_objects() -> dict[str, Any]:
    """The objects whose documents are kept in the golden file."""
    return {
        "rfm_segments": RFM_SEGMENTS,
        "small_map": SegmentMap.from_grid({2: ["up", "best"], 1: ["gone", "slipping"]}, bins=2),
        "edges": RFMEdges(recency=(30, 90.5), frequency=(0, 2), monetary=(20, 75.25)),
        "policy": BehaviourPolicy(frequency=1.5, tenure=0.5),
        "segment": Segment("regulars", field("frequency") >= 3, "came back three times"),
        "segment_set": SegmentSet(
            [
                Segment("big_spenders", field("total") >= "500.00"),
                Segment(
                    "newcomers",
                    field("days_since_joined").between(0, 30) & ~(field("count") > 1),
                ),
                Segment("lapsed", field("days_since_last") > 365.0),
            ],
            mode="all",
        ),
    }


def test_documents_match_the_golden_file() -> None:
    golden = json.loads(GOLDEN.read_text())
    objects = golden_objects()
    assert sorted(golden) == sorted(objects)
    for key, obj in objects.items():
        assert serialize.to_data(obj) == golden[key], key
        assert serialize.from_data(golden[key]) == obj, key
        assert serialize.loads(serialize.dumps(obj)) == obj


BAD_DOCUMENTS: list[tuple[str, str, Any, str]] = [
    (
        "edges as text",
        "segments.RFMEdges",
        {"recency": "30", "frequency": [1.0], "monetary": [1.0]},
        "$.data.recency",
    ),
    (
        "policy extra key",
        "segments.BehaviourPolicy",
        {"frequency": 1.0, "tenure": 1.0, "order_value": 1.0, "categories": 1.0, "x": 1},
        "unknown keys ['x']",
    ),
    (
        "policy bool",
        "segments.BehaviourPolicy",
        {"frequency": True, "tenure": 1.0, "order_value": 1.0, "categories": 1.0},
        "$.data.frequency",
    ),
    (
        "cell of ints",
        "segments.SegmentMap",
        {"bins": 2, "segments": [{"name": "a", "cells": [111]}]},
        "$.data.segments[0].cells[0]",
    ),
    (
        "cell text",
        "segments.SegmentMap",
        {"bins": 2, "segments": [{"name": "a", "cells": ["1x1"]}]},
        "three digits",
    ),
    ("bins text", "segments.SegmentMap", {"bins": "5", "segments": []}, "$.data.bins"),
    (
        "segment name",
        "segments.Segment",
        {"name": 5, "where": {"type": "always"}, "description": ""},
        "$.data.name",
    ),
    (
        "segment where",
        "segments.Segment",
        {
            "name": "a",
            "where": {"type": "compare", "field": "frequency", "op": "~", "value": 1},
            "description": "",
        },
        "$.data.where",
    ),
    ("set mode", "segments.SegmentSet", {"segments": [], "mode": "some"}, "$.data.mode"),
    (
        "set entry",
        "segments.SegmentSet",
        {"segments": [{"name": "a", "description": ""}], "mode": "all"},
        "$.data.segments[0].where",
    ),
]


@pytest.mark.parametrize(
    ("schema", "data", "message"),
    [case[1:] for case in BAD_DOCUMENTS],
    ids=[case[0] for case in BAD_DOCUMENTS],
)
def test_bad_documents_raise_one_error_naming_the_path(
    schema: str, data: Any, message: str
) -> None:
    with pytest.raises(InvalidData) as info:
        serialize.from_data({"schema": schema, "version": 1, "data": data})
    assert message in str(info.value)
