"""Keep signed-URL signatures and embedded credentials out of logs and exception messages."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

_URL = re.compile(r"\bhttps?://[^\s\"'<>]+", re.IGNORECASE)
_USERINFO = re.compile(r"^([a-z][a-z0-9+.-]*://)?[^/?#]*@", re.IGNORECASE)


def redact_url(url: str) -> str:
    """``url`` without query string, fragment and user-info (signed URLs carry their key there)."""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. "http://u:pw@[::1": still drop the user-info, the query, the fragment
        return _USERINFO.sub(r"\1", url.split("?", 1)[0].split("#", 1)[0])
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def redact_text(text: str) -> str:
    """Every URL inside free text (e.g. a server message) passed through :func:`redact_url`."""
    if "://" not in text:
        return text
    return _URL.sub(lambda m: redact_url(m.group(0)), text)


def path_of(url: str) -> str:
    """The path of a URL, for error messages (``METHOD /path``)."""
    try:
        return urlsplit(url).path or "/"
    except ValueError:
        return redact_url(url)
