"""The text report, character for character, on the sample, on CDNOW and on a tiny file.

``tests/golden/report_*.txt`` are what a user sees. A change to the report's
wording or layout shows here as a diff to review; after reviewing, write the
new files with ``LOYALTYCORE_WRITE_GOLDEN=1 pytest tests/test_report_golden.py``
and commit them with the change.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
from pathlib import Path

from loyaltycore.report import main

ROOT = Path(__file__).parent.parent
GOLDEN = ROOT / "tests" / "golden"
CDNOW = [
    "tests/data/CDNOW_master.txt", "--delimiter", "whitespace", "--at", "date",
    "--amount", "dollar_value", "--date-format", "%Y%m%d", "--as-of", "1998-07-01",
    "--currency", "USD",
]  # fmt: skip
TINY = (
    "customer_id,timestamp,amount\n"
    "a,2024-01-05T10:00:00+01:00,9.50\n"
    "b,2024-02-01T10:00:00+01:00,1250\n"
    "a,2024-03-01T18:30:00+01:00,4.25\n"
)


def _text(argv: list[str], where: Path = ROOT) -> str:
    """The command's output, run from ``where`` (file names in the report are as given)."""
    out, err = io.StringIO(), io.StringIO()
    cwd = Path.cwd()
    os.chdir(where)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(argv)
    finally:
        os.chdir(cwd)
    assert (status, err.getvalue()) == (0, "")
    return out.getvalue()


def _check(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("LOYALTYCORE_WRITE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_the_sample_report() -> None:
    importlib.import_module("scipy")
    _check("report_sample.txt", _text(["--top", "5"]))


def test_the_cdnow_report() -> None:
    importlib.import_module("scipy")
    _check("report_cdnow.txt", _text([*CDNOW, "--top", "5"]))


def test_a_tiny_file_without_clv(tmp_path: Path) -> None:
    importlib.import_module("scipy")
    (tmp_path / "tiny.csv").write_text(TINY)
    _check(
        "report_tiny.txt",
        _text(["tiny.csv", "--tz", "Europe/Paris", "--currency", "EUR"], tmp_path),
    )
