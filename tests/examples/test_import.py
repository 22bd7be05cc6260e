"""The example DAGs as the DAG processor sees them: they import without errors, cheaply (no plotting or
raster library at parse time), with valid Params whose outputs follow ``UP42_EXAMPLE_OUTPUT``, and the
downstream DAG is scheduled on exactly the Asset the archive download emits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.airflow_env import REPO

from .conftest import EXAMPLE_DAGS

HEAVY = ("geopandas", "rasterio", "matplotlib", "folium", "pyogrio")
EXPECTED = {
    "up42_archive_imagery",
    "up42_tasking",
    "up42_processing",
    "up42_parallel_processing",
    "up42_downstream",
    "up42_current_archive_processing",
    "up42_current_tasking",
    "up42_current_parallel_processing",
}
# The connection each example reads: 2023-generation credentials in up42_default, today's in up42_current.
CONNECTIONS = {dag_id: "up42_current" if "current" in dag_id else "up42_default" for dag_id in EXPECTED}

# Runs in a fresh interpreter with a private AIRFLOW_HOME: plain imports first (what does a DAG file
# pull in?), then Airflow's own DagBag (import errors, the parsed DAGs).
PROBE = r"""
import importlib.util, json, sys, time
from pathlib import Path

folder = Path(sys.argv[1])
heavy = tuple(sys.argv[2].split(","))
out = {"import_seconds": {}, "heavy": {}}
for path in sorted(folder.glob("*.py")):
    started = time.monotonic()
    spec = importlib.util.spec_from_file_location(f"example_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out["import_seconds"][path.name] = time.monotonic() - started
    out["heavy"][path.name] = sorted(m for m in sys.modules if m.split(".")[0] in heavy)

from airflow.dag_processing.dagbag import DagBag
from up42_provider.operators._data import asset_uri

bag = DagBag(dag_folder=str(folder))
out["import_errors"] = {k: str(v) for k, v in bag.import_errors.items()}
out["dags"] = {}
for dag_id, dag in bag.dags.items():
    dag.params.validate()
    tasks = {}
    for task in dag.tasks:
        partial = getattr(task, "partial_kwargs", None) or {}
        def attr(name, default=None):
            return partial[name] if name in partial else getattr(task, name, default)
        tasks[task.task_id] = {
            "type": type(task).__name__,
            "conn": attr("up42_conn_id"),
            "deferrable": attr("deferrable"),
            "waits": attr("wait_for_completion", True),
            "destination": getattr(task, "destination", None),
            "asset_alias": getattr(task, "asset_alias", None),
        }
    schedule = [a.uri for a in dag.schedule] if isinstance(dag.schedule, (list, tuple)) else []
    out["dags"][dag_id] = {
        "doc": dag.doc_md or "",
        "tags": sorted(dag.tags),
        "params": {k: dag.params[k] for k in dag.params},
        "tasks": tasks,
        "schedule_assets": schedule,
    }
archive = bag.dags.get("up42_archive_imagery")
if archive is not None:
    out["archive_deliveries_asset"] = asset_uri(archive.params["output_folder"] + "/deliveries")
print("PROBE " + json.dumps(out, default=str))
"""


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    home = tmp_path_factory.mktemp("example-parse-home")
    output = tmp_path_factory.mktemp("example-parse-output")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "_AIRFLOW", "UP42_EXAMPLE"))}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(EXAMPLE_DAGS),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        UP42_EXAMPLE_OUTPUT=str(output),
    )
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(EXAMPLE_DAGS), ",".join(HEAVY)],
        capture_output=True,
        text=True,
        env=env,
        cwd=home,
        timeout=180,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("PROBE ")]
    assert proc.returncode == 0 and lines, f"{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    result = json.loads(lines[-1].removeprefix("PROBE "))
    result["output"] = str(output)
    return result


def test_example_dags_import_without_errors(probe):
    assert probe["import_errors"] == {}
    assert set(probe["dags"]) == EXPECTED
    assert {f"{dag_id}.py" for dag_id in EXPECTED} == {p.name for p in EXAMPLE_DAGS.glob("*.py")}


def test_example_dag_files_import_no_heavy_library(probe):
    # What parsing costs in time is measured by benchmarks/parse_benchmark.py, not asserted here.
    assert probe["heavy"] == {name: [] for name in probe["heavy"]}, "imported at parse time"


def test_example_dags_are_documented_and_use_their_generations_connection(probe):
    for dag_id, dag in probe["dags"].items():
        assert len(dag["doc"]) > 400 and "example" in dag["tags"], dag_id
        conns = {t["conn"] for t in dag["tasks"].values() if t["conn"]}
        assert conns == {CONNECTIONS[dag_id]} or (dag_id == "up42_downstream" and not conns), (dag_id, conns)
        # Every UP42 wait is deferrable: no worker slot is held for hours.
        waits = [t for t in dag["tasks"].values() if t["deferrable"] is not None and t["waits"]]
        assert bool(waits) == (dag_id != "up42_downstream"), dag_id
        assert all(t["deferrable"] for t in waits), (dag_id, waits)


def test_default_outputs_follow_UP42_EXAMPLE_OUTPUT(probe):
    base = Path(probe["output"]).as_uri()
    for dag_id, dag in probe["dags"].items():
        outputs = {k: v for k, v in dag["params"].items() if k.endswith(("_folder", "_uri"))}
        assert outputs, dag_id
        for name, value in outputs.items():
            assert value.startswith(base + "/"), (dag_id, name, value)


def test_downstream_is_scheduled_on_the_archive_download_asset(probe):
    downstream = probe["dags"]["up42_downstream"]
    assert downstream["schedule_assets"] == [probe["archive_deliveries_asset"]]
    download = probe["dags"]["up42_archive_imagery"]["tasks"]["download_assets"]
    assert download["asset_alias"], "a templated destination needs an alias to emit its Asset"
    assert probe["archive_deliveries_asset"] == Path(probe["output"], "archive", "deliveries").as_uri()
