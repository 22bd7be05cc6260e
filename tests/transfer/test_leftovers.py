"""Killed downloads: what a SIGKILLed try leaves is removed by the next run of the same target,
and nothing of a try that is still running is ever touched."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from tests.transfer.conftest import payload, serve
from up42_provider.emulator.server import EmulatorServer
from up42_provider.transfer import download, download_and_extract, leftovers, targets

REPO = Path(__file__).resolve().parents[2]
SIZE = 8 << 20

CHILD = """
import sys, threading
from up42_provider.transfer import download, download_and_extract
plain, archive, dest = sys.argv[1:4]
options = {"max_attempts": 1000, "max_total_time": 600}
threading.Thread(target=download, args=(plain, dest + "/big.bin"), kwargs=options, daemon=True).start()
download_and_extract(archive, dest + "/unpacked", unpack=True, **options)
"""


def tgz(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as archive:
        info = tarfile.TarInfo("output/scene.tif")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def parts(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(f"*{targets.PART_MARKER}*") if p.is_file()]


def wait_for(check, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)
    return value


def test_sigkilled_download_leaves_nothing_after_the_next_run(fresh_emulator: EmulatorServer, tmp_path: Path):
    data = payload(SIZE)
    plain = serve(fresh_emulator, data, "big.bin")
    archive = serve(fresh_emulator, tgz(data), "output.tgz")
    dest, tmp = tmp_path / "dest", tmp_path / "tmp"
    dest.mkdir()
    tmp.mkdir()
    faults = fresh_emulator.state.faults
    faults.add_rule("slow", count=10_000, path="^/storage/")  # every answer waits 2 s ...
    faults.add_rule("drop", count=10_000, path="^/storage/")  # ... and breaks off mid-body
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, plain.url(), archive.url(), str(dest)],
        env={**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(tmp)},
    )
    try:
        # both downloads hold a part with bytes: one beside its target, one in a TMPDIR work folder
        wait_for(lambda: len([p for p in parts(tmp_path) if p.stat().st_size > 0]) == 2)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    assert child.returncode == -signal.SIGKILL
    assert len(parts(dest)) == 1 and len(list(tmp.glob(f"{leftovers.WORK_PREFIX}*"))) == 1
    faults.clear()

    result = download(plain, dest / "big.bin")
    uris = download_and_extract(archive, dest / "unpacked", unpack=True, work_dir=tmp)
    assert (dest / "big.bin").read_bytes() == data and result.size == SIZE
    assert [Path(u).read_bytes() for u in uris] == [data]
    assert parts(tmp_path) == []
    assert list(tmp.iterdir()) == []


def test_parts_of_running_or_just_started_tries_are_kept(tmp_path: Path):
    final = tmp_path / "scene.tif"
    running = targets.LocalWriter(final)  # a live try of the same target, locked
    running.write(b"bytes so far")
    just_created = final.with_name(targets.part_name(final.name))
    just_created.touch()  # created, not yet locked: protected by the grace period
    old_empty = final.with_name(targets.part_name(final.name))
    old_empty.touch()
    long_ago = time.time() - leftovers.GRACE_SECONDS - 5
    os.utime(old_empty, (long_ago, long_ago))
    other = tmp_path / "other.tif.part-123456"
    other.write_bytes(b"x")  # a part of another target

    targets.remove_stale_parts(final)  # what download() does first
    assert sorted(parts(tmp_path)) == sorted([running.part, just_created, other])
    running.commit()
    assert (tmp_path / "scene.tif").read_bytes() == b"bytes so far"


def test_work_folders_in_use_are_kept(tmp_path: Path):
    with leftovers.work_dir(tmp_path) as mine:
        (mine / "archive.tgz").write_bytes(b"partial")
        old_unlocked = tmp_path / f"{leftovers.WORK_PREFIX}older-version"
        old_unlocked.mkdir()
        recent_unlocked = tmp_path / f"{leftovers.WORK_PREFIX}recent"
        recent_unlocked.mkdir()
        long_ago = time.time() - leftovers.UNLOCKED_MAX_AGE - 5
        os.utime(old_unlocked, (long_ago, long_ago))
        assert leftovers.remove_stale_work_dirs(tmp_path) == [old_unlocked]
        assert mine.is_dir() and recent_unlocked.is_dir()
    assert not mine.exists()
