"""Rate limits counted in the shared cache, so every process of `mailherd run` counts together.

A sliding window estimated from two fixed windows (the current one and the one
before, weighted by how much of it still falls within the period), counted
with the cache's atomic `add` and `incr`: exact under concurrency, two cache
keys per limited thing, no list of timestamps to rewrite on every request.
"""

import math
import time

from django.core.cache import cache

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """ "3000/m" -> (3000, 60); "10/5m" -> (10, 300)."""
    count, _, period = rate.partition("/")
    unit = period[-1:].lower()
    multiple = period[:-1] or "1"
    if unit not in PERIODS or not count.isdigit() or not multiple.isdigit():
        raise ValueError(f"Invalid rate {rate!r}: expected N/s, N/m, N/h or N/d")
    return int(count), int(multiple) * PERIODS[unit]


def _keys(key: str, period: int, now: float) -> tuple[str, str, float]:
    window = int(now // period)
    return f"rl:{key}:{period}:{window}", f"rl:{key}:{period}:{window - 1}", (now % period) / period


def _wait(previous: int, current: int, limit: int, period: int, elapsed: float) -> float:
    """Seconds until the estimate falls below the limit again."""
    if current < limit and previous > 0:
        needed = 1 - (limit - current) / previous
        return max(1.0, math.ceil((needed - elapsed) * period))
    return max(1.0, math.ceil((1 - elapsed) * period))


def _estimate(previous: int, current: int, elapsed: float) -> float:
    return previous * (1 - elapsed) + current


def _count(key: str, *, timeout: int) -> int:
    """Add one to a counter (created when absent) and return it, atomically across processes."""
    incr_or_add = getattr(cache, "incr_or_add", None)  # the shared file cache: one file lock
    if incr_or_add is not None:
        return incr_or_add(key, timeout)
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=timeout)
        return 1


def hit(key: str, rate: str) -> float | None:
    """Count one event for `key`; None when it is within `rate`, else the seconds to wait.

    An event over the limit is not counted (a client that is refused is not
    refused for longer because it asked again).
    """
    limit, period = parse_rate(rate)
    current_key, previous_key, elapsed = _keys(key, period, time.time())
    current = _count(current_key, timeout=2 * period + 1)
    previous = cache.get(previous_key, 0)
    if _estimate(previous, current, elapsed) <= limit:
        return None
    try:
        cache.decr(current_key)
    except ValueError:
        pass
    return _wait(previous, current - 1, limit, period, elapsed)


def exceeded(key: str, rate: str) -> float | None:
    """Without counting: None when one more event for `key` is within `rate`, else the seconds to wait."""
    limit, period = parse_rate(rate)
    current_key, previous_key, elapsed = _keys(key, period, time.time())
    values = cache.get_many([current_key, previous_key])
    previous, current = values.get(previous_key, 0), values.get(current_key, 0)
    if _estimate(previous, current + 1, elapsed) <= limit:
        return None
    return _wait(previous, current, limit, period, elapsed)
