"""The compiled engine: built from its own source, current, and the same as pure Python.

``make`` compiles the modules in ``loyaltycore._compiled.MODULES``
(``LOYALTYCORE_COMPILE=required``) and runs the points tests once more on
their pure-Python source (``LOYALTYCORE_PURE_PYTHON=1``).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

import loyaltycore
from loyaltycore import _compiled
from tests.scripts import load_script

ROOT = pathlib.Path(__file__).resolve().parents[1]
PURE = os.environ.get("LOYALTYCORE_PURE_PYTHON") == "1"


def _source(name: str) -> pathlib.Path:
    path = ROOT.joinpath("src", *name.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def _slice_unpacked(node: ast.AST) -> bool:
    """``a, b = row[i : j]`` with a computed bound (Cython's compiler crashes on it)."""
    return (
        isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Tuple)
        and isinstance(node.value, ast.Subscript)
        and isinstance(node.value.slice, ast.Slice)
        and not all(
            bound is None or isinstance(bound, ast.Constant)
            for bound in (node.value.slice.lower, node.value.slice.upper)
        )
    )


def _long_test_in_conditional(node: ast.AST) -> bool:
    """``x if c else p and q and r`` (Cython compiles it to code that crashes)."""
    if not isinstance(node, ast.IfExp):
        return False
    return any(
        isinstance(inner, ast.BoolOp)
        and (len(inner.values) > 2 or any(isinstance(v, ast.BoolOp) for v in inner.values))
        for part in (node.test, node.body, node.orelse)
        for inner in ast.walk(part)
    )


@pytest.mark.parametrize("name", _compiled.MODULES)
def test_compiled_modules_avoid_what_cython_gets_wrong(name: str) -> None:
    tree = ast.parse(_source(name).read_text(encoding="utf-8"))
    found = [
        f"{_source(name).name}:{node.lineno}"  # type: ignore[attr-defined]
        for node in ast.walk(tree)
        if _slice_unpacked(node) or _long_test_in_conditional(node)
    ]
    assert found == [], f"rewrite these as loyaltycore._compiled says: {found}"


@pytest.mark.parametrize(
    ("code", "flagged"),
    [
        ("a, b = row[i : i + 2]", True),
        ("part = row[i : i + 2]\na, b = part", False),
        ("a, b = row[:2]", False),
        ("y = x if c else p and q and r", True),
        ("y = x if c else p and (q or r)", True),
        ("y = x if c else p and q", False),
        ("y = p and q and r", False),
    ],
)
def test_the_check_finds_each_construct(code: str, flagged: bool) -> None:
    nodes = list(ast.walk(ast.parse(code)))
    assert any(_slice_unpacked(n) or _long_test_in_conditional(n) for n in nodes) is flagged


@pytest.mark.parametrize("name", _compiled.MODULES)
def test_each_module_runs_compiled_under_make_and_pure_when_asked(name: str) -> None:
    module = importlib.import_module(name)
    loaded = pathlib.Path(module.__file__ or "")
    if PURE:
        assert loaded == _source(name)
        assert not loyaltycore.compiled()
    elif os.environ.get("LOYALTYCORE_COMPILE") == "required":
        assert loaded.suffix == ".so", f"{name} was not compiled: run make"
        assert loyaltycore.compiled()
        assert loaded.stat().st_mtime >= _source(name).stat().st_mtime, (
            f"{loaded.name} is older than its source: run make to compile it again"
        )


#: Applies a seeded stream of commands, some refused, and prints every ledger's document.
_RUN = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, "benchmarks")
    import ledger as bench
    from loyaltycore import LoyaltyError, PointsLedger, compiled
    from loyaltycore.points import event_to_data

    commands = bench.make_commands(6_000, 300, seed=11)
    ledgers = {}
    refused = []
    for n, (kind, m, cid, at, pts, ref) in enumerate(commands):
        if m not in ledgers:
            ledgers[m] = PointsLedger.open(f"m{m}", policy=bench.POLICY)
        ledger = ledgers[m]
        if n % 97 == 0:  # (now and then, more than the balance: refused)
            pts = 10**9 if kind in ("redeem", "hold") else pts
        try:
            if kind == "earn":
                ledger = ledger.earn(cid, at=at, points=pts)
            elif kind == "redeem":
                ledger = ledger.redeem(cid, at=at, points=pts)
            elif kind == "hold":
                ledger = ledger.hold(cid, at=at, points=pts, deadline=ref)
            elif kind == "capture":
                ledger = ledger.capture(cid, at=at, hold=ref)
            elif kind == "release":
                ledger = ledger.release(cid, at=at, hold=ref)
            else:
                ledger = ledger.reverse(cid, at=at, of=ref, points=pts)
        except LoyaltyError as exc:
            refused.append([n, type(exc).__name__, str(exc)])
        ledgers[m] = ledger
    out = {
        "compiled": compiled(),
        "refused": refused,
        "states": {m: l.state() for m, l in sorted(ledgers.items())},
        "events": {m: [event_to_data(e) for e in l.events] for m, l in sorted(ledgers.items())},
        "replayed": all(PointsLedger.replay(l.events) == l for l in ledgers.values()),
    }
    print(json.dumps(out, sort_keys=True, default=str))
    """
)


def _run(pure: bool) -> dict[str, object]:
    env = dict(os.environ, LOYALTYCORE_PURE_PYTHON="1" if pure else "0")
    done = subprocess.run(
        [sys.executable, "-c", _RUN], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_compiled_and_pure_engines_give_the_same_ledgers() -> None:
    compiled, pure = _run(pure=False), _run(pure=True)
    assert pure.pop("compiled") is False
    ran_compiled = compiled.pop("compiled")
    if os.environ.get("LOYALTYCORE_COMPILE") == "required":
        assert ran_compiled is True
    assert compiled["refused"], "the stream should include refused commands"
    assert compiled["replayed"] is True
    assert compiled == pure


def test_the_copy_into_a_builder_stays_interpreted() -> None:
    """Compiled, it ran twice as slow (loyaltycore._compiled says why)."""
    import loyaltycore.points._thaw as thaw

    assert "loyaltycore.points._thaw" not in _compiled.MODULES
    assert (thaw.__file__ or "").endswith(".py")


@pytest.fixture
def setup(monkeypatch: pytest.MonkeyPatch) -> object:
    """setup.py, loaded as the build backend runs it: from the project's root."""
    monkeypatch.chdir(ROOT)
    return load_script(ROOT / "setup.py", "loyaltycore_setup")


@pytest.mark.parametrize(("mode", "optional"), [("auto", True), ("required", False)])
def test_a_failed_compile_leaves_pure_python_unless_compiling_is_required(
    setup: object, mode: str, optional: bool
) -> None:
    """``pip install`` without a C compiler (``auto``) still installs; ``make`` (``required``)
    fails instead. (cythonize reuses the C files ``make`` generated, so this is quick.)"""
    built = setup.extensions(mode)  # type: ignore[attr-defined]
    names = {ext.name.removesuffix(".__init__") for ext in built}
    assert names == set(_compiled.MODULES)
    assert {ext.optional for ext in built} == {optional}


def test_no_compile_and_an_unknown_mode(setup: object) -> None:
    assert setup.extensions("no") == []  # type: ignore[attr-defined]
    with pytest.raises(SystemExit, match="LOYALTYCORE_COMPILE='yes' must be"):
        setup.extensions("yes")  # type: ignore[attr-defined]
