"""Progress lines: throttled by an injectable clock, with bytes, percent, MB/s and ETA."""

from __future__ import annotations

import logging

import pytest

from up42_provider.transfer import Progress

MIB = 1 << 20


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_at_most_one_line_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    progress = Progress("Download of x", 100 * MIB, interval=5.0, clock=clock)
    with caplog.at_level(logging.INFO, logger="up42_provider.transfer"):
        for _ in range(100):  # 1 MiB every 0.5 s: 50 s in total
            clock.now += 0.5
            progress.advance(MIB)
        progress.finish()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 11  # every 5 s (10) plus the summary
    assert lines[0] == "Download of x: 10.0 MiB of 100.0 MiB (10%), 2.1 MB/s, ETA 45 s"
    assert lines[-1] == "Download of x: 100.0 MiB done in 50 s (2.1 MB/s)"


def test_unknown_total_and_restart(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    progress = Progress("Upload", None, interval=1.0, clock=clock)
    with caplog.at_level(logging.INFO, logger="up42_provider.transfer"):
        clock.now = 2.0
        progress.advance(3 * MIB)
        progress.start(0, 4 * MIB)  # a restart from byte 0 measures the speed afresh
        clock.now = 4.0
        progress.advance(MIB)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["Upload: 3.0 MiB, 1.6 MB/s", "Upload: 1.0 MiB of 4.0 MiB (25%), 0.5 MB/s, ETA 6 s"]


def test_negative_interval_disables_intermediate_lines(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    progress = Progress("x", 10, interval=-1, clock=clock)
    with caplog.at_level(logging.INFO, logger="up42_provider.transfer"):
        for _ in range(10):
            clock.now += 100
            progress.advance(1)
    assert caplog.records == []
