"""Fixtures of the transfer tests: files served by the emulator's blob store, and S3 via moto.

Everything speaks real HTTP on 127.0.0.1: the emulator serves signed GCS-like URLs (Range,
x-goog-hash, expiry, dropped connections) and a moto server plays S3 for ObjectStoragePath.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from moto.server import ThreadedMotoServer

from up42_provider.emulator.server import EmulatorServer

AWS_CONN_ID = "aws_test"


def payload(size: int, seed: int = 1) -> bytes:
    return np.random.default_rng(seed).bytes(size)


class Served:
    """A blob registered in the emulator; calling it returns a freshly signed URL (a url_provider)."""

    def __init__(self, server: EmulatorServer, build: Callable[[Path], Any], filename: str) -> None:
        self.server = server
        self.key = f"transfer/{uuid.uuid4().hex}"
        self.calls = 0
        blobs = server.state.blobs
        blobs.register(self.key, filename, "application/octet-stream", build)
        self.blob = asyncio.run_coroutine_threadsafe(blobs.ensure(self.key), server.state.loop).result()

    def __call__(self) -> str:
        self.calls += 1
        return self.server.state.blobs.signed_url(self.server.url, self.key)

    def url(self) -> str:
        """A signed URL that does not count as a provider call."""
        return self.server.state.blobs.signed_url(self.server.url, self.key)


def serve(server: EmulatorServer, data: bytes | Callable[[Path], Any], filename: str = "file.bin") -> Served:
    build = data if callable(data) else (lambda path: path.write_bytes(data))
    return Served(server, build, filename)


class RecordingSession(requests.Session):
    """A requests session that remembers (status, Range header) of every answer."""

    def __init__(self, on_response: Callable[[requests.Response], None] | None = None) -> None:
        super().__init__()
        self.seen: list[tuple[int, str | None]] = []
        self._on_response = on_response

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        response = super().send(request, **kwargs)
        self.seen.append((response.status_code, request.headers.get("Range")))
        if self._on_response is not None:
            self._on_response(response)
        return response

    @property
    def statuses(self) -> list[int]:
        return [status for status, _ in self.seen]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*"))


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on 127.0.0.1 plus the Airflow connection ``aws_test`` pointing at it."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    endpoint = f"http://127.0.0.1:{port}"
    conn = {
        "conn_type": "aws",
        "login": "test",
        "password": "test",
        "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"},
    }
    previous = os.environ.get("AIRFLOW_CONN_AWS_TEST")
    os.environ["AIRFLOW_CONN_AWS_TEST"] = json.dumps(conn)
    try:
        yield endpoint
    finally:
        if previous is None:
            os.environ.pop("AIRFLOW_CONN_AWS_TEST", None)
        else:
            os.environ["AIRFLOW_CONN_AWS_TEST"] = previous
        server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> Any:
    """A fresh bucket as ``ObjectStoragePath("s3://<bucket>/", conn_id="aws_test")``."""
    from airflow.sdk import ObjectStoragePath

    name = f"transfer-{uuid.uuid4().hex[:12]}"
    root = ObjectStoragePath(f"s3://{name}/", conn_id=AWS_CONN_ID)
    root.fs.mkdir(name)
    return root


def s3_keys(bucket: Any) -> list[str]:
    fs = bucket.fs
    fs.invalidate_cache()
    return sorted(path.split("/", 1)[1] for path in fs.find(bucket.bucket))
