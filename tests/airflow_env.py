"""Run ``dag.test()`` of the DAGs in tests/dags/ in a private Airflow, without touching pytest's process.

Airflow reads ``AIRFLOW_HOME``, the database URL and the DAGs folder once, when it is first imported,
and other test packages import it long before any fixture runs. So the DAG runs happen in ONE
long-lived worker process per pytest session (``python -m tests.airflow_env``): it gets its own
environment (temporary ``AIRFLOW_HOME``, SQLite DB initialised once, ``AIRFLOW__CORE__DAGS_FOLDER``
= tests/dags), imports Airflow once, and then runs one ``dag.test()`` per request. The emulator stays
in pytest's process (tests keep full control of its clock, faults and speed); each request carries
the environment it needs, typically ``AIRFLOW_CONN_UP42_DEFAULT`` of the emulator to use.

The worker records what ``dag.test()`` does not return: every task run (state and error text), and
every trigger run inline (class path, kwargs, event) - so a test can prove a sensor never deferred.

    def test_x(airflow_worker, emulator):
        result = airflow_worker.run_dag("my_dag", conf={...}, env=connection_env(emulator))
        assert result.state == "success" and not result.triggers

Use the ``airflow_worker`` fixture of tests/conftest.py, or ``AirflowWorker`` directly.
Protocol: one JSON request per line on the worker's stdin, one JSON answer per line on the pipe
that was its stdout; everything Airflow logs goes to a per-run log file (``result.log``).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DAGS_FOLDER = REPO / "tests" / "dags"


def connection_env(server: Any, conn_id: str = "up42_default", **extra: Any) -> dict[str, str]:
    """``AIRFLOW_CONN_<ID>`` for an emulator (``EmulatorServer``), as the env of a DAG run."""
    return {f"AIRFLOW_CONN_{conn_id.upper()}": server.airflow_connection(**extra)}


@dataclass
class DagTestResult:
    """What one ``dag.test()`` did."""

    dag_id: str
    state: str
    tasks: dict[str, str]  # task id -> final state
    runs: dict[str, list[dict[str, Any]]]  # task id -> every run: {"state", "error", "error_type"}
    triggers: list[dict[str, Any]]  # inline trigger runs: {"task_id", "classpath", "kwargs", "event"}
    xcom: dict[str, Any]  # task id -> return_value
    seconds: float
    log: str = field(repr=False, default="")
    error: str | None = None  # dag.test itself raised

    def errors(self, task_id: str) -> list[str]:
        return [r["error"] for r in self.runs.get(task_id, []) if r.get("error")]

    def deferred(self, task_id: str) -> bool:
        return any(t["task_id"] == task_id for t in self.triggers)


class AirflowWorker:
    """The long-lived ``dag.test()`` process (see the module docstring)."""

    def __init__(
        self,
        home: Path | None = None,
        dags_folder: Path = DAGS_FOLDER,
        env: dict | None = None,
        warm_up_dag: str | None = "wait_warm_up",
    ):
        self._tmp = None if home else tempfile.TemporaryDirectory(prefix="up42-airflow-")
        self.home = Path(home or self._tmp.name)  # type: ignore[union-attr]
        self.dags_folder = dags_folder
        self.extra_env = dict(env or {})
        self.warm_up_dag = warm_up_dag
        self.proc: subprocess.Popen[str] | None = None
        self._ready = False
        self.boot_seconds: float | None = None
        self._lock = threading.Lock()
        self._runs = 0

    def environment(self) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTEST", "_AIRFLOW"))}
        base.update(
            AIRFLOW_HOME=str(self.home),
            AIRFLOW__CORE__DAGS_FOLDER=str(self.dags_folder),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{self.home / 'airflow.db'}",
            AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT="120",
            AIRFLOW__LOGGING__LOGGING_LEVEL="INFO",
            AIRFLOW__SENSORS__DEFAULT_TIMEOUT="600",
            PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            NO_PROXY="127.0.0.1,localhost",
            no_proxy="127.0.0.1,localhost",
            PYTHONUNBUFFERED="1",
            AIRFLOW_ENV_WARM_UP_DAG=self.warm_up_dag or "",
        )
        base.update(self.extra_env)
        return base

    def start(self, timeout: float = 180) -> AirflowWorker:
        """Launch the worker and wait until Airflow is imported, the DB ready and dag.test warm."""
        self.launch()
        return self.wait_ready(timeout)

    def launch(self) -> AirflowWorker:
        """Start booting in the background (call :meth:`wait_ready` before the first run)."""
        if self.proc is not None:
            return self
        self.home.mkdir(parents=True, exist_ok=True)
        self._boot_log = open(self.home / "worker-boot.log", "w")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.airflow_env"],
            cwd=REPO,
            env=self.environment(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._boot_log,
            text=True,
            bufsize=1,
        )
        self._ready = False
        return self

    def wait_ready(self, timeout: float = 180) -> AirflowWorker:
        if self.proc is None:
            self.launch()
        if not self._ready:
            answer = self._read(timeout)
            if not answer.get("ready"):
                raise RuntimeError(f"Airflow worker did not start: {answer}")
            self._ready = True
            self.boot_seconds = answer.get("seconds")
        return self

    def _read(self, timeout: float) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        box: list[str] = []
        reader = threading.Thread(target=lambda: box.append(self.proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout)
        if not box or not box[0]:
            boot = (self.home / "worker-boot.log").read_text(errors="replace")[-4000:]
            self.close()
            raise RuntimeError(f"Airflow worker gave no answer within {timeout} s (died or hung):\n{boot}")
        return json.loads(box[0])

    def run_dag(
        self,
        dag_id: str,
        conf: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 120,
    ) -> DagTestResult:
        """``dag.test(run_conf=conf)`` in the worker, with ``env`` added to its environment."""
        with self._lock:
            self.wait_ready()
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError("Airflow worker is not running")
            self._runs += 1
            log_path = self.home / f"run-{self._runs:03d}-{dag_id}.log"
            request = {"dag_id": dag_id, "conf": conf or {}, "env": env or {}, "log": str(log_path)}
            assert self.proc.stdin is not None
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
            answer = self._read(timeout)
        log_text = log_path.read_text(errors="replace") if log_path.exists() else ""
        return DagTestResult(log=log_text, **answer)

    def close(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            with contextlib.suppress(Exception):
                proc.stdin.close()  # type: ignore[union-attr]
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        with contextlib.suppress(Exception):
            self._boot_log.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> AirflowWorker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


# ------------------------------------------------------------------------------ the worker process


class _Recorder:
    """Wraps dag.test's helpers to see every task run and every inline trigger run."""

    def __init__(self) -> None:
        from airflow.sdk.definitions import dag as dag_module

        self.module = dag_module
        self.run_task = dag_module._run_task
        self.run_trigger = dag_module._run_inline_trigger
        self.runs: dict[str, list[dict[str, Any]]] = {}
        self.triggers: list[dict[str, Any]] = []
        dag_module._run_task = self._run_task
        dag_module._run_inline_trigger = self._run_inline_trigger

    def reset(self) -> None:
        self.runs, self.triggers = {}, []

    def _run_task(self, *, ti: Any, task: Any, run_triggerer: bool = False) -> Any:
        result = self.run_task(ti=ti, task=task, run_triggerer=run_triggerer)
        error = getattr(result, "error", None) if result is not None else None
        self.runs.setdefault(ti.task_id, []).append(
            {
                "state": _state_text(getattr(result, "state", None) or ti.state),
                "error": str(error) if error is not None else None,
                "error_type": type(error).__name__ if error is not None else None,
            }
        )
        return result

    def _run_inline_trigger(self, trigger: Any, task_sdk_ti: Any) -> Any:
        classpath, kwargs = trigger.serialize()
        entry: dict[str, Any] = {"task_id": task_sdk_ti.task_id, "classpath": classpath, "kwargs": kwargs}
        self.triggers.append(entry)
        event = self.run_trigger(trigger, task_sdk_ti)
        entry["event"] = getattr(event, "payload", None)
        return event


def _state_text(state: Any) -> str:
    return str(getattr(state, "value", state))


def _json_safe(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _xcoms(dag_run: Any) -> dict[str, Any]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    values: dict[str, Any] = {}
    with create_session() as session:
        rows = session.query(XComModel).filter(
            XComModel.dag_id == dag_run.dag_id,
            XComModel.run_id == dag_run.run_id,
            XComModel.key == "return_value",
        )
        for row in rows:
            values[row.task_id] = XComModel.deserialize_value(row)
    return values


def _serve() -> None:
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # from here on anything printed goes to the boot log, never into the answers
    started = time.monotonic()
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils import db

    db.initdb()
    recorder = _Recorder()
    dagbag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    _warm_up(dagbag)
    answers.write(json.dumps({"ready": True, "seconds": time.monotonic() - started}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        recorder.reset()
        os.environ.update(request.get("env") or {})
        dag_id = request["dag_id"]
        sys.stdout.flush()
        sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
        log_fd = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        began = time.monotonic()
        answer: dict[str, Any] = {"dag_id": dag_id, "state": "none", "tasks": {}, "xcom": {}, "error": None}
        try:
            dag = dagbag.dags.get(dag_id)
            if dag is None:
                dagbag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
                dag = dagbag.dags.get(dag_id)
            if dag is None:
                raise LookupError(f"no DAG {dag_id!r}; import errors: {dagbag.import_errors}")
            dag_run = dag.test(run_conf=request.get("conf") or None)
            answer["state"] = _state_text(dag_run.state)
            answer["tasks"] = {ti.task_id: _state_text(ti.state) for ti in dag_run.get_task_instances()}
            answer["xcom"] = _json_safe(_xcoms(dag_run))
        except BaseException as exc:  # report everything; the worker must live on
            import traceback

            traceback.print_exc()
            answer["error"] = f"{type(exc).__name__}: {exc}"
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in (*saved, log_fd):
                os.close(fd)
        answer.update(
            runs=recorder.runs, triggers=_json_safe(recorder.triggers), seconds=time.monotonic() - began
        )
        answers.write(json.dumps(answer, default=str) + "\n")
    answers.flush()
    os._exit(0)  # Airflow's in-process API server leaves non-daemon threads behind


def _warm_up(dagbag: Any) -> None:
    """One throw-away dag.test: the first one pays for the bundle sync and the in-process API."""
    dag = dagbag.dags.get(os.environ.get("AIRFLOW_ENV_WARM_UP_DAG", ""))
    if dag is not None:
        dag.test()


if __name__ == "__main__":
    _serve()
