"""Shared fixtures: a real emulator on 127.0.0.1 (free port), an authenticated raw client, the
session's dag.test worker (tests/airflow_env.py), and the UP42 "world" of the wait tests (orders and
jobs on an emulator, or on a frozen one whose clock only the test moves)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Any

import pytest
import requests

from tests.airflow_env import AirflowWorker, connection_env
from up42_provider.emulator.config import EmulatorConfig
from up42_provider.emulator.server import EmulatorServer
from up42_provider.hooks.up42 import UP42Hook
from up42_provider.utils import parameters as P
from up42_provider.utils.geometry import example_aoi

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


# -- the wait tests' world: orders and jobs to wait for (sensors, triggers, waiters) ----------------------

BERLIN = example_aoi("Berlin")
DATA_BLOCK, PROCESSING_BLOCK = "esa-s2-l2a-gtiff-visual", "tiling"
FROZEN = 0.01  # emulator speed at which nothing finishes during a test unless the clock is moved
TERMINAL_ORDER_SECONDS = 200  # nominal seconds after which an archive order is terminal


class World:
    """Orders and jobs on one emulator, made through the hook (real HTTP)."""

    def __init__(self, server: EmulatorServer, monkeypatch: pytest.MonkeyPatch, **extra: Any) -> None:
        self.server = server
        monkeypatch.setenv("AIRFLOW_CONN_UP42_DEFAULT", server.airflow_connection(**extra))
        self.hook = UP42Hook()
        self._jobs = 0

    def env(self, **extra: Any) -> dict[str, str]:
        """The env of a DAG run in the worker: the connection to this emulator."""
        return connection_env(self.server, **extra)

    @cached_property
    def order_parameters(self) -> dict[str, Any]:
        hook = self.hook
        products = hook.get_data_products(basic=True)
        product_id = next(v for v in products.values() if v["collection"] == "phr")["data_products"][
            "Display"
        ]
        body = P.search_parameters(BERLIN, ["phr"], "2022-01-01", "2022-12-31", limit=1)
        image_id = hook.search(body)["features"][0]["properties"]["id"]
        return hook.construct_catalog_order_parameters(product_id, image_id, aoi=BERLIN)

    def order(self, fail: bool = False) -> str:
        params = dict(self.order_parameters)
        if fail:
            params["tags"] = ["emulator:fail"]
        return self.hook.place_order(params)["id"]

    def orders(self, n: int, fail: bool = False) -> list[str]:
        return [self.order(fail) for _ in range(n)]

    @cached_property
    def workflow(self) -> tuple[str, dict[str, Any]]:
        workflow = self.hook.create_workflow("wait-tests", "jobs for the wait tests", use_existing=False)
        self.hook.add_workflow_tasks(workflow["id"], [DATA_BLOCK, PROCESSING_BLOCK])
        inputs = self.hook.construct_job_parameters(
            workflow["id"],
            geometry=BERLIN,
            geometry_operation="intersects",
            start_date="2022-01-01",
            end_date="2022-06-30",
            limit=1,
        )
        return workflow["id"], inputs

    def job(self, fail: bool = False, dry_run: bool = True) -> str:
        workflow_id, inputs = self.workflow
        self._jobs += 1
        name = f"wait-{self._jobs}-{time.monotonic_ns()}" + ("-emulator-fail" if fail else "")
        return self.hook.run_job(workflow_id, inputs, name=name, dry_run=dry_run)["id"]

    def advance(self, nominal: float = TERMINAL_ORDER_SECONDS) -> None:
        """Move the emulator's clock by ``nominal`` UP42 seconds (frozen emulators only progress so)."""
        self.server.state.clock.advance(self.server.config.duration(nominal))
        self.server.state.advance()

    def order_status(self, order_id: str) -> str:
        return self.hook.get_order(order_id)["status"]

    def wait_until(self, check: Callable[[], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout} s")
            time.sleep(0.05)

    @contextmanager
    def advance_after_requests(self, n: int, nominal: float = TERMINAL_ORDER_SECONDS, delay: float = 0.3):
        """Move the clock once the emulator has seen ``n`` more requests (e.g. a sensor's first
        check), so the wait has to defer or poke again before it can see the change."""
        start = self.server.state.requests_seen
        stop = threading.Event()

        def run() -> None:
            while not stop.is_set() and self.server.state.requests_seen < start + n:
                time.sleep(0.02)
            if not stop.wait(delay):
                self.advance(nominal)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(5)


def _frozen(overrides: dict[str, Any] | None = None) -> EmulatorConfig:
    return EmulatorConfig(**{"speed": FROZEN, "seed": 11, **(overrides or {})})


@pytest.fixture
def world(emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> World:
    """The shared session emulator (speed 100: orders ~1 s, dry-run jobs ~0.1 s)."""
    return World(emulator, monkeypatch)


@pytest.fixture
def frozen_world(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[World]:
    """A private emulator at speed 0.01: nothing changes unless the test moves the clock."""
    extra = getattr(request, "param", {}) or {}
    with EmulatorServer(_frozen()) as server:
        yield World(server, monkeypatch, **extra)
