"""``python -m loyaltycore`` — the command line.

>>> from loyaltycore.__main__ import main
>>> main(["--version"])  # doctest: +ELLIPSIS
loyaltycore ...
0
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from loyaltycore._version import __version__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] in (["--version"], ["-V"]):
        print(f"loyaltycore {__version__}")
        return 0
    if args[:1] == ["report"]:
        from loyaltycore.report import main as report_main

        return report_main(args[1:])
    if args[:1] == ["campaign"]:
        from loyaltycore.report import campaign_main

        return campaign_main(args[1:])
    parser = argparse.ArgumentParser(
        prog="python -m loyaltycore",
        description="Loyalty-program primitives. Commands: report, campaign.",
    )
    parser.add_argument("command", choices=["report", "campaign"], help="what to run")
    parser.add_argument("--version", "-V", action="store_true", help="print the version")
    parser.parse_args(args)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
