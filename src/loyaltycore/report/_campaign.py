"""``python -m loyaltycore campaign``: did the campaign work, from two CSV files.

An orders file (read by :meth:`TransactionLog.from_csv`, as the report
reads it) and a members file with each member's arm (and optionally a
segment), read by the same delimited-file reader. The read-out is per
assigned member, members who bought nothing included:

* lift per member before, during and after the campaign at each horizon,
  with Welch intervals (:func:`loyaltycore.campaigns.windows`), and the
  pull-forward: the share of the lift given back after the end;
* the during lift adjusted by CUPED on the longest pre-period;
* balance of the arms on pre-period spend (standardised mean differences);
* with a segment column, the during lift by segment with Holm (or
  Benjamini-Hochberg) adjusted p-values.

The outputs are text, canonical JSON (byte-identical across runs) and an
HTML page with every table of the text and, with the ``plot`` extra, the
charts of :func:`loyaltycore.plot.plot_campaign_lift`,
:func:`~loyaltycore.plot.plot_campaign_curve` and
:func:`~loyaltycore.plot.plot_campaign_segments`.
"""

from __future__ import annotations

import argparse
import html
import json
import math
import sys
import warnings
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, NoReturn, TypeAlias, cast

import attrs
import numpy as np
import numpy.typing as npt

from loyaltycore.calendar import from_micros, local_date, start_of_day, to_utc, zone
from loyaltycore.campaigns import (
    Breakdown,
    Comparison,
    Windows,
    balance,
    breakdown,
    cuped,
    windows,
)
from loyaltycore.errors import (
    EmptyData,
    InvalidArgument,
    InvalidColumn,
    LoyaltyError,
    MissingDependency,
)
from loyaltycore.report import _html, _text
from loyaltycore.report._format import visible
from loyaltycore.transactions import TransactionLog
from loyaltycore.transactions._frame import read_delimited

if TYPE_CHECKING:
    from matplotlib.axes import Axes

_PROG: Final = "loyaltycore campaign"
Adjustment: TypeAlias = Literal["holm", "bh"]
#: An absolute standardised mean difference above this flags the arms as unlike.
SMD_THRESHOLD: Final = 0.1


@attrs.frozen
class CampaignReport:
    """A campaign read-out as plain data, with the results it was made from.

    ``data`` is JSON-safe plain data (what ``--format json`` prints);
    ``windows``, ``cuped`` and ``segments`` are the library's own results,
    for plots and further analysis.

    >>> from datetime import date
    >>> from loyaltycore.simulate import simulate_campaign
    >>> sim = simulate_campaign(2000, start=date(2024, 6, 1), end=date(2024, 6, 15), seed=3)
    >>> a = sim.assignment
    >>> r = build_campaign_report(sim.log, a.member, a.arm, start=sim.start, end=sim.end,
    ...                           segment=sim.segment)
    >>> sorted(r.data)
    ['balance', 'campaign', 'cuped', 'members', 'orders', 'pull_forward', 'segments', 'windows']
    >>> r.to_text().splitlines()[0]
    'loyaltycore campaign'
    """

    data: Mapping[str, object]
    windows: Windows = attrs.field(eq=False, repr=False)
    cuped: Comparison = attrs.field(eq=False, repr=False)
    segments: Breakdown | None = attrs.field(eq=False, repr=False)

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, floats rounded to 6 digits, one trailing newline."""
        return json.dumps(self.data, sort_keys=True, indent=2, allow_nan=False) + "\n"

    def to_text(self) -> str:
        """The read-out as aligned text for a terminal."""
        return _render_text(self.data)

    def write_html(self, out: str | Path) -> Path:
        """Write ``campaign.html`` into the folder ``out``, with its charts as PNG files.

        The charts (``plot`` extra) are
        :func:`~loyaltycore.plot.plot_campaign_lift`,
        :func:`~loyaltycore.plot.plot_campaign_curve` and, with segments,
        :func:`~loyaltycore.plot.plot_campaign_segments`; without matplotlib
        the page says how to get them. Every string on the page is escaped.

        Returns:
            The page's path.
        """
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        try:
            charts, note = _write_charts(self, folder), ""
        except MissingDependency as exc:
            charts, note = {}, f"No charts: {exc}"
        page = folder / "campaign.html"
        page.write_text(_render_html(self.data, charts, note), encoding="utf-8")
        return page


# -- building -----------------------------------------------------------------


def _unassigned(log: TransactionLog, members: npt.NDArray[Any]) -> tuple[int, int]:
    """(orders of assigned members, distinct customers who were not assigned)."""
    assigned = {str(m) for m in members.tolist()}
    known = np.array([str(c) in assigned for c in log.customer_ids.tolist()], dtype=bool)
    return int(known[log.codes].sum()), int((~known).sum())


def _segments(
    during: npt.NDArray[np.float64],
    arm: npt.NDArray[Any],
    treated: npt.NDArray[np.bool_],
    labels: npt.NDArray[Any],
    adjust: Adjustment,
    ci: float,
) -> tuple[Breakdown | None, dict[str, Any]]:
    """The lift by segment, over segments with at least two members in each arm."""
    names = [str(v) for v in labels.tolist()]
    counts = Counter(zip(names, treated.tolist(), strict=True))
    kept = sorted({s for s in names if s and counts[s, True] >= 2 and counts[s, False] >= 2})
    skipped = sorted({s for s in names if s and s not in kept})
    info: dict[str, Any] = {
        "adjust": adjust,
        "skipped": skipped,
        "without_segment": names.count(""),
        "rows": [],
    }
    if not kept:
        return None, info
    rows = np.isin(np.array(names, dtype=object), np.array(kept, dtype=object))
    table = breakdown(during[rows], arm[rows], np.array(names, dtype=object)[rows],
                      adjust=adjust, ci=ci)  # fmt: skip
    for i, name in enumerate(table.segment.tolist()):
        info["rows"].append(
            {
                "segment": name,
                "treatment": int(table.n_treatment[i]),
                "control": int(table.n_control[i]),
                "treatment_mean": float(table.treatment_mean[i]),
                "control_mean": float(table.control_mean[i]),
                "difference": float(table.difference[i]),
                "low": float(table.low[i]),
                "high": float(table.high[i]),
                "p_value": float(table.p_value[i]),
                "p_adjusted": float(table.p_adjusted[i]),
                "significant": bool(table.significant[i]),
            }
        )
    return table, info


def _default_as_of(log: TransactionLog, end: datetime, tz: tzinfo) -> datetime:
    """The first local midnight after the last order, and never before ``end``."""
    if len(log) == 0:
        return end
    last = from_micros(int(log.at.max()))
    return max(end, start_of_day(local_date(last, tz=tz) + timedelta(days=1), tz=tz))


def _instant(value: datetime | date, name: str, tz: tzinfo) -> datetime:
    try:
        if isinstance(value, datetime):
            return to_utc(value, name, tz=tz)
        return start_of_day(value, tz=tz)
    except OverflowError:  # at the very ends of the calendar
        raise InvalidArgument(
            f"{name}={value.isoformat()} falls outside the years 1 to 9999 in UTC",
            field=name,
            value=value,
        ) from None


def build_campaign_report(
    log: TransactionLog,
    members: npt.ArrayLike,
    arm: npt.ArrayLike,
    *,
    start: datetime | date,
    end: datetime | date,
    segment: npt.ArrayLike | None = None,
    horizons: tuple[int, ...] = (7, 30, 90),
    as_of: datetime | date | None = None,
    tz: str | tzinfo = "UTC",
    ci: float = 0.95,
    adjust: Adjustment = "holm",
    currency: str | None = None,
) -> CampaignReport:
    """Read a campaign out: lift by window with intervals, pull-forward, CUPED, balance, segments.

    Args:
        log: the orders.
        members: every assigned member id.
        arm: each member's arm, ``"treatment"`` / ``"control"`` (or bools).
        start: when the campaign began (aware, or a local date in ``tz``).
        end: when it ended (exclusive).
        segment: optional segment label per member (an empty label: none).
        horizons: days before the start and after the end to read out.
        as_of: when the orders were read; default the local midnight after
            the last order (and not before ``end``). Windows ending later are
            marked incomplete.
        tz: the program's zone, for dates.
        ci: the confidence level of every interval.
        adjust: ``"holm"`` or ``"bh"``, the adjustment across segments.
        currency: the currency code of the amounts ("EUR"), for the labels.

    Returns:
        A :class:`CampaignReport`.

    Raises:
        EmptyArm: an arm with fewer than two members.
        InvalidTime: ``end`` not after ``start``, ``as_of`` before ``end``.
        InvalidColumn: a repeated member, columns of different lengths.

    >>> from datetime import date
    >>> from loyaltycore.simulate import simulate_campaign
    >>> sim = simulate_campaign(3000, start=date(2024, 6, 1), end=date(2024, 6, 15),
    ...                         lift=0.5, pull_forward=0.4, seed=8)
    >>> r = build_campaign_report(sim.log, sim.assignment.member, sim.assignment.arm,
    ...                           start=date(2024, 6, 1), end=date(2024, 6, 15), horizons=(30,))
    >>> during = r.data["windows"][0]
    >>> during["window"], round(during["difference"], 2), round(sim.truth.effect("during"), 2)
    ('during', 3.14, 4.56)
    """
    from loyaltycore.report import _label

    cur = _label(currency, "currency")
    zone_ = zone(tz)
    t0, t1 = _instant(start, "start", zone_), _instant(end, "end", zone_)
    when = _default_as_of(log, t1, zone_) if as_of is None else _instant(as_of, "as_of", zone_)
    r = windows(log, members, arm, start=t0, end=t1, horizons=horizons, as_of=when, ci=ci)
    if adjust not in ("holm", "bh"):
        raise InvalidArgument(f"adjust={adjust!r} must be 'holm' or 'bh'", field="adjust")
    ids, treated = r.member, r.treated
    labels = np.where(treated, "treatment", "control").astype(object)
    during = r.during / 10.0**log.exponent
    pre = r.pre[:, -1] / 10.0**log.exponent
    adjusted = cuped(during, pre, treated)
    adjusted_lift = adjusted.compare(ci=ci)
    smd = balance(
        {f"spend_{h}d_before": r.pre[:, j] / 10.0**log.exponent for j, h in enumerate(r.horizons)},
        treated,
        warn_above=None,
    )
    by_segment: Breakdown | None = None
    segments_info: dict[str, Any] | None = None
    if segment is not None:
        seg = np.asarray(segment, dtype=object)
        if seg.ndim != 1 or len(seg) != len(ids):
            raise InvalidColumn(
                f"segment has {len(seg)} rows, expected {len(ids)} (as many as members)",
                field="segment",
            )
        by_segment, segments_info = _segments(during, labels, treated, seg, adjust, ci)
    orders_assigned, strangers = _unassigned(log, ids)
    data: dict[str, Any] = {
        "campaign": {
            "start": t0.isoformat(),
            "end": t1.isoformat(),
            "as_of": when.isoformat(),
            "tz": str(getattr(zone_, "key", "UTC")),
            "horizons_days": list(r.horizons),
            "ci": ci,
            "exponent": log.exponent,
            "currency": cur,
        },
        "members": {"treatment": int(treated.sum()), "control": int((~treated).sum())},
        "orders": {
            "read": len(log),
            "of_assigned_members": orders_assigned,
            "customers_not_assigned": strangers,
        },
        "windows": [
            {name: _item(values[i]) for name, values in r.columns().items()}
            for i in range(len(r.window))
        ],
        "pull_forward": {
            str(h): float(v) for h, v in zip(r.horizons, r.pull_forward, strict=True)
        },
        "cuped": {
            "pre_days": r.horizons[-1],
            "theta": adjusted.theta,
            "variance_reduction": adjusted.variance_reduction,
            "difference": adjusted_lift.difference,
            "low": adjusted_lift.difference_low,
            "high": adjusted_lift.difference_high,
            "p_value": adjusted_lift.p_value,
        },
        "balance": {
            "threshold": SMD_THRESHOLD,
            "smd": {k: float(v) for k, v in zip(smd.covariate, smd.smd, strict=True)},
            "unbalanced": [
                k for k, v in zip(smd.covariate, smd.smd, strict=True) if abs(v) > SMD_THRESHOLD
            ],
        },
        "segments": segments_info,
    }
    return CampaignReport(data=_clean(data), windows=r, cuped=adjusted_lift, segments=by_segment)


def _item(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _clean(value: Any) -> Any:
    from loyaltycore.report import _clean as clean

    return clean(value)


# -- rendering ----------------------------------------------------------------


def _money(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def _p(value: float | None) -> str:
    if value is None:
        return "-"
    return "<0.0001" if value < 0.0001 else f"{value:.4f}"


def _interval(low: float | None, high: float | None) -> str:
    return "-" if low is None or high is None else f"[{_money(low)}, {_money(high)}]"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _lines(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """An aligned table, as the report writes one, without trailing blanks."""
    return [line.rstrip() for line in _text.table(header, rows)]


_WINDOW_HEADER: Final = ("window", "horizon", "treatment", "control", "difference",
                          "interval", "p", "")  # fmt: skip
_SEGMENT_HEADER: Final = ("segment", "treatment", "control", "difference", "interval", "p",
                           "adjusted p", "")  # fmt: skip
_BALANCE_HEADER: Final = ("covariate", "smd", "")
_METHODS: Final = {"holm": "Holm", "bh": "Benjamini-Hochberg"}


def _window_rows(data: Mapping[str, Any]) -> list[list[str]]:
    return [
        [
            w["window"],
            "-" if w["window"] == "during" else f"{w['horizon']}d",
            _money(w["treatment_mean"]),
            _money(w["control_mean"]),
            _money(w["difference"]),
            _interval(w["low"], w["high"]),
            _p(w["p_value"]),
            "" if w["complete"] else "incomplete",
        ]
        for w in data["windows"]
    ]


def _segment_rows(info: Mapping[str, Any]) -> list[list[str]]:
    return [
        [
            visible(r["segment"]),
            f"{r['treatment']:,}",
            f"{r['control']:,}",
            _money(r["difference"]),
            _interval(r["low"], r["high"]),
            _p(r["p_value"]),
            _p(r["p_adjusted"]),
            "significant" if r["significant"] else "",
        ]
        for r in info["rows"]
    ]


def _balance_rows(data: Mapping[str, Any]) -> list[list[str]]:
    b = data["balance"]
    flag = dict.fromkeys(b["unbalanced"], "unbalanced")
    return [[k, f"{v:+.4f}", flag.get(k, "")] for k, v in b["smd"].items()]


def _sentences(data: Mapping[str, Any]) -> dict[str, str]:
    """The lines both renderings share, by what they say."""
    campaign, members, orders = data["campaign"], data["members"], data["orders"]
    level = f"{campaign['ci']:.0%}"
    c, b = data["cuped"], data["balance"]
    pulled = ", ".join(f"{_percent(v)} at {h}d" for h, v in data["pull_forward"].items())
    unit = "" if campaign["currency"] is None else f" ({visible(campaign['currency'])})"
    out = {
        "when": f"{campaign['start']} to {campaign['end']} ({campaign['tz']})",
        "as_of": f"orders read as of {campaign['as_of']}",
        "members": f"members: {members['treatment']:,} treatment, {members['control']:,} control",
        "orders": f"orders: {orders['read']:,}, {orders['of_assigned_members']:,} by assigned "
        f"members; {orders['customers_not_assigned']:,} customers not assigned",
        "windows": f"Spend per member{unit}, treatment - control ({level} Welch intervals)",
        "pull_forward": "Pull-forward (share of the during lift given back after the end): "
        + pulled,
        "cuped": f"CUPED on spend in the {c['pre_days']} days before: theta {c['theta']:.4f}, "
        f"variance removed {_percent(c['variance_reduction'])}",
        "cuped_lift": f"during: {_money(c['difference'])} {_interval(c['low'], c['high'])}, "
        f"p {_p(c['p_value'])}",
        "balance": f"Balance (standardised mean difference, flagged above {b['threshold']})",
    }
    info = data["segments"]
    if info is not None:
        out["segments"] = (
            f"During the campaign by segment ({level} intervals, "
            f"{_METHODS[info['adjust']]}-adjusted p)"
        )
    return out


def _segment_notes(info: Mapping[str, Any]) -> list[str]:
    notes = []
    if info["skipped"]:
        names = ", ".join(visible(name) for name in info["skipped"])
        notes.append(f"left out (fewer than 2 members in an arm): {names}")
    if info["without_segment"]:
        notes.append(f"members without a segment: {info['without_segment']:,}")
    return notes


def _render_text(data: Mapping[str, Any]) -> str:
    say = _sentences(data)
    out = ["loyaltycore campaign", say["when"], say["as_of"], say["members"], say["orders"]]
    out += ["", say["windows"], *_lines(_WINDOW_HEADER, _window_rows(data))]
    out += ["", say["pull_forward"], "", say["cuped"], f"  {say['cuped_lift']}"]
    out += ["", say["balance"], *_lines(_BALANCE_HEADER, _balance_rows(data))]
    info = data["segments"]
    if info is not None:
        out += ["", say["segments"], *_lines(_SEGMENT_HEADER, _segment_rows(info))]
        out += [f"  {note}" for note in _segment_notes(info)]
    return "\n".join(out) + "\n"


def _render_html(data: Mapping[str, Any], charts: Mapping[str, str], chart_note: str) -> str:
    """The page: every string escaped (``_html.table`` escapes cells), charts as <img>."""
    say = {key: html.escape(line, quote=True) for key, line in _sentences(data).items()}

    def image(key: str, alt: str) -> list[str]:
        if key not in charts:
            return []
        return [f'<img src="{html.escape(charts[key], quote=True)}" alt="{alt}">']

    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>loyaltycore campaign</title><style>{_html._CSS}</style></head><body>",
        "<h1>loyaltycore campaign</h1>",
        f"<p>{say['when']}<br>{say['as_of']}<br>{say['members']}<br>{say['orders']}</p>",
        f"<h2>{say['windows']}</h2>",
        *image("lift", "lift per member in each window, with intervals"),
        *image("curve", "spend per member per day before, during and after the campaign"),
        _html.table(_WINDOW_HEADER, _window_rows(data)),
        f"<p>{say['pull_forward']}</p>",
        f"<h2>CUPED</h2><p>{say['cuped']}<br>{say['cuped_lift']}</p>",
        f"<h2>{say['balance']}</h2>",
        _html.table(_BALANCE_HEADER, _balance_rows(data)),
    ]
    info = data["segments"]
    if info is not None:
        parts += [f"<h2>{say['segments']}</h2>", *image("segments", "lift by segment")]
        parts.append(_html.table(_SEGMENT_HEADER, _segment_rows(info)))
        parts += [f"<p>{html.escape(note, quote=True)}</p>" for note in _segment_notes(info)]
    if chart_note:
        parts.append(f'<p class="note">{html.escape(chart_note, quote=True)}</p>')
    parts.append("</body></html>\n")
    return "\n".join(parts)


#: PNG metadata: none, so the bytes depend on the picture only.
_PNG_METADATA: Final[dict[str, Any]] = {"Software": None}


def _write_charts(report: CampaignReport, folder: Path) -> dict[str, str]:
    """Draw the read-out's charts into ``folder`` as PNGs; their file names by key."""
    from loyaltycore import plot

    campaign = report.data["campaign"]
    currency = campaign.get("currency") if isinstance(campaign, Mapping) else None
    draws: dict[str, Callable[[], Axes]] = {
        "lift": lambda: plot.plot_campaign_lift(report.windows, currency=currency),
        "curve": lambda: plot.plot_campaign_curve(report.windows, currency=currency),
    }
    if report.segments is not None:
        segments = report.segments
        draws["segments"] = lambda: plot.plot_campaign_segments(segments)
    written = {}
    for key, draw in draws.items():
        name = f"campaign_{key}.png"
        with warnings.catch_warnings():
            # A segment name from the user's file may hold a character the font lacks:
            # it is drawn as a box, which is no reason to write to stderr.
            warnings.filterwarnings("ignore", "Glyph .* missing from font", UserWarning)
            figure = draw().get_figure(root=True)
            assert figure is not None
            figure.savefig(folder / name, format="png", dpi=100, metadata=_PNG_METADATA)
        written[key] = name
    return written


# -- command line -------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors as one line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{_PROG}: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m loyaltycore campaign",
        description="Did the campaign work? Lift per member with intervals, before, during "
        "and after it, from an orders file and a members file with each member's arm.",
    )
    parser.add_argument("orders", help="orders file (CSV): customer, timestamp, amount")
    parser.add_argument("--members", required=True, help="members file (CSV) with the arms")
    parser.add_argument("--arm-column", required=True, help="the members file's arm column")
    parser.add_argument("--start", required=True, help="campaign start: YYYY-MM-DD or ISO")
    parser.add_argument("--end", required=True, help="campaign end (exclusive)")
    parser.add_argument("--member-column", default="member_id", help="member id column")
    parser.add_argument("--segment-column", help="segment column of the members file")
    parser.add_argument("--treatment-label", default="treatment", help="arm value of treated")
    parser.add_argument("--control-label", default="control", help="arm value of the holdout")
    parser.add_argument("--customer", default="customer_id", help="orders: customer id column")
    parser.add_argument("--at", default="timestamp", help="orders: timestamp column")
    parser.add_argument("--amount", default="amount", help="orders: amount (currency units)")
    parser.add_argument("--date-format", help="strptime format of the timestamps")
    parser.add_argument("--delimiter", default=",", help="field separator of both files")
    parser.add_argument("--tz", default="UTC", help="program time zone (IANA) for dates")
    parser.add_argument("--horizons", default="7,30,90", help="days before and after, e.g. 7,30")
    parser.add_argument("--as-of", help="when the orders were read (default: after the last)")
    parser.add_argument("--ci", default="0.95", help="confidence level of the intervals")
    parser.add_argument("--adjust", choices=["holm", "bh"], default="holm")
    parser.add_argument("--currency", help="currency code of the amounts, e.g. EUR")
    parser.add_argument("--format", choices=["text", "json", "html"], default="text")
    parser.add_argument(
        "--out", help="folder for campaign.txt, campaign.json and campaign.html with its charts"
    )
    return parser


def _when(text: str, option: str) -> datetime | date:
    try:
        value = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        raise InvalidArgument(
            f"{option}={text!r} is not an ISO date (YYYY-MM-DD) or datetime", field=option
        ) from None
    if isinstance(value, datetime) and value.utcoffset() is None:
        raise InvalidArgument(
            f"{option}={text!r} has no UTC offset; add one (e.g. +00:00) or give a date",
            field=option,
        )
    return value


def _horizons(text: str) -> tuple[int, ...]:
    parts = text.split(",")
    if not all(p.strip().isascii() and p.strip().isdigit() for p in parts):
        raise InvalidArgument(
            f"--horizons={text!r} must be whole days separated by commas, e.g. 7,30,90",
            field="horizons",
        )
    return tuple(int(p) for p in parts)


def _level(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < 1:
        raise InvalidArgument(f"--ci={text!r} must be a number between 0 and 1", field="ci")
    return value


def _located(exc: LoyaltyError, path: str, line: int | None, column: str | None) -> LoyaltyError:
    where = ", ".join([path, *([] if line is None else [f"line {line}"]),
                       *([] if column is None else [f"column {column!r}"])])  # fmt: skip
    return type(exc)(f"{where}: {exc}", **{**vars(exc), "path": path, "line": line})


def _read_members(
    args: argparse.Namespace,
) -> tuple[npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any] | None]:
    """(member ids, arms as "treatment" / "control", segments or None) of the members file."""
    path = str(args.members)
    wanted = {"member": args.member_column, "arm": args.arm_column}
    if args.segment_column is not None:
        wanted["segment"] = args.segment_column
    delimiter = None if args.delimiter == "whitespace" else args.delimiter
    try:
        columns, lines = read_delimited(
            path, wanted, delimiter=delimiter, header=True, encoding="utf-8"
        )
    except InvalidColumn as exc:
        if getattr(exc, "line", None) is not None:
            raise
        raise _located(exc, path, 1, None) from None
    ids, arms = columns["member"], columns["arm"]
    if len(ids) == 0:
        raise EmptyData(f"{path}: no members, only a header", field="members")
    seen: dict[str, int] = {}
    labels = {args.treatment_label: "treatment", args.control_label: "control"}
    arm = np.empty(len(ids), dtype=object)
    for i, (member, value) in enumerate(zip(ids.tolist(), arms.tolist(), strict=True)):
        if not member:
            problem = InvalidColumn("the member id is empty", field="member")
            raise _located(problem, path, lines[i], args.member_column)
        if member in seen:
            problem = InvalidColumn(
                f"member {member!r} repeats line {lines[seen[member]]}", field="member"
            )
            raise _located(problem, path, lines[i], args.member_column)
        seen[member] = i
        if value not in labels:
            problem = InvalidColumn(
                f"{value!r} must be {args.treatment_label!r} or {args.control_label!r}",
                field="arm",
            )
            raise _located(problem, path, lines[i], args.arm_column)
        arm[i] = labels[value]
    return ids, arm, columns.get("segment")


def _read_orders(args: argparse.Namespace) -> TransactionLog:
    log = TransactionLog.from_csv(
        args.orders,
        customer=args.customer,
        at=args.at,
        amount=args.amount,
        tz=args.tz,
        at_format=args.date_format,
        delimiter=None if args.delimiter == "whitespace" else args.delimiter,
    )
    if len(log) == 0:
        raise EmptyData(f"{args.orders}: no orders, only a header", field="orders")
    return log


def _run(args: argparse.Namespace) -> CampaignReport:
    if args.treatment_label == args.control_label:
        raise InvalidArgument(
            f"--treatment-label and --control-label are both {args.treatment_label!r}",
            field="labels",
        )
    start, end = _when(args.start, "--start"), _when(args.end, "--end")
    as_of = None if args.as_of is None else _when(args.as_of, "--as-of")
    horizons, ci = _horizons(args.horizons), _level(args.ci)
    tz = zone(args.tz)
    log = _read_orders(args)
    members, arm, segment = _read_members(args)
    try:
        return build_campaign_report(
            log, members, arm, start=start, end=end, segment=segment, horizons=horizons,
            as_of=as_of, tz=tz, ci=ci, adjust=cast(Adjustment, args.adjust),
            currency=args.currency,
        )  # fmt: skip
    except LoyaltyError as exc:
        if getattr(exc, "field", None) in ("members", "arm", "treatment", "control"):
            raise _located(exc, str(args.members), None, None) from None
        raise


def campaign_main(argv: Sequence[str] | None = None) -> int:
    """Run ``campaign`` with command-line arguments; return the exit status.

    Any bad input (a file, a column, a value, an option) prints one line to
    stderr and returns 2.

    >>> campaign_main(["orders.csv"])
    2
    """
    try:
        args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # --help, or a usage error already printed as one line
        return int(exc.code or 0)
    try:
        report = _run(args)
        page = None
        if args.out:
            folder = Path(args.out)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "campaign.json").write_text(report.to_json(), encoding="utf-8")
            (folder / "campaign.txt").write_text(report.to_text(), encoding="utf-8")
            page = report.write_html(folder)
        elif args.format == "html":
            page = report.write_html(Path("campaign_out"))
    except LoyaltyError as exc:
        print(f"{_PROG}: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    except OSError as exc:
        name = exc.filename if exc.filename is not None else args.orders
        print(f"{_PROG}: {name}: {exc.strerror}", file=sys.stderr)
        return 2
    if args.format == "html":
        print(page)
    else:
        sys.stdout.write(report.to_json() if args.format == "json" else report.to_text())
    return 0
