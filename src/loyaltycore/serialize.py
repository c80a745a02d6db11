"""Plain data in and out: one strict converter and versioned documents.

Every domain object converts to JSON-safe plain data and back through one
:mod:`cattrs` converter that is strict on purpose:

* unknown keys are refused;
* an ``int`` field takes only an int (not ``5.7``, ``True`` or ``"5"``);
* ``Decimal`` only from a str or an int, written back as a str;
* datetimes only as ISO-8601 text with an offset, written in UTC;
* unions carry an explicit ``"type"`` tag; sets are written sorted.

A document is ``{"schema": name, "version": n, "data": ...}``. Loading bad
data raises one :class:`~loyaltycore.errors.InvalidData` listing every bad
path (``$.data.rules[3].award.points``).

>>> from decimal import Decimal
>>> import attrs
>>> @attrs.frozen
... class Price:
...     sku: str
...     amount: Decimal
>>> register_document(Price, "doctest.Price", 1)
>>> to_data(Price("A1", Decimal("9.90")))
{'schema': 'doctest.Price', 'version': 1, 'data': {'sku': 'A1', 'amount': '9.90'}}
>>> from_data({"schema": "doctest.Price", "version": 1, "data": {"sku": "A1", "amount": 9.9}})
Traceback (most recent call last):
...
loyaltycore.errors.InvalidData: invalid doctest.Price:
  amount=9.9 must be a Decimal as str or int, not float @ $.data.amount
"""

from __future__ import annotations

import contextlib
import importlib
import json
import math
from collections.abc import Callable, Mapping
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import Any, Final, TypeAlias, TypeVar, cast
from zoneinfo import ZoneInfo

import attrs
import cattrs
from cattrs.cols import is_any_set
from cattrs.errors import (
    AttributeValidationNote,
    BaseValidationError,
    ClassValidationError,
    ForbiddenExtraKeysError,
)
from cattrs.v import transform_error

from loyaltycore._validate import type_name
from loyaltycore.calendar import UTC, zone
from loyaltycore.errors import InvalidData, InvalidType, LoyaltyError, SchemaVersionError

__all__ = [
    "Document",
    "MAX_DEPTH",
    "converter",
    "dumps",
    "from_data",
    "loads",
    "register_document",
    "require_every_key",
    "structure",
    "to_data",
    "unstructure",
]

T = TypeVar("T")
#: An upgrader: the plain data of one schema version in, of the next out.
Upgrader: TypeAlias = Callable[[dict[str, object]], object]


class _StrictError(InvalidType):
    """A scalar of the wrong type inside plain data."""


def _strict(kind: type[Any], label: str) -> Callable[[Any, Any], Any]:
    def hook(value: Any, _: Any) -> Any:
        if type(value) is not kind:
            raise _StrictError(f"{value!r} must be {label}, not {type_name(value)}")
        return value

    return hook


def _structure_float(value: Any, _: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _StrictError(f"{value!r} must be a number, not {type_name(value)}")
    result = float(value)
    if not math.isfinite(result):
        raise _StrictError(f"{value!r} must be a finite number")
    return result


def _structure_decimal(value: Any, _: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _StrictError(
            f"amount={value!r} must be a Decimal as str or int, not {type_name(value)}"
        )
    try:
        result = Decimal(value)
    except ArithmeticError:
        raise _StrictError(f"{value!r} is not a decimal number") from None
    if not result.is_finite():
        raise _StrictError(f"{value!r} must be finite")
    return result


def _structure_datetime(value: Any, _: Any) -> datetime:
    if not isinstance(value, str):
        raise _StrictError(f"{value!r} must be ISO-8601 text, not {type_name(value)}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _StrictError(f"{value!r} is not an ISO-8601 datetime") from None
    if parsed.tzinfo is None:
        raise _StrictError(f"{value!r} has no UTC offset")
    return parsed.astimezone(UTC)


def _structure_date(value: Any, _: Any) -> date:
    if not isinstance(value, str):
        raise _StrictError(f"{value!r} must be an ISO-8601 date, not {type_name(value)}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _StrictError(f"{value!r} is not an ISO-8601 date") from None


def _structure_zone(value: Any, _: Any) -> tzinfo:
    if not isinstance(value, str):
        raise _StrictError(f"{value!r} must be an IANA zone name, not {type_name(value)}")
    try:
        return zone(value)
    except LoyaltyError as exc:
        raise _StrictError(str(exc)) from None


def _unstructure_zone(value: tzinfo) -> str:
    if value is UTC:
        return "UTC"
    key = getattr(value, "key", None)
    if not isinstance(key, str):
        raise InvalidType(f"tz={value!r} is not an IANA zone", field="tz", value=value)
    return key


def _unstructure_datetime(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _sorted_set(value: Any) -> list[Any]:
    items = [converter.unstructure(v) for v in value]
    return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))


def _objects_only(cls: type[Any], inner: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """Wrap the structure hook of an attrs class so that only a mapping reaches it."""
    name = cls.__name__

    def hook(value: Any, type_: Any) -> Any:
        if not isinstance(value, Mapping):
            raise _StrictError(f"expected an object for {name}, got {type_name(value)}")
        return inner(value, type_)

    return hook


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    conv.register_structure_hook_factory(
        lambda t: isinstance(t, type) and attrs.has(t),
        lambda cls: _objects_only(cls, conv.gen_structure_attrs_fromdict(cls)),
    )
    conv.register_structure_hook(int, _strict(int, "an int"))
    conv.register_structure_hook(str, _strict(str, "a str"))
    conv.register_structure_hook(bool, _strict(bool, "a bool"))
    conv.register_structure_hook(float, _structure_float)
    conv.register_structure_hook(Decimal, _structure_decimal)
    conv.register_unstructure_hook(Decimal, str)
    conv.register_structure_hook(datetime, _structure_datetime)
    conv.register_unstructure_hook(datetime, _unstructure_datetime)
    conv.register_structure_hook(date, _structure_date)
    conv.register_unstructure_hook(date, date.isoformat)
    for tz_type in (tzinfo, ZoneInfo):
        conv.register_structure_hook(tz_type, _structure_zone)
        conv.register_unstructure_hook(tz_type, _unstructure_zone)
    conv.register_unstructure_hook_func(is_any_set, _sorted_set)
    return conv


#: The one converter. Modules register hooks for their own types on it.
converter: Final = _make_converter()


@attrs.frozen
class Document:
    """A registered document type: its schema name, current version and upgraders.

    >>> @attrs.frozen
    ... class Note:
    ...     text: str
    >>> Document(Note, "doctest.Note", 1).version
    1
    """

    cls: type[object]
    name: str
    version: int
    upgraders: Mapping[int, Upgrader] = attrs.field(factory=dict)


_BY_NAME: dict[str, Document] = {}
_BY_CLASS: dict[type[Any], Document] = {}


def register_document(
    cls: type[object],
    name: str,
    version: int,
    *,
    upgraders: Mapping[int, Upgrader] | None = None,
) -> None:
    """Make ``cls`` loadable as the document ``name`` at schema ``version``.

    ``upgraders[v]`` turns the ``data`` of version ``v`` into version ``v + 1``;
    older documents are upgraded step by step when loaded.

    >>> @attrs.frozen
    ... class Perk:
    ...     name: str
    >>> register_document(Perk, "doctest.Perk", 2, upgraders={1: lambda d: {"name": d["title"]}})
    >>> from_data({"schema": "doctest.Perk", "version": 1, "data": {"title": "lounge"}})
    Perk(name='lounge')
    """
    doc = Document(cls, name, version, dict(upgraders or {}))
    _BY_NAME[name] = doc
    _BY_CLASS[cls] = doc


def require_every_key(*classes: type[attrs.AttrsInstance]) -> None:
    """Make loading each attrs class require every key, even those with defaults.

    Hand-written configuration may leave out keys that have defaults; a state
    document (a tier status, a history) is always written whole, so a
    missing key there means a truncated or tampered document, not a default.

    >>> @attrs.frozen
    ... class Visit:
    ...     store: str
    ...     points: int = 0
    >>> require_every_key(Visit)
    >>> structure({"store": "S1"}, Visit)
    Traceback (most recent call last):
    ...
    loyaltycore.errors.InvalidData: invalid Visit:
      required field missing @ $.points
    """
    for cls in classes:
        keys = tuple(field.name for field in attrs.fields(cls) if field.init)
        converter.register_structure_hook(
            cls,
            _all_keys(cls, keys, _objects_only(cls, converter.gen_structure_attrs_fromdict(cls))),
        )


def _all_keys(
    cls: type[Any], keys: tuple[str, ...], inner: Callable[[Any, Any], Any]
) -> Callable[[Any, Any], Any]:
    def hook(value: Any, type_: Any) -> Any:
        if isinstance(value, Mapping):
            missing: list[Exception] = []
            for key in keys:
                if key not in value:
                    exc = KeyError(key)
                    note = AttributeValidationNote(
                        f"Structuring class {cls.__qualname__} @ attribute {key}", key, Any
                    )
                    exc.add_note(note)
                    missing.append(exc)
            if missing:
                raise ClassValidationError(f"While structuring {cls.__name__}", missing, cls)
        return inner(value, type_)

    return hook


def _format(exc: BaseException, type_: Any) -> str:
    if isinstance(exc, LoyaltyError):
        return str(exc)
    if isinstance(exc, ForbiddenExtraKeysError):
        return f"unknown keys {sorted(exc.extra_fields)}"
    if isinstance(exc, KeyError):
        return "required field missing"
    name = getattr(type_, "__name__", repr(type_))
    return f"invalid value for {name}: {exc}"


#: Plain data may nest objects and lists at most this deep (a predicate of a
#: thousand nested "not" would otherwise exhaust the interpreter's stack).
MAX_DEPTH: Final = 100


def _step(path: str, key: object) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if isinstance(key, str) and key.isidentifier():
        return f"{path}.{key}"
    return f"{path}[{key!r}]"


def _children(value: Any) -> Any:
    return value.items() if isinstance(value, Mapping) else enumerate(value)


def _check_depth(data: Any, path: str, what: str, *, start: int = 1) -> None:
    """Refuse plain data whose objects and lists nest deeper than :data:`MAX_DEPTH`.

    ``data`` itself is at depth ``start`` (a document's envelope at 0, so
    its ``data`` is at 1). The walk keeps one iterator per open level and
    builds the path only for the error.
    """
    if not isinstance(data, Mapping | list | tuple):
        return
    stack = [iter(_children(data))]
    keys: list[object] = []
    while stack:
        for key, value in stack[-1]:
            if isinstance(value, Mapping | list | tuple):
                if len(stack) + start > MAX_DEPTH:
                    where = path
                    for step in (*keys, key):
                        where = _step(where, step)
                    problem = f"objects and lists nested deeper than {MAX_DEPTH} @ {where}"
                    raise InvalidData.from_messages([problem], what=what)
                keys.append(key)
                stack.append(iter(_children(value)))
                break
        else:
            stack.pop()
            if keys:
                keys.pop()


def structure(data: object, cls: type[T], *, what: str | None = None, path: str = "$") -> T:
    """Structure plain ``data`` as ``cls`` with the strict converter.

    Every problem is collected into one :class:`InvalidData`. Objects and
    lists may nest at most :data:`MAX_DEPTH` deep.

    >>> structure({"a": 1}, dict[str, int])
    {'a': 1}
    >>> structure({"a": "1"}, dict[str, int])
    Traceback (most recent call last):
    ...
    loyaltycore.errors.InvalidData: invalid dict[str, int]:
      '1' must be an int, not str @ $['a']
    """
    label = what or (cls.__name__ if isinstance(cls, type) else str(cls))
    _check_depth(data, path, label)
    return _structure(data, cls, label, path)


def _structure(data: Any, cls: type[T], label: str, path: str) -> T:
    try:
        return converter.structure(data, cls)
    except (BaseValidationError, LoyaltyError, ValueError, TypeError, KeyError) as exc:
        if isinstance(exc, BaseValidationError):
            messages = transform_error(exc, path=path, format_exception=_format)
        else:
            messages = [f"{_format(exc, cls)} @ {path}"]
        raise InvalidData.from_messages(messages, what=label) from None


def unstructure(value: object) -> object:
    """Plain data (dicts, lists, str, int, float, bool, None) for ``value``.

    >>> unstructure({"when": datetime(2024, 1, 1, tzinfo=UTC), "cost": Decimal("1.50")})
    {'when': '2024-01-01T00:00:00+00:00', 'cost': '1.50'}
    """
    return converter.unstructure(value)


def _document_for_name(name: str) -> Document:
    if name not in _BY_NAME:
        module = name.split(".")[0]
        with contextlib.suppress(ImportError):
            importlib.import_module(f"loyaltycore.{module}")
    if name not in _BY_NAME:
        raise SchemaVersionError(
            f"schema={name!r} is not a loyaltycore document",
            field="schema",
            value=name,
            errors=(f"unknown schema {name!r} @ $.schema",),
        )
    return _BY_NAME[name]


def to_data(obj: object) -> dict[str, object]:
    """The versioned plain-data document for a registered object.

    >>> @attrs.frozen
    ... class Voucher:
    ...     code: str
    ...     value: Decimal
    >>> register_document(Voucher, "doctest.Voucher", 1)
    >>> to_data(Voucher("WELCOME", Decimal("5.00")))
    {'schema': 'doctest.Voucher', 'version': 1, 'data': {'code': 'WELCOME', 'value': '5.00'}}
    """
    doc = _BY_CLASS.get(type(obj))
    if doc is None:
        raise InvalidType(
            f"{type_name(obj)} is not a registered document type", field="obj", value=type(obj)
        )
    return {"schema": doc.name, "version": doc.version, "data": converter.unstructure(obj)}


def from_data(data: object, cls: type[T] | None = None) -> T:
    """Load a document made by :func:`to_data`, upgrading older versions.

    With ``cls``, the document must be of that type.

    >>> @attrs.frozen
    ... class Coupon:
    ...     code: str
    >>> register_document(Coupon, "doctest.Coupon", 1)
    >>> from_data({"schema": "doctest.Coupon", "version": 1, "data": {"code": "X1"}}, Coupon)
    Coupon(code='X1')
    >>> from_data({"schema": "doctest.Coupon", "version": 7, "data": {"code": "X1"}})
    Traceback (most recent call last):
    ...
    loyaltycore.errors.SchemaVersionError: version=7 of doctest.Coupon is not readable (...)
    """
    if not isinstance(data, Mapping):
        raise InvalidData.from_messages([f"expected a document object, got {type_name(data)} @ $"])
    schema = data.get("schema")
    _check_depth(data, "$", schema if isinstance(schema, str) else "document", start=0)
    extra = set(data) - {"schema", "version", "data"}
    missing = {"schema", "version", "data"} - set(data)
    if extra or missing:
        problems = [f"unknown keys {sorted(extra)} @ $"] if extra else []
        problems += [f"required field missing @ $.{key}" for key in sorted(missing)]
        raise InvalidData.from_messages(problems, what="document")
    name, version = data["schema"], data["version"]
    if not isinstance(name, str):
        raise InvalidData.from_messages([f"{name!r} must be a str @ $.schema"], what="document")
    doc = _document_for_name(name)
    if cls is not None and doc.cls is not cls:
        raise SchemaVersionError(
            f"schema={name!r} is not a {cls.__name__} document",
            field="schema",
            value=name,
            errors=(f"expected {cls.__name__} @ $.schema",),
        )
    if type(version) is not int or not 1 <= version <= doc.version:
        raise SchemaVersionError(
            f"version={version!r} of {name} is not readable (this release reads 1..{doc.version})",
            field="version",
            value=version,
            errors=(f"unsupported version {version!r} @ $.version",),
        )
    payload = data["data"]
    for step in range(version, doc.version):
        if step not in doc.upgraders:
            raise SchemaVersionError(
                f"no upgrade from version {step} of {name}",
                field="version",
                value=version,
                errors=(f"no upgrade from version {step} @ $.version",),
            )
        payload = doc.upgraders[step](payload)
    return cast("T", _structure(payload, doc.cls, name, "$.data"))


def dumps(obj: object) -> str:
    """Canonical JSON text of :func:`to_data`: sorted keys, no spaces.

    The same object gives the same bytes on every run and host.

    >>> @attrs.frozen
    ... class Tag:
    ...     name: str
    ...     weight: int
    >>> register_document(Tag, "doctest.Tag", 1)
    >>> dumps(Tag("vip", 2))
    '{"data":{"name":"vip","weight":2},"schema":"doctest.Tag","version":1}'
    """
    return json.dumps(to_data(obj), sort_keys=True, separators=(",", ":"), allow_nan=False)


def _refuse_constant(name: str) -> Any:
    raise InvalidData.from_messages([f"{name} is not JSON @ $"], what="document")


def loads(text: str | bytes, cls: type[T] | None = None) -> T:
    """Load JSON text made by :func:`dumps`.

    The text must be strict JSON: ``NaN`` and ``Infinity`` are refused, as
    are integers of more than 4300 digits and nesting past
    :data:`MAX_DEPTH`. Every problem raises :class:`InvalidData`.

    >>> @attrs.frozen
    ... class Badge:
    ...     name: str
    >>> register_document(Badge, "doctest.Badge", 1)
    >>> loads('{"data":{"name":"gold"},"schema":"doctest.Badge","version":1}')
    Badge(name='gold')
    """
    if not isinstance(text, str | bytes | bytearray):
        raise InvalidType(
            f"text={text!r} must be JSON str or bytes, not {type_name(text)}",
            field="text",
            value=text,
        )
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except InvalidData:
        raise
    except RecursionError:
        problem = f"objects and lists nested deeper than {MAX_DEPTH} @ $"
        raise InvalidData.from_messages([problem], what="document") from None
    except ValueError as exc:  # JSONDecodeError, bad UTF-8, an int of too many digits
        raise InvalidData.from_messages([f"not JSON: {exc} @ $"], what="document") from None
    return from_data(data, cls)
