"""Shared fixtures: a real emulator on 127.0.0.1 (free port) and an authenticated raw client."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import requests

from tests.airflow_env import AirflowWorker
from up42_provider.emulator.config import EmulatorConfig
from up42_provider.emulator.server import EmulatorServer

# Tests never leave loopback: make sure no proxy setting reroutes 127.0.0.1.
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
os.environ.setdefault("no_proxy", "127.0.0.1,localhost")


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorServer]:
    """One emulator for the session, fast enough that orders and jobs finish in seconds."""
    with EmulatorServer(EmulatorConfig(speed=100.0, seed=7)) as server:
        yield server


@pytest.fixture
def fresh_emulator(request: pytest.FixtureRequest) -> Iterator[EmulatorServer]:
    """A private emulator for tests that change global state (credits, faults, settings).

    Parametrise with ``@pytest.mark.parametrize("fresh_emulator", [{"speed": 5}], indirect=True)``.
    """
    overrides = getattr(request, "param", {}) or {}
    with EmulatorServer(EmulatorConfig(**{"speed": 100.0, "seed": 7, **overrides})) as server:
        yield server


class RawClient:
    """A thin requests wrapper for emulator tests: real HTTP, bearer token, no hook logic."""

    def __init__(self, server: EmulatorServer) -> None:
        self.server = server
        self.base = server.url
        self.session = requests.Session()
        self.project_id = server.config.project_id
        self.workspace_id = server.config.workspace_id
        self.authenticate()

    def authenticate(self) -> str:
        r = self.session.post(
            f"{self.base}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(self.server.config.project_id, self.server.config.project_api_key),
            timeout=10,
        )
        r.raise_for_status()
        token = r.json()["data"]["accessToken"]
        self.session.headers["Authorization"] = f"Bearer {token}"
        return token

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        url = path if path.startswith("http") else f"{self.base}{path}"
        kwargs.setdefault("timeout", 30)
        return self.session.request(method, url, **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs) -> requests.Response:
        return self.request("DELETE", path, **kwargs)


@pytest.fixture
def api(emulator: EmulatorServer) -> RawClient:
    return RawClient(emulator)


@pytest.fixture
def fresh_api(fresh_emulator: EmulatorServer) -> RawClient:
    return RawClient(fresh_emulator)


# -- real Airflow: the session's dag.test() worker (tests/airflow_env.py) ------------------------------


@pytest.fixture(scope="session")
def _airflow_worker_boot(request: pytest.FixtureRequest) -> Iterator[AirflowWorker | None]:
    """Boot the worker in the background at the first test here, if any selected test needs it."""
    if not any("airflow_worker" in getattr(item, "fixturenames", ()) for item in request.session.items):
        yield None
        return
    worker = AirflowWorker().launch()
    try:
        yield worker
    finally:
        worker.close()


@pytest.fixture(autouse=True)
def _boot_early(_airflow_worker_boot: AirflowWorker | None) -> None:
    """(Only activates the session fixture above.)"""


@pytest.fixture(scope="session")
def airflow_worker(_airflow_worker_boot: AirflowWorker | None) -> AirflowWorker:
    """The session's dag.test worker (private AIRFLOW_HOME, SQLite, DAGs folder tests/dags)."""
    assert _airflow_worker_boot is not None
    return _airflow_worker_boot.wait_ready()
