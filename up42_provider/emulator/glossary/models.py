"""Glossary records of today's generation, derived from the one world (``world.collections``/``products``).

A v2 data product is the 2023 data product: the same id, so an order placed with either
generation's glossary is the same kind of order. Products the 2023 API marks as not integrated
are listed without ``id`` (the 4.x SDK cannot order a product without one).

EULAs: one per producer (what ``dataProducts[].eulaId`` points to), the processing EULA
(:data:`PROCESSING_EULA`) and one per process (its ``eula-id``), all accepted for the emulator's
account. ``GlossaryStore.accept`` (``accepted=False``) lets tests and other domains model an EULA
that is not accepted (a process whose EULA is not accepted ends its jobs ``unlicensed``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from up42_provider.emulator.http import ApiError
from up42_provider.emulator.world.collections import (
    CREATED,
    HOSTS,
    PRODUCERS,
    SPECS,
    WORLD_NS,
    CollectionSpec,
)
from up42_provider.emulator.world.products import PRODUCT_SPECS, ProductSpec

if TYPE_CHECKING:
    from up42_provider.emulator.state import EmulatorState

PROCESSING_EULA = "up42-processing"


def eula_id(name: str) -> str:
    """The fixed id of the EULA called ``name`` (a producer name or :data:`PROCESSING_EULA`)."""
    return str(uuid.uuid5(WORLD_NS, f"eula:{name}"))


def product_name(p: ProductSpec) -> str:
    return f"{p.collection}-{p.title.lower().replace(' ', '-')}"


def product_id(p: ProductSpec) -> str:
    """The data product id, the same as the 2023 ``/data-products`` id."""
    return str(uuid.uuid5(WORLD_NS, f"data-product:{p.collection}:{p.title}"))


def _providers(spec: CollectionSpec) -> list[dict[str, Any]]:
    producer, host = PRODUCERS[spec.producer], HOSTS[spec.host]
    entries = [
        {
            "name": producer["name"],
            "title": producer["title"],
            "description": producer["description"],
            "roles": ["PRODUCER"],
        },
        {"name": host["name"], "title": host["title"], "description": host["description"], "roles": ["HOST"]},
    ]
    return entries


def v2_collection(spec: CollectionSpec) -> dict[str, Any]:
    """One ``/v2/collections`` entry (only the keys the 4.x SDK accepts in nested objects)."""
    products = []
    for p in PRODUCT_SPECS:
        if p.collection != spec.name:
            continue
        entry: dict[str, Any] = {
            "name": product_name(p),
            "title": p.title,
            "description": f"{spec.title} {p.title}",
        }
        if p.integrated:
            entry["id"] = product_id(p)
        entry["eulaId"] = eula_id(spec.producer)
        products.append(entry)
    return {
        "name": spec.name,
        "title": spec.title,
        "description": spec.description,
        "type": spec.type,
        "integrations": list(spec.integrations),
        "providers": _providers(spec),
        "dataProducts": products,
        "metadata": {
            "productType": "OPTICAL",
            "resolutionClass": spec.resolution_class,
            "resolutionValue": {"minimum": spec.resolution, "maximum": spec.resolution},
        },
    }


V2_COLLECTIONS: list[dict[str, Any]] = [v2_collection(s) for s in SPECS.values()]
SORT_FIELDS = ("name", "title", "description", "type")


@dataclass
class Eula:
    id: str
    name: str
    title: str
    accepted: bool
    updated_at: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "title": self.title,
            "isAccepted": self.accepted,
            "createdAt": CREATED,
        }


class GlossaryStore:
    """The EULAs and their acceptance by the emulator's account (the glossary itself is static)."""

    def __init__(self, state: EmulatorState) -> None:
        self._state = state
        self.eulas: dict[str, Eula] = {}
        for name, title in (
            *((p["name"], f"{p['title']} licence") for p in PRODUCERS.values()),
            (PROCESSING_EULA, "UP42 processing terms"),
        ):
            self.eulas[eula_id(name)] = Eula(id=eula_id(name), name=name, title=title, accepted=True)
        # Each process names its own EULA (``eula-id`` of its description); the SDK reads it here.
        from up42_provider.emulator.processing.models import PROCESSES  # processing imports storage

        for process in PROCESSES.values():
            self.eulas[process.eula_id] = Eula(
                id=process.eula_id, name=process.id, title=f"{process.title} EULA", accepted=True
            )

    def eula(self, eula: str) -> Eula:
        found = self.eulas.get(str(eula))
        if found is None:
            raise ApiError(404, f"EULA {eula} not found", title="EULA_NOT_FOUND")
        return found

    def accept(self, eula: str, accepted: bool = True) -> None:
        """Record the account accepting (or, with ``accepted=False``, revoking) an EULA."""
        record = self.eula(eula)
        record.accepted = accepted
        record.updated_at = self._state.clock.now()

    def advance(self, now: datetime) -> None:
        """EULAs change only when accepted or revoked."""
