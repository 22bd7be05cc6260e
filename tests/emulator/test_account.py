"""Project, settings and credits (E02-E04, E09, E10; API.md §3.5, §8.1, §8.2) over real HTTP."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from tests.conftest import RawClient
from up42_provider.emulator.account.models import seed_history
from up42_provider.emulator.clock import iso, parse_iso
from up42_provider.emulator.config import EmulatorConfig
from up42_provider.emulator.state import EmulatorState

SETTING_NAMES = {"JOB_QUERY_MAX_AOI_SIZE", "MAX_CONCURRENT_JOBS", "JOB_QUERY_LIMIT_PARAMETER_MAX_VALUE"}


def settings_of(api: RawClient) -> dict[str, str]:
    r = api.get(f"/projects/{api.project_id}/settings")
    assert r.status_code == 200
    return {item["name"]: item["value"] for item in r.json()["data"]}


def history_pages(api: RawClient, **params) -> list[dict]:
    """All pages of E10 as the SDK walks them (page=0,1,... until data.last)."""
    pages = []
    for page in range(1000):
        r = api.get("/accounts/me/credits/history", params={**params, "page": page})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["error"] is None
        pages.append(body["data"])
        if body["data"]["last"]:
            return pages
    raise AssertionError("credits history never reached the last page")


# -- E02 -----------------------------------------------------------------------------------------


def test_project_is_enveloped_with_workspace_id(api: RawClient):
    # The SDK sends a JSON body `{}` even on GET (API.md §3.6).
    r = api.get(f"/projects/{api.project_id}", data="{}", headers={"Content-Type": "application/json"})
    assert r.status_code == 200
    body = r.json()
    assert body["error"] is None
    project = body["data"]
    assert project["id"] == api.project_id
    assert project["workspaceId"] == api.workspace_id
    assert project["name"] and isinstance(project["description"], str)
    parse_iso(project["createdAt"])
    assert api.get(f"/projects/{api.project_id}/").json()["data"] == project


def test_other_project_is_forbidden(api: RawClient):
    other = str(uuid.uuid4())
    for path in (f"/projects/{other}", f"/projects/{other}/settings"):
        r = api.get(path)
        assert r.status_code == 403
        assert r.json() == {
            "data": None,
            "error": {"code": 403, "message": f"Access to project {other} is forbidden"},
        }
    r = api.post(f"/projects/{other}/settings", json={"settings": {"MAX_CONCURRENT_JOBS": "2"}})
    assert r.status_code == 403


# -- E03 / E04 -----------------------------------------------------------------------------------


def test_settings_are_three_integer_strings(api: RawClient):
    r = api.get(f"/projects/{api.project_id}/settings")
    body = r.json()
    assert body["error"] is None
    assert {item["name"] for item in body["data"]} == SETTING_NAMES
    for item in body["data"]:
        assert set(item) == {"name", "value"}
        assert isinstance(item["value"], str) and int(item["value"]) > 0
    assert settings_of(api)["MAX_CONCURRENT_JOBS"] == str(api.server.config.max_concurrent_jobs)


def test_settings_update_is_reflected(fresh_api: RawClient):
    before = settings_of(fresh_api)
    # Exactly what Project.update_project_settings sends: all three, values as strings.
    new = {**before, "MAX_CONCURRENT_JOBS": "7", "JOB_QUERY_MAX_AOI_SIZE": "250"}
    r = fresh_api.post(f"/projects/{fresh_api.project_id}/settings", json={"settings": new})
    assert r.status_code == 201
    assert {i["name"]: i["value"] for i in r.json()["data"]} == new
    assert settings_of(fresh_api) == new
    assert fresh_api.server.state.settings["MAX_CONCURRENT_JOBS"] == "7"

    # Partial update with a JSON integer, trailing slash: only that setting changes.
    r = fresh_api.post(
        f"/projects/{fresh_api.project_id}/settings/", json={"settings": {"MAX_CONCURRENT_JOBS": 1}}
    )
    assert r.status_code == 201
    assert settings_of(fresh_api) == {**new, "MAX_CONCURRENT_JOBS": "1"}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("JOB_QUERY_MAX_AOI_SIZE", "0"),
        ("JOB_QUERY_MAX_AOI_SIZE", "1001"),
        ("MAX_CONCURRENT_JOBS", "11"),
        ("MAX_CONCURRENT_JOBS", "0"),
        ("JOB_QUERY_LIMIT_PARAMETER_MAX_VALUE", "21"),
        ("JOB_QUERY_LIMIT_PARAMETER_MAX_VALUE", "ten"),
        ("MAX_CONCURRENT_JOBS", "2.5"),
        ("MAX_CONCURRENT_JOBS", True),
        ("MAX_AOI_SIZE", "10"),  # the SDK fixture's name; the live service uses JOB_QUERY_MAX_AOI_SIZE
        ("NOT_A_SETTING", "1"),
    ],
)
def test_invalid_setting_is_400_naming_it_and_changes_nothing(fresh_api: RawClient, name, value):
    before = settings_of(fresh_api)
    # A valid change in the same request must not be applied either (all-or-nothing).
    body = {"settings": {"MAX_CONCURRENT_JOBS": "4", name: value}}
    if name == "MAX_CONCURRENT_JOBS":
        body = {"settings": {"JOB_QUERY_MAX_AOI_SIZE": "5", name: value}}
    r = fresh_api.post(f"/projects/{fresh_api.project_id}/settings", json=body)
    assert r.status_code == 400
    error = r.json()["error"]
    assert r.json()["data"] is None and error["code"] == 400
    assert name in error["message"]
    assert settings_of(fresh_api) == before


@pytest.mark.parametrize(
    "body", [None, [], {"MAX_CONCURRENT_JOBS": "3"}, {"settings": ["MAX_CONCURRENT_JOBS"]}]
)
def test_settings_body_without_settings_object_is_400(api: RawClient, body):
    kwargs = {"data": ""} if body is None else {"json": body}
    r = api.post(f"/projects/{api.project_id}/settings", **kwargs)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == 400


# -- E09 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fresh_emulator", [{"initial_credits": 12_345}], indirect=True)
def test_balance_starts_at_initial_credits_and_follows_charges(fresh_api: RawClient):
    r = fresh_api.get("/accounts/me/credits/balance")
    assert r.status_code == 200
    assert r.json() == {"data": {"balance": 12_345}, "error": None}

    job_task = str(uuid.uuid4())
    fresh_api.server.state.credits.charge(45, "JOB_TASK", f"Consumption for {job_task}", {"id": job_task})
    assert fresh_api.get("/accounts/me/credits/balance").json()["data"] == {"balance": 12_300}

    newest = fresh_api.get("/accounts/me/credits/history", params={"size": 1}).json()["data"]["content"][0]
    assert newest["delta"] == -45 and newest["type"] == "JOB_TASK"
    assert newest["details"]["id"] == job_task


# -- E10 -----------------------------------------------------------------------------------------


def test_history_as_the_sdk_requests_it_is_one_page(api: RawClient):
    tomorrow = (api.server.state.clock.now() + timedelta(days=1)).date()
    params = {"from": "2000-01-01T00:00:00Z", "to": f"{tomorrow}T23:59:59Z", "size": 2000}
    pages = history_pages(api, **params)
    assert len(pages) == 1
    page = pages[0]
    assert page["first"] and page["last"] and page["number"] == 0 and page["size"] == 2000
    assert 40 <= page["totalElements"] == page["numberOfElements"] == len(page["content"])
    for record in page["content"]:
        assert {"createdAt", "createdBy", "delta", "type", "details"} <= set(record)
        assert record["details"]["allocation"] is not None and record["details"]["description"]
    consumption = [r for r in page["content"] if r["type"] == "JOB_TASK"]
    assert consumption and all(r["delta"] <= 0 for r in consumption)
    task = consumption[0]["details"]["consumption"]
    assert task["workspaceId"] == api.workspace_id and task["projectId"] == api.project_id
    assert {"blockName", "jobId", "jobTaskId", "creditsUsed", "workflowId"} <= set(task)
    assert {r["type"] for r in page["content"]} >= {"JOB_TASK", "ORDER", "ALLOCATION"}


def test_history_is_newest_first_and_sums_to_the_balance(fresh_api: RawClient):
    records = history_pages(fresh_api, size=2000)[0]["content"]
    stamps = [parse_iso(r["createdAt"]) for r in records]
    assert stamps == sorted(stamps, reverse=True)
    assert stamps[0] < fresh_api.server.state.clock.now()
    balance = fresh_api.get("/accounts/me/credits/balance").json()["data"]["balance"]
    assert balance == fresh_api.server.config.initial_credits
    assert sum(r["delta"] for r in records) == balance


def test_history_pagination_covers_every_record_once(api: RawClient):
    everything = history_pages(api, size=2000)[0]["content"]
    pages = history_pages(api, size=7)
    assert len(pages) == pages[0]["totalPages"] == -(-len(everything) // 7) > 2
    assert [p["number"] for p in pages] == list(range(len(pages)))
    assert pages[0]["first"] and not pages[1]["first"]
    assert not any(p["last"] for p in pages[:-1])
    assert all(p["totalElements"] == len(everything) and p["size"] == 7 for p in pages)
    assert [p["numberOfElements"] for p in pages[:-1]] == [7] * (len(pages) - 1)
    assert [r for p in pages for r in p["content"]] == everything

    past_end = api.get("/accounts/me/credits/history", params={"size": 7, "page": len(pages)}).json()["data"]
    assert past_end["content"] == [] and past_end["empty"] and past_end["last"]


def test_history_from_to_filter_is_inclusive_and_pages(api: RawClient):
    everything = history_pages(api, size=2000)[0]["content"]
    # A window that cuts the history roughly in thirds, bounded by real record timestamps.
    newer, older = everything[len(everything) // 3], everything[2 * len(everything) // 3]
    params = {"from": older["createdAt"], "to": newer["createdAt"], "size": 4}
    expected = [
        r
        for r in everything
        if parse_iso(older["createdAt"]) <= parse_iso(r["createdAt"]) <= parse_iso(newer["createdAt"])
    ]
    pages = history_pages(api, **params)
    got = [r for p in pages for r in p["content"]]
    assert got == expected
    assert got[0] == newer and got[-1] == older
    assert pages[0]["totalElements"] == len(expected) and len(pages) > 1

    # Only `from`, with a UTC offset (encoded) and date-only forms.
    start = parse_iso(older["createdAt"])
    r = api.get("/accounts/me/credits/history", params={"from": start.isoformat(), "size": 2000})
    assert r.json()["data"]["content"] == [x for x in everything if parse_iso(x["createdAt"]) >= start]
    r = api.get("/accounts/me/credits/history", params={"to": "2000-01-01", "size": 10})
    assert r.json()["data"]["totalElements"] == 0 and r.json()["data"]["content"] == []


def test_history_size_is_capped_and_bad_queries_are_400(api: RawClient):
    data = api.get("/accounts/me/credits/history", params={"size": 5000}).json()["data"]
    assert data["size"] == 2000 and data["last"]
    data = api.get("/accounts/me/credits/history").json()["data"]
    assert data["size"] == 20 and data["number"] == 0
    for params in (
        {"from": "yesterday"},
        {"to": "2023-13-45T00:00:00Z"},
        {"size": 0},
        {"page": -1},
        {"page": "x"},
    ):
        r = api.get("/accounts/me/credits/history", params=params)
        assert r.status_code == 400, params
        assert r.json()["data"] is None and r.json()["error"]["code"] == 400


def test_seeded_history_is_deterministic_per_seed(tmp_path):
    def shape(seed: int) -> list[tuple]:
        state = EmulatorState(EmulatorConfig(seed=seed), tmp_path)
        return [(r["delta"], r["type"], r["details"]["id"]) for r in seed_history(state)]

    assert shape(7) == shape(7)
    assert shape(7) != shape(8)
    assert 40 <= len(shape(7)) <= 60


def test_history_keeps_charges_after_the_seed(fresh_api: RawClient):
    state = fresh_api.server.state
    state.clock.advance(3600)
    order_id = str(uuid.uuid4())
    state.credits.charge(120, "ORDER", f"Consumption for order {order_id}", {"id": order_id})
    fresh_api.authenticate()  # the clock jump expired the token
    now = state.clock.now()
    params = {"from": iso(now - timedelta(minutes=5)), "to": iso(now + timedelta(minutes=5))}
    content = fresh_api.get("/accounts/me/credits/history", params=params).json()["data"]["content"]
    assert [(r["type"], r["delta"], r["details"]["id"]) for r in content] == [("ORDER", -120, order_id)]
