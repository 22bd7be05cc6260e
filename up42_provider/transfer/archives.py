"""Safe unpacking of UP42 result archives (tar.gz for jobs, zip for orders) to any destination.

Like the SDK the format is detected from the bytes, tar first then zip, only
regular files are extracted and everything up to and including the first ``output/`` of a member
name is stripped. Unlike the SDK's ``tarfile.extract`` this never trusts the archive:

* absolute names, drive letters, ``..`` components and NUL bytes are rejected;
* device files and FIFOs are rejected; symbolic and hard links pointing outside the archive root
  are rejected, links inside it are skipped (object stores have no links);
* the member count and the total *actually decompressed* bytes are bounded (zip headers can lie);
* a local destination is also checked with ``realpath`` so a pre-existing symlinked folder cannot
  redirect a member outside it.

Members are streamed in chunks through the atomic writers of :mod:`.targets` (local disk, S3, GCS,
...); when anything fails, every file written by the call is removed again. Zip archives are
validated completely before the first byte is written; tar.gz is read in one streaming pass, so a
bad member found late only triggers that clean-up.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import posixpath
import re
import stat
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from up42_provider.transfer import leftovers, targets
from up42_provider.transfer.download import UrlSource, _resolve_url, download, filename_from_url
from up42_provider.transfer.errors import ArchiveError, UnsafeArchiveError

log = logging.getLogger("up42_provider.transfer")

MIB = 1 << 20
DEFAULT_CHUNK_SIZE = MIB
DEFAULT_MAX_TOTAL_BYTES = 100 * 1024 * MIB  # 100 GiB
DEFAULT_MAX_MEMBERS = 100_000
_MAX_LINK_TARGET = 4096
_DRIVE = re.compile(r"^[A-Za-z]:")
NOT_AN_ARCHIVE = "is not a TGZ/TAR or ZIP archive"


def detect_format(head: bytes) -> str | None:
    """``"tar"`` (plain or gz/bz2/xz-compressed), ``"zip"`` or None, from the first 512 bytes."""
    if head[:2] == b"\x1f\x8b" or head[:3] == b"BZh" or head[:6] == b"\xfd7zXZ\x00":
        return "tar"
    if head[257:262] == b"ustar":
        return "tar"
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    return None


def member_path(name: str, *, strip_output: bool = True) -> str | None:
    """The safe relative POSIX path of a member, None when nothing remains to write.

    Raises UnsafeArchiveError for absolute names and ``..`` traversal.
    """
    if "\x00" in name:
        raise UnsafeArchiveError(f"archive member name contains a NUL byte: {name!r}")
    norm = name.replace("\\", "/")
    if norm.startswith("/") or _DRIVE.match(norm):
        raise UnsafeArchiveError(f"archive member has an absolute path: {name!r}")
    parts = [p for p in norm.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchiveError(f"archive member escapes the destination with '..': {name!r}")
    rel = "/".join(parts)
    if strip_output:
        _head, sep, tail = (rel + ("/" if norm.endswith("/") else "")).partition("output/")
        if sep:
            rel = tail.rstrip("/")
    return rel or None


def _check_link(name: str, link: str, *, hard: bool) -> None:
    """Reject a link whose target lies outside the archive root (hard links are root-relative)."""
    target = link.replace("\\", "/")
    if target.startswith("/") or _DRIVE.match(target):
        raise UnsafeArchiveError(f"archive link {name!r} points to an absolute path {link!r}")
    base = "" if hard else posixpath.dirname(name.replace("\\", "/").strip("/"))
    resolved = posixpath.normpath(posixpath.join(base, target)) if target else "."
    if resolved == ".." or resolved.startswith("../"):
        raise UnsafeArchiveError(f"archive link {name!r} points outside the destination: {link!r}")


class _Extraction:
    """Writes members below ``root`` and remembers them for clean-up on failure."""

    def __init__(
        self,
        root: targets.Location,
        *,
        max_total_bytes: int,
        max_members: int,
        strip_output: bool,
        chunk_size: int,
        block_size: int | None,
    ) -> None:
        self.root = root
        self.max_total_bytes = max_total_bytes
        self.max_members = max_members
        self.strip_output = strip_output
        self.chunk_size = chunk_size
        self.block_size = block_size
        self.members = 0
        self.total = 0
        self.written: list[targets.Location] = []
        self.created_dirs: list[Path] = []
        self._real_root = os.path.realpath(root) if isinstance(root, Path) else None

    def count_member(self) -> None:
        self.members += 1
        if self.members > self.max_members:
            raise UnsafeArchiveError(f"archive has more than {self.max_members} members")

    def reserve(self, declared: int) -> None:
        if self.total + declared > self.max_total_bytes:
            raise UnsafeArchiveError(
                f"archive expands to more than {self.max_total_bytes} bytes (size limit; zip/tar bomb?)"
            )

    def target(self, rel: str) -> targets.Location:
        location = self.root.joinpath(*rel.split("/"))
        if isinstance(location, Path):
            # Before creating anything: a symlinked folder already in the destination must not
            # redirect the member (realpath resolves the existing part of the path).
            real = os.path.realpath(location.parent)
            root = self._real_root or ""
            if real != root and not real.startswith(root + os.sep):
                raise UnsafeArchiveError(f"archive member {rel!r} would be written outside the destination")
            self.mkdirs(location.parent)
        return location

    def mkdirs(self, folder: Path) -> None:
        missing = []
        for parent in (folder, *folder.parents):
            if parent.exists():
                break
            missing.append(parent)
        folder.mkdir(parents=True, exist_ok=True)
        self.created_dirs.extend(reversed(missing))

    def write(self, rel: str, source: IO[bytes], size_hint: int | None) -> None:
        location = self.target(rel)
        writer = targets.open_writer(location, size_hint=size_hint, block_size=self.block_size)
        try:
            while chunk := source.read(self.chunk_size):
                self.total += len(chunk)
                if self.total > self.max_total_bytes:
                    self.reserve(0)  # raises
                writer.write(chunk)
            writer.commit()
        except BaseException:
            writer.abort()
            raise
        if location not in self.written:
            self.written.append(location)

    def cleanup(self) -> None:
        for location in self.written:
            with contextlib.suppress(Exception):
                targets.remove(location)
        for folder in reversed(self.created_dirs):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only succeeds when empty

    # -- formats ---------------------------------------------------------------------------------
    def tar(self, handle: IO[bytes]) -> None:
        try:
            archive = tarfile.open(fileobj=handle, mode="r|*", bufsize=self.chunk_size)  # noqa: SIM115
        except tarfile.TarError as exc:
            raise ArchiveError(f"archive {NOT_AN_ARCHIVE} ({exc})") from None
        with archive:
            try:
                for member in archive:
                    self._tar_member(archive, member)
            except tarfile.TarError as exc:
                raise ArchiveError(f"corrupt tar archive: {exc}") from None

    def _tar_member(self, archive: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        self.count_member()
        rel = member_path(member.name, strip_output=self.strip_output)
        if member.isdir():
            return
        if member.issym() or member.islnk():
            _check_link(member.name, member.linkname, hard=member.islnk())
            log.warning(
                "skipping link %r -> %r in archive (links are not extracted)", member.name, member.linkname
            )
            return
        if member.ischr() or member.isblk() or member.isfifo():
            raise UnsafeArchiveError(f"archive member {member.name!r} is a device file or FIFO")
        if not member.isfile():
            raise UnsafeArchiveError(
                f"archive member {member.name!r} has an unsupported type {member.type!r}"
            )
        if rel is None:
            return
        self.reserve(member.size)
        source = archive.extractfile(member)
        if source is not None:
            self.write(rel, source, member.size)

    def zip(self, handle: IO[bytes]) -> None:
        try:
            archive = zipfile.ZipFile(handle)
        except (zipfile.BadZipFile, OSError) as exc:
            raise ArchiveError(f"archive {NOT_AN_ARCHIVE} ({exc})") from None
        with archive:
            plan = list(self._zip_plan(archive))  # validate everything before writing anything
            for info, rel in plan:
                try:
                    with archive.open(info) as source:
                        self.write(rel, source, info.file_size)
                except (zipfile.BadZipFile, RuntimeError, EOFError) as exc:  # CRC, encryption, truncation
                    raise ArchiveError(f"corrupt zip member {info.filename!r}: {exc}") from None

    def _zip_plan(self, archive: zipfile.ZipFile) -> Iterator[tuple[zipfile.ZipInfo, str]]:
        infos = archive.infolist()
        declared = 0
        for info in infos:
            self.count_member()
            rel = member_path(info.filename, strip_output=self.strip_output)
            mode = info.external_attr >> 16
            if info.is_dir() or stat.S_ISDIR(mode):
                continue
            if stat.S_ISLNK(mode):
                if info.file_size > _MAX_LINK_TARGET:
                    raise UnsafeArchiveError(f"archive link {info.filename!r} has an oversized target")
                link = archive.read(info).decode("utf-8", "replace")
                _check_link(info.filename, link, hard=False)
                log.warning(
                    "skipping link %r -> %r in archive (links are not extracted)", info.filename, link
                )
                continue
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
                raise UnsafeArchiveError(f"archive member {info.filename!r} is a device file, FIFO or socket")
            declared += info.file_size
            if declared > self.max_total_bytes:
                self.reserve(declared)  # raises
            if rel is not None:
                yield info, rel


def _open_read(location: targets.Location, chunk_size: int) -> Any:
    if isinstance(location, Path):
        return open(location, "rb")
    return location.fs.open(location.path, "rb", block_size=max(chunk_size, targets.DEFAULT_BLOCK_SIZE))


def extract_archive(
    archive_path: targets.Destination,
    destination_dir: targets.Destination,
    *,
    max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
    max_members: int = DEFAULT_MAX_MEMBERS,
    strip_output_prefix: bool = True,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    block_size: int | None = None,
) -> list[str]:
    """Unpack a tar(.gz/.bz2/.xz) or zip archive into ``destination_dir``; return the file URIs.

    Both arguments may be local paths or ``ObjectStoragePath``/URLs. Raises ArchiveError for
    anything that is not a tar or zip archive, UnsafeArchiveError for archives that break the
    rules above; in both cases no file of this call is left behind.
    """
    source = targets.resolve(archive_path)
    root = targets.resolve(destination_dir)
    job = _Extraction(
        root,
        max_total_bytes=max_total_bytes,
        max_members=max_members,
        strip_output=strip_output_prefix,
        chunk_size=chunk_size,
        block_size=block_size,
    )
    try:
        with _open_read(source, chunk_size) as handle:
            head = handle.read(512)
            handle.seek(0)
            kind = detect_format(head)
            if kind is None:
                raise ArchiveError(f"{targets.name_of(source)} {NOT_AN_ARCHIVE}.")
            if isinstance(root, Path):
                job.mkdirs(root)
                job._real_root = os.path.realpath(root)
            job.tar(handle) if kind == "tar" else job.zip(handle)
    except BaseException:
        job.cleanup()
        raise
    uris = [targets.uri(location) for location in job.written]
    log.info("Extracted %d files (%d bytes) from %s", len(uris), job.total, targets.uri(source))
    return uris


# -- manifests: idempotent unpacking --------------------------------------------------------------
MANIFEST = ".up42-download.json"  # written after a complete unpack; a re-run trusts it


def read_manifest(folder: targets.Location, key: str) -> list[str] | None:
    """URIs of a complete earlier unpack of the archive ``key`` into ``folder``, None when anything
    is off (no manifest, another key, a file missing or of another size).

    A kept archive is skipped through its verification sidecar; an unpacked one leaves no archive
    behind, so this small manifest (relative paths and sizes) lets a re-run skip it without any
    request.
    """
    location = targets.child(folder, MANIFEST)
    try:
        if isinstance(location, Path):
            text = location.read_text()
        else:
            text = location.fs.cat_file(location.path).decode()
        manifest = json.loads(text)
    except (FileNotFoundError, OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("source") != key:
        return None
    uris = []
    for entry in manifest.get("files") or []:
        file = targets.child(folder, str(entry.get("path", "")))
        if targets.size_of(file) != entry.get("size"):
            return None
        uris.append(targets.uri(file))
    return uris or None


def write_manifest(folder: targets.Location, key: str, uris: list[str]) -> None:
    files = []
    for uri in uris:
        rel = targets.relative(uri, folder)
        files.append({"path": rel, "size": targets.size_of(targets.child(folder, rel))})
    payload = json.dumps({"source": key, "files": files}, indent=1).encode()
    location = targets.child(folder, MANIFEST)
    if isinstance(location, Path):
        location.parent.mkdir(parents=True, exist_ok=True)
        location.write_bytes(payload)
    else:
        location.fs.pipe_file(location.path, payload)


def download_and_extract(
    url_provider: UrlSource,
    destination_dir: targets.Destination,
    *,
    unpack: bool = True,
    keep_archive: bool = False,
    archive_name: str | None = None,
    work_dir: str | os.PathLike[str] | None = None,
    max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
    max_members: int = DEFAULT_MAX_MEMBERS,
    manifest_key: str | None = None,
    **download_options: Any,
) -> list[str]:
    """The SDK's ``download_results`` done right: fetch an archive and (optionally) unpack it.

    * ``unpack=False``: the archive is saved as ``destination_dir/<archive_name>`` (default: the
      file name of the signed URL, e.g. ``output.tgz``); returns ``[its URI]``.
    * ``unpack=True``: the archive is downloaded to a local temporary folder (``work_dir``), or into
      ``destination_dir`` when ``keep_archive`` is set, and unpacked into ``destination_dir``;
      returns the extracted files' URIs.

    ``manifest_key`` (e.g. ``"asset:<id>"``) makes an unpack idempotent: the extracted files are
    recorded in ``destination_dir/.up42-download.json`` and a later call with the same key returns
    them without any request while they are all still there with their sizes. ``download_options``
    go to :func:`~up42_provider.transfer.download.download`.
    """
    root = targets.resolve(destination_dir)
    if unpack and manifest_key:
        found = read_manifest(root, manifest_key)
        if found is not None:
            log.info("%s already unpacked in %s; skipping the download", manifest_key, targets.uri(root))
            return found
    first: list[str] = []
    if archive_name is None:
        first.append(_resolve_url(url_provider))
        archive_name = filename_from_url(first[0], default="output")

    def provider() -> str:
        # Reuse the URL fetched for the name once, then ask for fresh ones.
        return first.pop() if first else _resolve_url(url_provider)

    if not unpack or keep_archive:
        result = download(provider, root.joinpath(archive_name), **download_options)
        if not unpack:
            return [result.uri]
        uris = extract_archive(
            result.uri if isinstance(root, Path) else root.joinpath(archive_name),
            root,
            max_total_bytes=max_total_bytes,
            max_members=max_members,
        )
    else:
        with leftovers.work_dir(work_dir) as tmp:  # also removes folders of killed tries
            result = download(provider, Path(tmp, archive_name), overwrite=True, **download_options)
            uris = extract_archive(result.uri, root, max_total_bytes=max_total_bytes, max_members=max_members)
    if manifest_key:
        write_manifest(root, manifest_key, uris)
    return uris
