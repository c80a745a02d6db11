"""The campaign read-out as an HTML page: escaped strings, real charts, the same tables."""

from __future__ import annotations

import contextlib
import functools
import io
import subprocess
import sys
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from loyaltycore.report import CampaignReport, build_campaign_report, campaign_main
from loyaltycore.simulate import SimulatedCampaign, simulate_campaign

HOSTILE = [
    "<script>alert(1)</script>",
    "a&b \"c\" 'd'",
    "\x1b[31mred",
    "</table><img src=x>",
    "$x^$ and $",
    "$$",
]


class Page(HTMLParser):
    """The tags, image sources and text of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.images: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "img":
            self.images.append(dict(attrs)["src"] or "")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


@functools.cache
def _sim() -> SimulatedCampaign:
    return simulate_campaign(2000, start=date(2024, 6, 1), end=date(2024, 6, 15), lift=0.5,
                             seed=21)  # fmt: skip


def _report(segment: np.ndarray | None = None) -> CampaignReport:
    sim = _sim()
    a = sim.assignment
    labels = sim.segment if segment is None else segment
    return build_campaign_report(sim.log, a.member, a.arm, start=sim.start, end=sim.end,
                                 segment=labels, currency="EUR")  # fmt: skip


def _assert_png_with_a_picture(path: Path) -> None:
    matplotlib_image = pytest.importorskip("matplotlib.image")
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n"), path
    pixels = matplotlib_image.imread(io.BytesIO(data), format="png")
    rgb = pixels[..., :3]
    assert rgb.std() > 0.05, path  # not one flat colour
    assert np.mean(np.any(rgb < 0.9, axis=-1)) > 0.01, path  # ink on the page


def test_every_untrusted_string_is_escaped_and_every_image_is_a_real_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    segment = np.array(HOSTILE, dtype=object)[np.arange(2000) % len(HOSTILE)]
    page_path = _report(segment).write_html(tmp_path)
    page = _parse(page_path)
    assert "script" not in page.tags
    assert page.tags.count("table") == 3
    assert len(page.images) == 3
    for source in page.images:
        assert "/" not in source
        _assert_png_with_a_picture(tmp_path / source)
    text = "".join(page.text)
    for name in ("<script>alert(1)</script>", "a&b \"c\" 'd'", "</table><img src=x>", "$$"):
        assert name in text  # shown as text, not markup
    assert "\x1b" not in text
    assert "\\x1b[31mred" in text  # a terminal escape shown as an escape


def test_the_page_has_the_text_tables(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    report = _report()
    text = "".join(_parse(report.write_html(tmp_path)).text)
    for line in report.to_text().splitlines():
        if line and not line.startswith("  "):  # titles and sentences, not table rows
            assert line.strip().removeprefix("loyaltycore campaign") in text
    assert "Spend per member (EUR), treatment - control" in text


def test_the_command_writes_the_page_with_its_charts(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    sim = simulate_campaign(600, start=date(2024, 6, 1), end=date(2024, 6, 15), seed=4)
    (tmp_path / "o.csv").write_text(sim.orders_csv())
    (tmp_path / "m.csv").write_text(sim.members_csv())
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = campaign_main([str(tmp_path / "o.csv"), "--members", str(tmp_path / "m.csv"),
                                "--arm-column", "arm", "--start", "2024-06-01",
                                "--end", "2024-06-15", "--format", "html",
                                "--out", str(tmp_path / "site")])  # fmt: skip
    assert status == 0
    page = Path(out.getvalue().strip())
    assert page == tmp_path / "site" / "campaign.html"
    assert sorted(p.name for p in page.parent.iterdir()) == [
        "campaign.html", "campaign.json", "campaign.txt", "campaign_curve.png",
        "campaign_lift.png",
    ]  # fmt: skip
    for source in _parse(page).images:
        _assert_png_with_a_picture(page.parent / source)


def test_the_charts_are_the_same_bytes_every_time(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    report = _report()
    first, second = tmp_path / "a", tmp_path / "b"
    report.write_html(first)
    _report().write_html(second)
    for path in sorted(first.iterdir()):
        assert path.read_bytes() == (second / path.name).read_bytes(), path.name


def test_without_matplotlib_the_page_says_how_to_get_the_charts(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "sys.modules['matplotlib'] = None  # as if it were not installed\n"
        "from datetime import date\n"
        "from loyaltycore.report import build_campaign_report\n"
        "from loyaltycore.simulate import SimulatedCampaign, simulate_campaign\n"
        "s = simulate_campaign(300, start=date(2024, 6, 1), end=date(2024, 6, 15), seed=1)\n"
        "a = s.assignment\n"
        "r = build_campaign_report(s.log, a.member, a.arm, start=s.start, end=s.end)\n"
        f"print(r.write_html({str(tmp_path)!r}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    page = _parse(Path(done.stdout.strip()))
    assert page.images == []
    assert "pip install 'loyaltycore[plot]'" in "".join(page.text)


@settings(max_examples=10, deadline=None)
@example(["\u0363", "$x^$"])  # a character the font lacks; a $ matplotlib would parse
@given(st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=3, unique=True))
def test_any_segment_names_give_a_page_with_its_charts(
    tmp_path_factory: pytest.TempPathFactory, names: list[str]
) -> None:
    pytest.importorskip("matplotlib")
    folder = tmp_path_factory.mktemp("names")
    segment = np.array(names, dtype=object)[np.arange(2000) % len(names)]
    page = _parse(_report(segment).write_html(folder))
    assert page.tags.count("img") == 3
    assert "script" not in page.tags
