"""The report command: bundled sample, other CSVs, JSON determinism, HTML, bad files."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from loyaltycore.report import SAMPLE_TZ, build_report, load_sample, main, sample_path
from loyaltycore.simulate import simulate
from loyaltycore.transactions import TransactionLog

ROOT = Path(__file__).parent.parent


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "loyaltycore", "report", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
    )


def test_the_bundled_sample_is_the_seeded_simulation_it_claims_to_be() -> None:
    program = simulate(
        1500,
        start=date(2023, 1, 1),
        end=date(2024, 12, 31),
        tz=SAMPLE_TZ,
        seed=2024,
        join_share=0.75,
    )
    assert sample_path().read_text() == program.to_csv()
    members = sample_path().with_name("sample_members.csv").read_text()
    assert members == program.members_csv()


def test_text_report_on_the_sample_has_every_section() -> None:
    done = _run("--top", "5")
    assert done.returncode == 0, done.stderr
    text = done.stdout
    for heading in (
        "Overview",
        "Monthly retention",
        "Cohort retention",
        "Lifecycle stages",
        "RFM segments",
        "Customer lifetime value",
        "BG/NBD               r",
        "Gamma-Gamma          p",
        "Top 5 customers by predicted value",
    ):
        assert heading in text, heading


def test_json_is_byte_identical_across_runs_and_hash_seeds() -> None:
    first = _run("--format", "json", env={"PYTHONHASHSEED": "1"})
    second = _run("--format", "json", env={"PYTHONHASHSEED": "2"})
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    data = json.loads(first.stdout)
    overview = data["overview"]
    log = load_sample()
    assert overview["transactions"] == len(log)
    assert overview["customers"] == log.n_customers
    assert sum(data["lifecycle"]["stages"].values()) == log.n_customers
    assert sum(data["rfm"]["segments"].values()) == log.n_customers
    assert len(data["clv"]["top"]) == 10


def test_report_figures_agree_with_the_library_functions() -> None:
    report = build_report(load_sample(), tz=SAMPLE_TZ, fit_clv=False)
    overview = report.data["overview"]
    log = load_sample()
    assert overview["revenue"] == f"{log.amount.sum() / 100:.2f}"
    assert 0 < overview["repeat_customer_share"] < 1
    assert 0 < overview["repurchase_within_90_days"] < 1
    cohorts = report.data["cohorts"]
    assert all(row[0] == 1.0 for row in cohorts["rates"])  # a cohort buys in its first period


def test_a_csv_with_other_column_names_and_formats(tmp_path: Path) -> None:
    src = tmp_path / "orders.tsv"
    lines = ["client\twhen\ttotal"]
    for i in range(60):
        client = f"C{i % 12:02d}"
        day = date(2024, 1 + i % 12, 1 + i % 27)
        lines.append(f"{client}\t{day:%d/%m/%Y}\t{10 + i % 7}.{i % 100:02d}")
    src.write_text("\n".join(lines) + "\n")
    done = _run(
        str(src),
        "--customer", "client",
        "--at", "when",
        "--amount", "total",
        "--date-format", "%d/%m/%Y",
        "--delimiter", "\t",
        "--tz", "America/New_York",
        "--as-of", "2025-01-01",
        "--no-clv",
        "--format", "json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["overview"]["customers"] == 12
    assert data["overview"]["transactions"] == 60
    assert data["as_of"] == "2025-01-01T05:00:00+00:00"
    assert data["tz"] == "America/New_York"


def test_cdnow_master_in_whitespace_format() -> None:
    done = _run(
        "tests/data/CDNOW_master.txt",
        "--delimiter", "whitespace",
        "--at", "date",
        "--amount", "dollar_value",
        "--date-format", "%Y%m%d",
        "--as-of", "1998-07-01",
        "--format", "json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["overview"]["customers"] == 23570
    assert data["overview"]["transactions"] == 69659
    assert data["clv"]["bg_nbd"]["parameters"]["r"] > 0


BAD = [
    ("customer_id,timestamp\n1,2024-01-01T00:00+00:00\n", "column 'amount'", None),
    (
        "customer_id,timestamp,amount\n1,2024-01-01T00:00+00:00,5\n2,yesterday,5\n",
        "line 3",
        "timestamp",
    ),
    (
        "customer_id,timestamp,amount\n1,2024-01-01T00:00+00:00,5\n2,2024-01-02T00:00+00:00,NaN\n",
        "line 3",
        "amount",
    ),
    ("customer_id,timestamp,amount\n1,2024-01-01T00:00+00:00,-5\n", "line 2", "amount"),
    ("customer_id,timestamp,amount\n1,2024-01-01T00:00+00:00\n", "line 2", None),
]


@pytest.mark.parametrize(("text", "where", "column"), BAD)
def test_a_bad_csv_gives_one_line_naming_file_line_and_column(
    tmp_path: Path, text: str, where: str, column: str | None
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    done = _run(str(path), "--no-clv")
    assert done.returncode == 2
    assert done.stdout == ""
    message = done.stderr.strip()
    assert "\n" not in message, message
    assert str(path) in message
    assert where in message
    if column is not None:
        assert f"column '{column}'" in message


def test_a_missing_file_exits_2(tmp_path: Path) -> None:
    done = _run(str(tmp_path / "nope.csv"))
    assert done.returncode == 2
    assert "nope.csv" in done.stderr


def test_html_report_with_charts(tmp_path: Path) -> None:
    importlib.import_module("matplotlib")
    assert main(["--format", "html", "--out", str(tmp_path), "--top", "3"]) == 0
    page = (tmp_path / "report.html").read_text()
    for chart in ("cohorts", "retention", "lifecycle", "rfm", "clv", "clv_check"):
        assert f'src="{chart}.png"' in page
        assert (tmp_path / f"{chart}.png").read_bytes().startswith(b"\x89PNG")
    assert json.loads((tmp_path / "report.json").read_text())["overview"]["customers"] > 0


def test_the_log_api_and_report_agree_on_the_sample() -> None:
    log = TransactionLog.from_csv(sample_path(), at="timestamp")
    assert len(log) == len(load_sample())
