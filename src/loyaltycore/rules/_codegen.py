"""Compile a rule set's conditions into one Python function (the scalar hot path).

Testing a predicate node through the field registry costs a few hundred
nanoseconds per node; a 20-rule set tests dozens of nodes per event. Here
the conditions of every rule are translated once into plain Python
expressions over the event and the member (``event.channel == K[3]``,
``local.weekday() in K[4]``), with the values every rule shares (the local
date and time, the event instant in micros) computed once per event. Nodes
this compiler does not know are called through their own ``_test`` with a
:class:`~loyaltycore.predicates.Context`, so the result is always the
predicate's own answer; a property test compares the two on random cases.

The generated function records, per rule, the index of the first failed
conjunct of its condition, and inlines the award of simple rules; groups and
rules with limits, budgets, windows or referrers go back to the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import tzinfo
from typing import Any

from loyaltycore._generated import run_generated
from loyaltycore.calendar import EPOCH_DATE, to_micros
from loyaltycore.predicates import (
    Always,
    And,
    Between,
    BirthdayMonth,
    Compare,
    Field,
    FirstPurchase,
    InSegment,
    IsIn,
    Not,
    Or,
    Predicate,
    Recurs,
    TierAtLeast,
)

#: Field name -> (expression, may be None). Prologue names are defined below.
_VALUES: dict[str, tuple[str, bool]] = {
    "event_id": ("event.id", False),
    "kind": ("event.kind", False),
    "amount": ("event.amount", True),
    "channel": ("event.channel", True),
    "store": ("event.store", True),
    "at": ("AT_US", False),
    "member_id": ("member.id", False),
    "tier": ("member.tier", True),
    "local_date": ("LD", False),
    "weekday": ("WD", False),
    "day": ("local.day", False),
    "month": ("local.month", False),
    "year": ("local.year", False),
    "hour": ("local.hour", False),
    "days_since_joined": ("DSJ", True),
}
_PROLOGUE = {
    "local": "local = event.at.astimezone(TZ)",
    "LD": "LD = local.toordinal() - EPOCH_ORD",
    "WD": "WD = local.weekday()",
    "AT_US": "AT_US = TO_MICROS(event.at)",
    "DSJ": (
        "DSJ = None if member.joined_at is None else"
        " LD - (member.joined_at.astimezone(TZ).toordinal() - EPOCH_ORD)"
    ),
    "CTX": "CTX = MAKE_CTX()",
    "CNT": "CNT = getattr(member.counters, '_data', member.counters)",
}
_NEEDS = {"LD": ("local",), "WD": ("local",), "DSJ": ("LD",)}


class _Builder:
    def __init__(self, tiers: Sequence[str]) -> None:
        self.consts: list[Any] = []
        self.index: dict[tuple[type[Any], Any], int] = {}
        self.used: set[str] = set()
        self.tiers = tuple(tiers)
        #: leaf expression -> how many times the conditions use it
        self.leaves: dict[str, int] = {}

    def const(self, value: Any) -> str:
        try:
            key = (type(value), value)
            if key in self.index:
                return f"K[{self.index[key]}]"
            self.index[key] = len(self.consts)
        except TypeError:  # unhashable: never shared
            pass
        self.consts.append(value)
        return f"K[{len(self.consts) - 1}]"

    def leaf(self, text: str) -> str:
        """Register a leaf test; shared ones become locals computed once per event."""
        self.leaves[text] = self.leaves.get(text, 0) + 1
        return text

    def use(self, name: str) -> None:
        for dep in _NEEDS.get(name, ()):
            self.use(dep)
        self.used.add(name)
        if name in ("LD", "WD", "DSJ", "day", "month", "year", "hour"):
            self.used.add("local")

    def value(self, spec: Field) -> tuple[str, bool] | None:
        name = spec.name
        if name.startswith("counters.") and spec.kind == "int":
            key = self.const(name[len("counters.") :])
            self.used.add("CNT")
            return f"CNT.get({key}, 0)", False
        got = _VALUES.get(name)
        if got is None:
            return None
        expr = got[0]
        head = expr.split(".")[0]
        if head in _PROLOGUE or head in ("LD", "WD", "AT_US", "DSJ"):
            self.use(head)
        return got

    def fallback(self, node: Predicate) -> str:
        self.use("CTX")
        return f"{self.const(node._test)}(CTX)"

    def expr(self, node: Predicate) -> str:
        out = self._expr(node)
        return out if out is not None else self.fallback(node)

    def _expr(self, node: Predicate) -> str | None:
        if isinstance(node, Always):
            return "True"
        if isinstance(node, And):
            return "(" + " and ".join(self.expr(t) for t in node.terms) + ")"
        if isinstance(node, Or):
            return "(" + " or ".join(self.expr(t) for t in node.terms) + ")"
        if isinstance(node, Not):
            return f"(not {self.expr(node.term)})"
        if isinstance(node, Compare | IsIn | Between):
            return self._field_node(node)
        if isinstance(node, FirstPurchase):
            return self.expr(node._expr)
        if isinstance(node, Recurs):
            self.use("LD")
            return f"{self.const(node._compiled.test)}(LD)"
        if isinstance(node, BirthdayMonth):
            self.use("local")
            return "(member.birthday is not None and member.birthday.month == local.month)"
        if isinstance(node, InSegment):
            return f"({self.const(node.segment)} in member.segments)"
        if isinstance(node, TierAtLeast) and node.tier in self.tiers:
            high = frozenset(self.tiers[self.tiers.index(node.tier) :])
            return f"(member.tier in {self.const(high)})"
        return None

    def _field_node(self, node: Compare | IsIn | Between) -> str | None:
        spec: Field = node._spec
        got = self.value(spec)
        if got is None:
            return None
        value, nullable = got
        if isinstance(node, Compare):
            test = f"{value} {node.op} {self.const(node._cmp)}"
        elif isinstance(node, IsIn):
            test = f"{value} in {self.const(node._cmp)}"
        else:
            test = f"{self.const(node._lo)} <= {value} <= {self.const(node._hi)}"
        if nullable:
            return self.leaf(f"({value} is not None and {test})")
        return self.leaf(f"({test})")


#: One step of the evaluation plan, as the engine describes it to the compiler.
Step = tuple[bool, int, int, int, int, str, str, bool, int, tuple[int, ...]]

K_SPEND, K_FIXED, K_MULT, K_TIER = 0, 1, 2, 3


def _ratio_expr(value: str, num: int, den: int, mode: str) -> str:
    if mode in ("ROUND_DOWN", "ROUND_FLOOR"):
        return f"{value} * {num} // {den}"
    return f"DIV({value} * {num}, {den}, {mode!r})"


def _award_lines(step: Step, pad: str) -> list[str]:
    _, i, kind, num, den, mode, currency, _, _, _ = step
    if kind == K_FIXED:
        return [f"{pad}amount = {num}"]
    if kind == K_SPEND:
        return [
            f"{pad}amount = ({_ratio_expr('eligible', num, den, mode)}) if eligible > 0 else 0"
        ]
    lines = [f"{pad}b = totals.get({currency!r}, 0)"]
    if kind == K_MULT:
        return [*lines, f"{pad}amount = ({_ratio_expr('b', num, den, mode)}) if b > 0 else 0"]
    return [
        *lines,
        f"{pad}pair = TIERS[{i}].get(member.tier)",
        f"{pad}amount = DIV(b * (pair[0] - pair[1]), pair[1], {mode!r})"
        " if pair is not None and b > 0 else 0",
    ]


def _first_failed(b: _Builder, parts: tuple[Predicate, ...], target: str, pad: str) -> list[str]:
    lines = []
    for k, part in enumerate(parts):
        keyword = "if" if k == 0 else "elif"
        lines.append(f"{pad}{keyword} not {b.expr(part)}:")
        lines.append(f"{pad}    {target} = {k}")
    return lines


def _static_group(
    b: _Builder, conditions: Sequence[tuple[Predicate, ...]], steps: Sequence[Step], step: Step
) -> list[str]:
    """A group of simple rules with distinct priorities: the first candidate wins."""
    by_rule = {st[1]: st for st in steps}
    body = ["    won = False"]
    for j in step[9]:
        member_step = by_rule[j]
        pad = "    "
        if conditions[j]:
            body += _first_failed(b, conditions[j], f"details[{j}]", pad)
            body.append(f"{pad}else:")
            pad += "    "
        body += _award_lines(member_step, pad)
        body.append(f"{pad}if amount <= 0:")
        body.append(f"{pad}    codes[{j}] = 3")
        body.append(f"{pad}elif won:")
        body.append(f"{pad}    codes[{j}] = 6")
        body.append(f"{pad}else:")
        body.append(f"{pad}    won = True")
        body.append(f"{pad}    codes[{j}] = 0")
        body.append(f"{pad}    fired.append(({j}, amount))")
        if step[7]:
            cur = member_step[6]
            body.append(f"{pad}    totals[{cur!r}] = totals.get({cur!r}, 0) + amount")
    return body


def compile_engine(
    conditions: Sequence[tuple[Predicate, ...]],
    steps: Sequence[Step],
    extra: Sequence[Step],
    *,
    tz: tzinfo,
    tiers: Sequence[str],
    tier_fractions: Sequence[Any],
    resolve: Callable[..., None],
    has_valid: Sequence[bool],
) -> tuple[Callable[..., None], bool]:
    """The whole scalar evaluation of a rule set as one generated function.

    ``run(event, member, s, MAKE_CTX, eligible)`` fills the engine state
    ``s`` (codes, details, fired, base totals); simple rules are inlined,
    groups and rules with limits, budgets, windows or referrers call
    ``resolve(s, unit_index, event, member)`` once their conditions are known.
    The second value says whether the function calls ``MAKE_CTX`` (a node
    without compiled form).
    """
    b = _Builder(tiers)
    body: list[str] = []
    for step in steps:
        simple, i, _, _, _, _, currency, is_base, unit_index, members = step
        if simple and len(members) > 1:
            body += _static_group(b, conditions, [*steps, *extra], step)
            continue
        if not simple:
            for j in members:
                body += _first_failed(b, conditions[j], f"failed[{j}]", "    ")
            passed = " or ".join(f"failed[{j}] < 0" for j in members)
            body.append(f"    if {passed}:")
            body.append(f"        RESOLVE(s, {unit_index}, event, member)")
            body.append("    else:")
            for j in members:
                if has_valid[j]:
                    body.append(f"        RESOLVE(s, {unit_index}, event, member)")
                    break
            else:
                for j in members:
                    body.append(f"        details[{j}] = failed[{j}]")
            continue
        parts = conditions[i]
        pad = "    "
        if parts:
            body += _first_failed(b, parts, f"details[{i}]", pad)
            body.append(f"{pad}else:")
            pad += "    "
        body += _award_lines(step, pad)
        body.append(f"{pad}if amount > 0:")
        body.append(f"{pad}    codes[{i}] = 0")
        body.append(f"{pad}    fired.append(({i}, amount))")
        if is_base:
            body.append(f"{pad}    totals[{currency!r}] = totals.get({currency!r}, 0) + amount")
        body.append(f"{pad}else:")
        body.append(f"{pad}    codes[{i}] = 3")
    prologue = [
        f"    {_PROLOGUE[name]}"
        for name in ("local", "LD", "WD", "AT_US", "DSJ", "CNT", "CTX")
        if name in b.used
    ]
    shared = [text for text, count in b.leaves.items() if count > 1]
    for k, text in enumerate(shared):
        prologue.append(f"    L{k} = {text}")
        body = [line.replace(text, f"L{k}") for line in body]
    source = "\n".join(
        [
            "def run(event, member, s, MAKE_CTX, eligible):",
            "    codes = s.codes",
            "    details = s.details",
            "    failed = s.failed",
            "    fired = s.fired",
            "    totals = s.base",
            *prologue,
            *body,
        ]
    )
    from loyaltycore.rules._math import div_round

    namespace: dict[str, Any] = {
        "K": tuple(b.consts),
        "TZ": tz,
        "EPOCH_ORD": EPOCH_DATE.toordinal(),
        "TO_MICROS": to_micros,
        "DIV": div_round,
        "TIERS": tuple(tier_fractions),
        "RESOLVE": resolve,
    }
    run_generated(source, "rules", namespace)
    run: Callable[..., None] = namespace["run"]
    return run, "CTX" in b.used
