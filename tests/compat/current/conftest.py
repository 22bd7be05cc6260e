"""Fixtures of the up42-py 4.3.0 suite: the side venv, an emulator, and one driver run per flow.

The SDK runs in a subprocess with the side venv's python (tests/compat/current/sdk_venv.py) and
speaks real HTTP to an emulator that runs in pytest's process on 127.0.0.1, so tests keep the
emulator's config and state at hand. ``run_flow`` returns what the driver wrote (see driver.py).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.compat.current import sdk_venv
from up42_provider.emulator.config import EmulatorConfig
from up42_provider.emulator.server import EmulatorServer

DRIVER = Path(__file__).with_name("driver.py")
TOKEN_PATH = "/realms/public/protocol/openid-connect/token"
USERINFO_PATH = "/realms/public/protocol/openid-connect/userinfo"
FLOW_TIMEOUT = 420  # seconds one driver run may take (the driver stops its flow itself after 300 s)
# The account the emulator accepts unless configured otherwise (``--account-username/--account-password``).
DEFAULT_USERNAME = "emulator@up42.example"
DEFAULT_PASSWORD = "emulator-password"
NOT_CURRENT = (
    "the emulator does not serve today's UP42 generation (up42-py 4.3.0): it has no route for "
    f"POST {TOKEN_PATH} (404, or the v1 bearer check's 401 'Missing bearer token')"
)


def account(server: EmulatorServer) -> tuple[str, str]:
    """The emulator's account credentials (``EmulatorConfig.account_username/account_password``)."""
    return (
        getattr(server.config, "account_username", DEFAULT_USERNAME),
        getattr(server.config, "account_password", DEFAULT_PASSWORD),
    )


def serves_current_generation(server: EmulatorServer) -> bool:
    """One probe: does the emulator route the Keycloak-style token endpoint of today's generation?

    Without that route the path is either unknown (404) or refused by the 2023 generation's bearer
    check, which guards every path it does not know to be public (401 in the v1 envelope,
    ``{"data": null, "error": {...}}``). Any other answer, a Keycloak ``invalid_grant`` 401 for
    wrong credentials included, means the route exists, and the flows run (and fail loudly).
    """
    username, password = account(server)
    answer = requests.post(
        f"{server.url}{TOKEN_PATH}",
        data={"grant_type": "password", "username": username, "password": password, "client_id": "up42-sdk"},
        timeout=10,
    )
    if answer.status_code == 404:
        return False
    try:
        body = answer.json()
    except ValueError:
        return True
    v1_refusal = answer.status_code == 401 and isinstance(body, dict) and {"data", "error"} <= body.keys()
    return not v1_refusal


def password_token(server: EmulatorServer) -> str:
    """A bearer token obtained as the SDK does (password grant), for the tests' own cross-checks."""
    username, password = account(server)
    answer = requests.post(
        f"{server.url}{TOKEN_PATH}",
        data={
            "grant_type": "password",
            "username": username,
            "password": password,
            "client_id": "up42-sdk",
            "scope": "openid",
        },
        timeout=10,
    )
    answer.raise_for_status()
    return answer.json()["access_token"]


@dataclass
class FlowRun:
    """What one driver run reported: its result or error, and every HTTP exchange it made."""

    flow: str
    ok: bool
    result: Any
    error: dict[str, Any] | None
    requests: list[dict[str, Any]]
    log: str = field(repr=False)
    raw: str = field(repr=False)

    def calls(self, method: str, path: str, *, prefix: bool = False) -> list[dict[str, Any]]:
        return [
            r
            for r in self.requests
            if r["method"] == method and (r["path"].startswith(path) if prefix else r["path"] == path)
        ]

    def expect_ok(self) -> Any:
        """The flow's result, or a failure that names the SDK error and the last requests it sent."""
        if not self.ok:
            trail = "\n".join(f"  {r['method']} {r['path']} -> {r['status']}" for r in self.requests[-15:])
            error = self.error or {}
            pytest.fail(
                f"flow {self.flow!r} raised {error.get('type')}: {error.get('message')}\n"
                f"last requests:\n{trail}\n{error.get('traceback', '')}",
                pytrace=False,
            )
        return self.result


@pytest.fixture(scope="session")
def sdk_python() -> Path:
    """The side venv's python (built on first use, then cached)."""
    try:
        return sdk_venv.ensure()
    except sdk_venv.SdkVenvError as exc:
        pytest.fail(f"cannot build the up42-py 4.3.0 side venv: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def run_flow(sdk_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[..., FlowRun]:
    def run(server: EmulatorServer, flow: str) -> FlowRun:
        workdir = tmp_path_factory.mktemp(f"sdk430-{flow}")
        out = workdir / "result.json"
        log = workdir / "driver.log"
        username, password = account(server)
        env = {
            key: value
            for key, value in os.environ.items()
            if key in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE")
        }
        env.update(
            UP42_EMULATOR_USERNAME=username,
            UP42_EMULATOR_PASSWORD=password,
            UP42_DISABLE_VERSION_CHECK="true",
            NO_PROXY="127.0.0.1,localhost",
            no_proxy="127.0.0.1,localhost",
            PYTHONDONTWRITEBYTECODE="1",
        )
        with open(log, "w") as stderr:
            try:
                subprocess.run(
                    [
                        str(sdk_python),
                        str(DRIVER),
                        flow,
                        "--base",
                        server.url,
                        "--workdir",
                        str(workdir),
                        "--out",
                        str(out),
                    ],
                    stdout=stderr,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=workdir,
                    timeout=FLOW_TIMEOUT,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                pytest.fail(
                    f"flow {flow!r} did not finish within {FLOW_TIMEOUT} s (log: {log})", pytrace=False
                )
        if not out.exists():
            pytest.fail(f"the driver wrote no result for {flow!r}:\n{log.read_text()[-4000:]}", pytrace=False)
        raw = out.read_text()
        report = json.loads(raw)
        return FlowRun(
            flow, report["ok"], report["result"], report["error"], report["requests"], log.read_text(), raw
        )

    return run


def _emulator(**overrides: Any) -> EmulatorServer:
    return EmulatorServer(EmulatorConfig(**{"speed": 100.0, "seed": 7, **overrides}))


@pytest.fixture(scope="module")
def current_emulator() -> Iterator[EmulatorServer]:
    """One fast emulator per test module (flows place their own orders, so they do not interfere)."""
    with _emulator() as server:
        yield server


@pytest.fixture(scope="module")
def require_current(current_emulator: EmulatorServer) -> EmulatorServer:
    """Skip the module, with one clear reason, while the emulator lacks today's generation."""
    if not serves_current_generation(current_emulator):
        pytest.skip(NOT_CURRENT)
    return current_emulator


@pytest.fixture
def private_emulator(
    request: pytest.FixtureRequest, require_current: EmulatorServer
) -> Iterator[EmulatorServer]:
    """A private emulator (parametrise indirectly with config overrides) for flows that need isolation."""
    with _emulator(**(getattr(request, "param", None) or {})) as server:
        yield server
