"""Throttled progress lines for long transfers: bytes, percent, MB/s and ETA.

A 10 GiB download read in 1 MiB chunks would otherwise log 10 240 lines; one line every few
seconds is enough for an Airflow task log and for spotting a stalled transfer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger("up42_provider.transfer")

MIB = 1 << 20


def _mib(n: int) -> str:
    return f"{n / MIB:,.1f} MiB"


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class Progress:
    """Counts bytes of one transfer and logs at most one line per ``interval`` seconds.

    ``clock`` is injectable so tests can check the throttling without sleeping.
    """

    def __init__(
        self,
        label: str,
        total: int | None = None,
        *,
        interval: float = 5.0,
        logger: logging.Logger | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.total = total
        self.interval = interval
        self.log = logger or log
        self._clock = clock
        self.started = clock()
        self._last_log = self.started
        self.done_bytes = 0
        self._base = 0  # bytes already present when this session started (resume / restart)
        self.lines = 0

    def start(self, offset: int, total: int | None) -> None:
        """(Re)start counting from ``offset`` (a resumed or restarted response)."""
        if total is not None:
            self.total = total
        if offset < self.done_bytes:  # restart from scratch: speed is measured afresh
            self.started = self._clock()
            self._base = offset
        self.done_bytes = offset

    def advance(self, n: int) -> None:
        self.done_bytes += n
        now = self._clock()
        if self.interval >= 0 and now - self._last_log >= self.interval:
            self._last_log = now
            self._emit(now, final=False)

    def finish(self) -> None:
        self._emit(self._clock(), final=True)

    def rate(self, now: float | None = None) -> float:
        """Average bytes per second of this session."""
        elapsed = (self._clock() if now is None else now) - self.started
        return (self.done_bytes - self._base) / elapsed if elapsed > 0 else 0.0

    def _emit(self, now: float, *, final: bool) -> None:
        self.lines += 1
        rate = self.rate(now)
        speed = f"{rate / 1e6:,.1f} MB/s"
        if final:
            self.log.info(
                "%s: %s done in %s (%s)",
                self.label,
                _mib(self.done_bytes),
                _duration(now - self.started),
                speed,
            )
            return
        if self.total:
            percent = 100.0 * self.done_bytes / self.total
            eta = _duration((self.total - self.done_bytes) / rate) if rate > 0 else "unknown"
            self.log.info(
                "%s: %s of %s (%.0f%%), %s, ETA %s",
                self.label,
                _mib(self.done_bytes),
                _mib(self.total),
                percent,
                speed,
                eta,
            )
        else:
            self.log.info("%s: %s, %s", self.label, _mib(self.done_bytes), speed)
