"""Uploads of files and folder trees to S3 (moto) through ObjectStoragePath, streamed in parts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.transfer.conftest import AWS_CONN_ID, leftovers, payload, s3_keys
from up42_provider.transfer import TransferError, targets, upload_file, upload_tree
from up42_provider.transfer.upload import iter_files

MIB = 1 << 20


def make_tree(root: Path) -> dict[str, bytes]:
    files = {
        "data.json": b'{"type": "FeatureCollection"}',
        "7e17f023/7e17f023_0-0.tif": payload(12 * MIB + 5, seed=50),
        "7e17f023/quicklook.png": payload(10_000, seed=51),
        "nested/deeper/empty.txt": b"",
    }
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (root / "data.json.part-0123456789ab").write_bytes(b"in progress")  # never uploaded
    return files


def test_upload_tree_to_s3_byte_identical(tmp_path: Path, s3_bucket: Any) -> None:
    files = make_tree(tmp_path / "results")
    dest = s3_bucket / "v0" / "my" / "folder"
    uris = upload_tree(tmp_path / "results", dest, max_workers=3, chunk_size=MIB, block_size=5 * MIB)
    prefix = f"s3://{AWS_CONN_ID}@{s3_bucket.bucket}/v0/my/folder/"
    assert uris == [prefix + rel for rel in sorted(files)]
    assert s3_keys(s3_bucket) == sorted(f"v0/my/folder/{rel}" for rel in files)
    for rel, data in files.items():
        assert dest.joinpath(*rel.split("/")).read_bytes() == data
    big = dest / "7e17f023" / "7e17f023_0-0.tif"
    # Written in 1 MiB chunks, sent by s3fs as a 3-part multipart upload (5 MiB parts).
    assert big.fs.info(big.path)["ETag"].strip('"').endswith("-3")


def test_upload_single_file_and_back_from_s3(tmp_path: Path, s3_bucket: Any) -> None:
    source = tmp_path / "job.tgz"
    source.write_bytes(payload(3 * MIB, seed=52))
    (uri,) = upload_tree(source, s3_bucket / "jobs")
    assert uri == f"s3://{AWS_CONN_ID}@{s3_bucket.bucket}/jobs/job.tgz"
    # object storage -> local, keeping the layout
    back = upload_tree(s3_bucket / "jobs", tmp_path / "back")
    assert back == [str(tmp_path / "back" / "job.tgz")]
    assert (tmp_path / "back" / "job.tgz").read_bytes() == source.read_bytes()
    assert leftovers(tmp_path / "back") == ["job.tgz"]


def test_failed_upload_leaves_no_object(
    tmp_path: Path, s3_bucket: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(payload(11 * MIB, seed=53))
    # The source "grows" between the size check and the read: the upload must be aborted.
    monkeypatch.setattr(targets, "size_of", lambda location: 12 * MIB if location == source else None)
    with pytest.raises(TransferError, match="changed while uploading"):
        upload_file(source, s3_bucket / "big.bin", chunk_size=MIB, block_size=5 * MIB)
    monkeypatch.undo()
    assert s3_keys(s3_bucket) == []
    assert not s3_bucket.fs.call_s3("list_multipart_uploads", Bucket=s3_bucket.bucket).get("Uploads")


def test_iter_files_and_missing_source(tmp_path: Path) -> None:
    make_tree(tmp_path / "t")
    rels = [rel for _, rel, _ in iter_files(tmp_path / "t")]
    assert rels == [
        "7e17f023/7e17f023_0-0.tif",
        "7e17f023/quicklook.png",
        "data.json",
        "nested/deeper/empty.txt",
    ]
    with pytest.raises(FileNotFoundError):
        upload_tree(tmp_path / "nope", tmp_path / "dest")
