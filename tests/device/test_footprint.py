"""What an ``ossmedia camera`` process loads: resident memory is mostly imported code.

The agent's memory figure (``ossmedia bench device --only memory``) is mostly the
libraries it stands on, plus what the agent adds. These tests keep the agent from quietly
growing that: no third-party library beyond the measured set, and no module that only other
commands or other output modes need.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from simulator.bench.device import AGENT_IMPORTS, LIBRARY_IMPORTS

ROOT = Path(__file__).resolve().parents[2]
OWN = {"device", "schemas", "ossmedia_cli"}

# Loaded only by other subcommands or other output modes, never by a recording camera.
NOT_IN_THE_AGENT = (
    "schemas.jsonschema",  # JSON Schema export (`ossmedia schemas`)
    "schemas.cli",
    "device.hls",  # only with [output] format = "hls"
    "device.agent.hls_mode",
    "device.agent.hls_pattern",
    "pydantic.type_adapter",  # TypeAdapters are built by the export and the cloud only
)

_LOADED = """
import json, sys
exec("import " + sys.argv[1])
print(json.dumps(sorted(sys.modules)))
"""


def _loaded(imports: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", _LOADED, imports],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def _third_party(modules: set[str]) -> set[str]:
    tops = {name.split(".")[0] for name in modules}
    return {top for top in tops if top not in sys.stdlib_module_names and not top.startswith("_")}


def test_the_agent_loads_no_third_party_library_beyond_the_measured_set() -> None:
    libraries = _third_party(_loaded(LIBRARY_IMPORTS))
    agent = _loaded(AGENT_IMPORTS)
    assert {"oss2", "pydantic", "paho"} <= libraries
    assert _third_party(agent) >= OWN
    assert _third_party(agent) - OWN - libraries == set()


def test_the_agent_opens_sealed_credentials_without_the_cryptography_package() -> None:
    # AES-GCM goes through the libcrypto hashlib already mapped; cryptography would map a
    # second OpenSSL (about 8 MB resident). It stays the fallback where that is impossible.
    agent = _loaded(AGENT_IMPORTS + ", schemas.aesgcm")
    assert "schemas.aesgcm" in agent
    assert "_hashlib" in agent
    assert sorted(m for m in agent if m.split(".")[0] == "cryptography") == []


def test_the_agent_does_not_load_what_only_other_commands_use() -> None:
    agent = _loaded(AGENT_IMPORTS)
    assert "device.agent.cli" in agent
    assert sorted(m for m in NOT_IN_THE_AGENT if m in agent) == []
