"""Holdout assignment by salted hash.

A member's arm depends only on the salt and its own id (or its household's
key): BLAKE2b of ``salt``, a NUL byte and the id's text gives 64 bits, read
as a number ``u`` in [0, 1). Without strata a unit is held out (control) when
``u < share``, so the same salt gives the same arm on every run, machine and
``PYTHONHASHSEED``, a member joining later never moves anyone else, and a
larger share holds out a superset of a smaller one. With strata, the units
of each stratum are ranked by ``u`` and the first ``round(share x n)`` are
held out: the share is then exact within each stratum, at the price of
depending on who else is in it.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Hashable
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from loyaltycore._frames import Frames
from loyaltycore.campaigns._arrays import (
    CONTROL,
    TREATMENT,
    Arm,
    Mask,
    array_field,
    check_length,
    column,
    fraction,
)
from loyaltycore.errors import DuplicateId, InvalidArgument, InvalidColumn, InvalidType, NotFound


def _key_text(value: object, name: str, row: int) -> str:
    """The text an id is hashed by: a str as is, an int in decimal."""
    if isinstance(value, str):
        if value:
            return value
    elif isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_):
        return str(int(value))
    raise InvalidColumn(
        f"{name}[{row}]={value!r} must be a non-empty str or an int",
        field=name,
        row=row,
        value=value,
    )


def position(salt: str, key: str) -> float:
    """The unit's place in [0, 1): BLAKE2b-64 of ``salt``, NUL, ``key``.

    >>> position("spring-2025", "m-1") == position("spring-2025", "m-1")
    True
    """
    digest = hashlib.blake2b(
        salt.encode("utf-8") + b"\x00" + key.encode("utf-8"), digest_size=8
    ).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def _positions(salt: str, keys: list[str]) -> npt.NDArray[np.float64]:
    cache: dict[str, float] = {}
    out = np.empty(len(keys), dtype=np.float64)
    for i, key in enumerate(keys):
        u = cache.get(key)
        if u is None:
            u = cache[key] = position(salt, key)
        out[i] = u
    return out


def _check_salt(salt: object) -> str:
    if not isinstance(salt, str):
        raise InvalidType(
            f"salt={salt!r} must be a str, not {type(salt).__name__}", field="salt", value=salt
        )
    if not salt or "\x00" in salt:
        raise InvalidArgument(
            f"salt={salt!r} must be a non-empty str without NUL", field="salt", value=salt
        )
    return salt


def _members(members: Any) -> tuple[npt.NDArray[Any], list[str]]:
    ids = column(members, "members")
    if ids.dtype.kind not in "iuOU":
        raise InvalidType(
            f"members must hold str or int ids, not {ids.dtype}",
            field="members",
            value=str(ids.dtype),
        )
    values = ids.tolist()
    texts = [_key_text(v, "members", i) for i, v in enumerate(values)]
    seen: dict[str, int] = {}
    for i, text in enumerate(texts):
        if text in seen:
            raise DuplicateId(
                f"members[{i}]={values[i]!r} repeats members[{seen[text]}]",
                field="members",
                row=i,
                value=values[i],
            )
        seen[text] = i
    return ids, texts


def _labels(values: Any, name: str, n: int) -> npt.NDArray[Any]:
    array = column(values, name)
    check_length(array, n, name, "members")
    for i, v in enumerate(array.tolist()):
        if v is None or (isinstance(v, float) and math.isnan(v)) or not isinstance(v, Hashable):
            raise InvalidColumn(f"{name}[{i}]={v!r} is missing", field=name, row=i, value=v)
    return array


def _stratified(
    u: npt.NDArray[np.float64], units: list[str], strata: list[Any], share: float
) -> Mask:
    """Hold out exactly round(share x units) units of each stratum, lowest ``u`` first."""
    unit_row: dict[str, int] = {}
    unit_stratum: dict[str, Any] = {}
    for i, (unit, stratum) in enumerate(zip(units, strata, strict=True)):
        if unit in unit_stratum and unit_stratum[unit] != stratum:
            raise InvalidColumn(
                f"unit {unit!r} spans strata {unit_stratum[unit]!r} and {stratum!r}",
                field="strata",
                row=i,
                value=stratum,
            )
        unit_stratum.setdefault(unit, stratum)
        unit_row.setdefault(unit, i)
    by_stratum: dict[Any, list[str]] = {}
    for unit, stratum in unit_stratum.items():
        by_stratum.setdefault(stratum, []).append(unit)
    held: set[str] = set()
    for group in by_stratum.values():
        k = math.floor(share * len(group) + 0.5)
        group.sort(key=lambda unit: (u[unit_row[unit]], unit))
        held.update(group[:k])
    return np.fromiter((unit in held for unit in units), dtype=np.bool_, count=len(units))


@attrs.frozen
class Assignment(Frames):
    """Members and the arm each was assigned to, as :func:`assign` made it.

    ``member`` and ``arm`` are aligned read-only columns in the order the
    members were given; ``arm`` holds ``"treatment"`` or ``"control"``.
    ``salt`` and ``share`` are kept so the same holdout can be drawn again
    for members who join later (without strata, nobody already assigned
    moves).

    >>> a = assign(["m-1", "m-2", "m-3"], share=0.5, salt="doc")
    >>> a.arm_of("m-2") in ("treatment", "control"), a.n_treatment + a.n_control
    (True, 3)
    """

    salt: str
    share: float
    member: npt.NDArray[Any] = array_field()
    arm: npt.NDArray[Any] = array_field()
    strata: npt.NDArray[Any] | None = array_field()
    unit: npt.NDArray[Any] | None = array_field()

    def __repr__(self) -> str:
        return (
            f"Assignment(members={len(self.member)}, treatment={self.n_treatment}, "
            f"control={self.n_control}, share={self.share!r}, salt={self.salt!r})"
        )

    @property
    def treated(self) -> Mask:
        """True for the members in the treatment arm.

        >>> assign(["a", "b"], share=0.5, salt="doc").treated.dtype
        dtype('bool')
        """
        return np.asarray(self.arm == TREATMENT, dtype=np.bool_)

    @property
    def n_treatment(self) -> int:
        """Members in the treatment arm."""
        return int(np.count_nonzero(self.arm == TREATMENT))

    @property
    def n_control(self) -> int:
        """Members held out (the control arm)."""
        return int(np.count_nonzero(self.arm == CONTROL))

    def arm_of(self, member: object) -> Arm:
        """The arm of one member.

        Raises:
            NotFound: ``member`` was not assigned.

        >>> assign([7, 8], share=0.5, salt="doc").arm_of(9)
        Traceback (most recent call last):
        ...
        loyaltycore.errors.NotFound: member=9 was not assigned
        """
        target = _key_text(member, "member", 0) if member is not None else None
        for i, value in enumerate(self.member.tolist()):
            if _key_text(value, "members", i) == target:
                return TREATMENT if self.arm[i] == TREATMENT else CONTROL
        raise NotFound(f"member={member!r} was not assigned", field="member", value=member)

    def columns(self) -> dict[str, npt.NDArray[Any]]:
        """The columns by name: member, arm, and strata / unit when given.

        >>> sorted(assign(["a"], share=0.5, salt="doc").columns())
        ['arm', 'member']
        """
        out = {"member": self.member, "arm": self.arm}
        if self.strata is not None:
            out["strata"] = self.strata
        if self.unit is not None:
            out["unit"] = self.unit
        return out


def assign(
    members: npt.ArrayLike,
    *,
    share: float,
    salt: str,
    strata: npt.ArrayLike | None = None,
    unit: npt.ArrayLike | None = None,
) -> Assignment:
    """Assign members to treatment or control (the holdout) by salted hash.

    Deterministic: the arm depends only on ``salt`` and the member's id (or
    its ``unit`` key), never on the run, the machine or ``PYTHONHASHSEED``.
    Ids are hashed by their text, so ``42`` and ``"42"`` land together.

    Args:
        members: distinct member ids (str or int), one per row.
        share: the share held out as control, strictly between 0 and 1.
            Without ``strata`` each unit is held out with this probability
            (a global holdout: reuse the salt and share, and members who join
            later are assigned without moving anyone); a larger share holds
            out a superset of a smaller one under the same salt.
        salt: names the experiment; a new salt draws an independent split.
        strata: optional labels, one per member; within each stratum exactly
            ``round(share x units)`` units are held out (ranked by hash).
        unit: optional household keys, one per member: every member of a
            household gets the same arm (the household is hashed, and counted
            once in a stratum; a household must not span strata).

    Returns:
        An :class:`Assignment` aligned with ``members``.

    Raises:
        DuplicateId: a member id appears twice.
        InvalidColumn: a missing id or label, or columns of different lengths.
        InvalidArgument: ``share`` outside (0, 1), an empty ``salt``.

    >>> a = assign([f"m-{i}" for i in range(1000)], share=0.1, salt="spring-2025")
    >>> a.n_control
    93
    >>> b = assign(["m-1", "m-2", "m-3", "m-4"], share=0.5, salt="s", strata=["a", "a", "b", "b"])
    >>> b.arm.tolist().count("control")
    2
    >>> h = assign(["m-1", "m-2", "m-3"], share=0.5, salt="s", unit=["h-1", "h-1", "h-2"])
    >>> h.arm[0] == h.arm[1]
    True
    """
    salt_ = _check_salt(salt)
    share_ = fraction(share, "share")
    ids, texts = _members(members)
    n = len(ids)
    units = texts
    unit_array = None
    if unit is not None:
        unit_array = _labels(unit, "unit", n)
        units = [_key_text(v, "unit", i) for i, v in enumerate(unit_array.tolist())]
    u = _positions(salt_, units)
    strata_array = None
    if strata is None:
        held = u < share_
    else:
        strata_array = _labels(strata, "strata", n)
        held = _stratified(u, units, strata_array.tolist(), share_)
    arm = np.where(held, CONTROL, TREATMENT).astype(object)
    return Assignment(
        member=ids, arm=arm, salt=salt_, share=share_, strata=strata_array, unit=unit_array
    )
