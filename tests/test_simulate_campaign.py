"""Simulated campaigns: the truth they claim, the read-out recovering it, determinism."""

from __future__ import annotations

import pickle
import subprocess
import sys
from datetime import UTC, date, datetime

import numpy as np
import pytest
from scipy import stats

from loyaltycore.campaigns import breakdown, compare, cuped, windows
from loyaltycore.errors import InvalidArgument, InvalidType, LoyaltyError, NaiveDatetime
from loyaltycore.simulate import ORIGINS, SimulatedCampaign, simulate, simulate_campaign

START, END = date(2024, 6, 1), date(2024, 6, 15)
LIFT = {"bronze": 0.2, "silver": 0.5, "gold": 0.8}


def _sim(n: int = 3000, **kwargs: object) -> SimulatedCampaign:
    options: dict[str, object] = {"start": START, "end": END, "lift": LIFT, "seed": 5}
    options.update(kwargs)
    return simulate_campaign(n, **options)  # type: ignore[arg-type]


def _band(n: int, level: float = 0.95) -> tuple[int, int]:
    """The central 99.9% range of Binomial(n, level)."""
    return int(stats.binom.ppf(0.0005, n, level)), int(stats.binom.ppf(0.9995, n, level))


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    a, b, c = _sim(400), _sim(400), _sim(400, seed=6)
    assert a.orders_csv() == b.orders_csv()
    assert a.members_csv() == b.members_csv()
    assert np.array_equal(a.origin, b.origin)
    assert a.orders_csv() != c.orders_csv()


def test_same_bytes_across_processes_and_hash_seeds() -> None:
    code = (
        "import hashlib\n"
        "from datetime import date\n"
        "from loyaltycore.simulate import simulate_campaign\n"
        "s = simulate_campaign(300, start=date(2024, 6, 1), end=date(2024, 6, 15), seed=9,"
        " tz='Asia/Tokyo', pull_forward=0.4)\n"
        "print(hashlib.sha256((s.orders_csv() + s.members_csv()).encode()).hexdigest())\n"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PATH": ""},
        ).stdout
        for seed in ("0", "4242")
    }
    assert len(digests) == 1


def test_the_program_simulator_is_unchanged_by_the_campaign_one() -> None:
    before = simulate(50, start=date(2024, 1, 1), end=date(2024, 3, 31), seed=1).to_csv()
    _sim(50)
    assert simulate(50, start=date(2024, 1, 1), end=date(2024, 3, 31), seed=1).to_csv() == before


def test_rows_are_what_their_origin_says() -> None:
    sim = _sim(2000, pull_forward={"bronze": 0.0, "silver": 0.5, "gold": 1.0})
    t0, t1 = int(sim.start.timestamp()) * 10**6, int(sim.end.timestamp()) * 10**6
    assert sim.assignment.member.tolist() == list(range(1001, 3001))
    row_member = sim.log.customer - 1001  # the row of each purchase's member
    treated = sim.assignment.treated[row_member]
    segment = sim.segment[row_member]
    inside = (sim.log.at >= t0) & (sim.log.at < t1)
    for code, name in enumerate(ORIGINS):
        rows = sim.origin == code
        assert rows.any(), name
        if name != "baseline":
            assert treated[rows].all()
            assert inside[rows].all()
    assert not ((sim.origin == 1) & (segment == "bronze")).any()  # nothing pulled at 0
    assert not ((sim.origin == 2) & (segment == "gold")).any()  # nothing new at 1
    units = sim.log.amount // 100
    assert np.array_equal(sim.bonus, np.where(treated & inside, units, 0))
    assert np.array_equal(sim.points, units + sim.bonus)
    truth = sim.truth
    assert truth.bonus_total == int(sim.bonus.sum())
    assert truth.bonus_on_pulled_forward == int(sim.bonus[sim.origin == 1].sum())
    assert sim.log.at.min() >= t0 - 90 * 86_400 * 10**6
    assert sim.log.at.max() < t1 + 90 * 86_400 * 10**6


def test_the_truth_is_the_mean_of_the_members_effects() -> None:
    sim = _sim(1000, pull_forward=0.5, pull_days=20)
    truth = sim.truth
    assert truth.effect("during") == pytest.approx(truth.during.mean() / 100)
    assert truth.effect("pre", 90) == 0.0
    assert truth.effect("post", 10) == pytest.approx(-truth.during.mean() / 100 * 0.5 * 10 / 20)
    assert truth.effect("post", 90) == pytest.approx(-0.5 * truth.effect("during"))
    assert truth.effect("during+post", 90) == pytest.approx(0.5 * truth.effect("during"))
    gold = sim.segment == "gold"
    assert truth.effect(segment="gold") == pytest.approx(truth.during[gold].mean() / 100)
    assert truth.effect(segment="gold") > truth.effect(segment="bronze")
    assert pickle.loads(pickle.dumps(sim)).orders_csv() == sim.orders_csv()


def test_a_campaign_with_no_lift_has_no_effect_but_pays_the_subsidy() -> None:
    sim = _sim(4000, lift=0.0, bonus_points=2)
    assert sim.truth.effect("during") == 0.0
    assert (sim.origin == 0).all()
    assert sim.truth.bonus_total == sim.truth.bonus_on_baseline > 0
    a = sim.assignment
    r = windows(sim.log, a.member, a.arm, start=sim.start, end=sim.end, points=sim.points)
    assert r.points_during is not None
    points = compare(r.points_during[a.treated], r.points_during[~a.treated])
    per_treated = sim.truth.bonus_total / a.n_treatment
    assert points.difference_low <= per_treated <= points.difference_high


@pytest.mark.slow
def test_read_out_intervals_cover_the_true_effect_as_often_as_they_claim() -> None:
    """Welch intervals of the during and post windows, and CUPED's, over many campaigns.

    The truth of each run is the mean over its members of the effect each
    would get if treated, so its estimate is unbiased for it; the count of
    covering 95% intervals must lie in the central 99.9% band of
    Binomial(runs, 0.95), and the CUPED estimates' mean error within 4 Monte
    Carlo standard errors of zero.
    """
    runs = 150
    during = post = adjusted = 0
    errors = np.empty(runs)
    for i in range(runs):
        sim = _sim(3000, pull_forward=0.5, share=0.3, seed=1000 + i)
        a = sim.assignment
        r = windows(sim.log, a.member, a.arm, start=sim.start, end=sim.end, horizons=(30,))
        truth_during, truth_post = sim.truth.effect("during"), sim.truth.effect("post", 30)
        d, p = r.row("during"), r.row("post", 30)
        during += r.low[d] <= truth_during <= r.high[d]
        post += r.low[p] <= truth_post <= r.high[p]
        c = cuped(r.during / 100, r.pre[:, 0] / 100, a.arm).compare()
        adjusted += c.difference_low <= truth_during <= c.difference_high
        errors[i] = c.difference - truth_during
    low, high = _band(runs)
    assert low <= during <= high, (during, low, high)
    assert low <= post <= high, (post, low, high)
    assert low <= adjusted <= high, (adjusted, low, high)
    assert abs(errors.mean()) < 4 * errors.std(ddof=1) / np.sqrt(runs)


def test_the_segment_breakdown_finds_the_segments_that_respond() -> None:
    sim = _sim(30_000, lift={"bronze": 0.0, "silver": 0.0, "gold": 1.5}, seed=11)
    a = sim.assignment
    r = windows(sim.log, a.member, a.arm, start=sim.start, end=sim.end, horizons=(7,))
    b = breakdown(r.during / 100, a.arm, sim.segment)
    assert b.segment.tolist() == ["bronze", "gold", "silver"]
    assert b.significant.tolist() == [False, True, False]
    gold = 1
    assert b.low[gold] <= sim.truth.effect(segment="gold") <= b.high[gold]


def test_progress_reports_each_step() -> None:
    seen: list[tuple[int, int | None, str]] = []
    _sim(20, progress=lambda done, total, stage: seen.append((done, total, stage)))
    assert seen == [(k, 4, "simulate_campaign") for k in (1, 2, 3, 4)]


BAD = [
    ({"end": START}, InvalidArgument, "end=.* must be after start="),
    ({"start": datetime(2024, 6, 1)}, NaiveDatetime, "start=.* is naive"),
    ({"lift": -0.1}, InvalidArgument, r"lift\['bronze'\]=-0.1 must be >= 0"),
    ({"lift": {"bronze": 0.1}}, InvalidArgument, r"missing \['silver', 'gold'\]"),
    ({"lift": {**LIFT, "platinum": 1.0}}, InvalidArgument, r"unknown \['platinum'\]"),
    ({"lift": "0.3"}, InvalidType, "lift='0.3' must be"),
    ({"pull_forward": 1.5}, InvalidArgument, r"pull_forward\['bronze'\]=1.5 must be in"),
    ({"lift": 3.0, "pull_forward": 1.0}, InvalidArgument, "exceeds the pull_days=30"),
    ({"pull_days": 100}, InvalidArgument, "pull_days=100 must be <= post_days=90"),
    ({"pull_days": 0}, InvalidArgument, "pull_days=0 must be >= 1"),
    ({"share": 1.0}, InvalidArgument, "share=1.0 must be between 0 and 1"),
    ({"segments": {}}, InvalidType, "segments={} must be a non-empty mapping"),
    ({"segments": {"a": 0.0, "b": 1.0}, "lift": 0.1}, InvalidArgument, "every share must be > 0"),
    ({"bonus_points": True}, InvalidType, "bonus_points=True must be an int"),
    ({"seed": -1}, InvalidArgument, "seed=-1 must be >= 0"),
]


@pytest.mark.parametrize(("change", "error", "message"), BAD)
def test_bad_campaigns_raise_named_errors(
    change: dict[str, object], error: type[LoyaltyError], message: str
) -> None:
    with pytest.raises(error, match=message):
        _sim(10, **change)


def test_a_start_in_the_program_zone() -> None:
    sim = simulate_campaign(10, start=START, end=END, tz="Asia/Tokyo", seed=1)
    assert sim.start == datetime(2024, 5, 31, 15, tzinfo=UTC)
    assert sim.tz == "Asia/Tokyo"
