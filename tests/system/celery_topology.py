"""A distributed Airflow 3 on loopback: CeleryExecutor, PostgreSQL, Redis, two isolated workers.

``CeleryTopology`` is the :class:`~tests.system.topology.AirflowTopology` (api-server, scheduler,
dag-processor, triggerer as separate processes, the UP42 emulator) on a PostgreSQL metadata database with
a Redis broker, plus two ``airflow celery worker`` processes. Each worker has its own AIRFLOW_HOME (so
its own task logs), working directory, TMPDIR, example output folder and hostname (``[core]
hostname_callable``): a task can only see another task's files through object storage. A second
emulator, "held" (its clock runs at 1/1000 speed), keeps orders pending until the test advances its clock.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.system.topology import (
    AIRFLOW_COMPONENTS,
    EMULATOR_READY,
    AirflowTopology,
    ManagedProcess,
    TopologyError,
    _script,
    _tail,
    free_port,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
WORKERS = ("up42-worker-a", "up42-worker-b")
HELD_SPEED = 0.001


class CeleryTopology(AirflowTopology):
    def __init__(
        self,
        home: Path,
        dags_folder: Path,
        *,
        database_url: str,
        broker_url: str,
        connections: Mapping[str, Mapping[str, Any]],
        worker_concurrency: int = 4,
        **kwargs: Any,
    ) -> None:
        super().__init__(home, dags_folder, **kwargs)
        self.database_url = database_url
        self.broker_url = broker_url
        self.connections = dict(connections)
        self.worker_concurrency = worker_concurrency
        self.held_emulator_url: str | None = None
        self.killed: set[str] = set()

    def base_env(self) -> dict[str, str]:
        env = super().base_env()
        # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3: name the driver.
        result_backend = "db+" + self.database_url
        env.update(
            {
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.database_url,
                "AIRFLOW__CELERY__BROKER_URL": self.broker_url,
                "AIRFLOW__CELERY__RESULT_BACKEND": result_backend,
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.worker_concurrency),
                "AIRFLOW__CORE__PARALLELISM": str(2 * self.worker_concurrency + 60),
                "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "64",
                # A killed worker's task is found by its missing heartbeats within seconds, not minutes.
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
                "AIRFLOW__TRIGGERER__CAPACITY": "200",
                # Tasks report to the api-server; on two busy cores its answers can take a while.
                "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "60",
                # The workers import the hostname callable from this repository, wherever their cwd is.
                "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
            }
        )
        for conn_id, conn in self.connections.items():
            env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(conn)
        return env

    def start(self, timeout: float = 300.0) -> CeleryTopology:
        """Emulators, DB migration, the four components, the workers; healthy, or everything stopped."""
        self.started_at = time.monotonic()
        self.home.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        config = self.home / "config"
        config.mkdir(exist_ok=True)
        shutil.copy(HERE / "celery_policy.py", config / "airflow_local_settings.py")
        from tests.system import topology

        with topology._LIVE_LOCK:
            topology._LIVE.add(self)
        try:
            env = self._env = self.base_env()
            self._start_emulator()
            held = self._add_process(
                "up42-emulator-held",
                [*_script("up42-emulator"), "--port", "0", "--speed", f"{HELD_SPEED:g}"],
            )
            held.start()
            self._migrate(timeout=timeout)
            self.emulator_url = self._wait_emulator(timeout=120.0)
            self.held_emulator_url = self._wait_listening(held, timeout=120.0)
            env.update(self.emulator_connections())
            env["AIRFLOW_CONN_UP42_HELD"] = self.emulator_connection(url=self.held_emulator_url)
            airflow = _script("airflow")
            for name in AIRFLOW_COMPONENTS:
                self._add_process(name, [*airflow, name]).start()
            for name in WORKERS:
                self._add_worker(name).start()
            self.wait_healthy(timeout=timeout)
            self.wait_workers(timeout=timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_listening(self, proc: ManagedProcess, timeout: float) -> str:
        return str(
            self._wait(
                f"{proc.name} to listen",
                lambda: m.group(1) if (m := EMULATOR_READY.search(_tail(proc.log_path, 50))) else None,
                timeout=timeout,
                interval=0.2,
            )
        )

    def worker_home(self, name: str) -> Path:
        return self.home / "workers" / name

    def _add_worker(self, name: str) -> ManagedProcess:
        home = self.worker_home(name)
        (home / "tmp").mkdir(parents=True, exist_ok=True)
        env = dict(self.env)
        env.update(
            {
                "AIRFLOW_HOME": str(home),
                "TMPDIR": str(home / "tmp"),
                "UP42_EXAMPLE_OUTPUT": str(home / "example-output"),
                "UP42_SYSTEM_WORKER_HOSTNAME": name,
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": "tests.system.worker_hostname.hostname",
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            }
        )
        argv = [*_script("airflow"), "celery", "worker", "--queues", f"default,{name}"]
        argv += ["--celery-hostname", f"{name}@localhost", "--without-mingle", "--without-gossip"]
        argv += ["--skip-serve-logs"]
        proc = ManagedProcess(name, argv, self.logs_dir / f"{name}.log", env, home)
        self.processes[name] = proc
        return proc

    def wait_workers(self, timeout: float = 120.0) -> None:
        """Both workers connected to the broker (their log says ``ready``)."""

        def ready() -> bool:
            # One "ready." line per start: a restarted worker must have logged a new one.
            for name in WORKERS:
                proc = self.processes[name]
                text = proc.log_path.read_text(encoding="utf-8", errors="replace")
                if text.count(f"{name}@localhost ready.") < proc.starts:
                    return False
            return True

        self._wait("the Celery workers to be ready", ready, timeout=timeout, interval=1.0)

    def kill_worker(self, name: str) -> None:
        """SIGKILL the worker and every process of its group (its running tasks die with it)."""
        import signal

        proc = self.processes[name]
        proc.descendants()
        if proc.pid is None:
            raise TopologyError(f"{name} is not running")
        self.killed.add(name)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.popen.wait(10)  # type: ignore[union-attr]
        for survivor in proc.survivors():
            survivor.kill()

    def start_worker(self, name: str) -> None:
        self.processes[name].start()
        self.killed.discard(name)

    def check_alive(self) -> None:
        # A deliberately killed worker is not a crash; every other process must be running.
        for name, proc in self.processes.items():
            if name in self.killed:
                continue
            if proc.popen is not None and not proc.running:
                raise TopologyError(
                    f"{name} (pid {proc.pid}) exited with {proc.popen.returncode}\n{self.log_tails()}"
                )

    def stop(self, grace: float = 20.0) -> None:
        for name in WORKERS:  # workers first: their tasks report to the api-server
            proc = self.processes.get(name)
            if proc is not None:
                proc.stop(grace)
        super().stop(grace)

    def task_log_tails(self, record: Any = None, lines: int = 40) -> str:
        """Task logs live in each worker's own AIRFLOW_HOME (triggers' in the main one)."""
        roots = [self.home / "logs", *(self.worker_home(n) / "logs" for n in WORKERS)]
        pattern = f"dag_id={record.dag_id}/run_id={record.run_id}/**/*.log" if record else "dag_id=*/**/*.log"
        files = sorted((p for root in roots for p in root.glob(pattern)), key=lambda p: p.stat().st_mtime)[
            -10:
        ]
        return "\n".join(f"----- {p} -----\n{_tail(p, lines)}" for p in files)
