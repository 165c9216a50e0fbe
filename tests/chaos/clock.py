"""A clock the campaign moves forward, shared by every process of a run.

Time in the campaign is real time plus an offset kept in a small file: the sandboxes, the
booking side and each worker process read the same offset, so token expiry, Zoom's daily
reset at 00:00 UTC and the job queue's ``run_at`` all agree, and moving the offset forward
makes retries due without anyone sleeping. Leases stay in real time (they are about whether a
process is alive), which is why the offset can jump.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path


class OffsetClock:
    """``clock()`` is ``datetime.now(UTC)`` plus the offset stored at ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            self._write(0.0)

    def _write(self, seconds: float) -> None:
        # Write then rename: a reader in another process never sees a half-written number.
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(repr(seconds))
        tmp.replace(self.path)

    @property
    def offset(self) -> timedelta:
        return timedelta(seconds=float(self.path.read_text() or 0.0))

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        if delta > timedelta(0):
            self._write((self.offset + delta).total_seconds())

    def advance_to(self, moment: datetime) -> None:
        """Move forward so that ``clock() >= moment`` (never backwards)."""
        self.advance(moment - self() + timedelta(milliseconds=1))
