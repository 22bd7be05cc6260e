"""The data operators on today's UP42 API over real HTTP: an order placed through the hook, its
STAC deliveries downloaded (local and S3 on moto), a processing job's results, quicklooks, the
upload of what was downloaded, the URI shape of XCom, and the named-parameter typo error. The
DAG-level cases run ``tests/dags/current_data.py`` under ``dag.test()``."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.emulator.test_orders import HAMBURG
from up42_provider.emulator.config import EmulatorConfig
from up42_provider.emulator.server import EmulatorServer
from up42_provider.hooks.up42 import UP42Hook
from up42_provider.operators.download import UP42DownloadAssetsOperator, UP42DownloadJobResultsOperator
from up42_provider.operators.quicklooks import UP42DownloadQuicklooksOperator

from .conftest import AWS_CONN_ID, BUCKET, S3, Up42, execute, local

CONN = "up42_current"


@dataclass
class Today:
    server: EmulatorServer
    counter: Up42  # counts the signed-URL GETs and reads the emulator's stored bytes
    hook: UP42Hook
    order: str  # a FULFILLED order
    job: str  # a successful processing job on the order's item
    image_ids: list[str]

    @property
    def env(self) -> dict[str, str]:
        return {f"AIRFLOW_CONN_{CONN.upper()}": self.server.airflow_connection("current")}

    def delivered(self, order_id: str) -> dict[str, bytes]:
        """File name -> bytes of each stored file of the order's items, as the emulator keeps them."""
        store = self.server.state.assets
        out = {}
        for record in store.records.values():
            if record.item["properties"].get("up42-order:id") == order_id:
                for f in record.files:
                    out[f"asset_{record.asset['id']}/{f.id}"] = self.counter.blob(f.blob_key)
        return out

    def result_blobs(self, job_id: str) -> list[bytes]:
        store = self.server.state.assets
        return [
            self.counter.blob(f.blob_key)
            for record in store.records.values()
            if record.item["properties"].get("up42-system:job_id") == job_id
            for f in record.files
        ]


def _advance(server: EmulatorServer, until, what: str) -> None:
    deadline = time.monotonic() + 60
    while not until():
        assert time.monotonic() < deadline, f"{what} did not finish"
        assert requests.post(f"{server.url}/_emulator/clock", json={"advance": 60}, timeout=10).ok
        time.sleep(0.1)


@pytest.fixture(scope="module")
def today() -> Iterator[Today]:
    with EmulatorServer(EmulatorConfig(speed=1.0, seed=23)) as server:
        previous = os.environ.get(f"AIRFLOW_CONN_{CONN.upper()}")
        os.environ[f"AIRFLOW_CONN_{CONN.upper()}"] = server.airflow_connection("current")
        try:
            hook = UP42Hook(up42_conn_id=CONN)
            scenes = hook.search({"collections": ["phr"], "intersects": HAMBURG, "limit": 2})["features"]
            image_ids = [f["properties"]["id"] for f in scenes]
            product = next(
                p["id"]
                for c in hook.iter_collections_v2("ARCHIVE")
                if c["name"] == "phr"
                for p in c["dataProducts"]
            )
            body = hook.order_v2_body(product, {"id": image_ids[0]}, [HAMBURG], display_name="data tests")
            (order,) = hook.place_order_v2(body)
            _advance(server, lambda: hook.get_order(order["id"])["status"] == "FULFILLED", "the order")
            item = next(hook.iter_order_items(order["id"]))
            href = next(link["href"] for link in item["links"] if link["rel"] == "self")
            job = hook.execute_process("upsampling-ns", {"title": "data tests", "item": href})
            _advance(server, lambda: hook.job_status(hook.get_job(job["id"]))[1], "the job")
            yield Today(server, Up42(server), hook, order["id"], job["id"], image_ids)
        finally:
            if previous is None:
                os.environ.pop(f"AIRFLOW_CONN_{CONN.upper()}", None)
            else:
                os.environ[f"AIRFLOW_CONN_{CONN.upper()}"] = previous


def test_deliveries_to_a_local_folder_byte_identical_and_rerun_downloads_nothing(
    today: Today, tmp_path: Path
):
    op = UP42DownloadAssetsOperator(
        task_id="dl", order_ids=[today.order], destination=str(tmp_path), up42_conn_id=CONN
    )
    before = today.counter.downloads
    uris = execute(op)
    stored = today.delivered(today.order)
    assert uris and len(uris) == len(stored) and today.counter.downloads == before + len(stored)
    assert all(u.startswith(f"file://{tmp_path}/asset_") for u in uris)
    assert sorted(local(u).read_bytes() for u in uris) == sorted(stored.values())
    # each file carries its verification record (the emulator's x-goog-hash CRC32C)
    record = json.loads(Path(str(local(uris[0])) + ".up42-verified.json").read_text())
    assert record["size"] == local(uris[0]).stat().st_size and record["crc32c"]
    again = UP42DownloadAssetsOperator(
        task_id="dl", order_ids=today.order, destination=f"file://{tmp_path}", up42_conn_id=CONN
    )
    assert execute(again) == uris and today.counter.downloads == before + len(stored)


def test_deliveries_to_s3_uris_without_connection_id(today: Today, s3: S3):
    prefix = s3.prefix()
    op = UP42DownloadAssetsOperator(
        task_id="dl",
        order_ids=[today.order],
        destination=f"s3://{AWS_CONN_ID}@{BUCKET}/{prefix}",
        up42_conn_id=CONN,
    )
    uris = execute(op)
    assert uris and all(u.startswith(f"s3://{BUCKET}/{prefix}/asset_") for u in uris)
    keys = [u.removeprefix(f"s3://{BUCKET}/") for u in uris]
    assert sorted(s3.read(k) for k in keys) == sorted(today.delivered(today.order).values())


def test_job_results_download_and_merged_items(today: Today, tmp_path: Path):
    op = UP42DownloadJobResultsOperator(
        task_id="r", job_ids=today.job, destination=str(tmp_path), up42_conn_id=CONN
    )
    uris = execute(op)
    assert uris[-1] == f"file://{tmp_path}/data.json"
    files = [local(u) for u in uris[:-1]]
    assert files and all(p.parent == tmp_path / f"job_{today.job}" for p in files)
    assert sorted(p.read_bytes() for p in files) == sorted(today.result_blobs(today.job))
    merged = json.loads((tmp_path / "data.json").read_text())
    assert merged["features"] and {f["properties"]["job_id"] for f in merged["features"]} == {today.job}


def test_catalog_quicklooks_by_scene_id(today: Today, tmp_path: Path):
    op = UP42DownloadQuicklooksOperator(
        task_id="q", image_ids=today.image_ids, collection="phr", destination=str(tmp_path), up42_conn_id=CONN
    )
    uris = execute(op)
    assert uris == [f"file://{tmp_path}/quicklook_{i}.jpg" for i in today.image_ids]
    assert all(local(u).read_bytes()[:2] == b"\xff\xd8" for u in uris)  # JPEG
    with pytest.raises(ValueError, match="today's processing jobs have none"):
        execute(
            UP42DownloadQuicklooksOperator(
                task_id="q", job_ids=[today.job], destination=str(tmp_path), up42_conn_id=CONN
            )
        )


def test_misspelt_parameters_fail_when_the_dag_is_parsed():
    with pytest.raises(TypeError, match=r"'destinaton' \(did you mean 'destination'\?\)"):
        UP42DownloadAssetsOperator(task_id="d", order_ids=["o"], destinaton="/tmp/x")
    with pytest.raises(TypeError, match=r"'checksun' \(did you mean 'checksum'\?\)"):
        UP42DownloadJobResultsOperator(task_id="d", job_ids=["j"], destination="/tmp/x", checksun="md5")
    with pytest.raises(ValueError, match="destination is required"):
        UP42DownloadAssetsOperator(task_id="d", order_ids=["o"])


@pytest.mark.usefixtures("airflow_worker")
def test_dag_deliveries_to_s3_then_uploaded(airflow_worker, today: Today, s3: S3):
    prefix = s3.prefix()
    result = airflow_worker.run_dag(
        "current_deliveries",
        conf={
            "order_ids": [today.order],
            "destination": f"s3://{BUCKET}/{prefix}/deliveries",
            "destination_conn_id": AWS_CONN_ID,
            "upload_to": f"s3://{BUCKET}/{prefix}/copy",
        },
        env={**today.env, **s3.env},
    )
    assert result.state == "success", result.log[-6000:]
    downloaded, uploaded = result.xcom["download"], result.xcom["upload"]
    assert all(u.startswith(f"s3://{BUCKET}/{prefix}/deliveries/asset_") for u in downloaded)
    assert all("@" not in u for u in downloaded + uploaded)
    assert sorted(u.split("/copy/", 1)[1] for u in uploaded) == sorted(
        u.split("/deliveries/", 1)[1] for u in downloaded
    )
    for u in uploaded:
        key = u.removeprefix(f"s3://{BUCKET}/")
        assert s3.read(key) == s3.read(key.replace("/copy/", "/deliveries/", 1))
    assert "X-Goog-Signature" not in result.log and "response-content-disposition" not in result.log
    for u in downloaded:  # each file's log line names its UP42 asset and where it went
        line = next(line for line in result.log.splitlines() if f"wrote {u}" in line)
        assert "asset:" in line and "(image)" in line


@pytest.mark.usefixtures("airflow_worker")
def test_dag_stac_search_with_coverage_plot_and_quicklooks(airflow_worker, today: Today, tmp_path: Path):
    result = airflow_worker.run_dag(
        "current_search_quicklooks",
        conf={
            "aoi": HAMBURG,
            "coverage": str(tmp_path / "coverage.png"),
            "quicklooks": f"file://{tmp_path}/quicklooks",
        },
        env=today.env,
    )
    assert result.state == "success", result.log[-6000:]
    found = result.xcom["search"]
    assert found["type"] == "FeatureCollection" and len(found["features"]) == 2
    ids = [f["properties"]["id"] for f in found["features"]]
    assert ids == [f["id"] for f in found["features"]]
    assert (tmp_path / "coverage.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert result.xcom["quicklooks"] == [f"file://{tmp_path}/quicklooks/quicklook_{i}.jpg" for i in ids]


@pytest.mark.usefixtures("airflow_worker")
def test_dag_job_results(airflow_worker, today: Today, tmp_path: Path):
    result = airflow_worker.run_dag(
        "current_job_results", conf={"job_ids": [today.job], "destination": str(tmp_path)}, env=today.env
    )
    assert result.state == "success", result.log[-6000:]
    uris = result.xcom["results"]
    assert uris[-1] == f"file://{tmp_path}/data.json"
    assert sorted(local(u).read_bytes() for u in uris[:-1]) == sorted(today.result_blobs(today.job))
