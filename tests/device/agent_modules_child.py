"""Child process: run ``ossmedia camera --config FILE --until-drained``, then list what it loaded.

Usage: ``python -m tests.device.agent_modules_child CONFIG``. Prints the exit code and the
sorted top-level names of every module in ``sys.modules`` as one JSON line.
"""

from __future__ import annotations

import json
import sys

import ossmedia_cli


def main() -> None:
    code = ossmedia_cli.main(["camera", "--config", sys.argv[1], "--until-drained"])
    tops = sorted({name.split(".")[0] for name in sys.modules})
    print(json.dumps({"exit": code, "modules": tops}), flush=True)


if __name__ == "__main__":
    main()
