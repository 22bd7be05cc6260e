"""Scenes: one archived image of the synthetic catalogue and its search feature."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import cached_property
from typing import Any

from up42_provider.emulator.world.collections import SPECS

UTC = timezone.utc


def iso_seconds(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Scene:
    """One archived image. ``feature()`` is its ``catalog.responses.search`` search feature
    (``properties.id`` == ``id``)."""

    id: str
    collection: str
    host: str
    producer: str
    geometry: dict[str, Any]  # GeoJSON Polygon, EPSG:4326, counter-clockwise
    bbox: tuple[float, float, float, float]
    acquired: datetime
    cloud_coverage: float
    resolution: float
    incidence_angle: float
    snow_cover: float
    azimuth_angle: float
    sun_elevation: float
    satellite: str
    usage_type: tuple[str, ...]
    has_quicklook: bool
    tile: tuple[int, int]  # (row, col) of the collection grid
    pass_index: int
    key: int = field(repr=False, compare=False, default=0)  # scene hash, seeds derived content

    @property
    def constellation(self) -> str:
        return self.collection

    @property
    def acquisition_identifier(self) -> str:
        return self._identifiers["acquisition"]

    @cached_property
    def _identifiers(self) -> dict[str, str]:
        lon, lat = (self.bbox[0] + self.bbox[2]) / 2, (self.bbox[1] + self.bbox[3]) / 2
        stamp = self.acquired.strftime("%Y%m%d%H%M%S")
        serial = self.key % 100_000
        if self.collection == "sentinel-2":
            zone = int((lon + 180) // 6) % 60 + 1
            band = "CDEFGHJKLMNPQRSTUVWXX"[max(0, min(20, int((lat + 80) // 8)))]
            letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
            sq = letters[self.key % 24] + letters[(self.key >> 8) % 20]
            sat = "S2A" if self.satellite.endswith("a") else "S2B"
            orbit = self.key % 143 + 1
            processed = (self.acquired + timedelta(hours=1, minutes=self.key % 50)).strftime("%Y%m%dT%H%M%S")
            ident = (
                f"{sat}_MSIL2A_{self.acquired.strftime('%Y%m%dT%H%M%S')}_N0400_R{orbit:03d}"
                f"_T{zone:02d}{band}{sq}_{processed}"
            )
            return {"acquisition": ident, "tile": f"{zone:02d}{band}{sq}"}
        ew, ns = ("E" if lon >= 0 else "W"), ("N" if lat >= 0 else "S")
        cell = f"{ew}{abs(int(lon)):03d}{ns}{abs(int(lat)):02d}"
        ident = f"DS_{self.satellite}_{stamp}{self.key % 10}_FR1_PX_{cell}_{serial:05d}"
        return {"acquisition": ident, "tile": f"{self.tile[0]}-{self.tile[1]}"}

    def feature(self) -> dict[str, Any]:
        return {
            "type": "Feature",
            "bbox": list(self.bbox),
            "geometry": self.geometry,
            "properties": {
                "id": self.id,
                "acquisitionDate": iso_seconds(self.acquired),
                "start_datetime": None,
                "end_datetime": None,
                "constellation": self.constellation,
                "collection": self.collection,
                "providerName": self.host,
                "cloudCoverage": self.cloud_coverage,
                "up42:usageType": list(self.usage_type),
                "providerProperties": self.provider_properties(),
                "sceneId": self.id,
                "resolution": self.resolution,
                "deliveryTime": SPECS[self.collection].delivery_time,
                "producer": self.producer,
            },
        }

    def provider_properties(self) -> dict[str, Any]:
        ident = self._identifiers["acquisition"]
        cx = round((self.bbox[0] + self.bbox[2]) / 2, 8)
        cy = round((self.bbox[1] + self.bbox[3]) / 2, 8)
        processed = self.acquired + timedelta(hours=2, minutes=self.key % 59)
        common = {
            "acquisitionIdentifier": ident,
            "platform": self.satellite,
            "incidenceAngle": self.incidence_angle,
            "azimuthAngle": self.azimuth_angle,
            "illuminationElevationAngle": self.sun_elevation,
            "illuminationAzimuthAngle": round(140.0 + (self.key % 400) / 10.0, 4),
            "snowCover": self.snow_cover,
            "cloudCover": self.cloud_coverage,
            "geometryCentroid": [cx, cy],
            "processingDate": iso_seconds(processed),
            "sensorType": "OPTICAL",
        }
        if self.collection == "sentinel-2":
            return {
                **common,
                "mgrsTile": self._identifiers["tile"],
                "productType": "S2MSI2A",
                "processingBaseline": "04.00",
                "dataCoverage": round(80 + (self.key % 2000) / 100.0, 2),
                "format": "image/tiff; application=geotiff; profile=cloud-optimized",
            }
        inc = math.radians(self.incidence_angle)
        return {
            **common,
            "qualified": False,
            "sourceIdentifier": ident,
            "parentIdentifier": ident,
            "archiveIdentifier": ident,
            "acquisitionStation": ("SE1", "FR1", "KIR", "TLS")[self.key % 4],
            "archivingCenter": "FR1",
            "productCategory": "image",
            "spectralRange": "VISIBLE",
            "processingLevel": "SENSOR",
            "productionStatus": "ARCHIVED",
            "productType": "mono",
            "incidenceAngleAcrossTrack": round(math.degrees(math.asin(math.sin(inc) * 0.8)), 6),
            "incidenceAngleAlongTrack": round(math.degrees(math.asin(math.sin(inc) * 0.6)), 6),
            "format": "image/jp2",
            "organisationName": "AIRBUS DS GEO",
            "processingCenter": "MOC",
        }
