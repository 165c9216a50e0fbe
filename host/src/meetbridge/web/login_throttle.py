"""Sign-in throttling: too many failed passwords for one email, or from one address, and
further attempts are refused for a while without checking the password.

Refusing before Argon2 runs matters twice: a guesser gets no answer about the password, and a
flood of attempts cannot spend the server's CPU on hashing. Counts live in the process (a
bounded map, oldest keys evicted first): several ``serve`` processes each count on their own,
so the effective limit is the configured one times the number of processes.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Refusal:
    """An attempt refused: try again after ``retry_after`` seconds."""

    retry_after: int

    @property
    def minutes(self) -> int:
        return max(1, math.ceil(self.retry_after / 60))


class LoginThrottle:
    """Failures per key within a sliding window; a key over its limit is refused.

    Keys are ``email:<address>`` (``max_failures``) and ``ip:<address>`` (``max_failures_per_ip``,
    higher: many people may share an office's address). A successful sign-in clears the
    email's failures, never the address's (a guesser who knows one password must not reset the
    count for the others).
    """

    def __init__(
        self,
        *,
        max_failures: int,
        max_failures_per_ip: int,
        window_seconds: float,
        max_keys: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.max_failures_per_ip = max_failures_per_ip
        self.window = window_seconds
        self.max_keys = max_keys
        self.clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _keys(email: str, ip: str | None) -> list[tuple[str, str]]:
        keys = [("email", f"email:{email.strip().lower()}")]
        if ip:
            keys.append(("ip", f"ip:{ip}"))
        return keys

    def _limit(self, kind: str) -> int:
        return self.max_failures if kind == "email" else self.max_failures_per_ip

    def _recent(self, key: str, now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times

    def check(self, email: str, ip: str | None) -> Refusal | None:
        """A refusal when the email or the address is over its limit, else None."""
        if self.max_failures <= 0:
            return None  # throttling switched off
        now = self.clock()
        wait = 0.0
        with self._lock:
            for kind, key in self._keys(email, ip):
                times = self._recent(key, now)
                if times is not None and len(times) >= self._limit(kind):
                    # Free again when enough of the failures have left the window.
                    oldest_that_counts = times[len(times) - self._limit(kind)]
                    wait = max(wait, oldest_that_counts + self.window - now)
        return Refusal(retry_after=max(1, math.ceil(wait))) if wait > 0 else None

    def failed(self, email: str, ip: str | None) -> None:
        now = self.clock()
        with self._lock:
            for _kind, key in self._keys(email, ip):
                times = self._recent(key, now) or deque()
                times.append(now)
                self._failures[key] = times
                self._failures.move_to_end(key)
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)

    def succeeded(self, email: str) -> None:
        with self._lock:
            self._failures.pop(self._keys(email, None)[0][1], None)
