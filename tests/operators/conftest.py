"""Fixtures of the operator tests.

Two ways to run an operator, both against the in-process emulator over real HTTP:

* ``execute(op, ctx)`` in pytest's process with a minimal task-instance stand-in - fast, for input
  validation, idempotency and anything that needs the emulator's state in between;
* ``airflow_worker.run_dag(...)`` - real Airflow 3 ``dag.test()`` of tests/dags/ops_*.py in the
  session's worker process (tests/airflow_env.py): rendering, XCom, deferral, retries, mapping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.airflow_env import connection_env
from up42_provider.emulator.server import EmulatorServer
from up42_provider.hooks.up42 import UP42Hook
from up42_provider.utils.geometry import example_aoi

BERLIN = example_aoi("Berlin")["features"][0]["geometry"]
WASHINGTON = example_aoi("Washington")["features"][0]["geometry"]
DATA_BLOCK, PROCESSING_BLOCK = "esa-s2-l2a-gtiff-visual", "tiling"


class FakeTI:
    """What the operators use of a RuntimeTaskInstance: ids and XCom."""

    def __init__(
        self, task_id: str, map_index: int = -1, try_number: int = 1, dag_id: str = "ops_unit"
    ) -> None:
        self.dag_id = dag_id
        self.task_id = task_id
        self.map_index = map_index
        self.try_number = try_number
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value

    def xcom_pull(self, task_ids: Any = None, key: str = "return_value", map_indexes: Any = None) -> Any:
        return self.xcom.get(key)


def make_context(task_id: str = "task", run_id: str = "manual__unit", map_index: int = -1) -> dict[str, Any]:
    return {"ti": FakeTI(task_id, map_index), "run_id": run_id}


def execute(operator: Any, context: dict[str, Any] | None = None) -> Any:
    """Render nothing, just run ``execute`` like a worker would after rendering."""
    return operator.execute(context or make_context(operator.task_id))


class Up42:
    """The emulator a test uses, plus a hook on it (the connection is in the environment)."""

    def __init__(self, server: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
        self.server = server
        monkeypatch.setenv("AIRFLOW_CONN_UP42_DEFAULT", server.airflow_connection(max_retry_wait=5))
        self.hook = UP42Hook()

    @property
    def env(self) -> dict[str, str]:
        return connection_env(self.server, max_retry_wait=5)

    def product(self, title: str, configuration: str) -> str:
        return self.hook.get_data_products(basic=True)[title]["data_products"][configuration]

    @property
    def archive_product(self) -> str:
        return self.product("Pléiades", "Display")

    @property
    def tasking_product(self) -> str:
        return self.product("Pléiades Tasking", "Standard")

    def image_ids(self, n: int = 1) -> list[str]:
        from up42_provider.utils import parameters as P

        body = P.search_parameters(BERLIN, ["phr"], "2022-01-01", "2022-12-31", limit=n)
        return [f["properties"]["id"] for f in self.hook.search(body)["features"]]

    def orders(self, tag: str | None = None) -> list[dict[str, Any]]:
        records = self.server.state.orders.records.values()
        return [r.order for r in records if tag is None or tag in r.order["tags"]]

    def jobs(self, name_part: str = "") -> list[Any]:
        return [j for j in self.server.state.jobs.all() if name_part in j.name]

    @property
    def balance(self) -> int:
        return self.server.state.credits.balance

    @property
    def requests(self) -> int:
        return self.server.state.requests_seen


@pytest.fixture
def up42(emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> Up42:
    """The shared session emulator (speed 100)."""
    return Up42(emulator, monkeypatch)


@pytest.fixture
def fresh_up42(fresh_emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> Up42:
    """A private emulator (parametrise ``fresh_emulator`` indirectly for speed/limits)."""
    return Up42(fresh_emulator, monkeypatch)


def wait_for(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.05)
    return value
