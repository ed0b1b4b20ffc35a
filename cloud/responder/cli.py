"""`ossmedia responder`: not available in this version yet."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    """Explain that the subcommand is not implemented yet and fail."""
    del argv
    print("ossmedia responder: not implemented in this version yet (planned: credential responder).", file=sys.stderr)
    return 2
