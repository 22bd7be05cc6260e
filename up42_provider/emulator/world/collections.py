"""Hosts, producers and collection specs: what the synthetic world offers and how its archive is laid out."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timezone
from typing import Any

UTC = timezone.utc
WORLD_NS = uuid.UUID("6f1f3c1e-5a7d-4f0e-9a52-0b7f4c1d2e90")  # namespace of the world's fixed ids
CREATED = "2022-02-10T15:38:18.804420Z"  # creation time of the world's fixed records

HOSTS: dict[str, dict[str, Any]] = {
    "oneatlas": {
        "name": "oneatlas",
        "title": "OneAtlas",
        "description": "Airbus OneAtlas: Pléiades and SPOT archive imagery and tasking.",
        "isIntegrated": True,
    },
    "earthsearch": {
        "name": "earthsearch",
        "title": "Earth Search",
        "description": "Open Sentinel-2 Level-2A archive.",
        "isIntegrated": True,
    },
}

PRODUCERS: dict[str, dict[str, Any]] = {
    "airbus": {
        "name": "airbus",
        "title": "Airbus",
        "description": "Airbus Defence and Space",
        "isIntegrated": True,
    },
    "esa": {
        "name": "esa",
        "title": "ESA",
        "description": "European Space Agency (Copernicus)",
        "isIntegrated": True,
    },
}


@dataclass(frozen=True)
class CollectionSpec:
    """Everything the world needs to know about one collection (archive grid and prices)."""

    index: int  # encoded into scene ids (1..15); 0 for tasking collections
    name: str
    title: str
    description: str
    host: str
    producer: str
    type: str  # ARCHIVE | TASKING
    resolution: float  # nadir ground sample distance, metres
    resolution_class: str
    bands: tuple[str, ...]
    price_per_km2: float  # credits
    min_area_km2: float
    # archive grid (ignored for TASKING)
    satellites: tuple[str, ...] = ()
    tile_deg: float = 1.0
    lat_min: float = -80.0
    lat_max: float = 80.0
    revisit_days: int = 5
    exist_rate: float = 1.0  # share of passes that left an archived scene
    start: date = date(2015, 1, 1)
    max_rotation_deg: float = 0.0
    max_incidence_deg: float = 30.0
    delivery_time: str = "HOURS"
    analytics_rate: float = 1.0  # share of scenes usable for ANALYTICS as well as DATA
    no_quicklook_rate: float = 0.03
    # Today's glossary ``integrations``; order and tasking flows read them too (e.g. whether a
    # feasibility study is required before a tasking order can be placed).
    integrations: tuple[str, ...] = (
        "SEARCH_AVAILABLE",
        "QUICKLOOK_AVAILABLE",
        "PRICE_ESTIMATION_AVAILABLE",
    )


SPECS: dict[str, CollectionSpec] = {
    s.name: s
    for s in (
        CollectionSpec(
            index=1,
            name="phr",
            title="Pléiades",
            description="Pléiades 1A/1B very high resolution optical imagery (50 cm).",
            host="oneatlas",
            producer="airbus",
            type="ARCHIVE",
            resolution=0.5,
            resolution_class="VERY_HIGH",
            bands=("pan", "blue", "green", "red", "nir"),
            price_per_km2=40.0,
            min_area_km2=1.0,
            satellites=("PHR1A", "PHR1B"),
            tile_deg=0.2,
            lat_min=-80.0,
            lat_max=80.0,
            revisit_days=4,
            exist_rate=0.25,
            start=date(2015, 1, 1),
            max_rotation_deg=12.0,
            max_incidence_deg=30.0,
            analytics_rate=0.7,
        ),
        CollectionSpec(
            index=2,
            name="spot",
            title="SPOT",
            description="SPOT 6/7 high resolution optical imagery (1.5 m).",
            host="oneatlas",
            producer="airbus",
            type="ARCHIVE",
            resolution=1.5,
            resolution_class="HIGH",
            bands=("pan", "blue", "green", "red", "nir"),
            price_per_km2=10.0,
            min_area_km2=25.0,
            satellites=("SPOT6", "SPOT7"),
            tile_deg=0.5,
            lat_min=-80.0,
            lat_max=80.0,
            revisit_days=5,
            exist_rate=0.3,
            start=date(2015, 1, 1),
            max_rotation_deg=10.0,
            max_incidence_deg=30.0,
            analytics_rate=0.8,
        ),
        CollectionSpec(
            index=3,
            name="sentinel-2",
            title="Sentinel-2",
            description="Copernicus Sentinel-2 Level-2A multispectral imagery (10 m), open data.",
            host="earthsearch",
            producer="esa",
            type="ARCHIVE",
            resolution=10.0,
            resolution_class="MEDIUM",
            bands=(
                "coastal",
                "blue",
                "green",
                "red",
                "rededge1",
                "rededge2",
                "rededge3",
                "nir",
                "nir08",
                "watervapour",
                "swir16",
                "swir22",
            ),
            price_per_km2=0.2,
            min_area_km2=100.0,
            satellites=("sentinel-2a", "sentinel-2b"),
            tile_deg=1.0,
            lat_min=-56.0,
            lat_max=84.0,
            revisit_days=5,
            exist_rate=0.98,
            start=date(2015, 7, 1),
            max_rotation_deg=1.5,
            max_incidence_deg=11.0,
            delivery_time="MINUTES",
            analytics_rate=1.0,
            no_quicklook_rate=0.02,
        ),
        CollectionSpec(
            index=0,
            name="phr-tasking",
            title="Pléiades Tasking",
            description="New Pléiades acquisitions over your area (tasking).",
            host="oneatlas",
            producer="airbus",
            type="TASKING",
            resolution=0.5,
            resolution_class="VERY_HIGH",
            bands=("pan", "blue", "green", "red", "nir"),
            price_per_km2=80.0,
            integrations=(
                "QUOTATION_REQUIRED",
                "FEASIBILITY_STUDY_MAY_BE_REQUIRED",
                "PRICE_ESTIMATION_AVAILABLE",
            ),
            min_area_km2=25.0,
        ),
        CollectionSpec(
            index=0,
            name="spot-tasking",
            title="SPOT Tasking",
            description="New SPOT 6/7 acquisitions over your area or point of interest (tasking).",
            host="oneatlas",
            producer="airbus",
            type="TASKING",
            resolution=1.5,
            resolution_class="HIGH",
            bands=("pan", "blue", "green", "red", "nir"),
            price_per_km2=15.0,
            integrations=("QUOTATION_REQUIRED", "FEASIBILITY_STUDY_REQUIRED", "PRICE_ESTIMATION_AVAILABLE"),
            min_area_km2=100.0,
        ),
    )
}
SPECS_BY_INDEX = {s.index: s for s in SPECS.values() if s.index}


def collection_item(spec: CollectionSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "title": spec.title,
        "description": spec.description,
        "type": spec.type,
        "restricted": False,
        "hostName": spec.host,
        "host": dict(HOSTS[spec.host]),
        "producerName": spec.producer,
        "producer": dict(PRODUCERS[spec.producer]),
        "isIntegrated": True,
        "resolutionClass": spec.resolution_class,
        "resolutionValue": {"minimum": spec.resolution, "maximum": spec.resolution},
        "createdAt": CREATED,
        "updatedAt": CREATED,
    }


COLLECTIONS: list[dict[str, Any]] = [collection_item(s) for s in SPECS.values()]


def host_of(collection_name: str) -> str | None:
    spec = SPECS.get(collection_name)
    return spec.host if spec else None
