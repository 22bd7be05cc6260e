"""Plain-Python UP42 HTTP client used by the hook (no Airflow import; light to import).

Layers, each replaceable per API generation: ``endpoints`` (what to call), ``auth`` (how to log
in), ``retry`` (when to try again), ``responses``/``errors`` (what an answer means) and
``client`` (the sync and async transports that tie them together).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from up42_provider.api.auth import AuthStrategy, ClientCredentialsAuth, Token, TokenCache
    from up42_provider.api.client import AsyncStreamResponse, AsyncUP42Client, StreamResponse, UP42Client
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

# Loaded on first use (a DAG file that imports an operator needs none of it): name -> submodule.
_LAZY = {
    **dict.fromkeys(("AuthStrategy", "ClientCredentialsAuth", "Token", "TokenCache"), "auth"),
    **dict.fromkeys(("V1", "Endpoint", "EndpointTable"), "endpoints"),
    **dict.fromkeys(
        (
            "UP42AuthenticationError",
            "UP42Error",
            "UP42InsufficientCreditsError",
            "UP42NotFoundError",
            "UP42RateLimitedError",
            "UP42ServerError",
            "UP42TransportError",
            "UP42ValidationError",
            "error_from_response",
        ),
        "errors",
    ),
    "mask_secret": "masking",
    "redact_url": "redact",
    **dict.fromkeys(("DEFAULT_BASE_URL", "ClientSettings"), "settings"),
    **dict.fromkeys(("AsyncStreamResponse", "AsyncUP42Client", "StreamResponse", "UP42Client"), "client"),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


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
