"""Airflow connection fields -> ``ClientSettings``, with errors that name the field and the fix.

Kept free of Airflow lookups so the sync path (``get_connection``) and the async path
(``aget_connection`` + ``aextra_dejson``) share one parser.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from up42_provider.api.redact import redact_url
from up42_provider.api.settings import DEFAULT_BASE_URL, REGION_HOSTS, ClientSettings

log = logging.getLogger(__name__)

KNOWN_EXTRAS = (
    "api_generation",
    "region",
    "timeout",
    "max_attempts",
    "max_retry_wait",
    "verify_ssl",
    "create_settle_seconds",
)
API_GENERATIONS = ("auto", "2023", "current")
CREDENTIAL_FORMS = (
    "use either the 2023 project credentials (login = project id, a UUID; password = project API key) "
    "or today's account credentials (login = account e-mail; password = account password), "
    'or force one with the extra \'api_generation\' ("2023" or "current")'
)
MIN_CREATE_SETTLE = 30.0  # seconds: the floor of the default settle window
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


class UP42ConnectionConfigError(ValueError):
    """The Airflow connection cannot be used as it is (missing or malformed field)."""


def base_url_from(conn_id: str, host: str | None, port: int | None = None) -> str:
    """``host`` as an absolute base URL: default https://api.up42.com, scheme optional (-> https)."""
    text = (host or "").strip()
    if not text:
        return DEFAULT_BASE_URL
    if "://" not in text:
        text = f"https://{text}"
    # Errors below never echo a password (even one holding '/') or a query put into the host.
    scheme, sep, rest = text.partition("://")
    host = redact_url(f"{scheme}{sep}{rest.rpartition('@')[2]}")
    try:
        parts = urlsplit(text)
        parsed_port = parts.port
    except ValueError as exc:
        reason = re.sub(r"'[^']*'", "'...'", str(exc))  # "...cast to integer value as '<text>'"
        raise UP42ConnectionConfigError(
            f"UP42 connection {conn_id!r}: host {host!r} is not a valid URL ({reason}); "
            "set it like https://api.up42.com or http://127.0.0.1:8042"
        ) from None
    if parts.scheme not in ("http", "https"):
        raise UP42ConnectionConfigError(
            f"UP42 connection {conn_id!r}: host {host!r} uses scheme {parts.scheme!r}; "
            "use https:// (or http:// "
            "for a local emulator)"
        )
    if not parts.hostname:
        raise UP42ConnectionConfigError(
            f"UP42 connection {conn_id!r}: host {host!r} has no host name; set it like https://api.up42.com"
        )
    if parts.username or parts.password:
        raise UP42ConnectionConfigError(
            f"UP42 connection {conn_id!r}: host must not contain credentials; put the project id in login "
            "and the API key in password"
        )
    if parts.query or parts.fragment:
        raise UP42ConnectionConfigError(
            f"UP42 connection {conn_id!r}: host {host!r} must not have a query string or fragment"
        )
    netloc = parts.netloc
    if port and parsed_port is None:
        netloc = f"{netloc}:{int(port)}"
    return f"{parts.scheme}://{netloc}{parts.path}".rstrip("/")


def _number(conn_id: str, name: str, value: Any, *, minimum: float, integer: bool = False) -> float:
    kind = "a whole number" if integer else "a number"
    try:
        if isinstance(value, bool):
            raise TypeError
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        number = math.nan
    if math.isnan(number) or (integer and math.isfinite(number) and not number.is_integer()):
        raise UP42ConnectionConfigError(
            f"UP42 connection {conn_id!r}: extra {name!r} must be {kind}, got {value!r}"
        )
    if not math.isfinite(number) or number < minimum:
        raise UP42ConnectionConfigError(
            f"UP42 connection {conn_id!r}: extra {name!r} must be at least {minimum:g}, got {value!r}"
        )
    return number


def _timeout(conn_id: str, value: Any) -> tuple[float, float]:
    """One number = read timeout (connect capped at 10 s); two numbers = (connect, read)."""
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise UP42ConnectionConfigError(
                f"UP42 connection {conn_id!r}: extra 'timeout' must be seconds or [connect, read], "
                f"got {value!r}"
            )
        connect = _number(conn_id, "timeout", value[0], minimum=0.001)
        read = _number(conn_id, "timeout", value[1], minimum=0.001)
        return connect, read
    read = _number(conn_id, "timeout", value, minimum=0.001)
    return min(10.0, read), read


def _verify(conn_id: str, value: Any) -> bool | str:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        if text:
            return text  # a CA bundle path, as requests/httpx accept
    raise UP42ConnectionConfigError(
        f"UP42 connection {conn_id!r}: extra 'verify_ssl' must be true, false or a CA bundle path, "
        f"got {value!r}"
    )


def generation_from(conn_id: str, login: str, extra: Mapping[str, Any]) -> str:
    """ "2023" or "current": the ``api_generation`` extra, else what the login looks like."""
    raw = extra.get("api_generation")
    choice = "auto" if raw in (None, "") else str(raw).strip().lower()
    if choice not in API_GENERATIONS:
        raise UP42ConnectionConfigError(
            f"UP42 connection {conn_id!r}: extra 'api_generation' must be one of "
            f"{', '.join(API_GENERATIONS)}, got {raw!r}"
        )
    if choice != "auto":
        return choice
    if _UUID.match(login):
        return "2023"
    if "@" in login:
        return "current"
    raise UP42ConnectionConfigError(
        f"UP42 connection {conn_id!r}: cannot tell the API generation from login {login!r}; "
        + CREDENTIAL_FORMS
    )


def region_hosts(conn_id: str, extra: Mapping[str, Any]) -> tuple[str, str]:
    """(API base URL, auth base URL) of today's generation for the ``region`` extra (default eu)."""
    raw = extra.get("region")
    region = "eu" if raw in (None, "") else str(raw).strip().lower()
    if region not in REGION_HOSTS:
        raise UP42ConnectionConfigError(
            f"UP42 connection {conn_id!r}: extra 'region' must be one of {', '.join(REGION_HOSTS)}, "
            f"got {raw!r}"
        )
    return REGION_HOSTS[region]


def settings_from_connection(
    conn_id: str,
    *,
    host: str | None,
    login: str | None,
    password: str | None,
    port: int | None = None,
    extra: Mapping[str, Any] | None = None,
) -> ClientSettings:
    """Validate the connection fields and build the client settings."""
    if extra is not None and not isinstance(extra, Mapping):
        raise UP42ConnectionConfigError(f"UP42 connection {conn_id!r}: extra must be a JSON object")
    extra = dict(extra or {})
    user = (login or "").strip()
    if not user:
        raise UP42ConnectionConfigError(f"UP42 connection {conn_id!r}: login is empty; " + CREDENTIAL_FORMS)
    generation = generation_from(conn_id, user, extra)
    if generation == "2023" and not _UUID.match(user):
        raise UP42ConnectionConfigError(
            f"UP42 connection {conn_id!r}: login (Project ID) {user!r} is not a UUID; "
            "copy the project id "
            "(e.g. 0d5a7f2c-4e1b-4b7a-9c33-2f6e8a1d9b42), not the project name"
        )
    secret = (password or "").strip() if generation == "2023" else (password or "")
    if not secret:
        what = "Project API key" if generation == "2023" else "account password"
        raise UP42ConnectionConfigError(
            f"UP42 connection {conn_id!r}: password ({what}) is empty; set it to the {what}"
        )
    unknown = sorted(set(extra) - set(KNOWN_EXTRAS))
    if unknown:
        log.warning(
            "UP42 connection %r: ignoring unknown extra field(s) %s (known: %s)",
            conn_id,
            ", ".join(unknown),
            ", ".join(KNOWN_EXTRAS),
        )
    kwargs: dict[str, Any] = {}
    if extra.get("timeout") not in (None, ""):
        kwargs["timeout"] = _timeout(conn_id, extra["timeout"])
    if extra.get("max_attempts") not in (None, ""):
        kwargs["max_attempts"] = int(
            _number(conn_id, "max_attempts", extra["max_attempts"], minimum=1, integer=True)
        )
    if extra.get("max_retry_wait") not in (None, ""):
        kwargs["max_retry_wait"] = _number(conn_id, "max_retry_wait", extra["max_retry_wait"], minimum=0)
    if extra.get("verify_ssl") not in (None, ""):
        kwargs["verify"] = _verify(conn_id, extra["verify_ssl"])
    if generation == "2023":
        base_url = base_url_from(conn_id, host, port)
        kwargs.update(project_id=user, api_key=secret)
    else:
        api_url, auth_url = region_hosts(conn_id, extra)
        if (host or "").strip():  # one URL (an emulator, a proxy) serves the API and the login
            api_url = auth_url = base_url_from(conn_id, host, port)
        base_url = api_url
        kwargs.update(generation="current", username=user, password=secret, auth_url=auth_url)
    try:
        return ClientSettings(base_url=base_url, **kwargs)
    except ValueError as exc:  # the settings' own checks, should ours have missed one
        raise UP42ConnectionConfigError(f"UP42 connection {conn_id!r}: {exc}") from None


def settle_seconds_from(conn_id: str, extra: Mapping[str, Any] | None, *, read_timeout: float) -> float:
    """Extra ``create_settle_seconds``, else twice the read timeout (at least 30 s): how long a
    creation whose answer was lost must stay invisible before the request is sent again."""
    value = (extra or {}).get("create_settle_seconds")
    if value in (None, ""):
        return max(MIN_CREATE_SETTLE, 2 * read_timeout)
    return _number(conn_id, "create_settle_seconds", value, minimum=0)
