"""benchmarks/airflow_triggerer_benchmark.py runs end to end with a few sensors (no timing asserts).

A real ``airflow triggerer`` on SQLite and a frozen emulator, in a subprocess (the benchmark
imports Airflow with its own AIRFLOW_HOME): both phases must resume every deferred sensor with a
``success`` event, measure something in every window, and print the table and one JSON line.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SENSORS = 12


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_every_deferred_sensor_resumes_in_both_phases_and_the_report_is_well_formed(tmp_path: Path):
    run = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "airflow_triggerer_benchmark.py"),
            "--triggers",
            str(SENSORS),
            "--poll-interval",
            "1",
            "--steady-rounds",
            "2",
            "--baseline",
            "2",
            "--home",
            str(tmp_path / "home"),
        ],
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    lines = run.stdout.strip().splitlines()
    summary = json.loads(lines[-1])
    assert summary["benchmark"] == "airflow_triggerer" and summary["triggers"] == SENSORS
    assert set(summary["phases"]) == {"uncoalesced", "coalesced"}
    for mode, result in summary["phases"].items():
        sensors = SENSORS + 1  # and the warm-up one
        assert result["sensors"] == sensors
        assert result["events"] == {"success": sensors}, mode
        assert result["fired"] == result["fulfilled"] == sensors, mode
        assert result["fulfilment_to_event_s"]["n"] == result["fulfilment_to_resumed_s"]["n"] == sensors
        for window in ("lag_baseline_ms", "lag_start_ms", "lag_steady_ms", "lag_fulfilment_ms"):
            assert result[window]["n"] > 0, (mode, window)
        assert result["requests"] > 0 and result["poll_rounds"] > 0
        assert result["rss_baseline_mib"] > 0 and math.isfinite(result["rss_per_trigger_kib"])
    reference = summary["reference"]
    assert reference["triggers"] == SENSORS and reference["lag_steady_ms"]["n"] > 0
    assert math.isfinite(reference["rss_per_trigger_kib"])
    assert set(summary["ratios"]) == {
        "requests_per_trigger_per_poll",
        "lag_steady_p99",
        "rss_per_trigger",
        "fulfilment_to_event_p50",
    }
    table = "\n".join(lines[:-1])
    for label in ("requests per trigger per poll", "event-loop lag p99, steady", "RSS per trigger"):
        assert label in table
    assert "fulfilment -> trigger event p50" in table
