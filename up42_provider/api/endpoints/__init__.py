"""Endpoint declarations, one module per API generation (``v1``: the 2023 API, ``v2``: today's)."""

from up42_provider.api.endpoints.base import RESPONSE_KINDS, Endpoint, EndpointTable, ResponseKind
from up42_provider.api.endpoints.v1 import V1
from up42_provider.api.endpoints.v2 import V2

__all__ = ["RESPONSE_KINDS", "V1", "V2", "Endpoint", "EndpointTable", "ResponseKind"]
