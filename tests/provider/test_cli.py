"""The Airflow CLI sees the provider and tests a UP42 connection against the emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

AIRFLOW = str(Path(sys.executable).parent / "airflow")


def _airflow(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTEST"))}
    base.update(AIRFLOW_HOME=str(tmp_path), AIRFLOW__CORE__TEST_CONNECTION="Enabled", **env)
    return subprocess.run([AIRFLOW, *args], capture_output=True, text=True, env=base, timeout=240)


def test_connections_test_succeeds_and_fails_clearly(emulator, tmp_path):
    good = emulator.airflow_connection()
    bad = json.loads(good)
    bad["password"] = "not-the-key"
    out = _airflow(
        ["connections", "test", "up42_default"],
        tmp_path,
        AIRFLOW_CONN_UP42_DEFAULT=good,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Connection success!" in out.stdout
    out = _airflow(
        ["connections", "test", "up42_bad"],
        tmp_path,
        AIRFLOW_CONN_UP42_BAD=json.dumps(bad),
    )
    assert "Connection success!" not in out.stdout
    text = out.stdout + out.stderr
    assert "credentials" in text and "not-the-key" not in text
