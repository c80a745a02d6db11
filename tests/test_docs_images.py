"""Every image in the docs is produced by code that runs here, byte for byte."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from types import ModuleType

from loyaltycore.report import SAMPLE_TZ, build_report, load_sample
from tests.scripts import load_script

DOCS = Path(__file__).parent.parent / "docs"
IMAGES = DOCS / "images"


def _plot_images() -> ModuleType:
    """docs/plot_images.py, the script that draws docs/plot.md's images."""
    return load_script(DOCS / "plot_images.py", "plot_images")


def test_report_images_are_reproduced_by_the_report(tmp_path: Path) -> None:
    importlib.import_module("matplotlib")
    importlib.import_module("scipy")
    build_report(load_sample(), tz=SAMPLE_TZ, currency="EUR").write_html(tmp_path)
    shipped = sorted(IMAGES.glob("report_*.png"))
    assert shipped, "docs/images has no report charts"
    for image in shipped:
        chart = image.name.removeprefix("report_")
        assert (tmp_path / chart).read_bytes() == image.read_bytes(), image.name


def test_plot_images_are_reproduced_by_their_script(tmp_path: Path) -> None:
    importlib.import_module("matplotlib")
    importlib.import_module("scipy")
    written = _plot_images().main(tmp_path)
    assert {p.name for p in written} == {p.name for p in IMAGES.glob("plot_*.png")}
    for path in written:
        assert path.read_bytes() == (IMAGES / path.name).read_bytes(), path.name


def test_every_image_referenced_by_the_docs_exists_and_is_produced_here() -> None:
    referenced = {
        line.split("](")[1].split(")")[0]
        for page in DOCS.glob("*.md")
        for line in page.read_text().splitlines()
        if line.startswith("![")
    }
    images = {f"images/{p.name}" for p in IMAGES.glob("*.png")}
    assert referenced == images
    assert all(Path(p).name.startswith(("report_", "plot_")) for p in images)
