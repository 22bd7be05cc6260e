"""System-test fixtures: one real Airflow topology per module, its diagnostics dumped when a test fails."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.system.topology import AirflowTopology

HERE = Path(__file__).parent
# The shipped example DAGs, with their default Params. Tasking and the fan-out are dag.test-ed in
# tests/examples only: tasking waits minutes for its acquisition, the fan-out competes for job slots.
DEFAULT_DAGS_FOLDER = HERE.parent.parent / "example_dags"
# Both generations: the 2023 archive and processing examples, today's archive-to-processing pipeline
# and today's tasking (its feasibility study and quotation decided by the task, see DEFAULT_DAG_CONF).
DEFAULT_DAG_IDS = (
    "up42_archive_imagery",
    "up42_processing",
    "up42_current_archive_processing",
    "up42_current_tasking",
)
DEFAULT_DAG_CONF: dict[str, dict[str, Any]] = {
    "up42_current_tasking": {
        "feasibility_option": 0,
        "quotation_decision": "ACCEPTED",
        "order_tags": ["airflow-example", "emulator:feasibility"],  # the emulator asks for a study
    },
}
DEFAULT_RESTART_DAG_ID = "up42_archive_imagery"  # its order sensor defers for ~35 s at speed 2
# Every process of the topology gets these: the examples write below a temporary folder, and their
# deferred waits poll every few seconds instead of every minute.
DEFAULT_EXAMPLE_POLL_INTERVAL = "3"


def _ids(name: str) -> tuple[str, ...] | None:
    value = os.environ.get(name)
    if value is None:
        return None
    return tuple(part.strip() for part in value.split(",") if part.strip())


@dataclass(frozen=True)
class SystemConfig:
    """What the system test runs; every field comes from an environment variable.

    UP42_SYSTEM_DAGS_FOLDER        DAGs folder mounted into the topology (default: example_dags)
    UP42_SYSTEM_DAG_IDS            comma list of DAGs to trigger (default: DEFAULT_DAG_IDS, or
                                   every DAG of another folder)
    UP42_SYSTEM_DEFERRED_DAG_IDS   DAGs whose run must show a deferred task (default: all DAGs run; "" none)
    UP42_SYSTEM_RESTART_DAG_ID     DAG for the triggerer restart (default: ours; else one seen deferring
                                   on a UP42 trigger, else the first of the deferred DAGs)
    UP42_SYSTEM_EMULATOR_SPEED     emulator time factor (default 2: an order takes ~35 s, a job ~24 s)
    UP42_SYSTEM_RUN_TIMEOUT        seconds a DAG run may take (default 420)
    UP42_SYSTEM_DAG_CONF           JSON {dag_id: conf} passed when triggering (default: DEFAULT_DAG_CONF)
    """

    dags_folder: Path
    dag_ids: tuple[str, ...] | None
    deferred_dag_ids: tuple[str, ...] | None
    restart_dag_id: str | None
    emulator_speed: float
    run_timeout: float
    dag_conf: dict[str, dict[str, Any]]

    @classmethod
    def from_env(cls) -> SystemConfig:
        folder = Path(os.environ.get("UP42_SYSTEM_DAGS_FOLDER") or DEFAULT_DAGS_FOLDER).resolve()
        own = folder == DEFAULT_DAGS_FOLDER.resolve()
        return cls(
            dags_folder=folder,
            dag_ids=_ids("UP42_SYSTEM_DAG_IDS") or (DEFAULT_DAG_IDS if own else None),
            deferred_dag_ids=_ids("UP42_SYSTEM_DEFERRED_DAG_IDS"),
            restart_dag_id=os.environ.get("UP42_SYSTEM_RESTART_DAG_ID")
            or (DEFAULT_RESTART_DAG_ID if own else None),
            emulator_speed=float(os.environ.get("UP42_SYSTEM_EMULATOR_SPEED") or 2.0),
            run_timeout=float(os.environ.get("UP42_SYSTEM_RUN_TIMEOUT") or 420),
            dag_conf=json.loads(os.environ.get("UP42_SYSTEM_DAG_CONF") or "null")
            or (dict(DEFAULT_DAG_CONF) if own else {}),
        )


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="module")
def system_config() -> SystemConfig:
    return SystemConfig.from_env()


@pytest.fixture(scope="module")
def topology(
    system_config: SystemConfig, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AirflowTopology]:
    """Airflow api-server, scheduler, dag-processor, triggerer and the UP42 emulator, healthy.

    Stopped (every process, by process group) when the module ends, whatever happened.
    """
    if not system_config.dags_folder.is_dir():
        pytest.fail(f"DAGs folder {system_config.dags_folder} does not exist")
    home = tmp_path_factory.mktemp("airflow-home")
    started = time.monotonic()
    example_env = {
        "UP42_EXAMPLE_OUTPUT": os.environ.get("UP42_EXAMPLE_OUTPUT")
        or str(tmp_path_factory.mktemp("output")),
        "UP42_EXAMPLE_POLL_INTERVAL": os.environ.get("UP42_EXAMPLE_POLL_INTERVAL")
        or DEFAULT_EXAMPLE_POLL_INTERVAL,
    }
    airflow = AirflowTopology(
        home,
        system_config.dags_folder,
        emulator_speed=system_config.emulator_speed,
        extra_env=example_env,
    )
    try:
        airflow.start(timeout=360)
        print(
            f"\n[system] topology healthy after {time.monotonic() - started:.0f} s "
            f"(api {airflow.api_url}, emulator {airflow.emulator_url}, home {home})",
            flush=True,
        )
        yield airflow
    finally:
        airflow.stop()
        leftovers = airflow.survivors()
        print(
            f"\n[system] topology up {time.monotonic() - started:.0f} s; peak memory of all processes: "
            f"PSS {airflow.peak_pss_bytes / 2**20:.0f} MiB, RSS sum {airflow.peak_rss_bytes / 2**20:.0f} MiB",
            flush=True,
        )
    assert not leftovers, f"processes survived stop(): {leftovers}"


@pytest.fixture
def airflow(topology: AirflowTopology, request: pytest.FixtureRequest) -> Iterator[AirflowTopology]:
    """The module's topology; on a failed test its runs, process logs and task logs are printed."""
    yield topology
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(f"\n[system] diagnostics for {request.node.name}:\n{topology.describe()}", flush=True)
