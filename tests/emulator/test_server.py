"""The emulator as a process and as an in-process server: start, announce, serve many clients, stop."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import requests

from up42_provider.emulator.config import EmulatorConfig
from up42_provider.emulator.server import EmulatorServer

BIN = Path(sys.executable).parent


def test_cli_announces_url_and_credentials_and_stops_on_sigterm():
    proc = subprocess.Popen(
        [
            str(BIN / "up42-emulator"),
            "--port",
            "0",
            "--speed",
            "10",
            "--project-api-key",
            "k-123",
            "--seed",
            "3",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, "emulator exited early:\n" + "".join(lines)
            lines.append(line)
            if "AIRFLOW_CONN_UP42_DEFAULT" in line:
                break
        text = "".join(lines)
        base = next(line.split()[-1] for line in lines if "listening on" in line)
        assert base.startswith("http://127.0.0.1:")
        assert "k-123" in text and "project id:" in text
        token = requests.post(
            f"{base}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(EmulatorConfig().project_id, "k-123"),
            timeout=10,
        )
        assert token.status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0


def test_cli_rejects_bad_speed():
    out = subprocess.run(
        [str(BIN / "up42-emulator"), "--speed", "0"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 2
    assert "--speed must be > 0" in out.stderr


def test_cli_rejects_unknown_download_hash():
    out = subprocess.run(
        [str(BIN / "up42-emulator"), "--download-hashes", "crc32c,sha1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "download_hashes must name crc32c and/or md5, got ['crc32c', 'sha1']" in out.stderr


def test_in_process_server_uses_a_free_port_and_shuts_down_cleanly():
    with EmulatorServer(EmulatorConfig()) as first, EmulatorServer(EmulatorConfig()) as second:
        assert first.port != second.port
        url = first.url
        assert requests.get(f"{url}/_emulator/info", timeout=5).status_code == 200
    try:
        requests.get(f"{url}/_emulator/info", timeout=2)
        raise AssertionError("server still answering after stop")
    except requests.ConnectionError:
        pass


def test_serves_hundreds_of_concurrent_requests(emulator):
    async def run() -> list[int]:
        limits = httpx.Limits(max_connections=300, max_keepalive_connections=300)
        async with httpx.AsyncClient(timeout=30, limits=limits) as client:
            token = (
                await client.post(
                    f"{emulator.url}/oauth/token",
                    data={"grant_type": "client_credentials"},
                    auth=(emulator.config.project_id, emulator.config.project_api_key),
                )
            ).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            url = f"{emulator.url}/projects/{emulator.config.project_id}"
            answers = await asyncio.gather(*(client.get(url, headers=headers) for _ in range(300)))
            return [r.status_code for r in answers]

    statuses = asyncio.run(run())
    assert statuses == [200] * 300


def test_control_api_sets_fault_rules(fresh_emulator):
    url = fresh_emulator.url
    r = requests.post(
        f"{url}/_emulator/faults",
        json={"rules": [{"kind": "error", "count": 2, "path": "^/projects/"}]},
        timeout=5,
    )
    assert r.status_code == 200 and r.json()["rules"][0]["count"] == 2
    bad = requests.post(f"{url}/_emulator/faults", json={"rules": [{"kind": "nope"}]}, timeout=5)
    assert bad.status_code == 400 and "unknown fault kind" in bad.json()["error"]
    assert os.environ.get("NO_PROXY")
