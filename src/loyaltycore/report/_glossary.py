"""What each lifecycle stage and RFM segment means, and what a marketer can do about it.

The definitions are computed from the policy and the grid the report used,
so they cannot drift from the numbers; the suggestions are the usual
playbook for each group, kept short.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from loyaltycore.segments import RFM_GRID

#: One line of advice per lifecycle stage.
STAGE_ACTIONS: Final[Mapping[str, str]] = {
    "prospect": "turn the sign-up into a first order: welcome offer, best sellers",
    "new": "welcome series; give a reason for a second order within a month",
    "active": "keep them close: recommendations, early access, ask for reviews and referrals",
    "at_risk": "remind them now: a personal recommendation or a small time-limited offer",
    "dormant": "win-back campaign with a stronger offer; ask why they stopped",
    "churned": "low-cost reactivation only; leave them out of expensive campaigns",
    "reactivated": "treat as new again: welcome back, make the next order easy",
}

#: What each classic RFM segment is, in words, and one line of advice.
SEGMENT_WORDS: Final[Mapping[str, tuple[str, str]]] = {
    "champions": (
        "bought recently, buy often and spend the most",
        "reward them: early access, exclusive perks, ask for referrals; no discounts needed",
    ),
    "loyal": (
        "buy often and spend well, and bought fairly recently",
        "upsell higher-value products; make the loyalty benefits visible",
    ),
    "potential_loyalist": (
        "recent customers with average frequency and spend",
        "invite them to the programme; recommend products that go with their last order",
    ),
    "new": (
        "bought very recently, but once or for little",
        "onboarding: help them get value from the first order, invite a second",
    ),
    "promising": (
        "bought recently but have not spent much yet",
        "build the habit: a small incentive for the next order, brand stories",
    ),
    "need_attention": (
        "average recency, frequency and spend: could go either way",
        "a limited-time offer built on what they bought before",
    ),
    "about_to_sleep": (
        "below-average recency, frequency and spend",
        "reconnect before they are lost: popular products, a modest discount",
    ),
    "at_risk": (
        "used to buy often and spend well, but not for a long time",
        "personal win-back messages, renewals, reminders of what they liked",
    ),
    "cant_lose": (
        "made the largest and most frequent purchases, but long ago",
        "win them back personally (a call, a strong offer); find out why they left",
    ),
    "hibernating": (
        "last purchase long ago, few purchases and a low spend",
        "include in broad, low-cost campaigns with relevant products",
    ),
    "lost": (
        "the lowest recency, frequency and spend",
        "one low-cost revival attempt, then leave them out",
    ),
}


def stage_meanings(thresholds: Mapping[str, int]) -> dict[str, str]:
    """Each stage's definition under the absolute-days policy ``thresholds``.

    ``thresholds`` has ``new_days``, ``at_risk``, ``dormant`` and ``churned``
    (days), as the report's lifecycle section records them.
    """
    new, risk = thresholds["new_days"], thresholds["at_risk"]
    dormant, churned = thresholds["dormant"], thresholds["churned"]
    return {
        "prospect": "has not bought yet",
        "new": f"first purchase in the last {new} days",
        "active": f"bought in the last {risk} days, first purchase {new} or more days ago",
        "at_risk": f"last purchase {risk} to {dormant - 1} days ago",
        "dormant": f"last purchase {dormant} to {churned - 1} days ago",
        "churned": f"no purchase for {churned} days or more",
        "reactivated": f"bought again in the last {new} days after being dormant or churned",
    }


def _span(values: list[int]) -> str:
    """1, 2, 3 -> "1-3"; 5 -> "5"; 1, 3 -> "1, 3"."""
    values = sorted(values)
    if values == list(range(values[0], values[-1] + 1)):
        return str(values[0]) if len(values) == 1 else f"{values[0]}-{values[-1]}"
    return ", ".join(str(v) for v in values)


def segment_cells(name: str) -> str:
    """Where a classic RFM segment sits on the R x FM grid: "R 5, FM 4-5"."""
    by_r: dict[int, list[int]] = {}
    for r, row in RFM_GRID.items():
        for fm, owner in enumerate(row, start=1):
            if owner == name:
                by_r.setdefault(r, []).append(fm)
    groups: dict[str, list[int]] = {}
    for r, fms in by_r.items():
        groups.setdefault(_span(fms), []).append(r)
    parts = [f"R {_span(rs)}, FM {fms}" for fms, rs in groups.items()]
    return "; ".join(parts)


def segment_meaning(name: str) -> str:
    """A segment's definition: its words and its cells, or "" for an unknown name."""
    words = SEGMENT_WORDS.get(name)
    if words is None:
        return ""
    return f"{words[0]} ({segment_cells(name)})"


def segment_action(name: str) -> str:
    """A segment's one line of advice, or "" for an unknown name."""
    words = SEGMENT_WORDS.get(name)
    return "" if words is None else words[1]
