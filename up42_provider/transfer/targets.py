"""Where bytes go: local paths or any fsspec/Airflow ``ObjectStoragePath``, written atomically.

A reader must never see a half-written file under its final name:

* local paths: bytes go to ``<name>.part-<token>`` in the same folder, then ``os.replace`` (atomic
  on one filesystem);
* object stores whose writers only publish on close and can abort (s3fs, gcsfs): the object is
  written under its final key and the multipart/resumable upload is *aborted* on failure, so the
  key never shows partial content and no server-side copy is needed;
* any other fsspec filesystem: a ``<name>.part-<token>`` key, moved to the final key when done
  and removed on failure.

The verification sidecar ``<name>.up42-verified.json`` (``{"size": .., "crc32c": "<b64>", "md5":
"<hex>"}``, the digests computed) is written after a verified download, so a re-run can skip the
file without any HTTP request.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Union

from up42_provider.transfer import leftovers

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

log = logging.getLogger("up42_provider.transfer")

# Anything a caller may pass: a local path (str / PathLike) or an ObjectStoragePath / fsspec URL.
Destination = Union[str, "os.PathLike[str]", "ObjectStoragePath"]
# A resolved location: ``Path`` for the local disk, ``ObjectStoragePath`` for everything else.
Location = Union[Path, "ObjectStoragePath"]

LOCAL_PROTOCOLS = frozenset({"", "file", "local"})
# Writers that upload on close / in parts and can abort without leaving an object behind.
DISCARDING_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs"})
MIB = 1 << 20
DEFAULT_BLOCK_SIZE = 16 * MIB  # multipart part size on object storage (S3 minimum is 5 MiB)
MAX_PARTS = 9_000  # stay below S3's 10 000-part limit whatever the file size
PART_MARKER = ".part-"


def resolve(destination: Destination) -> Location:
    """``Path`` for local destinations (also ``file://`` URLs), else an ``ObjectStoragePath``."""
    if isinstance(destination, Path):
        return destination.expanduser()
    if hasattr(destination, "fs") and hasattr(destination, "protocol"):
        if destination.protocol in LOCAL_PROTOCOLS:
            return Path(destination.path)  # type: ignore[union-attr]
        return destination  # type: ignore[return-value]
    text = os.fspath(destination)
    if "://" in text:
        from airflow.sdk import ObjectStoragePath

        return resolve(ObjectStoragePath(text))
    return Path(text).expanduser()


def uri(location: Location) -> str:
    """What results report: an absolute local path, or the object URL (``s3://conn@bucket/key``)."""
    return str(location.absolute()) if isinstance(location, Path) else str(location)


def public_uri(location: Location | str) -> str:
    """What tasks hand on (XCom, Asset extras, logs): ``file:///abs/path`` locally, else
    ``<scheme>://<bucket>/<key>`` without the Airflow connection id of ``s3://conn@bucket``.

    The connection stays a parameter of whoever reads the URI; local paths are not
    percent-encoded, so the URI round-trips through :func:`resolve` and ``ObjectStoragePath``
    (which does not decode them). Accepts what :func:`uri` returns, too.
    """
    if isinstance(location, str):  # pure string work: no filesystem or connection is opened
        scheme, sep, rest = location.partition("://")
        if not sep:
            return "file://" + Path(location).expanduser().absolute().as_posix()
        if scheme in LOCAL_PROTOCOLS:
            return "file://" + Path(unquote_path(rest)).absolute().as_posix()
        netloc, slash, key = rest.partition("/")
        return f"{scheme}://{netloc.rsplit('@', 1)[-1]}{slash}{key}"
    if isinstance(location, Path):
        return "file://" + location.expanduser().absolute().as_posix()
    if location.protocol in LOCAL_PROTOCOLS:  # an ObjectStoragePath of a local path
        return "file://" + Path(location.path).absolute().as_posix()
    return f"{location.protocol}://{location.path}"


def unquote_path(rest: str) -> str:
    """The path of ``file://<rest>`` (``localhost`` host dropped; kept as written otherwise)."""
    return rest[len("localhost") :] if rest.startswith("localhost/") else rest


def name_of(location: Location) -> str:
    return location.name


def size_of(location: Location) -> int | None:
    """Size of an existing file, None when there is no file."""
    if isinstance(location, Path):
        try:
            return location.stat().st_size if location.is_file() else None
        except OSError:
            return None
    try:
        info = location.fs.info(location.path)
    except (FileNotFoundError, OSError):
        return None
    return int(info["size"]) if info.get("type", "file") == "file" else None


def remove(location: Location) -> None:
    """Delete a file if it exists; never raises for a missing one."""
    try:
        if isinstance(location, Path):
            location.unlink(missing_ok=True)
        elif location.fs.exists(location.path):
            location.fs.rm(location.path)
    except FileNotFoundError:
        pass


def sibling(location: Location, name: str) -> Location:
    return location.with_name(name)


def child(location: Location, *parts: str) -> Location:
    """``location`` joined with POSIX relative paths (empty segments dropped)."""
    return location.joinpath(*[p for part in parts for p in part.split("/") if p])


def relative(written: str, root: Location) -> str:
    """The URI ``written`` (as the engine reports it) relative to ``root``, in POSIX form."""
    base = uri(root).rstrip("/")
    if isinstance(root, Path):
        return Path(written).absolute().relative_to(Path(base)).as_posix()
    if not written.startswith(base + "/"):
        raise ValueError(f"{written} is not below {base}")
    return written[len(base) + 1 :]


# -- verification sidecar ------------------------------------------------------------------------
SIDECAR_SUFFIX = ".up42-verified.json"


def sidecar(location: Location) -> Location:
    return sibling(location, f"{location.name}{SIDECAR_SUFFIX}")


def read_sidecar(location: Location) -> dict[str, Any] | None:
    """What a previous verified download recorded for ``location``: size and digests, if any."""
    side = sidecar(location)
    try:
        text = side.read_text() if isinstance(side, Path) else side.fs.cat_file(side.path).decode()
        record = json.loads(text)
    except (FileNotFoundError, OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("size"), int):
        return None
    return {k: record.get(k) for k in ("size", "crc32c", "md5")}


def write_sidecar(location: Location, record: dict[str, Any]) -> None:
    side = sidecar(location)
    text = json.dumps({k: v for k, v in record.items() if v is not None}, sort_keys=True) + "\n"
    if isinstance(side, Path):
        side.write_text(text)
    else:
        side.fs.pipe_file(side.path, text.encode())


# -- atomic writers ------------------------------------------------------------------------------
class AtomicWriter(Protocol):
    """A file that only appears under its final name on :meth:`commit`."""

    def write(self, data: bytes | memoryview) -> None: ...

    def restart(self) -> None:
        """Throw away everything written so far and start again from byte 0."""

    def commit(self) -> None:
        """Publish the file under its final name."""

    def abort(self) -> None:
        """Remove every trace; safe to call more than once and after a failed commit."""


def part_name(name: str) -> str:
    return f"{name}{PART_MARKER}{secrets.token_hex(6)}"


def remove_stale_parts(location: Location) -> None:
    """Remove what killed tries left beside a local ``location`` (remote parts are left alone)."""
    if isinstance(location, Path):
        leftovers.remove_stale_parts(location, PART_MARKER)


# Local writes go to the kernel in slices of this size. Linux 6.x backs the page cache with large
# folios sized after the write: 1 MiB write() calls then sometimes stall in page allocation
# (measured on ext4: 1 GiB in 1 MiB writes ran at 320-3800 MB/s from run to run, in 128 KiB writes
# at 2.9-3.3 GB/s every time). Eight syscalls per MiB cost nothing next to that.
LOCAL_WRITE_SLICE = 128 * 1024


class LocalWriter:
    """``<name>.part-<token>`` under an exclusive lock while written (see
    :mod:`~up42_provider.transfer.leftovers`), so the next download of the same target can tell
    parts of killed tries from those of running ones (:func:`remove_stale_parts`)."""

    def __init__(self, final: Path) -> None:
        final.parent.mkdir(parents=True, exist_ok=True)
        self.final = final
        self.part = final.with_name(part_name(final.name))
        self._fh = open(self.part, "xb", buffering=0)  # noqa: SIM115 - lives until commit/abort
        try:
            leftovers.hold(self._fh)
        except BaseException:
            self.abort()
            raise

    def write(self, data: bytes | memoryview) -> None:
        view = memoryview(data).cast("B")
        while view:
            written = self._fh.write(view[:LOCAL_WRITE_SLICE])
            view = view[written:]

    def restart(self) -> None:
        self._fh.seek(0)
        self._fh.truncate()

    def commit(self) -> None:
        self._fh.close()
        os.replace(self.part, self.final)

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self._fh.close()
        self.part.unlink(missing_ok=True)


def block_size_for(size_hint: int | None, block_size: int | None) -> int:
    """A part size that is at least ``block_size`` and keeps huge files under the part limit."""
    chosen = block_size or DEFAULT_BLOCK_SIZE
    if size_hint:
        chosen = max(chosen, -(-size_hint // MAX_PARTS))
    return chosen


def _open_remote(location: ObjectStoragePath, block_size: int) -> Any:
    return location.fs.open(location.path, "wb", block_size=block_size)


class DiscardingWriter:
    """Writes the final key directly; aborting cancels the (multipart) upload server-side."""

    def __init__(self, final: ObjectStoragePath, block_size: int) -> None:
        self.final = final
        self.block_size = block_size
        self._fh = _open_remote(final, block_size)

    def write(self, data: bytes | memoryview) -> None:
        self._fh.write(data)

    def restart(self) -> None:
        self._discard()
        self._fh = _open_remote(self.final, self.block_size)

    def commit(self) -> None:
        self._fh.close()

    def abort(self) -> None:
        self._discard()

    def _discard(self) -> None:
        # fsspec's close() would *commit* the upload, so mark the handle closed after discarding.
        try:
            self._fh.discard()
        except Exception:  # best effort: an orphaned multipart upload is invisible to readers
            log.debug("discarding upload to %s failed", self.final, exc_info=True)
        finally:
            self._fh.closed = True


class TempKeyWriter:
    """Generic object storage: write ``<name>.part-<token>``, move it into place when complete."""

    def __init__(self, final: ObjectStoragePath, block_size: int) -> None:
        self.final = final
        self.block_size = block_size
        self.part = final.with_name(part_name(final.name))
        self._fh = _open_remote(self.part, block_size)

    def write(self, data: bytes | memoryview) -> None:
        self._fh.write(data)

    def restart(self) -> None:
        self._fh.close()
        self._fh = _open_remote(self.part, self.block_size)

    def commit(self) -> None:
        self._fh.close()
        self.final.fs.mv(self.part.path, self.final.path)

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self._fh.close()
        with contextlib.suppress(Exception):
            remove(self.part)


def open_writer(
    location: Location, *, size_hint: int | None = None, block_size: int | None = None
) -> AtomicWriter:
    """The right :class:`AtomicWriter` for ``location``; parent folders are created as needed."""
    if isinstance(location, Path):
        return LocalWriter(location)
    size = block_size_for(size_hint, block_size)
    if location.protocol in DISCARDING_PROTOCOLS:
        return DiscardingWriter(location, size)
    with contextlib.suppress(Exception):  # object stores without folders refuse or ignore this
        location.fs.makedirs(location.parent.path, exist_ok=True)
    return TempKeyWriter(location, size)
