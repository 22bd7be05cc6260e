"""What a download is verified against: the hashes the server announces in ``x-goog-hash``.

UP42's signed URLs point at Google Cloud Storage, which sends ``x-goog-hash: crc32c=<b64>,md5=<b64>``
for a plain object and only ``crc32c`` for a composite one. Which of them to compute matters:

* MD5 runs at ~600 MB/s on one core. On a fast link the hash, not the network, bounds the download
  (measured on loopback: 0.5x the speed of ``curl -o``);
* CRC32C in C (``google-crc32c``, SSE4.2) runs at ~20 GB/s. Google recommends it for verifying
  downloads and ``gcloud storage`` uses it by default. It detects every burst error up to 32 bits
  and any other corruption with probability 1 - 2**-32; transfer corruption is not an adversary.

Policies (``checksum=`` of :func:`~up42_provider.transfer.download.download`):

* ``auto`` (default): CRC32C when the server announces it and the C extension is loaded, else MD5.
  With nothing announced, CRC32C (or MD5 without the extension) is still recorded for the sidecar;
* ``md5``: MD5 only, checked whenever the server announces it (slower: use when an MD5 record is
  needed downstream);
* ``all``: every hash the server announces (CRC32C and MD5).

An ``expected_md5`` given by the caller always adds MD5.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import Any, Literal

import google_crc32c

ChecksumPolicy = Literal["auto", "md5", "all"]
POLICIES: tuple[str, ...] = ("auto", "md5", "all")
# google-crc32c falls back to pure Python (~MB/s) without its C extension: then prefer MD5.
FAST_CRC32C = google_crc32c.implementation == "c"


@dataclass(frozen=True)
class Announced:
    """The server's hashes of the whole object: ``crc32c`` base64 (as GCS writes it), ``md5`` hex."""

    crc32c: str | None = None
    md5: str | None = None


def normalize_md5(value: str | None) -> str | None:
    """Accept hex (32 chars) or base64 (as in ``x-goog-hash``) and return lower-case hex."""
    if not value:
        return None
    value = value.strip()
    if len(value) == 32:
        try:
            bytes.fromhex(value)
            return value.lower()
        except ValueError:
            pass
    raw = _b64(value)
    return raw.hex() if raw is not None and len(raw) == 16 else None


def normalize_crc32c(value: str | None) -> str | None:
    """Base64 of the 4 big-endian bytes, as GCS writes it (None when malformed)."""
    raw = _b64(value.strip()) if value else None
    return base64.b64encode(raw).decode() if raw is not None and len(raw) == 4 else None


def _b64(value: str) -> bytes | None:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def announced_hashes(headers: Any) -> Announced:
    """Parse ``x-goog-hash: crc32c=<b64>,md5=<b64>`` (either part may be absent or repeated)."""
    found: dict[str, str | None] = {}
    # requests, urllib3 and httpx all join repeated headers into one comma-separated value.
    for part in (headers.get("x-goog-hash") or "").split(","):
        name, _, encoded = part.strip().partition("=")
        name = name.strip().lower()
        if name == "md5":
            found["md5"] = normalize_md5(encoded)
        elif name == "crc32c":
            found["crc32c"] = normalize_crc32c(encoded)
    return Announced(crc32c=found.get("crc32c"), md5=found.get("md5"))


def md5_from_headers(headers: Any) -> str | None:
    """Hex MD5 from ``x-goog-hash`` (None when absent or malformed)."""
    return announced_hashes(headers).md5


def check_policy(policy: str) -> None:
    """Fail before any request on a policy this module does not know."""
    if policy not in POLICIES:
        raise ValueError(f"checksum must be one of {', '.join(POLICIES)}; got {policy!r}")


def algorithms(policy: str, announced: Announced, expected_md5: str | None = None) -> frozenset[str]:
    """The digests to compute for ``policy`` given what the server announced."""
    check_policy(policy)
    chosen: set[str] = set()
    if policy == "md5" or expected_md5:
        chosen.add("md5")
    if policy == "all":
        chosen.update(name for name in ("crc32c", "md5") if getattr(announced, name))
    if policy == "auto":
        if announced.crc32c and (FAST_CRC32C or not announced.md5):
            chosen.add("crc32c")
        elif announced.md5:
            chosen.add("md5")
        else:  # nothing to check against: record the cheapest digest for the sidecar
            chosen.add("crc32c" if FAST_CRC32C else "md5")
    return frozenset(chosen)


class Digests:
    """Running digests of one download; ``update`` may run in a helper thread (both release the GIL
    or take microseconds per MiB)."""

    def __init__(self, names: frozenset[str]) -> None:
        self.names = names
        self._md5 = hashlib.md5() if "md5" in names else None
        self._crc32c = google_crc32c.Checksum() if "crc32c" in names else None

    @property
    def slow(self) -> bool:
        """MD5 (~600 MB/s) is worth a helper thread; CRC32C alone is not."""
        return self._md5 is not None

    def update(self, data: memoryview | bytes) -> None:
        if self._md5 is not None:
            self._md5.update(data)
        if self._crc32c is not None:
            # The C extension only takes immutable bytes: one memcpy per chunk (~50 us per MiB).
            self._crc32c.update(data if isinstance(data, bytes) else bytes(data))

    @property
    def md5(self) -> str | None:
        return self._md5.hexdigest() if self._md5 is not None else None

    @property
    def crc32c(self) -> str | None:
        return base64.b64encode(self._crc32c.digest()).decode() if self._crc32c is not None else None

    def mismatches(self, announced: Announced, expected_md5: str | None = None) -> list[str]:
        """One sentence per digest that differs from what the server or the caller announced."""
        problems = []
        checks = (
            ("CRC32C", self.crc32c, announced.crc32c, "server's x-goog-hash"),
            ("MD5", self.md5, announced.md5, "server's x-goog-hash"),
            ("MD5", self.md5, normalize_md5(expected_md5), "expected"),
        )
        for label, got, want, source in checks:
            if got is not None and want and got != want:
                problems.append(f"{label} mismatch: got {got}, {source} {label} is {want}")
        return problems
