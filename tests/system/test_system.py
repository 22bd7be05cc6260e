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


# ----------------------------------------------------------------------------- the UI, in a real browser
# Debian's chromium + chromedriver (tests/browser.py) against the running api-server; screenshots are
# kept in test-artifacts/system/.

# The UP42 connection form: (form field name, label or None, placeholder or None), both credential kinds in
# one form (today's account e-mail and password, or the 2023 project id and API key). Extra fields are
# named ``element_<conn-field>`` by the UI.
CONNECTION_FORM = [
    ("host", "API base URL (optional)", "empty = the region's hosts; http://127.0.0.1:8042 for the emulator"),
    ("login", "Account e-mail or project ID", "today: your UP42 console e-mail; 2023: the project id (UUID)"),
    (
        "password",
        "Account password or project API key",
        "today: your UP42 account password; 2023: the project API key",
    ),
    # Enum fields render as a select whose hidden input carries no label: present, label not read.
    ("element_api_generation", None, None),
    ("element_region", None, None),
    ("element_timeout", "Request timeout (s)", None),
    ("element_max_attempts", "Max attempts", None),
    ("element_max_retry_wait", "Max retry time (s)", None),
    ("element_create_settle_seconds", "Create settle time (s)", None),
    ("element_verify_ssl", "Verify TLS certificates", None),
]
# {name: [label, placeholder, type]} of every input of the open dialog.
_FORM_FIELDS_JS = """
const fields = {};
for (const input of document.querySelectorAll("[role=dialog] input[name], [role=dialog] textarea[name]")) {
  const label = input.id ? document.querySelector(`label[for="${input.id}"]`) : null;
  fields[input.name] = [label ? label.innerText.replace(/\\s*\\*\\s*$/, "").trim() : null,
                        input.getAttribute("placeholder"), input.type];
}
return fields;
"""


def _button(label: str) -> str:
    """A JavaScript expression: the button labelled ``label`` (or undefined)."""
    return f"Array.from(document.querySelectorAll('button')).find(b => b.innerText.trim() == {label!r})"


@pytest.fixture(scope="module")
def browser():
    from tests.browser import webdriver

    with webdriver() as driver:
        yield driver


def test_ui_connection_form_has_the_up42_fields(airflow: AirflowTopology, browser) -> None:
    from tests.browser import ENTER, artifacts
    from up42_provider.get_provider_info import get_provider_info

    browser.get(f"{airflow.api_url}/connections")
    browser.wait_for(f"return {_button('Add Connection')}", what="the Add Connection button")
    browser.click_button("Add Connection")
    browser.wait_for("return document.querySelector('[role=dialog] input[role=combobox]')", what="the form")
    browser.type("[role=dialog] input[role=combobox]", "UP42")
    browser.wait_for(
        "return Array.from(document.querySelectorAll('[role=option]')).some(o => o.innerText == 'UP42')",
        what="UP42 among the connection types",
    )
    browser.type("[role=dialog] input[role=combobox]", ENTER)
    fields = browser.wait_for(
        f"const f = (() => {{{_FORM_FIELDS_JS}}})(); return f.login ? f : null", what="the UP42 fields"
    )
    browser.screenshot(artifacts("system") / "connection-form.png")
    browser.click_button("Extra Fields")
    browser.wait_for(
        "return document.querySelector('[name=element_timeout]').getBoundingClientRect().height > 0",
        what="the extra fields to unfold",
    )
    browser.screenshot(artifacts("system") / "connection-form-extra.png")
    for name, label, placeholder in CONNECTION_FORM:
        assert name in fields, f"no field {name!r} in the UP42 form: {sorted(fields)}"
        if label is not None:
            assert fields[name][0] == label, (name, fields[name])
        if placeholder is not None:
            assert fields[name][1] == placeholder, (name, fields[name])
    assert fields["password"][2] == "password"  # the API key is masked
    assert "port" not in fields and "schema" not in fields  # hidden for UP42
    declared = get_provider_info()["connection-types"][0]["conn-fields"]
    covered = {name.removeprefix("element_") for name, _, _ in CONNECTION_FORM}
    assert set(declared) <= covered, f"conn-fields missing from CONNECTION_FORM: {set(declared) - covered}"


def test_ui_shows_a_deferred_up42_sensor_and_the_console_link(
    airflow: AirflowTopology, browser, system_config: SystemConfig
) -> None:
    from tests.browser import artifacts

    dag_id = "up42_archive_imagery"
    if dag_id not in (system_config.dag_ids or ()):
        pytest.skip(f"{dag_id} is not among the DAGs of this system test")
    run_id = airflow.trigger_dag(dag_id, system_config.dag_conf.get(dag_id))
    # Open the sensor's page before it defers (the UI refreshes a running run by itself): the deferral
    # lasts seconds, loading the UI on a busy machine can take as long.
    record = airflow.wait_until(
        dag_id,
        run_id,
        lambda r: any(s in ("running", "success") for s in r.task_states.get("estimate_credits", [])),
        what="the run to reach the order",
        timeout=240,
    )
    browser.get(f"{airflow.api_url}/dags/{dag_id}/runs/{run_id}/tasks/wait_for_delivery")
    browser.wait_for(
        "return document.body.innerText.includes('UP42OrderFulfilledSensor') && "
        "document.body.innerText.includes('Deferred')",
        what="the sensor's page to show it deferred",
        timeout=240,
    )
    browser.screenshot(artifacts("system") / "sensor-deferred.png")

    final = airflow.wait_for_run(dag_id, run_id, timeout=system_config.run_timeout)
    assert final == "success", record.summary()
    _assert_console_link(airflow, browser, dag_id, run_id, "place_order", "UP42 Order")


def _assert_console_link(
    airflow: AirflowTopology, browser, dag_id: str, run_id: str, task_id: str, name: str
) -> None:
    """The task's Details tab shows the extra link ``name`` to the UP42 console page of what it created."""
    from tests.browser import artifacts
    from up42_provider.links import job_console_url, order_console_url

    def xcom(key: str) -> object:
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}"
        return airflow.api("GET", path)["value"]

    browser.get(f"{airflow.api_url}/dags/{dag_id}/runs/{run_id}/tasks/{task_id}/details")
    href = browser.wait_for(
        f"const a = Array.from(document.querySelectorAll('a')).find(a => a.innerText.trim() == {name!r});"
        "return a ? a.href : null",
        what=f"the {name} extra link of {dag_id}.{task_id}",
        timeout=60,
    )
    browser.screenshot(artifacts("system") / f"extra-link-{dag_id}.png")
    if name == "UP42 Order":
        expected = order_console_url(xcom("up42_order_ids"))  # type: ignore[arg-type]
    else:
        expected = job_console_url(xcom("up42_project_id"), xcom("up42_job_ids"))  # type: ignore[arg-type]
    assert expected.startswith("https://") and href == expected, (href, expected)


def test_ui_shows_the_job_console_link(airflow: AirflowTopology, browser) -> None:
    runs = [
        key
        for key, rec in airflow.runs.items()
        if key[0] == "up42_processing" and rec.final_state == "success"
    ]
    if not runs:
        pytest.skip("no successful up42_processing run in this system test")
    _assert_console_link(airflow, browser, *runs[0], "run_job", "UP42 Job")
