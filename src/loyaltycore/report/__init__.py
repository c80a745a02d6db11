"""``python -m loyaltycore report``: a program's KPIs from one transaction file.

The report is what a new user runs first. From a CSV of transactions (or the
bundled sample program) it prints customers, transactions, revenue, order
value, frequency, repurchase and retention rates, a cohort retention table,
the lifecycle stage distribution, RFM segment counts and — with the ``clv``
extra — fitted BG/NBD and Gamma-Gamma parameters and the top customers by
predicted lifetime value. ``--format json`` gives the same figures as
canonical JSON (byte-identical across runs); ``--format html`` writes
``report.html`` with charts when the ``plot`` extra is installed.

>>> report = build_report(load_sample(), tz=SAMPLE_TZ, fit_clv=False)
>>> report.data["overview"]["customers"] > 0
True
>>> print(report.to_text().splitlines()[0])
loyaltycore report
"""

from __future__ import annotations

import argparse
import html
import importlib.resources
import json
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, TextIO

import attrs
import numpy as np

from loyaltycore import lifecycle, metrics, segments
from loyaltycore._public import publish
from loyaltycore._validate import check_int
from loyaltycore.calendar import add_period, from_micros, local_date, start_of_day, to_utc, zone
from loyaltycore.errors import EmptyData, InvalidArgument, LoyaltyError, MissingDependency
from loyaltycore.transactions import Summary, TransactionLog, summarize

__all__ = [
    "Report",
    "SAMPLE_TZ",
    "build_report",
    "load_sample",
    "main",
    "sample_path",
]

#: The bundled sample program's zone.
SAMPLE_TZ: Final = "Europe/Berlin"
_SAMPLE: Final = "sample_transactions.csv"
_FLOAT_DIGITS: Final = 6
#: CLV is discounted at 10% a year, compounded weekly.
_ANNUAL_DISCOUNT: Final = 0.10
_WEEKLY_DISCOUNT: Final = (1 + _ANNUAL_DISCOUNT) ** (1 / 52) - 1

Progress = Callable[[str], None]


def sample_path() -> Path:
    """The bundled sample program's transactions (CSV, shipped as package data).

    >>> sample_path().name
    'sample_transactions.csv'
    """
    return Path(str(importlib.resources.files("loyaltycore") / "data" / _SAMPLE))


def load_sample() -> TransactionLog:
    """The bundled sample program as a :class:`~loyaltycore.transactions.TransactionLog`.

    It was made by :func:`loyaltycore.simulate.simulate` (see
    ``tests/test_report.py``, which checks the file against a fresh simulation).

    >>> log = load_sample()
    >>> len(log) > 1000
    True
    """
    return TransactionLog.from_csv(
        sample_path(),
        customer="customer_id",
        at="timestamp",
        category="category",
        channel="channel",
    )


def _clean(value: Any) -> Any:
    """JSON-safe, deterministic plain data: floats rounded, NaN as None."""
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_clean(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return _clean(value.item())
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return round(value, _FLOAT_DIGITS) + 0.0
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


@attrs.frozen
class Report:
    """The figures of a report as plain data, with text, JSON and HTML renderings.

    >>> report = build_report(load_sample(), tz=SAMPLE_TZ, fit_clv=False)
    >>> sorted(report.data)
    ['as_of', 'clv', 'cohorts', 'lifecycle', 'overview', 'retention', 'rfm', 'tz']
    >>> report.to_json() == build_report(load_sample(), tz=SAMPLE_TZ, fit_clv=False).to_json()
    True
    """

    data: Mapping[str, Any]

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, floats rounded to 6 digits, one trailing newline."""
        return json.dumps(self.data, sort_keys=True, indent=2, allow_nan=False) + "\n"

    def to_text(self) -> str:
        """The report as aligned text for a terminal."""
        return _render_text(self.data)

    def write_html(self, out: str | Path) -> Path:
        """Write ``report.html`` (and PNG charts with the ``plot`` extra) into ``out``."""
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        charts = _write_charts(self.data, folder)
        page = folder / "report.html"
        page.write_text(_render_html(self.data, charts), encoding="utf-8")
        return page


# -- building -----------------------------------------------------------------


def _default_as_of(log: TransactionLog, tz: tzinfo) -> datetime:
    """The first instant of the local day after the last transaction."""
    last = from_micros(int(log.at.max()))
    return start_of_day(local_date(last, tz) + timedelta(days=1), tz)


def _purchases(log: TransactionLog) -> TransactionLog:
    """The log without return rows."""
    return log if log.is_return is None else log.select(~log.is_return)


def _overview(
    log: TransactionLog, summary: Summary, as_of: datetime, tz: tzinfo
) -> dict[str, Any]:
    bought = _purchases(log)
    revenue = int(log.amount.sum())
    try:
        within_90 = metrics.repurchase_rate(
            bought.codes, bought.at, within_days=90, as_of=as_of, tz=tz
        )
    except EmptyData:
        within_90 = None
    return {
        "customers": len(summary["count"]),
        "transactions": len(bought),
        "first_purchase": from_micros(int(summary["first"].min())).isoformat(),
        "last_purchase": from_micros(int(summary["last"].max())).isoformat(),
        "revenue": str(Decimal(revenue).scaleb(-log.exponent)),
        "average_order_value": metrics.average_order_value(bought.amount, exponent=log.exponent),
        "purchase_frequency": metrics.purchase_frequency(bought.codes),
        "repeat_customer_share": float(np.mean(summary["frequency"] > 0)),
        "repurchase_within_90_days": within_90,
        "revenue_per_customer": metrics.arpu(
            log.amount, len(summary["count"]), exponent=log.exponent
        ),
    }


def _complete(periods: Any, as_of: datetime, tz: tzinfo, period: str) -> Any:
    """Mask of the periods that ended at or before ``as_of``."""
    end = local_date(as_of, tz)
    starts = [p if isinstance(p, date) else date.fromisoformat(str(p)) for p in periods.tolist()]
    return np.array([add_period(p, period) <= end for p in starts], dtype=bool)  # type: ignore[arg-type]


def _retention(log: TransactionLog, as_of: datetime, tz: tzinfo, period: str) -> dict[str, Any]:
    bought = _purchases(log)
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


def _cohorts(log: TransactionLog, as_of: datetime, tz: tzinfo, period: str) -> dict[str, Any]:
    bought = _purchases(log)
    table = metrics.cohort_retention(bought.codes, bought.at, period=period, tz=tz, as_of=as_of)  # type: ignore[arg-type]
    rows = np.flatnonzero(np.asarray(table.size) > 0)[-12:].tolist()
    return {
        "period": period,
        "cohorts": [str(table.cohort[i]) for i in rows],
        "sizes": [int(table.size[i]) for i in rows],
        "rates": [[float(x) for x in table.rates[i][:13]] for i in rows],
    }


def _lifecycle(summary: Summary, as_of: datetime, tz: tzinfo) -> dict[str, Any]:
    policy = lifecycle.LifecyclePolicy()
    codes = lifecycle.stages(summary, policy, as_of=as_of, tz=tz)
    counts = np.bincount(codes.astype(np.int64), minlength=len(lifecycle.Stage))
    return {
        "policy": repr(policy),
        "stages": {stage.label: int(counts[int(stage)]) for stage in lifecycle.Stage},
    }


def _rfm(summary: Summary) -> dict[str, Any]:
    # Classic RFM: M is the customer's total spend (monetary, the CLV
    # literature's mean repeat value, is 0 for every one-time buyer).
    scores = segments.rfm_scores(
        summary["days_since_last"], summary["frequency"], summary["total"]
    )
    return {"segments": segments.RFM_SEGMENTS.assign(scores).counts()}


def _clv(summary: Summary, top: int) -> dict[str, Any]:
    from loyaltycore import clv

    purchases = clv.BetaGeo.fit(summary)
    # Gamma-Gamma needs a positive mean spend: customers whose repeat
    # purchases were all free (CDNOW has $0 orders) stay out of the fit.
    fit_rows = (summary["frequency"] > 0) & (summary["monetary"] > 0)
    spend = clv.GammaGamma.fit(
        frequency=summary["frequency"][fit_rows], monetary=summary["monetary"][fit_rows]
    )
    value = clv.customer_lifetime_value(
        purchases, spend, summary, horizon=52.0, unit="week", discount_rate=_WEEKLY_DISCOUNT
    )
    expected = purchases.expected_purchases(52.0, summary)
    alive = purchases.p_alive(summary)
    order = np.lexsort((np.arange(len(value)), -value))[:top]
    ids = summary["customer_id"]
    return {
        "horizon_weeks": 52,
        "discount_rate_per_year": _ANNUAL_DISCOUNT,
        "bg_nbd": _model(purchases),
        "gamma_gamma": _model(spend),
        "gamma_gamma_customers": int(fit_rows.sum()),
        "mean_clv": float(np.mean(value)),
        "top": [
            {
                "customer_id": _clean(ids[i]),
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


def build_report(
    log: TransactionLog,
    *,
    as_of: datetime | date | None = None,
    tz: str | tzinfo = "UTC",
    period: str = "month",
    top: int = 10,
    fit_clv: bool = True,
    progress: Progress | None = None,
) -> Report:
    """Compute every figure of the report.

    Args:
        log: the transactions.
        as_of: end of observation (aware datetime, or a local date in ``tz``);
            default: the local day after the last transaction.
        tz: the program's zone, in which days, cohorts and periods are counted.
        period: "month" or "quarter", for retention and cohorts.
        top: how many top customers by predicted CLV to list.
        fit_clv: fit BG/NBD and Gamma-Gamma (needs the ``clv`` extra; skipped
            with a note when scipy is missing).
        progress: called with the name of each step as it starts.

    Returns:
        A :class:`Report`.

    Raises:
        InvalidArgument: an empty log, an unknown zone or period, ``top`` < 1,
            or an ``as_of`` with no UTC instant (years 1 and 9999 at the ends).
        EmptyData: no purchase at or before ``as_of``.

    >>> report = build_report(load_sample(), tz=SAMPLE_TZ, fit_clv=False, top=3)
    >>> report.data["clv"]["note"]
    'not fitted (fit_clv=False)'
    """
    zone_ = zone(tz)
    check_int(top, "top", minimum=1)
    if period not in ("month", "quarter"):
        raise InvalidArgument(f"period={period!r} must be 'month' or 'quarter'", field="period")
    if len(log) == 0:
        raise InvalidArgument("the transaction log is empty", field="log")
    step = progress or (lambda _: None)
    when = _default_as_of(log, zone_) if as_of is None else _as_of(as_of, zone_)
    step("summarize")
    summary = summarize(log, as_of=when, unit="week", tz=zone_)
    if len(summary) == 0:
        raise EmptyData(
            f"as_of={when.isoformat()} is before the first purchase; nothing to report",
            field="as_of",
            value=when,
        )
    data: dict[str, Any] = {
        "as_of": when.isoformat(),
        "tz": str(getattr(zone_, "key", "UTC")),
    }
    step("overview")
    data["overview"] = _overview(log, summary, when, zone_)
    step("retention")
    data["retention"] = _retention(log, when, zone_, period)
    step("cohorts")
    data["cohorts"] = _cohorts(log, when, zone_, period)
    step("lifecycle")
    data["lifecycle"] = _lifecycle(summary, when, zone_)
    step("rfm")
    data["rfm"] = _rfm(summary)
    if not fit_clv:
        data["clv"] = {"note": "not fitted (fit_clv=False)"}
    else:
        step("clv")
        try:
            data["clv"] = _clv(summary, top)
        except MissingDependency as exc:
            data["clv"] = {"note": str(exc)}
    return Report(_clean(data))


def _as_of(value: datetime | date, tz: tzinfo) -> datetime:
    try:
        if isinstance(value, datetime):
            return to_utc(value, "as_of")
        return start_of_day(value, tz)
    except OverflowError:  # at the very ends of the calendar
        raise InvalidArgument(
            f"as_of={value.isoformat()} falls outside the years 1 to 9999 in UTC",
            field="as_of",
            value=value,
        ) from None


# -- rendering ----------------------------------------------------------------


def _visible(text: str) -> str:
    """``text`` with control and other unprintable characters as escapes.

    Customer ids come from the user's file: a line break, a tab or a
    terminal escape sequence in one must not break a table or restyle the
    terminal.
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def _fmt(value: Any) -> str:
    """A cell of the text and HTML tables (HTML escapes it in addition)."""
    if isinstance(value, float):
        return f"{value:,.4f}" if abs(value) < 1 else f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "-" if value is None else _visible(str(value))


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    cells = [list(header)] + [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = []
    for n, row in enumerate(cells):
        first = row[0].ljust(widths[0])
        rest = [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        lines.append("  " + "  ".join([first, *rest]))
        if n == 0:
            lines.append("  " + "  ".join("-" * w for w in widths))
    return lines


def _render_text(data: Mapping[str, Any]) -> str:
    out = ["loyaltycore report", f"as of {data['as_of']} ({data['tz']})", ""]
    overview = data["overview"]
    out.append("Overview")
    out += _table(["figure", "value"], [[k.replace("_", " "), v] for k, v in overview.items()])
    retention = data["retention"]
    out += ["", f"Retention (customers of one {retention['period']} who bought in the next)"]
    out += _table(
        ["period", "retained", "of", "rate"],
        [[r["period"], r["retained"], r["of"], r["rate"]] for r in retention["rows"]],
    )
    cohorts = data["cohorts"]
    out += [
        "",
        f"Cohort retention (share of each {cohorts['period']}'s new customers buying again)",
    ]
    width = max((len(r) for r in cohorts["rates"]), default=0)
    header = ["cohort", "size", *[f"+{k}" for k in range(width)]]
    rows = [
        [c, s, *[("-" if x is None else f"{x:.0%}") for x in r]]
        for c, s, r in zip(cohorts["cohorts"], cohorts["sizes"], cohorts["rates"], strict=True)
    ]
    out += _table(header, rows)
    out += [
        "",
        "Lifecycle stages",
        *_table(["stage", "members"], list(data["lifecycle"]["stages"].items())),
    ]
    out += [
        "",
        "RFM segments",
        *_table(["segment", "customers"], list(data["rfm"]["segments"].items())),
    ]
    clv = data["clv"]
    out += ["", "Customer lifetime value"]
    if "note" in clv:
        out.append(f"  {clv['note']}")
    else:
        for name in ("bg_nbd", "gamma_gamma"):
            model = clv[name]
            params = ", ".join(
                f"{k} = {v:.3f} ({model['standard_errors'][k]:.3f})"
                for k, v in model["parameters"].items()
            )
            out.append(f"  {name}: {params}; log-likelihood {model['log_likelihood']:.1f}")
        out.append(
            f"  mean CLV over {clv['horizon_weeks']} weeks "
            f"(discounted at {clv['discount_rate_per_year']:.0%} a year): {_fmt(clv['mean_clv'])}"
        )
        rows = [
            [t["customer_id"], t["frequency"], t["p_alive"], t["expected_purchases"], t["clv"]]
            for t in clv["top"]
        ]
        out += _table(["customer", "repeat", "p_alive", "expected", "clv"], rows)
    return "\n".join(out) + "\n"


def _write_charts(data: Mapping[str, Any], folder: Path) -> dict[str, str]:
    try:
        from loyaltycore.report import _plots
    except MissingDependency:
        return {}
    return _plots.write_all(data, folder)


def _html_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_CSS: Final = (
    "body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}"
    "td,th{padding:4px 10px;border-bottom:1px solid #ddd;text-align:right}"
    "td:first-child,th:first-child{text-align:left}img{max-width:100%}"
)


def _render_html(data: Mapping[str, Any], charts: Mapping[str, str]) -> str:
    when = f"as of {html.escape(data['as_of'])} ({html.escape(data['tz'])})"
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>loyaltycore report</title>",
        f"<style>{_CSS}</style>",
        "</head><body>",
        f"<h1>loyaltycore report</h1><p>{when}</p>",
        "<h2>Overview</h2>",
        _html_table(
            ["figure", "value"], [[k.replace("_", " "), v] for k, v in data["overview"].items()]
        ),
        "<h2>Cohort retention</h2>",
    ]
    if "cohorts" in charts:
        parts.append(f"<img src='{charts['cohorts']}' alt='cohort retention heatmap'>")
    cohorts = data["cohorts"]
    width = max((len(r) for r in cohorts["rates"]), default=0)
    parts.append(
        _html_table(
            ["cohort", "size", *[f"+{k}" for k in range(width)]],
            [
                [c, s, *[("-" if x is None else f"{x:.0%}") for x in r]]
                for c, s, r in zip(
                    cohorts["cohorts"], cohorts["sizes"], cohorts["rates"], strict=True
                )
            ],
        )
    )
    for key, title in (("lifecycle", "Lifecycle stages"), ("rfm", "RFM segments")):
        parts.append(f"<h2>{title}</h2>")
        if key in charts:
            parts.append(f"<img src='{charts[key]}' alt='{html.escape(title)}'>")
        table = data[key]["stages" if key == "lifecycle" else "segments"]
        parts.append(_html_table(["name", "count"], list(table.items())))
    parts.append("<h2>Customer lifetime value</h2>")
    clv = data["clv"]
    if "note" in clv:
        parts.append(f"<p>{html.escape(clv['note'])}</p>")
    else:
        if "clv" in charts:
            parts.append(f"<img src='{charts['clv']}' alt='CLV distribution'>")
        parts.append(
            _html_table(
                ["customer", "repeat", "p_alive", "expected", "clv"],
                [
                    [
                        t["customer_id"],
                        t["frequency"],
                        t["p_alive"],
                        t["expected_purchases"],
                        t["clv"],
                    ]
                    for t in clv["top"]
                ],
            )
        )
    if not charts:
        parts.append("<p>Charts need the plot extra: pip install 'loyaltycore[plot]'</p>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


# -- command line -------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m loyaltycore report",
        description="KPIs, cohorts, lifecycle stages, RFM segments and CLV of a transaction file.",
    )
    parser.add_argument("csv", nargs="?", help="transactions file (default: the bundled sample)")
    parser.add_argument("--customer", default="customer_id", help="customer id column")
    parser.add_argument("--at", default="timestamp", help="timestamp column")
    parser.add_argument("--amount", default="amount", help="amount column (currency units)")
    parser.add_argument("--category", help="category column (optional)")
    parser.add_argument("--channel", help="channel column (optional)")
    parser.add_argument("--date-format", help="strptime format of the timestamps, e.g. %%Y%%m%%d")
    parser.add_argument(
        "--delimiter", default=",", help="field separator; 'whitespace' for runs of spaces"
    )
    parser.add_argument("--tz", default=None, help="program time zone (IANA), default UTC")
    parser.add_argument("--as-of", help="end of observation, YYYY-MM-DD (local) or ISO datetime")
    parser.add_argument("--period", choices=["month", "quarter"], default="month")
    parser.add_argument("--top", type=int, default=10, help="top customers by CLV to list")
    parser.add_argument("--no-clv", action="store_true", help="skip the CLV model fits")
    parser.add_argument("--format", choices=["text", "json", "html"], default="text")
    parser.add_argument("--out", help="folder for report.html / report.json / report.txt")
    return parser


def _parse_as_of(text: str) -> datetime | date:
    try:
        return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        raise InvalidArgument(
            f"--as-of={text!r} is not an ISO date or datetime", field="as_of"
        ) from None


def _load(args: argparse.Namespace, tz: str) -> TransactionLog:
    if args.csv is None:
        return load_sample()
    log = TransactionLog.from_csv(
        args.csv,
        customer=args.customer,
        at=args.at,
        amount=args.amount,
        category=args.category,
        channel=args.channel,
        tz=tz,
        at_format=args.date_format,
        delimiter=None if args.delimiter == "whitespace" else args.delimiter,
    )
    if len(log) == 0:
        raise EmptyData(f"{args.csv}: no transactions, only a header", field="csv")
    return log


def _error_line(exc: LoyaltyError) -> str:
    """One line: errors from reading a file already name its path, line and column."""
    return f"loyaltycore report: {str(exc).splitlines()[0]}"


def _progress(stream: TextIO) -> Progress:
    started = time.perf_counter()

    def report(step: str) -> None:
        stream.write(f"\r[{time.perf_counter() - started:6.1f}s] {step:<12}")
        stream.flush()

    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``report`` with command-line arguments; return the exit status.

    Exit status 2 and one line naming the file, line and column on a bad
    input file.

    >>> main(["--no-clv", "--format", "json", "--top", "3"])  # doctest: +ELLIPSIS
    {
      "as_of": ...
    0
    """
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    tz = args.tz or (SAMPLE_TZ if args.csv is None else "UTC")
    interactive = sys.stderr.isatty()
    try:
        log = _load(args, tz)
        as_of = None if args.as_of is None else _parse_as_of(args.as_of)
        report = build_report(
            log,
            as_of=as_of,
            tz=tz,
            period=args.period,
            top=args.top,
            fit_clv=not args.no_clv,
            progress=_progress(sys.stderr) if interactive else None,
        )
    except (LoyaltyError, OSError) as exc:
        if interactive:
            sys.stderr.write("\n")
        if isinstance(exc, OSError):
            print(f"loyaltycore report: {args.csv}: {exc.strerror}", file=sys.stderr)
        else:
            print(_error_line(exc), file=sys.stderr)
        return 2
    if interactive:
        sys.stderr.write("\r" + " " * 24 + "\r")
    text = {"text": report.to_text, "json": report.to_json}.get(args.format)
    if args.out:
        folder = Path(args.out)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "report.json").write_text(report.to_json(), encoding="utf-8")
        (folder / "report.txt").write_text(report.to_text(), encoding="utf-8")
        page = report.write_html(folder)
        if args.format == "html":
            print(page)
            return 0
    elif args.format == "html":
        print(report.write_html(Path("report_out")))
        return 0
    assert text is not None
    sys.stdout.write(text())
    return 0


publish(__name__, __all__, globals())
