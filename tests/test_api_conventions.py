"""The API conventions (docs/api-conventions.md), checked over every public name.

Every public function, and every public method, property and initialiser of
every public class, of every public module: zones are keyword-only, ``as_of``
is keyword-only and required (except where ``None`` has a documented
meaning), the slow functions the page lists take ``progress=None`` by
keyword, and no annotation says ``Any`` (``NDArray[Any]`` aside).
"""

from __future__ import annotations

import importlib
import inspect
import pathlib
import pkgutil
import re
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pytest

import loyaltycore
from loyaltycore import _deprecate, calendar, metrics, rules
from loyaltycore._public import is_function
from loyaltycore.predicates import Always, Event, Member
from loyaltycore.transactions import TransactionLog, summarize

DOCS = pathlib.Path(__file__).parent.parent / "docs" / "api-conventions.md"

PUBLIC_MODULES = sorted(
    f"loyaltycore.{info.name}"
    for info in pkgutil.iter_modules(loyaltycore.__path__)
    if not info.name.startswith("_")
)


def _methods(cls: type) -> Iterator[tuple[str, Callable[..., object]]]:
    """Public methods (inherited ones too), property getters and ``__init__``.

    Each is named after the class that defines it (``Predicate.test``, not
    ``Always.test``).
    """
    for name in dir(cls):
        if name.startswith("_") and name != "__init__":
            continue
        owner = next(k for k in cls.__mro__ if name in vars(k))
        raw = vars(owner)[name]
        if isinstance(raw, staticmethod | classmethod):
            raw = raw.__func__
        if isinstance(raw, property):
            raw = raw.fget
        if is_function(raw):
            yield f"{owner.__module__}.{owner.__qualname__}.{name}", raw


def _public_callables() -> list[tuple[str, Callable[..., object]]]:
    found: list[tuple[str, Callable[..., object]]] = []
    seen: set[int] = set()
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if is_function(obj):
                pairs = [(f"{module_name}.{name}", obj)]
            elif inspect.isclass(obj):
                pairs = list(_methods(obj))
            else:
                continue
            for qualname, fn in pairs:
                if id(fn) not in seen:
                    seen.add(id(fn))
                    found.append((qualname, fn))
    return found


CALLABLES = _public_callables()


def _parameters(name: str) -> Iterator[tuple[str, Callable[..., object], inspect.Parameter]]:
    for qualname, fn in CALLABLES:
        try:
            parameters = inspect.signature(fn).parameters
        except ValueError:  # a builtin slot without a signature
            continue
        if name in parameters:
            yield qualname, fn, parameters[name]


#: Where ``as_of`` may be omitted, and what ``None`` means there (none of them
#: reads the clock). The docs page has the same table.
OPTIONAL_AS_OF = {
    "loyaltycore.points.PointsLedger.balance": "as of the ledger's last command",
    "loyaltycore.points.PointsLedger.expiring": "as of the ledger's last command",
    "loyaltycore.rules.RuleSet.evaluate": "the event's own at",
    "loyaltycore.rules.RuleSet.evaluate_batch": "each event's own at",
    "loyaltycore.rules.RuleSet.simulate": "each event's own at",
    "loyaltycore.predicates.Predicate.test": "the event's own at; else time conditions are False",
    "loyaltycore.predicates.Predicate.mask": "the at column; else time conditions are False",
    "loyaltycore.predicates.Context.__init__": "the event's own at; else False",
    "loyaltycore.predicates.Frame.__init__": "a missing as_of column: False",
    "loyaltycore.segments.Segment.contains": "conditions that read the time are False",
    "loyaltycore.segments.Segment.mask": "conditions that read the time are False",
    "loyaltycore.segments.SegmentSet.of": "conditions that read the time are False",
    "loyaltycore.segments.SegmentSet.evaluate": "conditions that read the time are False",
    "loyaltycore.segments.SegmentSet.assign": "conditions that read the time are False",
    "loyaltycore.campaigns.windows": "every window is complete",
    "loyaltycore.report.build_report": "the local midnight after the last transaction",
    "loyaltycore.report.build_campaign_report": "the local midnight after the last order",
}


def _offenders(
    rule: Callable[[inspect.Parameter, Callable[..., object]], bool], name: str
) -> set[str]:
    return {q for q, fn, p in _parameters(name) if not rule(p, fn)}


def test_the_walk_reaches_every_area() -> None:
    areas = {q.split(".")[1] for q, _ in CALLABLES}
    assert {"calendar", "points", "rules", "tiers", "clv", "metrics", "accounts"} <= areas
    assert len(CALLABLES) > 500


def test_tz_is_keyword_only() -> None:
    offenders = _offenders(lambda p, _: p.kind is p.KEYWORD_ONLY, "tz")
    assert offenders == set()


def test_as_of_is_keyword_only() -> None:
    offenders = _offenders(lambda p, _: p.kind is p.KEYWORD_ONLY, "as_of")
    assert offenders == set()


def _required(parameter: inspect.Parameter, fn: Callable[..., object]) -> bool:
    if parameter.default is parameter.empty:
        return True
    return "as_of" in _deprecate.BECOMING_REQUIRED.get(fn, ())


def test_as_of_is_required_unless_none_has_a_documented_meaning() -> None:
    offenders = _offenders(_required, "as_of")
    assert offenders == set(OPTIONAL_AS_OF)


def test_every_optional_as_of_is_documented_on_the_page_and_in_its_docstring() -> None:
    page = DOCS.read_text(encoding="utf-8")
    functions = dict(CALLABLES)
    for qualname in OPTIONAL_AS_OF:
        short = qualname.split(".")[-2 if qualname.endswith("__init__") else -1]
        assert f"`{short}`" in page or f".{short}`" in page, qualname
        fn = functions[qualname]
        owner = inspect.getdoc(fn) or ""
        if qualname.endswith("__init__"):
            owner = inspect.getdoc(importlib.import_module(fn.__module__)) or ""
            owner += inspect.getdoc(getattr(importlib.import_module(fn.__module__), short)) or ""
        assert "as_of" in owner, qualname


def _slow_names() -> list[str]:
    page = DOCS.read_text(encoding="utf-8")
    section = page.split("The slow functions", 1)[1].split("## ", 1)[0]
    return re.findall(r"^- `(loyaltycore\.[\w.]+)`$", section, flags=re.MULTILINE)


def _resolve(dotted: str) -> Callable[..., object]:
    parts = dotted.split(".")
    for cut in range(len(parts), 1, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj  # type: ignore[no-any-return]
    raise LookupError(dotted)


def test_the_page_lists_the_slow_functions() -> None:
    names = _slow_names()
    assert "loyaltycore.transactions.summarize" in names
    assert "loyaltycore.rules.RuleSet.evaluate_batch" in names
    assert len(names) >= 10


@pytest.mark.parametrize("dotted", _slow_names())
def test_each_slow_function_takes_progress_by_keyword(dotted: str) -> None:
    parameter = inspect.signature(_resolve(dotted)).parameters["progress"]
    assert parameter.kind is parameter.KEYWORD_ONLY
    assert parameter.default is None


_ANY = re.compile(r"(?<![\w.])(?:typing\.)?Any\b")
_ARRAY_OF_ANY = re.compile(
    r"NDArray\[(?:typing\.)?Any\]"
    r"|numpy\.ndarray\[(?:typing\.Any|tuple\[typing\.Any, \.\.\.\]), numpy\.dtype\[typing\.Any\]\]"
)


def _says_any(annotation: object) -> bool:
    if annotation is inspect.Parameter.empty:
        return False
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return bool(_ANY.search(_ARRAY_OF_ANY.sub("", text)))


def test_says_any_reads_strings_and_objects() -> None:
    assert _says_any("dict[str, Any]")
    assert _says_any(dict[str, Any])
    assert not _says_any("npt.NDArray[Any]")
    assert not _says_any(np.typing.NDArray[Any])
    assert not _says_any("AnyOf | Company")


def test_no_public_annotation_says_any() -> None:
    offenders = []
    for qualname, fn in CALLABLES:
        try:
            signature = inspect.signature(fn)
        except ValueError:
            continue
        for parameter in signature.parameters.values():
            if _says_any(parameter.annotation):
                offenders.append(qualname)
        if _says_any(signature.return_annotation):
            offenders.append(qualname)
    assert offenders == []


# -- the deprecation shims ------------------------------------------------------

NOON = datetime(2024, 12, 31, 17, tzinfo=UTC)
MICROS = np.array([calendar.to_micros(NOON)], dtype=np.int64)
CALENDAR_CALLS: list[tuple[Callable[..., Any], tuple[object, ...]]] = [
    (calendar.local_date, (NOON,)),
    (calendar.start_of_day, (date(2025, 3, 30),)),
    (calendar.local_days, (MICROS,)),
    (calendar.local_wall_micros, (MICROS,)),
    (calendar.wall_to_micros, (np.array(["2024-07-01T00:00"], dtype="datetime64[m]"),)),
]


@pytest.mark.parametrize(("fn", "args"), CALENDAR_CALLS, ids=lambda v: getattr(v, "__name__", ""))
@pytest.mark.parametrize("tz", ["Asia/Shanghai", calendar.zone("Europe/Berlin")])
def test_positional_tz_warns_and_gives_the_same_answer(
    fn: Callable[..., Any], args: tuple[object, ...], tz: object
) -> None:
    expected = fn(*args, tz=tz)
    with pytest.warns(DeprecationWarning, match=rf"{fn.__name__}\(\.\.\., tz\) is deprecated"):
        old = fn(*args, tz)
    assert np.array_equal(old, expected)
    assert type(old) is type(expected)


def test_positional_tz_and_name_both_move_to_keywords() -> None:
    column = np.array(["2024-07-01T00:00", "NaT"], dtype="datetime64[m]")
    with (
        pytest.warns(
            DeprecationWarning, match=r"tz, name\) is deprecated.*tz=\.\.\., name=\.\.\."
        ),
        pytest.raises(ValueError, match=r"stamp\[1\] is NaT"),
    ):
        calendar.wall_to_micros(column, "UTC", "stamp")


def test_the_shim_refuses_what_the_old_signature_refused() -> None:
    with pytest.raises(TypeError, match="positional"):
        calendar.local_date(NOON, "UTC", "extra")  # type: ignore[call-overload]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(TypeError, match="multiple values"):
            calendar.local_date(NOON, "UTC", tz="UTC")  # type: ignore[call-overload]


CUSTOMERS = ["a", "b", "a", "c", "b"]
STAMPS = np.array(
    ["2024-01-03", "2024-01-20", "2024-02-11", "2024-02-15", "2024-03-02"], dtype="datetime64[D]"
)


@pytest.mark.parametrize("fn", [metrics.retention_rate, metrics.cohort_retention])
def test_kpis_without_as_of_warn_and_count_every_transaction(fn: Callable[..., Any]) -> None:
    with pytest.warns(DeprecationWarning, match=rf"{fn.__name__}\(\.\.\.\) without as_of="):
        old = fn(CUSTOMERS, STAMPS, tz="UTC")
    assert old == fn(CUSTOMERS, STAMPS, tz="UTC", as_of=date(2024, 4, 1))
    assert old != fn(CUSTOMERS, STAMPS, tz="UTC", as_of=date(2024, 2, 12))


def test_every_argument_becoming_required_is_keyword_only_and_listed_on_the_page() -> None:
    page = DOCS.read_text(encoding="utf-8")
    assert _deprecate.BECOMING_REQUIRED
    for fn, names in _deprecate.BECOMING_REQUIRED.items():
        assert callable(fn)
        parameters = inspect.signature(fn).parameters
        for name in names:
            assert parameters[name].kind is inspect.Parameter.KEYWORD_ONLY
        assert f"{fn.__name__}" in page, fn


# -- progress --------------------------------------------------------------------


class Stop(Exception):
    pass


def _log() -> TransactionLog:
    return TransactionLog.from_arrays(CUSTOMERS, STAMPS, [10, 20, 30, 40, 50], tz="UTC")


def _events() -> tuple[list[Event], list[Member]]:
    at = datetime(2024, 1, 1, tzinfo=UTC)
    events = [Event(f"o-{i}", "purchase", at, "10") for i in range(4)]
    return events, [Member(f"m-{i % 2}") for i in range(4)]


RULES = rules.RuleSet(
    [
        rules.Rule("base", Always(), rules.PointsPerSpend("1"), base=True),
        rules.Rule("bonus", Always(), rules.FixedPoints(5)),
    ]
)
BUDGETED = rules.RuleSet(
    [rules.Rule("bonus", Always(), rules.FixedPoints(40))],
    budgets=[rules.Budget("b", 100, {"bonus"})],
)

SLOW_CALLS: dict[str, Callable[..., object]] = {
    "summarize": lambda progress: summarize(
        _log(), as_of=date(2024, 4, 1), unit="day", progress=progress
    ),
    "summarize, nothing bought": lambda progress: summarize(
        _log(), as_of=date(2023, 1, 1), progress=progress
    ),
    "evaluate_batch": lambda progress: RULES.evaluate_batch(*_events(), progress=progress),
    "evaluate_batch, budgets": lambda progress: BUDGETED.evaluate_batch(
        *_events(), progress=progress
    ),
    "simulate": lambda progress: RULES.simulate(_log(), cost_per_point="0.01", progress=progress),
}


@pytest.mark.parametrize("case", list(SLOW_CALLS))
def test_progress_advances_to_its_total_and_changes_nothing(case: str) -> None:
    calls: list[tuple[int, int | None, str]] = []
    result = SLOW_CALLS[case](lambda *call: calls.append(call))
    assert calls, case
    done = [d for d, _, _ in calls]
    assert done == sorted(done)
    last_done, total, stage = calls[-1]
    assert total is not None
    assert last_done == total
    assert stage in {"summarize", "rules"}
    assert {t for _, t, _ in calls} == {total}
    assert result == SLOW_CALLS[case](None)


@pytest.mark.parametrize("case", list(SLOW_CALLS))
def test_raising_from_progress_cancels_with_that_exception(case: str) -> None:
    stop = Stop()

    def cancel(done: int, total: int | None, stage: str) -> None:
        raise stop

    with pytest.raises(Stop) as info:
        SLOW_CALLS[case](cancel)
    assert info.value is stop


@pytest.mark.parametrize("case", list(SLOW_CALLS))
def test_progress_that_is_not_callable_is_refused(case: str) -> None:
    with pytest.raises(TypeError, match="progress=5 must be a callable"):
        SLOW_CALLS[case](5)
