"""System test: the provider on a distributed Airflow 3 (issue #15), all on loopback.

CeleryExecutor with two workers that share no local files (each its own AIRFLOW_HOME, working directory,
TMPDIR and hostname), PostgreSQL as metadata database, Redis as broker, scheduler, dag-processor,
triggerer and api-server as separate processes, a moto S3 server and a GCS emulator as the only shared
storage, and the UP42 emulator. It proves:

* the example pipelines of both API generations (2023: ``up42_default``; today's: ``up42_current``)
  succeed with their work folder and their results on ``s3://`` and ``gs://``, the tasks of each run ran
  on both workers, and every object in the buckets is byte-identical to what the emulator served (or, for
  plots, to the run's own work folder);
* a worker SIGKILLed in the middle of a download: the task is retried on the other worker, the run places
  one order only, every file is verified, nothing partial is left in the bucket;
* the triggerer restarted under 50 deferred sensors: every sensor resumes and the run completes.

New pipelines are more rows of ``PIPELINES``.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import tarfile
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import google_crc32c
import pytest
import requests

from tests.system.celery_policy import SPREAD_PREFIX
from tests.system.celery_topology import WORKERS, CeleryTopology
from tests.system.services import Services, missing_binaries
from tests.system.topology import TERMINAL_RUN_STATES

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
AWS_CONN, GCS_CONN = "aws_system", "gcs_system"
WORK_BUCKET, RESULTS_BUCKET = "up42-work", "up42-results"
SENSORS = 50


@dataclass
class Stack:
    airflow: CeleryTopology
    services: Services
    s3: Any  # s3fs filesystem on moto
    gcs: Any  # gcsfs filesystem on the GCS emulator

    def fs(self, scheme: str) -> Any:
        return {"s3": self.s3, "gs": self.gcs}[scheme]

    def emulator(self, method: str, path: str, held: bool = False, **kwargs: Any) -> Any:
        base = self.airflow.held_emulator_url if held else self.airflow.emulator_url
        response = requests.request(method, f"{base}{path}", timeout=30, **kwargs)
        response.raise_for_status()
        return response.json()


def _conn_env(stack_conns: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {f"AIRFLOW_CONN_{k.upper()}": json.dumps(v) for k, v in stack_conns.items()}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Every process of the deployment, healthy; all stopped by PID at the end, whatever happened."""
    if missing := missing_binaries():
        pytest.fail(f"missing {missing}: run `apt-get install -y postgresql redis-server` (.ci/run does)")
    root = tmp_path_factory.mktemp("celery")
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    services = Services(root, env)
    airflow: CeleryTopology | None = None
    up42_connections = ("AIRFLOW_CONN_UP42_DEFAULT", "AIRFLOW_CONN_UP42_CURRENT", "AIRFLOW_CONN_UP42_HELD")
    saved = {k: os.environ.get(k) for k in up42_connections}
    started = time.monotonic()
    try:
        database = services.start_postgres()
        broker = services.start_redis()
        moto, gcs_url = services.start_moto(), services.start_gcs()
        import s3fs
        from gcsfs.core import GCSFileSystem

        s3 = s3fs.S3FileSystem(
            key="test", secret="test", client_kwargs={"endpoint_url": moto, "region_name": "us-east-1"}
        )
        gcs = GCSFileSystem(endpoint_url=gcs_url, token="anon", project="up42-system")
        for bucket in (WORK_BUCKET, RESULTS_BUCKET):
            s3.call_s3("create_bucket", Bucket=bucket)
            gcs.mkdir(bucket)
        connections = {
            AWS_CONN: {
                "conn_type": "aws",
                "login": "test",
                "password": "test",
                "extra": {"endpoint_url": moto, "region_name": "us-east-1"},
            },
            # As users configure GCS (see the README), with the emulator as endpoint.
            GCS_CONN: {
                "conn_type": "google_cloud_platform",
                "extra": {"is_anonymous": True, "project": "up42-system", "gcs.endpoint": gcs_url},
            },
        }
        dags = root / "dags"
        dags.mkdir()
        for path in [*(ROOT / "example_dags").glob("*.py"), *(HERE / "celery_dags").glob("*.py")]:
            shutil.copy(path, dags / path.name)
        airflow = CeleryTopology(
            root / "airflow",
            dags,
            database_url=database,
            broker_url=broker,
            connections=connections,
            emulator_speed=10.0,
            extra_env={"UP42_EXAMPLE_POLL_INTERVAL": "3"},
        )
        airflow.start(timeout=300)
        os.environ.update({k: airflow.env[k] for k in up42_connections})
        print(f"\n[celery] deployment healthy after {time.monotonic() - started:.0f} s ({root})", flush=True)
        yield Stack(airflow, services, s3, gcs)
    finally:
        try:
            if airflow is not None:
                airflow.stop()
        finally:  # also when interrupted while Airflow stops
            services.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        print(f"\n[celery] deployment up {time.monotonic() - started:.0f} s", flush=True)
    leftovers = [*(airflow.survivors() if airflow else []), *services.survivors()]
    assert not leftovers, f"processes survived: {leftovers}"


@pytest.fixture
def deployment(stack: Stack, request: pytest.FixtureRequest) -> Iterator[Stack]:
    yield stack
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(f"\n[celery] diagnostics for {request.node.name}:\n{stack.airflow.describe()}", flush=True)


# ------------------------------------------------------------------------------- what the buckets hold
def xcom(airflow: CeleryTopology, dag_id: str, run_id: str, task_id: str) -> Any:
    path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value"
    value = airflow.api("GET", path, params={"deserialize": True})["value"]
    return json.loads(value) if isinstance(value, str) and value[:1] in "[{" else value


def task_instances(airflow: CeleryTopology, dag_id: str, run_id: str) -> list[dict[str, Any]]:
    path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances"
    return airflow.api("GET", path, params={"limit": 1000})["task_instances"]


def objects(fs: Any, prefix: str) -> dict[str, bytes]:
    """Every object below ``bucket/prefix``, relative key -> bytes."""
    fs.invalidate_cache()
    found = fs.find(prefix)
    return {key[len(prefix) + 1 :]: fs.cat_file(key) for key in found}


def unpack(data: bytes) -> dict[str, bytes]:
    """Members (files) of a zip or tar archive the emulator serves, by path."""
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return {i.filename: archive.read(i) for i in archive.infolist() if not i.is_dir()}
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        return {m.name: archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()}  # type: ignore[union-attr]


def fetch(url: str) -> bytes:
    response = requests.get(url, timeout=60)
    response.raise_for_status()
    return response.content


def assert_no_partial_objects(stack: Stack) -> None:
    for scheme in ("s3", "gs"):
        fs = stack.fs(scheme)
        fs.invalidate_cache()
        for bucket in (WORK_BUCKET, RESULTS_BUCKET):
            partial = [k for k in fs.find(bucket) if ".part-" in k.rsplit("/", 1)[-1]]
            assert not partial, f"partial objects in {scheme}://{bucket}: {partial}"
    for bucket in (WORK_BUCKET, RESULTS_BUCKET):
        uploads = stack.s3.call_s3("list_multipart_uploads", Bucket=bucket).get("Uploads") or []
        assert not uploads, f"unfinished multipart uploads in s3://{bucket}: {uploads}"


def assert_served_in_bucket(
    results: dict[str, bytes], folder: str, served: Iterable[tuple[str, bytes]]
) -> set[str]:
    """Each served file (path, bytes) is in the bucket below ``folder/``, under its name, byte for byte;
    returns the keys it matched."""
    matched: set[str] = set()
    for member, data in served:
        name = member.rsplit("/", 1)[-1]
        matches = [k for k in results if k.startswith(f"{folder}/") and k.rsplit("/", 1)[-1] == name]
        assert matches, f"{member} ({folder}) is not in the bucket: {sorted(results)}"
        same = [k for k in matches if results[k] == data]
        assert same, f"{member} ({folder}): bytes differ in the bucket"
        matched.update(same)
    return matched


def assert_work_folder_copy(results: dict[str, bytes], work: dict[str, bytes]) -> None:
    for key, data in results.items():
        assert work.get(key) == data, f"{key} in the results differs from the work folder's copy"


def bucket_and_work(stack: Stack, scheme: str, prefix: str) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """The run's objects in the results bucket (not empty) and in its work folder."""
    fs = stack.fs(scheme)
    results = objects(fs, f"{RESULTS_BUCKET}/{prefix}")
    assert results, f"nothing uploaded to {scheme}://{RESULTS_BUCKET}/{prefix}"
    return results, objects(fs, f"{WORK_BUCKET}/{prefix}")


def verify_archive(stack: Stack, dag_id: str, run_id: str, scheme: str, prefix: str) -> int:
    """The deliveries in the bucket are the emulator's archive members; the rest equals the work folder."""
    from up42_provider.hooks.up42 import UP42Hook

    hook = UP42Hook()
    results, work = bucket_and_work(stack, scheme, prefix)
    served: dict[str, bytes] = {}
    for order_id in xcom(stack.airflow, dag_id, run_id, "place_order"):
        for asset in hook.get_order_assets(order_id):
            served.update(unpack(fetch(hook.get_asset_download_url(asset["id"]))))
    assert served, "the emulator served no delivery"
    assert_served_in_bucket(results, "deliveries", served.items())
    assert_work_folder_copy(results, work)
    return len(results)


def verify_current(stack: Stack, dag_id: str, run_id: str, scheme: str, prefix: str) -> int:
    """Today's generation: the bucket holds exactly the files of the orders' delivered STAC items
    (``deliveries/``) and of the processing job's result collection (``results/``), byte for byte as the
    emulator serves them behind their ``/v2/assets/`` hrefs (the files the download operator takes:
    ``stac_files`` of up42_provider.operators.download), plus the results' merged ``data.json``; and it
    equals the work folder."""
    from up42_provider.hooks.up42 import UP42Hook
    from up42_provider.operators.download import DATA_JSON, stac_files

    hook = UP42Hook(up42_conn_id="up42_current")
    results, work = bucket_and_work(stack, scheme, prefix)
    orders = xcom(stack.airflow, dag_id, run_id, "place_order")
    jobs = xcom(stack.airflow, dag_id, run_id, "run_processing")
    items = {
        "deliveries": [item for order_id in orders for item in hook.iter_order_items(order_id)],
        "results": [item for job_id in jobs for item in hook.iter_job_result_items(hook.get_job(job_id))],
    }
    matched: set[str] = set()
    for folder, found in items.items():
        files = stac_files(found, lambda _item, f=folder: Path(f), hook)
        assert files, f"the emulator served no {folder} (orders {orders}, jobs {jobs})"
        served = [(f"{file.source}/{file.location.name}", fetch(file.url())) for file in files]
        matched |= assert_served_in_bucket(results, folder, served)
    # Besides the files: the job results' merged data.json, the served result items plus their job_id.
    merged = f"results/{DATA_JSON}"
    assert set(results) - matched == {merged}, f"not served by the emulator: {sorted(set(results) - matched)}"
    features = json.loads(results[merged])["features"]
    assert {f["properties"].pop("job_id") for f in features} == set(jobs)
    assert features == items["results"], "data.json differs from the result items the emulator serves"
    assert_work_folder_copy(results, work)
    return len(results)


def verify_processing(stack: Stack, dag_id: str, run_id: str, scheme: str, prefix: str) -> int:
    """The bucket holds the job's result archive, byte for byte as the emulator serves it."""
    from up42_provider.hooks.up42 import UP42Hook

    job_id = xcom(stack.airflow, dag_id, run_id, "run_job")
    job_id = job_id[0] if isinstance(job_id, list) else job_id
    results = objects(stack.fs(scheme), f"{RESULTS_BUCKET}/{prefix}")
    archive, sidecar = f"{job_id}.tgz", f"{job_id}.tgz.up42-verified.json"
    assert set(results) == {archive, sidecar}, sorted(results)
    served = fetch(UP42Hook().get_job_results_url(job_id))
    assert results[archive] == served
    # The verification record names what was checked: the size and the CRC32C of those very bytes.
    crc = base64.b64encode(google_crc32c.value(served).to_bytes(4, "big")).decode()
    assert json.loads(results[sidecar]) == {"size": len(served), "crc32c": crc}
    return 2


@dataclass(frozen=True)
class Pipeline:
    """One row: a DAG, the scheme of its work folder and bucket, and how its bucket is checked."""

    dag_id: str
    scheme: str
    verify: Callable[[Stack, str, str, str, str], int]
    conf: tuple[tuple[str, Any], ...] = ()

    @property
    def name(self) -> str:
        return f"{self.dag_id}-{self.scheme}"

    def run_conf(self, prefix: str) -> dict[str, Any]:
        conn = AWS_CONN if self.scheme == "s3" else GCS_CONN
        return {
            "output_folder": f"{self.scheme}://{conn}@{WORK_BUCKET}/{prefix}",
            "bucket_uri": f"{self.scheme}://{conn}@{RESULTS_BUCKET}/{prefix}",
            **dict(self.conf),
        }


PIPELINES = [
    Pipeline("up42_archive_imagery", "s3", verify_archive),
    Pipeline("up42_archive_imagery", "gs", verify_archive),
    Pipeline("up42_processing", "s3", verify_processing),
    Pipeline("up42_processing", "gs", verify_processing),
    Pipeline("up42_current_archive_processing", "s3", verify_current),
    Pipeline("up42_current_archive_processing", "gs", verify_current),
]


# ------------------------------------------------------------------------------------------- tests
def test_pipelines_run_on_both_workers_and_buckets_match(deployment: Stack) -> None:
    airflow = deployment.airflow
    airflow.wait_for_dags({p.dag_id for p in PIPELINES}, timeout=240)
    started = time.monotonic()
    runs = {}
    for pipeline in PIPELINES:
        run_id = f"{SPREAD_PREFIX}{pipeline.name}"
        runs[pipeline] = airflow.trigger_dag(pipeline.dag_id, pipeline.run_conf(pipeline.name), run_id=run_id)
    final = airflow.wait_for_runs([(p.dag_id, r) for p, r in runs.items()], timeout=600, interval=2.0)
    print(f"\n[celery] {len(runs)} runs finished in {time.monotonic() - started:.0f} s", flush=True)
    failed = [airflow.record(*key).summary() for key, state in final.items() if state != "success"]
    assert not failed, "runs failed:\n" + "\n".join(failed) + "\n" + airflow.task_log_tails()
    for pipeline, run_id in runs.items():
        hosts = {ti["hostname"] for ti in task_instances(airflow, pipeline.dag_id, run_id)}
        assert hosts == set(WORKERS), f"{pipeline.name} ran on {hosts}"
        count = pipeline.verify(deployment, pipeline.dag_id, run_id, pipeline.scheme, pipeline.name)
        print(f"[celery]   {pipeline.name}: {count} objects verified, hosts {sorted(hosts)}", flush=True)
    assert_no_partial_objects(deployment)


def test_worker_killed_mid_download_is_retried_on_the_other(deployment: Stack) -> None:
    from up42_provider.hooks.up42 import UP42Hook

    airflow, dag_id, prefix = deployment.airflow, "up42_archive_imagery", "killed-s3"
    airflow.wait_for_dags([dag_id], timeout=240)
    orders_before = len(UP42Hook().get_orders())
    # The download engine's request for a signed URL answers only after 45 s: the task is then inside
    # its download (the emulator's faults never delay the byte stream itself, only API answers).
    rule = {"kind": "slow", "count": 1, "method": "POST", "path": "/download-url$"}
    deployment.emulator("POST", "/_emulator/faults", json={"rates": {"slow_seconds": 45}, "rules": [rule]})
    fired_before = deployment.emulator("GET", "/_emulator/info")["faultsFired"].get("slow", 0)
    conf = Pipeline(dag_id, "s3", verify_archive).run_conf(prefix)
    run_id = airflow.trigger_dag(dag_id, conf, run_id="kill__archive-s3")

    def downloading(record: Any) -> bool:
        running = record.task_states.get("download_assets", [""])[-1] == "running"
        fired = deployment.emulator("GET", "/_emulator/info")["faultsFired"].get("slow", 0)
        return running and fired > fired_before

    airflow.wait_until(dag_id, run_id, downloading, what="download_assets inside its download", timeout=240)
    ti = next(t for t in task_instances(airflow, dag_id, run_id) if t["task_id"] == "download_assets")
    victim = ti["hostname"]
    assert victim in WORKERS, ti
    airflow.kill_worker(victim)
    survivor = next(w for w in WORKERS if w != victim)
    print(f"\n[celery] SIGKILLed {victim} during download_assets try {ti['try_number']}", flush=True)

    final = airflow.wait_for_run(dag_id, run_id, timeout=300, interval=2.0)
    airflow.start_worker(victim)
    record = airflow.record(dag_id, run_id)
    assert final == "success", f"{record.summary()}\n{airflow.task_log_tails(record)}"
    ti = next(t for t in task_instances(airflow, dag_id, run_id) if t["task_id"] == "download_assets")
    assert ti["try_number"] > 1 and ti["hostname"] == survivor, ti
    assert len(UP42Hook().get_orders()) == orders_before + 1, "the retry placed another order"
    assert len(xcom(airflow, dag_id, run_id, "place_order")) == 1
    verify_archive(deployment, dag_id, run_id, "s3", prefix)
    assert_no_partial_objects(deployment)
    airflow.wait_workers()


def test_triggerer_restart_under_fifty_deferred_sensors(deployment: Stack) -> None:
    airflow, dag_id = deployment.airflow, "up42_system_many_sensors"
    airflow.wait_for_dags([dag_id], timeout=120)
    run_id = airflow.trigger_dag(dag_id, {"sensors": SENSORS}, run_id="sensors__many")

    def all_deferred(record: Any) -> bool:
        waits = {k: s for k, s in record.task_states.items() if k.startswith("wait_for_delivery[")}
        return len(waits) == SENSORS and all(s[-1] == "deferred" for s in waits.values())

    airflow.wait_until(
        dag_id, run_id, all_deferred, what=f"{SENSORS} deferred sensors", timeout=300, interval=2
    )
    old_job = airflow.current_job_id("triggerer")
    airflow.restart("triggerer")
    new_job = airflow.current_job_id("triggerer")
    assert new_job is not None and new_job != old_job
    record = airflow.record(dag_id, run_id)
    airflow.poll(dag_id, run_id)
    assert all_deferred(record), f"sensors left deferral while the triggerer was down: {record.summary()}"
    # The held emulator's order becomes fulfilled only now. Each clock jump moves an order one status
    # step (the next step is scheduled from the jump), so jump until the run is over.
    deadline = time.monotonic() + 240
    final = airflow.poll(dag_id, run_id)
    while final not in TERMINAL_RUN_STATES and time.monotonic() < deadline:
        deployment.emulator("POST", "/_emulator/clock", held=True, json={"advance": 3600})
        time.sleep(2.0)
        final = airflow.poll(dag_id, run_id)
    assert final == "success", f"{record.summary()}\n{airflow.task_log_tails(record)}"
    waits = {k: v for k, v in record.try_numbers.items() if k.startswith("wait_for_delivery[")}
    assert len(waits) == SENSORS and set(waits.values()) == {1}, waits
