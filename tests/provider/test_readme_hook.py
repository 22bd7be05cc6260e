"""The README's hook section works as written: today's search → order → wait → download → processing
job runs against an emulator, and the live-connection examples give today's hosts of their region."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from up42_provider.emulator.server import EmulatorServer
from up42_provider.hooks.up42 import UP42Hook

REPO = Path(__file__).resolve().parents[2]
TODAY = "#### Today's API: search → order → wait → download → processing job"
LIVE = "#### Connecting to the live UP42 with an account"


def block(marker: str, language: str) -> str:
    text = (REPO / "README.md").read_text()
    after = text[text.index(marker) :]
    return re.search(rf"```{language}\n(.*?)```", after, flags=re.S).group(1)  # type: ignore[union-attr]


def test_todays_hook_walkthrough_runs_against_the_emulator(
    fresh_emulator: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
):
    code = block(TODAY, "python")
    assert all(
        step in code for step in ("search(", "place_order_v2(", "get_order(", "download(", "execute_process(")
    )
    monkeypatch.setenv("AIRFLOW_CONN_UP42_DEFAULT", fresh_emulator.airflow_connection("current"))
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md (hook walkthrough)", "exec"), {"__name__": "readme"})
    (tif,) = (tmp_path / "output").glob("*.tif")
    assert tif.stat().st_size > 0 and tif.read_bytes()[:2] in (b"II", b"MM")  # a GeoTIFF
    printed = capsys.readouterr().out.split()
    assert printed[0] == str(tif) and printed[1] == str(tif.stat().st_size) and len(printed) >= 3


@pytest.mark.parametrize("index", [0, 1])
def test_live_connection_examples_give_the_regions_hosts(index: int, monkeypatch: pytest.MonkeyPatch):
    exports = re.findall(r"export AIRFLOW_CONN_UP42_DEFAULT='(.*?)'\n", block(LIVE, "bash"))
    assert len(exports) == 2
    value = exports[index].replace("<password>", "a-long-password")
    monkeypatch.setenv("AIRFLOW_CONN_UP42_DEFAULT", value)
    settings = UP42Hook().settings
    region = "sa." if '"sa"' in value or "region=sa" in value else ""
    assert settings.generation == "current" and settings.username == "you@example.com"
    assert settings.password == "a-long-password"
    assert (settings.base_url, settings.auth_url) == (
        f"https://api.{region}up42.com",
        f"https://auth.{region}up42.com",
    )
