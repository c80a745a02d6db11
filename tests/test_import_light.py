"""Importing loyaltycore and its points ledger loads none of the optional extras."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("scipy", "pandas", "hypothesis", "matplotlib", "sklearn", "polars")


def test_import_loads_no_extras() -> None:
    code = (
        "import json, sys\n"
        "import loyaltycore, loyaltycore.points\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, text=True)
    assert json.loads(out.stdout) == []
