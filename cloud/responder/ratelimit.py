"""Per-device request rate limit (a token bucket, as GCRA, shared across responders)."""

from __future__ import annotations

from collections.abc import Callable

from cloud.state.protocols import RateState, Reservation


class DeviceRateLimiter:
    """Allow each device ``per_minute`` requests on average, ``burst`` at once.

    Args:
        rates: the shared rate state.
        per_minute: sustained requests per minute per device.
        burst: requests a device may make at once after a quiet period.
        clock_ms: wall clock in milliseconds.
    """

    def __init__(
        self,
        rates: RateState,
        *,
        per_minute: float,
        burst: int,
        clock_ms: Callable[[], int],
    ) -> None:
        self._rates = rates
        self._interval_ms = 60_000.0 / per_minute
        self._burst = burst
        self._clock_ms = clock_ms

    def check(self, device_id: str) -> Reservation:
        """Count one request of ``device_id``.

        Returns:
            Admitted, or refused with the ``retry_after_ms`` until the device may ask again.

        Raises:
            StateError: the shared state failed.
        """
        return self._rates.reserve(
            f"device:{device_id}",
            now_ms=self._clock_ms(),
            interval_ms=self._interval_ms,
            burst=self._burst,
            max_wait_ms=0,
        )
