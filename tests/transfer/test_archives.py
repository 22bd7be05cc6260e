"""Safe unpacking: SDK layout rules, and archives that try to escape or explode are refused."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.transfer.conftest import AWS_CONN_ID, leftovers, payload, s3_keys, serve
from up42_provider.emulator.media import products
from up42_provider.emulator.server import EmulatorServer
from up42_provider.transfer import (
    ArchiveError,
    UnsafeArchiveError,
    detect_format,
    download_and_extract,
    extract_archive,
    member_path,
)

MIB = 1 << 20
LAYOUT = {
    "output/data.json": b'{"type": "FeatureCollection", "features": []}',
    "output/7e17f023/7e17f023_0-0.tif": payload(300_000, seed=40),
}


def make_tar(path: Path, members: list[tarfile.TarInfo | tuple[str, bytes]], mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as tar:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                tar.addfile(member)
            else:
                name, data = member
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return path


def make_zip(path: Path, members: list[tuple[str | zipfile.ZipInfo, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return path


def link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def symlink_zip_entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


@pytest.mark.parametrize("kind", ["tgz", "tar", "zip"])
def test_extracts_sdk_layout_stripping_output(tmp_path: Path, kind: str) -> None:
    members = [(name, data) for name, data in LAYOUT.items()]
    if kind == "zip":
        archive = make_zip(tmp_path / "a.zip", [("output/", b""), *members])
    else:
        directory = tarfile.TarInfo("output")
        directory.type = tarfile.DIRTYPE
        archive = make_tar(tmp_path / f"a.{kind}", [directory, *members], "w:gz" if kind == "tgz" else "w")
    dest = tmp_path / "dest"
    files = extract_archive(archive, dest, chunk_size=64 * 1024)
    assert files == [str(dest / "data.json"), str(dest / "7e17f023" / "7e17f023_0-0.tif")]
    assert (dest / "7e17f023" / "7e17f023_0-0.tif").read_bytes() == LAYOUT["output/7e17f023/7e17f023_0-0.tif"]
    assert leftovers(dest) == ["7e17f023", "7e17f023_0-0.tif", "data.json"]


def test_member_paths() -> None:
    assert member_path("output/a/b.tif") == "a/b.tif"
    assert member_path("results/output/a.tif") == "a.tif"  # up to and including the first output/
    assert member_path("./x//y.tif") == "x/y.tif"
    assert member_path("output/") is None
    assert member_path("output/a.tif", strip_output=False) == "output/a.tif"
    for bad in ("../evil", "a/../../evil", "/etc/passwd", "C:/x", "a\\..\\b", "a\x00b"):
        with pytest.raises(UnsafeArchiveError):
            member_path(bad)


def test_format_detection_tar_first_then_zip(tmp_path: Path) -> None:
    assert detect_format(b"\x1f\x8b\x08rest") == "tar"
    assert detect_format(b"PK\x03\x04rest") == "zip"
    assert detect_format(b"<html>") is None
    (tmp_path / "x.zip").write_bytes(b"<html>not an archive</html>")
    with pytest.raises(ArchiveError, match="is not a TGZ/TAR or ZIP archive"):
        extract_archive(tmp_path / "x.zip", tmp_path / "dest")
    assert not (tmp_path / "dest").exists()


ESCAPES = [
    pytest.param([("output/../../evil.txt", b"x")], id="dotdot"),
    pytest.param([("/tmp/evil.txt", b"x")], id="absolute"),
    pytest.param([link("output/link", "../../outside")], id="symlink-out"),
    pytest.param([link("output/link", "/etc/passwd")], id="symlink-absolute"),
    pytest.param([link("output/hard", "../x", tarfile.LNKTYPE)], id="hardlink-out"),
]


@pytest.mark.parametrize("members", ESCAPES)
def test_tar_escapes_are_rejected_and_nothing_is_left(tmp_path: Path, members: list[Any]) -> None:
    archive = make_tar(tmp_path / "bad.tgz", [("output/first.txt", b"written before"), *members])
    dest = tmp_path / "a" / "b" / "dest"
    with pytest.raises(UnsafeArchiveError):
        extract_archive(archive, dest)
    assert leftovers(tmp_path) == ["bad.tgz"]  # the first member was removed again, folders too


@pytest.mark.parametrize(
    "members",
    [
        pytest.param([("output/../../evil.txt", b"x")], id="dotdot"),
        pytest.param([("/evil.txt", b"x")], id="absolute"),
        pytest.param([(symlink_zip_entry("output/link"), b"../../../etc")], id="symlink-out"),
    ],
)
def test_zip_escapes_are_rejected_before_writing(tmp_path: Path, members: list[Any]) -> None:
    archive = make_zip(tmp_path / "bad.zip", [("output/first.txt", b"ok"), *members])
    with pytest.raises(UnsafeArchiveError):
        extract_archive(archive, tmp_path / "dest")
    assert leftovers(tmp_path) == ["bad.zip"]


def test_links_inside_are_skipped(tmp_path: Path) -> None:
    archive = make_tar(
        tmp_path / "a.tgz",
        [
            ("output/a/real.tif", b"data"),
            link("output/a/alias.tif", "real.tif"),
            link("output/b", "a/real.tif", tarfile.LNKTYPE),
        ],
    )
    files = extract_archive(archive, tmp_path / "dest")
    assert files == [str(tmp_path / "dest" / "a" / "real.tif")]
    zipped = make_zip(
        tmp_path / "a.zip", [("output/x.tif", b"x"), (symlink_zip_entry("output/y.tif"), b"x.tif")]
    )
    assert extract_archive(zipped, tmp_path / "dest2") == [str(tmp_path / "dest2" / "x.tif")]


def test_device_files_are_rejected(tmp_path: Path) -> None:
    device = tarfile.TarInfo("output/null")
    device.type = tarfile.CHRTYPE
    device.devmajor, device.devminor = 1, 3
    fifo = tarfile.TarInfo("output/fifo")
    fifo.type = tarfile.FIFOTYPE
    for member in (device, fifo):
        archive = make_tar(tmp_path / "dev.tgz", [member])
        with pytest.raises(UnsafeArchiveError, match="device file"):
            extract_archive(archive, tmp_path / "dest")
    assert leftovers(tmp_path) == ["dev.tgz"]


def test_existing_symlinked_folder_cannot_redirect_members(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "sub").symlink_to(outside, target_is_directory=True)
    archive = make_tar(tmp_path / "a.tgz", [("output/sub/x.txt", b"x")])
    with pytest.raises(UnsafeArchiveError, match="outside the destination"):
        extract_archive(archive, dest)
    assert list(outside.iterdir()) == []


def test_zip_bomb_is_bounded_by_decompressed_bytes(tmp_path: Path) -> None:
    bomb = make_zip(tmp_path / "bomb.zip", [("output/zeros.bin", bytes(20 * MIB))])
    assert bomb.stat().st_size < 100_000
    with pytest.raises(UnsafeArchiveError, match="expands to more than"):
        extract_archive(bomb, tmp_path / "dest", max_total_bytes=5 * MIB)
    assert leftovers(tmp_path) == ["bomb.zip"]


def test_zip_lying_about_sizes_is_still_bounded(tmp_path: Path) -> None:
    """Headers claiming small sizes do not help: the decompressed bytes are counted."""
    bomb = tmp_path / "liar.zip"
    make_zip(bomb, [("output/zeros.bin", bytes(8 * MIB))])
    raw = bytearray(bomb.read_bytes())
    # Patch the declared uncompressed size (local header offset 22, central directory offset 24).
    local = raw.find(b"PK\x03\x04")
    central = raw.find(b"PK\x01\x02")
    raw[local + 22 : local + 26] = (100).to_bytes(4, "little")
    raw[central + 24 : central + 28] = (100).to_bytes(4, "little")
    bomb.write_bytes(bytes(raw))
    with pytest.raises((UnsafeArchiveError, ArchiveError)):
        extract_archive(bomb, tmp_path / "dest", max_total_bytes=MIB)
    assert leftovers(tmp_path) == ["liar.zip"]


def test_tar_bomb_and_member_count_are_bounded(tmp_path: Path) -> None:
    archive = make_tar(
        tmp_path / "big.tgz", [("output/a.bin", bytes(3 * MIB)), ("output/b.bin", bytes(3 * MIB))]
    )
    with pytest.raises(UnsafeArchiveError, match="expands to more than"):
        extract_archive(archive, tmp_path / "dest", max_total_bytes=4 * MIB)
    many = make_tar(tmp_path / "many.tgz", [(f"output/{i}.txt", b"x") for i in range(20)])
    with pytest.raises(UnsafeArchiveError, match="more than 10 members"):
        extract_archive(many, tmp_path / "dest", max_members=10)
    assert leftovers(tmp_path) == ["big.tgz", "many.tgz"]


def test_extract_from_and_to_s3(tmp_path: Path, s3_bucket: Any) -> None:
    archive = make_zip(tmp_path / "a.zip", list(LAYOUT.items()))
    remote = s3_bucket / "in" / "a.zip"
    remote.write_bytes(archive.read_bytes())
    files = extract_archive(remote, s3_bucket / "out")
    prefix = f"s3://{AWS_CONN_ID}@{s3_bucket.bucket}/out/"
    assert files == [prefix + "data.json", prefix + "7e17f023/7e17f023_0-0.tif"]
    assert (s3_bucket / "out" / "7e17f023" / "7e17f023_0-0.tif").read_bytes() == LAYOUT[
        "output/7e17f023/7e17f023_0-0.tif"
    ]
    bad = make_tar(tmp_path / "bad.tgz", [("output/ok.txt", b"ok"), ("../evil", b"x")])
    with pytest.raises(UnsafeArchiveError):
        extract_archive(bad, s3_bucket / "bad")
    assert [k for k in s3_keys(s3_bucket) if k.startswith("bad")] == []


SCENE = {
    "type": "Feature",
    "geometry": {
        "type": "Polygon",
        "coordinates": [[[13.30, 52.45], [13.40, 52.45], [13.40, 52.55], [13.30, 52.55], [13.30, 52.45]]],
    },
    "properties": {"id": "DS_PHR1A_202005061019447_FR1_PX_E013N52_0513_01183", "collection": "phr"},
}


def test_emulator_job_results_end_to_end(emulator: EmulatorServer, tmp_path: Path) -> None:
    """A real job-results tgz from the emulator, unpacked like JobTask.download_results."""
    served = serve(emulator, lambda path: products.write_job_results(path, [SCENE], 3), "output.tgz")
    files = download_and_extract(served, tmp_path / "job", work_dir=tmp_path)
    names = [Path(f).relative_to(tmp_path / "job").as_posix() for f in files]
    assert names[0] == "data.json" and len(names) == 2 and names[1].endswith("_0-0.tif")
    assert leftovers(tmp_path)[0] != "output.tgz" and not list(tmp_path.glob("up42-download-*"))
    assert served.calls == 1


def test_emulator_order_zip_kept_or_not_unpacked(emulator: EmulatorServer, tmp_path: Path) -> None:
    served = serve(emulator, lambda path: products.write_order_archive(path, SCENE, None, 4), "output.zip")
    assert download_and_extract(served, tmp_path / "raw", unpack=False) == [
        str(tmp_path / "raw" / "output.zip")
    ]
    files = download_and_extract(served, tmp_path / "kept", keep_archive=True)
    assert (tmp_path / "kept" / "output.zip").exists() and len(files) == 2
    assert zipfile.is_zipfile(tmp_path / "raw" / "output.zip")


def test_unpack_with_manifest_key_is_idempotent(emulator: EmulatorServer, tmp_path: Path) -> None:
    served = serve(emulator, lambda path: products.write_job_results(path, [SCENE], 5), "output.tgz")
    folder = tmp_path / "job"
    first = download_and_extract(served, folder, work_dir=tmp_path, manifest_key="job:1")
    assert served.calls == 1 and (folder / ".up42-download.json").exists()
    seen = emulator.state.requests_seen
    # Same key, files intact: no URL, no request, the same URIs.
    assert download_and_extract(served, folder, work_dir=tmp_path, manifest_key="job:1") == first
    assert served.calls == 1 and emulator.state.requests_seen == seen
    # Another key, or a file gone: downloaded and unpacked again.
    assert download_and_extract(served, folder, work_dir=tmp_path, manifest_key="job:2") == first
    assert served.calls == 2
    Path(first[-1]).unlink()
    assert download_and_extract(served, folder, work_dir=tmp_path, manifest_key="job:2") == first
    assert served.calls == 3 and Path(first[-1]).exists()
