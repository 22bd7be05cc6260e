"""The signed-URL download side of storage, served like Google Cloud Storage's XML API.

Signed URLs imitate GCS V4 because that is what UP42 returns and what clients are built for: no
UP42 credentials (the signature is the credential), expiry, XML error bodies, ``x-goog-hash`` to
verify the bytes, and ``Range`` requests to resume a download after a dropped connection. Bodies
are streamed from disk in 1 MiB chunks with the server's backpressure, so multi-GiB assets cost
no memory. The ``drop`` fault cuts a body short to exercise resume logic.
"""

from __future__ import annotations

import asyncio
from email.utils import formatdate
from xml.sax.saxutils import escape

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from up42_provider.emulator.storage.blobs import Blob

CHUNK = 1 << 20
XML_TYPE = "application/xml; charset=UTF-8"


class RangeNotSatisfiable(Exception):
    pass


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """First byte range of a ``Range`` header as inclusive (start, end); None means the whole file.

    Syntactically invalid headers are ignored (RFC 9110); only the first of several ranges is
    served. Raises RangeNotSatisfiable when the range lies outside the file.
    """
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or not spec.strip():
        return None
    first, dash, last = spec.split(",", 1)[0].strip().partition("-")
    if not dash:
        return None
    try:
        if not first.strip():
            suffix = int(last)
            if suffix <= 0 or size == 0:
                raise RangeNotSatisfiable
            return max(0, size - suffix), size - 1
        start = int(first)
        end = int(last) if last.strip() else size - 1
    except ValueError:
        return None
    if start >= size:
        raise RangeNotSatisfiable
    if end < start:
        return None
    return start, min(end, size - 1)


def xml_error(status: int, code: str, message: str, details: str | None = None, **headers: str) -> Response:
    """A GCS XML API error body."""
    body = "<?xml version='1.0' encoding='UTF-8'?>"
    body += f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>"
    if details:
        body += f"<Details>{escape(details)}</Details>"
    body += "</Error>"
    return Response(body, status_code=status, headers={"Content-Type": XML_TYPE, **headers})


class BlobResponse(Response):
    """Streams ``length`` bytes of a blob from ``start``; stops after ``drop_after`` bytes without
    completing the response when the drop fault fired (the server then closes the connection)."""

    def __init__(
        self,
        blob: Blob,
        status: int,
        start: int,
        length: int,
        headers: dict[str, str],
        drop_after: int | None,
    ) -> None:
        super().__init__(status_code=status, headers=headers)
        self.blob, self.start, self.length, self.drop_after = blob, start, length, drop_after

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        if scope["method"] == "HEAD" or self.length == 0:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        disconnected = asyncio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            disconnected.set()

        watcher = asyncio.create_task(watch())
        limit = self.length if self.drop_after is None else self.drop_after
        sent = 0
        try:
            async with await anyio.open_file(self.blob.path, "rb") as handle:
                await handle.seek(self.start)
                while sent < limit and not disconnected.is_set():
                    chunk = await handle.read(min(CHUNK, limit - sent))
                    if not chunk:
                        break  # file shorter than announced: leave the response incomplete
                    sent += len(chunk)
                    more = self.drop_after is not None or sent < self.length
                    await send({"type": "http.response.body", "body": chunk, "more_body": more})
            if self.drop_after is not None and sent == 0:
                await send({"type": "http.response.body", "body": b"", "more_body": True})
        finally:
            watcher.cancel()


def goog_hashes(blob: Blob, announced: tuple[str, ...]) -> str:
    """``x-goog-hash`` as GCS writes it: ``crc32c=<b64>,md5=<b64>``, limited to ``announced``."""
    values = {"crc32c": blob.crc32c, "md5": blob.md5}
    parts = [f"{name}={values[name]}" for name in ("crc32c", "md5") if name in announced and values[name]]
    return ",".join(parts) or f"md5={blob.md5}"


def blob_headers(blob: Blob, announced: tuple[str, ...]) -> dict[str, str]:
    hashes = goog_hashes(blob, announced)
    return {
        "Content-Type": blob.content_type,
        "Accept-Ranges": "bytes",
        "ETag": blob.etag,
        "Last-Modified": formatdate(blob.updated.timestamp(), usegmt=True),
        "Cache-Control": "private, max-age=0",
        "x-goog-hash": hashes,
        "x-goog-generation": str(blob.generation),
        "x-goog-metageneration": "1",
        "x-goog-stored-content-encoding": "identity",
        "x-goog-stored-content-length": str(blob.size),
        "x-goog-storage-class": "STANDARD",
    }
