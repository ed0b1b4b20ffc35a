"""``python -m simulator.lifetime``: the lifeline process (see :mod:`.lifeline`)."""

from __future__ import annotations

import sys

from simulator.lifetime.lifeline import main

raise SystemExit(main(sys.argv[1:]))
