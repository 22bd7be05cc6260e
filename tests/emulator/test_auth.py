"""E01 and the bearer check (API.md §3, §12.1.1-2) over real HTTP."""

from __future__ import annotations

import requests

from tests.conftest import RawClient


def test_token_answer_has_both_token_fields_and_no_error_key(emulator):
    r = requests.post(
        f"{emulator.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(emulator.config.project_id, emulator.config.project_api_key),
        timeout=10,
    )
    assert r.status_code == 200
    body = r.json()
    assert "error" not in body
    assert body["access_token"] == body["data"]["accessToken"]
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == emulator.config.token_lifetime


def test_wrong_credentials_get_401_without_token_or_error_key(emulator):
    r = requests.post(
        f"{emulator.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(emulator.config.project_id, "wrong-key"),
        timeout=10,
    )
    assert r.status_code == 401
    body = r.json()
    assert "access_token" not in body and "error" not in body


def test_api_call_without_token_is_401_envelope(emulator):
    r = requests.get(f"{emulator.url}/projects/{emulator.config.project_id}", timeout=10)
    assert r.status_code == 401
    assert r.json()["data"] is None and r.json()["error"]["code"] == 401


def test_v2_call_without_token_is_401_problem(emulator):
    r = requests.get(f"{emulator.url}/v2/assets", timeout=10)
    assert r.status_code == 401
    assert r.json()["status"] == 401 and "title" in r.json()


def test_forged_token_is_rejected(api: RawClient):
    token = api.session.headers["Authorization"].split()[1]
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    r = requests.get(
        f"{api.base}/projects/{api.project_id}", headers={"Authorization": f"Bearer {forged}"}, timeout=10
    )
    assert r.status_code == 401


def test_expired_token_is_rejected_then_renewed(fresh_api: RawClient):
    assert fresh_api.get(f"/projects/{fresh_api.project_id}").status_code == 200
    fresh_api.server.state.clock.advance(fresh_api.server.config.token_lifetime + 1)
    r = fresh_api.get(f"/projects/{fresh_api.project_id}")
    assert r.status_code == 401
    assert r.json()["error"]["message"] == "Token has expired"
    fresh_api.authenticate()
    assert fresh_api.get(f"/projects/{fresh_api.project_id}").status_code == 200


def test_tokens_control_lists_every_issued_token_of_both_generations(fresh_api: RawClient):
    """``/_emulator/tokens`` is what the fault run scans its logs for: it must miss no token."""
    from tests.emulator.current.conftest import password_grant

    first = fresh_api.session.headers["Authorization"].split()[1]
    second = fresh_api.authenticate()
    current = password_grant(fresh_api.server).json()
    r = requests.get(f"{fresh_api.base}/_emulator/tokens", timeout=10)
    assert r.status_code == 200
    assert r.json()["tokens"] == [first, second, current["access_token"], current["refresh_token"]]
