"""Copy local or object-storage files to any ``ObjectStoragePath``, keeping the folder layout.

The counterpart of the download engine (the SDK read the whole archive into memory
and pushed it to GCS with a google client). Here every file is streamed in ``chunk_size`` reads
into the atomic writers of :mod:`.targets`: on S3/GCS the writer buffers ``block_size`` bytes
and sends them as one part of a multipart upload, so memory stays at about one block per worker
whatever the file size, and an interrupted upload is aborted instead of leaving a partial object.
Each written file's size is checked against its source.
"""

from __future__ import annotations

import contextlib
import logging
import os
import posixpath
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from up42_provider.transfer import targets
from up42_provider.transfer.errors import TransferError
from up42_provider.transfer.progress import Progress

log = logging.getLogger("up42_provider.transfer")

MIB = 1 << 20
DEFAULT_CHUNK_SIZE = MIB


def _is_dir(location: targets.Location) -> bool:
    return location.is_dir() if isinstance(location, Path) else bool(location.fs.isdir(location.path))


def iter_files(source: targets.Location) -> Iterator[tuple[targets.Location, str, int]]:
    """``(file, relative posix path, size)`` below ``source`` (or ``source`` itself), sorted.

    In-progress ``*.part-<token>`` files of the download engine are left out.
    """
    if not _is_dir(source):
        size = targets.size_of(source)
        if size is None:
            raise FileNotFoundError(f"nothing to upload at {targets.uri(source)}")
        yield source, source.name, size
        return
    if isinstance(source, Path):
        found: list[tuple[str, int]] = []
        for folder, dirs, files in os.walk(source):
            dirs.sort()
            for name in files:
                full = Path(folder, name)
                if targets.PART_MARKER in name or not full.is_file():
                    continue
                found.append((full.relative_to(source).as_posix(), full.stat().st_size))
    else:
        base = source.path.rstrip("/")
        details = source.fs.find(base, detail=True)
        found = [
            (posixpath.relpath(path, base), int(info.get("size") or 0))
            for path, info in details.items()
            if info.get("type", "file") == "file" and targets.PART_MARKER not in posixpath.basename(path)
        ]
    for rel, size in sorted(found):
        yield source.joinpath(*rel.split("/")), rel, size


def _open_read(location: targets.Location, chunk_size: int) -> Any:
    if isinstance(location, Path):
        return open(location, "rb")
    return location.fs.open(location.path, "rb", block_size=max(chunk_size, targets.DEFAULT_BLOCK_SIZE))


def upload_file(
    source: targets.Destination,
    destination: targets.Destination,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    block_size: int | None = None,
    progress_interval: float = 5.0,
) -> str:
    """Stream one file to exactly ``destination``; returns its URI. Atomic, size-checked."""
    src = targets.resolve(source)
    dst = targets.resolve(destination)
    size = targets.size_of(src)
    if size is None:
        raise FileNotFoundError(f"nothing to upload at {targets.uri(src)}")
    progress = Progress(
        f"Upload of {targets.uri(src)} to {targets.uri(dst)}", size, interval=progress_interval
    )
    writer = targets.open_writer(dst, size_hint=size, block_size=block_size)
    try:
        with _open_read(src, chunk_size) as handle:
            while chunk := handle.read(chunk_size):
                writer.write(chunk)
                progress.advance(len(chunk))
        if progress.done_bytes != size:
            raise TransferError(
                f"{targets.uri(src)} changed while uploading ({progress.done_bytes} of {size} bytes)"
            )
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    written = targets.size_of(dst)
    if written != size:
        with contextlib.suppress(Exception):
            targets.remove(dst)
        raise TransferError(f"upload to {targets.uri(dst)} wrote {written} bytes instead of {size}")
    progress.finish()
    return targets.uri(dst)


def upload_tree(
    source: targets.Destination,
    destination: targets.Destination,
    *,
    max_workers: int = 4,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    block_size: int | None = None,
    progress_interval: float = 5.0,
) -> list[str]:
    """Upload a file or a whole folder below the folder/prefix ``destination``; return the URIs.

    ``source`` and ``destination`` may be local paths or ``ObjectStoragePath``/URLs (the Airflow
    connection comes with the ``ObjectStoragePath``). A file lands at ``destination/<name>``, a
    folder's files at ``destination/<relative path>``. ``block_size`` is the multipart part size
    on object storage (default 16 MiB). Files are uploaded ``max_workers`` at a time; every file
    is attempted, then the first failure is raised (alone, or inside a TransferError naming all).
    """
    src = targets.resolve(source)
    dst_root = targets.resolve(destination)
    files = list(iter_files(src))
    total = sum(size for _, _, size in files)
    log.info(
        "Uploading %d files (%d bytes) from %s to %s",
        len(files),
        total,
        targets.uri(src),
        targets.uri(dst_root),
    )

    def run(entry: tuple[targets.Location, str, int]) -> str:
        location, rel, _ = entry
        return upload_file(
            location,
            dst_root.joinpath(*rel.split("/")),
            chunk_size=chunk_size,
            block_size=block_size,
            progress_interval=progress_interval,
        )

    with ThreadPoolExecutor(max_workers=max(1, max_workers), thread_name_prefix="up42-upload") as pool:
        futures = [pool.submit(run, entry) for entry in files]
    errors = [f.exception() for f in futures if f.exception() is not None]
    if len(errors) == 1:
        raise errors[0]  # type: ignore[misc]
    if errors:
        summary = "; ".join(str(e) for e in errors[:5])
        raise TransferError(f"{len(errors)} of {len(files)} uploads failed: {summary}") from errors[0]
    return [f.result() for f in futures]
