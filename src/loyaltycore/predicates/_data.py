"""Plain-data (JSON) form of predicates, with paths to bad nodes.

Private module: :func:`to_plain` and :func:`from_plain` are re-exported by
:mod:`loyaltycore.predicates`. Hooks registered on the shared converter make
a predicate field of any attrs class (``Rule.when``, ``Segment.where``)
round-trip too, with errors naming the full path (``$.data.rules[3].when.all[1].value``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final, get_origin

from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    IterableValidationError,
    IterableValidationNote,
)

from loyaltycore import serialize
from loyaltycore._validate import to_decimal, type_name
from loyaltycore.calendar import UTC
from loyaltycore.errors import InvalidRule, InvalidType, LoyaltyError
from loyaltycore.predicates._core import (
    OPS,
    Always,
    And,
    Between,
    Compare,
    IsIn,
    Not,
    Or,
    Predicate,
)
from loyaltycore.predicates._fields import Event, Field, FrozenMap, Item, Member, lookup
from loyaltycore.predicates._nodes import (
    BirthdayMonth,
    BirthdayWindow,
    Contains,
    FirstPurchase,
    InSegment,
    Quantity,
    Recurs,
    Spend,
    TierAtLeast,
)

Path = tuple[str | int, ...]
_BAD: Final = object()

NODE_TYPES: Final[tuple[type[Predicate], ...]] = (
    Compare,
    IsIn,
    Between,
    And,
    Or,
    Not,
    Always,
    Contains,
    Quantity,
    Spend,
    Recurs,
    BirthdayWindow,
    BirthdayMonth,
    TierAtLeast,
    InSegment,
    FirstPurchase,
)
BY_TAG: Final[dict[str, type[Predicate]]] = {cls.tag: cls for cls in NODE_TYPES}


# -- to plain ------------------------------------------------------------------


def _literal_out(spec: Field, value: Any) -> Any:
    if spec.kind == "money":
        return str(value)
    if spec.kind == "instant":
        return value.astimezone(UTC).isoformat()
    if spec.kind == "date":
        return value.isoformat()
    return value


def _sorted(values: Any) -> list[Any]:
    return sorted(values)


def to_plain(pred: Predicate) -> dict[str, object]:
    """The plain-data (JSON-safe) form of ``pred``, tagged with ``"type"``.

    >>> to_plain(Compare("amount", ">=", "9.5") & IsIn("weekday", {2}))["all"]
    [{'type': 'compare', 'field': 'amount', 'op': '>=', 'value': '9.5'},
     {'type': 'isin', 'field': 'weekday', 'values': [2]}]
    """
    if not isinstance(pred, Predicate):
        raise InvalidType(
            f"pred={pred!r} must be a predicate, not {type_name(pred)}", field="pred", value=pred
        )
    out: dict[str, Any] = {"type": pred.tag}
    if isinstance(pred, Compare | IsIn | Between):
        spec = lookup(pred.field, pred.kind)
        out["field"] = pred.field
        if isinstance(pred, Compare):
            out["op"] = pred.op
            out["value"] = _literal_out(spec, pred.value)
        elif isinstance(pred, IsIn):
            out["values"] = [_literal_out(spec, v) for v in _sorted(pred.values)]
        else:
            out["low"] = _literal_out(spec, pred.low)
            out["high"] = _literal_out(spec, pred.high)
        if pred.kind is not None:
            out["kind"] = pred.kind
    elif isinstance(pred, And | Or):
        out[pred.tag] = [to_plain(term) for term in pred.terms]
    elif isinstance(pred, Not):
        out["not"] = to_plain(pred.term)
    elif isinstance(pred, Contains | Quantity | Spend):
        if isinstance(pred, Quantity):
            out["at_least"] = pred.at_least
        elif isinstance(pred, Spend):
            out["at_least"] = str(pred.at_least)
        out["skus"] = _sorted(pred.skus)
        out["categories"] = _sorted(pred.categories)
    elif isinstance(pred, Recurs):
        out["rule"] = pred.rule
    elif isinstance(pred, BirthdayWindow):
        out["before"], out["after"] = pred.before, pred.after
    elif isinstance(pred, TierAtLeast):
        out["tier"] = pred.tier
    elif isinstance(pred, InSegment):
        out["segment"] = pred.segment
    elif isinstance(pred, FirstPurchase):
        out["counter"] = pred.counter
    return out


# -- from plain ----------------------------------------------------------------


class _Loader:
    """Walks plain data, collecting ``(path, message)`` for every bad node."""

    def __init__(self) -> None:
        self.problems: list[tuple[Path, str]] = []

    def bad(self, path: Path, message: str) -> Any:
        self.problems.append((path, message))
        return _BAD

    def node(self, data: Any, path: Path) -> Any:
        if not isinstance(data, Mapping):
            return self.bad(path, f"expected a predicate object, got {type_name(data)}")
        if "type" not in data:
            return self.bad((*path, "type"), "required field missing")
        tag = data["type"]
        if not isinstance(tag, str) or tag not in BY_TAG:
            return self.bad(
                (*path, "type"),
                f"type={tag!r} is not a predicate type; known: {', '.join(sorted(BY_TAG))}",
            )
        return _LOADERS[tag](self, data, path)

    def keys(
        self, data: Mapping[str, Any], path: Path, required: set[str], optional: set[str]
    ) -> bool:
        extra = sorted(set(data) - required - optional - {"type"}, key=str)
        if extra:
            self.bad(path, f"unknown keys {extra}")
        absent = sorted(required - set(data))
        for key in absent:
            self.bad((*path, key), "required field missing")
        return not absent

    def typed(self, data: Mapping[str, Any], key: str, path: Path, kind: type, label: str) -> Any:
        value = data[key]
        if type(value) is not kind:
            return self.bad(
                (*path, key), f"{key}={value!r} must be {label}, not {type_name(value)}"
            )
        return value

    def strings(self, data: Mapping[str, Any], key: str, path: Path) -> Any:
        value = data.get(key, [])
        if not isinstance(value, list):
            return self.bad((*path, key), f"{key}={value!r} must be a list of str")
        result = [
            self.typed({key: v}, key, (*path, key, i), str, "a str") for i, v in enumerate(value)
        ]
        return _BAD if _BAD in result else frozenset(result)

    def build(
        self, cls: Callable[..., Predicate], path: Path, data: Mapping[str, Any], **kw: Any
    ) -> Any:
        if any(v is _BAD for v in kw.values()):
            return _BAD
        try:
            return cls(**kw)
        except LoyaltyError as exc:
            key = getattr(exc, "field", None)
            where = (*path, key) if isinstance(key, str) and key in data else path
            return self.bad(where, str(exc))


def _literal_in(loader: _Loader, spec: Field | None, value: Any, path: Path, key: str) -> Any:
    if spec is None:
        return _BAD
    kind = spec.kind
    if kind == "money":
        if isinstance(value, bool) or not isinstance(value, str | int):
            return loader.bad(
                path, f"{key}={value!r} must be a Decimal as str or int, not {type_name(value)}"
            )
        return value
    if kind in ("instant", "date"):
        if not isinstance(value, str):
            return loader.bad(
                path, f"{key}={value!r} must be ISO-8601 text, not {type_name(value)}"
            )
        try:
            if kind == "date":
                return date.fromisoformat(value)
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return loader.bad(path, f"{key}={value!r} is not an ISO-8601 {kind}")
        if parsed.tzinfo is None:
            return loader.bad(path, f"{key}={value!r} has no UTC offset")
        return parsed
    expected: dict[str, tuple[type[Any], ...]] = {
        "int": (int,),
        "float": (int, float),
        "str": (str,),
        "bool": (bool,),
    }
    if isinstance(value, bool) != (kind == "bool") or not isinstance(
        value, expected.get(kind, ())
    ):
        return loader.bad(
            path,
            f"{key}={value!r} must be a {kind} for field {spec.name!r}, not {type_name(value)}",
        )
    return value


def _spec(loader: _Loader, data: Mapping[str, Any], path: Path) -> Field | None:
    name, kind = data.get("field"), data.get("kind")
    if kind is not None and not isinstance(kind, str):
        loader.bad((*path, "kind"), f"kind={kind!r} must be a str")
        return None
    try:
        lookup(name)
    except LoyaltyError as exc:
        if not (isinstance(name, str) and kind is not None):
            loader.bad((*path, "field"), str(exc))
            return None
    try:
        return lookup(name, kind)
    except LoyaltyError as exc:
        loader.bad((*path, "kind"), str(exc))
        return None


def _load_compare(loader: _Loader, data: Mapping[str, Any], path: Path) -> Any:
    if not loader.keys(data, path, {"field", "op", "value"}, {"kind"}):
        return _BAD
    spec = _spec(loader, data, path)
    op = data["op"]
    if op not in OPS:
        op = loader.bad((*path, "op"), f"op={op!r} must be one of {sorted(OPS)}")
    value = _literal_in(loader, spec, data["value"], (*path, "value"), "value")
    if spec is None:
        return _BAD
    return loader.build(
        Compare, path, data, field=spec.name, op=op, value=value, kind=data.get("kind")
    )


def _load_isin(loader: _Loader, data: Mapping[str, Any], path: Path) -> Any:
    if not loader.keys(data, path, {"field", "values"}, {"kind"}):
        return _BAD
    spec = _spec(loader, data, path)
    raw = data["values"]
    if not isinstance(raw, list):
        return loader.bad((*path, "values"), f"values={raw!r} must be a list")
    values = [
        _literal_in(loader, spec, v, (*path, "values", i), "values item")
        for i, v in enumerate(raw)
    ]
    if spec is None or _BAD in values:
        return _BAD
    return loader.build(
        IsIn, path, data, field=spec.name, values=frozenset(values), kind=data.get("kind")
    )


def _load_between(loader: _Loader, data: Mapping[str, Any], path: Path) -> Any:
    if not loader.keys(data, path, {"field", "low", "high"}, {"kind"}):
        return _BAD
    spec = _spec(loader, data, path)
    low = _literal_in(loader, spec, data["low"], (*path, "low"), "low")
    high = _literal_in(loader, spec, data["high"], (*path, "high"), "high")
    if spec is None:
        return _BAD
    return loader.build(
        Between, path, data, field=spec.name, low=low, high=high, kind=data.get("kind")
    )


def _load_terms(loader: _Loader, data: Mapping[str, Any], path: Path) -> Any:
    tag = data["type"]
    if not loader.keys(data, path, {tag}, set()):
        return _BAD
    raw = data[tag]
    if not isinstance(raw, list) or not raw:
        return loader.bad((*path, tag), f"{tag}={raw!r} must be a non-empty list of predicates")
    terms = [loader.node(term, (*path, tag, i)) for i, term in enumerate(raw)]
    if _BAD in terms:
        return _BAD
    return And(terms) if tag == "all" else Or(terms)


def _load_not(loader: _Loader, data: Mapping[str, Any], path: Path) -> Any:
    if not loader.keys(data, path, {"not"}, set()):
        return _BAD
    term = loader.node(data["not"], (*path, "not"))
    return _BAD if term is _BAD else Not(term)


def _load_basket(loader: _Loader, data: Mapping[str, Any], path: Path) -> Any:
    tag = data["type"]
    required = set() if tag == "contains" else {"at_least"}
    if not loader.keys(data, path, required, {"skus", "categories"}):
        return _BAD
    kw: dict[str, Any] = {
        "skus": loader.strings(data, "skus", path),
        "categories": loader.strings(data, "categories", path),
    }
    if tag == "quantity":
        kw["at_least"] = loader.typed(data, "at_least", path, int, "an int")
    elif tag == "spend":
        amount = data["at_least"]
        if isinstance(amount, bool) or not isinstance(amount, str | int):
            amount = loader.bad(
                (*path, "at_least"),
                f"at_least={amount!r} must be a Decimal as str or int, not {type_name(amount)}",
            )
        kw["at_least"] = amount
    return loader.build(BY_TAG[tag], path, data, **kw)


def _simple(key_types: dict[str, tuple[type, str]], required: bool = True) -> Any:
    def load(loader: _Loader, data: Mapping[str, Any], path: Path) -> Any:
        keys = set(key_types)
        if not loader.keys(data, path, keys if required else set(), set() if required else keys):
            return _BAD
        kw = {
            key: loader.typed(data, key, path, kind, label)
            for key, (kind, label) in key_types.items()
            if key in data
        }
        return loader.build(BY_TAG[data["type"]], path, data, **kw)

    return load


_LOADERS: Final[dict[str, Callable[[_Loader, Mapping[str, Any], Path], Any]]] = {
    "compare": _load_compare,
    "isin": _load_isin,
    "between": _load_between,
    "all": _load_terms,
    "any": _load_terms,
    "not": _load_not,
    "always": _simple({}),
    "contains": _load_basket,
    "quantity": _load_basket,
    "spend": _load_basket,
    "recurs": _simple({"rule": (str, "a str")}),
    "birthday": _simple({"before": (int, "an int"), "after": (int, "an int")}, required=False),
    "birthday_month": _simple({}),
    "tier_at_least": _simple({"tier": (str, "a str")}),
    "in_segment": _simple({"segment": (str, "a str")}),
    "first_purchase": _simple({"counter": (str, "a str")}, required=False),
}


def _chain(path: Path, message: str) -> BaseException:
    """A cattrs validation error tree for one problem, so outer paths compose."""
    exc: BaseException = InvalidRule(message)
    for segment in reversed(path):
        if isinstance(segment, int):
            exc.add_note(
                IterableValidationNote(f"Structuring item @ index {segment}", segment, Any)
            )
            exc = IterableValidationError("invalid predicate list", [exc], list)  # type: ignore[list-item]
        else:
            exc.add_note(AttributeValidationNote(f"Structuring {segment}", segment, Any))
            exc = ClassValidationError("invalid predicate", [exc], Predicate)  # type: ignore[list-item]
    return exc


def _structure(data: Any, cls: Any) -> Predicate:
    loader = _Loader()
    result = loader.node(data, ())
    if loader.problems:
        chains = [_chain(path, message) for path, message in loader.problems]
        if len(chains) == 1:
            raise chains[0]
        flat: list[Exception] = []
        for chain in chains:
            if isinstance(chain, ClassValidationError):
                flat.extend(chain.exceptions)
            else:
                flat.append(chain)  # type: ignore[arg-type]
        raise ClassValidationError("invalid predicate", flat, Predicate)
    assert isinstance(result, Predicate)
    if isinstance(cls, type) and not isinstance(result, cls):
        raise InvalidRule(f"expected a {cls.__name__}, got type={result.tag!r}")
    return result


def from_plain(data: object) -> Predicate:
    """Load a predicate from its plain-data form (:func:`to_plain`).

    Raises:
        InvalidData: listing every bad node with its path, e.g.
            ``value=9.9 must be a Decimal as str or int, not float @ $.all[1].value``.

    >>> from_plain({"type": "compare", "field": "amount", "op": ">=", "value": "100"})
    Compare(field='amount', op='>=', value=Decimal('100'), kind=None)
    >>> from_plain({"type": "all", "all": [{"type": "always"}, {"type": "compare",
    ...     "field": "amount", "op": ">=", "value": 9.9}]})
    Traceback (most recent call last):
    ...
    loyaltycore.errors.InvalidData: invalid predicate:
      value=9.9 must be a Decimal as str or int, not float @ $.all[1].value
    """
    return serialize.structure(data, Predicate, what="predicate")


def walk(pred: Predicate) -> Iterator[Predicate]:
    """Every node of ``pred``, depth first (to validate rules against a program).

    >>> [type(n).__name__ for n in walk(~Compare("tier", "==", "gold") | Always())]
    ['Or', 'Not', 'Compare', 'Always']
    """
    yield pred
    if isinstance(pred, And | Or):
        for term in pred.terms:
            yield from walk(term)
    elif isinstance(pred, Not):
        yield from walk(pred.term)


def _is_predicate(cls: Any) -> bool:
    return isinstance(cls, type) and issubclass(cls, Predicate)


# -- vocabulary ------------------------------------------------------------------


def _is_frozen_map(cls: Any) -> bool:
    return cls is FrozenMap or get_origin(cls) is FrozenMap


def _attribute_out(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"decimal": str(value)}
    return value


def _unstructure_map(value: FrozenMap[Any]) -> dict[str, Any]:
    return {key: _attribute_out(item) for key, item in value.items()}


def _attribute_in(key: str, value: Any) -> Any:
    if isinstance(value, Mapping):
        if set(value) != {"decimal"} or not isinstance(value["decimal"], str):
            raise InvalidType(
                f"attributes[{key!r}]={value!r} must be a JSON scalar or {{'decimal': str}}"
            )
        return to_decimal(value["decimal"], f"attributes[{key!r}]", allow_negative=True)
    return value


def _structure_map(value: Any, cls: Any) -> FrozenMap[Any]:
    if not isinstance(value, Mapping):
        raise InvalidType(f"{value!r} must be an object, not {type_name(value)}")
    return FrozenMap({key: _attribute_in(key, item) for key, item in value.items()})


def register() -> None:
    """Register the converter hooks and the documents of this module.

    Documents: ``predicates.Predicate`` (any node), ``predicates.Event``,
    ``predicates.Member`` and ``predicates.Item``. Attribute values that are
    Decimals are written ``{"decimal": "1.50"}`` so they load back exactly.
    """
    conv = serialize.converter
    conv.register_unstructure_hook_func(_is_predicate, to_plain)
    conv.register_structure_hook_func(_is_predicate, _structure)
    conv.register_unstructure_hook_func(_is_frozen_map, _unstructure_map)
    conv.register_structure_hook_func(_is_frozen_map, _structure_map)
    for cls in NODE_TYPES:
        serialize.register_document(cls, "predicates.Predicate", 1)
    serialize.register_document(Predicate, "predicates.Predicate", 1)
    for vocabulary in (Event, Item, Member):
        serialize.register_document(vocabulary, f"predicates.{vocabulary.__name__}", 1)
