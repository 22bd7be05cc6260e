"""Provider registration: the dict Airflow reads must match Airflow's own schema and our distribution."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import airflow
import jsonschema
import pytest

from up42_provider.get_provider_info import get_provider_info


def _schema() -> dict:
    return json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())


def test_provider_info_validates_against_airflow_schema():
    jsonschema.validate(get_provider_info(), _schema())


def test_package_name_is_the_distribution_name():
    dist = metadata.distribution("airflow-provider-up42")
    assert get_provider_info()["package-name"] == dist.metadata["Name"]


def test_entry_point_is_registered():
    eps = metadata.entry_points(group="apache_airflow_provider")
    assert any(ep.value == "up42_provider.get_provider_info:get_provider_info" for ep in eps)


def test_connection_form_declared_in_provider_info():
    conn = get_provider_info()["connection-types"][0]
    assert conn["connection-type"] == "up42"
    assert set(conn["conn-fields"]) >= {"api_generation", "region", "timeout", "max_attempts", "verify_ssl"}
    behaviour = conn["ui-field-behaviour"]
    assert behaviour["relabeling"]["login"] == "Account e-mail or project ID"
    assert "port" in behaviour["hidden-fields"]


def test_airflow_cli_lists_the_provider(tmp_path):
    env = {"AIRFLOW_HOME": str(tmp_path), "PATH": str(Path(sys.executable).parent)}
    out = subprocess.run(
        [
            str(Path(sys.executable).parent / "airflow"),
            "providers",
            "get",
            "airflow-provider-up42",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "airflow-provider-up42" in out.stdout


def test_every_declared_module_and_class_imports():
    import importlib

    info = get_provider_info()
    modules = [
        m
        for key in ("operators", "sensors", "hooks", "triggers")
        for e in info.get(key, [])
        for m in e["python-modules"]
    ]
    classes = [c["hook-class-name"] for c in info["connection-types"]] + info.get("extra-links", [])
    for name in modules:
        importlib.import_module(name)
    for path in classes:
        module, _, cls = path.rpartition(".")
        assert hasattr(importlib.import_module(module), cls), path


def test_documentation_url_is_declared_and_reaches_airflow():
    """Airflow takes a provider's documentation-url from the distribution's Project-URL "Documentation"."""
    from airflow.providers_manager import ProvidersManager

    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

    declared = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"]["urls"]
    assert declared["Documentation"].startswith("https://")
    urls = metadata.distribution("airflow-provider-up42").metadata.get_all("Project-URL") or []
    if not any(u.lower().startswith("documentation,") for u in urls):
        pytest.skip("this environment's package metadata predates [project.urls]: pip install -e . again")
    info = ProvidersManager().providers["airflow-provider-up42"].data
    assert info["documentation-url"] == declared["Documentation"]
