"""``ossmedia bench responder``: the credential responder next to a raw paho echo baseline.

Three measurements in one run, against one Mosquitto:

1. round trip from a signed request to unsealed credentials (cache hits), p50 and p99,
   against the same round trip through an echo responder that only republishes the request;
2. throughput with 100 devices each keeping one request in flight, against the echo;
3. a boot storm: 5,000 devices with an empty cache against the STS emulator capped at
   100 AssumeRole calls per second.
"""

from __future__ import annotations

from simulator.bench.responder.run import main

__all__ = ["main"]
