"""Seeded synthetic loyalty programs for demos, benchmarks and tests.

:func:`simulate` draws a program in its own time zone: members with join dates
and birthdays, purchases from the BG/NBD process (each member buys at a
Poisson rate drawn from a gamma distribution and, after each purchase, drops
out with a probability drawn from a beta distribution), spend from the
Gamma-Gamma model, baskets of SKUs in categories, and channels. The result is
a :class:`SimulatedProgram`, which gives a
:class:`~loyaltycore.transactions.TransactionLog`, a member table and an event
stream that rule sets and ledgers consume.

The same arguments and seed give the same bytes, on every host:

>>> from datetime import date
>>> program = simulate(200, start=date(2024, 1, 1), end=date(2024, 12, 31), seed=7)
>>> program.n_transactions == simulate(
...     200, start=date(2024, 1, 1), end=date(2024, 12, 31), seed=7).n_transactions
True
>>> again = simulate(200, start=date(2024, 1, 1), end=date(2024, 12, 31), seed=7)
>>> program.to_csv() == again.to_csv()
True
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

import attrs
import numpy as np
import numpy.typing as npt

from loyaltycore._validate import check_int, check_rate, type_name
from loyaltycore.calendar import DAY_US, from_micros, start_of_day, to_micros, zone
from loyaltycore.errors import InvalidArgument, InvalidType
from loyaltycore.progress import Progress, check_progress

if TYPE_CHECKING:
    from loyaltycore.predicates import Event, Member
    from loyaltycore.transactions import TransactionLog

__all__ = [
    "Catalog",
    "PurchaseProcess",
    "SimulatedProgram",
    "SpendProcess",
    "simulate",
]

_I64: Final = np.int64
_MISSING: Final = int(np.iinfo(np.int64).min)


def _frozen_array(values: npt.ArrayLike, dtype: Any) -> npt.NDArray[Any]:
    array = np.array(values, dtype=dtype, copy=True)
    array.flags.writeable = False
    return array


def _array_field() -> Any:
    return attrs.field(eq=attrs.cmp_using(eq=np.array_equal), repr=False)


@attrs.frozen
class PurchaseProcess:
    """The BG/NBD purchase process, with rates per day.

    Each member's purchase rate is ``Gamma(r, scale=1/alpha)`` per day and the
    drop-out probability after each purchase is ``Beta(a, b)``.
    ``prospect_share`` of members join but never buy.

    >>> PurchaseProcess().mean_rate_per_year
    9.125
    """

    r: float = attrs.field(default=0.5, converter=float)
    alpha: float = attrs.field(default=20.0, converter=float)
    a: float = attrs.field(default=0.8, converter=float)
    b: float = attrs.field(default=4.0, converter=float)
    prospect_share: float = attrs.field(default=0.1, converter=float)

    def __attrs_post_init__(self) -> None:
        for name in ("r", "alpha", "a", "b"):
            if not getattr(self, name) > 0:
                raise InvalidArgument(
                    f"{name}={getattr(self, name)!r} must be > 0",
                    field=name,
                    value=getattr(self, name),
                )
        if not 0 <= self.prospect_share < 1:
            raise InvalidArgument(
                f"prospect_share={self.prospect_share!r} must be in [0, 1)",
                field="prospect_share",
                value=self.prospect_share,
            )

    @property
    def mean_rate_per_year(self) -> float:
        """The population's mean purchase rate while alive, per 365 days."""
        return self.r / self.alpha * 365


@attrs.frozen
class SpendProcess:
    """Gamma-Gamma spend: a member's mean spend is ``p / nu``, ``nu ~ Gamma(q, 1/gamma)``.

    >>> round(SpendProcess().mean_spend, 2)
    30.0
    """

    p: float = attrs.field(default=6.0, converter=float)
    q: float = attrs.field(default=4.0, converter=float)
    gamma: float = attrs.field(default=15.0, converter=float)

    def __attrs_post_init__(self) -> None:
        for name in ("p", "q", "gamma"):
            if not getattr(self, name) > 0:
                raise InvalidArgument(
                    f"{name}={getattr(self, name)!r} must be > 0",
                    field=name,
                    value=getattr(self, name),
                )

    @property
    def mean_spend(self) -> float:
        """The population's mean transaction value (finite when ``q > 1``)."""
        return self.p * self.gamma / (self.q - 1) if self.q > 1 else float("inf")


@attrs.frozen
class Catalog:
    """SKUs with their categories, and the channels purchases come through.

    >>> Catalog().categories
    ('bakery', 'coffee', 'merch', 'tea')
    """

    skus: tuple[str, ...] = (
        "espresso",
        "latte",
        "cold-brew",
        "green-tea",
        "chai",
        "croissant",
        "muffin",
        "bagel",
        "mug",
        "tote",
    )
    sku_categories: tuple[str, ...] = (
        "coffee",
        "coffee",
        "coffee",
        "tea",
        "tea",
        "bakery",
        "bakery",
        "bakery",
        "merch",
        "merch",
    )
    channels: tuple[str, ...] = ("store", "app", "web")
    channel_weights: tuple[float, ...] = (0.6, 0.3, 0.1)
    stores: tuple[str, ...] = ("downtown", "airport", "campus")

    def __attrs_post_init__(self) -> None:
        if len(self.skus) != len(self.sku_categories) or not self.skus:
            raise InvalidArgument(
                "skus and sku_categories must be non-empty and of equal length", field="skus"
            )
        if len(self.channels) != len(self.channel_weights) or not self.channels:
            raise InvalidArgument(
                "channels and channel_weights must be non-empty and of equal length",
                field="channels",
            )

    @property
    def categories(self) -> tuple[str, ...]:
        """The distinct categories, sorted."""
        return tuple(sorted(set(self.sku_categories)))


@attrs.frozen(eq=False)
class SimulatedProgram:
    """A simulated program: members, transactions and basket lines as columns.

    Instants are int64 microseconds UTC, money int64 cents, birthdays int64
    day numbers (``-2**63`` where unknown). Use :meth:`transaction_log`,
    :meth:`events` and :meth:`members` for the library's own types.

    >>> from datetime import date
    >>> program = simulate(50, start=date(2024, 1, 1), end=date(2024, 6, 30), seed=1)
    >>> program.n_members, program.tz
    (50, 'UTC')
    """

    tz: str
    start: date
    end: date
    catalog: Catalog
    member_id: npt.NDArray[np.int64] = _array_field()
    joined_at: npt.NDArray[np.int64] = _array_field()
    birthday: npt.NDArray[np.int64] = _array_field()
    txn_member: npt.NDArray[np.int64] = _array_field()
    txn_at: npt.NDArray[np.int64] = _array_field()
    txn_amount: npt.NDArray[np.int64] = _array_field()
    txn_channel: npt.NDArray[np.int64] = _array_field()
    txn_store: npt.NDArray[np.int64] = _array_field()
    line_txn: npt.NDArray[np.int64] = _array_field()
    line_sku: npt.NDArray[np.int64] = _array_field()
    line_quantity: npt.NDArray[np.int64] = _array_field()
    line_amount: npt.NDArray[np.int64] = _array_field()

    @property
    def n_members(self) -> int:
        """Number of members, buyers or not."""
        return int(self.member_id.size)

    @property
    def n_transactions(self) -> int:
        """Number of purchases."""
        return int(self.txn_at.size)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SimulatedProgram):
            return NotImplemented
        return self.to_csv() == other.to_csv() and self.members_csv() == other.members_csv()

    __hash__ = None  # type: ignore[assignment]

    def _txn_category(self) -> npt.NDArray[np.int64]:
        """The category code of each transaction's largest basket line."""
        cats = np.asarray(
            [self.catalog.categories.index(c) for c in self.catalog.sku_categories], dtype=_I64
        )
        order = np.lexsort((-self.line_amount, self.line_txn))
        first = np.ones(order.size, dtype=bool)
        first[1:] = self.line_txn[order][1:] != self.line_txn[order][:-1]
        result = np.zeros(self.n_transactions, dtype=_I64)
        result[self.line_txn[order][first]] = cats[self.line_sku[order][first]]
        return result

    def to_csv(self) -> str:
        """Transactions as CSV text: customer_id, timestamp (ISO UTC), amount, category, channel.

        >>> from datetime import date
        >>> text = simulate(20, start=date(2024, 1, 1), end=date(2024, 3, 31), seed=3).to_csv()
        >>> text.splitlines()[0]
        'customer_id,timestamp,amount,category,channel'
        """
        out = io.StringIO()
        out.write("customer_id,timestamp,amount,category,channel\n")
        categories = self.catalog.categories
        cat = self._txn_category()
        for i in range(self.n_transactions):
            cents = int(self.txn_amount[i])
            out.write(
                f"{int(self.txn_member[i])},"
                f"{from_micros(int(self.txn_at[i])).isoformat()},"
                f"{cents // 100}.{cents % 100:02d},"
                f"{categories[int(cat[i])]},"
                f"{self.catalog.channels[int(self.txn_channel[i])]}\n"
            )
        return out.getvalue()

    def members_csv(self) -> str:
        """Members as CSV text: member_id, joined_at (ISO UTC), birthday (ISO or empty).

        >>> from datetime import date
        >>> program = simulate(2, start=date(2024, 1, 1), end=date(2024, 1, 31), seed=2)
        >>> program.members_csv().split()[0]
        'member_id,joined_at,birthday'
        """
        out = io.StringIO()
        out.write("member_id,joined_at,birthday\n")
        for i in range(self.n_members):
            bday = int(self.birthday[i])
            text = "" if bday == _MISSING else _day(bday).isoformat()
            out.write(
                f"{int(self.member_id[i])},{from_micros(int(self.joined_at[i])).isoformat()},{text}\n"
            )
        return out.getvalue()

    def transaction_log(self) -> TransactionLog:
        """The purchases as a :class:`~loyaltycore.transactions.TransactionLog`.

        >>> from datetime import date
        >>> program = simulate(30, start=date(2024, 1, 1), end=date(2024, 3, 31), seed=2)
        >>> log = program.transaction_log()
        >>> len(log) == program.n_transactions
        True
        >>> int(log.amount.sum()) == int(program.txn_amount.sum())
        True
        """
        from loyaltycore.transactions import TransactionLog

        categories = np.asarray(self.catalog.categories, dtype=object)
        channels = np.asarray(self.catalog.channels, dtype=object)
        return TransactionLog.from_arrays(
            self.txn_member,
            self.txn_at,
            self.txn_amount,
            minor_units=True,
            category=categories[self._txn_category()],
            channel=channels[self.txn_channel],
        )

    def members(self) -> Iterator[Member]:
        """Each member as a :class:`~loyaltycore.predicates.Member`.

        >>> from datetime import date
        >>> program = simulate(3, start=date(2024, 1, 1), end=date(2024, 1, 31), seed=2)
        >>> [m.id for m in program.members()]
        ['1001', '1002', '1003']
        """
        from loyaltycore.predicates import Member

        for i in range(self.n_members):
            bday = int(self.birthday[i])
            yield Member(
                id=str(int(self.member_id[i])),
                joined_at=from_micros(int(self.joined_at[i])),
                birthday=None if bday == _MISSING else _day(bday),
            )

    def events(self) -> Iterator[tuple[str, Event]]:
        """Each purchase as ``(member_id, Event)`` with its basket, in time order.

        >>> from datetime import date
        >>> program = simulate(5, start=date(2024, 1, 1), end=date(2024, 1, 31), seed=2)
        >>> member_id, event = next(program.events())
        >>> event.kind, sum(i.unit_price * i.quantity for i in event.items) == event.amount
        ('purchase', True)
        """
        from loyaltycore.predicates import Event, Item

        order = np.argsort(self.txn_at, kind="stable")
        starts = np.searchsorted(self.line_txn, np.arange(self.n_transactions + 1))
        for t in order.tolist():
            items = []
            for j in range(int(starts[t]), int(starts[t + 1])):
                qty = int(self.line_quantity[j])
                cents = int(self.line_amount[j])
                sku = int(self.line_sku[j])
                items.append(
                    Item(
                        sku=self.catalog.skus[sku],
                        category=self.catalog.sku_categories[sku],
                        quantity=qty,
                        unit_price=Decimal(cents // qty).scaleb(-2),
                    )
                )
            yield (
                str(int(self.txn_member[t])),
                Event(
                    id=f"t{t}",
                    kind="purchase",
                    at=from_micros(int(self.txn_at[t])),
                    amount=Decimal(int(self.txn_amount[t])).scaleb(-2),
                    items=tuple(items),
                    channel=self.catalog.channels[int(self.txn_channel[t])],
                    store=self.catalog.stores[int(self.txn_store[t])],
                ),
            )


def _day(number: int) -> date:
    return date.fromordinal(date(1970, 1, 1).toordinal() + number)


def _check_dates(start: object, end: object) -> tuple[date, date]:
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, date) or isinstance(value, datetime):
            raise InvalidType(
                f"{name}={value!r} must be a date, not {type_name(value)}", field=name, value=value
            )
    assert isinstance(start, date)
    assert isinstance(end, date)
    if end <= start:
        raise InvalidArgument(f"end={end} must be after start={start}", field="end", value=end)
    return start, end


def _silent(done: int, total: int | None, stage: str) -> None:
    """The progress callable used when the caller passes none."""


def simulate(
    n_members: int,
    *,
    start: date,
    end: date,
    tz: str | tzinfo = "UTC",
    seed: int | np.random.Generator = 0,
    purchases: PurchaseProcess | None = None,
    spend: SpendProcess | None = None,
    catalog: Catalog | None = None,
    join_share: float = 0.5,
    progress: Progress | None = None,
) -> SimulatedProgram:
    """Simulate a loyalty program between the local dates ``start`` and ``end``.

    Args:
        n_members: number of members.
        start: first local date of the program.
        end: last local date observed (purchases happen before its end).
        tz: the program's IANA zone; local hours follow a day-time profile in it.
        seed: an int seed or a :class:`numpy.random.Generator`.
        purchases: the BG/NBD purchase process (rates per day).
        spend: the Gamma-Gamma spend process (currency units).
        catalog: SKUs, categories, channels and stores.
        join_share: members join uniformly over this leading share of the period.
        progress: called with ``(done, 4, "simulate")`` after each of the four
            steps (members, purchases, spend, ordering); raise from it to cancel.

    Returns:
        A :class:`SimulatedProgram`; every member buys on the day they join,
        except the process's share of prospects.

    Raises:
        InvalidArgument: a non-positive count, an empty period or bad process parameters.

    >>> from datetime import date
    >>> program = simulate(1000, start=date(2023, 1, 1), end=date(2023, 12, 31), seed=42)
    >>> program.n_members, program.n_transactions > 1000
    (1000, True)
    """
    check_int(n_members, "n_members", minimum=1)
    report = check_progress(progress) or _silent
    start, end = _check_dates(start, end)
    share = check_rate(join_share, "join_share")
    if not 0 < share <= 1:
        raise InvalidArgument(f"join_share={join_share!r} must be in (0, 1]", field="join_share")
    rng = (
        seed
        if isinstance(seed, np.random.Generator)
        else np.random.default_rng(check_int(seed, "seed", minimum=0))
    )
    purchases = purchases or PurchaseProcess()
    spend = spend or SpendProcess()
    catalog = catalog or Catalog()
    zone_ = zone(tz)
    tz_name = tz if isinstance(tz, str) else getattr(zone_, "key", "UTC")

    n = n_members
    n_days = (end - start).days + 1
    start_us = to_micros(start_of_day(start, zone_))
    end_us = to_micros(start_of_day(end, zone_)) + DAY_US  # exclusive

    # Members: join time, birthday (5% unknown), prospects.
    join_offset = rng.integers(0, max(1, int(n_days * share)), size=n) * DAY_US
    join_time = start_us + join_offset + _daytime(rng, n)
    join_time = np.minimum(join_time, end_us - 1)
    birth = rng.integers(
        (date(1950, 1, 1) - date(1970, 1, 1)).days,
        (date(2006, 1, 1) - date(1970, 1, 1)).days,
        size=n,
    )
    birth = np.where(rng.random(n) < 0.05, _MISSING, birth)
    buyer = rng.random(n) >= purchases.prospect_share

    report(1, 4, "simulate")

    # BG/NBD: rate per day, drop-out probability, Poisson repeat times.
    lam = rng.gamma(purchases.r, 1.0 / purchases.alpha, size=n)
    drop = rng.beta(purchases.a, purchases.b, size=n)
    # BG/NBD drops a customer only after a repeat purchase (never at the first),
    # so the repeat purchases made before dropping out are geometric on 1, 2, ...
    alive_for = rng.geometric(np.clip(drop, 1e-12, 1.0))
    exposure_days = (end_us - join_time) / DAY_US
    n_poisson = rng.poisson(lam * exposure_days)
    n_repeat = np.where(buyer, np.minimum(n_poisson, alive_for), 0)
    n_txn = np.where(buyer, 1 + n_repeat, 0).astype(_I64)

    total = int(n_txn.sum())
    member_of = np.repeat(np.arange(n, dtype=_I64), n_txn)
    first_row = np.zeros(n + 1, dtype=_I64)
    np.cumsum(n_txn, out=first_row[1:])
    is_first = np.zeros(total, dtype=bool)
    is_first[first_row[:-1][n_txn > 0]] = True
    # Repeat times: the first k of m Poisson event times on the exposure are
    # the k smallest of m uniforms. The k-th smallest is Beta(k, m - k + 1);
    # given it, the k - 1 before it are sorted uniforms below it.
    exposure = (end_us - join_time)[member_of]
    offset = np.where(is_first, 0.0, rng.random(total))
    last_repeat = first_row[1:][n_repeat > 0] - 1
    offset[last_repeat] = 1.0
    offset = offset[np.lexsort((offset, member_of))]
    k = n_repeat.astype(float)
    kth = np.where(k > 0, rng.beta(np.maximum(k, 1), np.maximum(n_poisson - k + 1, 1)), 0.0)
    at = join_time[member_of] + (offset * kth[member_of] * exposure).astype(_I64)
    at = np.minimum(at, end_us - 1)

    report(2, 4, "simulate")

    # Gamma-Gamma spend per transaction, in cents (at least 1 cent).
    nu = rng.gamma(spend.q, 1.0 / spend.gamma, size=n)
    z = rng.gamma(spend.p, 1.0 / nu[member_of])
    cents = np.maximum(np.rint(z * 100), 1).astype(_I64)

    channel = rng.choice(
        len(catalog.channels),
        size=total,
        p=np.asarray(catalog.channel_weights) / sum(catalog.channel_weights),
    ).astype(_I64)
    store = rng.integers(0, len(catalog.stores), size=total).astype(_I64)

    report(3, 4, "simulate")

    # Order transactions by (time, member) to give stable ids.
    txn_order = np.lexsort((member_of, at))
    member_of, at, cents, channel, store = (
        member_of[txn_order],
        at[txn_order],
        cents[txn_order],
        channel[txn_order],
        store[txn_order],
    )
    lines = _baskets(rng, cents, len(catalog.skus))
    ids = np.arange(1, n + 1, dtype=_I64) + 1000
    report(4, 4, "simulate")
    return SimulatedProgram(
        tz=str(tz_name),
        start=start,
        end=end,
        catalog=catalog,
        member_id=_frozen_array(ids, _I64),
        joined_at=_frozen_array(join_time, _I64),
        birthday=_frozen_array(birth, _I64),
        txn_member=_frozen_array(ids[member_of], _I64),
        txn_at=_frozen_array(at, _I64),
        txn_amount=_frozen_array(cents, _I64),
        txn_channel=_frozen_array(channel, _I64),
        txn_store=_frozen_array(store, _I64),
        line_txn=_frozen_array(lines[0], _I64),
        line_sku=_frozen_array(lines[1], _I64),
        line_quantity=_frozen_array(lines[2], _I64),
        line_amount=_frozen_array(lines[3], _I64),
    )


def _daytime(rng: np.random.Generator, size: int) -> npt.NDArray[np.int64]:
    """Micros into the local day, between 07:00 and 21:00."""
    return (rng.integers(7 * 3600, 21 * 3600, size=size) * 1_000_000).astype(_I64)


def _baskets(
    rng: np.random.Generator, cents: npt.NDArray[np.int64], n_skus: int
) -> tuple[npt.NDArray[np.int64], ...]:
    """Split each transaction's amount over 1-4 lines; lines sum to the amount exactly."""
    n_txn = cents.size
    n_lines = np.minimum(1 + rng.poisson(0.8, size=n_txn), np.maximum(cents, 1)).astype(_I64)
    txn = np.repeat(np.arange(n_txn, dtype=_I64), n_lines)
    weights = rng.random(txn.size) + 0.05
    sums = np.bincount(txn, weights=weights, minlength=n_txn)
    share = np.floor(weights / sums[txn] * cents[txn]).astype(_I64)
    share = np.maximum(share, 0)
    # Give every line at least one cent, and the remainder to each basket's last line.
    share = np.maximum(share, 1)
    first = np.zeros(n_txn + 1, dtype=_I64)
    np.cumsum(n_lines, out=first[1:])
    allocated = np.add.reduceat(share, first[:-1]) if txn.size else np.zeros(0, dtype=_I64)
    last = first[1:] - 1
    share[last] += cents - allocated
    # If the remainder made a last line non-positive, fold the basket into one line.
    bad = share[last] <= 0
    if bad.any():
        for t in np.flatnonzero(bad).tolist():
            lo, hi = int(first[t]), int(first[t + 1])
            share[lo:hi] = 0
            share[hi - 1] = cents[t]
        keep = share > 0
        txn, share = txn[keep], share[keep]
    sku = rng.integers(0, n_skus, size=txn.size).astype(_I64)
    quantity = (1 + rng.poisson(0.3, size=txn.size)).astype(_I64)
    quantity = np.where(share % quantity == 0, quantity, 1)  # exact unit prices
    return txn, sku, quantity, share
