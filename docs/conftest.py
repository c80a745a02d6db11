"""Doctest namespace for the docs pages: ``DATA`` is the repository's test data folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _docs_namespace(doctest_namespace: dict[str, Any]) -> None:
    doctest_namespace["DATA"] = Path(__file__).resolve().parent.parent / "tests" / "data"
