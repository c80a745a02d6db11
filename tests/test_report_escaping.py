"""Text from an untrusted file cannot script, restyle or break the report's outputs.

Customer ids are the piece of a transaction file that reaches the report's
outputs as text (the top customers by CLV). Here they are markup, terminal
escape sequences, line breaks and spreadsheet formulas: the HTML page shows
them escaped, the text report shows control characters escaped, and the
JSON keeps them exactly (as JSON strings).
"""

from __future__ import annotations

import csv
import html
import importlib
import io
import json
from datetime import date
from pathlib import Path

import pytest

from loyaltycore.report import Report, build_report
from loyaltycore.simulate import simulate
from loyaltycore.transactions import TransactionLog

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "\"' onmouseover='alert(1)",
    "&amp;<b>",
    "\x1b[2J\x1b]0;owned\x07",
    "line\nbreak\rreturn\ttab",
    '=HYPERLINK("http://x")',
    "+1+1",
    "-2+3",
    "@SUM(A1)",
]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    """The report of a simulated program whose customer ids are all hostile."""
    importlib.import_module("scipy")
    program = simulate(300, start=date(2023, 1, 1), end=date(2024, 6, 30), seed=7)
    rows = list(csv.reader(io.StringIO(program.to_csv())))
    ids = sorted({row[0] for row in rows[1:]})
    rename = {old: f"{HOSTILE[i % len(HOSTILE)]}#{i}" for i, old in enumerate(ids)}
    path = tmp_path_factory.mktemp("hostile") / "tx.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(rows[0])
        writer.writerows([rename[row[0]], *row[1:]] for row in rows[1:])
    log = TransactionLog.from_csv(path, at="timestamp")
    result = build_report(log, top=len(ids))
    listed = {t["customer_id"].split("#")[0] for t in result.data["clv"]["top"]}
    assert listed == set(HOSTILE)  # every kind of id reaches the outputs
    return result


def test_the_html_page_shows_every_id_escaped(report: Report, tmp_path: Path) -> None:
    page = report.write_html(tmp_path).read_bytes().decode("utf-8")
    for row in report.data["clv"]["top"]:
        shown = row["customer_id"].replace("\x1b", "\\x1b").replace("\x07", "\\x07")
        shown = shown.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
        assert f"<td>{html.escape(shown)}</td>" in page
    for raw in ("<script", "<img src=x", "<b>", "onmouseover='", "\x1b", "\x07", "\r", "\t"):
        assert raw not in page
    assert page.count("<table>") == page.count("</table>")


def test_the_text_report_escapes_control_characters(report: Report) -> None:
    text = report.to_text()
    for char in "\x1b\x07\r\t":
        assert char not in text
    assert "\\x1b[2J" in text
    assert "line\\nbreak\\rreturn\\ttab" in text
    assert not any(line.startswith("break") for line in text.splitlines())


def test_the_json_keeps_ids_exactly_and_only_ascii(report: Report) -> None:
    text = report.to_json()
    assert text.isascii()
    assert "\x1b" not in text
    again = json.loads(text)
    assert [t["customer_id"] for t in again["clv"]["top"]] == [
        t["customer_id"] for t in report.data["clv"]["top"]
    ]
