"""The folder tree is the architecture: areas meet through public names or a documented seam.

An area is a folder below ``src/loyaltycore`` (its ``__init__`` is the public
module) or a public top-level module. A private module (a name starting with
``_``) belongs to its area; another area may import it only through the seams
listed here and explained in ``docs/architecture.md``.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

SRC = pathlib.Path(__file__).resolve().parents[1] / "src" / "loyaltycore"

#: (importing area, private module it may import) and why, as docs/architecture.md says.
SEAMS = {
    ("metrics", "loyaltycore.transactions._input"): "column checks and id codes",
    ("metrics", "loyaltycore.transactions._periods"): "period numbering of a log",
    ("report", "loyaltycore.transactions._frame"): "the delimited-file reader, for members",
}

#: Core modules every area uses; they sit at the top, beside the areas.
CORE = {
    "errors",
    "calendar",
    "serialize",
    "progress",
    "_validate",
    "_version",
    "_compiled",
    "_generated",
    "_public",
    "_deprecate",
    "_frames",
    "_native",
    "_packed",
}


def _area(path: pathlib.Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return parts[0]


def _imports(path: pathlib.Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
            found.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return [name for name in found if name.startswith("loyaltycore.")]


def _private_target(name: str) -> tuple[str, str] | None:
    """(owning area, module) when ``name`` reaches into a private module, else None."""
    parts = name.split(".")[1:]
    for depth, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            if depth == 0:
                return (part, "loyaltycore." + part)  # a top-level private module
            return (parts[0], "loyaltycore." + ".".join(parts[: depth + 1]))
    return None


def _violations() -> list[str]:
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        area = _area(path)
        for name in _imports(path):
            target = _private_target(name)
            if target is None:
                continue
            owner, module = target
            if owner == area or owner in CORE or (area, module) in SEAMS:
                continue
            bad.append(f"{path.relative_to(SRC)} imports {name}")
    return sorted(set(bad))


def test_areas_import_each_other_only_through_public_names_or_seams() -> None:
    assert _violations() == []


def test_every_seam_is_used_and_documented() -> None:
    page = (SRC.parents[1] / "docs" / "architecture.md").read_text(encoding="utf-8")
    for area, module in SEAMS:
        assert module in page, f"{module} is not explained in docs/architecture.md"
        users = [
            path
            for path in SRC.rglob("*.py")
            if _area(path) == area and any(n.startswith(module) for n in _imports(path))
        ]
        assert users, f"the seam {module} is declared for {area} but unused"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("loyaltycore.points", None),
        ("loyaltycore.points._ledger", ("points", "loyaltycore.points._ledger")),
        ("loyaltycore._validate", ("_validate", "loyaltycore._validate")),
        (
            "loyaltycore.predicates._compile.Field",
            ("predicates", "loyaltycore.predicates._compile"),
        ),
    ],
)
def test_private_targets_are_found(name: str, expected: tuple[str, str] | None) -> None:
    assert _private_target(name) == expected


def test_no_module_sits_outside_an_area() -> None:
    flat = sorted(
        p.stem for p in SRC.glob("_*.py") if p.stem not in CORE | {"__init__", "__main__"}
    )
    assert flat == [], f"private helpers belong inside their area's folder: {flat}"
