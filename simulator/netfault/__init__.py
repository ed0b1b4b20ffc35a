"""A TCP fault proxy: bandwidth limits, latency with jitter, resets and data limits.

Put it between a client and a server (a camera and the broker or the OSS emulator) to
reproduce a slow or flaky link deterministically (seeded).
"""

from simulator.netfault.profile import LinkProfile
from simulator.netfault.proxy import FaultProxy, ProxyStats, running_proxy

__all__ = ["FaultProxy", "LinkProfile", "ProxyStats", "running_proxy"]
