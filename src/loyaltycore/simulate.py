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
from collections.abc import Iterator, Mapping
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

import attrs
import numpy as np
import numpy.typing as npt

from loyaltycore._validate import check_int, check_rate, type_name
from loyaltycore.calendar import DAY_US, from_micros, start_of_day, to_micros, to_utc, zone
from loyaltycore.errors import InvalidArgument, InvalidType
from loyaltycore.progress import Progress, check_progress

if TYPE_CHECKING:
    from loyaltycore.campaigns import Assignment
    from loyaltycore.predicates import Event, Member
    from loyaltycore.transactions import TransactionLog

__all__ = [
    "CampaignTruth",
    "Catalog",
    "ORIGINS",
    "PurchaseProcess",
    "SimulatedCampaign",
    "SimulatedProgram",
    "SpendProcess",
    "simulate",
    "simulate_campaign",
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

    tz: str = attrs.field(kw_only=True)
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
    start_us = to_micros(start_of_day(start, tz=zone_))
    end_us = to_micros(start_of_day(end, tz=zone_)) + DAY_US  # exclusive

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


# -- campaigns ------------------------------------------------------------------

#: What each row of a simulated campaign's log is (the codes of ``SimulatedCampaign.origin``):
#: a purchase the member made anyway, one pulled forward from after the campaign
#: into it, or one the campaign created.
ORIGINS: Final = ("baseline", "pulled_forward", "incremental")
_BASELINE, _PULLED, _INCREMENTAL = 0, 1, 2
_SECOND_US: Final = 1_000_000
_SEGMENTS: Final = (("bronze", 0.6), ("silver", 0.3), ("gold", 0.1))
_WINDOWS: Final = ("pre", "during", "post", "during+post")


@attrs.frozen(eq=False)
class CampaignTruth:
    """What a simulated campaign truly did, to check a read-out against.

    ``during`` is each member's expected extra spend in the campaign window
    were the member treated (int minor units as floats: rate x days x lift x
    mean basket), ``moved`` the part of it pulled forward from the
    ``pull_days`` after the end (``pull_forward`` x ``during``). Both are
    defined for every member, treated or not, so :meth:`effect` is the
    average effect over the members the read-out compares. The ``bonus_on_*``
    counts are the realised bonus points, split by the purchases they were
    given on.

    >>> from datetime import date
    >>> sim = simulate_campaign(500, start=date(2024, 6, 1), end=date(2024, 6, 15), seed=1)
    >>> sim.truth.segments, sim.truth.lift
    (('bronze', 'silver', 'gold'), (0.3, 0.3, 0.3))
    >>> sim.truth.effect("pre", 30)
    0.0
    """

    segments: tuple[str, ...]
    lift: tuple[float, ...]
    pull_forward: tuple[float, ...]
    pull_days: int
    bonus_points: int
    bonus_on_baseline: int
    bonus_on_pulled_forward: int
    bonus_on_incremental: int
    segment: npt.NDArray[Any] = _array_field()
    during: npt.NDArray[np.float64] = _array_field()
    moved: npt.NDArray[np.float64] = _array_field()

    def __repr__(self) -> str:
        return (
            f"CampaignTruth(segments={self.segments}, lift={self.lift}, "
            f"pull_forward={self.pull_forward}, pull_days={self.pull_days})"
        )

    @property
    def bonus_total(self) -> int:
        """Every bonus point the treated members were given."""
        return self.bonus_on_baseline + self.bonus_on_pulled_forward + self.bonus_on_incremental

    def effect(
        self, window: str = "during", horizon: int = 0, *, segment: str | None = None
    ) -> float:
        """The true difference of mean net spend per member (currency units) in a window.

        The quantity :class:`~loyaltycore.campaigns.Windows` estimates in
        its row of the same ``window`` and ``horizon`` (days), over every
        member or those of one ``segment``: ``"during"`` the mean of
        ``during``, ``"pre"`` 0, ``"post"`` minus the moved spend that fell
        in the first ``horizon`` days after the end (``moved`` x min(horizon,
        pull_days) / pull_days), ``"during+post"`` their sum.

        Raises:
            InvalidArgument: an unknown window or segment, a negative horizon.

        >>> from datetime import date
        >>> sim = simulate_campaign(500, start=date(2024, 6, 1), end=date(2024, 6, 15),
        ...                         pull_forward=0.5, seed=1)
        >>> sim.truth.effect("post", 90) == -0.5 * sim.truth.effect("during")
        True
        """
        if window not in _WINDOWS:
            raise InvalidArgument(
                f"window={window!r} must be one of {_WINDOWS}", field="window", value=window
            )
        days = check_int(horizon, "horizon", minimum=0)
        rows = np.ones(len(self.segment), dtype=bool)
        if segment is not None:
            if segment not in self.segments:
                raise InvalidArgument(
                    f"segment={segment!r} must be one of {self.segments}",
                    field="segment",
                    value=segment,
                )
            rows = self.segment == segment
        during = float(self.during[rows].mean()) / 100
        post = -float(self.moved[rows].mean()) / 100 * min(days, self.pull_days) / self.pull_days
        return {"pre": 0.0, "during": during, "post": post, "during+post": during + post}[window]


@attrs.frozen(eq=False)
class SimulatedCampaign:
    """A simulated campaign: the members' arms, their purchases and the true effect.

    ``log`` holds every purchase from ``pre_days`` before ``start`` to
    ``post_days`` after ``end``; ``points``, ``bonus`` and ``origin`` are
    aligned with its rows (points earned including the bonus, the bonus
    alone, and the :data:`ORIGINS` code). ``assignment`` is the holdout
    drawn by :func:`loyaltycore.campaigns.assign`, stratified by segment;
    ``truth`` is what the read-out should find.

    >>> from datetime import date
    >>> sim = simulate_campaign(300, start=date(2024, 6, 1), end=date(2024, 6, 15), seed=2)
    >>> sim.assignment.n_control, len(sim.log) == len(sim.points)
    (30, True)
    >>> sim.members_csv().splitlines()[0], sim.orders_csv().splitlines()[0]
    ('member_id,arm,segment', 'customer_id,timestamp,amount,points')
    """

    tz: str = attrs.field(kw_only=True)
    start: datetime
    end: datetime
    log: TransactionLog
    assignment: Assignment
    truth: CampaignTruth
    points: npt.NDArray[np.int64] = _array_field()
    bonus: npt.NDArray[np.int64] = _array_field()
    origin: npt.NDArray[np.int8] = _array_field()

    def __repr__(self) -> str:
        return (
            f"SimulatedCampaign(members={len(self.assignment.member)}, "
            f"transactions={len(self.log)}, start={self.start.isoformat()}, "
            f"end={self.end.isoformat()})"
        )

    @property
    def segment(self) -> npt.NDArray[Any]:
        """Each member's segment, aligned with ``assignment.member``."""
        return self.truth.segment

    def members_csv(self) -> str:
        """The members as CSV text: member_id, arm, segment.

        >>> from datetime import date
        >>> sim = simulate_campaign(3, start=date(2024, 6, 1), end=date(2024, 6, 15), seed=2)
        >>> sim.members_csv().splitlines()[1]
        '1001,treatment,bronze'
        """
        out = io.StringIO()
        out.write("member_id,arm,segment\n")
        rows = zip(
            self.assignment.member.tolist(),
            self.assignment.arm.tolist(),
            self.segment.tolist(),
            strict=True,
        )
        for member, arm, segment in rows:
            out.write(f"{member},{arm},{segment}\n")
        return out.getvalue()

    def orders_csv(self) -> str:
        """The purchases as CSV text: customer_id, timestamp (ISO UTC), amount, points."""
        out = io.StringIO()
        out.write("customer_id,timestamp,amount,points\n")
        columns = zip(
            self.log.customer.tolist(),
            self.log.at.tolist(),
            self.log.amount.tolist(),
            self.points.tolist(),
            strict=True,
        )
        for member, at, cents, points in columns:
            when = from_micros(at).isoformat()
            out.write(f"{member},{when},{cents // 100}.{cents % 100:02d},{points}\n")
        return out.getvalue()


def _per_segment(value: object, name: str, names: tuple[str, ...]) -> tuple[float, ...]:
    """One value per segment from a number or a mapping with every segment as a key."""
    if not isinstance(value, Mapping):
        return (check_rate(value, name),) * len(names)
    unknown = sorted(set(value) - set(names), key=str)
    missing = [s for s in names if s not in value]
    if unknown or missing:
        raise InvalidArgument(
            f"{name} must give a value for each segment {names}: "
            f"unknown {unknown}, missing {missing}",
            field=name,
            value=None,
        )
    return tuple(check_rate(value[s], f"{name}[{s!r}]") for s in names)


def _segment_shares(segments: object) -> tuple[tuple[str, ...], npt.NDArray[np.float64]]:
    if not isinstance(segments, Mapping) or not segments:
        raise InvalidType(
            f"segments={segments!r} must be a non-empty mapping of name to share",
            field="segments",
            value=segments,
        )
    names = tuple(segments)
    for s in names:
        if not isinstance(s, str) or not s:
            raise InvalidType(f"segments key {s!r} must be a non-empty str", field="segments")
    shares = np.array([check_rate(segments[s], f"segments[{s!r}]") for s in names])
    if (shares <= 0).any():
        raise InvalidArgument(
            f"segments={dict(segments)!r}: every share must be > 0", field="segments"
        )
    return names, shares / shares.sum()


def _campaign_effects(
    names: tuple[str, ...], lift: object, pull_forward: object, days: float, pull_days: int
) -> tuple[tuple[float, ...], tuple[float, ...], npt.NDArray[np.float64]]:
    """(lift, pull_forward, chance a post purchase is moved) per segment, checked."""
    lifts = _per_segment(lift, "lift", names)
    pulls = _per_segment(pull_forward, "pull_forward", names)
    for s, up, back in zip(names, lifts, pulls, strict=True):
        if up < 0:
            raise InvalidArgument(f"lift[{s!r}]={up!r} must be >= 0", field="lift", value=up)
        if not 0 <= back <= 1:
            raise InvalidArgument(
                f"pull_forward[{s!r}]={back!r} must be in [0, 1]", field="pull_forward", value=back
            )
    moved = np.array(lifts) * np.array(pulls) * days / pull_days
    if (moved > 1).any():
        s = names[int(np.argmax(moved))]
        raise InvalidArgument(
            f"segment {s!r}: lift x pull_forward x campaign days = {moved.max() * pull_days:g} "
            f"days of purchases exceeds the pull_days={pull_days} they are pulled from",
            field="pull_forward",
            value=None,
        )
    return lifts, pulls, moved


def simulate_campaign(
    n_members: int,
    *,
    start: datetime | date,
    end: datetime | date,
    lift: float | Mapping[str, float] = 0.3,
    pull_forward: float | Mapping[str, float] = 0.0,
    pull_days: int = 30,
    bonus_points: int = 1,
    points_per_unit: int = 1,
    segments: Mapping[str, float] | None = None,
    share: float = 0.1,
    salt: str = "campaign",
    pre_days: int = 90,
    post_days: int = 90,
    purchases: PurchaseProcess | None = None,
    spend: SpendProcess | None = None,
    tz: str | tzinfo = "UTC",
    seed: int | np.random.Generator = 0,
    progress: Progress | None = None,
) -> SimulatedCampaign:
    """Simulate a points campaign with a known effect, and the purchases around it.

    Each member has a segment (drawn with the ``segments`` shares), buys at
    a steady Poisson rate drawn from Gamma(``purchases.r``, ``alpha``) per
    day (``purchases.prospect_share`` never buy; drop-out is not simulated
    over a campaign's few months) and spends Gamma-Gamma amounts
    (``spend``), from ``pre_days`` before ``start`` to ``post_days`` after
    ``end``. A holdout of ``share`` is drawn by
    :func:`loyaltycore.campaigns.assign` (stratified by segment, salted
    with ``salt``). For a treated member in segment s, during [start, end):

    * the purchase rate rises by ``lift[s]`` (0.3: 30% more purchases);
    * a share ``pull_forward[s]`` of those extra purchases is not new: they
      are purchases from the ``pull_days`` after the end, moved into the
      campaign (each such purchase moves with probability lift x
      pull_forward x campaign days / pull_days), leaving a dip after it;
    * every purchase earns ``bonus_points`` extra points per whole currency
      unit on top of ``points_per_unit`` (double points: 1 and 1) — the
      subsidy, paid on the purchases that would have happened anyway too.

    Args:
        n_members: number of members.
        start: when the campaign begins (aware, or a local date in ``tz``).
        end: when it ends (exclusive), after ``start``.
        lift: the rise in purchase rate, one number or one per segment.
        pull_forward: the share of the extra purchases pulled forward, in
            [0, 1], one number or one per segment.
        pull_days: the days after the end the pulled purchases come from,
            at most ``post_days``.
        bonus_points: campaign points per whole currency unit (treated, during).
        points_per_unit: the program's points per whole currency unit.
        segments: segment names and their shares (default bronze 0.6,
            silver 0.3, gold 0.1).
        share: the holdout share (control), strictly between 0 and 1.
        salt: names the holdout's hash.
        pre_days: days simulated before ``start``.
        post_days: days simulated after ``end``.
        purchases: rates per day (``r``, ``alpha``, ``prospect_share``).
        spend: the Gamma-Gamma spend process (currency units).
        tz: the zone for date arguments.
        seed: an int seed or a :class:`numpy.random.Generator`.
        progress: called with ``(done, 4, "simulate_campaign")`` after each
            step (members, holdout, purchases, log); raise from it to cancel.

    Returns:
        A :class:`SimulatedCampaign`; the same arguments and seed give the
        same bytes on every host.

    Raises:
        InvalidArgument: a bad count, share or effect, ``end`` not after
            ``start``, or more purchases to pull forward than ``pull_days`` hold.

    >>> from datetime import date
    >>> sim = simulate_campaign(4000, start=date(2024, 6, 1), end=date(2024, 6, 15),
    ...                         lift={"bronze": 0.2, "silver": 0.5, "gold": 0.8},
    ...                         pull_forward=0.5, seed=7)
    >>> round(sim.truth.effect("during"), 2), round(sim.truth.effect("post", 30), 2)
    (3.31, -1.65)
    >>> sim.truth.bonus_total == int(sim.bonus.sum())
    True
    """
    from loyaltycore.campaigns import assign
    from loyaltycore.transactions import TransactionLog

    n = check_int(n_members, "n_members", minimum=1)
    report = check_progress(progress) or _silent
    zone_ = zone(tz)
    tz_name = tz if isinstance(tz, str) else getattr(zone_, "key", "UTC")
    t0 = to_micros(to_utc(start, "start", tz=zone_))
    t1 = to_micros(to_utc(end, "end", tz=zone_))
    if t1 <= t0:
        raise InvalidArgument(f"end={end!r} must be after start={start!r}", field="end", value=end)
    before = check_int(pre_days, "pre_days", minimum=1)
    after = check_int(post_days, "post_days", minimum=1)
    pull = check_int(pull_days, "pull_days", minimum=1)
    if pull > after:
        raise InvalidArgument(
            f"pull_days={pull} must be <= post_days={after}", field="pull_days", value=pull
        )
    bonus_rate = check_int(bonus_points, "bonus_points", minimum=0)
    base_rate = check_int(points_per_unit, "points_per_unit", minimum=0)
    names, weights = _segment_shares(dict(_SEGMENTS) if segments is None else segments)
    days = (t1 - t0) / DAY_US
    lifts, pulls, moved = _campaign_effects(names, lift, pull_forward, days, pull)
    rng = (
        seed
        if isinstance(seed, np.random.Generator)
        else np.random.default_rng(check_int(seed, "seed", minimum=0))
    )
    purchases = purchases or PurchaseProcess()
    spend = spend or SpendProcess()

    # Members: segment, purchase rate per day, mean basket in cents.
    segment = rng.choice(len(names), size=n, p=weights)
    rate = rng.gamma(purchases.r, 1.0 / purchases.alpha, size=n)
    rate = rate * (rng.random(n) >= purchases.prospect_share)
    nu = rng.gamma(spend.q, 1.0 / spend.gamma, size=n)
    ids = np.arange(1, n + 1, dtype=_I64) + 1000
    labels = np.array(names, dtype=object)[segment]
    report(1, 4, "simulate_campaign")

    assignment = assign(ids, share=share, salt=salt, strata=labels)
    treated = assignment.treated
    report(2, 4, "simulate_campaign")

    who, at, origin = _campaign_purchases(
        rng, rate, treated, segment, lifts, pulls, moved, (t0, t1, before, after, pull)
    )
    cents = np.maximum(np.rint(rng.gamma(spend.p, 1.0 / nu[who]) * 100), 1).astype(_I64)
    units = cents // 100
    bonus = np.where(treated[who] & (at >= t0) & (at < t1), bonus_rate * units, 0)
    report(3, 4, "simulate_campaign")

    order = np.lexsort((who, at))
    who, at, cents, bonus, origin = (
        who[order],
        at[order],
        cents[order],
        bonus[order],
        origin[order],
    )
    log = TransactionLog.from_arrays(ids[who], at, cents, minor_units=True)
    during = rate * days * np.array(lifts)[segment] * (100 * spend.p / nu)
    truth = CampaignTruth(
        segments=names,
        lift=lifts,
        pull_forward=pulls,
        pull_days=pull,
        bonus_points=bonus_rate,
        bonus_on_baseline=int(bonus[origin == _BASELINE].sum()),
        bonus_on_pulled_forward=int(bonus[origin == _PULLED].sum()),
        bonus_on_incremental=int(bonus[origin == _INCREMENTAL].sum()),
        segment=_frozen_array(labels, object),
        during=_frozen_array(during, np.float64),
        moved=_frozen_array(during * np.array(pulls)[segment], np.float64),
    )
    report(4, 4, "simulate_campaign")
    return SimulatedCampaign(
        tz=str(tz_name),
        start=from_micros(t0),
        end=from_micros(t1),
        log=log,
        assignment=assignment,
        truth=truth,
        points=_frozen_array(base_rate * units[order] + bonus, _I64),
        bonus=_frozen_array(bonus, _I64),
        origin=_frozen_array(origin, np.int8),
    )


def _campaign_purchases(
    rng: np.random.Generator,
    rate: npt.NDArray[np.float64],
    treated: npt.NDArray[np.bool_],
    segment: npt.NDArray[np.int64],
    lifts: tuple[float, ...],
    pulls: tuple[float, ...],
    moved: npt.NDArray[np.float64],
    window: tuple[int, int, int, int, int],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int8]]:
    """(member row, instant, origin) of every purchase, in the order drawn."""
    t0, t1, before, after, pull = window
    low, high = t0 - before * DAY_US, t1 + after * DAY_US

    def instants(start: int, stop: int, size: int) -> npt.NDArray[np.int64]:
        """Uniform whole seconds in [start, stop) (micros), or uniform micros in a short span."""
        if stop - start < 10 * _SECOND_US or start % _SECOND_US or stop % _SECOND_US:
            return rng.integers(start, stop, size=size, dtype=_I64)
        seconds = rng.integers(start // _SECOND_US, stop // _SECOND_US, size=size, dtype=_I64)
        return seconds * _SECOND_US

    # Baseline: a Poisson process over the whole span, uniform instants.
    count = rng.poisson(rate * (high - low) / DAY_US)
    who = np.repeat(np.arange(len(rate), dtype=_I64), count)
    at = instants(low, high, len(who))
    origin = np.zeros(len(who), dtype=np.int8)
    # Pull-forward: a treated member's purchases in [end, end + pull_days) move
    # into the campaign, each with its segment's probability.
    chance = np.where(treated, moved[segment], 0.0)
    move = (at >= t1) & (at < t1 + pull * DAY_US) & (rng.random(len(who)) < chance[who])
    at[move] = instants(t0, t1, int(move.sum()))
    origin[move] = _PULLED
    # Incremental purchases: the rest of the lift, new, inside the campaign.
    new_rate = rate * np.array(lifts)[segment] * (1 - np.array(pulls)[segment]) * treated
    extra = rng.poisson(new_rate * (t1 - t0) / DAY_US)
    extra_who = np.repeat(np.arange(len(rate), dtype=_I64), extra)
    extra_at = instants(t0, t1, len(extra_who))
    return (
        np.concatenate([who, extra_who]),
        np.concatenate([at, extra_at]),
        np.concatenate([origin, np.full(len(extra_who), _INCREMENTAL, dtype=np.int8)]),
    )
