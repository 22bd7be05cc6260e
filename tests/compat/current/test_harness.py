"""The 4.3.0 harness: the side venv holds the pinned, unmodified SDK, and the driver reaches the emulator.

These run whatever generation the emulator serves; the flows (test_up42_sdk_current.py) need today's.
"""

from __future__ import annotations

from tests.compat.current import sdk_venv
from tests.compat.current.conftest import TOKEN_PATH, USERINFO_PATH, account, serves_current_generation


def _pins(text: str) -> set[str]:
    return {line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#")}


def test_side_venv_holds_exactly_the_pinned_sdk(sdk_python, run_flow, current_emulator):
    import subprocess

    frozen = subprocess.run(
        [str(sdk_python), "-m", "pip", "freeze"], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    assert _pins(frozen) == _pins(sdk_venv.CONSTRAINTS.read_text())
    assert "apache-airflow" not in frozen.lower()  # built from the system python, not from .venv
    probe = run_flow(current_emulator, "probe").expect_ok()
    assert probe["version"] == "4.3.0"
    assert probe["endpoint"] == f"{current_emulator.url}/x"
    assert probe["token_endpoint"] == current_emulator.url + TOKEN_PATH
    assert probe["user_info_endpoint"] == current_emulator.url + USERINFO_PATH


def test_side_venv_is_reused_while_its_pins_are_unchanged(sdk_python):
    stamp = sdk_python.parent.parent / sdk_venv.STAMP_NAME
    before = stamp.stat().st_mtime_ns
    assert sdk_venv.ensure() == sdk_python
    assert stamp.stat().st_mtime_ns == before


def test_sdk_login_reaches_the_emulators_token_endpoint(run_flow, current_emulator):
    """The SDK's first request is the password grant on the emulator; without today's generation it fails.

    The 2023 emulator has no such route: its bearer check answers 401 before routing (404 once that
    check lets unknown paths through), and the SDK turns either into ``WrongCredentials``.
    """
    run = run_flow(current_emulator, "login")
    token_call = run.requests[0]
    assert (token_call["method"], token_call["path"]) == ("POST", TOKEN_PATH)
    if not serves_current_generation(current_emulator):
        assert token_call["status"] in (401, 404)
        assert run.error["type"] == "up42.http.oauth.WrongCredentials"
        assert len(run.requests) == 1  # the http token URL is not retried, and userinfo is never asked
    else:
        assert run.expect_ok()["workspace_id"]
    _username, password = account(current_emulator)
    assert password not in run.raw and password not in run.log
