"""The report as one HTML page: every table of the text, the definitions, and the charts.

Every string that reaches the page is escaped (``html.escape``, quotes
included); ids and file names also have their control characters shown as
escapes first, as in the text.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any, Final

from loyaltycore.report import _text
from loyaltycore.report._format import local_day

_CSS: Final = (
    "body{font-family:system-ui,sans-serif;max-width:1040px;margin:2em auto;padding:0 1em;"
    "color:#222;line-height:1.4}"
    "h1{margin-bottom:.2em}h2{margin-top:2em;border-bottom:1px solid #ccc}"
    "dl.source{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}"
    "dl.source dt{font-weight:600}dl.source dd{margin:0}"
    "table{border-collapse:collapse;margin:1em 0}"
    "td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:right;vertical-align:top}"
    "td:first-child,th:first-child{text-align:left}"
    ".notes td{text-align:left}"
    "p.lead{color:#555}p.note{background:#fff4e0;padding:.6em 1em;border-left:4px solid #d9822b}"
    "img{max-width:100%;display:block;margin:1em 0}"
)

#: The sections of the page, by id, in order.
SECTIONS: Final = ("overview", "retention", "cohorts", "lifecycle", "rfm", "clv")


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def table(header: Sequence[str], rows: Sequence[Sequence[str]], kind: str = "") -> str:
    """A table of already formatted cells, escaped."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    text = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    return f'<div class="{_e(kind)}">{text}</div>' if kind else text


def _notes(notes: Sequence[tuple[str, str, str]], what: str) -> str:
    return table([what, "what it means", "what to do"], [list(n) for n in notes], "notes")


def _chart(charts: Mapping[str, str], key: str, alt: str) -> str:
    if key not in charts:
        return ""
    return f'<img src="{_e(charts[key])}" alt="{_e(alt)}">'


def _section(key: str, title: str, *parts: str) -> str:
    return f'<section id="{key}"><h2>{_e(title)}</h2>' + "".join(parts) + "</section>"


def _lead(text: str) -> str:
    return f'<p class="lead">{_e(text)}</p>'


def render(data: Mapping[str, Any], charts: Mapping[str, str], chart_note: str) -> str:
    """The whole page; ``charts`` maps a chart's key to its file name beside the page."""
    source = "".join(
        f"<dt>{_e(label)}</dt><dd>{_e(text)}</dd>" for label, text in _text.header_lines(data)
    )
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>loyaltycore report</title><style>{_CSS}</style></head><body>",
        f'<h1>loyaltycore report</h1><dl class="source">{source}</dl>',
    ]
    if chart_note:
        parts.append(f'<p class="note">{_e(chart_note)}</p>')
    parts.append(
        _section("overview", "Overview", table(["figure", "value"], _text.overview_rows(data)))
    )
    parts.append(
        _section(
            "retention",
            _text.retention_title(data),
            table(_text.retention_header(data), _text.retention_rows(data)),
        )
    )
    parts.append(
        _section(
            "cohorts",
            "Cohort retention",
            _lead(_text.cohort_title(data)),
            _chart(charts, "cohorts", "cohort retention heatmap"),
            _chart(charts, "retention", "retention curves of the cohorts"),
            table(*_text.cohort_table(data)),
        )
    )
    parts.append(_lifecycle(data, charts))
    parts.append(
        _section(
            "rfm",
            "RFM segments",
            _lead(_text.RFM_TITLE),
            _chart(charts, "rfm", "RFM grid: customers by recency and frequency-spend score"),
            table(_text.RFM_HEADER, _text.rfm_rows(data)),
            _notes(_text.segment_notes(data), "segment"),
        )
    )
    parts.append(_clv(data, charts))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _lifecycle(data: Mapping[str, Any], charts: Mapping[str, str]) -> str:
    moves = _text.biggest_moves(data)
    earlier = local_day(data["lifecycle"]["earlier"]["as_of"], data["tz"])
    return _section(
        "lifecycle",
        "Lifecycle stages",
        _lead(_text.lifecycle_title(data)),
        _chart(charts, "lifecycle", f"lifecycle stages on {earlier} and now, and the moves"),
        table(_text.LIFECYCLE_HEADER, _text.lifecycle_rows(data)),
        ("<h3>Biggest moves in those 3 months</h3>" if moves else ""),
        (table(["from", "to", "customers"], moves) if moves else ""),
        _notes(_text.stage_notes(data), "stage"),
    )


def _clv(data: Mapping[str, Any], charts: Mapping[str, str]) -> str:
    clv = data["clv"]
    title = "Customer lifetime value"
    if "note" in clv:
        return _section(
            "clv",
            title,
            f'<p class="note">{_e(clv["note"])}</p>',
            f"<p>What to do: {_e(clv['advice'])}</p>",
        )
    lines = "".join(f"<li>{_e(line)}</li>" for line in _text.model_lines(clv))
    return _section(
        "clv",
        title,
        _lead(_text.clv_title(data)),
        f"<ul>{lines}</ul>",
        table(_text.PARAMETER_HEADER, _text.parameter_rows(clv)),
        f"<p>{_e(_text.value_line(data))}</p>",
        _chart(charts, "clv", "distribution of predicted customer lifetime value"),
        f"<h3>{_e(_text.CHECK_TITLE)}</h3>",
        _chart(charts, "clv_check", "customers by repeat purchases: actual and model"),
        table(_text.CHECK_HEADER, _text.check_rows(clv)),
        f"<h3>Top {len(clv['top'])} customers by predicted value</h3>",
        table(_text.top_header(data), _text.top_rows(data)),
    )
