"""The ``ossmedia`` dispatcher: version, help, unknown commands, missing extras."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version

import pytest

import ossmedia_cli


def run_cli(*args: str, prelude: str = "") -> subprocess.CompletedProcess[str]:
    code = f"{prelude}\nimport ossmedia_cli, sys\nsys.exit(ossmedia_cli.main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_version_matches_distribution() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"ossmedia {version('ossmedia')}"


def test_help_lists_every_subcommand() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for cmd in ossmedia_cli.SUBCOMMANDS:
        assert cmd.name in result.stdout


def test_no_arguments_prints_help() -> None:
    result = run_cli()
    assert result.returncode == 0
    assert "usage: ossmedia" in result.stdout


def test_unknown_subcommand_fails_clearly() -> None:
    result = run_cli("frobnicate")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


@pytest.mark.parametrize("cmd", ossmedia_cli.SUBCOMMANDS, ids=lambda c: c.name)
def test_every_subcommand_answers_help(cmd: ossmedia_cli.Subcommand) -> None:
    result = run_cli(cmd.name, "--help")
    assert result.returncode == 0, result.stderr
    assert f"ossmedia {cmd.name}" in result.stdout


_BLOCK_ALIYUN = """
import importlib.abc, sys
class _Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {'aliyunsdkcore', 'aliyunsdksts'}:
            raise ModuleNotFoundError(name=name)
        return None
sys.meta_path.insert(0, _Block())
"""


def test_cloud_subcommand_without_cloud_extra_names_the_extra() -> None:
    result = run_cli("responder", "--help", prelude=_BLOCK_ALIYUN)
    assert result.returncode == 2
    assert "pip install 'ossmedia[cloud]'" in result.stderr
    assert "aliyunsdkcore" in result.stderr


def test_camera_needs_no_extra() -> None:
    assert ossmedia_cli._missing_modules(None) == []
