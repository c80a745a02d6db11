"""The seeded program simulator: determinism, exact baskets, and the process it claims."""

from __future__ import annotations

import importlib
import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal

import numpy as np
import pytest

from loyaltycore.errors import InvalidArgument, InvalidType
from loyaltycore.simulate import Catalog, PurchaseProcess, SimulatedProgram, SpendProcess, simulate
from loyaltycore.transactions import summarize

START, END = date(2023, 1, 1), date(2024, 12, 31)


def test_same_seed_same_bytes_and_other_seed_other_bytes() -> None:
    a = simulate(300, start=START, end=END, seed=11)
    b = simulate(300, start=START, end=END, seed=11)
    c = simulate(300, start=START, end=END, seed=12)
    assert a.to_csv() == b.to_csv()
    assert a.members_csv() == b.members_csv()
    assert a == b
    assert a.to_csv() != c.to_csv()


def test_same_bytes_across_processes_and_hash_seeds() -> None:
    code = (
        "from datetime import date\n"
        "from loyaltycore.simulate import simulate\n"
        "import hashlib\n"
        "p = simulate(200, start=date(2024, 1, 1), end=date(2024, 12, 31), seed=5,"
        " tz='Asia/Shanghai')\n"
        "print(hashlib.sha256(p.to_csv().encode()).hexdigest())\n"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PATH": ""},
        ).stdout
        for seed in ("0", "123")
    }
    assert len(digests) == 1


def test_baskets_sum_exactly_to_each_purchase_and_lines_are_positive() -> None:
    program = simulate(500, start=START, end=END, seed=3)
    sums = np.bincount(
        program.line_txn, weights=program.line_amount, minlength=program.n_transactions
    )
    assert np.array_equal(sums.astype(np.int64), program.txn_amount)
    assert (program.line_amount > 0).all()
    assert (program.line_amount % program.line_quantity == 0).all()
    for member_id, event in list(program.events())[:200]:
        assert member_id.isdigit()
        assert sum(item.unit_price * item.quantity for item in event.items) == event.amount


def test_everything_happens_inside_the_period_in_the_program_zone() -> None:
    tz = "Pacific/Auckland"
    program = simulate(400, start=START, end=END, seed=4, tz=tz)
    log = program.transaction_log()
    summary = summarize(log, as_of=date(2025, 1, 1), tz=tz, unit="day")
    first_day = (START - date(1970, 1, 1)).days
    assert summary["first"].min() >= 0
    from loyaltycore.calendar import local_days

    days = local_days(program.txn_at, tz=tz)
    assert days.min() >= first_day
    assert days.max() <= (END - date(1970, 1, 1)).days
    # Every buyer's first purchase is on their join instant.
    joined = dict(zip(program.member_id.tolist(), program.joined_at.tolist(), strict=True))
    firsts = summary["first"]
    for cid, first in zip(summary["customer_id"].tolist(), firsts.tolist(), strict=True):
        assert joined[cid] == first


def test_prospects_never_buy_and_birthdays_may_be_unknown() -> None:
    program = simulate(2000, start=START, end=END, seed=6)
    buyers = np.unique(program.txn_member)
    share = 1 - buyers.size / program.n_members
    assert 0.05 < share < 0.2  # prospect_share 0.1 by default
    members = list(program.members())
    assert any(m.birthday is None for m in members)
    assert all(m.joined_at is not None for m in members)


def test_the_purchase_process_is_bg_nbd_parameter_recovery() -> None:
    importlib.import_module("scipy")
    from loyaltycore.clv import BetaGeo

    # Summaries count distinct purchase *days*, which merges same-day repeats;
    # a low purchase rate keeps that bias well inside the sampling error.
    truth = PurchaseProcess(r=0.8, alpha=80.0, a=0.9, b=3.0, prospect_share=0.0)
    program = simulate(6000, start=START, end=END, seed=8, purchases=truth, join_share=0.25)
    summary = summarize(program.transaction_log(), as_of=date(2025, 1, 1), unit="day")
    fitted = BetaGeo.fit(summary)
    params = {"r": fitted.r, "alpha": fitted.alpha, "a": fitted.a, "b": fitted.b}
    errors = fitted.fit_info.standard_errors
    for name, expected in {"r": 0.8, "alpha": 80.0, "a": 0.9, "b": 3.0}.items():
        assert abs(params[name] - expected) < 4 * errors[name], (name, params[name], errors[name])


def test_spend_follows_the_gamma_gamma_mean() -> None:
    spend = SpendProcess(p=6.0, q=4.0, gamma=15.0)
    program = simulate(8000, start=START, end=END, seed=9, spend=spend)
    mean = program.txn_amount.mean() / 100
    assert abs(mean - spend.mean_spend) / spend.mean_spend < 0.1


@pytest.mark.parametrize(
    ("kwargs", "error", "needle"),
    [
        ({"n_members": 0}, InvalidArgument, "n_members=0"),
        ({"n_members": 1.5}, InvalidType, "n_members=1.5"),
        ({"start": datetime(2024, 1, 1, tzinfo=UTC)}, InvalidType, "start="),
        ({"end": date(2022, 1, 1)}, InvalidArgument, "end=2022-01-01"),
        ({"tz": "Nowhere/Land"}, InvalidArgument, "Nowhere/Land"),
        ({"seed": -1}, InvalidArgument, "seed=-1"),
        ({"join_share": 0}, InvalidArgument, "join_share=0"),
    ],
)
def test_bad_input(kwargs: dict[str, object], error: type[Exception], needle: str) -> None:
    args: dict[str, object] = {"n_members": 10, "start": START, "end": END} | kwargs
    with pytest.raises(error, match=needle):
        simulate(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda: PurchaseProcess(r=0), "r=0.0"),
        (lambda: PurchaseProcess(prospect_share=1.0), "prospect_share"),
        (lambda: SpendProcess(q=-1), "q=-1.0"),
        (lambda: Catalog(skus=("a",), sku_categories=()), "skus"),
        (lambda: Catalog(channels=("app",), channel_weights=(0.5, 0.5)), "channels"),
    ],
)
def test_bad_process_parameters(make: object, needle: str) -> None:
    with pytest.raises(InvalidArgument, match=needle):
        make()  # type: ignore[operator]


def test_programs_compare_by_content_and_unit_prices_are_decimal() -> None:
    program = simulate(20, start=START, end=END, seed=1)
    assert isinstance(program, SimulatedProgram)
    _, event = next(program.events())
    assert all(isinstance(i.unit_price, Decimal) for i in event.items)
    assert program != simulate(20, start=START, end=END, seed=2)
