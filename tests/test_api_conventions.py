"""The API conventions of docs/api-conventions.md, checked over every public name."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import warnings
from collections.abc import Callable, Iterator
from datetime import date

import pytest

import loyaltycore

PUBLIC_MODULES = sorted(
    f"loyaltycore.{info.name}"
    for info in pkgutil.iter_modules(loyaltycore.__path__)
    if not info.name.startswith("_")
)

#: Functions documented as possibly slow: each takes ``progress=``.
SLOW = [
    "loyaltycore.clv.BetaGeo.fit",
    "loyaltycore.clv.ModifiedBetaGeo.fit",
    "loyaltycore.clv.ParetoNBD.fit",
    "loyaltycore.clv.GammaGamma.fit",
    "loyaltycore.clv.BetaGeoBetaBinom.fit",
    "loyaltycore.clv.ShiftedBetaGeometric.fit",
    "loyaltycore.transactions.summarize",
    "loyaltycore.rules.RuleSet.evaluate_batch",
    "loyaltycore.report.build_report",
    "loyaltycore.simulate.simulate",
]

#: Where ``as_of`` may be omitted, and what ``None`` means instead of "now".
AS_OF_OPTIONAL = {
    "loyaltycore.points.PointsLedger.balance": "the ledger's last command",
    "loyaltycore.points.PointsLedger.expiring": "the ledger's last command",
    "loyaltycore.predicates.Context.__init__": "the event's own instant",
    "loyaltycore.predicates.Frame.__init__": "each event's own instant",
    "loyaltycore.predicates.Predicate.test": "the event's own instant",
    "loyaltycore.predicates.Predicate.mask": "each event's own instant",
    "loyaltycore.report.build_report": "the local day after the last transaction",
    "loyaltycore.rules.RuleSet.evaluate": "the event's own instant",
    "loyaltycore.rules.RuleSet.evaluate_batch": "each event's own instant",
    "loyaltycore.rules.RuleSet.simulate": "each event's own instant",
    "loyaltycore.segments.Segment.contains": "the facts' own as_of",
    "loyaltycore.segments.Segment.mask": "the facts' own as_of",
    "loyaltycore.segments.SegmentSet.of": "the facts' own as_of",
    "loyaltycore.segments.SegmentSet.evaluate": "the facts' own as_of",
    "loyaltycore.segments.SegmentSet.assign": "the facts' own as_of",
}


def _callables() -> Iterator[tuple[str, Callable[..., object]]]:
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if inspect.isfunction(obj):
                yield f"{module_name}.{name}", obj
            elif inspect.isclass(obj) and not issubclass(obj, BaseException):
                for attr in dir(obj):
                    if attr.startswith("_") and attr != "__init__":
                        continue
                    value = inspect.getattr_static(obj, attr)
                    fn = value.__func__ if isinstance(value, classmethod | staticmethod) else value
                    if inspect.isfunction(fn):
                        yield f"{module_name}.{name}.{attr}", fn


CALLABLES = dict(_callables())


def _parameters(fn: Callable[..., object]) -> list[inspect.Parameter]:
    try:
        return list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):  # pragma: no cover - builtins
        return []


def test_zones_are_keyword_only() -> None:
    positional = sorted(
        name
        for name, fn in CALLABLES.items()
        for p in _parameters(fn)
        if p.name == "tz" and p.kind is not p.KEYWORD_ONLY
    )
    assert positional == []


def test_as_of_is_keyword_only_and_required_unless_documented() -> None:
    positional, optional = [], []
    for name, fn in CALLABLES.items():
        for p in _parameters(fn):
            if p.name != "as_of":
                continue
            if p.kind is not p.KEYWORD_ONLY:
                positional.append(name)
            if p.default is not p.empty and name not in AS_OF_OPTIONAL:
                optional.append(name)
    assert sorted(positional) == []
    assert sorted(optional) == []


def test_documented_optional_as_of_exists() -> None:
    for name in AS_OF_OPTIONAL:
        assert name in CALLABLES, name
        assert any(p.name == "as_of" for p in _parameters(CALLABLES[name])), name


@pytest.mark.parametrize("name", SLOW)
def test_slow_functions_take_progress(name: str) -> None:
    fn = CALLABLES[name]
    params = {p.name: p for p in _parameters(fn)}
    assert "progress" in params, name
    assert params["progress"].kind is inspect.Parameter.KEYWORD_ONLY
    assert params["progress"].default is None


def _says_any(annotation: object) -> bool:
    """True when an annotation says ``Any`` other than as an array's dtype."""
    text = str(annotation)
    for array in ("NDArray[Any]", "ndarray[Any, Any]", "dtype[Any]"):
        text = text.replace(array, "")
    return "Any" in text


def test_no_any_in_public_annotations() -> None:
    found = sorted(
        f"{name}({p.name})"
        for name, fn in CALLABLES.items()
        for p in _parameters(fn)
        if _says_any(p.annotation)
    )
    returns = sorted(
        name
        for name, fn in CALLABLES.items()
        if _says_any(inspect.signature(fn).return_annotation)
    )
    assert found == []
    assert returns == []


def test_positional_tz_still_works_with_a_deprecation_warning() -> None:
    from loyaltycore import calendar

    with pytest.warns(DeprecationWarning, match=r"start_of_day\(\.\.\., tz=\.\.\.\).*0\.3\.0"):
        old = calendar.start_of_day(date(2025, 1, 1), "Asia/Shanghai")  # type: ignore[misc]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert calendar.start_of_day(date(2025, 1, 1), tz="Asia/Shanghai") == old
