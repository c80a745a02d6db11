"""ROI: exact Decimal arithmetic from int minor units and points, every input reported."""

from __future__ import annotations

import pickle
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyaltycore.campaigns import roi
from loyaltycore.errors import EmptyArm, InvalidAmount, InvalidColumn, InvalidType, LoyaltyError


def test_a_worked_campaign() -> None:
    # 3 treated members spend 60.00, 0.00, 30.00 (one returned 10.00); 2 controls 20.00, 10.00
    r = roi(
        [6000, 0, 3000, 2000, 1000],
        [700, 0, 300, 200, 100],
        ["treatment"] * 3 + ["control"] * 2,
        returns=[0, 0, 1000, 0, 0],
        margin="0.40",
        cost_per_point="0.005",
        redemption_rate="0.7",
        fixed_costs="5",
    )
    # net spend per treated member (60 + 0 + 20) / 3 = 26.666..., control 15.00
    assert abs(Fraction(r.spend_lift) - (Fraction(80, 3) - 15)) < Fraction(1, 10**30)
    assert abs(Fraction(r.returns_lift or 0) - Fraction(10, 3)) < Fraction(1, 10**30)
    assert r.incremental_spend == Decimal("35.00")  # 11.666... x 3, to the cent
    assert r.incremental_margin == Decimal("14.00")
    assert abs(Fraction(r.points_lift) - (Fraction(1000, 3) - 150)) < Fraction(1, 10**30)
    assert r.extra_points == 550  # 1000 - 300 x 3 / 2, exactly
    assert r.points_cost == Decimal("1.92")  # 550 x 0.005 x 0.7 = 1.925, half-even
    assert r.net == Decimal("14.00") - Decimal("1.92") - 5
    assert r.roi == Decimal("1.0231")  # 7.08 / 6.92
    assert (r.members_treated, r.members_control, r.exponent) == (3, 2, 2)
    assert (r.margin, r.cost_per_point, r.redemption_rate, r.fixed_costs) == (
        Decimal("0.40"), Decimal("0.005"), Decimal("0.7"), Decimal(5),
    )  # fmt: skip
    assert pickle.loads(pickle.dumps(r)) == r


@settings(max_examples=80)
@given(
    st.lists(st.tuples(st.integers(0, 10**7), st.integers(0, 10**5), st.booleans()), min_size=2,
             max_size=40).filter(lambda rows: 0 < sum(r[2] for r in rows) < len(rows)),
    st.sampled_from(["0", "0.25", "1"]),
    st.sampled_from(["0.01", "0.0035"]),
    st.sampled_from(["0", "0.6", "1"]),
)  # fmt: skip
def test_roi_is_exact_against_fractions(
    rows: list[tuple[int, int, bool]], margin: str, per_point: str, redeem: str
) -> None:
    spend, points, treated = (list(c) for c in zip(*rows, strict=True))
    r = roi(spend, points, treated, margin=margin, cost_per_point=per_point,
            redemption_rate=redeem, fixed_costs="12.5", exponent=2)  # fmt: skip

    def gap(values: list[int]) -> Fraction:
        t = [v for v, a in zip(values, treated, strict=True) if a]
        c = [v for v, a in zip(values, treated, strict=True) if not a]
        return Fraction(sum(t), len(t)) - Fraction(sum(c), len(c))

    n_t = sum(treated)

    def cents(x: Fraction) -> Decimal:
        return Decimal(round(x * 100)) / 100  # round() on a Fraction is half-even

    incremental = cents(gap(spend) / 100 * n_t)
    assert r.incremental_spend == incremental
    margin_ = cents(Fraction(incremental) * Fraction(margin))
    assert r.incremental_margin == margin_
    cost = cents(gap(points) * n_t * Fraction(per_point) * Fraction(redeem))
    assert r.points_cost == cost
    assert r.net == margin_ - cost - Decimal("12.5")


def test_zero_cost_campaigns_have_no_ratio() -> None:
    r = roi([100, 0], [0, 0], [True, False], margin="1", cost_per_point="0", redemption_rate="1")
    assert r.roi is None
    assert r.net == Decimal("1.00")


BAD = [
    ({"margin": 0.3}, InvalidType, "margin=0.3 must be a Decimal, str or int, not float"),
    ({"margin": "1.2"}, InvalidAmount, "margin='1.2' must be between 0 and 1"),
    ({"redemption_rate": "-0.1"}, InvalidAmount, "redemption_rate='-0.1' must not be negative"),
    ({"fixed_costs": "-5"}, InvalidAmount, "fixed_costs='-5' must not be negative"),
    ({"cost_per_point": 0.01}, InvalidType, "cost_per_point=0.01 must be a Decimal"),
    ({"spend": [10.5, 0.0, 1.0, 2.0]}, InvalidType, "spend must be an int column"),
    ({"points": [1, 2, 3]}, InvalidColumn, "points has 3 rows, expected 4"),
    ({"arm": [True, True, True, True]}, EmptyArm, "control has 0 members; roi needs at least 1"),
    ({"returns": [0, -1, 0, 0]}, InvalidColumn, "returns\\[1\\]=-1 must be >= 0"),
    ({"exponent": True}, InvalidType, "exponent=True must be an int"),
]


@pytest.mark.parametrize(("change", "error", "message"), BAD)
def test_bad_roi_inputs_raise_named_errors(
    change: dict[str, object], error: type[LoyaltyError], message: str
) -> None:
    kwargs: dict[str, object] = {
        "spend": np.array([100, 0, 50, 0]),
        "points": [10, 0, 5, 0],
        "arm": [True, True, False, False],
        "margin": "0.3",
        "cost_per_point": "0.01",
        "redemption_rate": "0.6",
    }
    kwargs.update(change)
    with pytest.raises(error, match=message):
        roi(**kwargs)  # type: ignore[arg-type]


def test_a_points_cost_exactly_halfway_between_cents_rounds_once() -> None:
    # 13 - 1/3 extra points valued at 0.0375 x 0.6 is exactly 0.285, which
    # rounds half-even to 0.28. Dividing before multiplying made it
    # 0.2850...01 and rounded it up to 0.29.
    result = roi(
        [0, 0, 0, 0],
        [13, 1, 0, 0],
        ["treatment", "control", "control", "control"],
        margin="0.3",
        cost_per_point="0.0375",
        redemption_rate="0.6",
    )
    assert result.points_cost == Decimal("0.28")
