"""The data operators run with ``execute`` in pytest's process (emulator + moto over real HTTP):
byte-exact results, idempotent re-runs, URL refresh, layouts, input coercion and plots."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from airflow.sdk import Asset
from PIL import Image

from up42_provider.operators._data import asset_uri, flat_uris
from up42_provider.operators.download import UP42DownloadAssetsOperator, UP42DownloadJobResultsOperator
from up42_provider.operators.quicklooks import UP42DownloadQuicklooksOperator
from up42_provider.operators.upload import UP42UploadToBucketOperator, archive_suffix
from up42_provider.utils import parameters as P

from .conftest import AWS_CONN_ID, BERLIN, BUCKET, S3, Up42, archive_members, execute, local


def files_below(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_assets_unpacked_byte_identical_and_rerun_downloads_nothing(up42: Up42, tmp_path: Path):
    order_id = up42.orders[0]
    (asset,) = up42.assets(order_id)
    op = UP42DownloadAssetsOperator(task_id="dl", order_ids=[order_id], destination=f"file://{tmp_path}")
    before = up42.downloads
    uris = execute(op)
    assert up42.downloads == before + 1
    folder = tmp_path / f"asset_{asset['id']}"
    expected = archive_members(up42.asset_blob(asset["id"]))
    assert sorted(local(u).relative_to(folder).as_posix() for u in uris) == sorted(expected)
    for rel, data in expected.items():
        assert (folder / rel).read_bytes() == data
    assert {"data.json"} < set(expected) and any(rel.endswith(".tif") for rel in expected)
    # second run: the manifest proves the unpack complete, no signed URL is even requested
    again = execute(
        UP42DownloadAssetsOperator(task_id="dl", asset_ids=asset["id"], destination=str(tmp_path))
    )
    assert again == uris and up42.downloads == before + 1
    # a file removed by hand is noticed and the archive fetched again
    local(uris[-1]).unlink()
    assert execute(op) == uris and up42.downloads == before + 2


def test_comma_separated_order_ids_are_two_orders(up42: Up42, tmp_path: Path):
    """As for UP42OrderFulfilledSensor: "a,b" once was looked up as one order named "a,b"."""
    first, second = up42.orders
    op = UP42DownloadAssetsOperator(task_id="dl", order_ids=f"{first}, {second}", destination=str(tmp_path))
    wanted = [a["id"] for order_id in (first, second) for a in up42.assets(order_id)]
    assert [a["id"] for a in op.select_assets()] == wanted and len(wanted) == 2


def test_expired_signed_url_is_renewed(up42: Up42, tmp_path: Path, monkeypatch):
    order_id = up42.orders[1]
    (asset,) = up42.assets(order_id)
    state = up42.server.state
    calls = []
    original = type(up42.hook).get_asset_download_url

    def stale_then_fresh(self, asset_id):
        url = original(self, asset_id)
        calls.append(url)
        if len(calls) == 1:  # the first URL expires before it is used
            state.clock.advance(state.config.signed_url_lifetime + 60)
        return url

    monkeypatch.setattr(type(up42.hook), "get_asset_download_url", stale_then_fresh)
    op = UP42DownloadAssetsOperator(
        task_id="dl", asset_ids=[asset["id"]], destination=str(tmp_path), unpack=False
    )
    (uri,) = execute(op)
    assert len(calls) == 2
    assert local(uri).read_bytes() == up42.asset_blob(asset["id"])
    assert local(uri).parent.name == f"asset_{asset['id']}"


def test_asset_archives_to_s3_kept_and_skipped_on_rerun(up42: Up42, s3: S3):
    prefix = s3.prefix()
    order_ids = up42.orders
    op = UP42DownloadAssetsOperator(
        task_id="dl",
        order_ids={"order_ids": order_ids},
        destination=f"s3://{BUCKET}/{prefix}",
        destination_conn_id=AWS_CONN_ID,
        unpack="false",
        max_workers=2,
    )
    before = up42.downloads
    uris = execute(op)
    assert len(uris) == 2 and all(u.startswith(f"s3://{BUCKET}/{prefix}/asset_") for u in uris)
    assert up42.downloads == before + 2
    for order_id in order_ids:
        (asset,) = up42.assets(order_id)
        keys = s3.keys(f"{prefix}/asset_{asset['id']}/")
        (key,) = [k for k in keys if not k.endswith(".up42-verified.json")]
        assert s3.read(key) == up42.asset_blob(asset["id"])
    assert execute(op) == uris and up42.downloads == before + 2


def test_assets_by_storage_filters(up42: Up42, tmp_path: Path):
    order_id = up42.orders[0]
    tag = up42.hook.get_order(order_id)["tags"][0]
    (asset,) = up42.assets(order_id)
    op = UP42DownloadAssetsOperator(
        task_id="dl", asset_filters={"search": order_id}, destination=str(tmp_path), unpack=False
    )
    uris = execute(op)
    assert [local(u).parent.name for u in uris] == [f"asset_{asset['id']}"], tag


def test_job_results_merged_with_tasks_and_plots(up42: Up42, tmp_path: Path):
    jobs = up42.jobs
    op = UP42DownloadJobResultsOperator(
        task_id="jobs",
        job_ids={"job_ids": jobs, "succeeded": jobs, "failed": []},
        destination=str(tmp_path),
        plot_results_to=str(tmp_path / "plots" / "results.png"),
        map_results_to=str(tmp_path / "plots" / "results.html"),
    )
    uris = execute(op)
    merged = json.loads((tmp_path / "data.json").read_text())
    assert uris[-1] == f"file://{tmp_path / 'data.json'}"
    for job_id in jobs:
        folder = tmp_path / f"job_{job_id}"
        expected = archive_members(up42.job_blob(job_id))
        assert files_below(folder) == {
            **expected,
            ".up42-download.json": files_below(folder)[".up42-download.json"],
        }
        own = [f for f in merged["features"] if f["properties"]["job_id"] == job_id]
        paths = [f["properties"]["up42.data_path"] for f in own]
        assert own and all(p.startswith(f"job_{job_id}/") for p in paths)
        assert all((tmp_path / p).is_file() for p in paths)
    with Image.open(tmp_path / "plots" / "results.png") as image:
        assert image.format == "PNG" and image.size[0] > 100
    assert "leaflet" in (tmp_path / "plots" / "results.html").read_text().lower()


def test_job_task_results_and_archive_mode(up42: Up42, tmp_path: Path):
    job_id = up42.jobs[0]
    tasks = up42.hook.get_job_tasks(job_id)
    op = UP42DownloadJobResultsOperator(
        task_id="jobs", job_ids=job_id, job_tasks=["tiling"], destination=str(tmp_path), unpack=False
    )
    uris = execute(op)
    (tiling,) = [t for t in tasks if t["name"].startswith("tiling")]
    folder = tmp_path / f"job_{job_id}" / f"jobtask_{tiling['id']}"
    assert sorted(local(u).name for u in uris) == sorted([f"{tiling['id']}.tgz", "data.json"])
    assert (folder / f"{tiling['id']}.tgz").read_bytes() == up42.blob(f"jobtask:{tiling['id']}")
    assert json.loads((folder / "data.json").read_text())["type"] == "FeatureCollection"
    assert not (tmp_path / "data.json").exists()  # merge only for whole-job results


def test_job_results_refuse_unfinished_jobs(up42: Up42, tmp_path: Path):
    with pytest.raises(ValueError, match="nothing to download"):
        execute(UP42DownloadJobResultsOperator(task_id="j", job_ids=[], destination=str(tmp_path)))
    with pytest.raises(ValueError, match="nothing to download"):
        execute(UP42DownloadAssetsOperator(task_id="a", destination=str(tmp_path)))


def test_quicklooks_catalog_jobs_missing_and_plots(up42: Up42, tmp_path: Path):
    body = up42.hook.search(P.search_parameters(BERLIN, ["phr"], "2022-01-01", "2022-12-31", limit=2))
    job_id = up42.jobs[0]
    op = UP42DownloadQuicklooksOperator(
        task_id="ql",
        image_ids=body,
        job_ids=job_id,
        destination=str(tmp_path),
        plot_quicklooks_to=str(tmp_path / "mosaic.png"),
        map_quicklooks_to=str(tmp_path / "map.html"),
    )
    uris = execute(op)
    ids = [f["properties"]["id"] for f in body["features"]]
    catalog = [tmp_path / f"quicklook_{i}.jpg" for i in ids]
    assert [f"file://{p}" for p in catalog] == uris[:2]
    for path, image_id in zip(catalog, ids, strict=True):
        assert path.read_bytes() == up42.hook.download_catalog_quicklook(image_id, collection="phr")
    job_files = [local(u) for u in uris[2:]]
    assert job_files and all(
        p.parent.name == f"job_{job_id}" and p.name.startswith("quicklook_") for p in job_files
    )
    with Image.open(job_files[0]) as image:
        assert image.format == "PNG"
    with Image.open(tmp_path / "mosaic.png") as image:
        assert image.format == "PNG"
    html = (tmp_path / "map.html").read_text()
    assert "leaflet" in html.lower() and "data:image/jpeg;base64" in html
    # unknown images are skipped with a warning; existing files are not fetched again
    stamps = [p.stat().st_mtime_ns for p in catalog]
    again = UP42DownloadQuicklooksOperator(
        task_id="ql",
        image_ids=[*ids, "00000000-0000-4000-8000-000000000000"],
        collection="phr",
        destination=str(tmp_path),
    )
    assert execute(again) == [f"file://{p}" for p in catalog]
    assert [p.stat().st_mtime_ns for p in catalog] == stamps
    with pytest.raises(ValueError, match="No quicklook for 1 of 1"):
        execute(
            UP42DownloadQuicklooksOperator(
                task_id="ql",
                image_ids="00000000-0000-4000-8000-000000000000",
                collection="phr",
                destination=str(tmp_path / "x"),
                fail_on_missing=True,
            )
        )


def test_upload_job_archives_and_download_output_to_s3(up42: Up42, s3: S3, tmp_path: Path):
    prefix = s3.prefix()
    job_id = up42.jobs[1]
    downloaded = execute(
        UP42DownloadJobResultsOperator(task_id="d", job_ids=job_id, destination=str(tmp_path))
    )
    op = UP42UploadToBucketOperator(
        task_id="up",
        job_ids=job_id,
        source_uris=[downloaded],
        source_root=str(tmp_path),
        destination=f"s3://{BUCKET}/{prefix}/v0",
        destination_conn_id=AWS_CONN_ID,
    )
    before = up42.downloads
    uris = execute(op)
    assert up42.downloads == before + 1
    assert s3.read(f"{prefix}/v0/{job_id}.tgz") == up42.job_blob(job_id)
    for uri in downloaded:
        rel = local(uri).relative_to(tmp_path).as_posix()
        assert s3.read(f"{prefix}/v0/{rel}") == local(uri).read_bytes()
    keys = s3.keys(f"{prefix}/v0/")
    assert not [k for k in keys if k.endswith(".up42-download.json")]
    assert len(uris) == 1 + len(downloaded)
    assert execute(op) == uris and up42.downloads == before + 1  # the archive is verified, skipped


def test_inputs_and_asset_uris():
    assert archive_suffix("a.b.tar.gz") == ".tar.gz" and archive_suffix("Pléiades 1.2.zip") == ".zip"
    assert archive_suffix("x.tgz") == ".tgz" and archive_suffix("noext") == ".zip"
    assert flat_uris([["/a", "/b"], "/c", {"k": ["/d"]}], "u") == ["/a", "/b", "/c", "/d"]
    assert asset_uri("s3://aws_test@bucket/prefix/") == "s3://bucket/prefix"
    assert asset_uri("file:///data/up42/") == "file:///data/up42"
    assert asset_uri("/data/up42") == "file:///data/up42"
    op = UP42DownloadAssetsOperator(
        task_id="x", order_ids="o", destination="s3://b/p", destination_conn_id="c"
    )
    assert [o.uri for o in op.outlets] == ["s3://b/p"]
    templated = UP42DownloadAssetsOperator(
        task_id="y", order_ids="o", destination="{{ params.dest }}", asset_alias="up42-downloads"
    )
    assert [type(o).__name__ for o in templated.outlets] == ["AssetAlias"]
    extra = UP42UploadToBucketOperator(
        task_id="z", source_uris="/x", destination="gs://b/p/", outlets=Asset("s3://mine")
    )
    assert [o.uri for o in extra.outlets] == ["s3://mine/", "gs://b/p"]


def test_plot_coverage_to_s3(up42: Up42, s3: S3):
    from up42_provider.plots import plot_coverage

    results = up42.hook.search(P.search_parameters(BERLIN, ["phr"], "2022-01-01", "2022-12-31", limit=3))
    prefix = s3.prefix()
    uri = plot_coverage(results, BERLIN, f"s3://{BUCKET}/{prefix}/coverage.png", conn_id=AWS_CONN_ID)
    assert uri == f"s3://{AWS_CONN_ID}@{BUCKET}/{prefix}/coverage.png"
    with Image.open(io.BytesIO(s3.read(f"{prefix}/coverage.png"))) as image:
        assert image.format == "PNG" and image.size[0] > 300


def test_checksum_md5_verifies_and_records_md5(up42: Up42, tmp_path: Path):
    import hashlib

    order_id = up42.orders[0]
    op = UP42DownloadAssetsOperator(
        task_id="dl_md5", order_ids=[order_id], destination=str(tmp_path), unpack=False, checksum="md5"
    )
    (uri,) = execute(op)
    (asset,) = up42.assets(order_id)
    record = json.loads(local(uri + ".up42-verified.json").read_text())
    assert record == {
        "size": local(uri).stat().st_size,
        "md5": hashlib.md5(up42.asset_blob(asset["id"])).hexdigest(),
    }


def test_unknown_checksum_is_refused_when_the_dag_is_parsed():
    with pytest.raises(ValueError, match="dl: checksum must be one of auto, md5, all; got 'sha256'"):
        UP42DownloadAssetsOperator(task_id="dl", order_ids=["x"], destination="/tmp/x", checksum="sha256")
