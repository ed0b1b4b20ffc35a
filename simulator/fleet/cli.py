"""`ossmedia fleet`: not available in this version yet."""

from __future__ import annotations

from ossmedia_cli import not_available


def main(argv: list[str]) -> int:
    """Say that the subcommand is not available yet; `--help` still answers."""
    return not_available(
        "fleet",
        "Simulate a fleet of cameras with chaos scenarios and verify every stored byte",
        argv,
    )
