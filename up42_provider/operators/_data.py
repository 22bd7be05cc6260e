"""What the data operators (download, quicklooks, upload) share: destinations, Airflow Assets,
manifests for idempotent unpacking, bounded thread pools and XCom input coercion (ids:
:func:`up42_provider.utils.ids.parse_ids`).

Bytes always move through :mod:`up42_provider.transfer`; nothing here opens a socket itself.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from airflow.sdk import Asset, AssetAlias, BaseOperator

from up42_provider.hooks.up42 import UP42Hook
from up42_provider.operators._common import as_positive_int, reject_typos
from up42_provider.transfer import TransferError, targets

if TYPE_CHECKING:
    from airflow.sdk import Context

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_MAX_WORKERS = 4


# -- destinations -------------------------------------------------------------------------------
def resolve_destination(destination: Any, conn_id: str | None = None) -> targets.Location:
    """``Path`` for local folders (also ``file://``), else an ``ObjectStoragePath`` with ``conn_id``."""
    if destination is None or str(destination).strip() == "":
        raise ValueError("destination is required, e.g. 's3://bucket/prefix' or 'file:///data/up42'")
    if conn_id and isinstance(destination, str) and "://" in destination:
        from airflow.sdk import ObjectStoragePath

        path = ObjectStoragePath(destination, conn_id=conn_id)
        return targets.resolve(path)
    return targets.resolve(destination)


def asset_uri(destination: Any) -> str:
    """The URI of the Airflow Asset for a destination: no connection id, no trailing slash.

    Pure string work (no connection lookup), so it is safe when the DAG is parsed. Local paths
    become ``file://`` URIs (:func:`~up42_provider.transfer.targets.public_uri`).
    """
    text = destination if isinstance(destination, Path) else str(destination).strip()
    uri = targets.public_uri(text)
    return uri if uri.endswith(":///") else uri.rstrip("/")


def conn_in_uri(value: Any) -> str | None:
    """The Airflow connection id written into an object URI (``s3://conn@bucket/key``), if any."""
    text = str(value or "").strip()
    if "://" not in text:
        return None
    netloc = urlsplit(text).netloc
    if "@" not in netloc:
        return None
    return netloc.rsplit("@", 1)[0] or None


def is_templated(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def write_bytes(location: targets.Location, data: bytes) -> str:
    """Write a small file atomically (local rename / aborted multipart on failure)."""
    writer = targets.open_writer(location, size_hint=len(data))
    try:
        writer.write(data)
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    return targets.public_uri(location)


def read_json(uri: str, conn_id: str | None = None) -> Any:
    location = resolve_destination(uri, conn_id)
    if isinstance(location, Path):
        return json.loads(location.read_text())
    return json.loads(location.fs.cat_file(location.path).decode())


# -- parallelism --------------------------------------------------------------------------------
def run_all(fn: Callable[[T], R], items: Sequence[T], max_workers: int, what: str) -> list[R]:
    """``fn`` over ``items`` with at most ``max_workers`` threads; results in input order.

    Every item is attempted (finished ones stay, so a re-run only does the rest); then the only
    failure is re-raised, or a TransferError naming all of them.
    """
    if not items:
        return []
    with ThreadPoolExecutor(
        max_workers=max(1, min(max_workers, len(items))), thread_name_prefix="up42"
    ) as pool:
        futures = [pool.submit(fn, item) for item in items]
    errors = [error for f in futures if (error := f.exception()) is not None]
    if len(errors) == 1:
        raise errors[0]
    if errors:
        summary = "; ".join(str(e) for e in errors[:5])
        raise TransferError(f"{len(errors)} of {len(items)} {what} failed: {summary}") from errors[0]
    return [f.result() for f in futures]


# -- inputs -------------------------------------------------------------------------------------
def flat_uris(value: Any, name: str) -> list[str]:
    """File/folder URIs from XCom: one string, nested lists, or dicts of lists (any order kept)."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return flat_uris(json.loads(text), name)
        return [text] if text else []
    if isinstance(value, os.PathLike):
        return [os.fspath(value)]
    if isinstance(value, Mapping):
        return [u for v in value.values() for u in flat_uris(v, name)]
    if isinstance(value, Iterable):
        return list(dict.fromkeys(u for v in value for u in flat_uris(v, name)))
    raise ValueError(f"{name} must be URIs (strings or lists of strings), got {type(value).__name__}")


# -- signatures ---------------------------------------------------------------------------------
# -- the base operator --------------------------------------------------------------------------
class UP42DataOperator(BaseOperator):
    """Destination handling and Airflow Asset emission shared by the data operators.

    :param destination: folder/prefix as an ``ObjectStoragePath`` URI (``s3://bucket/prefix``,
        ``gs://...``, ``file:///data/up42``) or a local path. Templated.
    :param destination_conn_id: Airflow connection of the object store (e.g. ``aws_default``);
        may also be written into the URI (``s3://aws_default@bucket/prefix``).
    :param max_workers: files/archives transferred in parallel.
    :param emit_asset: publish an Airflow Asset event for the destination when the task succeeds.
        A literal destination becomes ``Asset("<scheme>://<bucket>/<prefix>")`` in ``outlets``
        (``file:///...`` for local folders) - schedule downstream DAGs with
        ``schedule=Asset("s3://bucket/prefix")``. A templated destination is only known at run
        time: pass ``asset_alias`` and schedule on ``AssetAlias("<that name>")`` instead.
    :param asset_alias: name of an ``AssetAlias`` the destination's Asset is attached to at run
        time (needed for templated destinations, optional otherwise).
    :param up42_conn_id: Airflow connection of type ``up42``.
    """

    ui_color = "#2e7d32"
    ui_fgcolor = "#ffffff"

    def __init__(
        self,
        *,
        destination: Any = None,
        destination_conn_id: str | None = None,
        max_workers: int | str = DEFAULT_MAX_WORKERS,
        emit_asset: bool = True,
        asset_alias: str | None = None,
        up42_conn_id: str = UP42Hook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        reject_typos(type(self), kwargs)
        if destination is None or (isinstance(destination, str) and not destination.strip()):
            raise ValueError(
                f"{type(self).__name__}: destination is required, e.g. 's3://bucket/prefix' or "
                "'file:///data/up42'"
            )
        given = kwargs.pop("outlets", None)
        outlets = list(given) if isinstance(given, (list, tuple)) else ([given] if given is not None else [])
        self._static_asset: Asset | None = None
        if emit_asset and destination is not None and not is_templated(destination):
            uri = asset_uri(destination)
            self._static_asset = Asset(uri=uri, name=uri)
            outlets.append(self._static_asset)
        self._alias = AssetAlias(name=asset_alias) if (emit_asset and asset_alias) else None
        if self._alias is not None:
            outlets.append(self._alias)
        super().__init__(outlets=outlets, **kwargs)
        self.destination = destination
        self.destination_conn_id = destination_conn_id
        self.max_workers = max_workers
        self.emit_asset = emit_asset
        self.asset_alias = asset_alias
        self.up42_conn_id = up42_conn_id

    @cached_property
    def hook(self) -> UP42Hook:
        return UP42Hook(up42_conn_id=self.up42_conn_id)

    def root(self) -> targets.Location:
        return resolve_destination(self.destination, self.storage_conn_id)

    @property
    def storage_conn_id(self) -> str | None:
        """The object store's connection: ``destination_conn_id``, else the one written into the
        destination URI (``s3://aws_default@bucket``). Returned URIs never carry it, so readers
        of them (plots, uploads) are given it separately."""
        return self.destination_conn_id or conn_in_uri(self.destination)

    def workers(self) -> int:
        return as_positive_int(self.max_workers, "max_workers") or DEFAULT_MAX_WORKERS

    def publish(self, context: Context, extra: dict[str, Any]) -> None:
        """Attach ``extra`` (small, JSON) to the destination's Asset event."""
        if not self.emit_asset:
            return
        if self._static_asset is None and self._alias is None:
            self.log.info("No Asset event: the destination is templated; pass asset_alias to get one")
            return
        events = context.get("outlet_events")
        if events is None:  # executed outside a task runner (unit tests)
            return
        uri = asset_uri(self.destination)
        # Extras live in Airflow's database: keep them small (counts, at most 50 ids).
        extra = {"destination": uri, **{k: v[:50] if isinstance(v, list) else v for k, v in extra.items()}}
        if self._static_asset is not None:
            events[self._static_asset].extra = extra
        if self._alias is not None:
            events[self._alias].add(Asset(uri=uri, name=uri), extra=extra)
        self.log.info("Asset event for %s: %s", uri, json.dumps(extra, default=str)[:500])
