"""Member lifecycle: stages derived from purchase history, never stored.

A member's :class:`Stage` follows from their first, previous and last
purchase days, the date you ask about (``as_of``) and a
:class:`LifecyclePolicy`. The same policy runs per member (:func:`stage`, for
a backend handling one request) and vectorized over columns (:func:`stages`,
for millions of members); property tests prove both engines agree.

Days are whole local calendar days in the program zone. The decline stages
(at risk, dormant, churned) come from one of three threshold kinds:

* :class:`AbsoluteDays` — days since the last purchase;
* :class:`CycleMultiple` — multiples of the member's own median gap between
  purchases (members with fewer than three purchases use the population cycle
  given in the policy);
* :class:`ProbabilityAlive` — the probability that the member is still alive,
  from a fitted BG/NBD model (``clv`` extra) or a ``p_alive`` column.

>>> from datetime import datetime, timezone
>>> DAY = 86_400_000_000
>>> columns = {"first": [0, 0, MISSING], "previous": [MISSING, 10 * DAY, MISSING],
...            "last": [0, 100 * DAY, MISSING]}
>>> as_of = datetime(1970, 5, 1, tzinfo=timezone.utc)   # day 120
>>> [Stage(code).label for code in stages(columns, as_of=as_of)]
['dormant', 'active', 'prospect']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, Final, TypeAlias

import attrs
import numpy as np
import numpy.typing as npt
from cattrs.strategies import configure_tagged_union

from loyaltycore import _native, serialize
from loyaltycore._deprecate import becoming_required
from loyaltycore._frames import Col, Frames
from loyaltycore._public import publish
from loyaltycore._validate import check_int, check_positive, type_name
from loyaltycore.calendar import EPOCH, to_utc, zone
from loyaltycore.errors import (
    InvalidArgument,
    InvalidColumn,
    InvalidRule,
    InvalidTime,
    InvalidType,
)
from loyaltycore.lifecycle import _days as _days
from loyaltycore.lifecycle import _engine as _engine
from loyaltycore.lifecycle import _journey as _journey
from loyaltycore.lifecycle._days import MISSING
from loyaltycore.lifecycle._flow import (
    SnapshotRates,
    TransitionMatrix,
    align_snapshot,
    period_rates,
    to_mermaid,
    transition_matrix,
)
from loyaltycore.lifecycle._stage import ALLOWED_TRANSITIONS, Stage

__all__ = [
    "ALLOWED_TRANSITIONS",
    "AbsoluteDays",
    "CycleMultiple",
    "LifecyclePolicy",
    "MISSING",
    "ProbabilityAlive",
    "SnapshotRates",
    "Stage",
    "StageChange",
    "StageTable",
    "TransitionMatrix",
    "align_snapshot",
    "journey",
    "period_rates",
    "population_cycle",
    "stage",
    "stage_table",
    "stages",
    "to_mermaid",
    "transition_matrix",
]


# -- policies ----------------------------------------------------------------


def _as_float(value: object) -> object:
    return float(value) if type(value) is int else value


def _increasing(names: tuple[str, str, str], values: tuple[Any, Any, Any], kind: str) -> None:
    ordered = values[0] < values[1] < values[2]
    if kind == "decreasing":
        ordered = values[0] > values[1] > values[2]
    if not ordered:
        shown = ", ".join(f"{n}={v!r}" for n, v in zip(names, values, strict=True))
        raise InvalidRule(f"{shown} must be strictly {kind}", field=names[0], value=values[0])


def _positive_int(instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    check_int(value, attribute.name, minimum=1)


def _positive_real(instance: object, attribute: attrs.Attribute[float], value: object) -> None:
    check_positive(value, attribute.name, error=InvalidRule)


def _probability(instance: object, attribute: attrs.Attribute[float], value: object) -> None:
    _positive_real(instance, attribute, value)
    assert isinstance(value, float)
    if not value < 1:
        raise InvalidRule(
            f"{attribute.name}={value!r} must be in (0, 1)", field=attribute.name, value=value
        )


_NAMES: Final = ("at_risk", "dormant", "churned")


@attrs.frozen
class AbsoluteDays:
    """Decline after a fixed number of days without a purchase.

    A member is at risk from ``at_risk`` days after their last purchase day,
    dormant from ``dormant`` days and churned from ``churned`` days.

    >>> AbsoluteDays(at_risk=30, dormant=90, churned=180)
    AbsoluteDays(at_risk=30, dormant=90, churned=180)
    >>> AbsoluteDays(at_risk=90, dormant=30, churned=180)
    Traceback (most recent call last):
    ...
    loyaltycore.errors.InvalidRule: at_risk=90, dormant=30, churned=180 must be strictly increasing
    """

    at_risk: int = attrs.field(default=60, validator=_positive_int)
    dormant: int = attrs.field(default=120, validator=_positive_int)
    churned: int = attrs.field(default=365, validator=_positive_int)

    def __attrs_post_init__(self) -> None:
        _increasing(_NAMES, (self.at_risk, self.dormant, self.churned), "increasing")


@attrs.frozen
class CycleMultiple:
    """Decline after multiples of the member's own purchase cycle.

    The cycle is the member's median gap between purchase days; members with
    fewer than three purchase days use ``population_cycle`` (days), a policy
    parameter — compute it once with :func:`population_cycle` if you like,
    :func:`stages` never does.

    >>> CycleMultiple(population_cycle=45.0).dormant
    4.0
    >>> CycleMultiple(population_cycle=0)
    Traceback (most recent call last):
    ...
    loyaltycore.errors.InvalidRule: population_cycle=0.0 must be a positive finite number
    """

    population_cycle: float = attrs.field(converter=_as_float, validator=_positive_real)
    at_risk: float = attrs.field(default=2.0, converter=_as_float, validator=_positive_real)
    dormant: float = attrs.field(default=4.0, converter=_as_float, validator=_positive_real)
    churned: float = attrs.field(default=8.0, converter=_as_float, validator=_positive_real)

    def __attrs_post_init__(self) -> None:
        _increasing(_NAMES, (self.at_risk, self.dormant, self.churned), "increasing")


@attrs.frozen
class ProbabilityAlive:
    """Decline as the probability that the member is alive falls.

    At risk below ``at_risk``, dormant below ``dormant``, churned below
    ``churned``. The probabilities come from a fitted BG/NBD model passed as
    ``model=`` (``clv`` extra), or from the columns ``p_alive`` and
    ``p_alive_before_last`` (p_alive on the day before the last purchase).

    >>> ProbabilityAlive(at_risk=0.6, dormant=0.3, churned=0.1)
    ProbabilityAlive(at_risk=0.6, dormant=0.3, churned=0.1)
    """

    at_risk: float = attrs.field(default=0.5, converter=_as_float, validator=_probability)
    dormant: float = attrs.field(default=0.25, converter=_as_float, validator=_probability)
    churned: float = attrs.field(default=0.1, converter=_as_float, validator=_probability)

    def __attrs_post_init__(self) -> None:
        _increasing(_NAMES, (self.at_risk, self.dormant, self.churned), "decreasing")


Thresholds: TypeAlias = AbsoluteDays | CycleMultiple | ProbabilityAlive


def _check_thresholds(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, AbsoluteDays | CycleMultiple | ProbabilityAlive):
        raise InvalidType(
            f"thresholds={value!r} must be AbsoluteDays, CycleMultiple or ProbabilityAlive, "
            f"not {type_name(value)}",
            field="thresholds",
            value=value,
        )


@attrs.frozen
class LifecyclePolicy:
    """How stages follow from history: decline thresholds and the new window.

    ``new_days``: a member is new for ``new_days`` days from their first
    purchase day, and reactivated for ``new_days`` days from a purchase made
    while dormant or churned — unless a decline stage applies first. With
    :class:`AbsoluteDays`, ``new_days`` may not exceed ``at_risk``.

    >>> LifecyclePolicy()
    LifecyclePolicy(thresholds=AbsoluteDays(at_risk=60, dormant=120, churned=365), new_days=30)
    >>> LifecyclePolicy(AbsoluteDays(at_risk=20, dormant=40, churned=80), new_days=30)
    Traceback (most recent call last):
    ...
    loyaltycore.errors.InvalidRule: new_days=30 must not exceed at_risk=20
    """

    thresholds: Thresholds = attrs.field(factory=AbsoluteDays, validator=_check_thresholds)
    new_days: int = attrs.field(default=30, validator=_positive_int)

    def __attrs_post_init__(self) -> None:
        t = self.thresholds
        if isinstance(t, AbsoluteDays) and self.new_days > t.at_risk:
            raise InvalidRule(
                f"new_days={self.new_days} must not exceed at_risk={t.at_risk}",
                field="new_days",
                value=self.new_days,
            )


def _policy(policy: object) -> LifecyclePolicy:
    if policy is None:
        return LifecyclePolicy()
    if not isinstance(policy, LifecyclePolicy):
        raise InvalidType(
            f"policy={policy!r} must be a LifecyclePolicy, not {type_name(policy)}",
            field="policy",
            value=policy,
        )
    return policy


# -- the two engines -----------------------------------------------------------


def _level_scalar(t: Thresholds, row: _engine.Row) -> tuple[int, bool]:
    if isinstance(t, AbsoluteDays):
        return _engine.absolute_scalar((t.at_risk, t.dormant, t.churned), row)
    if isinstance(t, CycleMultiple):
        return _engine.cycle_scalar((t.at_risk, t.dormant, t.churned), t.population_cycle, row)
    return _engine.alive_scalar((t.at_risk, t.dormant, t.churned), row)


def _level_vector(
    t: Thresholds, rows: _engine.Rows
) -> tuple[_engine.Codes, npt.NDArray[np.bool_]]:
    if isinstance(t, AbsoluteDays):
        return _engine.absolute_vector((t.at_risk, t.dormant, t.churned), rows)
    if isinstance(t, CycleMultiple):
        return _engine.cycle_vector((t.at_risk, t.dormant, t.churned), t.population_cycle, rows)
    return _engine.alive_vector((t.at_risk, t.dormant, t.churned), rows)


def _classify(policy: LifecyclePolicy, rows: _engine.Rows) -> _engine.Codes:
    """Stage codes for engine inputs already in days (shared by journeys)."""
    level, react = _level_vector(policy.thresholds, rows)
    return _engine.combine_vector(rows, level, react, policy.new_days)


def _scalar_extra(
    policy: LifecyclePolicy, facts: object, days: _days.DayFact, as_of_day: int, model: object
) -> dict[str, Any]:
    t = policy.thresholds
    if isinstance(t, AbsoluteDays) or days.last is None:
        return {}
    if isinstance(t, ProbabilityAlive) and model is None:
        p_now = _days.scalar_float(_days.read(facts, "p_alive"), "p_alive")
        before = _days.read(facts, "p_alive_before_last", required=days.previous is not None)
        p_before = (
            1.0 if days.previous is None else _days.scalar_float(before, "p_alive_before_last")
        )
        for name, p in (("p_alive", p_now), ("p_alive_before_last", p_before)):
            if not 0 <= p <= 1:
                raise InvalidArgument(f"{name}={p!r} must be in [0, 1]", field=name, value=p)
        return {"p_now": p_now, "p_before": p_before}
    frequency = _days.scalar_int(_days.read(facts, "frequency"), "frequency")
    if (frequency >= 1) != (days.previous is not None):
        raise InvalidArgument(
            f"frequency={frequency} disagrees with previous (set exactly when frequency >= 1)",
            field="frequency",
            value=frequency,
        )
    if isinstance(t, ProbabilityAlive):
        return _scalar_model(model, frequency, days, as_of_day)
    return _scalar_cycle(facts, frequency)


def _scalar_model(
    model: object, frequency: int, days: _days.DayFact, as_of_day: int
) -> dict[str, Any]:
    assert days.first is not None
    assert days.last is not None

    def one(x: int, t_x: int, age: int) -> float:
        arrays = [np.array([v], dtype=np.int64) for v in (x, t_x, age)]
        return float(_days.model_p_alive(model, *arrays)[0])

    first, last = days.first, days.last
    p_now = one(frequency, last - first, as_of_day - first)
    p_before = 1.0
    if days.previous is not None:
        p_before = one(frequency - 1, days.previous - first, last - 1 - first)
    return {"frequency": frequency, "p_now": p_now, "p_before": p_before}


def _scalar_cycle(facts: object, frequency: int) -> dict[str, Any]:
    median_gap = _days.scalar_float(_days.read(facts, "median_gap"), "median_gap", nan_ok=True)
    if frequency >= 2 and not median_gap > 0:
        raise InvalidArgument(
            f"median_gap={median_gap!r} must be > 0 with frequency >= 2",
            field="median_gap",
            value=median_gap,
        )
    raw = _days.read(facts, "median_gap_before_last", required=False)
    before = median_gap
    if raw is not None:
        before = _days.scalar_float(raw, "median_gap_before_last", nan_ok=True)
        if frequency >= 3 and not before > 0:
            raise InvalidArgument(
                f"median_gap_before_last={before!r} must be > 0 with frequency >= 3",
                field="median_gap_before_last",
                value=before,
            )
    return {"frequency": frequency, "median_gap": median_gap, "median_before": before}


def stage(
    facts: object,
    policy: LifecyclePolicy | None = None,
    *,
    as_of: datetime | date,
    tz: str | tzinfo | None = None,
    model: object = None,
) -> Stage:
    """The stage of one member on the local day of ``as_of``.

    Args:
        facts: one member's Facts (a row of ``summarize``), or any object or
            mapping with ``first``, ``previous`` and ``last`` (int64 micros UTC
            or aware datetimes; None or :data:`MISSING` when absent — no
            ``last`` means a prospect), plus ``frequency`` and ``median_gap``
            for :class:`CycleMultiple`, and ``p_alive`` /
            ``p_alive_before_last`` for :class:`ProbabilityAlive` without a
            model.
        policy: the policy (default ``LifecyclePolicy()``).
        as_of: the instant asked about (a date: local midnight in the zone);
            its local day counts.
        tz: the program zone in which days are counted.
        model: a fitted model with ``p_alive`` (BG/NBD) for
            :class:`ProbabilityAlive`.

    Returns:
        The :class:`Stage`.

    Raises:
        InvalidTime: a purchase after ``as_of``.
        InvalidColumn: a missing field or an impossible history.

    >>> from datetime import datetime, timezone
    >>> facts = {"first": datetime(2024, 1, 5, tzinfo=timezone.utc),
    ...          "previous": None, "last": datetime(2024, 1, 5, tzinfo=timezone.utc)}
    >>> stage(facts, as_of=datetime(2024, 1, 20, tzinfo=timezone.utc))
    <Stage.NEW: 1>
    >>> stage(facts, as_of=datetime(2024, 3, 20, tzinfo=timezone.utc))
    <Stage.AT_RISK: 3>
    """
    chosen = _policy(policy)
    zone_ = _days.resolve_zone(facts, tz)
    as_of_day = _days.day_of(_days.resolve_as_of(facts, as_of, zone_), zone_)
    days = _days.fact_days(facts, as_of_day, zone_)
    extra = _scalar_extra(chosen, facts, days, as_of_day, model)
    if days.last is None:
        row = _engine.Row(bought=False, since_first=0, since_last=0, gap=0)
    else:
        assert days.first is not None
        gap = 0 if days.previous is None else days.last - days.previous
        row = _engine.Row(
            bought=True,
            since_first=as_of_day - days.first,
            since_last=as_of_day - days.last,
            gap=gap,
            **extra,
        )
    level, react = _level_scalar(chosen.thresholds, row)
    return Stage(_engine.combine_scalar(row, level, react, chosen.new_days))


def _columns(columns: object) -> object:
    """A data frame's columns in the engines' form; other inputs unchanged."""
    if isinstance(columns, Mapping) or callable(getattr(columns, "columns", None)):
        return columns
    return _native.read_all(columns) if _native.is_frame(columns) else columns


@becoming_required("as_of", removed_in="0.3.0")
def stages(
    columns: object,
    policy: LifecyclePolicy | None = None,
    *,
    as_of: datetime | date | None = None,
    tz: str | tzinfo | None = None,
    model: object = None,
) -> npt.NDArray[np.int8]:
    """Stage codes (values of :class:`Stage`) of every member, vectorized.

    Pure numpy with no per-member Python: 10,000,000 members in well under a
    second with :class:`AbsoluteDays`.

    Args:
        columns: a Summary (its ``tz`` is the default zone), a
            data frame (pandas, polars, pyarrow, DuckDB; instants as aware
            datetimes, as ``Summary.to_pandas()`` gives them) or a
            mapping of equal-length columns with the fields :func:`stage`
            reads; ``first``/``previous``/``last`` are int64 micros UTC with
            :data:`MISSING` for absent instants (no ``last``: a prospect).
            An optional ``median_gap_before_last`` column makes the
            reactivation test of :class:`CycleMultiple` exact.
        policy: the policy (default ``LifecyclePolicy()``).
        as_of: the instant asked about (a date: local midnight in the zone);
            required. Until 0.3.0 omitting it
            still falls back to the summary's own ``as_of``, with a
            ``DeprecationWarning``.
        tz: the program zone (default: the summary's zone, else UTC).
        model: a fitted model with ``p_alive`` for :class:`ProbabilityAlive`.

    Returns:
        An int8 array of stage codes; ``Stage(code)`` names each one.

    Raises:
        InvalidTime: a purchase after ``as_of``.
        InvalidColumn: a missing or malformed column, naming the first bad row.

    >>> import numpy as np
    >>> DAY = 86_400_000_000
    >>> cols = {"first": np.array([0, 0]), "previous": np.array([MISSING, 0]),
    ...         "last": np.array([0, 200 * DAY])}
    >>> from datetime import datetime, timezone
    >>> stages(cols, as_of=datetime(1970, 7, 30, tzinfo=timezone.utc)).tolist()
    [4, 6]
    """
    chosen = _policy(policy)
    columns = _columns(columns)
    zone_ = _days.resolve_zone(columns, tz)
    instant = _days.resolve_as_of(columns, as_of, zone_)
    days = _days.column_days(columns, instant, zone_)
    as_of_day = _days.day_of(instant, zone_)
    t = chosen.thresholds
    extra: dict[str, Any] = {}
    if isinstance(t, CycleMultiple):
        extra = _days.cycle_inputs(columns, days)
    elif isinstance(t, ProbabilityAlive):
        extra = _days.alive_inputs(columns, days, as_of_day, model)
    since_first, since_last, gap = _days.engine_days(days, as_of_day)
    rows = _engine.Rows(
        bought=days.bought, since_first=since_first, since_last=since_last, gap=gap, **extra
    )
    return _classify(chosen, rows)


def _stage_codes(value: object) -> npt.NDArray[np.int8]:
    codes = np.array(value, dtype=np.int8, copy=True)
    if codes.ndim != 1 or ((codes < 0) | (codes >= len(Stage))).any():
        raise InvalidColumn(
            f"codes must be a 1-D array of stage codes 0..{len(Stage) - 1}", field="codes"
        )
    codes.flags.writeable = False
    return codes


def _member_ids(value: object) -> npt.NDArray[Any] | None:
    if value is None:
        return None
    ids = np.array(value, copy=True)
    ids.flags.writeable = False
    return ids


def _same(a: npt.NDArray[Any] | None, b: npt.NDArray[Any] | None) -> bool:
    return a is b if a is None or b is None else bool(np.array_equal(a, b))


@attrs.frozen
class StageTable(Frames):
    """Each member's lifecycle stage (a :class:`Stage` code), with the member's id when known.

    As a frame: ``customer_id`` (when known) and ``stage``, the stage label
    as a category (pandas), dictionary (pyarrow) or Enum (polars) in
    :class:`Stage` order.

    >>> t = StageTable([2, 5, 2], customer_id=["a", "b", "c"])
    >>> t.labels().tolist(), t.counts()["active"]
    (['active', 'churned', 'active'], 2)
    >>> t.to_pandas()["stage"].tolist()
    ['active', 'churned', 'active']
    """

    codes: npt.NDArray[np.int8] = attrs.field(
        converter=_stage_codes, eq=attrs.cmp_using(eq=np.array_equal)
    )
    customer_id: npt.NDArray[Any] | None = attrs.field(
        default=None, kw_only=True, converter=_member_ids, eq=attrs.cmp_using(eq=_same)
    )

    def __attrs_post_init__(self) -> None:
        if self.customer_id is not None and len(self.customer_id) != len(self.codes):
            raise InvalidColumn(
                f"customer_id has {len(self.customer_id)} rows, expected {len(self.codes)}",
                field="customer_id",
                value=len(self.customer_id),
            )

    def __len__(self) -> int:
        return len(self.codes)

    def labels(self) -> npt.NDArray[np.object_]:
        """The stage label of each member.

        >>> StageTable([0, 6]).labels().tolist()
        ['prospect', 'reactivated']
        """
        table = np.array([stage.label for stage in Stage], dtype=object)
        labels: npt.NDArray[np.object_] = table[self.codes]
        return labels

    def counts(self) -> dict[str, int]:
        """Members per stage, every stage listed in :class:`Stage` order.

        >>> StageTable([1, 1]).counts()["new"]
        2
        """
        counts = np.bincount(self.codes, minlength=len(Stage))
        return {stage.label: int(n) for stage, n in zip(Stage, counts, strict=True)}

    def _columns_for_frames(self) -> tuple[Col, ...]:
        stage = Col("stage", "category", self.codes, labels=[s.label for s in Stage])
        if self.customer_id is None:
            return (stage,)
        return (Col("customer_id", "id", self.customer_id), stage)


@becoming_required("as_of", removed_in="0.3.0")
def stage_table(
    columns: object,
    policy: LifecyclePolicy | None = None,
    *,
    as_of: datetime | date | None = None,
    tz: str | tzinfo | None = None,
    model: object = None,
) -> StageTable:
    """:func:`stages` with the members' ids, as a :class:`StageTable` (for frames).

    Arguments as in :func:`stages` (``as_of`` is required); the ids come
    from the ``customer_id`` column when the columns have one.

    >>> from datetime import datetime, timezone
    >>> from loyaltycore.transactions import TransactionLog, summarize
    >>> log = TransactionLog.from_arrays(["a", "b"], ["2024-01-02", "2024-05-20"], [5, 5],
    ...                                  tz="UTC")
    >>> june = datetime(2024, 6, 1, tzinfo=timezone.utc)
    >>> table = stage_table(summarize(log, as_of=june), as_of=june)
    >>> table.to_pandas()
      customer_id   stage
    0           a dormant
    1           b     new
    """
    columns = _columns(columns)
    instant = _days.resolve_as_of(columns, as_of, _days.resolve_zone(columns, tz))
    codes = stages(columns, policy, as_of=instant, tz=tz, model=model)
    ids: object = None
    if isinstance(columns, Mapping):
        ids = columns.get("customer_id")
    elif callable(getattr(columns, "columns", None)):
        ids = columns.columns().get("customer_id")  # type: ignore[attr-defined]
    return StageTable(codes, customer_id=ids)


def population_cycle(columns: object) -> float:
    """The median of members' median gaps, over members with three or more purchase days.

    A sensible ``population_cycle`` for :class:`CycleMultiple`.

    >>> population_cycle({"frequency": [0, 2, 3, 5], "median_gap": [float("nan"), 10, 30, 20]})
    20.0
    """
    columns = _columns(columns)
    frequency = np.asarray(_days.read(columns, "frequency"))
    gaps = np.asarray(_days.read(columns, "median_gap"), dtype=np.float64)
    chosen = gaps[(frequency >= 2) & np.isfinite(gaps)]
    if chosen.size == 0:
        raise InvalidArgument(
            "population_cycle needs at least one member with three or more purchase days",
            field="columns",
        )
    return float(np.median(chosen))


# -- journeys --------------------------------------------------------------------


@attrs.frozen
class StageChange:
    """The day a member entered a stage, and why: "joined", "purchase" or "time".

    >>> from datetime import date
    >>> StageChange(date(2024, 3, 5), Stage.AT_RISK, "time")
    StageChange(on=datetime.date(2024, 3, 5), stage=<Stage.AT_RISK: 3>, cause='time')
    """

    on: date
    stage: Stage
    cause: str


def _purchase_days(purchases: Iterable[object], zone_: tzinfo) -> npt.NDArray[np.int64]:
    if isinstance(purchases, str | bytes | Mapping):
        raise InvalidType(
            f"purchases must be an iterable of aware datetimes, not {type_name(purchases)}",
            field="purchases",
            value=purchases,
        )
    instants = [to_utc(p, f"purchases[{i}]") for i, p in enumerate(purchases)]
    return np.unique(np.array([_days.day_of(p, zone_) for p in instants], dtype=np.int64))


def journey(
    purchases: Iterable[datetime],
    policy: LifecyclePolicy | None = None,
    *,
    until: datetime,
    tz: str | tzinfo = "UTC",
    joined: datetime | None = None,
    model: object = None,
) -> tuple[StageChange, ...]:
    """One member's dated stage changes, from joining (or first purchase) to ``until``.

    Changes caused by time passing are listed on the local day they happen:
    at risk on the day the threshold is reached, active again when the new or
    reactivated window ends. Each day's stage is exactly what :func:`stages`
    gives for the purchases made up to that day.

    Args:
        purchases: the member's purchase instants (aware datetimes, any order).
        policy: the policy (default ``LifecyclePolicy()``).
        until: the last instant of the journey; no purchase may follow it.
        tz: the program zone in which days are counted.
        joined: when the member joined (a prospect until the first purchase).
        model: a fitted model with ``p_alive``; required for
            :class:`ProbabilityAlive`.

    Returns:
        The changes in date order; the first is where the journey starts.

    Raises:
        InvalidTime: a purchase after ``until`` or before ``joined``.
        InvalidArgument: no purchase and no ``joined``; a ProbabilityAlive
            policy without a model.

    >>> from datetime import datetime, timezone
    >>> utc = timezone.utc
    >>> buys = [datetime(2024, 1, 10, tzinfo=utc), datetime(2024, 9, 1, tzinfo=utc)]
    >>> for change in journey(buys, until=datetime(2024, 12, 31, tzinfo=utc)):
    ...     print(change.on, change.stage.label, change.cause)
    2024-01-10 new purchase
    2024-02-09 active time
    2024-03-10 at_risk time
    2024-05-09 dormant time
    2024-09-01 reactivated purchase
    2024-10-01 active time
    2024-10-31 at_risk time
    2024-12-30 dormant time
    """
    chosen = _policy(policy)
    zone_ = zone(tz)
    days = _purchase_days(purchases, zone_)
    until_day = _days.day_of(to_utc(until, "until"), zone_)
    start = _journey_start(days, joined, until_day, zone_)
    is_alive = isinstance(chosen.thresholds, ProbabilityAlive)
    if is_alive and model is None:
        raise InvalidArgument(
            "a ProbabilityAlive journey needs model= (p_alive changes with every day)",
            field="model",
        )
    daily = _journey.daily_stages(
        days,
        start,
        until_day,
        lambda rows: _classify(chosen, rows),
        model=model,
        needs_model=is_alive,
    )
    codes = daily.codes
    changed = np.flatnonzero(np.concatenate([[True], codes[1:] != codes[:-1]]))
    epoch = EPOCH.date()
    result = []
    for i in changed.tolist():
        cause = "purchase" if daily.purchased[i] else ("joined" if i == 0 else "time")
        on = epoch + timedelta(days=int(daily.days[i]))
        result.append(StageChange(on, Stage(int(codes[i])), cause))
    return tuple(result)


def _journey_start(
    days: npt.NDArray[np.int64], joined: datetime | None, until_day: int, zone_: tzinfo
) -> int:
    if joined is None and days.size == 0:
        raise InvalidArgument(
            "a journey needs at least one purchase or joined=", field="purchases"
        )
    start = int(days[0]) if joined is None else _days.day_of(to_utc(joined, "joined"), zone_)
    if days.size and days[0] < start:
        raise InvalidTime(
            f"joined={joined!r} is after the first purchase", field="joined", value=joined
        )
    if (days.size and days[-1] > until_day) or start > until_day:
        raise InvalidTime(
            f"until={until_day} (local day) is before the journey's last event",
            field="until",
            value=until_day,
        )
    return start


# -- plain data ----------------------------------------------------------------

configure_tagged_union(Thresholds, serialize.converter, tag_name="type")
serialize.register_document(LifecyclePolicy, "lifecycle.LifecyclePolicy", 1)

publish(__name__, __all__, globals())
