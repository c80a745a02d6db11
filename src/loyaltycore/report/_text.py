"""The report as aligned text for a terminal (and the table rows the HTML page shares).

Each section is a title, a line saying what it shows, and a table; the
``*_rows`` functions give the rows, so the text and the page show the same
figures in the same words.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

from loyaltycore.lifecycle import Stage
from loyaltycore.report import _glossary
from loyaltycore.report._format import (
    ADVERB,
    count,
    decimal,
    local_day,
    money,
    parameter,
    percent,
    period_label,
    visible,
    when,
    words,
)

Rows = list[list[str]]
MODEL_NAMES = {"bg_nbd": "BG/NBD", "gamma_gamma": "Gamma-Gamma"}
MODEL_ROLES = {
    "bg_nbd": "how often customers buy and when they stop",
    "gamma_gamma": "how much they spend per purchase",
}


# -- what every rendering shares -------------------------------------------------------------


def header_lines(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, text) lines: the data read, the dates covered, the as-of instant, the currency."""
    src = data["source"]
    tz = data["tz"]
    read = (
        f"{visible(src['name'])}: {count(src['rows'])} rows read, "
        f"{count(src['purchases'])} purchases and {count(src['returns'])} returns "
        f"of {count(src['customers'])} customers"
    )
    if src["after_as_of"]:
        read += f"; {count(src['after_as_of'])} rows after the as-of instant left out"
    overview = data["overview"]
    covered = (
        f"first purchase {local_day(overview['first_purchase'], tz)}, "
        f"last {local_day(overview['last_purchase'], tz)} (dates in {tz})"
    )
    currency = data["currency"]
    amounts = currency if currency else "in the file's currency (name it with --currency)"
    return [
        ("Data", read),
        ("Dates", covered),
        ("As of", when(data["as_of"], tz)),
        ("Amounts", amounts),
    ]


def overview_rows(data: Mapping[str, Any]) -> Rows:
    """The overview's figures, each named in words with its unit."""
    o = data["overview"]
    cur = data["currency"]
    return [
        ["customers", count(o["customers"])],
        ["purchases", count(o["transactions"])],
        ["revenue", money(o["revenue"], cur)],
        ["average order value", money(o["average_order_value"], cur)],
        ["revenue per customer", money(o["revenue_per_customer"], cur)],
        ["purchases per customer", decimal(o["purchase_frequency"])],
        ["customers who bought more than once", percent(o["repeat_customer_share"])],
        [
            "bought again within 90 days of their first purchase",
            percent(o["repurchase_within_90_days"])
            if o["repurchase_within_90_days"] is not None
            else "not known: no customer's first 90 days are over",
        ],
    ]


def retention_title(data: Mapping[str, Any]) -> str:
    period = data["retention"]["period"]
    return (
        f"{ADVERB.get(period, period).capitalize()} retention: customers who bought in one "
        f"{period} and again in the next"
    )


def retention_header(data: Mapping[str, Any]) -> list[str]:
    period = data["retention"]["period"]
    return [period, f"bought in the {period} before", "bought again", "retention"]


def retention_rows(data: Mapping[str, Any]) -> Rows:
    r = data["retention"]
    return [
        [period_label(row["period"], r["period"]), count(row["of"]), count(row["retained"]),
         percent(row["rate"])]
        for row in r["rows"]
    ]  # fmt: skip


def cohort_title(data: Mapping[str, Any]) -> str:
    period = data["cohorts"]["period"]
    return (
        f"Cohort retention: customers by the {period} of their first purchase, and the share "
        f"buying in each later {period} (+1 = the next {period})"
    )


def cohort_table(data: Mapping[str, Any]) -> tuple[list[str], Rows]:
    c = data["cohorts"]
    width = max((len(r) for r in c["rates"]), default=0)
    header = ["cohort", "customers", *[f"+{k}" for k in range(width)]]
    rows = [
        [period_label(name, c["period"]), count(size), *[percent(x) for x in rates]]
        for name, size, rates in zip(c["cohorts"], c["sizes"], c["rates"], strict=True)
    ]
    return header, rows


def lifecycle_title(data: Mapping[str, Any]) -> str:
    earlier = local_day(data["lifecycle"]["earlier"]["as_of"], data["tz"])
    return (
        "Lifecycle stages: where customers stand, by days since their last purchase "
        f"(and where they stood on {earlier})"
    )


LIFECYCLE_HEADER = ["stage", "customers", "share", "3 months earlier"]


def lifecycle_rows(data: Mapping[str, Any]) -> Rows:
    life = data["lifecycle"]
    total = sum(life["stages"].values()) or 1
    return [
        [words(name), count(n), percent(n / total), count(life["earlier"]["stages"][name])]
        for name, n in life["stages"].items()
    ]


def stage_notes(data: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(stage, meaning, what to do) for each stage."""
    meanings = _glossary.stage_meanings(data["lifecycle"]["thresholds"])
    return [
        (words(name), meanings[name], _glossary.STAGE_ACTIONS[name])
        for name in data["lifecycle"]["stages"]
    ]


def biggest_moves(data: Mapping[str, Any], limit: int = 5) -> Rows:
    """The largest moves between two different stages since the earlier snapshot."""
    moves = data["lifecycle"]["moves"]
    found = [
        (n, a, b)
        for a, row in enumerate(moves)
        for b, n in enumerate(row)
        if a != b and n
    ]  # fmt: skip
    found.sort(key=lambda m: (-m[0], m[1], m[2]))
    return [[words(Stage(a).label), words(Stage(b).label), count(n)] for n, a, b in found[:limit]]


RFM_TITLE = (
    "RFM segments: customers grouped by R (recency: 5 = bought most recently) and "
    "FM (frequency and spend: 5 = buys most often and spends most), quintiles of this data"
)
RFM_HEADER = ["segment", "customers", "share"]


def rfm_rows(data: Mapping[str, Any]) -> Rows:
    counts = data["rfm"]["segments"]
    total = sum(counts.values()) or 1
    return [[words(name), count(n), percent(n / total)] for name, n in counts.items()]


def segment_notes(data: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    return [
        (words(name), _glossary.segment_meaning(name), _glossary.segment_action(name))
        for name in data["rfm"]["segments"]
    ]


def clv_title(data: Mapping[str, Any]) -> str:
    clv = data["clv"]
    if "note" in clv:
        return "Customer lifetime value"
    return (
        f"Customer lifetime value: predicted value of purchases over the next "
        f"{clv['horizon_weeks']} weeks, discounted at {clv['discount_rate_per_year']:.0%} a year"
    )


PARAMETER_HEADER = ["model", "parameter", "value", "standard error"]


def parameter_rows(clv: Mapping[str, Any]) -> Rows:
    rows = []
    for key, name in MODEL_NAMES.items():
        model = clv[key]
        for p, value in model["parameters"].items():
            rows.append([name, p, parameter(value), parameter(model["standard_errors"][p])])
    return rows


def model_lines(clv: Mapping[str, Any]) -> list[str]:
    bg, gg = clv["bg_nbd"], clv["gamma_gamma"]
    return [
        f"{MODEL_NAMES[k]}: {MODEL_ROLES[k]}" for k in MODEL_NAMES
    ] + [
        f"log-likelihood: BG/NBD {decimal(bg['log_likelihood'], 1)}, Gamma-Gamma "
        f"{decimal(gg['log_likelihood'], 1)} (Gamma-Gamma fitted on the "
        f"{count(clv['gamma_gamma_customers'])} customers with a paid repeat purchase)"
    ]  # fmt: skip


def value_line(data: Mapping[str, Any]) -> str:
    clv, cur = data["clv"], data["currency"]
    weeks = clv["horizon_weeks"]
    return (
        f"All {count(data['overview']['customers'])} customers, next {weeks} weeks: "
        f"{money(clv['total_clv'], cur)} (mean {money(clv['mean_clv'], cur)}, "
        f"median {money(clv['median_clv'], cur)})"
    )


CHECK_TITLE = (
    "Model check: customers by number of repeat purchases, actual and as the model expects"
)
CHECK_HEADER = ["repeat purchases", "customers", "model"]


def check_rows(clv: Mapping[str, Any]) -> Rows:
    check = clv["period_transactions"]
    labels = [str(k) for k in check["repeat_purchases"]]
    labels[-1] += " or more"
    return [
        [label, count(a), count(m)]
        for label, a, m in zip(labels, check["actual"], check["model"], strict=True)
    ]


def top_header(data: Mapping[str, Any]) -> list[str]:
    clv = data["clv"]
    weeks = clv["horizon_weeks"]
    unit = data["currency"] or "file's currency"
    return [
        "customer",
        "repeat purchases",
        "P(still active)",
        f"expected purchases, next {weeks} weeks",
        f"CLV, next {weeks} weeks ({unit})",
    ]


def top_rows(data: Mapping[str, Any]) -> Rows:
    return [
        [visible(str(t["customer_id"])), count(t["frequency"]), percent(t["p_alive"]),
         decimal(t["expected_purchases"]), decimal(t["clv"])]
        for t in data["clv"]["top"]
    ]  # fmt: skip


# -- text ------------------------------------------------------------------------------------


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Aligned columns: the first to the left, the others to the right, indented by two."""
    cells = [list(header), *[list(r) for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = []
    for n, row in enumerate(cells):
        first = row[0].ljust(widths[0])
        rest = [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        lines.append(("  " + "  ".join([first, *rest])).rstrip())
        if n == 0:
            lines.append("  " + "  ".join("-" * w for w in widths))
    return lines


def _notes(notes: Sequence[tuple[str, str, str]]) -> list[str]:
    width = max(len(name) for name, _, _ in notes)
    pad = " " * (width + 4)
    lines = []
    for name, meaning, action in notes:
        lines += wrap(meaning, pad, f"  {name.ljust(width)}  ")
        lines += wrap(f"what to do: {action}", pad, pad)
    return lines


def wrap(text: str, indent: str = "", first: str | None = None) -> list[str]:
    """``text`` in lines of at most 100 characters."""
    return textwrap.wrap(
        text,
        width=100,
        initial_indent=indent if first is None else first,
        subsequent_indent=indent,
        break_on_hyphens=False,
    )


def render(data: Mapping[str, Any]) -> str:
    """The whole report as text."""
    title = "loyaltycore report"
    out = [title, "=" * len(title)]
    for label, text in header_lines(data):
        out += wrap(text, " " * 9, f"{label + ':':<9}")
    out += ["", "Overview", *table(["figure", "value"], overview_rows(data))]
    out += ["", *wrap(retention_title(data))]
    out += table(retention_header(data), retention_rows(data))
    out += ["", *wrap(cohort_title(data)), *table(*cohort_table(data))]
    out += ["", *wrap(lifecycle_title(data)), *table(LIFECYCLE_HEADER, lifecycle_rows(data))]
    moves = biggest_moves(data)
    if moves:
        out += ["", "  Biggest moves in those 3 months:"]
        out += ["  " + line for line in table(["from", "to", "customers"], moves)]
    out += ["", "  What the stages mean:", *_notes(stage_notes(data))]
    out += ["", *wrap(RFM_TITLE), *table(RFM_HEADER, rfm_rows(data))]
    out += ["", "  What the segments mean:", *_notes(segment_notes(data))]
    out += ["", *wrap(clv_title(data)), *_clv_text(data)]
    return "\n".join(out) + "\n"


def _clv_text(data: Mapping[str, Any]) -> list[str]:
    clv = data["clv"]
    if "note" in clv:
        return [*wrap(clv["note"], "  "), *wrap(f"What to do: {clv['advice']}", "  ")]
    out = [line for text in model_lines(clv) for line in wrap(text, "    ", "  ")]
    out += table(PARAMETER_HEADER, parameter_rows(clv))
    out += ["", *wrap(value_line(data), "  ")]
    out += ["", *wrap(CHECK_TITLE, "  "), *table(CHECK_HEADER, check_rows(clv))]
    out += ["", f"  Top {len(clv['top'])} customers by predicted value"]
    out += table(top_header(data), top_rows(data))
    return out
