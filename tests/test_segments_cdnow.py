"""Segments of every CDNOW customer, checked against slow per-customer readings."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest

from loyaltycore.predicates import field
from loyaltycore.segments import (
    RFM_SEGMENTS,
    Segment,
    SegmentSet,
    behaviour_segments,
    rfm_scores,
    value_segments,
)
from loyaltycore.transactions import Summary, TransactionLog, summarize


@pytest.fixture(scope="module")
def summary(data_dir: Path) -> Summary:
    log = TransactionLog.from_csv(
        data_dir / "CDNOW_master.txt",
        customer=0,
        at=1,
        amount=3,
        delimiter=None,
        at_format="%Y%m%d",
        tz="UTC",
    )
    return summarize(log, as_of=date(1998, 7, 1), unit="day")


def test_rfm_scores_of_every_customer_match_the_quantile_definition(summary: Summary) -> None:
    days, freq, total = summary["days_since_last"], summary["frequency"], summary["total"]
    scores = rfm_scores(days, freq, total)
    probs = [0.2, 0.4, 0.6, 0.8]
    r_edges = np.quantile(days, probs)
    f_edges = np.quantile(freq.astype(float), probs)
    m_edges = np.quantile(total.astype(float), probs)
    assert scores.edges.recency == tuple(r_edges)
    expected_r = 1 + (days[:, None] < r_edges[None, :]).sum(axis=1)
    expected_f = 1 + (freq[:, None] > f_edges[None, :]).sum(axis=1)
    expected_m = 1 + (total[:, None] > m_edges[None, :]).sum(axis=1)
    assert np.array_equal(scores.r, expected_r)
    assert np.array_equal(scores.f, expected_f)
    assert np.array_equal(scores.m, expected_m)
    # the most recent customers all score R = 5, the never-returning F = 1
    assert set(scores.r[days == days.min()].tolist()) == {5}
    assert set(scores.f[freq == 0].tolist()) == {1}


def test_rfm_segments_of_every_customer_match_the_scalar_lookup(summary: Summary) -> None:
    scores = rfm_scores(summary["days_since_last"], summary["frequency"], summary["total"])
    labels = RFM_SEGMENTS.assign(scores).labels()
    cells = zip(scores.r.tolist(), scores.f.tolist(), scores.m.tolist(), strict=True)
    assert labels.tolist() == [RFM_SEGMENTS.segment_of(r, f, m) for r, f, m in cells]
    assert sum(RFM_SEGMENTS.assign(scores).counts().values()) == len(summary)


def test_pareto_top_of_cdnow_brings_eighty_percent(summary: Summary) -> None:
    total = summary["total"].astype(float)
    top = value_segments(total).mask("top")
    share = total[top].sum() / total.sum()
    assert share >= 0.8
    lowest = total[top].min()
    assert total[top & (total > lowest)].sum() / total.sum() < 0.8
    assert total[top].min() >= total[~top].max()
    assert top.sum() == 7695


def test_behaviour_segments_of_cdnow(summary: Summary) -> None:
    result = behaviour_segments(summary)
    freq, tenure, aov = summary["frequency"], summary["T"], summary["aov"]
    med_f, med_t, med_a = np.median(freq), np.median(tenure), np.median(aov)
    assert np.array_equal(result.mask("loyal"), (freq > med_f) & (tenure > med_t))
    assert np.array_equal(result.mask("impulsive"), (freq > med_f) & (aov < med_a))
    assert not result.mask("rational").any()  # the median customer never came back


def test_a_segment_set_agrees_one_by_one_on_cdnow(summary: Summary) -> None:
    program = SegmentSet(
        [
            Segment("big_spenders", field("total") >= "500"),
            Segment("regulars", field("frequency") >= 3),
            Segment("lapsed_buyers", (field("days_since_last") > 365.0) & (field("count") > 1)),
            Segment("early", field("first") < datetime(1997, 1, 15, tzinfo=UTC)),
        ],
        mode="all",
    )
    membership = program.evaluate(summary)
    rows = range(len(summary))
    assert [membership.of(i) for i in rows] == [program.of(summary.facts(i)) for i in rows]
    assert membership.counts()["big_spenders"] == int((summary["total"] >= 50000).sum())
