"""Build loyaltycore: pure Python, with its hottest modules compiled where it can.

The modules in ``loyaltycore._compiled.MODULES`` are compiled by Cython
from their own source, which stays plain Python (no Cython syntax, type
annotations ignored), so the compiled package and the pure one behave the
same and the tests run on both (``make test``). Compiling is an option of the
build, not of the code: everything else about the package is declared in
``pyproject.toml``.

``LOYALTYCORE_COMPILE`` chooses:

* ``auto`` (the default): compile, or install pure Python when Cython or a C
  compiler is missing (a warning says so);
* ``required``: fail instead (``make`` sets this);
* ``no``: install pure Python.

At run time ``LOYALTYCORE_PURE_PYTHON=1`` loads the pure modules of a
compiled install (to step through them in a debugger or profile them).
"""

from __future__ import annotations

import ast
import os
import pathlib

from setuptools import Extension, setup


def compiled_modules() -> list[str]:
    """The module names listed in src/loyaltycore/_compiled.py (read, not imported)."""
    tree = ast.parse(pathlib.Path("src/loyaltycore/_compiled.py").read_text("utf-8"))
    for node in tree.body:
        if isinstance(node, ast.AnnAssign | ast.Assign):
            targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
            if any(isinstance(t, ast.Name) and t.id == "MODULES" for t in targets):
                return list(ast.literal_eval(node.value))
    raise SystemExit("src/loyaltycore/_compiled.py has no MODULES")


def extensions(mode: str) -> list[Extension]:
    """The compiled modules' extensions for ``LOYALTYCORE_COMPILE=mode``."""
    if mode not in ("auto", "required", "no"):
        raise SystemExit(f"LOYALTYCORE_COMPILE={mode!r} must be 'auto', 'required' or 'no'")
    if mode == "no":
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        if mode == "required":
            raise
        print("warning: Cython is missing: loyaltycore is installed as pure Python")
        return []
    modules = []
    for name in compiled_modules():
        path = pathlib.Path("src", *name.split("."))
        if path.is_dir():  # a package: its __init__ module
            path, name = path / "__init__.py", name + ".__init__"
        else:
            path = path.with_suffix(".py")
        modules.append(Extension(name, [str(path)]))
    built = cythonize(
        modules,
        build_dir="build/cython",
        quiet=True,
        compiler_directives={
            "language_level": 3,
            "annotation_typing": False,  # (Python's semantics: annotations check nothing)
            "binding": True,  # (functions keep their signatures and docstrings)
            "autotestdict": False,  # (doctests are found as in the pure module)
        },
    )
    for ext in built:  # a failed compile leaves the pure module (cythonize drops the flag)
        ext.optional = mode == "auto"
    return built


if __name__ == "__main__":  # (as the build backend runs it; tests import extensions)
    setup(
        ext_modules=extensions(os.environ.get("LOYALTYCORE_COMPILE", "auto")),
        options={"build_ext": {"parallel": os.cpu_count() or 1}},  # (a process per module)
    )
