"""The HTML page, parsed: every section, every table of the text, every chart, all escaped."""

from __future__ import annotations

import contextlib
import csv
import html.parser
import importlib
import io
import re
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from loyaltycore.report import SAMPLE_TZ, Report, build_report, load_sample, main
from loyaltycore.report._glossary import SEGMENT_WORDS, STAGE_ACTIONS, stage_meanings
from loyaltycore.simulate import simulate
from loyaltycore.transactions import TransactionLog

SECTIONS = ["overview", "retention", "cohorts", "lifecycle", "rfm", "clv"]
TAGS = {
    "html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "dl", "dt", "dd", "p",
    "section", "div", "table", "thead", "tbody", "tr", "th", "td", "img", "ul", "li",
}  # fmt: skip
ATTRIBUTES = {"lang", "charset", "name", "content", "class", "id", "src", "alt"}


class Page(html.parser.HTMLParser):
    """The parts of the page the tests look at: sections, images, tables, text, tags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[str] = []
        self.images: list[dict[str, str | None]] = []
        self.tables: list[list[list[str]]] = []
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []
        self._cell: list[str] | None = None
        self._row: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        if tag == "section":
            self.sections.append(dict(attrs)["id"] or "")
        elif tag == "img":
            self.images.append(dict(attrs))
        elif tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1].append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


def text_tables(text: str) -> list[list[list[str]]]:
    """The tables of the text report: a header, a line of dashes, rows until a blank line."""
    lines = text.splitlines()
    found = []
    for n, line in enumerate(lines):
        if n and re.fullmatch(r"\s*-+(\s+-+)*", line):
            table = [re.split(r"\s{2,}", lines[n - 1].strip())]
            for row in lines[n + 1 :]:
                if not row.strip() or not row.startswith("  "):
                    break
                table.append(re.split(r"\s{2,}", row.strip()))
            found.append(table)
    return found


def _flat(text: str) -> str:
    return " ".join(text.split())


def assert_not_blank_png(path: Path) -> None:
    matplotlib_image = importlib.import_module("matplotlib.image")
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n"), path
    pixels = matplotlib_image.imread(io.BytesIO(data), format="png")[..., :3]
    assert np.mean(np.any(pixels < 0.9, axis=-1)) > 0.02, f"{path.name} is nearly blank"
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 10, f"{path.name} has no picture"


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Report, Path]:
    importlib.import_module("scipy")
    importlib.import_module("matplotlib")
    report = build_report(load_sample(), tz=SAMPLE_TZ, currency="EUR", source="sample.csv")
    folder = tmp_path_factory.mktemp("html")
    return report, report.write_html(folder)


def test_every_section_is_on_the_page(sample: tuple[Report, Path]) -> None:
    assert parse(sample[1]).sections == SECTIONS


def test_every_image_is_a_png_beside_the_page_with_a_picture(sample: tuple[Report, Path]) -> None:
    page = parse(sample[1])
    sources = [image["src"] for image in page.images]
    assert sources == [
        "cohorts.png", "retention.png", "lifecycle.png", "rfm.png", "clv.png", "clv_check.png",
    ]  # fmt: skip
    for image in page.images:
        assert image["alt"]
        assert_not_blank_png(sample[1].parent / str(image["src"]))


def test_every_table_of_the_text_is_on_the_page(sample: tuple[Report, Path]) -> None:
    report, path = sample
    page = parse(path)
    tables = text_tables(report.to_text())
    assert len(tables) >= 9
    for table in tables:
        assert table in page.tables, table[0]


def test_the_page_has_every_definition_and_what_to_do(sample: tuple[Report, Path]) -> None:
    report, path = sample
    shown = _flat(" ".join(parse(path).text))
    text = _flat(report.to_text())
    meanings = stage_meanings(report.data["lifecycle"]["thresholds"])
    for name, action in STAGE_ACTIONS.items():
        for words in (meanings[name], action):
            assert words in shown
            assert words in text
    for meaning, action in SEGMENT_WORDS.values():
        for words in (meaning, action):
            assert words in shown
            assert words in text


def test_the_page_says_what_was_read_and_when(sample: tuple[Report, Path]) -> None:
    shown = _flat(" ".join(parse(sample[1]).text))
    assert "sample.csv: 7,855 rows read, 7,855 purchases and 0 returns of 1,354 customers" in shown
    assert "2025-01-01 00:00 Europe/Berlin (2024-12-31 23:00 UTC)" in shown
    assert "EUR 217,343.50" in shown
    assert "CLV, next 52 weeks (EUR)" in shown


def test_without_a_clv_estimate_the_page_says_why(tmp_path: Path) -> None:
    importlib.import_module("matplotlib")
    report = build_report(load_sample(), tz=SAMPLE_TZ, fit_clv=False)
    page = parse(report.write_html(tmp_path))
    assert page.sections == SECTIONS
    shown = _flat(" ".join(page.text))
    assert report.data["clv"]["note"] in shown
    assert report.data["clv"]["advice"] in shown
    assert "clv.png" not in [image["src"] for image in page.images]


# -- nothing from the input reaches the page unescaped ---------------------------------------

HOSTILE = "<script>alert('x')</script>\"'&<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A page whose customer ids, file name and currency are all markup."""
    importlib.import_module("scipy")
    importlib.import_module("matplotlib")
    program = simulate(300, start=date(2023, 1, 1), end=date(2024, 6, 30), seed=7)
    rows = list(csv.reader(io.StringIO(program.to_csv())))
    folder = tmp_path_factory.mktemp("hostile")
    path = folder / "tx.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(rows[0])
        writer.writerows([f"{HOSTILE}{row[0]}", *row[1:]] for row in rows[1:])
    log = TransactionLog.from_csv(path, at="timestamp")
    report = build_report(log, top=20, currency="<b>$</b>", source=HOSTILE + ".csv")
    return report.write_html(folder / "out")


def test_hostile_input_is_text_on_the_page_never_markup(hostile: Path) -> None:
    page = parse(hostile)
    for tag, attrs in page.tags:
        assert tag in TAGS, tag
        for name, value in attrs:
            assert name in ATTRIBUTES, (tag, name)
            assert "alert" not in (value or "")
    shown = " ".join(page.text)
    assert HOSTILE + ".csv" in shown
    assert shown.count(HOSTILE) >= 20
    assert "<b>$</b> " in shown  # the currency, shown as the characters typed


def test_format_html_needs_out_and_prints_where_it_wrote(tmp_path: Path) -> None:
    importlib.import_module("matplotlib")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["--no-clv", "--format", "html"])
    assert status == 2
    assert out.getvalue() == ""
    assert err.getvalue() == (
        "loyaltycore report: --format html needs --out FOLDER: "
        "where to write report.html and its charts\n"
    )
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(["--no-clv", "--format", "html", "--out", str(tmp_path / "r")])
    assert status == 0
    assert out.getvalue() == f"{tmp_path / 'r' / 'report.html'}\n"
    assert parse(tmp_path / "r" / "report.html").sections == SECTIONS
