"""What killed tries leave behind, and the one rule for when it is safe to remove.

A SIGKILLed (or OOM-killed) worker runs no cleanup: its ``<name>.part-<token>`` file stays beside
the destination and its ``up42-download-*`` folder in TMPDIR. The next run of the same target
removes them, but never those of a try that is still running (a retry that overlaps a zombie
try, two DAG runs writing the same folder):

* every part file, and the lock file ``.up42-lock`` of every work folder, is held under an
  exclusive ``flock`` by the process writing it for as long as it works; the kernel drops the
  lock when the process dies, however it dies;
* a leftover is one whose lock can be taken now *and* that has content (a part file has bytes,
  a lock file the owner's pid, both written only after locking) or is older than
  :data:`GRACE_SECONDS` - that closes the instant between creating a file and locking it;
* work folders without a lock file (made by older versions of the provider) count as abandoned
  only after :data:`UNLOCKED_MAX_AGE` seconds.

Where ``flock`` does not exist (Windows), nothing is ever removed: better a stray file than a
deleted download of a running try.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("up42_provider.transfer")

GRACE_SECONDS = 60.0
UNLOCKED_MAX_AGE = 6 * 3600.0
WORK_PREFIX = "up42-download-"
LOCK_NAME = ".up42-lock"


def hold(fh: IO[bytes]) -> None:
    """Lock ``fh`` (a file just created by this process) until it is closed or the process dies."""
    if fcntl is not None:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


def _abandoned(path: Path, now: float) -> bool:
    """True when no live process holds ``path`` and it is not a file another try just created."""
    if fcntl is None:
        return False
    try:
        with open(path, "rb") as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # held: its owner is alive
                return False
            stat = os.fstat(fh.fileno())
    except OSError:  # gone meanwhile, or not ours to open
        return False
    return stat.st_size > 0 or now - stat.st_mtime > GRACE_SECONDS


def remove_stale_parts(final: Path, marker: str) -> list[Path]:
    """Delete abandoned ``<final.name><marker>*`` files beside ``final``; returns what went."""
    now = time.time()
    removed = []
    for name in glob.glob(glob.escape(str(final)) + glob.escape(marker) + "*"):
        part = Path(name)
        if _abandoned(part, now):
            with contextlib.suppress(FileNotFoundError):
                part.unlink()
                removed.append(part)
    if removed:
        log.info("Removed %d part file(s) left by killed downloads of %s", len(removed), final)
    return removed


def remove_stale_work_dirs(parent: str | os.PathLike[str] | None = None) -> list[Path]:
    """Delete abandoned ``up42-download-*`` folders in ``parent`` (default: TMPDIR)."""
    now = time.time()
    removed = []
    root = Path(parent if parent is not None else tempfile.gettempdir())
    for folder in root.glob(f"{WORK_PREFIX}*"):
        lock = folder / LOCK_NAME
        try:
            if not folder.is_dir() or folder.is_symlink():
                continue
            if lock.exists():
                stale = _abandoned(lock, now)
            else:
                stale = fcntl is not None and now - folder.stat().st_mtime > UNLOCKED_MAX_AGE
        except OSError:
            continue
        if stale:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    if removed:
        log.info("Removed %d work folder(s) left by killed downloads in %s", len(removed), root)
    return removed


@contextlib.contextmanager
def work_dir(parent: str | os.PathLike[str] | None = None) -> Iterator[Path]:
    """A private ``up42-download-*`` folder, locked while in use; abandoned ones are swept first."""
    remove_stale_work_dirs(parent)
    folder = Path(tempfile.mkdtemp(prefix=WORK_PREFIX, dir=parent))
    try:
        with open(folder / LOCK_NAME, "xb", buffering=0) as lock:
            hold(lock)
            lock.write(f"{os.getpid()}\n".encode())
            yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
