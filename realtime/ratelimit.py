"""Token buckets: a steady rate with a burst allowance."""

from __future__ import annotations

import time
from collections import OrderedDict


class TokenBucket:
    """Allows ``rate`` actions per second on average and ``burst`` at once."""

    __slots__ = ("_stamp", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._stamp = time.monotonic()

    def _refill(self, now: float) -> None:
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def take(self, cost: float = 1.0, *, now: float | None = None) -> bool:
        """Spend ``cost`` tokens if there are enough; False if the action must be refused."""
        self._refill(time.monotonic() if now is None else now)
        if self._tokens >= cost:
            self._tokens -= cost
            return True
        return False

    def wait_time(self, cost: float = 1.0) -> float:
        """Seconds until ``cost`` tokens will be there."""
        self._refill(time.monotonic())
        return max(0.0, (cost - self._tokens) / self.rate)


class KeyedLimiter:
    """One bucket per key (e.g. per client address), bounded in the number of keys kept."""

    def __init__(self, rate: float, burst: float, max_keys: int = 100_000) -> None:
        self.rate = rate
        self.burst = burst
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def bucket(self, key: str) -> TokenBucket:
        found = self._buckets.get(key)
        if found is None:
            found = TokenBucket(self.rate, self.burst)
            self._buckets[key] = found
            if len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return found

    def take(self, key: str, cost: float = 1.0) -> bool:
        return self.bucket(key).take(cost)
