"""The synthetic world both generations share, one concern per module.

``collections`` (hosts, producers, collection specs), ``products`` (data products), ``schemas``
(order schemas), ``hashing`` (the seeded hashes everything is derived from), ``scenes`` (one
archived image), ``catalog`` (the archive and its search), ``quicklooks`` (previews), ``pricing``
(order parameters and credits), ``blocks`` (the 2023 processing blocks). The names other code
needs are importable from the package itself.
"""

from up42_provider.emulator.geo import area_km2, parse_datetime, parse_geometry
from up42_provider.emulator.world.catalog import Catalog, SearchError
from up42_provider.emulator.world.collections import (
    COLLECTIONS,
    HOSTS,
    PRODUCERS,
    SPECS,
    CollectionSpec,
    host_of,
)
from up42_provider.emulator.world.pricing import estimate_order_credits, validate_order_params
from up42_provider.emulator.world.products import DATA_PRODUCTS, data_product
from up42_provider.emulator.world.scenes import Scene
from up42_provider.emulator.world.schemas import order_schema

__all__ = [
    "COLLECTIONS",
    "DATA_PRODUCTS",
    "HOSTS",
    "PRODUCERS",
    "SPECS",
    "Catalog",
    "CollectionSpec",
    "Scene",
    "SearchError",
    "area_km2",
    "data_product",
    "estimate_order_credits",
    "host_of",
    "order_schema",
    "parse_datetime",
    "parse_geometry",
    "validate_order_params",
]
