"""Workflows (E37-E45; API.md §8.8, §9.3) over real HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import RawClient

DATA = "esa-s2-l2a-gtiff-visual"
VHR = "oneatlas-pleiades-aoiclipped"
# A small AOI of our own over Berlin (about 3 x 3 km).
AOI = {
    "type": "Polygon",
    "coordinates": [[[13.36, 52.50], [13.40, 52.50], [13.40, 52.525], [13.36, 52.525], [13.36, 52.50]]],
}
TIME = "2021-03-01T00:00:00Z/2021-09-30T23:59:59Z"


def block_ids(api: RawClient) -> dict[str, str]:
    r = api.get("/blocks")
    assert r.status_code == 200
    return {b["name"]: b["id"] for b in r.json()["data"]}


def task_defs(api: RawClient, *blocks: str) -> list[dict[str, Any]]:
    """E43 body for a linear chain, named ``<block>:<n>`` as the SDK does."""
    ids = block_ids(api)
    defs: list[dict[str, Any]] = []
    for block in blocks:
        n = sum(1 for d in defs if d["name"].rsplit(":", 1)[0] == block) + 1
        parent = defs[-1]["name"] if defs else None
        defs.append({"name": f"{block}:{n}", "parentName": parent, "blockId": ids[block]})
    return defs


def create_workflow(api: RawClient, *blocks: str, name: str = "wf", description: str = "") -> str:
    r = api.post(f"/projects/{api.project_id}/workflows/", json={"name": name, "description": description})
    assert r.status_code == 200, r.text
    workflow_id = r.json()["data"]["id"]
    if blocks:
        r = api.post(
            f"/projects/{api.project_id}/workflows/{workflow_id}/tasks/", json=task_defs(api, *blocks)
        )
        assert r.status_code == 200, r.text
    return workflow_id


def job_inputs(limit: int = 1, **tiling: Any) -> dict[str, Any]:
    inputs: dict[str, Any] = {f"{DATA}:1": {"time": TIME, "limit": limit, "intersects": AOI}}
    if tiling:
        inputs["tiling:1"] = tiling
    return inputs


def error_message(r) -> str:
    body = r.json()
    assert body["data"] is None
    assert body["error"]["code"] == r.status_code
    return body["error"]["message"]


# -- E37-E41 -------------------------------------------------------------------------------------------


def test_workflow_create_get_list_update_delete(api: RawClient) -> None:
    base = f"/projects/{api.project_id}/workflows"
    r = api.post(base + "/", json={"name": "Flood mapping", "description": "Elbe 2021"})
    assert r.status_code == 200
    created = r.json()["data"]
    assert r.json()["error"] is None
    workflow_id = created["id"]
    assert created["displayId"] == workflow_id[:8]
    assert created["createdAt"].endswith("Z")

    info = api.get(f"{base}/{workflow_id}").json()["data"]
    assert (info["id"], info["name"], info["description"]) == (workflow_id, "Flood mapping", "Elbe 2021")

    listed = api.get(base).json()["data"]
    assert any(w["id"] == workflow_id and w["name"] == "Flood mapping" for w in listed)

    # E40: null keeps the current value (the SDK sends both keys, null for omitted arguments).
    r = api.put(f"{base}/{workflow_id}", json={"name": "Flood mapping v2", "description": None})
    assert r.status_code == 200
    info = api.get(f"{base}/{workflow_id}").json()["data"]
    assert (info["name"], info["description"]) == ("Flood mapping v2", "Elbe 2021")
    api.put(f"{base}/{workflow_id}/", json={"name": None, "description": "new text"})
    info = api.get(f"{base}/{workflow_id}/").json()["data"]
    assert (info["name"], info["description"]) == ("Flood mapping v2", "new text")

    r = api.delete(f"{base}/{workflow_id}", json={})
    assert r.status_code == 204
    r = api.get(f"{base}/{workflow_id}")
    assert r.status_code == 404
    assert workflow_id in error_message(r)
    assert api.delete(f"{base}/{workflow_id}").status_code == 404
    assert all(w["id"] != workflow_id for w in api.get(base).json()["data"])


def test_workflow_create_without_trailing_slash_and_validation(api: RawClient) -> None:
    base = f"/projects/{api.project_id}/workflows"
    r = api.post(base, json={"name": "no slash"})
    assert r.status_code == 200 and r.json()["data"]["description"] == ""
    assert api.post(base + "/", json={"description": "no name"}).status_code == 400
    assert api.post(base + "/", json={"name": ""}).status_code == 400
    assert api.post(base + "/", data="not json").status_code == 400
    workflow_id = r.json()["data"]["id"]
    assert api.put(f"{base}/{workflow_id}", json={"name": "", "description": None}).status_code == 400


def test_other_project_is_forbidden(api: RawClient) -> None:
    r = api.get("/projects/00000000-0000-4000-8000-000000000000/workflows")
    assert r.status_code == 403
    assert r.json()["error"]["code"] == 403


def test_unknown_workflow_is_404(api: RawClient) -> None:
    base = f"/projects/{api.project_id}/workflows/00000000-0000-4000-8000-000000000000"
    for r in (
        api.get(base),
        api.get(base + "/tasks"),
        api.put(base, json={"name": "x", "description": None}),
    ):
        assert r.status_code == 404
        assert r.json() == {"data": None, "error": {"code": 404, "message": r.json()["error"]["message"]}}


# -- E42-E44 -------------------------------------------------------------------------------------------


def test_tasks_round_trip_in_e42_shape(api: RawClient) -> None:
    workflow_id = create_workflow(api)
    base = f"/projects/{api.project_id}/workflows/{workflow_id}"
    assert api.get(base + "/tasks").json()["data"] == []

    defs = task_defs(api, DATA, "tiling", "tiling")
    assert [d["name"] for d in defs] == [f"{DATA}:1", "tiling:1", "tiling:2"]
    r = api.post(base + "/tasks/", json=defs)
    assert r.status_code == 200

    tasks = api.get(base + "/tasks").json()["data"]
    assert [t["name"] for t in tasks] == [d["name"] for d in defs]
    assert tasks[0]["parentsIds"] == []
    assert tasks[1]["parentsIds"] == [tasks[0]["id"]]
    assert tasks[2]["parentsIds"] == [tasks[1]["id"]]
    first = tasks[0]
    assert first["blockName"] == DATA and first["blockVersionTag"] == first["block"]["version"]
    assert first["block"]["type"] == "DATA" and first["block"]["id"] == defs[0]["blockId"]
    assert first["block"]["isDryRunSupported"] is True
    assert first["block"]["displayName"]
    params = first["block"]["parameters"]
    assert params["time"]["type"] == "dateRange" and "default" in params["time"]
    assert params["intersects"]["type"] == "geometry"
    tiling = tasks[1]["block"]["parameters"]
    assert tiling["tile_width"]["required"] is True and tiling["tile_width"]["default"] == 768
    assert "environment" in first

    # Posting again replaces the whole list.
    r = api.post(base + "/tasks", json=task_defs(api, DATA))
    assert r.status_code == 200
    assert [t["name"] for t in api.get(base + "/tasks/").json()["data"]] == [f"{DATA}:1"]
    assert api.post(base + "/tasks/", json=[]).status_code == 200
    assert api.get(base + "/tasks").json()["data"] == []


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda d: d.__setitem__(slice(None), [{**d[1], "parentName": None}]), "DATA"),  # no data block
        (lambda d: d[1].update(parentName="nobody:1"), "parentName"),
        (lambda d: d[1].update(blockId="00000000-0000-4000-8000-000000000000"), "does not exist"),
        (lambda d: d[1].update(name="tiles"), "Invalid workflow task name"),
        (lambda d: d[1].update(name=f"{DATA}:1"), "Invalid workflow task name"),
    ],
)
def test_invalid_task_lists_are_rejected(api: RawClient, mutate, fragment: str) -> None:
    workflow_id = create_workflow(api, DATA)
    defs = task_defs(api, DATA, "tiling")
    mutate(defs)
    r = api.post(f"/projects/{api.project_id}/workflows/{workflow_id}/tasks/", json=defs)
    assert r.status_code == 400
    assert fragment in error_message(r)
    # Nothing changed.
    tasks = api.get(f"/projects/{api.project_id}/workflows/{workflow_id}/tasks").json()["data"]
    assert [t["name"] for t in tasks] == [f"{DATA}:1"]


def test_incompatible_chain_is_rejected_naming_the_pair(api: RawClient) -> None:
    workflow_id = create_workflow(api)
    base = f"/projects/{api.project_id}/workflows/{workflow_id}"
    # Sentinel-2 visual has no panchromatic band: pan-sharpening cannot follow it.
    r = api.post(base + "/tasks/", json=task_defs(api, DATA, "pansharpen"))
    assert r.status_code == 400
    message = error_message(r)
    assert "pansharpen" in message and DATA in message
    # A data block cannot follow another block.
    r = api.post(base + "/tasks/", json=task_defs(api, DATA, "tiling", VHR))
    assert r.status_code == 400 and VHR in error_message(r)
    # The same blocks in a valid order are accepted.
    assert api.post(base + "/tasks/", json=task_defs(api, VHR, "pansharpen", "tiling")).status_code == 200


def test_compatible_blocks(api: RawClient) -> None:
    workflow_id = create_workflow(api, DATA, "tiling")
    base = f"/projects/{api.project_id}/workflows/{workflow_id}/compatible-blocks"
    ids = block_ids(api)
    r = api.get(f"{base}?parentTaskName={DATA}:1")
    assert r.status_code == 200
    blocks = r.json()["data"]["blocks"]
    names = {b["name"] for b in blocks}
    assert "tiling" in names and "pansharpen" not in names and DATA not in names
    assert all(set(b) == {"blockId", "name", "versionTag"} and ids[b["name"]] == b["blockId"] for b in blocks)
    after_tiling = api.get(f"{base}?parentTaskName=tiling:1").json()["data"]["blocks"]
    assert "tiling" in {b["name"] for b in after_tiling}
    r = api.get(f"{base}?parentTaskName=tiling:7")
    assert r.status_code == 400


# -- E45 ----------------------------------------------------------------------------------------------


def test_estimate_shape(api: RawClient) -> None:
    defs = task_defs(api, DATA, "tiling")
    workflow_id = create_workflow(api, DATA, "tiling")
    versions = {
        t["name"]: t["blockVersionTag"]
        for t in api.get(f"/projects/{api.project_id}/workflows/{workflow_id}/tasks").json()["data"]
    }
    body = {
        "tasks": [{**d, "blockVersionTag": versions[d["name"]]} for d in defs],
        "inputs": job_inputs(limit=2, tile_width=768),
    }
    r = api.post(f"/projects/{api.project_id}/estimate/job", json=body)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert set(data) == {f"{DATA}:1", "tiling:1"}
    for entry in data.values():
        for part in ("blockConsumption", "machineConsumption"):
            credit = entry[part]["credit"]
            assert credit["min"] == credit["max"] >= 0
        assert entry["blockConsumption"]["resources"]["unit"] in ("SQUARE_KM", "MEGABYTE")
        assert entry["machineConsumption"]["duration"]["min"] > 0
    assert data["tiling:1"]["machineConsumption"]["credit"]["min"] > 0

    # A test query is free.
    body["inputs"] = {**body["inputs"], "config": {"mode": "DRY_RUN"}}
    free = api.post(f"/projects/{api.project_id}/estimate/job", json=body).json()["data"]
    parts = ("blockConsumption", "machineConsumption")
    assert all(entry[part]["credit"]["max"] == 0 for entry in free.values() for part in parts)


def test_estimate_rejects_invalid_tasks_and_inputs(api: RawClient) -> None:
    url = f"/projects/{api.project_id}/estimate/job"
    r = api.post(url, json={"tasks": task_defs(api, DATA, "pansharpen"), "inputs": job_inputs()})
    assert r.status_code == 400 and "pansharpen" in error_message(r)
    r = api.post(url, json={"tasks": task_defs(api, DATA), "inputs": {"nope:1": {}}})
    assert r.status_code == 400 and "nope:1" in error_message(r)
    r = api.post(url, json={"tasks": task_defs(api, DATA), "inputs": {f"{DATA}:1": {"limit": 1}}})
    assert r.status_code == 400 and "intersects" in error_message(r)
