"""The Airflow CLI sees the provider and tests a UP42 connection against the emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.examples.test_import import EXPECTED

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
    # ... and which project it reached.
    assert "Connected to UP42 project" in out.stdout + out.stderr
    assert emulator.config.project_id in out.stdout + out.stderr
    out = _airflow(
        ["connections", "test", "up42_bad"],
        tmp_path,
        AIRFLOW_CONN_UP42_BAD=json.dumps(bad),
    )
    assert "Connection success!" not in out.stdout
    text = out.stdout + out.stderr
    assert "credentials" in text and "not-the-key" not in text


EXAMPLES_BUNDLE = "airflow-provider-up42-example-dags"


def _errors(text: str) -> list[str]:
    """Error-level log records (Airflow's own examples log warnings with tracebacks: not ours)."""
    return [line for line in text.splitlines() if "[error" in line or "ERROR" in line]


def test_fresh_home_cli_is_clean_and_lists_the_example_dags(tmp_path):
    """``load_examples`` is on by default: Airflow looks for our examples in ``airflow_provider_up42``."""
    for args in (["db", "migrate"], ["dags", "reserialize"]):
        out = _airflow(args, tmp_path)
        assert out.returncode == 0, out.stderr[-3000:]
        assert not _errors(out.stdout + out.stderr), _errors(out.stdout + out.stderr)
    out = _airflow(["dags", "list", "-o", "json"], tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert not _errors(out.stdout + out.stderr), _errors(out.stdout + out.stderr)
    listed = json.loads(next(line for line in out.stdout.splitlines() if line.startswith("[")))
    ours = {d["dag_id"]: d for d in listed if d["dag_id"].startswith("up42_")}
    assert set(ours) == EXPECTED
    assert {d["bundle_name"] for d in ours.values()} == {EXAMPLES_BUNDLE}
