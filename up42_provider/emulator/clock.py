"""Time source of the emulator: real UTC time plus an offset that tests can advance."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone


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


def parse_iso(text: str) -> datetime:
    """Parse the timestamps clients send (``Z``, offsets, date-only)."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    if len(value) == 10:
        value += "T00:00:00+00:00"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)
