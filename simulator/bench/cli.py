"""`ossmedia bench`: not available in this version yet."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    """Explain that the subcommand is not implemented yet and fail."""
    del argv
    print("ossmedia bench: not implemented in this version yet (planned: benchmarks).", file=sys.stderr)
    return 2
