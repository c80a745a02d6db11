"""The report's sections as plain data, each computed from the log and its summary.

Every section but the CLV one is defined for any non-empty log; the CLV
section becomes a note saying why it is missing and what to do when the
models cannot be fitted meaningfully (too few repeat customers, a
degenerate fit, scipy missing).
"""

from __future__ import annotations

import math
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import Any, Final

import numpy as np

from loyaltycore import lifecycle, metrics, segments
from loyaltycore.calendar import add_months, add_period, local_date, micros, start_of_day
from loyaltycore.errors import ConvergenceError, EmptyData, InvalidColumn, MissingDependency
from loyaltycore.transactions import Summary, TransactionLog, summarize

#: CLV is predicted over 52 weeks, discounted at 10 % a year.
HORIZON_WEEKS: Final = 52
ANNUAL_DISCOUNT: Final = 0.10
#: Below this many customers with a repeat purchase the models are not fitted.
MIN_REPEAT_CUSTOMERS: Final = 20
#: The lifecycle flow compares today's stages with those this many months earlier.
FLOW_MONTHS: Final = 3
#: Parameters beyond these magnitudes mean a fit ran off to a boundary.
_HUGE: Final = 1e6
_TINY: Final = 1e-6


def purchases(log: TransactionLog) -> TransactionLog:
    """The log without return rows."""
    return log if log.is_return is None else log.select(~log.is_return)


def source(log: TransactionLog, name: str, as_of: datetime) -> dict[str, Any]:
    """What was read: the file, its rows, purchases and returns, and rows left out."""
    returns = 0 if log.is_return is None else int(np.sum(log.is_return))
    return {
        "name": name,
        "rows": len(log),
        "purchases": len(log) - returns,
        "returns": returns,
        "after_as_of": int(np.sum(log.at > micros(as_of))),
        "customers": log.n_customers,
    }


def overview(log: TransactionLog, summary: Summary, as_of: datetime, tz: tzinfo) -> dict[str, Any]:
    """Customers, purchases, revenue and repeat behaviour up to ``as_of``."""
    bought = purchases(log)
    revenue = int(log.amount.sum())
    try:
        within_90 = metrics.repurchase_rate(
            bought.codes, bought.at, within_days=90, as_of=as_of, tz=tz
        )
    except EmptyData:  # nobody's first 90 days are over yet
        within_90 = None
    return {
        "customers": len(summary["count"]),
        "transactions": len(bought),
        "first_purchase": _instant(int(summary["first"].min())),
        "last_purchase": _instant(int(summary["last"].max())),
        "revenue": str(Decimal(revenue).scaleb(-log.exponent)),
        "average_order_value": metrics.average_order_value(bought.amount, exponent=log.exponent),
        "purchase_frequency": metrics.purchase_frequency(bought.codes),
        "repeat_customer_share": float(np.mean(summary["frequency"] > 0)),
        "repurchase_within_90_days": within_90,
        "revenue_per_customer": metrics.arpu(
            log.amount, len(summary["count"]), exponent=log.exponent
        ),
    }


def _instant(value: int) -> str:
    from loyaltycore.calendar import from_micros

    return from_micros(value).isoformat()


def _complete(periods: Any, as_of: datetime, tz: tzinfo, period: str) -> Any:
    """Mask of the periods that ended at or before ``as_of``."""
    end = local_date(as_of, tz=tz)
    starts = [p if isinstance(p, date) else date.fromisoformat(str(p)) for p in periods.tolist()]
    return np.array([add_period(p, period) <= end for p in starts], dtype=bool)  # type: ignore[arg-type]


def retention(log: TransactionLog, as_of: datetime, tz: tzinfo, period: str) -> dict[str, Any]:
    """For the last six complete periods: customers of the previous one who bought again."""
    bought = purchases(log)
    rates = metrics.retention_rate(bought.codes, bought.at, period=period, tz=tz, as_of=as_of)  # type: ignore[arg-type]
    done = _complete(rates.period, as_of, tz, period)
    rows = np.flatnonzero(done)[-6:]
    return {
        "period": period,
        "rows": [
            {
                "period": str(rates.period[i]),
                "retained": int(rates.numerator[i]),
                "of": int(rates.denominator[i]),
                "rate": float(rates.rate[i]),
            }
            for i in rows.tolist()
        ],
    }


def cohorts(log: TransactionLog, as_of: datetime, tz: tzinfo, period: str) -> dict[str, Any]:
    """The last 12 acquisition cohorts and their shares buying in each later period."""
    bought = purchases(log)
    table = metrics.cohort_retention(bought.codes, bought.at, period=period, tz=tz, as_of=as_of)  # type: ignore[arg-type]
    rows = np.flatnonzero(np.asarray(table.size) > 0)[-12:].tolist()
    return {
        "period": period,
        "cohorts": [str(table.cohort[i]) for i in rows],
        "sizes": [int(table.size[i]) for i in rows],
        "rates": [[float(x) for x in table.rates[i][:13]] for i in rows],
        "counts": [[int(x) for x in table.counts[i][:13]] for i in rows],
    }


def _stage_counts(codes: Any) -> dict[str, int]:
    counts = np.bincount(np.asarray(codes, dtype=np.int64), minlength=len(lifecycle.Stage))
    return {stage.label: int(counts[int(stage)]) for stage in lifecycle.Stage}


def lifecycle_section(
    log: TransactionLog, summary: Summary, as_of: datetime, tz: tzinfo
) -> dict[str, Any]:
    """Stages now and ``FLOW_MONTHS`` earlier, with the moves between the two snapshots."""
    policy = lifecycle.LifecyclePolicy()
    thresholds = policy.thresholds
    assert isinstance(thresholds, lifecycle.AbsoluteDays)
    now = lifecycle.stages(summary, policy, as_of=as_of, tz=tz)
    then_at = start_of_day(add_months(local_date(as_of, tz=tz), -FLOW_MONTHS), tz=tz)
    earlier = summarize(log, as_of=then_at, unit="week", tz=tz)
    if len(earlier) == 0:
        then = np.zeros(len(summary), dtype=np.int8)  # nobody had bought: all prospects
    else:
        then = lifecycle.align_snapshot(
            lifecycle.stages(earlier, policy, as_of=then_at, tz=tz),
            earlier["customer_id"],
            summary["customer_id"],
        )
    moves = lifecycle.transition_matrix(then, now)
    return {
        "policy": repr(policy),
        "thresholds": {
            "new_days": policy.new_days,
            "at_risk": thresholds.at_risk,
            "dormant": thresholds.dormant,
            "churned": thresholds.churned,
        },
        "stages": _stage_counts(now),
        "earlier": {"as_of": then_at.isoformat(), "stages": _stage_counts(then)},
        "moves": moves.counts.tolist(),
    }


def rfm(summary: Summary) -> dict[str, Any]:
    """Customers by classic RFM segment, and by (R, FM) cell."""
    # Classic RFM: M is the customer's total spend (monetary, the CLV
    # literature's mean repeat value, is 0 for every one-time buyer).
    scores = segments.rfm_scores(
        summary["days_since_last"], summary["frequency"], summary["total"]
    )
    bins = scores.bins
    cell = (scores.r.astype(np.int64) - 1) * bins + scores.fm.astype(np.int64) - 1
    grid = np.bincount(cell, minlength=bins * bins).reshape(bins, bins)
    return {
        "segments": segments.RFM_SEGMENTS.assign(scores).counts(),
        "grid": grid.tolist(),
    }


# -- customer lifetime value ---------------------------------------------------------------


def clv_note(reason: str, note: str, advice: str) -> dict[str, Any]:
    """The CLV section when there is no estimate: why, and what to do."""
    return {"reason": reason, "note": note, "advice": advice}


def _problem(model: Any) -> str | None:
    """Why a fitted model cannot be trusted, or None."""
    info = model.fit_info
    for name in info.parameter_names:
        value = float(getattr(model, name))
        error = info.standard_errors[name]
        if not math.isfinite(value) or not _TINY <= value <= _HUGE:
            return f"{name} = {value:.3g} is at the edge of what the model allows"
        if not math.isfinite(error):
            return f"the standard error of {name} = {value:.3g} cannot be computed"
    return None


def clv(summary: Summary, top: int) -> dict[str, Any]:
    """BG/NBD and Gamma-Gamma fits, lifetime values and the top customers, or a note."""
    customers = len(summary)
    repeat = int(np.sum(summary["frequency"] > 0))
    if repeat < MIN_REPEAT_CUSTOMERS:
        return clv_note(
            "few_repeat_customers",
            f"Not estimated: only {repeat:,} of {customers:,} customers bought more than "
            f"once; the models need at least {MIN_REPEAT_CUSTOMERS} customers with a repeat "
            "purchase to tell how often people buy and when they stop.",
            "report on a longer history (or more customers), or pass --no-clv to skip "
            "this section.",
        )
    try:
        return _fit(summary, top)
    except MissingDependency as exc:
        return clv_note(
            "missing_dependency",
            f"Not estimated: {exc}.",
            "install the extra, or pass --no-clv to skip this section.",
        )
    except (ConvergenceError, EmptyData, InvalidColumn) as exc:
        return _degenerate(str(exc).splitlines()[0])


def _degenerate(why: str) -> dict[str, Any]:
    return clv_note(
        "degenerate_fit",
        f"Not estimated: the fit is degenerate ({why.rstrip('.')}). The customers' histories "
        "are too alike, or too short, for the models to separate how often people buy "
        "from when they stop.",
        "check the as-of date and the timestamp column, report on a longer history, or "
        "pass --no-clv to skip this section.",
    )


def _fit(summary: Summary, top: int) -> dict[str, Any]:
    from loyaltycore import clv as models

    purchases_model = models.BetaGeo.fit(summary)
    # Gamma-Gamma needs a positive mean spend: customers whose repeat
    # purchases were all free (CDNOW has $0 orders) stay out of the fit.
    fit_rows = (summary["frequency"] > 0) & (summary["monetary"] > 0)
    if int(fit_rows.sum()) < MIN_REPEAT_CUSTOMERS:
        return _degenerate(f"only {int(fit_rows.sum())} repeat customers spent anything")
    spend = models.GammaGamma.fit(
        frequency=summary["frequency"][fit_rows], monetary=summary["monetary"][fit_rows]
    )
    for name, model in (("BG/NBD", purchases_model), ("Gamma-Gamma", spend)):
        problem = _problem(model)
        if problem is not None:
            return _degenerate(f"{name}: {problem}")
    value = models.customer_lifetime_value(
        purchases_model,
        spend,
        summary,
        horizon=float(HORIZON_WEEKS),
        unit="week",
        discount_rate=ANNUAL_DISCOUNT,
        rate_unit="year",
    )
    expected = purchases_model.expected_purchases(float(HORIZON_WEEKS), summary)
    alive = purchases_model.p_alive(summary)
    if not (np.isfinite(value).all() and np.isfinite(expected).all()):
        return _degenerate("some predicted values are not finite")
    check = models.period_transactions(purchases_model, summary)
    order = np.lexsort((np.arange(len(value)), -value))[:top]
    ids = summary["customer_id"]
    return {
        "horizon_weeks": HORIZON_WEEKS,
        "discount_rate_per_year": ANNUAL_DISCOUNT,
        "bg_nbd": _model(purchases_model),
        "gamma_gamma": _model(spend),
        "gamma_gamma_customers": int(fit_rows.sum()),
        "total_clv": float(np.sum(value)),
        "mean_clv": float(np.mean(value)),
        "median_clv": float(np.median(value)),
        "period_transactions": {
            "repeat_purchases": [int(k) for k in check.repeat_purchases],
            "actual": [int(k) for k in check.actual],
            "model": [float(k) for k in check.model],
        },
        "top": [
            {
                "customer_id": ids[i],
                "frequency": int(summary["frequency"][i]),
                "recency_weeks": float(summary["recency"][i]),
                "T_weeks": float(summary["T"][i]),
                "monetary": float(summary["monetary"][i]),
                "p_alive": float(alive[i]),
                "expected_purchases": float(expected[i]),
                "clv": float(value[i]),
            }
            for i in order.tolist()
        ],
        "clv_values": [float(v) for v in np.sort(value)],
    }


def _model(model: Any) -> dict[str, Any]:
    info = model.fit_info
    names = info.parameter_names
    return {
        "parameters": {name: float(getattr(model, name)) for name in names},
        "standard_errors": {name: float(info.standard_errors[name]) for name in names},
        "log_likelihood": float(info.log_likelihood),
    }
