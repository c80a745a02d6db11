"""A script of the repository (a benchmark, an example, setup.py) loaded as a module.

Scripts are not importable by name, and the tests import in ``importlib``
mode, so each is loaded from its path under a name of its own.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType


def load_script(path: Path, name: str) -> ModuleType:
    """The script at ``path``, run as a fresh module called ``name``."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
