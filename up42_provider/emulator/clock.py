"""Time source of the emulator: real UTC time plus an offset that tests can advance."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

# The one time parsing lives in geo.py; ``parse_iso`` is the name the route modules know it by.
from up42_provider.emulator.geo import parse_datetime as parse_iso

__all__ = ["Clock", "iso", "parse_iso"]


class Clock:
    def __init__(self) -> None:
        self._offset = timedelta()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(timezone.utc) + self._offset

    def advance(self, seconds: float) -> datetime:
        """Jump forward (tests: let an order fulfil without waiting)."""
        with self._lock:
            self._offset += timedelta(seconds=seconds)
        return self.now()


def iso(ts: datetime) -> str:
    """UP42 timestamp format: microseconds and a Z suffix (``2022-06-20T04:05:31.755744Z``)."""
    return ts.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
