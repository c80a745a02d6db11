"""The public surface: sorted ``__all__``, a runnable example on every public name."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import subprocess
import sys

import pytest

import loyaltycore
from loyaltycore._public import is_function

PUBLIC_MODULES = sorted(
    f"loyaltycore.{info.name}"
    for info in pkgutil.iter_modules(loyaltycore.__path__)
    if not info.name.startswith("_")
)


def test_top_level_all_is_sorted_and_importable() -> None:
    assert loyaltycore.__all__ == sorted(loyaltycore.__all__)
    for name in loyaltycore.__all__:
        assert hasattr(loyaltycore, name), name


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_module_all_is_sorted_and_every_name_exists(module_name: str) -> None:
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None)
    if module_name == "loyaltycore.__main__":
        return
    assert names is not None, f"{module_name} has no __all__"
    assert list(names) == sorted(names), f"{module_name}.__all__ is not sorted"
    for name in names:
        assert hasattr(module, name), f"{module_name}.{name}"


def _documented_members(module_name: str) -> list[tuple[str, object]]:
    module = importlib.import_module(module_name)
    found: list[tuple[str, object]] = []
    for name in getattr(module, "__all__", []):
        obj = getattr(module, name)
        if inspect.isclass(obj) or is_function(obj):
            found.append((f"{module_name}.{name}", obj))
    return found


PUBLIC_OBJECTS = [pair for m in PUBLIC_MODULES for pair in _documented_members(m)]


@pytest.mark.parametrize(("qualname", "obj"), PUBLIC_OBJECTS, ids=[q for q, _ in PUBLIC_OBJECTS])
def test_every_public_class_and_function_has_a_runnable_example(
    qualname: str, obj: object
) -> None:
    doc = inspect.getdoc(obj) or ""
    assert doc.strip(), f"{qualname} has no docstring"
    if inspect.isclass(obj) and issubclass(obj, BaseException):
        return  # errors are shown together in loyaltycore.errors and docs/errors.md
    assert ">>>" in doc, f"{qualname} has no runnable example"


def test_importing_loyaltycore_loads_no_optional_extra() -> None:
    code = (
        "import sys, loyaltycore\n"
        "import loyaltycore.calendar, loyaltycore.serialize, loyaltycore.errors\n"
        "heavy = {'scipy', 'pandas', 'polars', 'matplotlib', 'sklearn', 'hypothesis'}\n"
        "loaded = sorted(heavy & {m.split('.')[0] for m in sys.modules})\n"
        "print(','.join(loaded))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "", f"importing loyaltycore loaded {out}"
