"""``up42-emulator`` with today's account: the flags, the start-up text and its two ready connections."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.emulator.current.conftest import TOKEN_PATH
from up42_provider.emulator.cli import announcement
from up42_provider.emulator.config import EmulatorConfig

BIN = Path(sys.executable).parent


def _connections(lines: list[str]) -> list[dict]:
    return [
        json.loads(line.split("=", 1)[1].strip().strip("'"))
        for line in lines
        if "AIRFLOW_CONN_UP42_DEFAULT=" in line
    ]


def test_announcement_gives_a_ready_connection_per_generation():
    config = EmulatorConfig(account_username="ada@example.com", account_password="s3cret")
    old, new = _connections(announcement(config, "http://127.0.0.1:8042"))
    assert old == {
        "conn_type": "up42",
        "host": "http://127.0.0.1:8042",
        "login": config.project_id,
        "password": config.project_api_key,
        "extra": {},
    }
    assert new == {
        "conn_type": "up42",
        "host": "http://127.0.0.1:8042",
        "login": "ada@example.com",
        "password": "s3cret",
        "extra": {"api_generation": "current"},
    }


def test_cli_account_flags_sign_in_with_the_password_grant():
    proc = subprocess.Popen(
        [
            str(BIN / "up42-emulator"),
            "--port",
            "0",
            "--account-username",
            "ada@example.com",
            "--account-password",
            "pw-1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(_connections(lines)) < 2:
            line = proc.stdout.readline()
            assert line, "emulator exited early:\n" + "".join(lines)
            lines.append(line)
        old, new = _connections(lines)
        assert old["extra"] == {}
        assert new["login"] == "ada@example.com" and new["password"] == "pw-1"
        form = {"grant_type": "password", "client_id": "up42-sdk", "username": new["login"]}
        ok = requests.post(f"{new['host']}{TOKEN_PATH}", data={**form, "password": "pw-1"}, timeout=10)
        assert ok.status_code == 200
        bad = requests.post(f"{new['host']}{TOKEN_PATH}", data={**form, "password": "pw-2"}, timeout=10)
        assert bad.status_code == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0


def test_cli_rejects_an_empty_account_password():
    out = subprocess.run(
        [str(BIN / "up42-emulator"), "--account-password", ""], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 2
    assert "account_password" in out.stderr
