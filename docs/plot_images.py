"""Draw the images of docs/plot.md (``docs/images/plot_*.png``) from CDNOW and a simulation.

Run from the root of a checkout (the test suite runs it too and checks the
committed images are byte-identical)::

    .venv/bin/python docs/plot_images.py

CDNOW (``tests/data/CDNOW_master.txt``) gives the CLV diagnostics, the RFM
grid and the lifecycle flow; the bundled sample program (a seeded
simulation) gives the cohorts, the tiers and the points, which CDNOW (one
quarter of acquisitions, no loyalty program) does not have; a simulated
campaign gives the campaign plots.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"
CDNOW = ROOT / "tests" / "data" / "CDNOW_master.txt"

#: PNGs without the matplotlib version, so a file changes only when its picture does.
METADATA: dict[str, Any] = {"Software": None}


def cdnow() -> Any:
    """The CDNOW master file as a transaction log (dates in UTC)."""
    from loyaltycore.transactions import TransactionLog

    return TransactionLog.from_csv(
        CDNOW, delimiter=None, at="date", amount="dollar_value", at_format="%Y%m%d", tz="UTC"
    )


def clv_figures(log: Any) -> dict[str, Any]:
    """The CLV diagnostics: 39 weeks of calibration, the rest of CDNOW as holdout."""
    from loyaltycore import clv, plot
    from loyaltycore.calendar import local_days
    from loyaltycore.transactions import calibration_holdout, summarize

    split = calibration_holdout(
        log,
        calibration_end=datetime(1997, 9, 30, tzinfo=UTC),
        observation_end=datetime(1998, 6, 30, tzinfo=UTC),
        unit="week",
    )
    bg = clv.BetaGeo.fit(split.calibration)
    grid = clv.frequency_recency_matrix(
        bg, T=39.0, max_frequency=10, recencies=np.arange(3.0, 40.0, 3.0), t=39.0
    )
    holdout = clv.calibration_vs_holdout(
        bg,
        split.calibration,
        holdout_frequency=split.holdout_frequency,
        duration=split.duration,
    )
    periods = clv.period_transactions(bg, split.calibration)
    # Repeat purchases as the literature counts them: one per customer and day.
    days = local_days(log.at, tz="UTC") - int(np.datetime64("1997-01-01", "D").astype(np.int64))
    pairs = np.unique(np.stack([log.codes, days], axis=1), axis=0)
    first = np.r_[True, pairs[1:, 0] != pairs[:-1, 0]]
    track = clv.expected_cumulative_transactions(
        bg,
        first_purchase=pairs[first, 1] / 7.0,
        repeat_purchases=pairs[~first, 1] / 7.0,
        t=78,
    )
    customer = int(np.flatnonzero(np.bincount(pairs[:, 0]) == 7)[0])
    mine = pairs[pairs[:, 0] == customer, 1] / 7.0
    history = clv.p_alive_history(
        bg, purchases=mine, at=np.linspace(mine[0], 78.0, 400), unit="week"
    )
    summary = summarize(log, as_of=datetime(1998, 7, 1, tzinfo=UTC), unit="week")
    purchases = clv.BetaGeo.fit(summary)
    spenders = (summary["frequency"] > 0) & (summary["monetary"] > 0)
    spend = clv.GammaGamma.fit(
        frequency=summary["frequency"][spenders], monetary=summary["monetary"][spenders]
    )
    value = clv.customer_lifetime_value(
        purchases,
        spend,
        summary,
        horizon=52.0,
        unit="week",
        discount_rate=0.10,
        rate_unit="year",
    )
    return {
        "frequency_recency": plot.plot_frequency_recency_matrix(grid),
        "p_alive_matrix": plot.plot_p_alive_matrix(grid),
        "calibration_vs_holdout": plot.plot_calibration_vs_holdout(holdout),
        "period_transactions": plot.plot_period_transactions(periods),
        "cumulative_transactions": plot.plot_cumulative_transactions(track, calibration_end=39),
        "incremental_transactions": plot.plot_incremental_transactions(track, calibration_end=39),
        "p_alive_history": plot.plot_p_alive_history(history),
        "clv_distribution": plot.plot_clv_distribution(
            value, horizon=52, unit="week", currency="USD"
        ),
    }


def segment_figures(log: Any) -> dict[str, Any]:
    """RFM on CDNOW as of July 1998, and how stages moved over its first half."""
    from loyaltycore import lifecycle, plot, segments
    from loyaltycore.transactions import summarize

    end = datetime(1998, 7, 1, tzinfo=UTC)
    summary = summarize(log, as_of=end, unit="week")
    scores = segments.rfm_scores(
        summary["days_since_last"], summary["frequency"], summary["total"]
    )
    start = datetime(1998, 1, 1, tzinfo=UTC)
    earlier = summarize(log, as_of=start, unit="week")
    before = lifecycle.align_snapshot(
        lifecycle.stages(earlier, as_of=start), earlier["customer_id"], summary["customer_id"]
    )
    after = lifecycle.stages(summary, as_of=end)
    flow = lifecycle.transition_matrix(before, after)
    return {
        "rfm_grid": plot.plot_rfm_grid(scores),
        "lifecycle_flow": plot.plot_lifecycle_flow(flow, before="1998-01-01", after="1998-07-01"),
    }


def program_figures() -> dict[str, Any]:
    """Cohorts, tiers and points of the bundled sample program (Europe/Berlin)."""
    from loyaltycore import metrics, plot
    from loyaltycore.report import SAMPLE_TZ, load_sample

    log = load_sample()
    end = datetime(2024, 12, 31, 23, tzinfo=UTC)  # 2025-01-01 00:00 in Berlin
    table = metrics.cohort_retention(log.customer, log.at, period="month", tz=SAMPLE_TZ, as_of=end)
    tiers_2023 = _tiers(log, date(2023, 1, 1), date(2024, 1, 1))
    tiers_2024 = _tiers(log, date(2024, 1, 1), date(2025, 1, 1))
    ladder = ["base", "silver", "gold"]
    flow = metrics.points_flow(
        _ledgers(log), start=date(2023, 1, 1), end=date(2025, 1, 1), period="month", tz=SAMPLE_TZ
    )
    return {
        "cohort_retention": plot.plot_cohort_retention(table),
        "retention_curves": plot.plot_retention_curves(table),
        "tier_distribution": plot.plot_tier_distribution(
            metrics.tier_distribution(tiers_2024, labels=ladder),
            title="Members by tier for 2025 (spend in 2024)",
        ),
        "tier_migration": plot.plot_tier_migration(
            metrics.migration_matrix(tiers_2023, tiers_2024, labels=ladder),
            before="2024",
            after="2025",
        ),
        "points_flow": plot.plot_points_flow(flow),
    }


def _tiers(log: Any, start: date, end: date) -> Any:
    """Each customer's tier from a year's spend: gold from 500, silver from 200."""
    from loyaltycore.calendar import local_days

    days = local_days(log.at, tz="Europe/Berlin").astype("datetime64[D]")
    inside = (days >= np.datetime64(start)) & (days < np.datetime64(end))
    spend = np.bincount(log.codes[inside], weights=log.amount[inside], minlength=log.n_customers)
    return np.where(spend >= 50_000, "gold", np.where(spend >= 20_000, "silver", "base"))


def _ledgers(log: Any) -> list[Any]:
    """A points ledger per customer: a point per euro, 500 redeemed at once, 12 months' life."""
    from loyaltycore.calendar import from_micros
    from loyaltycore.points import ExpireAfter, PointsLedger

    order = np.lexsort((log.at, log.codes))
    ledgers = []
    for code in range(log.n_customers):
        rows = order[log.codes[order] == code]
        ledger = PointsLedger.open(str(code), tz="Europe/Berlin", policy=ExpireAfter(months=12))
        for k, row in enumerate(rows.tolist()):
            at = from_micros(int(log.at[row]))
            points = int(log.amount[row]) // 100
            if points > 0:
                ledger = ledger.earn(f"o{k}", at=at, points=points)
            if ledger.balance(as_of=at).available >= 500:
                ledger = ledger.redeem(f"r{k}", at=at, points=500)
        ledgers.append(ledger)
    return ledgers


def campaign_figures() -> dict[str, Any]:
    """The simulated member-day event of docs/campaigns.md: its read-out and tiers."""
    from loyaltycore import campaigns, plot
    from loyaltycore.simulate import simulate_campaign

    sim = simulate_campaign(
        20_000,
        start=date(2024, 6, 1),
        end=date(2024, 6, 15),
        lift={"bronze": 0.3, "silver": 0.5, "gold": 0.8},
        pull_forward=0.8,
        salt="member-day-2024-06",
        seed=2035,
    )
    a = sim.assignment
    readout = campaigns.windows(sim.log, a.member, a.arm, start=sim.start, end=sim.end)
    by_tier = campaigns.breakdown(readout.during / 100, a.arm, sim.segment)
    return {
        "campaign_lift": plot.plot_campaign_lift(readout, currency="EUR"),
        "campaign_curve": plot.plot_campaign_curve(readout, currency="EUR"),
        "campaign_segments": plot.plot_campaign_segments(by_tier),
    }


def figures() -> dict[str, Callable[[], dict[str, Any]]]:
    """The groups of figures by the function drawing them."""
    return {
        "clv": lambda: clv_figures(cdnow()),
        "segments": lambda: segment_figures(cdnow()),
        "program": program_figures,
        "campaigns": campaign_figures,
    }


def save(axes: Any, path: Path) -> None:
    """Write the figure of ``axes`` as a PNG without the software version."""
    axes.figure.savefig(path, format="png", dpi=100, metadata=METADATA)


def main(folder: Path = IMAGES) -> list[Path]:
    """Draw every figure into ``folder`` as ``plot_<name>.png``; return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for draw in figures().values():
        for name, axes in draw().items():
            path = folder / f"plot_{name}.png"
            save(axes, path)
            written.append(path)
    return written


if __name__ == "__main__":
    for path in main(Path(sys.argv[1]) if len(sys.argv) > 1 else IMAGES):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
