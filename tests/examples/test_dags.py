"""Every example DAG end to end: ``dag.test()`` in real Airflow 3 against the emulator (speed 100), with
the outputs redirected to the test's folders through the run conf, and the files they promise checked:
GeoTIFFs, PNG plots, HTML maps, copies in the "bucket", the downstream report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import rasterio

from tests.airflow_env import DagTestResult, connection_env

PNG = b"\x89PNG\r\n\x1a\n"


def geotiffs(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.tif"))


def assert_png(path: Path) -> None:
    assert path.is_file() and path.read_bytes()[:8] == PNG and path.stat().st_size > 2000, path


def assert_map(path: Path) -> None:
    assert path.is_file() and "leaflet" in path.read_text().lower(), path


def assert_geotiff(path: Path) -> None:
    with rasterio.open(path) as raster:
        assert raster.crs is not None and raster.count >= 3 and raster.width > 10, path


def files_below(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def archive(example_worker, example_emulator, tmp_path_factory) -> tuple[DagTestResult, Path]:
    """One run of the archive pipeline (module-scoped: the downstream test reads its deliveries)."""
    out = tmp_path_factory.mktemp("archive")
    conf = {"output_folder": (out / "run").as_uri(), "bucket_uri": (out / "bucket").as_uri(), "images": 2}
    result = example_worker.run_dag(
        "up42_archive_imagery", conf=conf, env=connection_env(example_emulator), timeout=240
    )
    assert result.error is None and result.state == "success", f"{result.tasks}\n{result.log[-6000:]}"
    return result, out


def test_archive_pipeline_orders_downloads_plots_and_uploads(archive):
    result, out = archive
    run, bucket = out / "run", out / "bucket"
    assert result.deferred("wait_for_delivery"), "the order sensor must wait in the triggerer"
    assert len(result.xcom["place_order"]) == 2
    assert result.xcom["estimate_credits"]["credits"] > 0
    tifs = geotiffs(run / "deliveries")
    assert len(tifs) == 2 and {p.as_uri() for p in tifs} <= set(result.xcom["download_assets"])
    for tif in tifs:
        assert_geotiff(tif)
    for name in ("coverage", "results", "quicklooks"):
        assert_png(run / "plots" / f"{name}.png")
    assert_map(run / "plots" / "results.html")
    assert_map(run / "plots" / "quicklooks.html")
    assert len(list((run / "quicklooks").glob("quicklook_*.jpg"))) == 2
    # The bucket holds the deliveries and the plots, layout kept, without download bookkeeping.
    expected = {f for f in files_below(run) if f.startswith(("deliveries/", "plots/"))}
    expected = {f for f in expected if not f.endswith(".up42-download.json")}
    assert files_below(bucket) == expected
    for rel in expected:
        assert (bucket / rel).read_bytes() == (run / rel).read_bytes()


def test_downstream_reads_the_delivered_imagery(run_example, archive, tmp_path):
    _, out = archive
    deliveries = out / "run" / "deliveries"
    result = run_example(
        "up42_downstream", imagery_folder=deliveries.as_uri(), report_folder=(tmp_path / "reports").as_uri()
    )
    (report_path,) = (tmp_path / "reports").glob("report_*.json")
    report = json.loads(report_path.read_text())
    assert len(report["rasters"]) == len(geotiffs(deliveries)) == 2
    for raster in report["rasters"]:
        assert raster["crs"] and raster["bands"] and all(0 < b["valid"] <= 1 for b in raster["bands"])
    assert result.xcom["write_report"].endswith(report_path.name)


def test_archive_credit_guard_stops_before_ordering(example_worker, example_emulator, tmp_path):
    conf = {"output_folder": (tmp_path / "run").as_uri(), "max_credits": 1}
    result = example_worker.run_dag(
        "up42_archive_imagery", conf=conf, env=connection_env(example_emulator), timeout=240
    )
    assert result.state == "failed"
    assert result.tasks["estimate_credits"] == "failed"
    assert "max_credits=1" in " ".join(result.errors("estimate_credits"))
    assert result.tasks["place_order"] == "upstream_failed" and "place_order" not in result.runs


def test_processing_pipeline_runs_a_job_and_uploads_its_archive(run_example, tmp_path):
    run, bucket = tmp_path / "run", tmp_path / "bucket"
    result = run_example("up42_processing", output_folder=run.as_uri(), bucket_uri=bucket.as_uri())
    (job_id,) = result.xcom["run_job"]
    assert result.deferred("run_job"), "the job must be awaited in the triggerer"
    (tif,) = geotiffs(run / "results" / f"job_{job_id}")
    assert_geotiff(tif)
    merged = json.loads((run / "results" / "data.json").read_text())
    assert {f["properties"]["job_id"] for f in merged["features"]} == {job_id}
    assert_png(run / "plots" / "results.png")
    assert_png(run / "plots" / "quicklooks.png")
    assert_map(run / "plots" / "results.html")
    assert (bucket / f"{job_id}.tgz").stat().st_size > 1000


@pytest.mark.parametrize("decision", ["ACCEPTED", "REJECTED"])
def test_tasking_pipeline_decides_the_quotation(run_example, example_emulator, tmp_path, decision):
    run = tmp_path / "run"
    result = run_example("up42_tasking", quotation_decision=decision, output_folder=run.as_uri())
    (order_id,) = result.xcom["place_tasking_order"]
    status = example_emulator.state.orders.records[order_id].status
    if decision == "ACCEPTED":
        assert status == "FULFILLED" and result.deferred("wait_for_acquisition")
        (tif,) = geotiffs(run / "deliveries")
        assert_geotiff(tif)
    else:
        assert status == "FAILED"
        assert result.tasks["wait_for_acquisition"] == result.tasks["download_assets"] == "skipped"
        assert not run.exists()


def test_parallel_processing_both_ways(run_example, tmp_path):
    run = tmp_path / "run"
    result = run_example("up42_parallel_processing", output_folder=run.as_uri())
    parallel: dict[str, Any] = result.xcom["run_parallel_jobs"]
    assert len(parallel["succeeded"]) == 4 and not parallel["failed"]
    mapped = [p for p in result.xcom["download_mapped_results"] if p.endswith("/data.json")]
    for folder, job_ids in (("parallel", parallel["succeeded"]), ("mapped", None)):
        merged = json.loads((run / folder / "data.json").read_text())
        jobs = {f["properties"]["job_id"] for f in merged["features"]}
        assert len(jobs) == 4 and (job_ids is None or jobs == set(job_ids)), folder
        assert len(geotiffs(run / folder)) == 4
    assert mapped and result.deferred("run_mapped_job")
    assert_png(run / "plots" / "parallel.png")
    assert_png(run / "plots" / "mapped.png")
    assert_map(run / "plots" / "parallel.html")


def test_downstream_reads_only_what_the_asset_event_delivered(archive):
    """The asset-triggered path (dag.test cannot fake triggering events): one event, one asset."""
    import importlib.util
    from types import SimpleNamespace

    from .conftest import EXAMPLE_DAGS

    _, out = archive
    deliveries = out / "run" / "deliveries"
    first, second = sorted(p.name.removeprefix("asset_") for p in deliveries.glob("asset_*"))
    spec = importlib.util.spec_from_file_location("example_downstream", EXAMPLE_DAGS / "up42_downstream.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    find_imagery = module.up42_downstream().task_dict["find_imagery"].python_callable
    event = SimpleNamespace(
        extra={"destination": deliveries.as_uri(), "asset_ids": [second]},
        source_dag_id="up42_archive_imagery",
        source_task_id="download_assets",
        asset=SimpleNamespace(uri=deliveries.as_uri()),
    )
    context = {"triggering_asset_events": {module.DELIVERIES: [event]}, "params": {}}
    (tif,) = find_imagery(**context)
    assert f"/asset_{second}/" in tif and first not in tif


def test_current_pipeline_orders_processes_and_uploads(run_example, example_emulator, tmp_path, monkeypatch):
    """Today's API: v2 order, deferred sensor, deliveries from STAC storage, a processing job on the
    delivery, its results (checksum-verified by the download engine), the bucket copy."""
    from up42_provider.hooks.up42 import UP42Hook

    run, bucket = tmp_path / "run", tmp_path / "bucket"
    result = run_example(
        "up42_current_archive_processing", output_folder=run.as_uri(), bucket_uri=bucket.as_uri()
    )
    assert result.deferred("wait_for_delivery") and result.deferred("run_processing")
    (order_id,) = result.xcom["place_order"]
    (job_id,) = result.xcom["run_processing"]
    delivered = geotiffs(run / "deliveries")
    processed = geotiffs(run / "results")
    assert delivered and processed
    for tif in [*delivered, *processed]:
        assert_geotiff(tif)
    assert all(uri.startswith("file://") for uri in result.xcom["download_deliveries"])
    for tif in [*delivered, *processed]:  # the bucket holds the same bytes
        assert (bucket / tif.relative_to(run)).read_bytes() == tif.read_bytes()
    monkeypatch.setenv("AIRFLOW_CONN_UP42_CURRENT", example_emulator.airflow_connection("current"))
    hook = UP42Hook(up42_conn_id="up42_current")
    job = hook.get_job(job_id)
    assert job["generation"] == "current" and job["status"] in ("successful", "captured")
    assert hook.get_order(order_id)["status"] == "FULFILLED"
    results = list(hook.iter_job_result_items(job))
    assert results and {i["properties"]["up42-system:job_id"] for i in results} == {job_id}


@pytest.mark.parametrize("decision", ["ACCEPTED", "REJECTED"])
def test_current_tasking_chooses_the_feasibility_option_and_decides(
    run_example, example_emulator, tmp_path, monkeypatch, decision
):
    """Today's tasking: a manual feasibility study (the emulator's tag asks for one), the option
    chosen by the task, then the quotation decided; accepted, the acquisition is delivered."""
    from up42_provider.hooks.up42 import UP42Hook

    run = tmp_path / "run"
    result = run_example(
        "up42_current_tasking",
        feasibility_option=0,
        quotation_decision=decision,
        order_tags=["airflow-example", "emulator:feasibility"],
        output_folder=run.as_uri(),
    )
    (order_id,) = result.xcom["place_tasking_order"]
    monkeypatch.setenv("AIRFLOW_CONN_UP42_CURRENT", example_emulator.airflow_connection("current"))
    hook = UP42Hook(up42_conn_id="up42_current")
    (study,) = hook.get_feasibility(order_id=order_id)
    assert study["decision"] == "ACCEPTED" and study["decisionOption"]["id"] == study["options"][0]["id"]
    assert {q["decision"] for q in hook.get_quotations(order_id=order_id)} == {decision}
    order = hook.get_order(order_id)
    assert order["type"] == "TASKING" and order["generation"] == "current"
    if decision == "ACCEPTED":
        assert order["status"] == "FULFILLED" and result.deferred("wait_for_acquisition")
        (tif,) = geotiffs(run / "deliveries")
        assert_geotiff(tif)
    else:
        assert result.tasks["wait_for_acquisition"] == result.tasks["download_deliveries"] == "skipped"
        assert not run.exists()


def test_current_parallel_processing_runs_one_job_per_delivered_item(
    run_example, example_emulator, tmp_path, monkeypatch
):
    from up42_provider.hooks.up42 import UP42Hook

    run, bucket = tmp_path / "run", tmp_path / "bucket"
    result = run_example(
        "up42_current_parallel_processing",
        images=3,
        max_concurrent_jobs=2,
        output_folder=run.as_uri(),
        bucket_uri=bucket.as_uri(),
    )
    parallel: dict[str, Any] = result.xcom["run_parallel_jobs"]
    assert len(parallel["succeeded"]) == 3 and not parallel["failed"]
    assert result.deferred("run_parallel_jobs") and result.deferred("wait_for_delivery")
    monkeypatch.setenv("AIRFLOW_CONN_UP42_CURRENT", example_emulator.airflow_connection("current"))
    hook = UP42Hook(up42_conn_id="up42_current")
    items = {hook.get_job(j)["definition"]["inputs"]["item"] for j in parallel["succeeded"]}
    delivered = {
        link["href"]
        for order_id in result.xcom["place_orders"]
        for item in hook.iter_order_items(order_id)
        for link in item["links"]
        if link["rel"] == "self"
    }
    assert len(items) == 3 and items == delivered  # one job per delivered item
    processed = geotiffs(run / "results")
    assert len(processed) >= 3
    for tif in processed:
        assert_geotiff(tif)
        assert (bucket / tif.relative_to(run)).read_bytes() == tif.read_bytes()
