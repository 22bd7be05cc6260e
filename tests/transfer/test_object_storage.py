"""Downloads straight to object storage: S3 through a moto server, and a generic fsspec store."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from upath import UPath

from tests.transfer.conftest import AWS_CONN_ID, payload, s3_keys, serve
from up42_provider.emulator.server import EmulatorServer
from up42_provider.transfer import IntegrityError, download, download_and_extract
from up42_provider.transfer.targets import DiscardingWriter, TempKeyWriter, open_writer, resolve

MIB = 1 << 20


def test_download_to_s3_and_read_back(fresh_emulator: EmulatorServer, s3_bucket: Any) -> None:
    data = payload(12 * MIB + 7, seed=30)
    served = serve(fresh_emulator, data, "output.zip")
    fresh_emulator.state.faults.add_rule("drop", count=1, path="/storage/")
    target = s3_bucket / "assets" / "output.zip"
    # 5 MiB parts: the 12 MiB file goes up as a 3-part multipart upload while downloading.
    result = download(served, target, chunk_size=MIB, block_size=5 * MIB)
    assert result.uri == f"s3://{AWS_CONN_ID}@{s3_bucket.bucket}/assets/output.zip"
    assert target.read_bytes() == data
    assert s3_keys(s3_bucket) == ["assets/output.zip", "assets/output.zip.up42-verified.json"]
    record = json.loads((s3_bucket / "assets" / "output.zip.up42-verified.json").read_text())
    assert record == {"size": len(data), "crc32c": served.blob.crc32c}
    assert target.fs.info(target.path)["ETag"].strip('"').endswith("-3")
    # The re-run trusts the sidecar on S3 too.
    assert download(served, target, expected_size=len(data)).skipped


def test_s3_string_destination_without_conn_id_is_resolved(s3_bucket: Any) -> None:
    location = resolve(f"s3://{s3_bucket.bucket}/x/y.bin")
    assert location.protocol == "s3" and location.key == "x/y.bin"
    assert isinstance(resolve("file:///tmp/a/b.bin"), Path)


def test_failed_download_leaves_nothing_on_s3(fresh_emulator: EmulatorServer, s3_bucket: Any) -> None:
    served = serve(fresh_emulator, payload(11 * MIB, seed=31))
    served.blob.path.write_bytes(payload(11 * MIB, seed=32))  # stale x-goog-hash
    with pytest.raises(IntegrityError):
        download(served, s3_bucket / "bad.bin", chunk_size=MIB, block_size=5 * MIB)
    assert s3_keys(s3_bucket) == []
    uploads = s3_bucket.fs.call_s3("list_multipart_uploads", Bucket=s3_bucket.bucket)
    assert not uploads.get("Uploads")  # the multipart upload was aborted, not left dangling


def test_s3_writer_is_discarding_generic_store_uses_temp_key(s3_bucket: Any) -> None:
    assert isinstance(open_writer(s3_bucket / "w.bin"), DiscardingWriter)
    generic = UPath(f"memory://transfer-{uuid.uuid4().hex}/w.bin")
    writer = open_writer(generic)
    assert isinstance(writer, TempKeyWriter)
    writer.write(b"abc")
    assert writer.part.exists()  # type: ignore[attr-defined]
    writer.abort()
    assert not generic.exists() and not writer.part.exists()  # type: ignore[attr-defined]


def test_download_to_generic_fsspec_store(emulator: EmulatorServer) -> None:
    """Any fsspec-backed path works (Airflow registers no ``memory://``; a UPath does)."""
    data = payload(2 * MIB + 3, seed=33)
    served = serve(emulator, data)
    root = UPath(f"memory://transfer-{uuid.uuid4().hex}/")
    result = download(served, root / "sub" / "f.bin", chunk_size=MIB, checksum="md5")
    assert (root / "sub" / "f.bin").read_bytes() == data
    assert sorted(p.name for p in (root / "sub").iterdir()) == ["f.bin", "f.bin.up42-verified.json"]
    assert result.md5 == hashlib.md5(data).hexdigest()


def test_download_and_extract_keep_archive_on_s3(emulator: EmulatorServer, s3_bucket: Any) -> None:
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in (("output/data.json", b"{}"), ("output/a/a_0-0.tif", b"tif" * 1000)):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    served = serve(emulator, buffer.getvalue(), "output.tgz")
    files = download_and_extract(served, s3_bucket / "job", keep_archive=True)
    prefix = f"s3://{AWS_CONN_ID}@{s3_bucket.bucket}/job/"
    assert files == [prefix + "data.json", prefix + "a/a_0-0.tif"]
    assert s3_keys(s3_bucket) == [
        "job/a/a_0-0.tif",
        "job/data.json",
        "job/output.tgz",
        "job/output.tgz.up42-verified.json",
    ]
    assert served.calls == 1  # the URL fetched for the file name is reused for the download
