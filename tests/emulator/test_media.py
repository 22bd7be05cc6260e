"""Generated delivery files: COGs, order ZIPs, job result tarballs and quicklooks are real and stable."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import rasterio
from PIL import Image
from shapely.geometry import shape

from up42_provider.emulator.media import products

# A quadrilateral over Berlin (about 4.5 x 5.5 km), not a rectangle, so part of its bbox is nodata.
AOI = {
    "type": "Polygon",
    "coordinates": [[[13.36, 52.48], [13.425, 52.49], [13.43, 52.53], [13.37, 52.525], [13.36, 52.48]]],
}
FOOTPRINT = {
    "type": "Polygon",
    "coordinates": [[[13.30, 52.45], [13.40, 52.45], [13.40, 52.55], [13.30, 52.55], [13.30, 52.45]]],
}
SCENE = {
    "type": "Feature",
    "geometry": FOOTPRINT,
    "properties": {
        "id": "DS_PHR1A_202005061019447_FR1_PX_E013N52_0513_01183",
        "acquisitionDate": "2020-05-06T10:19:44.7Z",
        "constellation": "PHR",
        "collection": "phr",
        "cloudCoverage": 3.2,
        "resolution": 0.5,
    },
}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_cog_is_valid_and_georeferenced(tmp_path: Path) -> None:
    path = tmp_path / "scene.tif"
    products.write_cog(path, AOI, seed=11)
    assert path.stat().st_size < 8 * 1024 * 1024
    minx, miny, maxx, maxy = shape(AOI).bounds
    with rasterio.open(path) as ds:
        assert ds.crs.to_epsg() == 4326
        assert ds.bounds == pytest.approx((minx, miny, maxx, maxy), abs=1e-9)
        assert ds.count == 4
        assert ds.dtypes == ("uint16",) * 4
        assert ds.descriptions == ("blue", "green", "red", "nir")
        assert ds.nodata == 0
        assert ds.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert ds.compression.name.lower() == "deflate"
        assert ds.profile["tiled"] and ds.block_shapes == [(256, 256)] * 4
        assert ds.overviews(1), "a COG of this size carries internal overviews"
        # ~10 m pixels: 4.9 km wide at 52.5° N, 5.6 km tall.
        assert 400 < ds.width < 560 and 500 < ds.height < 650
        data = ds.read()
        mask = ds.dataset_mask()
        corner = ds.index(maxx - 1e-4, miny + 1e-4)  # south-east corner: outside the quadrilateral
        centre = ds.index(13.40, 52.51)
    assert (data[:, corner[0], corner[1]] == 0).all() and mask[corner] == 0
    assert (data[:, centre[0], centre[1]] > 0).all() and mask[centre] == 255
    inside = data[:, mask > 0].astype(np.float64)
    assert 0.5 < inside.shape[1] / mask.size < 1
    # Plausible surface reflectance: vegetation makes NIR brightest, values in a realistic range.
    means = inside.mean(axis=1)
    assert means[3] > means[2] and means.min() > 100 and means.max() < 6000
    # Smooth fields plus texture, not white noise: neighbouring pixels correlate strongly.
    red = data[2].astype(np.float64)
    both = (mask[:, :-1] > 0) & (mask[:, 1:] > 0)
    corr = np.corrcoef(red[:, :-1][both], red[:, 1:][both])[0, 1]
    assert corr > 0.8
    assert inside[2].std() > 20


def test_cog_max_pixels_band_count_and_determinism(tmp_path: Path) -> None:
    big = {"type": "Polygon", "coordinates": [[[12.0, 51.0], [13.0, 51.0], [13.0, 51.5], [12.0, 51.0]]]}
    products.write_cog(tmp_path / "a.tif", big, 5, bands=3, max_pixels=300)
    products.write_cog(tmp_path / "b.tif", big, 5, bands=3, max_pixels=300)
    products.write_cog(tmp_path / "c.tif", big, 6, bands=3, max_pixels=300)
    with rasterio.open(tmp_path / "a.tif") as ds:
        assert max(ds.width, ds.height) == 300 and ds.count == 3
    assert sha(tmp_path / "a.tif") == sha(tmp_path / "b.tif")
    assert sha(tmp_path / "a.tif") != sha(tmp_path / "c.tif")


def test_cog_crops_show_the_same_place(tmp_path: Path) -> None:
    """The world is defined in geographic space: a crop looks like the same area of the full image."""
    small = {
        "type": "Polygon",
        "coordinates": [[[13.32, 52.47], [13.36, 52.47], [13.36, 52.50], [13.32, 52.50], [13.32, 52.47]]],
    }
    products.write_cog(tmp_path / "full.tif", FOOTPRINT, 9, max_pixels=2048)
    products.write_cog(tmp_path / "crop.tif", small, 9, max_pixels=2048)
    with rasterio.open(tmp_path / "full.tif") as full, rasterio.open(tmp_path / "crop.tif") as crop:
        window = (
            rasterio.windows.from_bounds(*crop.bounds, transform=full.transform)
            .round_offsets()
            .round_lengths()
        )
        a = full.read(4, window=window, out_shape=(crop.height, crop.width)).astype(np.float64)
        b = crop.read(4).astype(np.float64)
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.8


def test_cog_rejects_degenerate_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        products.write_cog(tmp_path / "x.tif", {"type": "Point", "coordinates": [13.4, 52.5]}, 1)
    with pytest.raises(ValueError):
        products.write_cog(tmp_path / "x.tif", AOI, 1, bands=9)


def test_order_archive_layout(tmp_path: Path) -> None:
    path = tmp_path / "output.zip"
    returned = products.write_order_archive(path, SCENE, AOI, seed=3)
    assert zipfile.is_zipfile(path) and not tarfile.is_tarfile(path)
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        names = zf.namelist()
        data_json = json.loads(zf.read("output/data.json"))
        assert data_json == returned
        assert data_json["type"] == "FeatureCollection" and len(data_json["features"]) == 1
        feature = data_json["features"][0]
        rel = feature["properties"]["up42.data_path"]
        oid = rel.split("/")[0]
        assert rel == f"{oid}/{oid}_0-0.tif"
        assert names == ["output/", f"output/{oid}/", "output/data.json", f"output/{rel}"]
        assert feature["properties"]["id"] == SCENE["properties"]["id"]
        assert feature["properties"]["acquisitionDate"] == SCENE["properties"]["acquisitionDate"]
        clipped = shape(AOI).intersection(shape(FOOTPRINT))
        assert shape(feature["geometry"]).equals(clipped)
        assert feature["bbox"] == pytest.approx(list(clipped.bounds))
        (tmp_path / "x.tif").write_bytes(zf.read(f"output/{rel}"))
    with rasterio.open(tmp_path / "x.tif") as ds:
        assert ds.bounds == pytest.approx(clipped.bounds, abs=1e-9)
        assert ds.crs.to_epsg() == 4326


def test_order_archive_without_aoi_uses_footprint(tmp_path: Path) -> None:
    collection = products.write_order_archive(tmp_path / "o.zip", SCENE, None, seed=3)
    assert shape(collection["features"][0]["geometry"]).equals(shape(FOOTPRINT))
    assert products.order_data_json(SCENE, None, 3) == collection


def test_padded_order_archive(tmp_path: Path) -> None:
    pad = 20 * 1024 * 1024
    path = tmp_path / "big.zip"
    collection = products.write_order_archive(path, SCENE, AOI, seed=3, pad_bytes=pad)
    oid = collection["features"][0]["properties"]["up42.data_path"].split("/")[0]
    assert path.stat().st_size > pad
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(f"output/{oid}/{oid}_padding.bin")
        assert info.compress_type == zipfile.ZIP_STORED and info.file_size == pad
        assert zf.testzip() is None  # CRCs of every member check out
        with zf.open(info) as member:
            head = member.read(1024 * 1024)
    assert len(zlib.compress(head)) > 0.99 * len(head)  # incompressible filler
    # Without padding the archive is the same apart from the filler.
    products.write_order_archive(tmp_path / "small.zip", SCENE, AOI, seed=3)
    with zipfile.ZipFile(tmp_path / "small.zip") as small, zipfile.ZipFile(path) as padded:
        assert small.read(f"output/{oid}/{oid}_0-0.tif") == padded.read(f"output/{oid}/{oid}_0-0.tif")


def test_archives_are_deterministic_per_seed(tmp_path: Path) -> None:
    products.write_order_archive(tmp_path / "a.zip", SCENE, AOI, seed=8, pad_bytes=1000)
    products.write_order_archive(tmp_path / "b.zip", SCENE, AOI, seed=8, pad_bytes=1000)
    products.write_order_archive(tmp_path / "c.zip", SCENE, AOI, seed=9, pad_bytes=1000)
    assert sha(tmp_path / "a.zip") == sha(tmp_path / "b.zip") != sha(tmp_path / "c.zip")
    features = [SCENE, {**SCENE, "geometry": AOI}]
    products.write_job_results(tmp_path / "a.tgz", features, 8)
    products.write_job_results(tmp_path / "b.tgz", features, 8)
    assert sha(tmp_path / "a.tgz") == sha(tmp_path / "b.tgz")


def test_job_results_layout(tmp_path: Path) -> None:
    keep = {**SCENE, "properties": {**SCENE["properties"], "up42.data_path": "abc/abc_0-0.tif"}}
    features = [SCENE, {**SCENE, "geometry": AOI}, keep]
    path = tmp_path / "results.tgz"
    returned = products.write_job_results(path, features, seed=4)
    assert returned == products.job_data_json(features, 4)  # routes can answer data.json without the file
    assert tarfile.is_tarfile(path) and not zipfile.is_zipfile(path)
    with tarfile.open(path, "r:gz") as tar:
        members = {m.name: m for m in tar.getmembers()}
        data_json = json.loads(tar.extractfile("output/data.json").read())  # type: ignore[union-attr]
        assert data_json == returned
        paths = [f["properties"]["up42.data_path"] for f in data_json["features"]]
        assert len(set(paths)) == 3 and paths[2] == "abc/abc_0-0.tif"
        assert members["output"].isdir()
        for rel in paths:
            oid = rel.split("/")[0]
            assert members[f"output/{oid}"].isdir()
            assert members[f"output/{rel}"].isfile()
            tif = tmp_path / f"{oid}.tif"
            tif.write_bytes(tar.extractfile(f"output/{rel}").read())  # type: ignore[union-attr]
            with rasterio.open(tif) as ds:
                assert ds.crs.to_epsg() == 4326 and ds.count == 4
    assert shape(data_json["features"][1]["geometry"]).equals(shape(AOI))


def test_sdk_style_extraction(tmp_path: Path) -> None:
    """What up42-py does with unpacking=True: strip up to 'output/', keep regular files only."""
    archive = tmp_path / "results.tgz"
    products.write_job_results(archive, [SCENE], seed=1)
    out = tmp_path / "extracted"
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if member.isfile():
                target = out / member.name.split("output/", 1)[1]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(tar.extractfile(member).read())  # type: ignore[union-attr]
    data_json = json.loads((out / "data.json").read_text())
    assert (out / data_json["features"][0]["properties"]["up42.data_path"]).is_file()


@pytest.mark.parametrize(
    ("encode", "fmt"), [(products.quicklook_png, "PNG"), (products.quicklook_jpeg, "JPEG")]
)
def test_quicklooks(encode, fmt: str) -> None:
    raw = encode(21)
    image = Image.open(io.BytesIO(raw))
    assert image.format == fmt and image.mode == "RGB" and image.size == (256, 256)
    pixels = np.asarray(image, dtype=np.float64)
    assert pixels.std() > 5 and 20 < pixels.mean() < 235
    assert encode(21) == raw and encode(22) != raw
    assert Image.open(io.BytesIO(encode(3, size=(400, 300)))).size == (400, 300)
