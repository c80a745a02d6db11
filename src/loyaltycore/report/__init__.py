"""``python -m loyaltycore report``: a program's KPIs from one transaction file.

The report is what a new user runs first. From a CSV of transactions (or the
bundled sample program) it gives, each figure with its unit and each name
with what it means and what to do about it:

* the data read (file, rows, purchases, returns, customers, dates) and the
  as-of instant on the program's clock;
* customers, purchases, revenue, order value, frequency and repurchase;
* retention from one month (or quarter) to the next, and a cohort table;
* lifecycle stages now and three months earlier, with the biggest moves;
* RFM segments on the R x FM grid;
* with the ``clv`` extra: fitted BG/NBD and Gamma-Gamma parameters, the
  predicted value of the customer base over 52 weeks, a model check and the
  top customers — or, when the data cannot support the models (too few
  repeat customers, a degenerate fit), a note saying why and what to do.

``--format json`` gives the same figures as canonical JSON (byte-identical
across runs); ``--format html --out FOLDER`` writes ``report.html`` with
every table of the text and, with the ``plot`` extra, its charts.

>>> report = build_report(load_sample(), tz=SAMPLE_TZ, fit_clv=False)
>>> report.data["overview"]["customers"] > 0
True
>>> print(report.to_text().splitlines()[0])
loyaltycore report
"""

from __future__ import annotations

import argparse
import importlib.resources
import json
import math
import sys
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import attrs
import numpy as np

from loyaltycore._public import publish
from loyaltycore._validate import check_int, type_name
from loyaltycore.calendar import from_micros, local_date, micros, start_of_day, to_utc, zone
from loyaltycore.errors import (
    EmptyData,
    InvalidArgument,
    InvalidType,
    LoyaltyError,
    MissingDependency,
)
from loyaltycore.progress import Progress, ProgressBar, check_progress
from loyaltycore.report import _build, _html, _text
from loyaltycore.report._campaign import CampaignReport, build_campaign_report, campaign_main
from loyaltycore.transactions import TransactionLog, summarize

__all__ = [
    "CampaignReport",
    "Report",
    "SAMPLE_TZ",
    "build_campaign_report",
    "build_report",
    "campaign_main",
    "load_sample",
    "main",
    "sample_path",
]

#: The bundled sample program's zone.
SAMPLE_TZ: Final = "Europe/Berlin"
#: The bundled sample program's currency.
SAMPLE_CURRENCY: Final = "EUR"
_SAMPLE: Final = "sample_transactions.csv"
_SAMPLE_NAME: Final = "the bundled sample program (sample_transactions.csv)"
_FLOAT_DIGITS: Final = 6
#: From this many rows on, the command draws a progress bar (on a terminal).
_LARGE: Final = 100_000
_STEPS: Final = ("summarize", "overview", "retention", "cohorts", "lifecycle", "rfm", "clv")


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
    >>> sorted(report.data)  # doctest: +NORMALIZE_WHITESPACE
    ['as_of', 'clv', 'cohorts', 'currency', 'lifecycle', 'overview', 'retention', 'rfm',
     'source', 'tz']
    >>> report.to_json() == build_report(load_sample(), tz=SAMPLE_TZ, fit_clv=False).to_json()
    True
    """

    data: Mapping[str, object]

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, floats rounded to 6 digits, one trailing newline."""
        return json.dumps(self.data, sort_keys=True, indent=2, allow_nan=False) + "\n"

    def to_text(self) -> str:
        """The report as aligned text for a terminal."""
        return _text.render(self.data)

    def write_html(self, out: str | Path) -> Path:
        """Write ``report.html`` and its PNG charts into the folder ``out``; return the page.

        Without the ``plot`` extra the page has every table and a note
        naming the ``pip install`` that adds the charts.
        """
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        try:
            from loyaltycore.report import _charts

            charts, note = _charts.write_all(self.data, folder), ""
        except MissingDependency as exc:
            charts, note = {}, f"No charts: {exc}."
        page = folder / "report.html"
        page.write_text(_html.render(self.data, charts, note), encoding="utf-8")
        return page


# -- building -----------------------------------------------------------------


def _default_as_of(log: TransactionLog, tz: tzinfo) -> datetime:
    """The first instant of the local day after the last transaction."""
    last = from_micros(int(log.at.max()))
    return start_of_day(local_date(last, tz=tz) + timedelta(days=1), tz=tz)


def _label(value: object, name: str) -> str | None:
    """An optional short label (a currency code, a source name): printable text."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidType(f"{name}={value!r} must be a str or None", field=name, value=value)
    if not value.strip() or (name == "currency" and (len(value) > 8 or not value.isprintable())):
        raise InvalidArgument(
            f"{name}={value!r} must be a short printable label such as 'USD'",
            field=name,
            value=value,
        )
    return value


def build_report(
    log: TransactionLog,
    *,
    as_of: datetime | date | None = None,
    tz: str | tzinfo = "UTC",
    period: str = "month",
    top: int = 10,
    fit_clv: bool = True,
    currency: str | None = None,
    source: str | None = None,
    progress: Progress | None = None,
) -> Report:
    """Compute every figure of the report.

    Args:
        log: the transactions.
        as_of: end of observation (aware datetime, or a local date in ``tz``);
            default: the local day after the last transaction. Rows after it
            are left out, and counted in the source line.
        tz: the program's zone, in which days, cohorts and periods are counted.
        period: "month" or "quarter", for retention and cohorts.
        top: how many top customers by predicted CLV to list.
        fit_clv: fit BG/NBD and Gamma-Gamma (needs the ``clv`` extra). When the
            data cannot support the models, the CLV section is a note saying
            why and what to do, and the rest of the report is unchanged.
        currency: the currency code of the amounts ("USD"), shown with every
            amount.
        source: where the transactions came from (a file name), shown at the top.
        progress: called as ``(done, total, stage)`` after each step
            (:mod:`loyaltycore.progress`); raising from it cancels.

    Returns:
        A :class:`Report`.

    Raises:
        InvalidArgument: an empty log, an unknown zone or period, ``top`` < 1,
            a bad currency, or an ``as_of`` with no UTC instant (years 1 and
            9999 at the ends).
        EmptyData: no purchase at or before ``as_of``.

    >>> report = build_report(load_sample(), tz=SAMPLE_TZ, fit_clv=False, top=3)
    >>> report.data["clv"]["note"]
    'Not estimated: skipped on request (fit_clv=False, or --no-clv).'
    """
    zone_ = zone(tz)
    check_int(top, "top", minimum=1)
    if period not in ("month", "quarter"):
        raise InvalidArgument(f"period={period!r} must be 'month' or 'quarter'", field="period")
    if not isinstance(fit_clv, bool):
        raise InvalidType(
            f"fit_clv={fit_clv!r} must be True or False, not {type_name(fit_clv)}",
            field="fit_clv",
            value=fit_clv,
        )
    cur = _label(currency, "currency")
    name = _label(source, "source") or "a transaction log given in Python"
    report_progress = check_progress(progress)
    if len(log) == 0:
        raise InvalidArgument("the transaction log is empty", field="log")
    when = _default_as_of(log, zone_) if as_of is None else _as_of(as_of, zone_)
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        if report_progress is not None:
            report_progress(done, len(_STEPS), _STEPS[done - 1])

    summary = summarize(log, as_of=when, unit="week", tz=zone_)
    if len(summary) == 0:
        raise EmptyData(
            f"as_of={when.isoformat()} is before the first purchase; nothing to report",
            field="as_of",
            value=when,
        )
    step()
    seen = log.select(log.at <= micros(when))
    data: dict[str, Any] = {
        "as_of": when.isoformat(),
        "tz": str(getattr(zone_, "key", "UTC")),
        "currency": cur,
        "source": _build.source(log, name, when),
    }
    data["overview"] = _build.overview(seen, summary, when, zone_)
    step()
    data["retention"] = _build.retention(seen, when, zone_, period)
    step()
    data["cohorts"] = _build.cohorts(seen, when, zone_, period)
    step()
    data["lifecycle"] = _build.lifecycle_section(seen, summary, when, zone_)
    step()
    data["rfm"] = _build.rfm(summary)
    step()
    if fit_clv:
        data["clv"] = _build.clv(summary, top)
    else:
        data["clv"] = _build.clv_note(
            "not_requested",
            "Not estimated: skipped on request (fit_clv=False, or --no-clv).",
            "run without --no-clv (with the clv extra installed) for lifetime values.",
        )
    step()
    return Report(_clean(data))


def _as_of(value: datetime | date, tz: tzinfo) -> datetime:
    try:
        if isinstance(value, datetime):
            return to_utc(value, "as_of")
        return start_of_day(value, tz=tz)
    except OverflowError:  # at the very ends of the calendar
        raise InvalidArgument(
            f"as_of={value.isoformat()} falls outside the years 1 to 9999 in UTC",
            field="as_of",
            value=value,
        ) from None


# -- command line -------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m loyaltycore report",
        description="KPIs, cohorts, lifecycle stages, RFM segments and CLV of a transaction file.",
    )
    parser.add_argument(
        "csv", nargs="?", help="transactions file, CSV or .parquet (default: the bundled sample)"
    )
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
    parser.add_argument("--currency", help="currency code of the amounts, e.g. USD")
    parser.add_argument("--no-clv", action="store_true", help="skip the CLV model fits")
    parser.add_argument("--format", choices=["text", "json", "html"], default="text")
    parser.add_argument(
        "--out", help="folder for report.html (with its charts), report.json and report.txt"
    )
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
    if Path(args.csv).suffix.lower() in (".parquet", ".pq"):
        log = TransactionLog.from_parquet(
            args.csv,
            customer=args.customer,
            at=args.at,
            amount=args.amount,
            category=args.category,
            channel=args.channel,
            tz=tz,
        )
    else:
        log = _read_csv(args, tz)
    if len(log) == 0:
        raise EmptyData(f"{args.csv}: no transactions, only a header", field="csv")
    return log


def _read_csv(args: argparse.Namespace, tz: str) -> TransactionLog:
    return TransactionLog.from_csv(
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


def _error_line(exc: LoyaltyError) -> str:
    """One line: errors from reading a file already name its path, line and column."""
    return f"loyaltycore report: {str(exc).splitlines()[0]}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``report`` with command-line arguments; return the exit status.

    Exit status 2 and one line naming the file, line and column on a bad
    input file. ``--format html`` needs ``--out``; the command prints the
    path of the page it wrote. On a terminal, a file of 100,000 rows or more
    gets a progress bar on standard error.

    >>> main(["--no-clv", "--format", "json", "--top", "3"])  # doctest: +ELLIPSIS
    {
      "as_of": ...
    0
    """
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    tz = args.tz or (SAMPLE_TZ if args.csv is None else "UTC")
    currency = args.currency or (SAMPLE_CURRENCY if args.csv is None else None)
    bar = None
    try:
        if args.format == "html" and not args.out:
            raise InvalidArgument(
                "--format html needs --out FOLDER: where to write report.html and its charts",
                field="out",
            )
        log = _load(args, tz)
        as_of = None if args.as_of is None else _parse_as_of(args.as_of)
        if sys.stderr.isatty() and len(log) >= _LARGE:
            bar = ProgressBar(sys.stderr)
        report = build_report(
            log,
            as_of=as_of,
            tz=tz,
            period=args.period,
            top=args.top,
            fit_clv=not args.no_clv,
            currency=currency,
            source=_SAMPLE_NAME if args.csv is None else args.csv,
            progress=bar,
        )
    except (LoyaltyError, OSError) as exc:
        if bar is not None:
            sys.stderr.write("\n")
        if isinstance(exc, OSError):
            print(f"loyaltycore report: {args.csv}: {exc.strerror}", file=sys.stderr)
        else:
            print(_error_line(exc), file=sys.stderr)
        return 2
    if args.out:
        folder = Path(args.out)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "report.json").write_text(report.to_json(), encoding="utf-8")
        (folder / "report.txt").write_text(report.to_text(), encoding="utf-8")
        page = report.write_html(folder)
        if args.format == "html":
            print(page)
            return 0
    sys.stdout.write(report.to_json() if args.format == "json" else report.to_text())
    return 0


publish(__name__, __all__, globals())
