"""Child process: run ``ossmedia camera --config FILE --until-drained``, then list what it loaded.

Usage: ``python -m tests.device.agent_modules_child CONFIG``. Prints the exit code and the
sorted names of every module in ``sys.modules`` (packages and submodules) as one JSON line.
"""

from __future__ import annotations

import json
import sys

import ossmedia_cli


def main() -> None:
    code = ossmedia_cli.main(["camera", "--config", sys.argv[1], "--until-drained"])
    print(json.dumps({"exit": code, "modules": sorted(sys.modules)}), flush=True)


if __name__ == "__main__":
    main()
