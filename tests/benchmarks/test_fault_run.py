"""The fault run's checks must be able to fail: each is shown here finding a planted problem."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from benchmarks import fault_run
from up42_provider.transfer.archives import MANIFEST

TIF = b"II*\x00" + bytes(range(256)) * 4
DATA = b'{"type": "FeatureCollection", "features": []}'


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """An emulator blob (zip under ``output/``), one run that unpacked it and its bucket copy."""
    blob = tmp_path / "emulator-data" / "blobs" / "abc" / "PHR1B_x.zip"
    blob.parent.mkdir(parents=True)
    with zipfile.ZipFile(blob, "w") as archive:
        archive.writestr("output/", b"")
        archive.writestr("output/data.json", DATA)
        archive.writestr("output/scene/scene_0-0.tif", TIF)
    for root in (tmp_path / "runs" / "run-00", tmp_path / "bucket" / "archive"):
        folder = root / "deliveries" / "asset_1"
        (folder / "scene").mkdir(parents=True)
        (folder / "data.json").write_bytes(DATA)
        (folder / "scene" / "scene_0-0.tif").write_bytes(TIF)
    manifest = tmp_path / "runs" / "run-00" / "deliveries" / "asset_1" / MANIFEST
    manifest.write_text(json.dumps({"source": "asset:1", "files": []}))
    return tmp_path


def check(out: Path) -> tuple[int, int, list[str]]:
    folders, problems = fault_run.delivery_folders(out / "runs", out / "bucket")
    checked, corrupt = fault_run.verify_deliveries(folders, fault_run.blob_trees(out / "emulator-data"))
    return len(folders), checked, problems + corrupt


def test_intact_deliveries_and_their_bucket_copy_pass(layout: Path):
    assert check(layout) == (2, 4, [])


@pytest.mark.parametrize("where", ["runs/run-00", "bucket/archive"])
def test_a_changed_byte_is_corrupt(layout: Path, where: str):
    tif = layout / where / "deliveries" / "asset_1" / "scene" / "scene_0-0.tif"
    tif.write_bytes(TIF[:-1] + b"\x00")
    _, _, problems = check(layout)
    assert len(problems) == 1 and "scene/scene_0-0.tif" in problems[0]


def test_a_truncated_missing_or_extra_file_is_a_problem(layout: Path):
    folder = layout / "runs" / "run-00" / "deliveries" / "asset_1"
    (folder / "data.json").write_bytes(DATA[:10])
    assert len(check(layout)[2]) == 1
    (folder / "data.json").unlink()
    assert len(check(layout)[2]) == 1
    (folder / "data.json").write_bytes(DATA)
    (folder / "stray.txt").write_text("x")
    assert len(check(layout)[2]) == 1


def test_a_partial_file_or_a_run_without_delivery_is_a_problem(layout: Path):
    (layout / "runs" / "run-00" / "deliveries" / "other.tif.part").write_bytes(b"x")
    (layout / "runs" / "run-01" / "plots").mkdir(parents=True)
    problems = check(layout)[2]
    assert len(problems) == 2
    assert any("partial file" in p for p in problems) and any("no delivery" in p for p in problems)


def test_duplicates_are_counted_per_order_tag_job_and_workflow_name():
    orders = [
        {"tags": ["airflow-example", "airflow-0123456789abcdef"]},
        {"tags": ["airflow-0123456789abcdef", "airflow-example"]},
        {"tags": ["airflow-example", "airflow-fedcba9876543210"]},
        {"tags": ["airflow-example"]},  # no run key: not ours, never a duplicate
        {"tags": None},
    ]
    assert fault_run.duplicates(fault_run.order_keys(orders)) == {"airflow-0123456789abcdef": 1}
    assert fault_run.duplicates(["a", "b", "a", "a", None, None]) == {"a": 2}
    assert fault_run.duplicates(["a", "b"]) == {}


def test_secret_scan_finds_each_planted_secret_and_passes_a_clean_log(tmp_path: Path):
    home_log = tmp_path / ".airflow" / "logs" / "dag_id=x" / "attempt=1"
    home_log.parent.mkdir(parents=True)
    clean = "2026 [info] UP42 order 5b1c placed; GET /storage/abc?sig=*** 200\n"
    for name in ("emulator.log", "run-00.log"):
        (tmp_path / name).write_text(clean)
    home_log.write_text(clean)
    files = fault_run.log_files(tmp_path)
    assert set(files) == {tmp_path / "emulator.log", tmp_path / "run-00.log", home_log}
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwcm9qZWN0In0.c2lnbmF0dXJlc2lnbmF0dXJl"
    secrets = {"project API key": "k3y-Of-The-Project", "issued token #0": token}
    assert fault_run.scan_secrets(files, secrets) == []

    (tmp_path / "run-00.log").write_text(clean + "auth=('p', 'k3y-Of-The-Project')\n")
    home_log.write_text(clean + f"Authorization: Bearer {token}\n")
    (tmp_path / "emulator.log").write_text(clean + "GET /storage/abc?expires=1&signature=0a1b2c3d4e5f 200\n")
    found = fault_run.scan_secrets(files, secrets)
    assert sorted(f.split(": ", 1)[1] for f in found) == [
        "1 x JWT-shaped token",
        "1 x URL signature",
        "issued token #0",
        "project API key",
    ]
    assert not any("k3y-Of" in f or token in f for f in found)  # findings never repeat the secret


def test_a_kept_archive_must_equal_the_blob_of_its_name(layout: Path):
    blob = next((layout / "emulator-data").rglob("*.zip"))
    kept = layout / "bucket" / "processing" / blob.name
    kept.parent.mkdir(parents=True)
    kept.write_bytes(blob.read_bytes())
    roots, data = [layout / "runs", layout / "bucket"], layout / "emulator-data"
    assert fault_run.verify_kept_archives(roots, data) == (1, [])
    kept.write_bytes(blob.read_bytes()[:-1])
    assert fault_run.verify_kept_archives(roots, data)[1] == [f"{kept}: differs from the blob of that name"]
    other = kept.rename(kept.with_name("other.tgz"))
    assert fault_run.verify_kept_archives(roots, data)[1] == [f"{other}: no blob of that name"]


def test_a_fault_kind_that_never_fired_is_reported():
    assert fault_run.unfired({"error": 3, "drop": 0, "late": 1, "slow": 0}) == ["drop", "slow"]
    assert fault_run.unfired({"error": 3, "drop": 1}) == []
