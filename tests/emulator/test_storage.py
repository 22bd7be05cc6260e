"""X1 signed downloads over real HTTP: GCS-like signatures, expiry, ranges, drops and streaming."""

from __future__ import annotations

import base64
import hashlib
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import google_crc32c
import numpy as np
import psutil
import pytest
import requests

from up42_provider.emulator.media import products
from up42_provider.emulator.server import EmulatorServer

SIZE = 3 * 1024 * 1024 + 12345


def payload(size: int = SIZE, seed: int = 1) -> bytes:
    return np.random.default_rng(seed).bytes(size)


def register(server: EmulatorServer, data: bytes, filename: str = "output.zip", **kwargs) -> str:
    """Register ``data`` under a fresh key and return a signed URL for it."""
    key = f"tests/{uuid.uuid4()}"
    server.state.blobs.register(
        key, filename, kwargs.get("content_type", "application/zip"), lambda p: p.write_bytes(data)
    )
    return server.state.blobs.signed_url(server.url, key)


def md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def crc32c_b64(data: bytes) -> str:
    return base64.b64encode(google_crc32c.Checksum(data).digest()).decode()


def goog_hash(data: bytes) -> str:
    """What GCS sends for a plain (non-composite) object."""
    return f"crc32c={crc32c_b64(data)},md5={md5_b64(data)}"


def xml_code(response: requests.Response) -> str:
    assert response.headers["Content-Type"].startswith("application/xml")
    assert response.text.startswith("<?xml version='1.0' encoding='UTF-8'?><Error>")
    return ET.fromstring(response.content).findtext("Code") or ""


@pytest.fixture(scope="module")
def blob(emulator: EmulatorServer) -> tuple[str, bytes]:
    data = payload()
    return register(emulator, data), data


def test_signed_url_looks_like_gcs_v4(emulator: EmulatorServer, blob: tuple[str, bytes]) -> None:
    url, _ = blob
    parts = urlsplit(url)
    assert url.startswith(f"{emulator.url}/storage/up42-emulator-storage/tests/")
    assert parts.path.endswith("/output.zip") and ".zip" in parts.path
    query = parse_qs(parts.query)
    assert list(query) == [
        "X-Goog-Algorithm",
        "X-Goog-Credential",
        "X-Goog-Date",
        "X-Goog-Expires",
        "X-Goog-SignedHeaders",
        "X-Goog-Signature",
    ]
    assert query["X-Goog-Algorithm"] == ["GOOG4-RSA-SHA256"]
    assert query["X-Goog-Credential"][0].endswith("/auto/storage/goog4_request")
    assert time.strptime(query["X-Goog-Date"][0], "%Y%m%dT%H%M%SZ")
    assert query["X-Goog-Expires"] == [str(emulator.config.signed_url_lifetime)]
    assert query["X-Goog-SignedHeaders"] == ["host"]
    assert len(query["X-Goog-Signature"][0]) == 512 and int(query["X-Goog-Signature"][0], 16) >= 0


def test_job_result_url_contains_tgz(emulator: EmulatorServer) -> None:
    key = f"jobtask:{uuid.uuid4()}"  # keys may hold characters that need quoting in the URL
    emulator.state.blobs.register(key, "results.tgz", "application/gzip", lambda p: p.write_bytes(b"tgz"))
    url = emulator.state.blobs.signed_url(emulator.url, key)
    assert ".tgz" in urlsplit(url).path and ".zip" not in url
    r = requests.get(url, timeout=30)
    assert r.status_code == 200 and r.content == b"tgz"
    assert r.headers["Content-Type"] == "application/gzip"


def test_full_get_without_auth(blob: tuple[str, bytes]) -> None:
    url, data = blob
    r = requests.get(url, timeout=30)  # a plain GET: no bearer token, like the SDK (X1)
    assert r.status_code == 200
    assert r.content == data
    assert r.headers["Content-Length"] == str(len(data))
    assert r.headers["Content-Type"] == "application/zip"
    assert r.headers["Accept-Ranges"] == "bytes"
    assert r.headers["x-goog-hash"] == goog_hash(data)
    assert r.headers["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    assert r.headers["x-goog-stored-content-length"] == str(len(data))
    assert r.headers["x-goog-generation"].isdigit()
    assert r.headers["Last-Modified"].endswith(" GMT")


def test_bearer_token_is_ignored(api, blob: tuple[str, bytes]) -> None:
    url, data = blob
    r = api.get(url)
    assert r.status_code == 200 and r.content == data


def test_head(blob: tuple[str, bytes]) -> None:
    url, data = blob
    r = requests.head(url, timeout=30)
    assert r.status_code == 200
    assert r.content == b""
    assert r.headers["Content-Length"] == str(len(data))
    assert r.headers["x-goog-hash"] == goog_hash(data)


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=10-99", 10, 99),
        ("bytes=1048570-2097160", 1048570, 2097160),
        (f"bytes={SIZE - 100}-", SIZE - 100, SIZE - 1),
        ("bytes=-50", SIZE - 50, SIZE - 1),
        (f"bytes=5-{SIZE + 1000}", 5, SIZE - 1),  # end clamped to the file
        (f"bytes=-{SIZE + 10}", 0, SIZE - 1),  # suffix longer than the file
        ("bytes=0-9,20-29", 0, 9),  # multi-range: the first range is served
    ],
)
def test_range(blob: tuple[str, bytes], header: str, first: int, last: int) -> None:
    url, data = blob
    r = requests.get(url, headers={"Range": header}, timeout=30)
    assert r.status_code == 206
    assert r.headers["Content-Range"] == f"bytes {first}-{last}/{len(data)}"
    assert r.headers["Content-Length"] == str(last - first + 1)
    assert r.content == data[first : last + 1]
    assert r.headers["x-goog-hash"] == goog_hash(data)  # GCS reports the whole object's hash


@pytest.mark.parametrize("header", [f"bytes={SIZE}-", f"bytes={SIZE + 5}-{SIZE + 10}", "bytes=-0"])
def test_range_not_satisfiable(blob: tuple[str, bytes], header: str) -> None:
    url, data = blob
    r = requests.get(url, headers={"Range": header}, timeout=30)
    assert r.status_code == 416
    assert r.headers["Content-Range"] == f"bytes */{len(data)}"
    assert xml_code(r) == "InvalidRange"


@pytest.mark.parametrize("header", ["bytes=9-3", "items=0-5", "bytes=abc"])
def test_invalid_range_is_ignored(blob: tuple[str, bytes], header: str) -> None:
    url, data = blob
    r = requests.get(url, headers={"Range": header}, timeout=30)
    assert r.status_code == 200 and r.content == data


def test_if_range_and_if_none_match(blob: tuple[str, bytes]) -> None:
    url, data = blob
    etag = requests.head(url, timeout=30).headers["ETag"]
    r = requests.get(url, headers={"Range": "bytes=0-9", "If-Range": etag}, timeout=30)
    assert r.status_code == 206 and r.content == data[:10]
    r = requests.get(url, headers={"Range": "bytes=0-9", "If-Range": '"stale"'}, timeout=30)
    assert r.status_code == 200 and r.content == data
    r = requests.get(url, headers={"If-None-Match": etag}, timeout=30)
    assert r.status_code == 304 and r.content == b""


def tamper(url: str, name: str, value: str) -> str:
    base, _, query = url.partition("?")
    params = [p.split("=", 1) for p in query.split("&")]
    return base + "?" + "&".join(f"{k}={value if k == name else v}" for k, v in params)


def test_tampered_signature_is_refused(emulator: EmulatorServer, blob: tuple[str, bytes]) -> None:
    url, _ = blob
    signature = parse_qs(urlsplit(url).query)["X-Goog-Signature"][0]
    forged = [
        tamper(url, "X-Goog-Signature", ("0" if signature[0] != "0" else "1") + signature[1:]),
        tamper(url, "X-Goog-Expires", "604800"),  # trying to extend the lifetime
        tamper(url, "X-Goog-Date", "20990101T000000Z"),
        url.split("?")[0],  # no signature at all
    ]
    other = register(emulator, b"other", filename="output.zip")
    forged.append(other.split("?")[0] + "?" + url.split("?")[1])  # signature of another object
    for candidate in forged:
        r = requests.get(candidate, timeout=30)
        assert r.status_code == 403, candidate
        assert xml_code(r) == "SignatureDoesNotMatch"


def test_unknown_object_is_404(emulator: EmulatorServer) -> None:
    url = emulator.state.blobs.sign(emulator.url, "tests/missing/output.zip")
    r = requests.get(url, timeout=30)
    assert r.status_code == 404
    assert xml_code(r) == "NoSuchKey"


def test_expired_url(fresh_emulator: EmulatorServer) -> None:
    data = payload(1000)
    url = register(fresh_emulator, data)
    assert requests.get(url, timeout=30).content == data
    fresh_emulator.state.clock.advance(fresh_emulator.config.signed_url_lifetime - 30)
    assert requests.get(url, timeout=30).status_code == 200
    fresh_emulator.state.clock.advance(60)
    r = requests.get(url, timeout=30)
    assert r.status_code == 400
    assert xml_code(r) == "ExpiredToken"
    assert "<Message>Invalid argument.</Message>" in r.text
    fresh_url = fresh_emulator.state.blobs.signed_url(fresh_emulator.url, register_key(fresh_emulator, url))
    assert requests.get(fresh_url, timeout=30).content == data  # a new URL works again


def register_key(server: EmulatorServer, url: str) -> str:
    object_path = urlsplit(url).path.split("/", 3)[3]
    key = server.state.blobs.key_for(object_path)
    assert key is not None
    return key


def test_dropped_connection_then_range_resume(fresh_emulator: EmulatorServer) -> None:
    data = payload(8 * 1024 * 1024 + 7, seed=3)
    url = register(fresh_emulator, data)
    fresh_emulator.state.faults.add_rule("drop", count=1, path="/storage/")
    received = bytearray()
    with requests.get(url, stream=True, timeout=30) as r:
        assert r.status_code == 200
        assert r.headers["Content-Length"] == str(len(data))
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            for chunk in r.iter_content(64 * 1024):
                received.extend(chunk)
    assert 0 < len(received) < len(data)
    assert fresh_emulator.state.faults.fired["drop"] == 1
    r = requests.get(url, headers={"Range": f"bytes={len(received)}-"}, timeout=30)
    assert r.status_code == 206
    assert r.headers["Content-Range"] == f"bytes {len(received)}-{len(data) - 1}/{len(data)}"
    received.extend(r.content)
    assert goog_hash(bytes(received)) == r.headers["x-goog-hash"]
    assert bytes(received) == data


def test_drop_rule_on_range_request(fresh_emulator: EmulatorServer) -> None:
    data = payload(2 * 1024 * 1024, seed=4)
    url = register(fresh_emulator, data)
    fresh_emulator.state.faults.add_rule("drop", count=1, path="/storage/")
    with requests.get(url, headers={"Range": "bytes=1000-"}, stream=True, timeout=30) as r:
        assert r.status_code == 206
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            b"".join(r.iter_content(65536))
    assert requests.get(url, timeout=30).content == data  # the rule fired once


def test_concurrent_first_downloads_build_once(fresh_emulator: EmulatorServer) -> None:
    calls: list[int] = []
    data = payload(500_000, seed=5)

    def build(path: Path) -> None:
        calls.append(1)
        time.sleep(0.3)
        path.write_bytes(data)

    key = "tests/concurrent"
    fresh_emulator.state.blobs.register(key, "output.zip", "application/zip", build)
    url = fresh_emulator.state.blobs.signed_url(fresh_emulator.url, key)
    results: list[bytes] = []

    def fetch() -> None:
        results.append(requests.get(url, timeout=30).content)

    threads = [threading.Thread(target=fetch) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [data] * 6
    assert calls == [1]
    blob = fresh_emulator.state.blobs.get(key)
    assert blob is not None and blob.size == len(data) and blob.path.read_bytes() == data
    assert not [p for p in blob.path.parent.iterdir() if p.name.endswith(".part")]


def test_failed_build_answers_500_then_retries(fresh_emulator: EmulatorServer) -> None:
    attempts: list[int] = []

    def build(path: Path) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            path.write_bytes(b"partial")
            raise RuntimeError("disk on fire")
        path.write_bytes(b"complete")

    fresh_emulator.state.blobs.register("tests/flaky", "output.zip", "application/zip", build)
    url = fresh_emulator.state.blobs.signed_url(fresh_emulator.url, "tests/flaky")
    r = requests.get(url, timeout=30)
    assert r.status_code == 500 and xml_code(r) == "InternalError"
    assert requests.get(url, timeout=30).content == b"complete"


def test_streaming_keeps_memory_flat(fresh_emulator: EmulatorServer) -> None:
    """A 200 MiB archive streams in chunks: the (in-process) server's RSS stays far below its size."""
    pad = 200 * 1024 * 1024
    feature = {
        "type": "Feature",
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[13.0, 52.0], [13.02, 52.0], [13.02, 52.02], [13.0, 52.0]]],
        },
        "properties": {"id": "memory-test"},
    }
    blobs = fresh_emulator.state.blobs
    blobs.register(
        "tests/big",
        "output.zip",
        "application/zip",
        lambda p: products.write_order_archive(p, feature, None, 1, pad),
    )
    blob = blobs.ensure_sync("tests/big")  # build before measuring
    assert blob.size > pad
    url = blobs.signed_url(fresh_emulator.url, "tests/big")
    process = psutil.Process()
    baseline = peak = process.memory_info().rss
    md5, crc = hashlib.md5(), google_crc32c.Checksum()
    total = 0
    with requests.get(url, stream=True, timeout=60) as r:
        assert r.status_code == 200
        for index, chunk in enumerate(r.iter_content(1024 * 1024)):
            md5.update(chunk)
            crc.update(chunk)
            total += len(chunk)
            if index % 8 == 0:
                peak = max(peak, process.memory_info().rss)
        crc_b64, md5_b64_ = (base64.b64encode(h.digest()).decode() for h in (crc, md5))
        assert r.headers["x-goog-hash"] == f"crc32c={crc_b64},md5={md5_b64_}"
    assert total == blob.size
    assert peak - baseline < 64 * 1024 * 1024, f"RSS grew by {(peak - baseline) / 2**20:.0f} MiB"


def test_crc32c_is_castagnoli_as_gcs_writes_it(emulator: EmulatorServer) -> None:
    """RFC 3720 check value: CRC32C(b"123456789") = 0xE3069283, base64 of the big-endian bytes."""
    r = requests.get(register(emulator, b"123456789"), timeout=30)
    assert r.headers["x-goog-hash"].split(",")[0] == "crc32c=4waSgw=="


@pytest.mark.parametrize(
    ("fresh_emulator", "announced"),
    [({"download_hashes": ("md5",)}, "md5"), ({"download_hashes": ("crc32c",)}, "crc32c")],
    indirect=["fresh_emulator"],
)
def test_announced_hashes_are_configurable(fresh_emulator: EmulatorServer, announced: str) -> None:
    data = payload(1000, seed=9)
    r = requests.get(register(fresh_emulator, data), timeout=30)
    value = {"md5": md5_b64(data), "crc32c": crc32c_b64(data)}[announced]
    assert r.headers["x-goog-hash"] == f"{announced}={value}"


def test_unknown_download_hash_is_refused() -> None:
    from up42_provider.emulator.config import EmulatorConfig

    with pytest.raises(ValueError, match=r"download_hashes must name crc32c and/or md5, got \['sha1'\]"):
        EmulatorConfig(download_hashes=("sha1",))
