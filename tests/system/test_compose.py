"""Static checks of docker-compose.yaml, the Dockerfile and .dockerignore (no Docker engine runs here).

They catch what would otherwise only fail at ``docker compose up``: every service of an Airflow 3
CeleryExecutor deployment is there with the right command; the provider image is built from this repository;
the example DAGs are mounted; database and broker URLs match the postgres and redis services; the UP42
connections of both API generations (``up42_default``: 2023 project, ``up42_current``: today's account)
parse (with Airflow's own parser and the hook's) and point at the emulator service with the emulator's
credentials; the emulator listens where the connections say; start-up ordering waits on healthchecks that
exist.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from up42_provider.emulator.cli import build_parser, config_from_args
from up42_provider.emulator.config import DEFAULT_PROJECT_API_KEY, DEFAULT_PROJECT_ID, EmulatorConfig

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
AIRFLOW_VERSION = "3.3.2"

AIRFLOW_SERVICES = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
    "airflow-worker": "celery worker",
    "airflow-init": None,
}
# The example DAGs' connections (environment variable -> API generation): both point at the emulator.
UP42_CONNECTIONS = {"AIRFLOW_CONN_UP42_DEFAULT": "2023", "AIRFLOW_CONN_UP42_CURRENT": "current"}
EMULATOR_URL = "http://up42-emulator:8042"
LONG_RUNNING = [*(s for s in AIRFLOW_SERVICES if s != "airflow-init"), "postgres", "redis", "up42-emulator"]
_DEFAULT = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


def interpolate(value: str) -> str:
    """Compose variable substitution with nothing set: ``${X:-default}`` -> default, ``$$`` -> ``$``."""
    return _DEFAULT.sub(lambda m: m.group(2) or "", value).replace("$$", "$")


def words(command: Any) -> list[str]:
    """A service command as an argv list (compose accepts a string or a list)."""
    if command is None:
        return []
    return shlex.split(command) if isinstance(command, str) else [str(c) for c in command]


def env_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: interpolate(str(v)) for k, v in env.items()}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    assert COMPOSE.is_file(), "docker-compose.yaml is missing at the repository root"
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))  # resolves anchors and `<<` merges


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def test_all_services_present(services: dict[str, dict[str, Any]]) -> None:
    missing = {*AIRFLOW_SERVICES, "postgres", "redis", "up42-emulator"} - set(services)
    assert not missing, f"services missing: {sorted(missing)}"


@pytest.mark.parametrize("name", list(AIRFLOW_SERVICES))
def test_airflow_services_use_the_provider_image(services: dict[str, dict[str, Any]], name: str) -> None:
    service = services[name]
    build = service.get("build")
    assert isinstance(build, dict), f"{name} must build the provider image"
    assert (ROOT / build.get("context", ".")).resolve() == ROOT
    assert (ROOT / build.get("dockerfile", "Dockerfile")).resolve() == DOCKERFILE
    assert service["image"] == services["up42-emulator"]["image"], "one image for Airflow and the emulator"
    assert interpolate(service["image"]), "the built image needs a name so it is built once and shared"


@pytest.mark.parametrize(("name", "command"), [(k, v) for k, v in AIRFLOW_SERVICES.items() if v])
def test_airflow_commands(services: dict[str, dict[str, Any]], name: str, command: str) -> None:
    assert words(services[name].get("command")) == command.split()
    assert "entrypoint" not in services[name], "Airflow services keep the image's entrypoint"


def test_dockerfile_installs_the_provider_on_airflow_3_3(services: dict[str, dict[str, Any]]) -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    args = dict(re.findall(r"^ARG\s+(\w+)=(\S+)", text, re.M))
    args.update(services["airflow-scheduler"]["build"].get("args") or {})
    base = re.search(r"^FROM\s+(\S+)", text, re.M).group(1)  # type: ignore[union-attr]
    base = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), base)
    assert base == f"apache/airflow:{AIRFLOW_VERSION}"
    for source, _target in re.findall(r"^COPY\s+(?:--\S+\s+)*(.+?)\s+(\S+)$", text, re.M):
        for path in source.split():
            assert (ROOT / path).exists(), f"the Dockerfile copies {path}, which does not exist"
    install = re.search(r"^RUN\s+pip install (.+)$", text, re.M)
    assert install, "the Dockerfile must pip-install the provider"
    assert '"apache-airflow==${AIRFLOW_VERSION}"' in install.group(1), "pin Airflow while installing"
    assert "/opt/airflow/provider" in install.group(1)
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".venv", ".git"} <= set(ignored), "the build context must not ship the venv or git history"


def test_example_dags_are_mounted(services: dict[str, dict[str, Any]]) -> None:
    for name in AIRFLOW_SERVICES:
        mounts = [str(v).split(":") for v in services[name].get("volumes") or []]
        dags = [m for m in mounts if len(m) >= 2 and m[1] == "/opt/airflow/dags"]
        assert dags, f"{name} does not mount the DAGs folder"
        assert (ROOT / dags[0][0]).resolve() == ROOT / "example_dags"
        assert (ROOT / "example_dags").is_dir()


@pytest.mark.parametrize("name", list(AIRFLOW_SERVICES))
def test_airflow_environment(services: dict[str, dict[str, Any]], name: str) -> None:
    env = env_of(services[name])
    pg = env_of(services["postgres"])
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"

    db = urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    assert db.scheme == "postgresql+psycopg2"
    assert (db.hostname, db.username, db.password) == (
        "postgres",
        pg["POSTGRES_USER"],
        pg["POSTGRES_PASSWORD"],
    )
    assert db.path.lstrip("/") == pg["POSTGRES_DB"]
    backend = urlsplit(env["AIRFLOW__CELERY__RESULT_BACKEND"])
    assert backend.scheme == "db+postgresql+psycopg2" and backend.hostname == "postgres"

    broker = urlsplit(env["AIRFLOW__CELERY__BROKER_URL"])
    assert broker.scheme == "redis" and broker.hostname == "redis" and (broker.port or 6379) == 6379

    execution = urlsplit(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    assert execution.hostname == "airflow-apiserver" and execution.path.rstrip("/") == "/execution"
    api_ports = [str(p).split(":")[-1] for p in services["airflow-apiserver"].get("ports") or []]
    assert str(execution.port) in api_ports
    assert env.get("AIRFLOW__API_AUTH__JWT_SECRET"), "api-server and scheduler must share a JWT secret"
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"].lower() == "false"


def test_environment_shared_by_all_airflow_services(services: dict[str, dict[str, Any]]) -> None:
    keys = ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__CORE__FERNET_KEY", *UP42_CONNECTIONS)
    values = {key: {env_of(services[name]).get(key) for name in AIRFLOW_SERVICES} for key in keys}
    assert all(len(v) == 1 for v in values.values()), values


def emulator_config(services: dict[str, dict[str, Any]]) -> tuple[Any, EmulatorConfig]:
    """The emulator service's parsed command line and the configuration it runs with."""
    emulator = services["up42-emulator"]
    argv = words(emulator.get("entrypoint")) + words(emulator.get("command"))
    assert "up42-emulator" in argv, argv
    args = build_parser().parse_args(argv[argv.index("up42-emulator") + 1 :])
    return args, config_from_args(args)


@pytest.mark.parametrize(("key", "generation"), list(UP42_CONNECTIONS.items()))
def test_up42_connections_point_at_the_emulator(
    services: dict[str, dict[str, Any]], key: str, generation: str
) -> None:
    from airflow.models.connection import Connection

    from up42_provider.hooks.up42 import UP42Hook

    raw = env_of(services["airflow-worker"])[key]
    data = json.loads(raw)
    # Exactly the connection the emulator service's own configuration gives for this generation.
    _args, config = emulator_config(services)
    assert {"extra": {}, **data} == config.airflow_connection(EMULATOR_URL, generation)

    # Parsed as Airflow parses AIRFLOW_CONN_* JSON, then turned into client settings by the hook.
    conn = Connection.from_json(raw, conn_id=key.removeprefix("AIRFLOW_CONN_").lower())
    settings = UP42Hook.settings_from(conn, conn.extra_dejson)
    assert settings.base_url.rstrip("/") == EMULATOR_URL
    assert settings.generation == generation
    if generation == "2023":
        assert (settings.project_id, settings.api_key) == (DEFAULT_PROJECT_ID, DEFAULT_PROJECT_API_KEY)
    else:
        assert (settings.username, settings.password) == (config.account_username, config.account_password)


@pytest.mark.parametrize("key", list(UP42_CONNECTIONS))
def test_emulator_service_listens_where_the_connection_points(
    services: dict[str, dict[str, Any]], key: str
) -> None:
    emulator = services["up42-emulator"]
    args, _config = emulator_config(services)
    argv = words(emulator.get("entrypoint")) + words(emulator.get("command"))
    target = urlsplit(json.loads(env_of(services["airflow-worker"])[key])["host"])
    assert args.host == "0.0.0.0", "the emulator must listen on all interfaces of its container"
    assert args.port == target.port == 8042
    assert target.hostname == "up42-emulator"
    assert args.speed == 10
    assert (args.project_id, args.project_api_key) == (DEFAULT_PROJECT_ID, DEFAULT_PROJECT_API_KEY)
    health = " ".join(words(emulator["healthcheck"]["test"]))
    assert f":{args.port}/" in health
    assert "airflow" not in argv, "the emulator must not run through the Airflow entrypoint"


def test_init_migrates_and_creates_the_user(services: dict[str, dict[str, Any]]) -> None:
    init = services["airflow-init"]
    env = env_of(init)
    assert env["_AIRFLOW_DB_MIGRATE"].lower() == "true"
    assert env["_AIRFLOW_WWW_USER_CREATE"].lower() == "true"
    assert env["_AIRFLOW_WWW_USER_USERNAME"] and env["_AIRFLOW_WWW_USER_PASSWORD"]
    assert "restart" not in init, "a one-shot service must not restart"


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_long_running_services_have_healthchecks(services: dict[str, dict[str, Any]], name: str) -> None:
    check = services[name].get("healthcheck") or {}
    test = words(check.get("test"))
    assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name} needs a healthcheck"
    assert services[name].get("restart") in ("always", "unless-stopped", "on-failure")


def test_scheduler_healthcheck_server_enabled(services: dict[str, dict[str, Any]]) -> None:
    scheduler = services["airflow-scheduler"]
    assert env_of(scheduler)["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"].lower() == "true"
    assert ":8974/health" in " ".join(words(scheduler["healthcheck"]["test"]))


def test_depends_on(services: dict[str, dict[str, Any]]) -> None:
    for name in AIRFLOW_SERVICES:
        deps = services[name]["depends_on"]
        assert deps["postgres"]["condition"] == "service_healthy", name
        assert deps["redis"]["condition"] == "service_healthy", name
        if name != "airflow-init":
            assert deps["airflow-init"]["condition"] == "service_completed_successfully", name
    for name in ("airflow-worker", "airflow-triggerer"):  # tasks and triggers call the UP42 API
        assert services[name]["depends_on"]["up42-emulator"]["condition"] == "service_healthy"
    for name, service in services.items():
        for dep, spec in (service.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown service {dep}"
            if spec.get("condition") == "service_healthy":
                assert services[dep].get("healthcheck"), (
                    f"{name} waits for {dep} to be healthy: no healthcheck"
                )


def test_named_volumes_declared(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    for name, service in compose["services"].items():
        for volume in service.get("volumes") or []:
            source = str(volume).split(":")[0]
            if not source.startswith((".", "/", "~", "$")):
                assert source in declared, f"{name} uses undeclared volume {source}"


def test_example_dags_can_plot_and_write_outputs(services: dict[str, dict[str, Any]]) -> None:
    # The example DAGs render plots (the `plots` extra) and write below UP42_EXAMPLE_OUTPUT.
    assert "plots" in dockerfile_extras()
    worker = services["airflow-worker"]
    output = worker["environment"]["UP42_EXAMPLE_OUTPUT"]
    assert any(str(v).endswith(":" + output) for v in worker["volumes"])


def dockerfile_extras() -> set[str]:
    install = re.search(r'"/opt/airflow/provider\[([^\]]*)\]"', DOCKERFILE.read_text(encoding="utf-8"))
    assert install, "the Dockerfile must install the provider with its extras"
    return {e.strip() for e in install.group(1).split(",")}


def test_image_can_write_to_gcs_buckets() -> None:
    # gs:// destinations (the 2023 SDK's upload_results_to_bucket target) need the gcs extra's gcsfs.
    assert "gcs" in dockerfile_extras()


def test_celery_settings_match_the_system_test(services: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    """Executor, database/broker/result-backend drivers and shared settings are those test_celery runs."""
    from tests.system.celery_topology import CeleryTopology

    tested = CeleryTopology(
        tmp_path,
        tmp_path,
        database_url="postgresql+psycopg2://airflow@127.0.0.1:5432/airflow",
        broker_url="redis://127.0.0.1:6379/0",
        connections={},
    ).base_env()
    for name in AIRFLOW_SERVICES:
        env = env_of(services[name])
        assert env["AIRFLOW__CORE__EXECUTOR"] == tested["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        for key in (
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
            "AIRFLOW__CELERY__RESULT_BACKEND",
            "AIRFLOW__CELERY__BROKER_URL",
        ):
            assert urlsplit(env[key]).scheme == urlsplit(tested[key]).scheme, (name, key)
            assert urlsplit(env[key]).path == urlsplit(tested[key]).path, (name, key)
        assert env["AIRFLOW__CORE__LOAD_EXAMPLES"].lower() == tested["AIRFLOW__CORE__LOAD_EXAMPLES"].lower()


def test_several_workers_serve_the_default_queue(services: dict[str, dict[str, Any]]) -> None:
    worker = services["airflow-worker"]
    assert int((worker.get("deploy") or {}).get("replicas", 1)) >= 2, "run at least two workers"
    argv = words(worker["command"])
    if "--queues" in argv or "-q" in argv:
        flag = "--queues" if "--queues" in argv else "-q"
        assert "default" in argv[argv.index(flag) + 1].split(","), "workers must serve the default queue"
    # Celery names workers after the container's hostname: replicas must not pin one.
    assert "hostname" not in worker and "container_name" not in worker
