"""``gs://`` through the provider's gcsfs filesystem and a ``google_cloud_platform`` connection, against
the GCS emulator (``gcp-storage-emulator``) as a process on 127.0.0.1: downloads straight to a bucket,
uploads of folder trees, the verification sidecar, and the connection's credential options."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.system.services import Services
from tests.transfer.conftest import payload, serve
from up42_provider.emulator.server import EmulatorServer
from up42_provider.fs import gcs
from up42_provider.transfer import download, upload_tree
from up42_provider.transfer.targets import DiscardingWriter, open_writer, resolve

MIB = 1 << 20
GCS_CONN_ID = "gcs_test"


@pytest.fixture(scope="module")
def gcs_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The GCS emulator process plus the Airflow connection ``gcs_test`` (anonymous, emulator endpoint)."""
    services = Services(tmp_path_factory.mktemp("gcs"), dict(os.environ))
    previous = os.environ.get("AIRFLOW_CONN_GCS_TEST")
    try:
        endpoint = services.start_gcs()
        os.environ["AIRFLOW_CONN_GCS_TEST"] = json.dumps(
            {
                "conn_type": "google_cloud_platform",
                "extra": {"is_anonymous": True, "project": "up42-test", "gcs.endpoint": endpoint},
            }
        )
        yield endpoint
    finally:
        if previous is None:
            os.environ.pop("AIRFLOW_CONN_GCS_TEST", None)
        else:
            os.environ["AIRFLOW_CONN_GCS_TEST"] = previous
        services.stop()
    assert not services.survivors()


@pytest.fixture
def gcs_bucket(gcs_endpoint: str) -> Any:
    from airflow.sdk import ObjectStoragePath

    name = f"transfer-{uuid.uuid4().hex[:12]}"
    root = ObjectStoragePath(f"gs://{GCS_CONN_ID}@{name}/")
    root.fs.mkdir(name)
    return root


def gcs_keys(bucket: Any) -> list[str]:
    bucket.fs.invalidate_cache()
    return sorted(k.split("/", 1)[1] for k in bucket.fs.find(bucket.bucket))


def test_gs_urls_resolve_to_the_connection_filesystem(gcs_bucket: Any, gcs_endpoint: str) -> None:
    from gcsfs.core import GCSFileSystem

    location = resolve(f"gs://{GCS_CONN_ID}@{gcs_bucket.bucket}/a/b.bin")
    assert location.protocol == "gs" and location.key == "a/b.bin"
    assert isinstance(location.fs, GCSFileSystem)
    assert location.fs._endpoint == gcs_endpoint  # the connection's gcs.endpoint, not Google's API
    assert isinstance(open_writer(location), DiscardingWriter)


def test_download_to_gcs_verified_and_skipped_on_rerun(emulator: EmulatorServer, gcs_bucket: Any) -> None:
    data = payload(6 * MIB + 5, seed=40)
    served = serve(emulator, data, "output.zip")
    target = gcs_bucket / "assets" / "output.zip"
    result = download(served, target, chunk_size=MIB)
    assert result.uri == f"gs://{GCS_CONN_ID}@{gcs_bucket.bucket}/assets/output.zip"
    assert target.read_bytes() == data
    assert gcs_keys(gcs_bucket) == ["assets/output.zip", "assets/output.zip.up42-verified.json"]
    record = json.loads((gcs_bucket / "assets" / "output.zip.up42-verified.json").read_text())
    assert record == {"size": len(data), "crc32c": served.blob.crc32c}
    calls = served.calls
    rerun = download(served, target, expected_size=len(data))
    assert rerun.skipped and served.calls == calls  # the sidecar answers, no request


def test_upload_tree_to_gcs_and_back(tmp_path: Path, gcs_bucket: Any) -> None:
    files = {"a.tif": payload(3 * MIB + 1, seed=41), "sub/data.json": b'{"ok": true}', "sub/x.png": b"png"}
    for rel, data in files.items():
        (tmp_path / "src" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "src" / rel).write_bytes(data)
    (tmp_path / "src" / "a.tif.part-0123456789ab").write_bytes(b"half")  # never uploaded
    written = upload_tree(tmp_path / "src", gcs_bucket / "up", block_size=MIB)
    assert sorted(written) == sorted(f"{gcs_bucket}up/{rel}" for rel in files)
    assert gcs_keys(gcs_bucket) == sorted(f"up/{rel}" for rel in files)
    for rel, data in files.items():
        assert (gcs_bucket / "up" / rel).read_bytes() == data
    # Bucket to local folder: the same engine reads gs:// as a source.
    back = upload_tree(gcs_bucket / "up", tmp_path / "back")
    assert len(back) == len(files)
    for rel, data in files.items():
        assert (tmp_path / "back" / rel).read_bytes() == data


@pytest.mark.parametrize(
    ("extras", "expected"),
    [
        ({}, {"token": "google_default"}),
        ({"is_anonymous": "true", "gcs.endpoint": "http://x"}, {"token": "anon", "endpoint_url": "http://x"}),
        ({"key_path": "/k.json", "project": "p"}, {"token": "/k.json", "project": "p"}),
        (
            {"extra__google_cloud_platform__keyfile_dict": '{"type": "service_account"}'},
            {"token": {"type": "service_account"}},
        ),
    ],
)
def test_connection_extras_to_gcsfs_options(extras: dict[str, Any], expected: dict[str, Any]) -> None:
    assert gcs.options_from_extras(extras) == expected


def test_bad_keyfile_is_named_without_echoing_it() -> None:
    with pytest.raises(ValueError, match="keyfile_dict") as info:
        gcs.options_from_extras({"keyfile_dict": "-----BEGIN PRIVATE KEY----- secret"})
    assert "secret" not in str(info.value)
    with pytest.raises(ValueError, match="is_anonymous"):
        gcs.options_from_extras({"is_anonymous": True, "key_path": "/k.json"})
