"""Every image in the docs is produced by code that runs here, byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from loyaltycore.report import SAMPLE_TZ, build_report, load_sample

IMAGES = Path(__file__).parent.parent / "docs" / "images"


def test_docs_images_are_reproduced_by_the_report(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    pytest.importorskip("scipy")
    build_report(load_sample(), tz=SAMPLE_TZ).write_html(tmp_path)
    shipped = sorted(IMAGES.glob("*.png"))
    assert shipped, "docs/images has no charts"
    for image in shipped:
        chart = image.name.removeprefix("report_")
        assert (tmp_path / chart).read_bytes() == image.read_bytes(), image.name


def test_every_image_referenced_by_the_docs_exists_and_is_produced_here() -> None:
    docs = Path(__file__).parent.parent / "docs"
    referenced = {
        line.split("](")[1].split(")")[0]
        for page in docs.glob("*.md")
        for line in page.read_text().splitlines()
        if line.startswith("![")
    }
    assert referenced == {f"images/{p.name}" for p in IMAGES.glob("*.png")}
