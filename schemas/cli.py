"""`ossmedia schemas`: not available in this version yet."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    """Explain that the subcommand is not implemented yet and fail."""
    del argv
    print("ossmedia schemas: not implemented in this version yet (planned: protocol v1 schemas).", file=sys.stderr)
    return 2
