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


def test_importing_campaigns_loads_no_extras() -> None:
    code = (
        "import json, sys\n"
        "import loyaltycore.campaigns\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, text=True)
    assert json.loads(out.stdout) == []


def test_campaign_statistics_without_scipy_name_the_stats_extra() -> None:
    code = (
        "import sys\n"
        "sys.modules['scipy'] = None  # as if scipy were not installed\n"
        "from loyaltycore.campaigns import compare\n"
        "from loyaltycore.errors import MissingDependency\n"
        "try:\n"
        "    compare([1.0, 2.0], [3.0, 4.0])\n"
        "except MissingDependency as exc:\n"
        "    print(exc, exc.extra)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, text=True)
    assert out.stdout.strip() == "compare needs scipy: pip install 'loyaltycore[stats]' stats"


def test_importing_plot_loads_no_extras() -> None:
    """matplotlib is imported when a plot is drawn, not when the module is."""
    code = (
        "import json, sys\n"
        "import loyaltycore.plot\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, text=True)
    assert json.loads(out.stdout) == []
