"""The download engine against the emulator's signed URLs, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import tracemalloc
from pathlib import Path

import numpy as np
import psutil
import pytest

from tests.transfer.conftest import RecordingSession, leftovers, payload, serve
from up42_provider.emulator.server import EmulatorServer
from up42_provider.transfer import (
    DownloadError,
    DownloadItem,
    IntegrityError,
    TransferError,
    announced_hashes,
    download,
    download_many,
    filename_from_url,
    md5_from_headers,
)

MIB = 1 << 20
SIZE = 3 * MIB + 12345
SIDECAR = ".up42-verified.json"
# CRC32C (Castagnoli) of b"123456789" is 0xE3069283 (RFC 3720 check value); GCS writes it base64.
CHECK_CRC32C = base64.b64encode(bytes.fromhex("e3069283")).decode()


def sidecar_of(path: Path) -> dict:
    return json.loads(path.with_name(path.name + SIDECAR).read_text())


def test_download_writes_verified_file_and_sidecar(emulator: EmulatorServer, tmp_path: Path) -> None:
    data = payload(SIZE)
    served = serve(emulator, data, "output.zip")
    result = download(served, tmp_path / "out" / "output.zip", chunk_size=MIB)
    target = tmp_path / "out" / "output.zip"
    assert target.read_bytes() == data
    assert result.uri == str(target)
    # The emulator announces crc32c and md5 like GCS; by default the fast CRC32C is verified.
    assert (result.size, result.crc32c, result.md5, result.skipped, result.requests) == (
        SIZE,
        served.blob.crc32c,
        None,
        False,
        1,
    )
    assert sidecar_of(target) == {"size": SIZE, "crc32c": served.blob.crc32c}
    assert leftovers(tmp_path / "out") == ["output.zip", "output.zip" + SIDECAR]
    assert served.calls == 1


def test_crc32c_is_the_standard_castagnoli_checksum(emulator: EmulatorServer, tmp_path: Path) -> None:
    """Independent of any library: the RFC 3720 check value, as the emulator announces and we compute."""
    served = serve(emulator, b"123456789")
    assert served.blob.crc32c == CHECK_CRC32C
    result = download(served, tmp_path / "f.bin")
    assert result.crc32c == CHECK_CRC32C


@pytest.mark.parametrize(
    ("checksum", "computed"),
    [("auto", {"crc32c"}), ("md5", {"md5"}), ("all", {"crc32c", "md5"})],
)
def test_checksum_policy_chooses_the_digests(
    emulator: EmulatorServer, tmp_path: Path, checksum: str, computed: set[str]
) -> None:
    data = payload(2 * MIB + 7, seed=13)
    served = serve(emulator, data)
    result = download(served, tmp_path / "f.bin", checksum=checksum)  # type: ignore[arg-type]
    want = {"crc32c": served.blob.crc32c, "md5": hashlib.md5(data).hexdigest()}
    assert {"crc32c": result.crc32c, "md5": result.md5} == {
        k: want[k] if k in computed else None for k in want
    }
    assert sidecar_of(tmp_path / "f.bin") == {"size": len(data), **{k: want[k] for k in computed}}


def test_unknown_checksum_policy_fails_before_any_request(emulator: EmulatorServer, tmp_path: Path) -> None:
    served = serve(emulator, payload(1000))
    with pytest.raises(ValueError, match="checksum must be one of auto, md5, all; got 'sha1'"):
        download(served, tmp_path / "f.bin", checksum="sha1")  # type: ignore[arg-type]
    assert served.calls == 0 and leftovers(tmp_path) == []


def test_dropped_connection_resumes_with_range(fresh_emulator: EmulatorServer, tmp_path: Path) -> None:
    data = payload(SIZE, seed=2)
    served = serve(fresh_emulator, data)
    fresh_emulator.state.faults.add_rule("drop", count=2, path="/storage/")
    session = RecordingSession()
    result = download(served, tmp_path / "f.bin", session=session, chunk_size=MIB)
    assert (tmp_path / "f.bin").read_bytes() == data
    assert session.statuses == [200, 206, 206]
    first_range, second_range = session.seen[1][1], session.seen[2][1]
    assert first_range is not None and second_range is not None
    resumed_at = int(first_range.removeprefix("bytes=").rstrip("-"))
    assert 0 < resumed_at < int(second_range.removeprefix("bytes=").rstrip("-")) < SIZE
    assert result.requests == 3 and served.calls == 1
    assert fresh_emulator.state.faults.fired["drop"] == 2
    assert leftovers(tmp_path) == ["f.bin", "f.bin" + SIDECAR]
    assert result.crc32c == served.blob.crc32c  # the hash state survived the resumes


def test_server_ignoring_range_restarts_from_zero(
    fresh_emulator: EmulatorServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = payload(SIZE, seed=3)
    served = serve(fresh_emulator, data)
    fresh_emulator.state.faults.add_rule("drop", count=1, path="/storage/")

    class NoRange(RecordingSession):
        def request(self, method, url, **kwargs):  # type: ignore[no-untyped-def, override]
            kwargs.get("headers", {}).pop("Range", None)
            return super().request(method, url, **kwargs)

    session = NoRange()
    with caplog.at_level(logging.WARNING, logger="up42_provider.transfer"):
        download(served, tmp_path / "f.bin", session=session, chunk_size=MIB)
    assert (tmp_path / "f.bin").read_bytes() == data
    assert session.statuses == [200, 200]
    assert "restarting from byte 0" in caplog.text


def test_wrong_content_range_is_not_appended(fresh_emulator: EmulatorServer, tmp_path: Path) -> None:
    """A 206 that does not start at the written offset must not be glued onto the partial file."""
    data = payload(SIZE, seed=4)
    served = serve(fresh_emulator, data)
    fresh_emulator.state.faults.add_rule("drop", count=1, path="/storage/")

    class ShiftedRange(RecordingSession):
        def request(self, method, url, **kwargs):  # type: ignore[no-untyped-def, override]
            headers = kwargs.get("headers", {})
            if "Range" in headers:
                headers["Range"] = "bytes=1-"
                headers.pop("If-Range", None)
            return super().request(method, url, **kwargs)

    session = ShiftedRange()
    download(served, tmp_path / "f.bin", session=session, chunk_size=MIB)
    assert (tmp_path / "f.bin").read_bytes() == data
    assert session.statuses == [200, 206, 200]  # dropped, bad Content-Range -> restart, fresh
    assert session.seen[2][1] is None


@pytest.mark.parametrize(
    ("fresh_emulator", "checksum", "detected"),
    [
        ({"download_hashes": ("md5",)}, "auto", ["MD5"]),  # a server announcing MD5 only
        ({}, "auto", ["CRC32C"]),  # GCS: crc32c and md5, the fast one is checked
        ({}, "md5", ["MD5"]),
        ({}, "all", ["CRC32C", "MD5"]),
    ],
    indirect=["fresh_emulator"],
)
def test_corrupted_bytes_are_retried_then_rejected(
    fresh_emulator: EmulatorServer, tmp_path: Path, checksum: str, detected: list[str]
) -> None:
    data = payload(SIZE, seed=5)
    served = serve(fresh_emulator, data)
    # Same size, other bytes: the x-goog-hash computed at build time is now stale.
    served.blob.path.write_bytes(payload(SIZE, seed=6))
    session = RecordingSession()
    with pytest.raises(IntegrityError) as info:
        download(served, tmp_path / "f.bin", session=session, chunk_size=MIB, checksum=checksum)  # type: ignore[arg-type]
    message = str(info.value)
    assert [name for name in ("CRC32C", "MD5") if f"{name} mismatch" in message] == detected
    assert "checked 2 times" in message
    assert "X-Goog-Signature" not in message
    assert session.statuses == [200, 200]
    assert leftovers(tmp_path) == []  # no part file, no final file, no sidecar


def test_one_flipped_byte_is_detected(fresh_emulator: EmulatorServer, tmp_path: Path) -> None:
    data = bytearray(payload(SIZE, seed=14))
    served = serve(fresh_emulator, bytes(data))
    data[SIZE // 2] ^= 0x01
    served.blob.path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="CRC32C mismatch"):
        download(served, tmp_path / "f.bin", integrity_retries=0)
    assert leftovers(tmp_path) == []


def test_expected_size_mismatch_fails_without_reading_the_body(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    served = serve(emulator, payload(SIZE))
    with pytest.raises(IntegrityError, match=f"server announces {SIZE} bytes, expected 100"):
        download(served, tmp_path / "f.bin", expected_size=100)
    assert leftovers(tmp_path) == []


def test_expired_url_is_renewed_through_the_provider(fresh_emulator: EmulatorServer, tmp_path: Path) -> None:
    data = payload(SIZE, seed=7)
    served = serve(fresh_emulator, data)
    stale = served.url()
    fresh_emulator.state.clock.advance(fresh_emulator.config.signed_url_lifetime + 60)
    urls = iter([stale])

    def provider() -> str:
        return next(urls, None) or served()

    session = RecordingSession()
    download(provider, tmp_path / "f.bin", session=session)
    assert (tmp_path / "f.bin").read_bytes() == data
    assert session.statuses == [400, 200]
    assert served.calls == 1


def test_url_expiring_mid_download_continues_at_the_same_offset(
    fresh_emulator: EmulatorServer, tmp_path: Path
) -> None:
    data = payload(SIZE, seed=8)
    served = serve(fresh_emulator, data)
    fresh_emulator.state.faults.add_rule("drop", count=1, path="/storage/")

    def expire_after_first(response) -> None:  # type: ignore[no-untyped-def]
        if len(session.seen) == 1:  # the first (dropped) answer: let its URL expire meanwhile
            fresh_emulator.state.clock.advance(fresh_emulator.config.signed_url_lifetime + 60)

    session = RecordingSession(on_response=expire_after_first)
    download(served, tmp_path / "f.bin", session=session, chunk_size=MIB)
    assert (tmp_path / "f.bin").read_bytes() == data
    assert session.statuses == [200, 400, 206]
    assert session.seen[1][1] == session.seen[2][1]  # same Range before and after the renewal
    assert served.calls == 2


def test_fixed_expired_url_gives_a_clear_error(fresh_emulator: EmulatorServer, tmp_path: Path) -> None:
    served = serve(fresh_emulator, payload(1000))
    url = served.url()
    fresh_emulator.state.clock.advance(fresh_emulator.config.signed_url_lifetime + 60)
    with pytest.raises(DownloadError) as info:
        download(url, tmp_path / "f.bin")
    assert info.value.status == 400
    assert "ExpiredToken" in str(info.value) and "url_provider" in str(info.value)
    assert "X-Goog" not in str(info.value)
    assert leftovers(tmp_path) == []


def test_refreshed_url_refused_again_stops(fresh_emulator: EmulatorServer, tmp_path: Path) -> None:
    served = serve(fresh_emulator, payload(1000))
    fresh_emulator.state.clock.advance(fresh_emulator.config.signed_url_lifetime + 60)
    stale = served.url()
    fresh_emulator.state.clock.advance(fresh_emulator.config.signed_url_lifetime + 60)
    with pytest.raises(DownloadError, match="freshly fetched signed URL was refused too"):
        download(lambda: stale, tmp_path / "f.bin")


def test_missing_object_is_not_retried(emulator: EmulatorServer, tmp_path: Path) -> None:
    url = emulator.state.blobs.sign(emulator.url, "transfer/missing/output.tgz")
    session = RecordingSession()
    with pytest.raises(DownloadError) as info:
        download(url, tmp_path / "f.bin", session=session)
    assert info.value.status == 404 and "NoSuchKey" in str(info.value)
    assert "/storage/up42-emulator-storage/transfer/missing/output.tgz" in str(info.value)
    assert "?" not in str(info.value)
    assert session.statuses == [404]


def test_connection_refused_is_retried_a_bounded_number_of_times(tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="3 attempts without progress") as info:
        download("http://127.0.0.1:9/x.zip?X-Goog-Signature=secret", tmp_path / "f.bin", max_attempts=3)
    assert info.value.attempts == 3 and "secret" not in str(info.value)


def test_total_time_budget_bounds_retries(tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="time budget of 0 s exhausted"):
        download("http://127.0.0.1:9/x.zip", tmp_path / "f.bin", max_total_time=0)


def test_rerun_skips_verified_file_without_any_request(emulator: EmulatorServer, tmp_path: Path) -> None:
    data = payload(SIZE, seed=9)
    served = serve(emulator, data)
    first = download(served, tmp_path / "f.bin")
    seen = emulator.state.requests_seen

    def must_not_be_called() -> str:
        raise AssertionError("no URL needed for a verified file")

    again = download(must_not_be_called, tmp_path / "f.bin", expected_size=SIZE)
    assert again.skipped and (again.size, again.crc32c, again.requests) == (SIZE, first.crc32c, 0)
    # A caller who knows the MD5 gets it computed and recorded, and a later run trusts it.
    md5 = hashlib.md5(data).hexdigest()
    with_md5 = download(served, tmp_path / "g.bin", expected_md5=md5)
    assert (with_md5.md5, with_md5.crc32c) == (md5, first.crc32c)
    assert download(must_not_be_called, tmp_path / "g.bin", expected_md5=md5).skipped
    assert emulator.state.requests_seen == seen + 1


def test_rerun_downloads_again_when_the_copy_cannot_be_trusted(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    data = payload(1000, seed=10)
    served = serve(emulator, data)
    target = tmp_path / "f.bin"
    target.write_bytes(b"x" * 1000)  # same size, no sidecar, MD5 expected: not trusted
    result = download(served, target, expected_md5=hashlib.md5(data).hexdigest())
    assert not result.skipped and target.read_bytes() == data
    # Sidecar recording another MD5 than the expected one: downloaded again.
    side = tmp_path / ("f.bin" + SIDECAR)
    side.write_text(json.dumps({"size": 1000, "md5": "0" * 32}))
    assert not download(served, target, expected_md5=hashlib.md5(data).hexdigest()).skipped
    # Sidecar of another size, or unreadable: downloaded again even without expectations.
    for record in ('{"size": 999}', "not json"):
        side.write_text(record)
        assert not download(served, target).skipped
        assert target.read_bytes() == data and side.read_text() != record
    # Size-only knowledge, no sidecar: skipped on size.
    side.unlink()
    assert download(served, target, expected_size=1000).skipped
    assert not download(served, target, expected_size=1000, overwrite=True).skipped


def test_download_many_parallel_in_order(emulator: EmulatorServer, tmp_path: Path) -> None:
    blobs = [payload(200_000 + i, seed=20 + i) for i in range(5)]
    served = [serve(emulator, data) for data in blobs]
    items = [
        DownloadItem(s, tmp_path / f"{i}.bin", expected_size=len(blobs[i])) for i, s in enumerate(served)
    ]
    results = download_many(items, max_workers=3)
    assert [r.uri for r in results] == [str(tmp_path / f"{i}.bin") for i in range(5)]
    assert all((tmp_path / f"{i}.bin").read_bytes() == blobs[i] for i in range(5))
    assert all(r.skipped for r in download_many(items, max_workers=3))


def test_download_many_finishes_the_others_then_raises(emulator: EmulatorServer, tmp_path: Path) -> None:
    good = serve(emulator, payload(5000))
    missing = emulator.state.blobs.sign(emulator.url, "transfer/none/x.bin")
    with pytest.raises(DownloadError, match="404"):
        download_many([(good, tmp_path / "a.bin"), (missing, tmp_path / "b.bin")], max_workers=2)
    assert leftovers(tmp_path) == ["a.bin", "a.bin" + SIDECAR]
    with pytest.raises(TransferError, match="2 of 3 downloads failed"):
        download_many([(missing, tmp_path / "c"), (missing, tmp_path / "d"), (good, tmp_path / "e")])


def test_memory_stays_bounded_for_a_200_mib_blob(emulator: EmulatorServer, tmp_path: Path) -> None:
    size = 200 * MIB
    block = np.random.default_rng(11).bytes(8 * MIB)

    def build(path: Path) -> None:
        with path.open("wb") as out:
            for _ in range(size // len(block)):
                out.write(block)

    served = serve(emulator, build, "big.tgz")
    process = psutil.Process()
    rss_before = process.memory_info().rss
    tracemalloc.start()
    try:
        result = download(served, tmp_path / "big.tgz")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rss_growth = process.memory_info().rss - rss_before
    assert result.size == size and (tmp_path / "big.tgz").stat().st_size == size
    # Two 1 MiB buffers plus the emulator's own 1 MiB reads (same process); a buffering
    # implementation would peak at 200 MiB or more.
    print(f"tracemalloc peak {peak / MIB:.1f} MiB, RSS growth {rss_growth / MIB:.1f} MiB")
    assert peak < 32 * MIB, peak
    assert rss_growth < 64 * MIB, rss_growth


def test_progress_lines_are_throttled(
    emulator: EmulatorServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    served = serve(emulator, payload(8 * MIB, seed=12))
    with caplog.at_level(logging.INFO, logger="up42_provider.transfer"):
        download(served, tmp_path / "a.bin", chunk_size=MIB, progress_interval=3600)
    lines = [r.getMessage() for r in caplog.records if "Download of" in r.getMessage()]
    assert len(lines) == 1 and "8.0 MiB done in" in lines[0]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="up42_provider.transfer"):
        download(served, tmp_path / "b.bin", chunk_size=MIB, progress_interval=0)
    lines = [r.getMessage() for r in caplog.records if "Download of" in r.getMessage()]
    assert len(lines) == 9  # one per 1 MiB chunk, then the summary
    assert "1.0 MiB of 8.0 MiB (12%)" in lines[0] and "MB/s, ETA" in lines[0]
    assert all("X-Goog" not in line for line in lines)


def test_helpers() -> None:
    assert filename_from_url("https://h/storage/b/k/output%201.tgz?X-Goog-Signature=abc") == "output 1.tgz"
    assert filename_from_url("https://h/") == "download"
    md5 = hashlib.md5(b"abc")
    header = f"crc32c=n03x6A==, md5={base64.b64encode(md5.digest()).decode()}"
    assert md5_from_headers({"x-goog-hash": header}) == md5.hexdigest()
    assert md5_from_headers({"x-goog-hash": "crc32c=n03x6A=="}) is None
    assert md5_from_headers({}) is None
    found = announced_hashes({"x-goog-hash": header})
    assert (found.crc32c, found.md5) == ("n03x6A==", md5.hexdigest())
    assert announced_hashes({"x-goog-hash": "crc32c=not-base64!,md5=short"}).crc32c is None
    # requests folds repeated x-goog-hash headers into one comma-separated value; httpx keeps a list.
    import httpx

    split = httpx.Headers([("x-goog-hash", "crc32c=n03x6A=="), ("x-goog-hash", f"md5={header[-24:]}")])
    assert announced_hashes(split) == found
