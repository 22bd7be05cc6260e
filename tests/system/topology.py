"""A real Airflow 3 deployment on this machine, for system tests.

``AirflowTopology`` runs ``airflow api-server``, ``scheduler``, ``dag-processor`` and ``triggerer`` as
separate processes (as users deploy Airflow, not ``airflow standalone``) on a SQLite database in a private
AIRFLOW_HOME, with the LocalExecutor, plus the UP42 emulator. Every process gets the same environment,
including ``AIRFLOW_CONN_UP42_DEFAULT`` pointing at the emulator. DAG runs are triggered and watched through
the REST API v2, so the test sees what a user sees; every task-instance state observed is recorded (to prove
that sensors really deferred).

Every process is started in its own session (process group) and stopped by group id: SIGTERM, then SIGKILL
after a grace period, then any straggling descendant by pid. ``stop()`` is idempotent and also registered
with ``atexit`` so an interrupted test run leaves nothing behind.

    with AirflowTopology(home=tmp_path, dags_folder=Path("example_dags")) as airflow:
        run_id = airflow.trigger_dag("my_dag")
        assert airflow.wait_for_run("my_dag", run_id) == "success"
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import requests

AIRFLOW_COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
JOB_TYPES = {"scheduler": "SchedulerJob", "triggerer": "TriggererJob", "dag-processor": "DagProcessorJob"}
TERMINAL_RUN_STATES = frozenset({"success", "failed"})
EMULATOR_READY = re.compile(r"UP42 emulator listening on (http://\S+)")

_LIVE: set[AirflowTopology] = set()
_LIVE_LOCK = threading.Lock()


def _stop_all_live() -> None:
    """atexit guard: whatever a crashed or interrupted test left running is stopped here."""
    with _LIVE_LOCK:
        live = list(_LIVE)
    for topology in live:
        with contextlib.suppress(Exception):
            topology.stop()


atexit.register(_stop_all_live)


class TopologyError(RuntimeError):
    """A component died, a wait ran out of time, or the API answered unexpectedly; carries log tails."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _script(name: str) -> list[str]:
    """The console script next to this interpreter (the project's venv), else ``python -m``."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return [str(candidate)]
    found = shutil.which(name)
    if found:
        return [found]
    module = {"airflow": "airflow", "up42-emulator": "up42_provider.emulator"}[name]
    return [sys.executable, "-m", module]


def _tail(path: Path, lines: int) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 200 * lines))
            text = fh.read().decode("utf-8", "replace")
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"
    return "\n".join(text.splitlines()[-lines:])


def _pss(pid: int, fallback: int) -> int:
    """Proportional set size from /proc (Linux); ``fallback`` where it cannot be read."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return fallback


@dataclass
class ManagedProcess:
    """One long-running process in its own session, logging to a file."""

    name: str
    argv: list[str]
    log_path: Path
    env: Mapping[str, str]
    cwd: Path
    popen: subprocess.Popen[bytes] | None = None
    starts: int = 0
    # Every process of this component ever observed (pid reuse is detected by psutil's create time).
    seen: dict[int, psutil.Process] = field(default_factory=dict)

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.starts += 1
            log.write(f"\n===== start #{self.starts} at {time.strftime('%H:%M:%S')}: {self.argv}\n".encode())
            log.flush()
            self.popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(self.env),
                cwd=self.cwd,
                start_new_session=True,
            )
        with contextlib.suppress(psutil.Error):
            self.seen[self.popen.pid] = psutil.Process(self.popen.pid)

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def descendants(self) -> list[psutil.Process]:
        if not self.running:
            return []
        try:
            found = psutil.Process(self.popen.pid).children(recursive=True)  # type: ignore[union-attr]
        except psutil.Error:
            return []
        for proc in found:
            self.seen.setdefault(proc.pid, proc)
        return found

    def survivors(self) -> list[psutil.Process]:
        """Processes of this component still alive (after :meth:`stop` this should be empty)."""
        alive = []
        for proc in self.seen.values():
            with contextlib.suppress(psutil.Error):
                if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                    alive.append(proc)
        return alive

    def memory(self) -> tuple[int, int]:
        """(RSS, PSS) bytes of the process and all its descendants (task runners included).

        RSS counts pages shared by forked processes once per process; PSS splits them, so the PSS sum is
        what the topology really costs the machine.
        """
        if not self.running:
            return 0, 0
        try:
            procs = [psutil.Process(self.popen.pid), *self.descendants()]  # type: ignore[union-attr]
        except psutil.Error:
            return 0, 0
        rss = pss = 0
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                resident = proc.memory_info().rss
                rss += resident
                pss += _pss(proc.pid, resident)
        return rss, pss

    def stop(self, grace: float = 20.0) -> int | None:
        """SIGTERM the process group, SIGKILL it after ``grace`` s, then kill any survivor seen by pid."""
        if self.popen is None:
            return None
        popen, pgid = self.popen, self.popen.pid  # session leader: pgid == pid
        self.descendants()  # remember the current children too
        if popen.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGTERM)
            try:
                popen.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pgid, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    popen.wait(10)
        # Children that outlive the leader (task runners) are still in its group, or were seen by pid.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        for proc in self.survivors():
            with contextlib.suppress(psutil.Error):
                proc.kill()
        psutil.wait_procs(self.survivors(), timeout=5)
        return popen.returncode


@dataclass
class RunRecord:
    """Everything observed about one DAG run: its states and each task's state transitions."""

    dag_id: str
    run_id: str
    states: list[str] = field(default_factory=list)
    task_states: dict[str, list[str]] = field(default_factory=dict)
    try_numbers: dict[str, int] = field(default_factory=dict)
    # Triggerer job ids seen running each deferred task's trigger, and the trigger classes.
    triggerer_jobs: dict[str, list[int]] = field(default_factory=dict)
    trigger_classpaths: dict[str, str] = field(default_factory=dict)

    def observe_run(self, state: str | None) -> None:
        value = state or "none"
        if not self.states or self.states[-1] != value:
            self.states.append(value)

    def observe_tasks(self, task_instances: Iterable[Mapping[str, Any]]) -> None:
        for ti in task_instances:
            map_index = ti.get("map_index")
            key = ti["task_id"] if map_index is None or map_index < 0 else f"{ti['task_id']}[{map_index}]"
            value = ti.get("state") or "none"
            seen = self.task_states.setdefault(key, [])
            if not seen or seen[-1] != value:
                seen.append(value)
            if ti.get("try_number") is not None:
                self.try_numbers[key] = int(ti["try_number"])
            trigger = ti.get("trigger") or {}
            if trigger.get("classpath"):
                self.trigger_classpaths[key] = trigger["classpath"]
            if value == "deferred" and trigger.get("triggerer_id") is not None:
                jobs = self.triggerer_jobs.setdefault(key, [])
                if not jobs or jobs[-1] != trigger["triggerer_id"]:
                    jobs.append(int(trigger["triggerer_id"]))

    @property
    def final_state(self) -> str | None:
        return self.states[-1] if self.states else None

    def deferred_tasks(self) -> list[str]:
        return [task for task, seen in self.task_states.items() if "deferred" in seen]

    def summary(self) -> str:
        tasks = ", ".join(f"{t}: {'>'.join(s)}" for t, s in sorted(self.task_states.items()))
        return f"{self.dag_id}/{self.run_id}: {'>'.join(self.states)} [{tasks}]"


class AirflowTopology:
    """Airflow 3 api-server + scheduler + dag-processor + triggerer (+ UP42 emulator) as real processes."""

    def __init__(
        self,
        home: Path,
        dags_folder: Path,
        *,
        emulator_speed: float | None = 2.0,
        emulator_args: Iterable[str] = (),
        parallelism: int = 4,
        extra_env: Mapping[str, str] | None = None,
        api_port: int | None = None,
        components: Iterable[str] = AIRFLOW_COMPONENTS,
    ) -> None:
        self.home = Path(home).resolve()
        self.components = tuple(components)
        self.dags_folder = Path(dags_folder).resolve()
        self.emulator_speed = emulator_speed
        self.emulator_args = list(emulator_args)
        self.parallelism = parallelism
        self.extra_env = dict(extra_env or {})
        self.api_port = api_port or free_port()
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.emulator_url: str | None = None
        self.logs_dir = self.home / "process-logs"
        self.processes: dict[str, ManagedProcess] = {}
        self.runs: dict[tuple[str, str], RunRecord] = {}
        self.peak_rss_bytes = 0
        self.peak_pss_bytes = 0
        self.started_at: float | None = None
        self._session = requests.Session()
        self._session.trust_env = False  # never send loopback traffic through a proxy
        self._env: dict[str, str] | None = None

    # ------------------------------------------------------------------------------------------ lifecycle

    def __enter__(self) -> AirflowTopology:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def base_env(self) -> dict[str, str]:
        """The environment every process gets (the caller's, minus any Airflow settings it carried)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "_AIRFLOW"))}
        from cryptography.fernet import Fernet

        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.home / 'airflow.db'}",
                # Tests act as admin without a login; the REST API stays behind the auth manager.
                "AIRFLOW__CORE__AUTH_MANAGER": (
                    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
                ),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                # One secret for all processes: the api-server verifies tokens the scheduler issues to tasks.
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.api_port),
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__API__BASE_URL": self.api_url,
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
                # New or changed DAG files show up within seconds, not the 5-minute default.
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "30",
                # The log servers of the scheduler's workers and of the triggerer default to fixed ports.
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
                "PYTHONUNBUFFERED": "1",
                "NO_PROXY": "127.0.0.1,localhost",
                "no_proxy": "127.0.0.1,localhost",
            }
        )
        for key in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
            env.pop(key, None)
        env.update(self.extra_env)
        return env

    @property
    def env(self) -> dict[str, str]:
        if self._env is None:
            raise TopologyError("the topology is not started")
        return self._env

    def start(self, timeout: float = 300.0) -> AirflowTopology:
        """Migrate the DB, start the emulator and the Airflow components, wait until all are healthy.

        ``components`` (default: all four) may leave some out: without the api-server, readiness is
        each component's running job row in the DB (:meth:`start_component`); ``components=()`` just
        prepares the DB, the emulator and the environment. On any failure everything started so far
        is stopped before the error propagates.
        """
        self.started_at = time.monotonic()
        self.home.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        with _LIVE_LOCK:
            _LIVE.add(self)
        try:
            env = self._env = self.base_env()
            if self.emulator_speed is not None:
                self._start_emulator()
            self._migrate(timeout=timeout)  # meanwhile the emulator starts
            if self.emulator_speed is not None:
                self.emulator_url = self._wait_emulator(timeout=min(timeout, 120.0))
                env.update(self.emulator_connections())
            if "api-server" in self.components:
                airflow = _script("airflow")
                for name in self.components:
                    self._add_process(name, [*airflow, name]).start()
                self.wait_healthy(timeout=timeout)
            else:
                for name in self.components:
                    self.start_component(name, timeout=timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def start_component(self, name: str, timeout: float = 180.0) -> ManagedProcess:
        """Start ``airflow <name>`` (again: a fresh process after :meth:`ManagedProcess.stop`) and wait
        for its new running job row in the DB (scheduler, triggerer, dag-processor; no API needed)."""
        before = set(self.running_jobs(name))
        proc = self.processes.get(name) or self._add_process(name, [*_script("airflow"), name])
        proc.start()
        self._wait(
            f"{name} to register a running job",
            lambda: set(self.running_jobs(name)) - before,
            timeout=timeout,
            interval=0.5,
        )
        return proc

    def running_jobs(self, component: str) -> list[int]:
        """Ids of the running job rows of a component, read from the SQLite DB (oldest first)."""
        db_path = self.home / "airflow.db"
        if not db_path.exists():
            return []
        with contextlib.closing(sqlite3.connect(db_path, timeout=30)) as db:
            rows = db.execute(
                "SELECT id FROM job WHERE job_type = ? AND state = 'running' ORDER BY id",
                (JOB_TYPES[component],),
            ).fetchall()
        return [int(row[0]) for row in rows]

    def _add_process(self, name: str, argv: list[str]) -> ManagedProcess:
        proc = ManagedProcess(name, argv, self.logs_dir / f"{name}.log", self.env, self.home)
        self.processes[name] = proc
        return proc

    def _start_emulator(self) -> None:
        argv = [*_script("up42-emulator"), "--port", "0", "--speed", f"{self.emulator_speed:g}"]
        self._add_process("up42-emulator", [*argv, *self.emulator_args]).start()

    def _wait_emulator(self, timeout: float) -> str:
        proc = self.processes["up42-emulator"]
        url = self._wait(
            "the UP42 emulator to listen",
            lambda: m.group(1) if (m := EMULATOR_READY.search(_tail(proc.log_path, 50))) else None,
            timeout=timeout,
            interval=0.1,
        )
        return str(url)

    def emulator_connection(self, generation: str = "2023", url: str | None = None) -> str:
        """``AIRFLOW_CONN_UP42_DEFAULT`` (2023 project) or ``AIRFLOW_CONN_UP42_CURRENT`` (today's
        account) in JSON form, with the emulator's default credentials, to ``url`` (default: the
        topology's emulator)."""
        from up42_provider.emulator.config import EmulatorConfig

        target = url or self.emulator_url
        return json.dumps(EmulatorConfig().airflow_connection(target, generation, timeout=30))

    def emulator_connections(self) -> dict[str, str]:
        """The examples' connections to the emulator: ``up42_default`` (2023) and ``up42_current``."""
        return {
            "AIRFLOW_CONN_UP42_DEFAULT": self.emulator_connection(),
            "AIRFLOW_CONN_UP42_CURRENT": self.emulator_connection("current"),
        }

    def _migrate(self, timeout: float) -> None:
        log_path = self.logs_dir / "db-migrate.log"
        with log_path.open("ab") as log:
            try:
                result = subprocess.run(
                    [*_script("airflow"), "db", "migrate"],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=self.env,
                    cwd=self.home,
                    timeout=timeout,
                    check=False,
                    start_new_session=True,
                )
            except subprocess.TimeoutExpired as exc:
                raise TopologyError(
                    f"airflow db migrate took over {timeout:.0f} s\n{_tail(log_path, 40)}"
                ) from exc
        if result.returncode != 0:
            raise TopologyError(f"airflow db migrate failed ({result.returncode})\n{_tail(log_path, 60)}")

    def stop(self, grace: float = 20.0) -> None:
        """Stop every process this topology started (scheduler first, emulator last). Idempotent."""
        order = ["scheduler", "triggerer", "dag-processor", "api-server", "up42-emulator"]
        names = [n for n in order if n in self.processes] + [n for n in self.processes if n not in order]
        for name in names:
            with contextlib.suppress(Exception):
                self.processes[name].stop(grace)
        self._session.close()
        with _LIVE_LOCK:
            _LIVE.discard(self)

    def survivors(self) -> list[str]:
        """Processes started by this topology that are still alive, as "name pid cmdline" strings."""
        found = []
        for name, proc in self.processes.items():
            for survivor in proc.survivors():
                with contextlib.suppress(psutil.Error):
                    found.append(f"{name} {survivor.pid} {' '.join(survivor.cmdline())[:120]}")
        return found

    def restart(self, name: str, *, grace: float = 30.0, timeout: float = 180.0) -> None:
        """Gracefully stop one component and start it again; wait until it reports healthy again."""
        proc = self.processes[name]
        old_pid = proc.pid
        if name == "up42-emulator" and self.emulator_url:  # come back on the port the connection names
            port = self.emulator_url.rsplit(":", 1)[1]
            proc.argv[proc.argv.index("--port") + 1] = port
        before = self.health().get(name.replace("-", "_"), {}) if name in AIRFLOW_COMPONENTS else {}
        proc.stop(grace)
        proc.start()
        if proc.pid == old_pid:
            raise TopologyError(f"{name} was not restarted")
        if name in ("triggerer", "scheduler", "dag-processor"):
            key = name.replace("-", "_")
            field_name = f"latest_{key}_heartbeat"
            old_beat = before.get(field_name)

            def fresh() -> bool:
                info = self.health().get(key) or {}
                return info.get("status") == "healthy" and info.get(field_name) != old_beat

            # A new job row heartbeats at start; the old one ended when the process stopped.
            self._wait(f"the restarted {name} to report healthy", fresh, timeout=timeout)
        elif name == "up42-emulator":
            info = f"{self.emulator_url}/_emulator/info"
            self._wait(
                "the restarted emulator", lambda: self._session.get(info, timeout=5).ok, timeout=timeout
            )
        else:
            self.wait_healthy(timeout=timeout)

    # ---------------------------------------------------------------------------------------- waiting

    def current_job_id(self, component: str) -> int | None:
        """The id of the running job (DB row) of ``scheduler``, ``triggerer`` or ``dag-processor``."""
        params = {"job_type": JOB_TYPES[component], "job_state": "running", "order_by": "-id", "limit": 1}
        jobs = self.api("GET", "/jobs", params=params).get("jobs", [])
        return int(jobs[0]["id"]) if jobs else None

    def check_alive(self) -> None:
        for name, proc in self.processes.items():
            if proc.popen is not None and not proc.running:
                raise TopologyError(
                    f"{name} (pid {proc.pid}) exited with {proc.popen.returncode}\n{self.log_tails()}"
                )

    def sample_memory(self) -> tuple[int, int]:
        """Current (RSS, PSS) of everything started; peaks are kept for the test report."""
        samples = [p.memory() for p in self.processes.values()]
        rss, pss = sum(s[0] for s in samples), sum(s[1] for s in samples)
        self.peak_rss_bytes = max(self.peak_rss_bytes, rss)
        self.peak_pss_bytes = max(self.peak_pss_bytes, pss)
        return rss, pss

    def _wait(self, what: str, probe: Callable[[], Any], *, timeout: float, interval: float = 1.0) -> Any:
        """Poll ``probe`` until it returns something truthy; every wait has a deadline."""
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while True:
            self.check_alive()
            self.sample_memory()
            try:
                result = probe()
            except (requests.RequestException, ValueError, KeyError) as exc:
                last_error, result = exc, None
            if result:
                return result
            if time.monotonic() > deadline:
                detail = f" (last error: {last_error!r})" if last_error else ""
                raise TopologyError(
                    f"timed out after {timeout:.0f} s waiting for {what}{detail}\n{self.log_tails()}"
                )
            time.sleep(interval)

    def health(self) -> dict[str, Any]:
        response = self._session.get(f"{self.api_url}/api/v2/monitor/health", timeout=10)
        response.raise_for_status()
        return response.json()

    def wait_healthy(self, timeout: float = 300.0) -> dict[str, Any]:
        """Wait until the metadatabase, scheduler, dag-processor and triggerer all report healthy."""

        def healthy() -> dict[str, Any] | None:
            info = self.health()
            keys = ("metadatabase", "scheduler", "dag_processor", "triggerer")
            return info if all((info.get(k) or {}).get("status") == "healthy" for k in keys) else None

        return self._wait("all Airflow components to report healthy", healthy, timeout=timeout)

    # --------------------------------------------------------------------------------------- REST API

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", 30)
        response = self._session.request(method, f"{self.api_url}/api/v2{path}", **kwargs)
        if response.status_code >= 400:
            raise TopologyError(f"{method} {path} -> {response.status_code}: {response.text[:500]}")
        return response.json() if response.content else None

    def import_errors(self) -> list[dict[str, Any]]:
        return self.api("GET", "/importErrors", params={"limit": 100}).get("import_errors", [])

    def wait_for_dags(self, dag_ids: Iterable[str], timeout: float = 180.0) -> None:
        """Wait until the dag-processor has parsed every DAG; fail fast on import errors."""
        wanted = list(dag_ids)

        def parsed() -> bool:
            errors = self.import_errors()
            if errors:
                text = "\n".join(f"{e.get('filename')}: {e.get('stack_trace')}" for e in errors)
                raise TopologyError(f"DAG import errors:\n{text}")
            found = self.api("GET", "/dags", params={"limit": 1000}).get("dags", [])
            known = {d["dag_id"]: d for d in found}
            return all(d in known and not known[d].get("is_paused") for d in wanted)

        self._wait(f"DAGs {wanted} to be parsed", parsed, timeout=timeout, interval=2.0)

    def dag_files(self) -> list[str]:
        """Candidate DAG files, relative to the folder (Airflow's safe mode: mention "airflow" and "dag")."""
        found = []
        for path in sorted(self.dags_folder.rglob("*.py")):
            text = path.read_text(encoding="utf-8", errors="replace").lower()
            if "airflow" in text and "dag" in text and not path.name.startswith(("_", ".")):
                found.append(str(path.relative_to(self.dags_folder)))
        return found

    def discover_dag_ids(self, timeout: float = 180.0) -> list[str]:
        """Every DAG id of the folder, once each candidate file was parsed (a DAG or an import error)."""
        files = self.dag_files()

        def parsed() -> list[str] | None:
            errors = self.import_errors()
            if errors:
                text = "\n".join(f"{e.get('filename')}: {e.get('stack_trace')}" for e in errors)
                raise TopologyError(f"DAG import errors:\n{text}")
            dags = self.api("GET", "/dags", params={"limit": 1000}).get("dags", [])
            seen = {d.get("relative_fileloc") or "" for d in dags} | {
                os.path.relpath(d.get("fileloc") or "/", self.dags_folder) for d in dags
            }
            if all(f in seen for f in files):
                return sorted(d["dag_id"] for d in dags)
            return None

        return self._wait(f"DAG files {files} to be parsed", parsed, timeout=timeout, interval=2.0)

    def trigger_dag(
        self, dag_id: str, conf: Mapping[str, Any] | None = None, run_id: str | None = None
    ) -> str:
        """POST /dags/{dag_id}/dagRuns (no logical date): returns the run id."""
        run_id = run_id or f"system__{uuid.uuid4().hex[:12]}"
        body = {"dag_run_id": run_id, "logical_date": None, "conf": dict(conf or {})}
        data = self.api("POST", f"/dags/{dag_id}/dagRuns", json=body)
        self.runs[(dag_id, data["dag_run_id"])] = RunRecord(dag_id, data["dag_run_id"])
        return data["dag_run_id"]

    def record(self, dag_id: str, run_id: str) -> RunRecord:
        return self.runs.setdefault((dag_id, run_id), RunRecord(dag_id, run_id))

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        """Current task-instance states (also recorded in :meth:`record`)."""
        data = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 1000})
        tis = data.get("task_instances", [])
        self.record(dag_id, run_id).observe_tasks(tis)
        return {ti["task_id"]: ti.get("state") or "none" for ti in tis}

    def poll(self, dag_id: str, run_id: str) -> str | None:
        """One observation of a run and its task instances; returns the run state."""
        run = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}")
        record = self.record(dag_id, run_id)
        self.task_states(dag_id, run_id)
        record.observe_run(run.get("state"))
        return run.get("state")

    def wait_until(
        self,
        dag_id: str,
        run_id: str,
        condition: Callable[[RunRecord], bool],
        *,
        what: str,
        timeout: float = 300.0,
        interval: float = 0.5,
    ) -> RunRecord:
        """Poll a run until ``condition(record)``; raises on the deadline or when the run ends first."""
        record = self.record(dag_id, run_id)

        def probe() -> bool:
            state = self.poll(dag_id, run_id)
            if condition(record):
                return True
            if state in TERMINAL_RUN_STATES:
                raise TopologyError(
                    f"run ended before {what}: {record.summary()}\n{self.task_log_tails(record)}"
                )
            return False

        self._wait(f"{what} ({dag_id}/{run_id})", probe, timeout=timeout, interval=interval)
        return record

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 300.0, interval: float = 0.5) -> str:
        """Poll until the run is terminal (recording every state seen); returns its final state."""
        return self.wait_for_runs([(dag_id, run_id)], timeout=timeout, interval=interval)[(dag_id, run_id)]

    def wait_for_runs(
        self, runs: Iterable[tuple[str, str]], timeout: float = 300.0, interval: float = 0.5
    ) -> dict[tuple[str, str], str]:
        """Poll several runs at once until all are terminal."""
        pending = list(runs)
        done: dict[tuple[str, str], str] = {}

        def probe() -> bool:
            for key in list(pending):
                state = self.poll(*key)
                if state in TERMINAL_RUN_STATES:
                    done[key] = state
                    pending.remove(key)
            return not pending

        try:
            self._wait(f"runs {pending} to finish", probe, timeout=timeout, interval=interval)
        except TopologyError as exc:
            summaries = "\n".join(self.record(*k).summary() for k in pending)
            raise TopologyError(f"{exc}\n{summaries}") from exc
        return done

    # ------------------------------------------------------------------------------------------ logs

    def log_tails(self, lines: int = 60) -> str:
        parts = []
        for name, proc in self.processes.items():
            parts.append(
                f"----- {name} (pid {proc.pid}, {proc.log_path}) -----\n{_tail(proc.log_path, lines)}"
            )
        migrate = self.logs_dir / "db-migrate.log"
        if migrate.exists():
            parts.append(f"----- db migrate -----\n{_tail(migrate, 15)}")
        return "\n".join(parts)

    def task_log_tails(self, record: RunRecord | None = None, lines: int = 40) -> str:
        """Tails of the task logs (all runs, or one run), newest last."""
        root = self.home / "logs"
        pattern = f"dag_id={record.dag_id}/run_id={record.run_id}/**/*.log" if record else "dag_id=*/**/*.log"
        files = sorted(root.glob(pattern), key=lambda p: p.stat().st_mtime)[-8:]
        return "\n".join(f"----- {p.relative_to(root)} -----\n{_tail(p, lines)}" for p in files)

    def describe(self) -> str:
        """Everything useful when a test fails: run records, process log tails, task log tails."""
        runs = "\n".join(r.summary() for r in self.runs.values())
        return f"===== runs =====\n{runs}\n===== processes =====\n{self.log_tails()}\n" + (
            f"===== task logs =====\n{self.task_log_tails()}"
        )
