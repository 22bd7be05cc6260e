"""pytest plugin for users' DAG tests: the ``up42_emulator`` fixture (registered as ``pytest11``).

    def test_my_pipeline(up42_emulator):
        assert my_dag.test().state == "success"

``dag.test()`` needs more than an emulator: a migrated Airflow database (else ``no such table:
task_instance``) and the DAG file inside the configured DAGs folder (else ``the dag is not
serialized``). The fixture provides all three:

- an isolated Airflow home, prepared once per session (SQLite database migrated with
  ``airflow db migrate``'s code, ``load_examples`` off), with the DAGs folder set to the ini option
  ``up42_dags_folder`` (default ``dags`` under the rootdir);
- a fresh emulator per test on 127.0.0.1 (``EmulatorServer``: ``.state.clock``, ``.state.faults``,
  ``.state.credits`` ...), and ``AIRFLOW_CONN_UP42_DEFAULT`` pointing at it;
- the API generation from the ini option ``up42_api_generation`` (``2023`` or ``current``), or per test
  ``@pytest.mark.up42_emulator(generation="current", speed=20)``; other marker keywords are
  ``EmulatorConfig`` fields.

Isolation: the Airflow home always is the fixture's own, also when a conftest set ``AIRFLOW_HOME``
(a test must not write into a real deployment's database). Every environment variable it sets is put
back when the test ends and Airflow's database engine is pointed back at what the environment then
says, so tests without the fixture see the session as it was.

Nothing heavy is imported here at module level: pytest loads this module in every session of every
environment where the provider is installed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

GENERATIONS = ("2023", "current")
DEFAULT_ACCOUNT_USERNAME = "emulator@up42.example"
DEFAULT_ACCOUNT_PASSWORD = "emulator-password"
DEFAULT_SPEED = 100.0  # an archive order is fulfilled in under a second, a job in a few


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "up42_dags_folder",
        "DAGs folder of the up42_emulator fixture's Airflow home (relative to the rootdir)",
        default="dags",
    )
    parser.addini(
        "up42_api_generation",
        "UP42 API generation the up42_emulator fixture connects with: 2023 or current",
        default="2023",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "up42_emulator(generation=..., **config): API generation and EmulatorConfig fields of the "
        "up42_emulator fixture for this test",
    )


@contextlib.contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables; afterwards each is as before (also on error), and the ``AIRFLOW*``
    variables that appeared meanwhile are gone: ``dag.test()`` runs tasks in this process and Airflow
    exports each task's context (``AIRFLOW_CTX_DAG_ID`` ...) into ``os.environ``."""
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        for key in set(os.environ) - set(saved):
            if key in values or key.startswith("AIRFLOW"):
                del os.environ[key]
        os.environ.update({key: saved[key] for key in values if key in saved})


def _rebind_airflow() -> None:
    """Point an already imported Airflow at what the environment says now (database, DAGs folder).

    Airflow reads ``AIRFLOW__*`` variables on every config lookup, but keeps the database engine and
    the DAGs folder it computed at import time: those two are recomputed here.
    """
    from airflow import settings

    settings.configure_vars()
    settings.reconfigure_orm()


@dataclasses.dataclass
class AirflowHome:
    """The session's isolated Airflow home: its environment and whether its database is migrated."""

    path: Path
    dags_folder: Path

    @property
    def env(self) -> dict[str, str]:
        # The emulator is on loopback: no proxy of the user's may reroute it.
        no_proxy = ",".join(filter(None, [os.environ.get("NO_PROXY"), "127.0.0.1,localhost"]))
        return {
            "AIRFLOW_HOME": str(self.path),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.path / 'airflow.db'}",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.path / "logs"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(self.path / "plugins"),
            "NO_PROXY": no_proxy,
            "no_proxy": no_proxy,
        }

    @contextlib.contextmanager
    def active(self, extra: Mapping[str, str] | None = None) -> Iterator[None]:
        """This home (and ``extra``) in the environment and in Airflow, until the block ends."""
        try:
            with environment({**self.env, **(extra or {})}):
                _rebind_airflow()
                yield
        finally:
            _rebind_airflow()

    def migrate(self) -> None:
        from airflow.utils import db

        with self.active():
            db.initdb()


def dags_folder(config: pytest.Config) -> Path:
    """The ``up42_dags_folder`` ini option as an absolute path; a clear error when it is missing."""
    value = str(config.getini("up42_dags_folder") or "dags")
    folder = Path(value) if Path(value).is_absolute() else Path(config.rootpath) / value
    if not folder.is_dir():
        raise pytest.UsageError(
            f"up42_emulator: DAGs folder {folder} does not exist. dag.test() only runs DAGs whose file is "
            "in the configured DAGs folder: put your DAG files in 'dags/' next to your pytest configuration, "
            "or set the ini option up42_dags_folder (e.g. [tool.pytest.ini_options] "
            'up42_dags_folder = "airflow/dags" in pyproject.toml).'
        )
    return folder.resolve()


@pytest.fixture(scope="session")
def up42_airflow_home(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AirflowHome]:
    """The session's Airflow home: created and migrated once, active only inside ``up42_emulator``."""
    home = AirflowHome(tmp_path_factory.mktemp("up42-airflow-home"), dags_folder(pytestconfig))
    home.migrate()
    yield home


def generation_of(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """(API generation, EmulatorConfig overrides) from the test's marker, else the ini option."""
    marker = request.node.get_closest_marker("up42_emulator")
    overrides = dict(marker.kwargs) if marker else {}
    generation = str(overrides.pop("generation", None) or request.config.getini("up42_api_generation"))
    if generation not in GENERATIONS:
        raise pytest.UsageError(
            f"up42_emulator: unknown UP42 API generation {generation!r}; use one of {', '.join(GENERATIONS)} "
            "(ini option up42_api_generation, or @pytest.mark.up42_emulator(generation=...))."
        )
    return generation, overrides


def connection(server: Any, generation: str) -> str:
    """``AIRFLOW_CONN_UP42_DEFAULT`` for the emulator in the given API generation."""
    if generation == "2023":
        return str(server.airflow_connection())
    config = server.config
    return json.dumps(
        {
            "conn_type": "up42",
            "host": server.url,
            "login": getattr(config, "account_username", DEFAULT_ACCOUNT_USERNAME),
            "password": getattr(config, "account_password", DEFAULT_ACCOUNT_PASSWORD),
            "extra": {"api_generation": "current"},
        }
    )


def emulator_config(overrides: Mapping[str, Any]) -> Any:
    from up42_provider.emulator.config import EmulatorConfig

    known = {f.name for f in dataclasses.fields(EmulatorConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise pytest.UsageError(
            f"up42_emulator marker: {', '.join(unknown)} not EmulatorConfig field(s); known: "
            f"generation, {', '.join(sorted(known))}"
        )
    return EmulatorConfig(**{"speed": DEFAULT_SPEED, **overrides})


@pytest.fixture
def up42_emulator(request: pytest.FixtureRequest, up42_airflow_home: AirflowHome) -> Iterator[Any]:
    """A fresh UP42 emulator, with Airflow's home, database, DAGs folder and ``up42_default`` set up for
    ``dag.test()``; yields the ``EmulatorServer`` (``.url``, ``.config``, ``.state``)."""
    from up42_provider.emulator.server import EmulatorServer

    generation, overrides = generation_of(request)
    with EmulatorServer(emulator_config(overrides)) as server:
        extra = {"AIRFLOW_CONN_UP42_DEFAULT": connection(server, generation)}
        with up42_airflow_home.active(extra):
            yield server
