"""Drive one flow of the unmodified up42-py 4.3.0 against a UP42 emulator; run with the side venv's python.

    UP42_EMULATOR_USERNAME=... UP42_EMULATOR_PASSWORD=... \\
        .venv-up42-430/bin/python tests/compat/current/driver.py FLOW --base URL --workdir DIR --out FILE

The only patch is the three functions of ``up42.host`` (``endpoint``, ``token_endpoint``,
``user_info_endpoint``), pointed at one server that serves both the auth and the API paths, plus
``UP42_DISABLE_VERSION_CHECK=true`` so that importing the SDK asks no registry. Everything else is the
SDK's own code. The driver only observes: a logging handler on urllib3's connection pool records every
HTTP exchange (method, path, query, status) and one on ``up42.order`` records what ``Order.track`` saw.
It writes one JSON document to ``--out``: ``{"flow", "ok", "result", "error", "requests"}``.

This file runs outside the project's environment: it imports nothing but the standard library and the
SDK (and the SDK's own dependencies), never ``up42_provider`` or ``tests``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import re
import signal
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib import parse

os.environ["UP42_DISABLE_VERSION_CHECK"] = "true"  # before the first import of up42

import up42
from up42 import host, processing
from up42 import processing_templates as templates

TOKEN_PATH = "/realms/public/protocol/openid-connect/token"
USERINFO_PATH = "/realms/public/protocol/openid-connect/userinfo"
AOI = {
    "type": "Polygon",
    "coordinates": [[[13.37, 52.50], [13.42, 52.50], [13.42, 52.53], [13.37, 52.53], [13.37, 52.50]]],
}
# Tasking over ~1 100 km²: large enough that a provider asks for a feasibility study first.
TASKING_AOI = {
    "type": "Polygon",
    "coordinates": [[[13.2, 52.35], [13.7, 52.35], [13.7, 52.65], [13.2, 52.65], [13.2, 52.35]]],
}
POLL = 0.2  # seconds between status polls (the driver's own and Order.track's)
DEADLINE = 120.0  # seconds any one wait of the driver may take
FLOW_DEADLINE = 300  # seconds a whole flow may take: Order.track itself polls without a limit
SECRET_QUERY = re.compile(r"sig|signature|token|key|credential|expires|x-goog|x-amz|policy", re.I)
PREFERRED_ARCHIVE = ("phr", "spot")  # priced scenes; open data (sentinel-2) may cost nothing
PREFERRED_TASKING = ("phr-tasking", "spot-tasking")


# -- observation --------------------------------------------------------------------------------------


class _Trace(logging.Handler):
    """Every request urllib3 sends (its debug line after each response), secrets in queries redacted."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.requests: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args
        if not isinstance(args, tuple) or len(args) != 8 or "%s://%s:%s" not in str(record.msg):
            return
        target = parse.urlsplit(str(args[4]))
        query = {
            key: ("<redacted>" if SECRET_QUERY.search(key) else values)
            for key, values in parse.parse_qs(target.query, keep_blank_values=True).items()
        }
        self.requests.append({"method": args[3], "path": target.path, "query": query, "status": args[6]})


class _OrderLog(logging.Handler):
    """The status of every poll ``Order.track`` makes, from the line it logs ("Order is %s! - %s")."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.statuses: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == "Order is %s! - %s" and isinstance(record.args, tuple):
            self.statuses.append(str(record.args[0]).split(": ", 1)[0])  # "PLACED: <subStatus>" -> "PLACED"


TRACE = _Trace()
ORDER_LOG = _OrderLog()


def _observe() -> None:
    pool = logging.getLogger("urllib3.connectionpool")
    pool.setLevel(logging.DEBUG)
    pool.addHandler(TRACE)
    logging.getLogger("up42.order").addHandler(ORDER_LOG)


def _point_at(base: str) -> None:
    """The one patch: the three host functions, looked up by the SDK at every call."""
    host.endpoint = lambda path: f"{base}{path}"
    host.token_endpoint = lambda: f"{base}{TOKEN_PATH}"
    host.user_info_endpoint = lambda: f"{base}{USERINFO_PATH}"


# -- helpers ------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Context:
    base: str
    username: str
    password: str
    workdir: Path

    def login(self) -> None:
        up42.authenticate(username=self.username, password=self.password)


def _error(exc: BaseException) -> dict[str, Any]:
    kind = type(exc)
    out: dict[str, Any] = {"type": f"{kind.__module__}.{kind.__qualname__}", "message": str(exc)[:3000]}
    status = getattr(exc, "status_code", None) or getattr(getattr(exc, "response", None), "status_code", None)
    if status is not None:
        out["status"] = status
    return out


def _expect_error(call: Callable[[], Any]) -> dict[str, Any] | None:
    """Run ``call``; the error it raised (``None`` if it raised nothing)."""
    try:
        call()
    except Exception as exc:
        return _error(exc)
    return None


def _wait(what: str, check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {DEADLINE} s")
        time.sleep(POLL)


def _pick(collections: list[Any], preferred: tuple[str, ...]) -> Any:
    by_name = {c.name: c for c in collections}
    for name in preferred:
        if name in by_name:
            return by_name[name]
    if not collections:
        raise LookupError("the glossary lists no collection of that kind with an orderable data product")
    return collections[0]


def _orderable(kind: up42.CollectionType) -> list[Any]:
    """Collections of ``kind`` that a user can order from: a data product with an id (and a host)."""
    found = []
    for collection in up42.ProductGlossary.get_collections(collection_type=kind):
        products = [p for p in collection.data_products if p.id]
        hosts = [p for p in collection.providers if "HOST" in p.roles]
        if products and (hosts or kind == up42.CollectionType.TASKING):
            found.append(collection)
    return found


def _archive_choice() -> tuple[Any, Any, Any]:
    collection = _pick(
        [c for c in _orderable(up42.CollectionType.ARCHIVE) if "SEARCH_AVAILABLE" in c.integrations],
        PREFERRED_ARCHIVE,
    )
    product = next(p for p in collection.data_products if p.id)
    provider = next(p for p in collection.providers if "HOST" in p.roles)
    return collection, product, provider


def _feature_collection(geometry: dict = AOI) -> dict:
    return {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": {}, "geometry": geometry}],
    }


def _first_scene(provider: Any, collection: Any) -> Any:
    scenes = provider.search(
        intersects=AOI,
        collections=[collection.name],
        start_date="2022-01-01",
        end_date="2022-12-31",
        query={"cloudCoverage": {"lte": 30}},
    )
    return next(iter(scenes))


def _scene_dict(scene: Any) -> dict[str, Any]:
    return {
        "id": scene.id,
        "collection": scene.collection,
        "constellation": scene.constellation,
        "producer": scene.producer,
        "datetime": scene.datetime or scene.start_datetime,
        "cloud_coverage": scene.cloud_coverage,
        "bbox": scene.bbox,
        "geometry": scene.geometry,
    }


def _estimate_dict(estimate: Any) -> dict[str, Any]:
    return {
        "credits": estimate.credits,
        "size": estimate.size,
        "unit": estimate.unit,
        "items": [{"kind": type(i).__name__, **dataclasses.asdict(i)} for i in estimate.items],
    }


def _order_dict(order: Any) -> dict[str, Any]:
    details = order.details
    return {
        "id": order.id,
        "display_name": order.display_name,
        "status": order.status,
        "workspace_id": order.workspace_id,
        "account_id": order.account_id,
        "type": order.type,
        "data_product_id": order.data_product_id,
        "tags": order.tags,
        "budget_id": order.budget_id,
        "details": details and {"kind": type(details).__name__, **dataclasses.asdict(details)},
        "sub_status": details and details.sub_status,
    }


def _one_order(references: list[Any]) -> Any:
    """The order of a one-feature batch (an ``OrderReference``; an ``OrderError`` has no id)."""
    placed = [r for r in references if hasattr(r, "id")]
    if len(placed) != 1:
        raise AssertionError(f"one order expected from one feature, got {references}")
    return placed[0].order


def _place_archive(tags: list[str], budget_id: str | None = None) -> tuple[Any, Any, dict[str, Any]]:
    """Glossary -> host search -> BatchOrderTemplate (estimate) -> place; the order and what led to it."""
    collection, product, provider = _archive_choice()
    scene = _first_scene(provider, collection)
    template = up42.BatchOrderTemplate(
        data_product_id=product.id,
        display_name="sdk430 archive order",
        features=_feature_collection(),
        params={"id": scene.id},
        tags=tags,
        budget_id=budget_id,
    )
    references = template.place()
    order = _one_order(references)
    facts = {
        "collection": collection.name,
        "data_product_id": product.id,
        "host": provider.name,
        "scene": _scene_dict(scene),
        "estimate": _estimate_dict(template.estimate),
        "references": [dataclasses.asdict(r) for r in references],
        "placed": _order_dict(order),
    }
    return order, template, facts


def _order_items(order_id: str) -> list[Any]:
    search = up42.stac_client().search(
        filter={"op": "=", "args": [{"property": "order_id"}, order_id]}, filter_lang="cql2-json"
    )
    return list(search.items())


def _item_dict(item: Any) -> dict[str, Any]:
    return {
        "id": item.id,
        "collection_id": item.collection_id,
        "self_href": item.get_self_href(),
        "order_id": item.up42.order_id,
        "asset_id": item.up42.asset_id,
        "job_id": item.up42.job_id,
        "workspace_id": item.up42.workspace_id,
        "title": item.up42.title,
        "tags": item.up42.tags,
        "properties": item.properties,
        "assets": {
            k: {"href": a.href, "type": a.media_type, "roles": a.roles} for k, a in item.assets.items()
        },
    }


def _download(item: Any, directory: Path) -> dict[str, Any]:
    """Download the raster (else the first data) asset through ``pystac.Asset.file``, the SDK's extension."""
    assets = list(item.assets.values())
    asset = next(
        (a for a in assets if "tiff" in (a.media_type or "")),
        next((a for a in assets if "data" in (a.roles or [])), assets[0]),
    )
    image = asset.file
    if image is None:
        raise AssertionError(f"asset href {asset.href} is not under the API base {host.endpoint('')}")
    directory.mkdir(parents=True, exist_ok=True)
    path = Path(image.download(directory))
    data = path.read_bytes()
    return {
        "href": asset.href,
        "path": str(path.resolve()),
        "name": path.name,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "magic": data[:4].hex(),
    }


def _track_order(order: Any) -> list[str]:
    start = len(ORDER_LOG.statuses)
    order.track(report_time=POLL)
    return ORDER_LOG.statuses[start:]


def _delivered(tags: list[str]) -> tuple[Any, list[Any], dict[str, Any]]:
    order, _template, facts = _place_archive(tags)
    facts["track"] = _track_order(order)
    items: list[Any] = []

    def found() -> bool:
        items[:] = _order_items(order.id)
        return bool(items)

    _wait("the order's delivery in storage", found)
    return order, items, facts


# -- flows --------------------------------------------------------------------------------------------


def flow_probe(ctx: Context) -> dict[str, Any]:
    """The harness itself: which SDK runs, and that the patch points it at the emulator."""
    return {
        "version": up42.__version__,
        "endpoint": host.endpoint("/x"),
        "token_endpoint": host.token_endpoint(),
        "user_info_endpoint": host.user_info_endpoint(),
        "python": list(sys.version_info[:3]),
    }


def flow_login(ctx: Context) -> dict[str, Any]:
    ctx.login()
    return {"workspace_id": up42.base.workspace.id}


def flow_wrong_password(ctx: Context) -> dict[str, Any]:
    wrong = _expect_error(lambda: up42.authenticate(username=ctx.username, password=ctx.password + "-wrong"))
    unknown = _expect_error(
        lambda: up42.authenticate(username="nobody-" + ctx.username, password=ctx.password)
    )
    return {"wrong_password": wrong, "unknown_user": unknown}


def flow_glossary(ctx: Context) -> dict[str, Any]:
    ctx.login()
    every = list(up42.ProductGlossary.get_collections())
    archive = [
        c.name for c in up42.ProductGlossary.get_collections(collection_type=up42.CollectionType.ARCHIVE)
    ]
    tasking = [
        c.name for c in up42.ProductGlossary.get_collections(collection_type=up42.CollectionType.TASKING)
    ]
    by_name_desc = [
        c.name for c in up42.ProductGlossary.get_collections(sort_by=up42.CollectionSorting.name.desc)
    ]
    _collection, product, _provider = _archive_choice()
    return {
        "collections": [
            {
                "name": c.name,
                "title": c.title,
                "type": c.type.value,
                "integrations": c.integrations,
                "providers": [{"name": p.name, "roles": p.roles} for p in c.providers],
                "data_products": [
                    {"name": p.name, "id": p.id, "eula_id": p.eula_id} for p in c.data_products
                ],
                "metadata": c.metadata and dataclasses.asdict(c.metadata),
            }
            for c in every
        ],
        "archive": archive,
        "tasking": tasking,
        "by_name_desc": by_name_desc,
        "schema": product.schema,
        "schema_product": product.id,
    }


def flow_search(ctx: Context) -> dict[str, Any]:
    """Legacy host search over two years, read to the end (rel=next paging), then a quicklook."""
    ctx.login()
    collection, _product, provider = _archive_choice()
    scenes = list(
        provider.search(
            intersects=AOI,
            collections=[collection.name],
            start_date="2022-01-01",
            end_date="2023-12-31",
            query={"cloudCoverage": {"lte": 60}},
        )
    )
    quicklook_dir = ctx.workdir / "quicklook"
    quicklook_dir.mkdir(parents=True, exist_ok=True)
    path = Path(scenes[0].quicklook.download(quicklook_dir))
    invalid = _expect_error(
        lambda: list(provider.search(intersects=AOI, collections=["sdk430-no-such-collection"]))
    )
    return {
        "collection": collection.name,
        "host": provider.name,
        "scenes": [_scene_dict(s) for s in scenes],
        "quicklook": {
            "scene": scenes[0].id,
            "name": path.name,
            "size": path.stat().st_size,
            "magic": path.read_bytes()[:3].hex(),
        },
        "invalid_search": invalid,
    }


def flow_catalog_stac(ctx: Context) -> dict[str, Any]:
    """The STAC catalog client (the successor of host search): pystac-client over /v2/catalog/."""
    ctx.login()
    collection, _product, _provider = _archive_choice()
    client = up42.catalog_client()
    search = client.search(
        collections=[collection.name], intersects=AOI, datetime="2022-01-01/2022-12-31", max_items=30
    )
    items = list(search.items())
    return {
        "collection": collection.name,
        "conforms_to": client.get_conforms_to(),
        "items": [
            {
                "id": i.id,
                "collection": i.collection_id,
                "datetime": (i.datetime or i.common_metadata.start_datetime).isoformat(),
                "bbox": i.bbox,
            }
            for i in items
        ],
    }


def flow_archive(ctx: Context) -> dict[str, Any]:
    """Estimate, place, track to FULFILLED, find the delivery in storage, download it, update the item."""
    ctx.login()
    order, items, facts = _delivered(["sdk430", "archive"])
    fulfilled = up42.Order.get(order.id)
    item = items[0]
    facts["fulfilled"] = _order_dict(fulfilled)
    facts["workspace_id"] = up42.base.workspace.id
    facts["items"] = [_item_dict(i) for i in items]
    facts["download"] = _download(item, ctx.workdir / "asset")
    item.up42.title = "sdk430 title"
    item.up42.tags = ["sdk430", "updated"]
    item.update()
    facts["updated"] = _item_dict(item)
    facts["reread"] = [_item_dict(i) for i in up42.stac_client().get_items(item.id)]
    facts["second_update"] = _expect_error(item.update)  # the PATCH answer kept collection and self link
    return facts


def flow_orders(ctx: Context) -> dict[str, Any]:
    """Order.all with each filter, Order.update (merge-patch tags), paging of the list."""
    ctx.login()
    workspace = up42.base.workspace.id
    first, _, first_facts = _place_archive(["sdk430", "list-a"])
    second, _, _ = _place_archive(["sdk430", "list-b"])
    _track_order(first)
    _track_order(second)
    updated = up42.Order.update(second.id, tags=["sdk430", "list-b", "relabelled"])

    def ids(**filters: Any) -> list[str]:
        return [o.id for o in up42.Order.all(**filters)]

    return {
        "ids": [first.id, second.id],
        "first": first_facts["placed"],
        "updated": _order_dict(updated),
        "all": ids(),
        "workspace": ids(workspace_id=workspace),
        "archive": ids(order_type="ARCHIVE"),
        "tasking": ids(order_type="TASKING"),
        "tag_a": ids(tags=["list-a"]),
        "tag_relabelled": ids(tags=["relabelled"]),
        "fulfilled": ids(status=["FULFILLED"]),
        "created": ids(status=["CREATED"]),
        "by_ids": ids(ids=[first.id]),
        "display_name": ids(display_name="sdk430 archive"),
        "newest_first": [
            {"id": o.id, "created_at": o.info.get("createdAt")}
            for o in up42.Order.all(sort_by=up42.OrderSorting.created_at.desc)
        ],
    }


def _fill_required(schema: dict) -> dict[str, Any]:
    """Tasking params from the product's JSON schema: every required field but the geometry."""
    definitions = schema.get("definitions", {}) or schema.get("$defs", {})
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    params: dict[str, Any] = {}
    for name in schema.get("required", []):
        if name in ("geometry", "aoi"):
            continue
        spec = dict(schema["properties"][name])
        for ref in spec.pop("allOf", []):
            spec.update(definitions.get(ref.get("$ref", "").split("/")[-1], {}))
        choices = [c["const"] for c in spec.get("anyOf", []) + spec.get("oneOf", []) if "const" in c]
        if spec.get("default") is not None:
            params[name] = spec["default"]
        elif spec.get("enum") or choices:
            params[name] = (spec.get("enum") or choices)[0]
        elif name == "acquisitionStart":
            params[name] = (now + dt.timedelta(days=1)).isoformat().replace("+00:00", "Z")
        elif name == "acquisitionEnd":
            params[name] = (now + dt.timedelta(days=30)).isoformat().replace("+00:00", "Z")
        elif spec.get("type") in ("integer", "number"):
            params[name] = spec.get("maximum", spec.get("minimum", 1))
        elif spec.get("type") == "boolean":
            params[name] = False
        else:
            params[name] = "sdk430 tasking order"
    return params


def flow_tasking(ctx: Context) -> dict[str, Any]:
    """Place a tasking order, choose a feasibility option, accept the quotation, track it, read coverage."""
    ctx.login()
    collection = _pick(_orderable(up42.CollectionType.TASKING), PREFERRED_TASKING)
    product = next(p for p in collection.data_products if p.id)
    params = _fill_required(product.schema)
    template = up42.BatchOrderTemplate(
        data_product_id=product.id,
        display_name="sdk430 tasking order",
        features=_feature_collection(TASKING_AOI),
        params=params,
        tags=["sdk430", "emulator:feasibility"],  # also the emulator's own switch for a manual study
    )
    references = template.place()
    order = _one_order(references)
    seen: list[list[Any]] = []
    decisions: dict[str, Any] = {}

    def step() -> bool:
        current = up42.Order.get(order.id)
        sub = current.details and current.details.sub_status
        if not seen or seen[-1] != [current.status, sub]:
            seen.append([current.status, sub])
        if sub == "FEASIBILITY_WAITING_RESPONSE" and "feasibility" not in decisions:
            undecided = list(up42.FeasibilityStudy.all(order_id=order.id, decision=["NOT_DECIDED"]))
            study = undecided[0]
            study.accept(study.options[0]["id"])
            study.save()
            decisions["feasibility"] = {
                "undecided": [s.id for s in undecided],
                "options": study.options,
                "decision": study.decision,
                "decision_option": study.decision_option and dataclasses.asdict(study.decision_option),
                "accepted": [
                    s.id for s in up42.FeasibilityStudy.all(order_id=order.id, decision=["ACCEPTED"])
                ],
            }
        if sub == "QUOTATION_WAITING_RESPONSE" and "quotation" not in decisions:
            quotation = next(iter(up42.Quotation.all(order_id=order.id, decision=["NOT_DECIDED"])))
            quotation.accept()
            quotation.save()
            decisions["quotation"] = {
                "id": quotation.id,
                "credits_price": quotation.credits_price,
                "decision": quotation.decision,
                "decided_at": quotation.decided_at,
                "order_id": quotation.order_id,
                "by_workspace": [q.id for q in up42.Quotation.all(workspace_id=up42.base.workspace.id)],
            }
        return current.status in ("FULFILLED", "FAILED_PERMANENTLY", "CANCELED")

    _wait("the tasking order's end", step)
    track = _track_order(order)
    coverage = up42.OrderCoverage.get(order.id)
    return {
        "collection": collection.name,
        "data_product_id": product.id,
        "params": params,
        "estimate": _estimate_dict(template.estimate),
        "references": [dataclasses.asdict(r) for r in references],
        "order": _order_dict(up42.Order.get(order.id)),
        "seen": seen,
        "decisions": decisions,
        "track": track,
        "coverage": dataclasses.asdict(coverage),
        "tasking_orders": [o.id for o in up42.Order.all(order_type="TASKING")],
    }


class _PansharpeningWithItems(templates.WorkspaceIdMultiItemTemplate):
    """Pansharpening sent the generic multi-item inputs: a schema error the service must catch."""

    process_id = "pansharpening"


class _NoSuchProcess(templates.WorkspaceIdSingleItemTemplate):
    process_id = "sdk430-no-such-process"


def _job_dict(job: Any) -> dict[str, Any]:
    return {
        "id": job.id,
        "process_id": job.process_id,
        "status": job.status.value,
        "workspace_id": job.workspace_id,
        "credits": job.credits,
        "collection_url": job.collection_url,
        "errors": job.errors and [dataclasses.asdict(e) for e in job.errors],
        "definition": job.definition,
        "created": job.created and job.created.isoformat(),
        "finished": job.finished and job.finished.isoformat(),
    }


def _run_job(template: Any) -> tuple[Any, list[str]]:
    job = template.execute()
    statuses = [job.status.value]

    def done() -> bool:
        current = up42.Job.get(job.id)
        if current.status.value != statuses[-1]:
            statuses.append(current.status.value)
        return current.status in processing.TERMINAL_STATUSES

    _wait(f"job {job.id} to finish", done)
    job.track(wait=1, retries=5)  # returns at once: the job is already terminal
    return job, statuses


def flow_processing(ctx: Context) -> dict[str, Any]:
    """Templates (valid and priced, invalid, unknown), execute, track, results, listing, bulk deletion."""
    ctx.login()
    _order, items, _facts = _delivered(["sdk430", "processing-input"])
    item = items[0]
    valid = templates.Pansharpening(title="sdk430 pansharpening", item=item)
    invalid = _PansharpeningWithItems(title="sdk430 invalid", items=[item])  # 400: schema
    too_long = templates.Pansharpening(title="t" * 1000, item=item)  # 422: semantic
    ghost = item.clone()
    ghost.set_self_href(f"{ctx.base}/v2/assets/stac/collections/{item.collection_id}/items/sdk430-missing")
    missing = templates.Pansharpening(title="sdk430 missing input", item=ghost)  # 422: not in storage
    unknown = _NoSuchProcess(title="sdk430 unknown", item=item)
    out: dict[str, Any] = {
        "input_item": item.get_self_href(),
        "valid": {"is_valid": valid.is_valid, "errors": sorted(e.name for e in valid.errors)},
        "cost": dataclasses.asdict(valid.cost) if hasattr(valid, "cost") else None,
        "invalid": {
            "is_valid": invalid.is_valid,
            "errors": sorted(e.name for e in invalid.errors),
            "has_cost": hasattr(invalid, "cost"),
        },
        "too_long": {
            "is_valid": too_long.is_valid,
            "errors": sorted(e.name for e in too_long.errors),
            "has_cost": hasattr(too_long, "cost"),
        },
        "missing": {
            "is_valid": missing.is_valid,
            "errors": sorted(e.name for e in missing.errors),
            "has_cost": hasattr(missing, "cost"),
        },
        "unknown": {
            "is_valid": unknown.is_valid,
            "errors": sorted(e.name for e in unknown.errors),
            "has_cost": hasattr(unknown, "cost"),
        },
    }
    job, statuses = _run_job(valid)
    second, _ = _run_job(templates.Pansharpening(title="sdk430 pansharpening 2", item=item))
    out["job"] = _job_dict(up42.Job.get(job.id))
    out["statuses"] = statuses
    collection = up42.Job.get(job.id).collection
    results = list(collection.get_items())
    out["collection"] = {"id": collection.id, "job_id": collection.up42.job_id}
    out["results"] = [_item_dict(i) for i in results]
    out["download"] = _download(results[0], ctx.workdir / "result")

    workspace = up42.base.workspace.id

    def ids(**filters: Any) -> list[str]:
        return [j.id for j in up42.Job.all(**filters)]

    finished = [up42.JobStatus.SUCCESSFUL, up42.JobStatus.CAPTURED]
    out["jobs"] = {
        "ids": [job.id, second.id],
        "all": ids(),
        "workspace": ids(workspace_id=workspace),
        "pansharpening": ids(process_id=["pansharpening"]),
        "other_process": ids(process_id=["upsampling-ns"]),
        "finished": ids(status=finished),
        "running": ids(status=[up42.JobStatus.RUNNING]),
        "by_ids": ids(ids=[job.id]),
        "paged": ids(workspace_id=workspace, page_size=1),
        "newest_first": [
            {"id": j.id, "created": j.created.isoformat()}
            for j in up42.Job.all(sort_by=up42.JobSorting.created)
        ],
    }
    result_ids = [i.id for i in results]
    out["partial_deletion"] = (
        _expect_error(up42.BulkDeletion(*result_ids[:1]).delete) if len(result_ids) > 1 else None
    )
    up42.BulkDeletion(*result_ids).delete()
    stac = up42.stac_client()
    out["after_deletion"] = {
        "items": [i.id for i in stac.get_items(*result_ids)],
        "collection": _expect_error(lambda: stac.get_collection(collection.id)),
        "input_still_there": [i.id for i in stac.get_items(item.id)],
    }
    return out


def flow_cancel(ctx: Context) -> dict[str, Any]:
    """Cancel an order while it is CREATED (run against a slow emulator); a second cancel is refused."""
    ctx.login()
    order, _, facts = _place_archive(["sdk430", "cancel"])
    before = up42.Order.get(order.id)
    cancelled = dataclasses.asdict(before.cancel())
    after = up42.Order.get(order.id)
    return {
        "placed": facts["placed"],
        "before": before.status,
        "cancelled": cancelled,
        "after": after.status,
        "track": _expect_error(lambda: after.track(report_time=POLL)),
        "cancel_again": _expect_error(after.cancel),
        "listed_cancelled": [o.id for o in up42.Order.all(status=["CANCELED"])],
    }


def flow_budgets(ctx: Context) -> dict[str, Any]:
    """Budgets, settings and usage; an order booked on a budget raises its usage by the estimate."""
    ctx.login()

    def summary(budget: Any) -> dict[str, Any]:
        return dataclasses.asdict(budget)

    every = [summary(b) for b in up42.Budget.all(include_usage=True)]
    active = [b for b in up42.Budget.all(status=["ACTIVE"])]
    out: dict[str, Any] = {
        "all": every,
        "active": [b.id for b in active],
        "inactive": [b.id for b in up42.Budget.all(status=["INACTIVE"])],
        "by_updated_desc": [
            {"id": b.id, "updated_at": b.updated_at}
            for b in up42.Budget.all(sort_by=up42.BudgetSorting.updated_at.desc)
        ],
        "settings": dataclasses.asdict(up42.BudgetSettings.get()),
    }
    budget = active[0]
    out["budget"] = budget.id
    out["usage_before"] = dataclasses.asdict(budget.get_usage())
    order, _template, facts = _place_archive(["sdk430", "budget"], budget_id=budget.id)
    facts["track"] = _track_order(order)
    out["order"] = _order_dict(up42.Order.get(order.id))
    out["estimate"] = facts["estimate"]
    out["usage_after"] = dataclasses.asdict(up42.Budget.get(budget.id).get_usage())
    out["budget_after"] = summary(up42.Budget.get(budget.id, include_usage=True))
    out["orders_on_budget"] = [o.id for o in up42.Order.all(budget_ids=[budget.id])]
    cleared = up42.Order.update(order.id, budget_id=None)
    out["cleared_budget"] = cleared.budget_id
    return out


FLOWS: dict[str, Callable[[Context], dict[str, Any]]] = {
    name.removeprefix("flow_"): fn for name, fn in list(globals().items()) if name.startswith("flow_")
}


def _out_of_time(_signum: int, _frame: Any) -> None:
    raise TimeoutError(f"the flow did not finish within {FLOW_DEADLINE} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("flow", choices=sorted(FLOWS))
    parser.add_argument("--base", required=True, help="the emulator's base URL, e.g. http://127.0.0.1:8042")
    parser.add_argument("--workdir", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    ctx = Context(
        base=args.base.rstrip("/"),
        username=os.environ["UP42_EMULATOR_USERNAME"],
        password=os.environ["UP42_EMULATOR_PASSWORD"],
        workdir=args.workdir,
    )
    _observe()
    _point_at(ctx.base)
    report: dict[str, Any] = {"flow": args.flow, "ok": False, "result": None, "error": None}
    signal.signal(signal.SIGALRM, _out_of_time)
    signal.alarm(FLOW_DEADLINE)
    try:
        report["result"] = FLOWS[args.flow](ctx)
        report["ok"] = True
    except Exception as exc:
        report["error"] = _error(exc)
        report["error"]["traceback"] = traceback.format_exc(limit=12)[-4000:]
    report["requests"] = TRACE.requests
    text = json.dumps(report, default=str, indent=1)
    args.out.write_text(text.replace(ctx.password, "<password>"))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
