"""The records of a ledger's history: their encoding, and the code generated from it.

Each event type's class gives its record layout (``_record``), a letter a
field (see ``_SPECS`` below). From it this module generates, per event
type, a writer (the engine's form of the fields to ints), a reader (back
to the event's field values), a skipper (where the next record begins), a
check that an event reads back as itself, and an encoder (an input event
to the record the engine would write, for replay's quick check). Each is
compiled under a file name of its own registered with :mod:`linecache`
(:func:`loyaltycore._generated.run_generated`), so tracebacks show its
lines.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from operator import attrgetter
from typing import Any, Final

import attrs

from loyaltycore._generated import run_generated
from loyaltycore.calendar import EPOCH, UTC
from loyaltycore.points._values import (
    EVENT_TYPES,
    SOURCES,
    Adjusted,
    Captured,
    DebtRepaid,
    Earned,
    EarnReversed,
    Expired,
    Held,
    HoldTimedOut,
    Merged,
    Opened,
    Redeemed,
    RedemptionCancelled,
    Released,
    TransferredIn,
    TransferredOut,
    Vested,
)

#: A source code from this on is a host's own source: objs[code - SOURCE_OWN].
SOURCE_OWN: Final = 8
_SOURCE_CODE: Final = {source: k for k, source in enumerate(SOURCES)}


#: Event type codes: the index in EVENT_TYPES.
CODE: Final[dict[type[Any], int]] = {cls: code for code, cls in enumerate(EVENT_TYPES)}
C_EARNED: Final = CODE[Earned]
C_REDEEMED: Final = CODE[Redeemed]
C_CAPTURED: Final = CODE[Captured]
C_HELD: Final = CODE[Held]
C_REVERSED: Final = CODE[EarnReversed]
C_RELEASED: Final = CODE[Released]
_BYTE_EARNED: Final = bytes((C_EARNED,))
_CAUSES: Final = ("lot", "inactivity", "hold", "cancel")


# -- history records -------------------------------------------------------------
#
# Each event type's fields, one letter each (attrs field order), as its class's
# ``_record`` gives them:
#   i  the command's own id (kept in eids, not in the record)
#   T  an instant, always stored (the first one is the event's ``at``)
#   t  an instant left out when equal to ``at`` (occurred_at)
#   N  an optional instant, left out when None
#   I  an int; n  an optional int, left out when None; z  an int left out when 0
#   b  a bool left out when True
#   r  a str left out when empty, else an index into objs; o  any value, in objs
#   E  a command, by its index; L  a lot, by its index
#   P  lot parts: a count and (lot index, points) pairs, left out when empty
#   c  an Expired cause, left out when "lot"
#   s  a lot source, left out when "purchase", else its code (see SRC)
#   v  an optional value (a Decimal), left out when None, else in objs
#   u  the sources consumed, left out when all "purchase" (the writer is
#      given None), else a tuple in objs; read back as (("purchase", I),)
#      then, with I the record's first int
_SPECS: Final[dict[type[Any], str]] = {cls: cls._record for cls in EVENT_TYPES[1:]}
_OPTIONAL: Final = "tNnzbrPcsvu"


def _writer_source(code: int, spec: str) -> str:
    """A function appending one record, given its fields in engine form."""
    args = [f"f{k}" for k, c in enumerate(spec) if c != "i"]
    kinds = [c for c in spec if c != "i"]
    at = args[kinds.index("T")]
    flags, body, bit = [], [], 1
    for name, c in zip(args, kinds, strict=True):
        omitted = {
            "t": f"{name} == {at}",
            "N": f"{name} is None",
            "n": f"{name} is None",
            "z": f"not {name}",
            "b": f"{name}",
            "r": f"not {name}",
            "P": f"not {name}",
            "c": f"{name} == 'lot'",
            "s": f"{name} == 'purchase'",
            "v": f"{name} is None",
            "u": f"{name} is None",
        }.get(c)
        store = {
            "b": "h.append(0)",
            "s": f"h.append(b.source_code({name}))",
            "v": f"h.append(b.obj({name}))",
            "u": f"h.append(b.obj({name}))",
            "r": f"h.append(b.obj({name}))",
            "o": f"h.append(b.obj({name}))",
            "P": f"h.append(len({name}) >> 1); h.extend({name})",
            "c": f"h.append(CAUSES.index({name}))",
        }.get(c, f"h.append({name})")
        if omitted is None:
            body.append(f"    {store}")
        else:
            flags.append(f"({bit} if {omitted} else 0)")
            body.append(f"    if not fl & {bit}: {store}")
            bit <<= 1
    lines = [f"def w(h, b, {', '.join(args)}):"]
    lines.append(f"    fl = {' | '.join(flags) or '0'}")
    lines.append(f"    h.append({code} | fl << 5)")
    return "\n".join(lines + body)


def _reader_source(spec: str) -> str:
    """A function reading one record back into the event's field values."""
    lines = ["def r(h, i, objs, eid, ids, names, dt):", "    fl = h[i] >> 5", "    i += 1"]
    names_ = []
    at = ""
    bit = 1
    first_int = f"f{spec.find('I')}"
    for k, c in enumerate(spec):
        v = f"f{k}"
        names_.append(v)
        if c == "i":
            lines.append(f"    {v} = eid")
            continue
        read = {
            "T": "dt(h[i])",
            "t": "dt(h[i])",
            "N": "dt(h[i])",
            "b": "bool(h[i])",
            "r": "objs[h[i]]",
            "o": "objs[h[i]]",
            "E": "ids[h[i]]",
            "L": "names[h[i]]",
            "c": "CAUSES[h[i]]",
            "s": "(SOURCES[h[i]] if h[i] < SOURCE_OWN else objs[h[i] - SOURCE_OWN])",
            "v": "objs[h[i]]",
            "u": "objs[h[i]]",
        }.get(c, "h[i]")
        default = {
            "t": at,
            "N": "None",
            "n": "None",
            "z": "0",
            "b": "True",
            "r": "''",
            "P": "()",
            "c": "'lot'",
            "s": "'purchase'",
            "v": "None",
            "u": f"(('purchase', {first_int}),)",
        }.get(c)
        if c == "P":
            step = [
                "n = 2 * h[i]",
                f"{v} = tuple(zip([names[x] for x in h[i + 1 : i + 1 + n : 2]], "
                "h[i + 2 : i + 2 + n : 2]))",
                "i += n + 1",
            ]
        else:
            step = [f"{v} = {read}", "i += 1"]
        if default is None:
            lines.extend(f"    {s}" for s in step)
        else:
            lines.append(f"    if fl & {bit}:")
            lines.append(f"        {v} = {default}")
            lines.append("    else:")
            lines.extend(f"        {s}" for s in step)
            bit <<= 1
        if c == "T" and not at:
            at = v
    lines.append(f"    return ({', '.join(names_)},), i")
    return "\n".join(lines)


def _skipper_source(spec: str) -> str:
    """A function giving where the record after the one at ``i`` begins."""
    lines = ["def s(h, i):", "    fl = h[i] >> 5", "    i += 1"]
    bit = 1
    for c in spec:
        if c == "i":
            continue
        step = "i += 2 * h[i] + 1" if c == "P" else "i += 1"
        if c in _OPTIONAL:
            lines.append(f"    if not fl & {bit}: {step}")
            bit <<= 1
        else:
            lines.append(f"    {step}")
    lines.append("    return i")
    return "\n".join(lines)


def _canon_source(cls: type[Any], spec: str) -> str:
    """A function telling whether an event reads back as itself from its record.

    Instants must be plain UTC datetimes, ints and bools exactly that.
    """
    tests = []
    for f, c in zip(attrs.fields(cls), spec, strict=True):
        x = f"ev.{f.name}"
        test = f"(type({x}) is datetime and {x}.tzinfo is UTC and not {x}.fold)"
        if c in "Tt":
            tests.append(test)
        elif c == "N":
            tests.append(f"({x} is None or {test})")
        elif c in "Iz":
            tests.append(f"type({x}) is int")
        elif c == "n":
            tests.append(f"({x} is None or type({x}) is int)")
        elif c == "b":
            tests.append(f"type({x}) is bool")
    return f"def c(ev):\n    return {' and '.join(tests) or 'True'}"


class _Unusual(Exception):
    """An input event the quick check of a replay does not cover."""


#: The encoder's source lines per field letter (see _SPECS), formatted with
#: the field's variable ``x``, its flag ``bit``, the event's ``at`` variable,
#: the ``unusual`` test of an instant and the micros expression ``us``.
_ENCODE_FIRST_AT: Final = ("if {unusual}: raise Unusual", "out.append(at_us)")
_ENCODE_STEPS: Final[dict[str, tuple[str, ...]]] = {
    "T": ("if {unusual}: raise Unusual", "d = {x} - EPOCH", "out.append({us})"),
    "t": (
        "if {x} is {at}: fl |= {bit}",
        "else:",
        "    if {unusual}: raise Unusual",
        "    d = {x} - EPOCH",
        "    u = {us}",
        "    if u == at_us: fl |= {bit}",
        "    else: out.append(u)",
    ),
    "N": (
        "if {x} is None: fl |= {bit}",
        "else:",
        "    if {unusual}: raise Unusual",
        "    d = {x} - EPOCH",
        "    out.append({us})",
    ),
    "I": ("if type({x}) is not int: raise Unusual", "out.append({x})"),
    "n": (
        "if {x} is None: fl |= {bit}",
        "elif type({x}) is int: out.append({x})",
        "else: raise Unusual",
    ),
    "z": (
        "if type({x}) is not int: raise Unusual",
        "if {x}: out.append({x})",
        "else: fl |= {bit}",
    ),
    "b": (
        "if {x} is True: fl |= {bit}",
        "elif {x} is False: out.append(0)",
        "else: raise Unusual",
    ),
    "r": (
        "if type({x}) is str and not {x}: fl |= {bit}",
        "elif not {x}: raise Unusual",
        "else: objs.append({x}); out.append(len(objs) - 1)",
    ),
    "o": ("objs.append({x})", "out.append(len(objs) - 1)"),
    "E": ("out.append(idix[{x}])",),
    "L": ("out.append(lotix[{x}])",),
    "P": (
        "if type({x}) is not tuple: raise Unusual",
        "if not {x}: fl |= {bit}",
        "else:",
        "    out.append(len({x}))",
        "    for lot, x in {x}:",
        "        if type(x) is not int: raise Unusual",
        "        out.append(lotix[lot])",
        "        out.append(x)",
    ),
    "c": ("if {x} == 'lot': fl |= {bit}", "else: out.append(CAUSES.index({x}))"),
    "s": (
        "if type({x}) is not str or not {x}: raise Unusual",
        "if {x} == 'purchase': fl |= {bit}",
        "elif {x} in SOURCE_CODE: out.append(SOURCE_CODE[{x}])",
        "else: objs.append({x}); out.append(SOURCE_OWN + len(objs) - 1)",
    ),
    "v": ("if {x} is None: fl |= {bit}", "else: objs.append({x}); out.append(len(objs) - 1)"),
    "u": (
        "if {x} == (('purchase', {first_int}),): fl |= {bit}",
        "else: objs.append({x}); out.append(len(objs) - 1)",
    ),
}


def _encoder_source(code: int, spec: str) -> str:
    """A function appending an input event's record as the engine would write it.

    Replay compares these with what the engine wrote. Anything unusual
    (instants not in plain UTC, non-int counts, unknown references) raises,
    and the replay checks event by event instead.
    """
    names = [f"f{k}" for k in range(len(spec))]
    lines = ["def e(ev, at_us, out, objs, idix, lotix):", f"    {', '.join(names)}, = get(ev)"]
    unusual = "(type({0}) is not datetime or {0}.tzinfo is not UTC or {0}.fold)"
    kinds = [c for c in spec if c not in "i" + _OPTIONAL]
    if kinds == ["T", "I"] and set(spec) <= set("iTItNr"):
        # (Earned) a quick path when every optional field is left out
        at, points = names[spec.index("T")], names[spec.index("I")]
        defaults = {"t": f"is {at}", "N": "is None", "r": '== ""'}
        tests = [f"{n} {defaults[c]}" for n, c in zip(names, spec, strict=True) if c in defaults]
        tests += [f"type({points}) is int", f"not {unusual.format(at)}"]
        full = (1 << sum(c in _OPTIONAL for c in spec)) - 1
        lines += [
            f"    if {' and '.join(tests)}:",
            f"        out.extend(({code | full << 5}, at_us, {points}))",
            "        return",
        ]
    lines += ["    p = len(out)", "    out.append(0)", "    fl = 0"]
    us = "(d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds"
    at = ""
    bit = 1
    first_int = f"f{spec.find('I')}"
    for name, c in zip(names, spec, strict=True):
        if c == "i":
            continue
        first = c == "T" and not at
        if first:
            at = name
        fields = {
            "x": name,
            "bit": bit,
            "at": at,
            "unusual": unusual.format(name),
            "us": us,
            "first_int": first_int,
        }
        steps = _ENCODE_FIRST_AT if first else _ENCODE_STEPS[c]
        lines += ["    " + step.format(**fields) for step in steps]
        if c in _OPTIONAL:
            bit <<= 1
    lines.append(f"    out[p] = {code} | fl << 5")
    return "\n".join(lines)


def _compile(source: str, name: str, what: str, **extra: Any) -> Callable[..., Any]:
    """The function ``name`` that ``source`` defines, compiled under a file name of
    its own (``what`` says which generator and event type) for tracebacks."""
    scope: dict[str, Any] = {
        "CAUSES": _CAUSES,
        "datetime": datetime,
        "UTC": UTC,
        "EPOCH": EPOCH,
        "Unusual": _Unusual,
        "SOURCES": SOURCES,
        "SOURCE_CODE": _SOURCE_CODE,
        "SOURCE_OWN": SOURCE_OWN,
        **extra,
    }
    run_generated(source, f"points {what}", scope)
    fn: Callable[..., Any] = scope[name]
    return fn


#: Per type code: (event class, reader, whether it is a command).
_READ: Final[list[tuple[type[Any], Callable[..., Any], bool]]] = []
#: Per type code: where the record after one of this type begins.
_SKIP: Final[list[Callable[[Any, int], int]]] = []
_WRITE: Final[dict[type[Any], Callable[..., None]]] = {}
_CANON: Final[dict[type[Any], Callable[[Any], bool]]] = {}
_ENCODE: Final[dict[type[Any], Callable[..., None]]] = {}
#: Each event type's field values as a tuple (equal tuples: equal events).
FIELDS: Final[dict[type[Any], Callable[[Any], tuple[Any, ...]]]] = {}
for _cls in EVENT_TYPES:
    FIELDS[_cls] = attrgetter(*(f.name for f in attrs.fields(_cls)))
    if _cls is Opened:
        _READ.append((_cls, lambda *_: None, False))
        _SKIP.append(lambda h, i: i)  # (never in a history)
        continue
    _spec, _name = _SPECS[_cls], _cls.__name__
    _WRITE[_cls] = _compile(_writer_source(CODE[_cls], _spec), "w", f"writer {_name}")
    _READ.append((_cls, _compile(_reader_source(_spec), "r", f"reader {_name}"), _spec[0] == "i"))
    _SKIP.append(_compile(_skipper_source(_spec), "s", f"skipper {_name}"))
    _CANON[_cls] = _compile(_canon_source(_cls, _spec), "c", f"check {_name}")
    _ENCODE[_cls] = _compile(
        _encoder_source(CODE[_cls], _spec), "e", f"encoder {_name}", get=FIELDS[_cls]
    )
_w_earned = _WRITE[Earned]
#: The first word of a plain earn's record (every optional field left out but
#: the lot's expiry): W_PLAIN_EARN with the expiry, W_PLAIN_NEVER without.
_EARNED_FLAGS: Final = (1 << sum(c in _OPTIONAL for c in _SPECS[Earned])) - 1
_EXPIRY_BIT: Final = 1 << sum(
    c in _OPTIONAL
    for c in _SPECS[Earned][: [f.name for f in attrs.fields(Earned)].index("lot_expires_at")]
)
W_PLAIN_NEVER: Final = C_EARNED | _EARNED_FLAGS << 5
W_PLAIN_EARN: Final = C_EARNED | (_EARNED_FLAGS & ~_EXPIRY_BIT) << 5
#: The same with a reason (in objs, its index after the points): W_REASON_EARN with
#: the expiry, W_REASON_NEVER without.
_REASON_BIT: Final = 1 << sum(
    c in _OPTIONAL
    for c in _SPECS[Earned][: [f.name for f in attrs.fields(Earned)].index("reason")]
)
W_REASON_NEVER: Final = C_EARNED | (_EARNED_FLAGS & ~_REASON_BIT) << 5
W_REASON_EARN: Final = C_EARNED | (_EARNED_FLAGS & ~_EXPIRY_BIT & ~_REASON_BIT) << 5


def first_word(cls: type[Any], *present: str) -> int:
    """The first word of a record of ``cls`` whose optional fields are all left
    out but ``present`` (field names)."""
    flags, bit = 0, 1
    for field, c in zip(attrs.fields(cls), _SPECS[cls], strict=True):
        if c in _OPTIONAL:
            flags |= 0 if field.name in present else bit
            bit <<= 1
    return CODE[cls] | flags << 5


#: A plain redemption's record (no reason, all purchases, no deadline):
#: (W_PLAIN_REDEEM, at, points, parts, *flat parts).
W_PLAIN_REDEEM: Final = first_word(Redeemed, "lots")
#: A hold's record (occurred when placed): (W_PLAIN_HOLD, at, points,
#: deadline, parts, *flat parts).
W_PLAIN_HOLD: Final = first_word(Held, "lots")
_w_redeemed = _WRITE[Redeemed]
_w_held = _WRITE[Held]
_w_captured = _WRITE[Captured]
_w_released = _WRITE[Released]
_w_reversed = _WRITE[EarnReversed]
_w_cancelled = _WRITE[RedemptionCancelled]
_w_adjusted = _WRITE[Adjusted]
_w_out = _WRITE[TransferredOut]
_w_in = _WRITE[TransferredIn]
_w_merged = _WRITE[Merged]
_w_vested = _WRITE[Vested]
_w_expired = _WRITE[Expired]
_w_timed_out = _WRITE[HoldTimedOut]
_w_repaid = _WRITE[DebtRepaid]
