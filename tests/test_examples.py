"""The example programs run and print what they promise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).parent.parent / "examples"


def run(name: str, *args: str) -> str:
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        check=True,
        text=True,
        timeout=60,
    )
    return out.stdout


def test_statement_walkthrough() -> None:
    text = run("statement.py")
    assert text.startswith("Statement for anna")
    for expected in (
        "now usable",
        "captured 250 of hold cart-88",
        "refund of order-1002",
        "transfer to ben",
        "expired 650 of order-1001",
        "Why did my points expire?",
        "usable until 31 Jan 2025",
    ):
        assert expected in text
    assert "closing balance" in text


def test_sqlite_host_stores_accounts_through_the_store(tmp_path: Path) -> None:
    db = tmp_path / "accounts.db"
    text = run("sqlite_host.py", str(db))
    assert "order-2: redeemed 200, earned 25, version 3\n" in text
    assert "stored events: 1:open, 2:order, 3:order\n" in text
    assert "projection: available 325, tier silver" in text
