"""The data operators inside real Airflow 3 (``dag.test()`` of tests/dags/data_ops.py in the
session worker): rendering from the run conf, XCom from the order operator, S3 through an Airflow
connection, idempotent re-runs, and the Asset events Airflow records."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from .conftest import BERLIN, BUCKET, S3, Up42, archive_members, local

pytestmark = pytest.mark.usefixtures("airflow_worker")


def run(worker, env: dict[str, str], dag_id: str, **conf):
    result = worker.run_dag(dag_id, conf=conf, env=env)
    assert result.error is None, f"{result.error}\n{result.log[-4000:]}"
    assert result.state == "success", result.log[-6000:]
    return result


def test_download_assets_rerun_downloads_nothing_and_emits_asset(airflow_worker, env, up42: Up42, tmp_path):
    order_ids = up42.orders
    destination = f"file://{tmp_path}/deliveries"
    before = up42.downloads
    first = run(airflow_worker, env, "data_download_assets", order_ids=order_ids, destination=destination)
    assert up42.downloads == before + 2
    uris = first.xcom["download"]
    for order_id in order_ids:
        (asset,) = up42.assets(order_id)
        for rel, data in archive_members(up42.asset_blob(asset["id"])).items():
            path = tmp_path / "deliveries" / f"asset_{asset['id']}" / rel
            assert f"file://{path}" in uris and path.read_bytes() == data
    event = first.xcom["events"][-1]
    assert event["destination"] == f"file://{tmp_path}/deliveries"
    assert event["files"] == len(uris) and event["downloaded"] == 2 and event["skipped"] == 0

    second = run(airflow_worker, env, "data_download_assets", order_ids=order_ids, destination=destination)
    assert second.xcom["download"] == uris and up42.downloads == before + 2
    assert second.xcom["events"][-1]["skipped"] == 2


def test_search_order_download_to_s3_with_plots(airflow_worker, env, up42: Up42, s3: S3):
    prefix = s3.prefix()
    result = run(
        airflow_worker,
        env,
        "data_order_to_s3",
        aoi=BERLIN,
        data_product_id=up42.product,
        plot_to=f"s3://aws_test@{BUCKET}/{prefix}/results.png",
        map_to=f"s3://aws_test@{BUCKET}/{prefix}/results.html",
    )
    (order_id,) = result.xcom["order"]
    (asset,) = up42.assets(order_id)
    expected = archive_members(up42.asset_blob(asset["id"]))
    key_prefix = f"dag-orders/asset_{asset['id']}/"
    for rel, data in expected.items():
        assert s3.read(key_prefix + rel) == data
    assert sorted(result.xcom["download"]) == sorted(f"s3://{BUCKET}/{key_prefix}{r}" for r in expected)
    with Image.open(io.BytesIO(s3.read(f"{prefix}/results.png"))) as image:
        assert image.format == "PNG" and np.asarray(image.convert("L")).std() > 0
    assert "leaflet" in s3.read(f"{prefix}/results.html").decode().lower()
    event = result.xcom["events"][-1]
    assert event["destination"] == f"s3://{BUCKET}/dag-orders" and event["asset_ids"] == [asset["id"]]
    assert len(event["plots"]) == 2


def test_job_results_and_quicklooks(airflow_worker, env, up42: Up42, tmp_path: Path):
    jobs = up42.jobs
    result = run(
        airflow_worker,
        env,
        "data_jobs_and_quicklooks",
        job_ids=jobs,
        aoi=BERLIN,
        destination=str(tmp_path / "jobs"),
        quicklooks=f"file://{tmp_path}/quicklooks",
        mosaic=str(tmp_path / "mosaic.png"),
    )
    merged = json.loads((tmp_path / "jobs" / "data.json").read_text())
    assert {f["properties"]["job_id"] for f in merged["features"]} == set(jobs)
    for job_id in jobs:
        for rel, data in archive_members(up42.job_blob(job_id)).items():
            assert (tmp_path / "jobs" / f"job_{job_id}" / rel).read_bytes() == data
    quicklooks = [local(u) for u in result.xcom["quicklooks"]]
    assert len([p for p in quicklooks if p.parent == tmp_path / "quicklooks"]) == 2
    assert {p.parent.name for p in quicklooks} >= {f"job_{j}" for j in jobs}
    with Image.open(tmp_path / "mosaic.png") as image:
        assert image.format == "PNG"


def test_upload_tree_to_s3_byte_identical(airflow_worker, env, up42: Up42, s3: S3, tmp_path: Path):
    tree = tmp_path / "tree"
    rng = np.random.default_rng(5)
    files = {
        "data.json": b'{"type": "FeatureCollection", "features": []}',
        "a/b/image_0-0.tif": rng.bytes(200_000),
        "a/big.bin": rng.bytes(21 * 2**20),  # > one 16 MiB part: a real multipart upload
        "c/empty.txt": b"",
        "c/d.tif.up42-verified.json": b'{"size": 1}',  # a download sidecar: not uploaded
        "c/d.tif.md5": b"0" * 32 + b"  d.tif\n",  # the user's own file: uploaded
    }
    for rel, data in files.items():
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_bytes(data)
    job_id = up42.jobs[0]
    result = run(airflow_worker, env, "data_upload", sources=[str(tree)], job_ids=[job_id])
    uploaded = {k.removeprefix("dag-uploads/") for k in s3.keys("dag-uploads/")}
    wanted = {rel for rel in files if not rel.endswith(".up42-verified.json")}
    assert wanted <= uploaded and "c/d.tif.up42-verified.json" not in uploaded
    for rel in wanted:
        assert s3.read(f"dag-uploads/{rel}") == files[rel]
    assert s3.read(f"dag-uploads/{job_id}.tgz") == up42.job_blob(job_id)
    assert len(result.xcom["upload"]) == len(wanted) + 1
    event = result.xcom["events"][-1]
    assert event == {"destination": f"s3://{BUCKET}/dag-uploads", "files": len(wanted) + 1, "skipped": 0}


def test_no_signature_in_debug_task_logs(airflow_worker, env, up42: Up42, tmp_path: Path):
    """urllib3 logs every request line at DEBUG; Airflow's masker hides only what was registered."""
    result = run(
        airflow_worker,
        env,
        "data_signed_urls_debug",
        order_ids=up42.orders[:1],
        job_ids=up42.jobs[:1],
        assets=str(tmp_path / "assets"),
        results=str(tmp_path / "results"),
        archives=f"file://{tmp_path}/archives",
    )
    assert any(p.is_file() for p in (tmp_path / "archives").iterdir())
    requested = re.findall(r'"GET (/storage/[^ "]*)', result.log)
    assert len(requested) >= 3, "DEBUG logging of urllib3 did not reach the task log"
    leaked = re.findall(r"(?:X-Goog-Signature|X-Goog-Credential)=(?!\*\*\*)[^&\s\"]+", result.log)
    assert leaked == [], leaked[:3]
