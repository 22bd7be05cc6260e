"""System test: the provider in a real Airflow 3 deployment (api-server, scheduler, dag-processor,
triggerer as separate processes, LocalExecutor, SQLite) against the UP42 emulator.

DAG runs are triggered through the REST API v2 and watched until they end; every task state seen is
recorded, so "the sensor deferred" is an observation, not an assumption. The triggerer is restarted
while a sensor is deferred: the run must still succeed, on the first try, with the trigger resumed by
the new triggerer. Point it at other DAGs with UP42_SYSTEM_* variables (see conftest.SystemConfig).
"""

from __future__ import annotations

import time

import pytest

from tests.system.conftest import SystemConfig
from tests.system.topology import AirflowTopology

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def dag_ids(topology: AirflowTopology, system_config: SystemConfig) -> list[str]:
    """The DAGs to run, parsed and unpaused (import errors fail here, with the stack trace)."""
    if system_config.dag_ids is None:
        ids = topology.discover_dag_ids(timeout=240)
    else:
        ids = list(system_config.dag_ids)
        topology.wait_for_dags(ids, timeout=240)
    assert ids, f"no DAG found in {system_config.dags_folder}"
    return ids


def deferred_dag_ids(config: SystemConfig, dag_ids: list[str]) -> list[str]:
    return list(dag_ids if config.deferred_dag_ids is None else config.deferred_dag_ids)


def restart_dag_id(airflow: AirflowTopology, config: SystemConfig, dag_ids: list[str]) -> str | None:
    """The configured DAG, else one seen deferring on a UP42 trigger, else the first expected to defer."""
    if config.restart_dag_id:
        return config.restart_dag_id
    up42 = [
        record.dag_id
        for record in airflow.runs.values()
        if any(c.startswith("up42_provider.") for c in record.trigger_classpaths.values())
    ]
    candidates = [*up42, *deferred_dag_ids(config, dag_ids)]
    return candidates[0] if candidates else None


def test_components_healthy(airflow: AirflowTopology) -> None:
    health = airflow.health()
    for component in ("metadatabase", "scheduler", "dag_processor", "triggerer"):
        assert health[component]["status"] == "healthy", health
    assert {"api-server", "scheduler", "dag-processor", "triggerer", "up42-emulator"} <= set(
        airflow.processes
    )
    assert all(p.running for p in airflow.processes.values())


def test_dag_runs_succeed_and_sensors_defer(
    airflow: AirflowTopology, dag_ids: list[str], system_config: SystemConfig
) -> None:
    started = time.monotonic()
    runs = [(dag_id, airflow.trigger_dag(dag_id, system_config.dag_conf.get(dag_id))) for dag_id in dag_ids]
    final = airflow.wait_for_runs(runs, timeout=system_config.run_timeout)
    records = {dag_id: airflow.record(dag_id, run_id) for dag_id, run_id in runs}
    print(f"\n[system] {len(runs)} runs finished in {time.monotonic() - started:.0f} s", flush=True)
    for record in records.values():
        print(f"[system]   {record.summary()}", flush=True)

    failed = [airflow.record(*key).summary() for key, state in final.items() if state != "success"]
    assert not failed, "runs failed:\n" + "\n".join(failed) + "\n" + airflow.task_log_tails()
    for record in records.values():
        unfinished = {t: s for t, s in record.task_states.items() if s[-1] not in ("success", "skipped")}
        assert not unfinished, f"{record.dag_id}: tasks not successful: {unfinished}"
    for dag_id in deferred_dag_ids(system_config, dag_ids):
        assert records[dag_id].deferred_tasks(), (
            f"no task of {dag_id} was seen deferred: {records[dag_id].summary()}"
        )
    for dag_id, record in records.items():
        print(f"[system]   {dag_id} triggers: {record.trigger_classpaths}", flush=True)
        if dag_id.startswith("up42_"):  # the example DAGs wait with the provider's sensors and operators
            assert record.trigger_classpaths, record.summary()
            assert all(c.startswith("up42_provider.triggers.") for c in record.trigger_classpaths.values())


def test_triggerer_restart_while_sensor_deferred(
    airflow: AirflowTopology, dag_ids: list[str], system_config: SystemConfig
) -> None:
    dag_id = restart_dag_id(airflow, system_config, dag_ids)
    if dag_id is None:
        pytest.skip("no DAG with a deferrable task is configured for the triggerer restart")
    run_id = airflow.trigger_dag(dag_id, system_config.dag_conf.get(dag_id))
    # Restart only once the old triggerer really runs the trigger (it is assigned a triggerer job).
    record = airflow.wait_until(
        dag_id,
        run_id,
        lambda r: any(r.triggerer_jobs.get(task) for task in r.deferred_tasks()),
        what="a deferred task's trigger to run in the triggerer",
        timeout=240,
    )
    deferred = next(task for task in record.deferred_tasks() if record.triggerer_jobs.get(task))
    old_pid = airflow.processes["triggerer"].pid
    old_job = airflow.current_job_id("triggerer")

    restarted_at = time.monotonic()
    airflow.restart("triggerer")
    new_job = airflow.current_job_id("triggerer")
    print(
        f"\n[system] triggerer restarted in {time.monotonic() - restarted_at:.0f} s "
        f"(job {old_job} -> {new_job}) while {dag_id}.{deferred} was deferred",
        flush=True,
    )
    assert new_job is not None and new_job != old_job
    airflow.poll(dag_id, run_id)
    assert record.task_states[deferred][-1] == "deferred" or record.final_state == "success", (
        f"{deferred} left deferral while the triggerer was down: {record.summary()}"
    )

    final = airflow.wait_for_run(dag_id, run_id, timeout=system_config.run_timeout)
    print(f"[system]   {record.summary()}; triggerer jobs {record.triggerer_jobs}", flush=True)
    assert final == "success", f"{record.summary()}\n{airflow.task_log_tails(record)}"
    assert airflow.processes["triggerer"].pid != old_pid
    # Resumed, not retried: the sensor finished on its first try.
    assert record.try_numbers[deferred] == 1, record.summary()
    assert record.task_states[deferred][-1] == "success", record.summary()
    # The new triggerer took the trigger over: seen via the API, or by its trigger log (named by job id).
    task_logs = airflow.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={deferred}"
    trigger_logs = sorted(p.name for p in task_logs.glob("*.trigger.*.log"))
    assert record.triggerer_jobs[deferred][0] == old_job, record.triggerer_jobs
    assert new_job in record.triggerer_jobs[deferred] or any(
        name.endswith(f".trigger.{new_job}.log") for name in trigger_logs
    ), f"trigger logs {trigger_logs}, triggerer jobs seen {record.triggerer_jobs}, new job {new_job}"
