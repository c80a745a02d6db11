"""One member's points account over a year, ending with their statement.

Run it with ``python examples/statement.py``. It walks through the things a
loyalty back end does to an account: earning with an expiry policy, a return
window, redeeming, a checkout hold that is partly captured, a refund that
claws points back, a transfer to a family member, and points expiring.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from loyaltycore.points import ExpireAfter, Expired, PointsLedger, transfer

BERLIN = ZoneInfo("Europe/Berlin")


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN)


def day(at: datetime) -> str:
    return f"{at.astimezone(BERLIN):%d %b %Y}"


def main() -> PointsLedger:
    # Points expire 12 months after the earn date, at the end of that month.
    policy = ExpireAfter(months=12, round_to="month")
    anna = PointsLedger.open("anna", tz="Europe/Berlin", policy=policy)
    ben = PointsLedger.open("ben", tz="Europe/Berlin", policy=policy)

    # January: a purchase, and a welcome bonus that expires sooner.
    anna = anna.earn("order-1001", at=local(2024, 1, 15, 18, 5), points=1200, reason="order 1001")
    anna = anna.earn(
        "welcome",
        at=local(2024, 1, 15, 18, 6),
        points=300,
        expires_at=local(2024, 4, 1),
        reason="welcome bonus",
    )

    # February: an order inside a 30-day return window stays pending.
    placed = local(2024, 2, 3, 11, 0)
    anna = anna.earn(
        "order-1002",
        at=placed,
        points=800,
        available_at=placed + timedelta(days=30),
        reason="order 1002",
    )

    # March: a reward; the welcome bonus (expiring first) is used first.
    anna = anna.redeem(
        "reward-7", at=local(2024, 3, 10, 9, 30), points=500, reason="coffee machine"
    )

    # April: checkout holds 400 points, captures 250, the rest goes back.
    checkout = local(2024, 4, 2, 20, 0)
    anna = anna.hold("cart-88", at=checkout, points=400, deadline=checkout + timedelta(minutes=20))
    anna = anna.capture("pay-88", at=checkout + timedelta(minutes=3), hold="cart-88", points=250)

    # May: order 1002 is returned after its points vested: they are clawed back.
    anna = anna.reverse("refund-1002", at=local(2024, 5, 6, 15, 0), of="order-1002")

    # June: Anna gives Ben 100 points; they keep their expiry date.
    anna, ben = transfer(anna, ben, "gift-1", at=local(2024, 6, 1, 12, 0), points=100)

    # The account is closed for the year: what is left of January expires.
    year_end = local(2025, 2, 1)
    anna = anna.expire(as_of=year_end)

    print(anna.statement(local(2024, 1, 1), year_end + timedelta(days=1)))
    print()
    print("Why did my points expire?")
    for event in anna.events:
        if isinstance(event, Expired):
            lot = anna.lot(event.lot)
            print(
                f"  {event.points} points of {lot.id}, earned {day(lot.earned_at)}, "
                f"were usable until {day(event.at - timedelta(microseconds=1))}"
            )
    gift = ben.lots[0]
    assert gift.expires_at is not None
    print(
        f"Ben received {ben.balance().available} points, usable until "
        f"{day(gift.expires_at - timedelta(microseconds=1))} like Anna's."
    )
    return anna


if __name__ == "__main__":
    main()
