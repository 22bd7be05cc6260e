"""The services a distributed Airflow needs, as real processes on 127.0.0.1, for system tests.

PostgreSQL (Debian's server binaries, a fresh cluster from ``initdb``), Redis (Debian's ``redis-server``),
a moto S3 server and a GCS emulator (``gcp-storage-emulator``), each on a free port and in its own process
group (``ManagedProcess`` of the topology), stopped by its PID whatever happens. PostgreSQL refuses to run
as root, so as root it runs as the ``postgres`` user that Debian's package creates (``setpriv``).
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tests.system.topology import ManagedProcess, TopologyError, _tail, free_port

POSTGRES_USER = "airflow"
POSTGRES_DB = "airflow"


def postgres_bin(name: str) -> str:
    """A PostgreSQL server binary: Debian keeps them below /usr/lib/postgresql/<major>/bin, off PATH."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    path = found[-1] if found else shutil.which(name)
    if not path:
        raise TopologyError(f"{name} not found: install Debian's postgresql package (.ci/run does)")
    return path


def missing_binaries() -> list[str]:
    """What this machine lacks to run the services (empty when all is there)."""
    missing = []
    for name in ("initdb", "postgres"):
        try:
            postgres_bin(name)
        except TopologyError:
            missing.append(name)
    if not shutil.which("redis-server"):
        missing.append("redis-server")
    return missing


def _wait(what: str, proc: ManagedProcess, probe: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if not proc.running:
            raise TopologyError(f"{what} exited with {proc.popen.returncode}\n{_tail(proc.log_path, 40)}")  # type: ignore[union-attr]
        if time.monotonic() > deadline:
            raise TopologyError(f"{what} not ready after {timeout:.0f} s\n{_tail(proc.log_path, 40)}")
        time.sleep(0.2)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _http_ok(url: str) -> bool:
    import requests

    try:
        return requests.get(url, timeout=2).status_code < 500
    except requests.RequestException:
        return False


class Services:
    """Started services by name; :meth:`stop` ends every one of them (idempotent)."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.env = env
        self.processes: dict[str, ManagedProcess] = {}
        self.ports: dict[str, int] = {}
        self._owned_dirs: list[Path] = []
        atexit.register(self.stop)  # an interrupted test run leaves no server behind

    def _process(self, name: str, argv: list[str], cwd: Path) -> ManagedProcess:
        proc = ManagedProcess(name, argv, self.root / "process-logs" / f"{name}.log", self.env, cwd)
        self.processes[name] = proc
        proc.start()
        return proc

    # ---------------------------------------------------------------------------------- PostgreSQL
    def start_postgres(self, timeout: float = 60.0) -> str:
        """A throw-away cluster (trust auth on loopback); returns the SQLAlchemy URL of its database."""
        as_root = os.geteuid() == 0
        # pytest's temporary folders are private to root: the cluster lives in a folder of its own.
        data = Path(tempfile.mkdtemp(prefix="up42-system-pg-"))
        self._owned_dirs.append(data)
        prefix: list[str] = []
        if as_root:
            user = pwd.getpwnam("postgres")
            os.chown(data, user.pw_uid, user.pw_gid)
            prefix = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups", "--"]
        cluster = data / "cluster"
        log = self.root / "process-logs" / "initdb.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        initdb = [*prefix, postgres_bin("initdb"), "-D", str(cluster), "-U", POSTGRES_USER]
        with log.open("ab") as out:
            result = subprocess.run(
                [*initdb, "--auth=trust", "--no-sync", "-E", "UTF8"],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=data,
                timeout=timeout,
                check=False,
            )
        if result.returncode != 0:
            raise TopologyError(f"initdb failed ({result.returncode})\n{_tail(log, 40)}")
        port = self.ports["postgres"] = free_port()
        argv = [*prefix, postgres_bin("postgres"), "-D", str(cluster), "-p", str(port), "-h", "127.0.0.1"]
        # Sockets in the data folder; no fsync (a test cluster); enough connections for every component.
        argv += ["-k", str(data), "-c", "fsync=off", "-c", "max_connections=300"]
        proc = self._process("postgres", argv, data)

        def ready() -> bool:
            try:
                import psycopg2
            except ImportError as exc:  # pragma: no cover - a dev dependency
                raise TopologyError("psycopg2 is missing: install the dev extra") from exc
            try:
                conn = psycopg2.connect(host="127.0.0.1", port=port, user=POSTGRES_USER, dbname="postgres")
            except psycopg2.OperationalError:
                return False
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (POSTGRES_DB,))
                if cur.fetchone() is None:
                    cur.execute(f"CREATE DATABASE {POSTGRES_DB}")
            conn.close()
            return True

        _wait("PostgreSQL", proc, ready, timeout)
        return f"postgresql+psycopg2://{POSTGRES_USER}@127.0.0.1:{port}/{POSTGRES_DB}"

    # --------------------------------------------------------------------------------------- Redis
    def start_redis(self, timeout: float = 30.0) -> str:
        port = self.ports["redis"] = free_port()
        folder = self.root / "redis"
        folder.mkdir(parents=True, exist_ok=True)
        argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
        argv += ["no", "--dir", str(folder), "--protected-mode", "yes"]
        proc = self._process("redis", argv, folder)
        _wait("Redis", proc, lambda: _listening(port), timeout)
        return f"redis://127.0.0.1:{port}/0"

    # --------------------------------------------------------------------------------- moto and GCS
    def start_moto(self, timeout: float = 60.0) -> str:
        port = self.ports["moto"] = free_port()
        argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
        proc = self._process("moto-s3", argv, self.root)
        url = f"http://127.0.0.1:{port}"
        _wait("moto S3", proc, lambda: _http_ok(f"{url}/moto-api/"), timeout)
        return url

    def start_gcs(self, timeout: float = 60.0) -> str:
        port = self.ports["gcs"] = free_port()
        script = Path(sys.executable).parent / "gcp-storage-emulator"
        launcher = [str(script)] if script.exists() else [sys.executable, "-m", "gcp_storage_emulator"]
        argv = [*launcher, "start", "--host", "127.0.0.1", "--port", str(port), "--in-memory", "--quiet"]
        proc = self._process("gcs-emulator", argv, self.root)
        url = f"http://127.0.0.1:{port}"
        _wait("GCS emulator", proc, lambda: _http_ok(f"{url}/storage/v1/b"), timeout)
        return url

    # ------------------------------------------------------------------------------------ stopping
    def stop(self, grace: float = 15.0) -> None:
        for proc in reversed(list(self.processes.values())):
            with contextlib.suppress(Exception):
                proc.stop(grace)
        for folder in self._owned_dirs:
            shutil.rmtree(folder, ignore_errors=True)
        self._owned_dirs.clear()

    def survivors(self) -> list[str]:
        return [f"{name} {s.pid}" for name, proc in self.processes.items() for s in proc.survivors()]
