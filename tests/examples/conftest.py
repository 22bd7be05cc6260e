"""Fixtures of the example-DAG tests: a private emulator and a dag.test worker whose DAGs folder is
example_dags/ (parsed once, with ``UP42_EXAMPLE_OUTPUT`` in a temporary folder and a short poll interval,
so a stray default never writes outside the test's folders and deferred waits end within a second)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.airflow_env import REPO, AirflowWorker, DagTestResult, connection_env
from up42_provider.emulator.config import EmulatorConfig
from up42_provider.emulator.server import EmulatorServer

EXAMPLE_DAGS = REPO / "example_dags"
POLL_INTERVAL = "0.5"


def example_env(server: EmulatorServer) -> dict[str, str]:
    """Both connections of the examples: ``up42_default`` (2023 project) and ``up42_current``
    (today's account) on the one emulator."""
    return {
        **connection_env(server),
        "AIRFLOW_CONN_UP42_CURRENT": server.airflow_connection("current"),
    }


@pytest.fixture(scope="module")
def example_emulator() -> Iterator[EmulatorServer]:
    """Its own emulator: the fan-out example needs the project's job slots to itself."""
    with EmulatorServer(EmulatorConfig(speed=100.0, seed=11)) as server:
        yield server


@pytest.fixture(scope="module")
def default_output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("example-defaults")


@pytest.fixture(scope="module")
def example_worker(default_output: Path) -> Iterator[AirflowWorker]:
    env = {"UP42_EXAMPLE_OUTPUT": str(default_output), "UP42_EXAMPLE_POLL_INTERVAL": POLL_INTERVAL}
    with AirflowWorker(dags_folder=EXAMPLE_DAGS, env=env, warm_up_dag=None) as worker:
        yield worker


@pytest.fixture
def run_example(example_worker: AirflowWorker, example_emulator: EmulatorServer):
    """``run_example(dag_id, **conf)``: dag.test of an example DAG; asserts the run succeeded."""

    def run(dag_id: str, **conf: Any) -> DagTestResult:
        result = example_worker.run_dag(dag_id, conf=conf, env=example_env(example_emulator), timeout=240)
        assert result.error is None, f"{result.error}\n{result.log[-4000:]}"
        failed = {task: result.errors(task) for task in result.runs if result.errors(task)}
        assert result.state == "success", f"{result.tasks} {failed}\n{result.log[-6000:]}"
        return result

    return run
