"""Blobs: lazily built download files and the GCS-V4-like signed URLs that point at them.

UP42 hands out short-lived Google Cloud Storage signed URLs for result archives; clients fetch them
without UP42 credentials, may verify the body against ``x-goog-hash`` and resume broken downloads
with ``Range``. The emulator imitates that shape (query parameters, expiry, XML errors) so that a
client cannot tell the difference, while signing with a per-emulator HMAC secret instead of RSA.

Files are registered with a recipe and produced on first use, in a worker thread, into
``state.data_dir``; a 1 GiB benchmark asset therefore costs nothing until someone downloads it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import random
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import google_crc32c

BUCKET = "up42-emulator-storage"
SERVICE_ACCOUNT = "up42-storage@up42-emulator.iam.gserviceaccount.com"
ALGORITHM = "GOOG4-RSA-SHA256"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_CHUNK = 1 << 20

Builder = Callable[[Path], Any]


@dataclass(frozen=True)
class Blob:
    """A built file and what GCS would report about it."""

    key: str
    filename: str
    content_type: str
    path: Path
    size: int
    md5: str  # base64, as in x-goog-hash
    crc32c: str  # base64 of the big-endian value, as in x-goog-hash
    etag: str  # quoted hex md5, as GCS sends for non-composite objects
    generation: int
    updated: datetime


@dataclass
class _Entry:
    key: str
    filename: str
    content_type: str
    build: Builder
    blob: Blob | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    future: asyncio.Future[Blob] | None = None


class SignatureError(Exception):
    """A signed URL that does not verify; ``code``/``status`` follow GCS's XML API."""

    def __init__(self, status: int, code: str, message: str, details: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


class BlobStore:
    """Every downloadable file of the world (order deliveries, job results, processing rasters)."""

    def __init__(self, state: Any) -> None:
        self._state = state
        self.bucket = BUCKET
        self.directory = Path(state.data_dir) / "blobs"
        # Per emulator instance: URLs do not survive a restart, like those of a rotated signing key.
        seed = f"signed-urls:{state.config.seed}:{secrets.token_hex(16)}"
        self._secret = hashlib.sha256(seed.encode()).digest()
        self._entries: dict[str, _Entry] = {}
        self._by_path: dict[str, str] = {}  # object path (decoded) -> key
        self._lock = threading.Lock()
        # Where the ``drop`` fault cuts a body: seeded, so a failing download replays.
        self.drop_rng = random.Random(f"drop:{state.config.seed}")

    # -- registry --------------------------------------------------------------------------------
    def register(self, key: str, filename: str, content_type: str, build: Builder) -> None:
        """Record how to produce ``filename`` for ``key``; the first registration of a key wins."""
        if not key or not filename or "/" in filename:
            raise ValueError("key and a plain filename are required")
        with self._lock:
            if key in self._entries:
                return
            self._entries[key] = _Entry(key, filename, content_type, build)
            self._by_path[self.object_path(key, filename)] = key

    def remove(self, key: str) -> None:
        """Forget ``key`` and delete its file (a deleted storage collection): its URLs answer 404."""
        with self._lock:
            entry = self._entries.pop(key, None)
            if entry is None:
                return
            self._by_path.pop(self.object_path(key, entry.filename), None)
        if entry.blob is not None:
            entry.blob.path.unlink(missing_ok=True)

    def has(self, key: str) -> bool:
        return key in self._entries

    def get(self, key: str) -> Blob | None:
        """The built blob, or None when unknown or not built yet (never builds)."""
        entry = self._entries.get(key)
        return entry.blob if entry else None

    def key_for(self, object_path: str) -> str | None:
        """The key served at ``object_path`` (``<key>/<filename>`` inside the bucket)."""
        return self._by_path.get(object_path)

    @staticmethod
    def object_path(key: str, filename: str) -> str:
        return f"{key.strip('/')}/{filename}"

    # -- building --------------------------------------------------------------------------------
    async def ensure(self, key: str) -> Blob:
        """The blob for ``key``, built first if needed; concurrent callers share one build.

        Raises KeyError for an unregistered key and re-raises the build's exception (a later call
        retries).
        """
        entry = self._entries[key]
        if entry.blob is not None:
            return entry.blob
        loop = asyncio.get_running_loop()
        with self._lock:
            future = entry.future
            if future is None or future.get_loop() is not loop:
                future = loop.run_in_executor(None, self._build, entry)
                entry.future = future
        try:
            return await asyncio.shield(future)
        finally:
            if future.done():
                with self._lock:
                    if entry.future is future:
                        entry.future = None

    def ensure_sync(self, key: str) -> Blob:
        """Blocking :meth:`ensure` for threads outside the event loop (tests, CLI tools)."""
        return self._build(self._entries[key])

    def _build(self, entry: _Entry) -> Blob:
        with entry.lock:
            if entry.blob is not None:
                return entry.blob
            folder = self.directory / hashlib.sha256(entry.key.encode()).hexdigest()[:24]
            folder.mkdir(parents=True, exist_ok=True)
            final = folder / entry.filename
            temp = folder / f".{entry.filename}.{uuid.uuid4().hex}.part"
            try:
                entry.build(temp)
                md5 = hashlib.md5()
                crc = google_crc32c.Checksum()  # the checksum GCS computes for every object
                with temp.open("rb") as handle:
                    while chunk := handle.read(_CHUNK):
                        md5.update(chunk)
                        crc.update(chunk)
                size = temp.stat().st_size
                os.replace(temp, final)
            finally:
                temp.unlink(missing_ok=True)
            updated = self._state.clock.now()
            entry.blob = Blob(
                key=entry.key,
                filename=entry.filename,
                content_type=entry.content_type,
                path=final,
                size=size,
                md5=base64.b64encode(md5.digest()).decode(),
                crc32c=base64.b64encode(crc.digest()).decode(),
                etag=f'"{md5.hexdigest()}"',
                generation=int(updated.timestamp() * 1_000_000),
                updated=updated,
            )
            return entry.blob

    # -- signed URLs -----------------------------------------------------------------------------
    def signed_url(self, base_url: str, key: str, *, disposition: bool = False) -> str:
        """A signed GET URL for ``key`` valid for ``config.signed_url_lifetime`` seconds.

        ``disposition`` adds ``response-content-disposition=attachment; filename="<stem>"`` as
        UP42's storage does: today's SDK names the file after it plus the path's extension.
        """
        entry = self._entries[key]
        stem = entry.filename.rsplit(".", 1)[0] if "." in entry.filename else entry.filename
        value = f'attachment; filename="{stem}"' if disposition else ""
        return self.sign(base_url, self.object_path(key, entry.filename), disposition=value)

    def sign(
        self, base_url: str, object_path: str, *, lifetime: int | None = None, disposition: str = ""
    ) -> str:
        """Sign any object path of the bucket (also unknown ones: the download then answers 404)."""
        now = self._state.clock.now()
        date = now.strftime(DATE_FORMAT)
        credential = f"{SERVICE_ACCOUNT}/{date[:8]}/auto/storage/goog4_request"
        expires = str(self._state.config.signed_url_lifetime if lifetime is None else lifetime)
        path = f"/storage/{self.bucket}/{object_path}"
        query = {
            "X-Goog-Algorithm": ALGORITHM,
            "X-Goog-Credential": credential,
            "X-Goog-Date": date,
            "X-Goog-Expires": expires,
            "X-Goog-SignedHeaders": "host",
            "X-Goog-Signature": self._signature(path, credential, date, expires, disposition),
        }
        if disposition:  # signed like GCS signs it: tampering with it breaks the signature
            query["response-content-disposition"] = disposition
        return f"{base_url.rstrip('/')}{quote(path)}?{urlencode(query, quote_via=quote, safe='')}"

    def _signature(self, path: str, credential: str, date: str, expires: str, disposition: str = "") -> str:
        """Hex signature as long as an RSA-2048 one (256 bytes), made of HMAC-SHA256 blocks."""
        parts = (ALGORITHM, path, credential, date, expires, "host") + ((disposition,) if disposition else ())
        message = "\n".join(parts).encode()
        blocks = (hmac.new(self._secret, bytes([i]) + message, hashlib.sha256).hexdigest() for i in range(8))
        return "".join(blocks)

    def verify(self, path: str, query: dict[str, str]) -> None:
        """Check a request's signed query for ``path`` (decoded); raise SignatureError like GCS."""
        names = ("Algorithm", "Credential", "Date", "Expires", "SignedHeaders")
        values = [query.get(f"X-Goog-{name}", "") for name in names]
        signature = query.get("X-Goog-Signature", "")
        algorithm, credential, date, expires, signed_headers = values
        disposition = query.get("response-content-disposition", "")
        expected = self._signature(path, credential, date, expires, disposition)
        if algorithm != ALGORITHM or signed_headers != "host" or not hmac.compare_digest(signature, expected):
            raise SignatureError(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. "
                "Check your Google secret key and signing method.",
            )
        signed_at = datetime.strptime(date, DATE_FORMAT).replace(tzinfo=timezone.utc)
        expiry = signed_at + timedelta(seconds=int(expires))
        if expiry < self._state.clock.now():
            raise SignatureError(
                400,
                "ExpiredToken",
                "Invalid argument.",
                f"The provided token has expired. Request signature expired at: {expiry.isoformat()}",
            )
