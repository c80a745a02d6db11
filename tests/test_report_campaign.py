"""The campaign command: a golden text read-out, canonical JSON, and the library's figures.

The golden file ``tests/golden/campaign_report.txt`` is the text read-out of
the simulated campaign below; ``python tests/test_report_campaign.py``
writes it again (review the difference before committing it).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from loyaltycore.campaigns import breakdown, cuped, windows
from loyaltycore.report import build_campaign_report, campaign_main
from loyaltycore.simulate import SimulatedCampaign, simulate_campaign

ROOT = Path(__file__).parent.parent
GOLDEN = Path(__file__).parent / "golden" / "campaign_report.txt"
ARGS = ["--arm-column", "arm", "--start", "2024-06-01", "--end", "2024-06-15"]


def _campaign() -> SimulatedCampaign:
    return simulate_campaign(
        1_500, start=date(2024, 6, 1), end=date(2024, 6, 15),
        lift={"bronze": 0.2, "silver": 0.5, "gold": 1.2}, pull_forward=0.5,
        share=0.2, salt="golden", seed=2024,
    )  # fmt: skip


def _files(folder: Path) -> tuple[str, str]:
    sim = _campaign()
    orders, members = folder / "orders.csv", folder / "members.csv"
    orders.write_text(sim.orders_csv(), encoding="utf-8")
    members.write_text(sim.members_csv(), encoding="utf-8")
    return str(orders), str(members)


def run(*argv: str) -> tuple[int, str, str]:
    """The command in process: exit status, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = campaign_main(list(argv))
    return status, out.getvalue(), err.getvalue()


def _text(folder: Path) -> str:
    orders, members = _files(folder)
    status, out, err = run(orders, "--members", members, *ARGS, "--segment-column", "segment")
    assert (status, err) == (0, "")
    return out


def test_the_text_read_out_is_the_golden_one(tmp_path: Path) -> None:
    assert _text(tmp_path) == GOLDEN.read_text(encoding="utf-8")


def test_json_is_the_same_bytes_across_processes_and_hash_seeds(tmp_path: Path) -> None:
    orders, members = _files(tmp_path)
    outputs = {
        subprocess.run(
            [sys.executable, "-m", "loyaltycore", "campaign", orders, "--members", members,
             *ARGS, "--segment-column", "segment", "--format", "json"],
            capture_output=True, text=True, check=True, cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("0", "77")
    }  # fmt: skip
    assert len(outputs) == 1
    data = json.loads(outputs.pop())
    assert data["members"] == {"treatment": 1200, "control": 300}


def test_the_figures_are_the_library_functions_on_the_same_data(tmp_path: Path) -> None:
    orders, members = _files(tmp_path)
    status, out, _ = run(orders, "--members", members, *ARGS, "--segment-column", "segment",
                         "--format", "json", "--adjust", "bh")  # fmt: skip
    assert status == 0
    data = json.loads(out)
    sim = _campaign()
    a = sim.assignment
    r = windows(sim.log, a.member, a.arm, start=sim.start, end=sim.end)
    for row, difference, low, high in zip(data["windows"], r.difference, r.low, r.high,
                                          strict=True):  # fmt: skip
        assert row["difference"] == pytest.approx(difference, abs=1e-6)
        assert (row["low"], row["high"]) == pytest.approx((low, high), abs=1e-6)
    during, pre = r.during / 100, r.pre[:, 2] / 100
    c = cuped(during, pre, a.arm).compare()
    assert data["cuped"]["difference"] == pytest.approx(c.difference, abs=1e-6)
    b = breakdown(during, a.arm, sim.segment, adjust="bh")
    rows = data["segments"]["rows"]
    assert [row["segment"] for row in rows] == b.segment.tolist()
    assert [row["p_adjusted"] for row in rows] == pytest.approx(b.p_adjusted.tolist(), abs=1e-6)
    assert data["pull_forward"]["30"] == pytest.approx(r.pull_forward[1], abs=1e-6)
    assert data["orders"] == {"read": len(sim.log), "of_assigned_members": len(sim.log),
                              "customers_not_assigned": 0}  # fmt: skip


def test_the_command_line_entry_point_and_out_folder(tmp_path: Path) -> None:
    orders, members = _files(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "loyaltycore", "campaign", orders, "--members", members, *ARGS,
         "--out", str(tmp_path / "out")],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )  # fmt: skip
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == (tmp_path / "out" / "campaign.txt").read_text(encoding="utf-8")
    assert json.loads((tmp_path / "out" / "campaign.json").read_text())["segments"] is None
    assert "During the campaign by segment" not in done.stdout


def test_members_who_never_bought_count_and_strangers_are_ignored(tmp_path: Path) -> None:
    (tmp_path / "o.csv").write_text(
        "customer_id,timestamp,amount\n"
        "a,2024-06-02T10:00:00+00:00,30.00\n"
        "b,2024-06-03T10:00:00+00:00,10.00\n"
        "zz,2024-06-03T10:00:00+00:00,99.00\n"
    )
    (tmp_path / "m.csv").write_text(
        "member_id,arm\na,treatment\nc,treatment\nb,control\nd,control\n"
    )
    status, out, err = run(str(tmp_path / "o.csv"), "--members", str(tmp_path / "m.csv"), *ARGS,
                           "--format", "json")  # fmt: skip
    assert (status, err) == (0, "")
    data = json.loads(out)
    during = data["windows"][0]
    assert (during["treatment_mean"], during["control_mean"]) == (15.0, 5.0)
    assert data["orders"] == {"read": 3, "of_assigned_members": 2, "customers_not_assigned": 1}
    assert data["campaign"]["as_of"] == "2024-06-15T00:00:00+00:00"  # never before the end
    assert [w["complete"] for w in data["windows"] if w["window"] == "post"] == [False] * 3


def test_other_labels_and_a_small_segment_left_out(tmp_path: Path) -> None:
    sim = _campaign()
    a = sim.assignment
    segment = np.where(np.arange(len(a.member)) < 3, "tiny", sim.segment).astype(object)
    segment[5] = ""
    report = build_campaign_report(sim.log, a.member, np.where(a.treated, "treatment", "control"),
                                   start=sim.start, end=sim.end, segment=segment)  # fmt: skip
    info = report.data["segments"]
    assert info["skipped"] == ["tiny"]
    assert info["without_segment"] == 1
    assert "left out (fewer than 2 members in an arm): tiny" in report.to_text()
    rows = [
        f"{m},{'test' if t else 'holdout'}\n" for m, t in zip(a.member, a.treated, strict=True)
    ]
    (tmp_path / "m.csv").write_text("member_id,group\n" + "".join(rows))
    orders, members = _files(tmp_path)
    status, out, err = run(orders, "--members", str(tmp_path / "m.csv"), "--arm-column", "group",
                           "--start", "2024-06-01", "--end", "2024-06-15",
                           "--treatment-label", "test", "--control-label", "holdout")  # fmt: skip
    assert (status, err) == (0, "")
    assert (0, out, "") == run(orders, "--members", members, *ARGS)


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        GOLDEN.write_text(_text(Path(folder)), encoding="utf-8")
    print(f"wrote {GOLDEN}")
