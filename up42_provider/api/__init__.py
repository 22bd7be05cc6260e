"""Plain-Python UP42 HTTP client used by the hook (no Airflow import; light to import).

Layers, each replaceable per API generation: ``endpoints`` (what to call), ``auth`` (how to log
in), ``retry`` (when to try again), ``responses``/``errors`` (what an answer means) and
``client`` (the sync and async transports that tie them together).
"""

from up42_provider.api.auth import AuthStrategy, ClientCredentialsAuth, Token, TokenCache
from up42_provider.api.endpoints import V1, Endpoint, EndpointTable
from up42_provider.api.errors import (
    UP42AuthenticationError,
    UP42Error,
    UP42InsufficientCreditsError,
    UP42NotFoundError,
    UP42RateLimitedError,
    UP42ServerError,
    UP42TransportError,
    UP42ValidationError,
    error_from_response,
)
from up42_provider.api.masking import mask_secret
from up42_provider.api.redact import redact_url
from up42_provider.api.settings import DEFAULT_BASE_URL, ClientSettings

# The transports load ``requests`` and ``httpx``: imported on first use, not when a DAG file is parsed.
_CLIENT_NAMES = frozenset({"AsyncStreamResponse", "AsyncUP42Client", "StreamResponse", "UP42Client"})


def __getattr__(name: str):
    if name in _CLIENT_NAMES:
        from up42_provider.api import client

        return getattr(client, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_BASE_URL",
    "V1",
    "AsyncStreamResponse",
    "AsyncUP42Client",
    "AuthStrategy",
    "ClientCredentialsAuth",
    "ClientSettings",
    "Endpoint",
    "EndpointTable",
    "StreamResponse",
    "Token",
    "TokenCache",
    "UP42AuthenticationError",
    "UP42Client",
    "UP42Error",
    "UP42InsufficientCreditsError",
    "UP42NotFoundError",
    "UP42RateLimitedError",
    "UP42ServerError",
    "UP42TransportError",
    "UP42ValidationError",
    "error_from_response",
    "mask_secret",
    "redact_url",
]
