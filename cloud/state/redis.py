"""Redis shared state: several responder processes (or hosts) behave as one.

Each decision that must be atomic across processes (a rate reservation, a nonce claim) is one
Lua script, so two responders can never both take the last slot or both claim a nonce. Times
come from the callers' clocks (hosts are expected to run NTP); keys expire on their own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import redis

from cloud.errors import StateError
from cloud.state.protocols import Claim, ClaimState, Reservation

T = TypeVar("T")

# Mirrors cloud.state.gcra.gcra_step exactly.
_GCRA = """
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local max_wait = tonumber(ARGV[4])
local promise = ARGV[5] == '1'
local step = tonumber(ARGV[6])
local v = redis.call('HMGET', KEYS[1], 't', 'p')
local tat = now
local promised = now
if v[1] then
  tat = math.max(tonumber(v[1]), now)
  promised = tonumber(v[2])
end
local tau = (burst - 1) * interval
local ahead = tat - now - tau
local admitted, wait, retry = 0, 0, 0
if ahead <= max_wait then
  admitted = 1
  wait = math.ceil(math.max(0, ahead))
  tat = tat + interval
elseif promise then
  local slot = math.max(promised, tat - tau)
  retry = math.max(1, math.ceil(slot - now))
  promised = slot + step
else
  retry = math.max(1, math.ceil(ahead - max_wait))
end
redis.call('HSET', KEYS[1], 't', string.format('%.3f', tat), 'p', string.format('%.3f', promised))
redis.call('PEXPIRE', KEYS[1], math.ceil(math.max(tat, promised) - now) + 1000)
return {admitted, wait, retry}
"""

# KEYS: nonce record; ARGV: fingerprint, now, ttl, lease, owner, alive-key prefix.
# A pending claim is taken over when its lease ran out or its owner's heartbeat is gone.
_CLAIM = """
local now = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local lease = tonumber(ARGV[4])
local v = redis.call('HMGET', KEYS[1], 'f', 'r', 'l', 'o')
if not v[1] then
  redis.call('HSET', KEYS[1], 'f', ARGV[1], 'l', now + lease, 'o', ARGV[5])
  redis.call('PEXPIRE', KEYS[1], ttl)
  return {'new'}
end
if v[1] ~= ARGV[1] then return {'replay'} end
if v[2] then return {'done', v[2]} end
local owner = v[4] or ''
local dead = owner ~= '' and owner ~= ARGV[5] and redis.call('EXISTS', ARGV[6] .. owner) == 0
if tonumber(v[3]) <= now or dead then
  redis.call('HSET', KEYS[1], 'l', now + lease, 'o', ARGV[5])
  return {'new'}
end
return {'pending'}
"""

_COMPLETE = """
if redis.call('HGET', KEYS[1], 'f') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'r', ARGV[2])
end
return 1
"""


def _guard(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except redis.RedisError as exc:
        # The exception text may quote a command's arguments; keep only its type.
        raise StateError(type(exc).__name__, backend="redis") from None


class RedisRateState:
    """GCRA counters as Redis hashes."""

    def __init__(self, client: redis.Redis[bytes], prefix: str) -> None:
        self._prefix = prefix
        self._script = client.register_script(_GCRA)

    def reserve(
        self,
        key: str,
        *,
        now_ms: int,
        interval_ms: float,
        burst: int,
        max_wait_ms: int,
        promise: bool = False,
        promise_interval_ms: float | None = None,
    ) -> Reservation:
        """See :meth:`cloud.state.protocols.RateState.reserve`."""
        step = interval_ms if promise_interval_ms is None else promise_interval_ms
        args = [
            now_ms,
            repr(float(interval_ms)),
            burst,
            max_wait_ms,
            "1" if promise else "0",
            repr(float(step)),
        ]
        out: list[Any] = _guard(
            lambda: self._script(keys=[f"{self._prefix}:rate:{key}"], args=args)
        )
        admitted, wait, retry = (int(x) for x in out)
        return Reservation(admitted=bool(admitted), wait_ms=wait, retry_after_ms=retry)


class RedisReplyState:
    """Nonce records and stored replies as Redis hashes with a TTL."""

    def __init__(self, client: redis.Redis[bytes], prefix: str) -> None:
        self._prefix = prefix
        self._client = client
        self._claim = client.register_script(_CLAIM)
        self._complete = client.register_script(_COMPLETE)

    def claim(
        self,
        key: str,
        fingerprint: str,
        *,
        now_ms: int,
        ttl_ms: int,
        lease_ms: int,
        owner: str = "",
    ) -> Claim:
        """See :meth:`cloud.state.protocols.ReplyState.claim`."""
        rkey = f"{self._prefix}:nonce:{key}"
        args = [fingerprint, now_ms, max(1, ttl_ms), lease_ms, owner, f"{self._prefix}:alive:"]
        out: list[bytes] = _guard(lambda: self._claim(keys=[rkey], args=args))
        state = ClaimState(out[0].decode())
        return Claim(state, out[1] if state is ClaimState.DONE else None)

    def complete(self, key: str, fingerprint: str, reply: bytes, *, now_ms: int) -> None:
        """See :meth:`cloud.state.protocols.ReplyState.complete`."""
        del now_ms
        rkey = f"{self._prefix}:nonce:{key}"
        _guard(lambda: self._complete(keys=[rkey], args=[fingerprint, reply]))

    def peek(self, key: str, fingerprint: str, *, now_ms: int) -> Claim | None:
        """See :meth:`cloud.state.protocols.ReplyState.peek`."""
        del now_ms
        rkey = f"{self._prefix}:nonce:{key}"
        found: list[bytes | None] = _guard(lambda: self._client.hmget(rkey, ["f", "r"]))
        if found[0] is None:
            return None
        if found[0].decode() != fingerprint:
            return Claim(ClaimState.REPLAY)
        return None if found[1] is None else Claim(ClaimState.DONE, found[1])


class RedisBlobState:
    """Expiring values as plain Redis strings."""

    def __init__(self, client: redis.Redis[bytes], prefix: str) -> None:
        self._r = client
        self._prefix = prefix

    def get(self, key: str, *, now_ms: int) -> bytes | None:
        """See :meth:`cloud.state.protocols.BlobState.get`."""
        del now_ms
        value: bytes | None = _guard(lambda: self._r.get(f"{self._prefix}:blob:{key}"))
        return value

    def put(self, key: str, value: bytes, *, now_ms: int, ttl_ms: int) -> None:
        """See :meth:`cloud.state.protocols.BlobState.put`."""
        del now_ms
        if ttl_ms > 0:
            _guard(lambda: self._r.set(f"{self._prefix}:blob:{key}", value, px=ttl_ms))

    def delete(self, key: str) -> None:
        """See :meth:`cloud.state.protocols.BlobState.delete`."""
        _guard(lambda: self._r.delete(f"{self._prefix}:blob:{key}"))


class RedisState:
    """All seams in one Redis server.

    Args:
        client: a Redis client with bytes responses.
        key_prefix: prefix of every key (several deployments may share a server).
    """

    name = "redis"

    def __init__(self, client: redis.Redis[bytes], *, key_prefix: str = "ossmedia") -> None:
        self._client = client
        self._prefix = key_prefix
        self.rates = RedisRateState(client, key_prefix)
        self.replies = RedisReplyState(client, key_prefix)
        self.blobs = RedisBlobState(client, key_prefix)

    @classmethod
    def from_url(cls, url: str, *, key_prefix: str = "ossmedia") -> RedisState:
        """Connect to ``url`` (``redis://host:port/db``)."""
        # Bounded socket waits: a Redis that stops answering must fail a request (which is
        # then answered with a retryable code), not hold a worker until TCP gives up.
        client = redis.Redis.from_url(
            url, health_check_interval=30, socket_timeout=2.0, socket_connect_timeout=2.0
        )
        return cls(client, key_prefix=key_prefix)

    def heartbeat(self, owner: str, *, ttl_ms: int) -> None:
        """See :meth:`cloud.state.protocols.SharedState.heartbeat`."""
        _guard(lambda: self._client.set(f"{self._prefix}:alive:{owner}", b"1", px=ttl_ms))

    def ping(self) -> None:
        """See :meth:`cloud.state.protocols.SharedState.ping`."""
        _guard(self._client.ping)

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()
