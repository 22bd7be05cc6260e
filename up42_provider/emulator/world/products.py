"""Data products: the orderable product configurations of each collection."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from up42_provider.emulator.world.collections import CREATED, HOSTS, SPECS, WORLD_NS, collection_item


@dataclass(frozen=True)
class ProductSpec:
    collection: str
    title: str
    configuration: dict[str, Any]
    price_factor: float = 1.0
    integrated: bool = True


PRODUCT_SPECS = (
    ProductSpec("phr", "Display", {"radiometricProcessing": "display", "pixelCoding": "8bits"}),
    ProductSpec("phr", "Analytic", {"radiometricProcessing": "reflectance", "pixelCoding": "12bits"}, 1.25),
    ProductSpec("spot", "Display", {"radiometricProcessing": "display", "pixelCoding": "8bits"}),
    # Listed by the marketplace but not orderable through the API (clients drop it, orders refuse it).
    ProductSpec(
        "spot", "Analytic", {"radiometricProcessing": "reflectance", "pixelCoding": "12bits"}, 1.25, False
    ),
    ProductSpec("sentinel-2", "Level-2A", {"processingLevel": "L2A"}),
    ProductSpec("phr-tasking", "Standard", {}),
    ProductSpec("spot-tasking", "Standard", {}),
)


def _product_item(p: ProductSpec) -> dict[str, Any]:
    spec = SPECS[p.collection]
    host = dict(HOSTS[spec.host])
    config_id = str(uuid.uuid5(WORLD_NS, f"product-configuration:{p.collection}:{p.title}"))
    collection = collection_item(spec)
    for key in ("description", "resolutionClass", "resolutionValue", "createdAt", "updatedAt"):
        collection.pop(key)
    return {
        "id": str(uuid.uuid5(WORLD_NS, f"data-product:{p.collection}:{p.title}")),
        "collectionName": p.collection,
        "productConfigurationId": config_id,
        "isIntegrated": p.integrated,
        "createdAt": CREATED,
        "updatedAt": CREATED,
        "productConfiguration": {
            "id": config_id,
            "title": p.title,
            "hostName": spec.host,
            "host": host,
            "configuration": dict(p.configuration),
            "isIntegrated": p.integrated,
        },
        "collection": collection,
    }


DATA_PRODUCTS: list[dict[str, Any]] = [_product_item(p) for p in PRODUCT_SPECS]
PRODUCTS_BY_ID = {item["id"]: (item, p) for item, p in zip(DATA_PRODUCTS, PRODUCT_SPECS, strict=True)}


def data_product(data_product_id: str) -> dict[str, Any] | None:
    entry = PRODUCTS_BY_ID.get(str(data_product_id))
    return entry[0] if entry else None
