"""Every response kind over real HTTP: a job run end to end, quicklooks and signed downloads."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.api.conftest import settings_for
from up42_provider.api import V1, AsyncUP42Client, TokenCache, UP42Client, UP42TransportError

DATA_BLOCK = "esa-s2-l2a-gtiff-visual"
AOI = {
    "type": "Polygon",
    "coordinates": [[[13.36, 52.50], [13.40, 52.50], [13.40, 52.525], [13.36, 52.525], [13.36, 52.50]]],
}
TERMINAL = {"SUCCEEDED", "FAILED", "ERROR", "CANCELLED"}


def run_job(client: UP42Client, name: str = "transport") -> str:
    block_id = next(b["id"] for b in client.call(V1.get_blocks) if b["name"] == DATA_BLOCK)
    workflow = client.call(V1.create_workflow, json={"name": f"{name}-wf", "description": ""})
    tasks = [{"name": f"{DATA_BLOCK}:1", "parentName": None, "blockId": block_id}]
    assert client.call(V1.set_workflow_tasks, json=tasks, workflow_id=workflow["id"]) is None
    inputs = {
        f"{DATA_BLOCK}:1": {
            "time": "2021-03-01T00:00:00Z/2021-09-30T23:59:59Z",
            "limit": 1,
            "intersects": AOI,
        }
    }
    job = client.call(
        V1.create_job, json=inputs, params={"name": f"{name} job_py"}, workflow_id=workflow["id"]
    )
    return job["id"]


def wait_for(client: UP42Client, job_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = client.call(V1.get_job, job_id=job_id)
        if job["status"] in TERMINAL or time.monotonic() > deadline:
            return job
        time.sleep(0.1)


@pytest.fixture(scope="module")
def finished_job(emulator):
    client = UP42Client(settings_for(emulator), token_cache=TokenCache())
    job_id = run_job(client)
    job = wait_for(client, job_id)
    assert job["status"] == "SUCCEEDED", job
    yield client, job
    client.close()


def test_job_created_with_encoded_name(finished_job):
    _, job = finished_job
    assert job["name"] == "transport job_py"  # the space travelled URL-encoded in ?name=


def test_envelope_bare_and_text_kinds(finished_job):
    client, job = finished_job
    tasks = client.call(V1.get_job_tasks, job_id=job["id"])
    assert tasks and tasks[0]["name"] == f"{DATA_BLOCK}:1"
    logs = client.call(V1.get_job_task_logs, job_id=job["id"], jobtask_id=tasks[0]["id"])
    assert isinstance(logs, str)
    results = client.call(V1.get_job_results_json, job_id=job["id"])
    assert results["type"] == "FeatureCollection"
    credits = client.call(V1.get_job_credits, job_id=job["id"])
    assert "creditsUsed" in credits


def test_binary_stream_of_a_quicklook(finished_job):
    client, job = finished_job
    task = client.call(V1.get_job_tasks, job_id=job["id"])[0]
    names = client.call(V1.get_job_task_quicklooks, job_id=job["id"], jobtask_id=task["id"])
    assert names
    raw = client.call(
        V1.get_job_task_quicklook, job_id=job["id"], jobtask_id=task["id"], quicklook_id=names[0]
    )
    with client.stream(
        V1.get_job_task_quicklook, job_id=job["id"], jobtask_id=task["id"], quicklook_id=names[0]
    ) as response:
        streamed = b"".join(response.iter_bytes(1024))
    assert streamed == raw and raw[:4] in (
        b"\x89PNG",
        b"\xff\xd8\xff\xe0",
        b"\xff\xd8\xff\xe1",
        b"\xff\xd8\xff\xdb",
    )


def test_signed_download_streams_without_credentials(finished_job):
    client, job = finished_job
    url = client.call(V1.get_job_results_url, job_id=job["id"])["url"]
    with client.stream_url(url) as response:
        assert "Authorization" not in response.request.headers
        assert "?" not in response.url  # the signature is never shown
        body = response.read()
    assert body[:2] == b"\x1f\x8b"  # tar.gz


def test_dropped_download_surfaces_as_transport_error_and_resumes(fresh_emulator):
    client = UP42Client(settings_for(fresh_emulator), token_cache=TokenCache())
    job = wait_for(client, run_job(client, "drop"))
    url = client.call(V1.get_job_results_url, job_id=job["id"])["url"]
    with client.stream_url(url) as response:
        expected = response.read()
    fresh_emulator.state.faults.add_rule("drop", count=1)
    received = b""
    with pytest.raises(UP42TransportError) as info, client.stream_url(url) as response:
        for chunk in response.iter_bytes(4096):
            received += chunk
    assert info.value.maybe_sent is True and "?" not in str(info.value)
    with client.stream_url(url, headers={"Range": f"bytes={len(received)}-"}) as response:
        assert response.status_code == 206
        received += response.read()
    assert received == expected
    client.close()


async def test_async_client_polls_a_job_and_downloads(emulator):
    sync_client = UP42Client(settings_for(emulator), token_cache=TokenCache())
    job_id = run_job(sync_client, "async")
    async with AsyncUP42Client(settings_for(emulator), token_cache=sync_client.tokens) as client:
        for _ in range(600):
            job = await client.call(V1.get_job, job_id=job_id)
            if job["status"] in TERMINAL:
                break
            await asyncio.sleep(0.1)
        assert job["status"] == "SUCCEEDED"
        url = (await client.call(V1.get_job_results_url, job_id=job_id))["url"]
        async with client.stream_url(url) as response:
            body = await response.aread()
        assert body[:2] == b"\x1f\x8b"
        tasks = await client.call(V1.get_job_tasks, job_id=job_id)
        assert isinstance(
            await client.call(V1.get_job_task_logs, job_id=job_id, jobtask_id=tasks[0]["id"]), str
        )
    assert sync_client.tokens.fetches == 1
    sync_client.close()
