"""Campaign plots draw the read-out's own figures: lifts, intervals, spend per day, segments."""

from __future__ import annotations

from datetime import date

import attrs
import numpy as np
import pytest

pytest.importorskip("matplotlib")

from loyaltycore import campaigns, plot
from loyaltycore.errors import EmptyData, InvalidArgument, InvalidType, LoyaltyError
from loyaltycore.simulate import SimulatedCampaign, simulate_campaign


def _sim() -> SimulatedCampaign:
    return simulate_campaign(
        3000, start=date(2024, 6, 1), end=date(2024, 6, 15), lift=0.6, pull_forward=0.5,
        seed=12,
    )  # fmt: skip


def _readout(**kwargs: object) -> campaigns.Windows:
    sim = _sim()
    a = sim.assignment
    return campaigns.windows(
        sim.log,
        a.member,
        a.arm,
        start=sim.start,
        end=sim.end,
        **kwargs,  # type: ignore[arg-type]
    )


def test_the_lift_plot_shows_each_row_at_its_difference_and_interval() -> None:
    r = _readout(horizons=(7, 30))
    ax = plot.plot_campaign_lift(r)
    dots = [line for line in ax.lines if line.get_marker() == "o"]
    assert [float(d.get_xdata()[0]) for d in dots] == pytest.approx(r.difference.tolist())
    spans = [seg for coll in ax.collections for seg in coll.get_segments()]
    assert [s[0][0] for s in spans] == pytest.approx(r.low.tolist())
    assert [s[1][0] for s in spans] == pytest.approx(r.high.tolist())
    assert [t.get_text() for t in ax.texts] == [plot._base.number(x) for x in r.difference]
    assert ax.get_title() == "Lift per member, treatment - control, with 95% intervals"


def test_a_window_that_had_not_ended_is_a_hollow_dot() -> None:
    sim = _sim()
    a = sim.assignment
    end = sim.end.replace(day=20)
    r = campaigns.windows(sim.log, a.member, a.arm, start=sim.start, end=sim.end, as_of=end)
    ax = plot.plot_campaign_lift(r)
    dots = [line for line in ax.lines if line.get_marker() == "o"]
    hollow = [d.get_markerfacecolor() == "white" for d in dots]
    assert hollow == [not c for c in r.complete.tolist()]
    assert any(hollow)


def test_the_curve_steps_are_each_arms_spend_per_member_per_day() -> None:
    r = _readout(horizons=(7, 30), unit="day")
    ax = plot.plot_campaign_curve(r, currency="EUR")
    treatment, control = ax.patches[:2]  # the two stairs, then the campaign's shading
    edges = np.array([-30.0, -7.0, 0.0, 14.0, 21.0, 44.0])
    t = r.treated
    pre30_only = (r.pre[:, 1] - r.pre[:, 0]) / 100
    expected_t = [pre30_only[t].mean() / 23, r.pre[t, 0].mean() / 100 / 7,
                  r.during[t].mean() / 100 / 14]  # fmt: skip
    last_c = (r.post[~t, 1] - r.post[~t, 0]).mean() / 100 / 23
    got_t = treatment.get_data()
    got_c = control.get_data()
    assert got_t.edges == pytest.approx(edges)
    assert got_t.values[:3] == pytest.approx(expected_t)
    assert [got_c.values[0], got_c.values[-1]] == pytest.approx(
        [pre30_only[~t].mean() / 23, last_c]
    )
    assert ax.get_ylabel() == "mean net spend per member per day, EUR"


def test_weeks_are_drawn_in_days() -> None:
    r = _readout(horizons=(1, 4), unit="week")
    edges = plot.plot_campaign_curve(r).patches[0].get_data().edges
    assert edges == pytest.approx([-28.0, -7.0, 0.0, 14.0, 21.0, 42.0])


def test_segments_are_filled_where_significant_and_labelled_with_their_members() -> None:
    sim = _sim()
    a = sim.assignment
    r = campaigns.windows(sim.log, a.member, a.arm, start=sim.start, end=sim.end)
    b = campaigns.breakdown(r.during / 100, a.arm, sim.segment)
    ax = plot.plot_campaign_segments(b)
    dots = [line for line in ax.lines if line.get_marker() == "o"]
    filled = [d.get_markerfacecolor() != "white" for d in dots]
    assert filled == b.significant.tolist()
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0] == f"{b.segment[0]} ({b.n_treatment[0]:,} / {b.n_control[0]:,})"
    assert ax.get_title() == "Lift by segment with 95% intervals"


BAD = [
    (lambda: plot.plot_campaign_lift(_readout(), currency=5), InvalidType, "currency=5"),
    (lambda: plot.plot_campaign_lift("windows"), InvalidType, "windows must be"),
    (lambda: plot.plot_campaign_curve(campaigns.compare([1, 2], [1, 2])), InvalidType, "windows"),
    (
        lambda: plot.plot_campaign_curve(attrs.evolve(_readout(), start=None)),
        InvalidArgument,
        "has no start and end",
    ),
    (lambda: plot.plot_campaign_segments(_readout()), InvalidType, "breakdown must be"),
]


@pytest.mark.parametrize(("call", "error", "message"), BAD)
def test_bad_input_raises_a_named_error(
    call: object, error: type[LoyaltyError], message: str
) -> None:
    with pytest.raises(error, match=message):
        call()  # type: ignore[operator]


def test_an_empty_breakdown_is_refused() -> None:
    b = campaigns.breakdown([1.0, 2.0, 1.0, 2.0], [True, True, False, False], ["s"] * 4)
    empty = attrs.evolve(
        b, **{name: value[:0] for name, value in b.columns().items()}
    )  # fmt: skip
    with pytest.raises(EmptyData, match="no segment"):
        plot.plot_campaign_segments(empty)


def test_segment_names_are_drawn_as_plain_text() -> None:
    import io

    names = np.array(["$x^$", "tab\there", "a$b"], dtype=object)
    arm = np.tile([True, True, False, False], 3)
    b = campaigns.breakdown(np.arange(12.0), arm, np.repeat(names, 4))
    ax = plot.plot_campaign_segments(b)
    ax.figure.savefig(io.BytesIO(), format="png")  # mathtext would fail to parse "$x^$"
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == [r"\$x^\$ (2 / 2)", r"a\$b (2 / 2)", r"tab\there (2 / 2)"]
