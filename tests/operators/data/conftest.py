"""Fixtures of the data-operator tests: delivered orders and finished jobs on the emulator, a moto
S3 server on 127.0.0.1, a counter of signed-URL downloads, and the session's dag.test worker.

Everything is real HTTP: the operators talk to the emulator (API + GCS-like signed URLs) and to
moto through the ``aws_test`` Airflow connection.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import tarfile
import time
import uuid
import zipfile
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest
from moto.server import ThreadedMotoServer

from tests.airflow_env import connection_env
from tests.operators.conftest import BERLIN, DATA_BLOCK, PROCESSING_BLOCK, FakeTI
from up42_provider.emulator.server import EmulatorServer
from up42_provider.hooks.up42 import UP42Hook
from up42_provider.utils import parameters as P

AWS_CONN_ID = "aws_test"
BUCKET = "up42-data-ops"  # the static S3 destinations of tests/dags/data_ops.py live here


def execute(operator: Any) -> Any:
    """``execute`` in pytest's process; dag id ``data_unit`` keeps its idempotency tags apart from
    those of the other operator tests on the same session emulator."""
    return operator.execute({"ti": FakeTI(operator.task_id, dag_id="data_unit"), "run_id": "manual__unit"})


class S3:
    """The moto server: endpoint, Airflow connection JSON and a boto3 client to read back."""

    def __init__(self, endpoint: str) -> None:
        import boto3

        self.endpoint = endpoint
        self.conn = json.dumps(
            {
                "conn_type": "aws",
                "login": "test",
                "password": "test",
                "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"},
            }
        )
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            region_name="us-east-1",
        )
        self.client.create_bucket(Bucket=BUCKET)

    @property
    def env(self) -> dict[str, str]:
        return {f"AIRFLOW_CONN_{AWS_CONN_ID.upper()}": self.conn}

    def keys(self, prefix: str, bucket: str = BUCKET) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))

    def read(self, key: str, bucket: str = BUCKET) -> bytes:
        return self.client.get_object(Bucket=bucket, Key=key)["Body"].read()

    def prefix(self) -> str:
        """A fresh key prefix, so tests sharing the bucket never see each other's files."""
        return f"t-{uuid.uuid4().hex[:10]}"


class Up42:
    """The session emulator with delivered orders and finished jobs, made through the hook."""

    def __init__(self, server: EmulatorServer) -> None:
        self.server = server
        self.hook = UP42Hook()
        self.downloads = 0  # signed-URL GETs the emulator answered with bytes
        faults = server.state.faults
        original = faults.draw

        def counting(kind: str, method: str, path: str) -> bool:
            if kind == "drop" and path.startswith("/storage/"):
                self.downloads += 1
            return original(kind, method, path)

        faults.draw = counting  # type: ignore[method-assign]

    @property
    def env(self) -> dict[str, str]:
        return connection_env(self.server)

    @cached_property
    def product(self) -> str:
        return self.hook.get_data_products(basic=True)["Pléiades"]["data_products"]["Display"]

    def image_ids(self, n: int) -> list[str]:
        body = P.search_parameters(BERLIN, ["phr"], "2022-01-01", "2022-12-31", limit=n)
        return [f["properties"]["id"] for f in self.hook.search(body)["features"]]

    def _wait(self, check: Any, timeout: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout
        while not (value := check()):
            if time.monotonic() > deadline:
                raise AssertionError("the emulator did not finish in time")
            time.sleep(0.1)
        return value

    def order(self, image_id: str) -> str:
        params = self.hook.construct_catalog_order_parameters(self.product, image_id, aoi=BERLIN)
        params["tags"] = [f"data-ops-{uuid.uuid4().hex[:8]}"]
        order_id = self.hook.place_order(params)["id"]
        self._wait(lambda: self.hook.get_order(order_id)["status"] == "FULFILLED")
        return order_id

    @cached_property
    def orders(self) -> list[str]:
        """Two fulfilled orders of different images (made once per session)."""
        return [self.order(image_id) for image_id in self.image_ids(2)]

    def assets(self, order_id: str) -> list[dict[str, Any]]:
        return self.hook.get_order_assets(order_id)

    @cached_property
    def workflow(self) -> tuple[str, dict[str, Any]]:
        workflow = self.hook.create_workflow("data-ops-tests", "jobs of the data operator tests", False)
        self.hook.add_workflow_tasks(workflow["id"], [DATA_BLOCK, PROCESSING_BLOCK])
        inputs = self.hook.construct_job_parameters(
            workflow["id"],
            geometry=BERLIN,
            geometry_operation="intersects",
            start_date="2022-01-01",
            end_date="2022-06-30",
            limit=1,
        )
        return workflow["id"], inputs

    def job(self) -> str:
        workflow_id, inputs = self.workflow
        name = f"data-ops-{uuid.uuid4().hex[:8]}"
        job_id = self.hook.run_job(workflow_id, inputs, name=name)["id"]
        self._wait(lambda: self.hook.get_job(job_id)["status"] == "SUCCEEDED", timeout=60)
        return job_id

    @cached_property
    def jobs(self) -> list[str]:
        """Two succeeded (real, not dry-run) jobs, made once per session."""
        return [self.job() for _ in range(2)]

    def blob(self, key: str) -> bytes:
        blob = asyncio.run_coroutine_threadsafe(
            self.server.state.blobs.ensure(key), self.server.state.loop
        ).result(30)
        return Path(blob.path).read_bytes()

    def asset_blob(self, asset_id: str) -> bytes:
        record = self.server.state.assets.records[asset_id]
        return self.blob(record.blob_key)

    def job_blob(self, job_id: str) -> bytes:
        return self.blob(f"job:{job_id}")


def archive_members(data: bytes) -> dict[str, bytes]:
    """Regular files of a zip or tar.gz, ``output/`` prefix stripped (what unpacking writes)."""

    def strip(name: str) -> str:
        return name.split("output/", 1)[1] if "output/" in name else name

    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return {strip(i.filename): archive.read(i) for i in archive.infolist() if not i.is_dir()}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
        return {
            strip(m.name): archive.extractfile(m).read()  # type: ignore[union-attr]
            for m in archive.getmembers()
            if m.isfile()
        }


@pytest.fixture(scope="session")
def s3() -> Iterator[S3]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    _host, port = server.get_host_and_port()
    store = S3(f"http://127.0.0.1:{port}")
    previous = os.environ.get("AIRFLOW_CONN_AWS_TEST")
    os.environ.update(store.env)  # for operators executed in pytest's process
    try:
        yield store
    finally:
        if previous is None:
            os.environ.pop("AIRFLOW_CONN_AWS_TEST", None)
        else:
            os.environ["AIRFLOW_CONN_AWS_TEST"] = previous
        server.stop()


@pytest.fixture(scope="session")
def up42(emulator: EmulatorServer) -> Iterator[Up42]:
    previous = os.environ.get("AIRFLOW_CONN_UP42_DEFAULT")
    os.environ["AIRFLOW_CONN_UP42_DEFAULT"] = emulator.airflow_connection()
    try:
        yield Up42(emulator)
    finally:
        if previous is None:
            os.environ.pop("AIRFLOW_CONN_UP42_DEFAULT", None)
        else:
            os.environ["AIRFLOW_CONN_UP42_DEFAULT"] = previous


@pytest.fixture
def env(up42: Up42, s3: S3) -> dict[str, str]:
    """The environment of a DAG run: UP42 emulator and moto S3 connections."""
    return {**up42.env, **s3.env}


def local(uri: str) -> Path:
    """The local file of a ``file:///abs/path`` URI the data operators return."""
    assert uri.startswith("file:///"), uri
    return Path(uri[len("file://") :])
