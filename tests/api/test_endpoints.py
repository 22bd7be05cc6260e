"""Every endpoint of API.md §8 (overview table) is declared exactly once, as specified."""

# ruff: noqa: E501  (the table is kept verbatim)
from __future__ import annotations

import pytest

from up42_provider.api.endpoints import V1, Endpoint, EndpointTable
from up42_provider.utils.ids import InvalidIdError

# API.md §8 overview, copied verbatim (method, path as sent; "Response" column). The query parts of
# E44/E46 are client params, so they are cut at "?".
OVERVIEW = """
E01 | POST | /oauth/token | token JSON (no `error` key)
E02 | GET | /projects/{project_id} | envelope
E03 | GET | /projects/{project_id}/settings | envelope
E04 | POST | /projects/{project_id}/settings | ignored (envelope)
E05 | GET | /blocks | envelope
E06 | GET | /blocks/{block_id} | envelope
E07 | GET | /blocks/{block_id}/coverage | envelope
E08 | POST | /validate-schema/block | envelope
E09 | GET | /accounts/me/credits/balance | envelope
E10 | GET | /accounts/me/credits/history | envelope
E11 | GET | /webhooks/events | envelope
E12 | GET | /workspaces/{workspace_id}/webhooks | envelope
E13 | POST | /workspaces/{workspace_id}/webhooks | envelope
E14 | GET | /workspaces/{workspace_id}/webhooks/{webhook_id} | envelope
E15 | PUT | /workspaces/{workspace_id}/webhooks/{webhook_id} | envelope
E16 | DELETE | /workspaces/{workspace_id}/webhooks/{webhook_id} | ignored
E17 | POST | /workspaces/{workspace_id}/webhooks/{webhook_id}/tests | envelope
E18 | GET | /collections | envelope
E19 | GET | /data-products | envelope
E20 | GET | /orders/schema/{data_product_id} | bare JSON
E21 | POST | /catalog/hosts/{host}/stac/search | bare JSON
E22 | GET | /catalog/{host}/image/{image_id}/quicklook | binary
E23 | POST | /workspaces/{workspace_id}/orders | envelope
E24 | POST | /workspaces/{workspace_id}/orders/estimate | envelope
E25 | GET | /workspaces/{workspace_id}/orders/{order_id} | envelope
E26 | GET | /workspaces/{workspace_id}/orders | envelope
E27 | GET | /v2/tasking/quotation | bare JSON
E28 | PATCH | /v2/tasking/quotation/{quotation_id} | bare JSON
E29 | GET | /v2/tasking/feasibility | bare JSON
E30 | PATCH | /v2/tasking/feasibility/{feasibility_id} | bare JSON
E31 | GET | /v2/assets | bare JSON
E32 | GET | /v2/assets/{asset_id}/metadata | bare JSON
E33 | POST | /v2/assets/{asset_id}/metadata | bare JSON
E34 | POST | /v2/assets/{asset_id}/download-url | bare JSON
E35 | POST | /v2/assets/stac/search | bare JSON
E36 | GET | /v2/assets/stac | bare JSON
E37 | GET | /projects/{project_id}/workflows | envelope
E38 | POST | /projects/{project_id}/workflows/ | envelope
E39 | GET | /projects/{project_id}/workflows/{workflow_id} | envelope
E40 | PUT | /projects/{project_id}/workflows/{workflow_id} | ignored (envelope)
E41 | DELETE | /projects/{project_id}/workflows/{workflow_id} | ignored
E42 | GET | /projects/{project_id}/workflows/{workflow_id}/tasks | envelope
E43 | POST | /projects/{project_id}/workflows/{workflow_id}/tasks/ | ignored
E44 | GET | /projects/{project_id}/workflows/{workflow_id}/compatible-blocks?parentTaskName=<last task name> | envelope
E45 | POST | /projects/{project_id}/estimate/job | envelope
E46 | POST | /projects/{project_id}/workflows/{workflow_id}/jobs?name=<job name> | envelope
E47 | GET | /projects/{project_id}/jobs | envelope
E48 | GET | /projects/{project_id}/jobs/{job_id} | envelope
E49 | POST | /projects/{project_id}/jobs/{job_id}/cancel/ | ignored
E50 | GET | /projects/{project_id}/jobs/{job_id}/outputs/data-json/ | bare JSON
E51 | GET | /projects/{project_id}/jobs/{job_id}/downloads/results/ | envelope
E52 | GET | /projects/{project_id}/jobs/{job_id}/credits | envelope
E53 | GET | /projects/{project_id}/jobs/{job_id}/tasks/ | envelope
E54 | GET | /projects/{project_id}/jobs/{job_id}/tasks/{jobtask_id}/logs | text
E55 | GET | /projects/{project_id}/jobs/{job_id}/tasks/{jobtask_id}/outputs/data-json/ | bare JSON
E56 | GET | /projects/{project_id}/jobs/{job_id}/tasks/{jobtask_id}/downloads/results/ | envelope
E57 | GET | /projects/{project_id}/jobs/{job_id}/tasks/{jobtask_id}/outputs/quicklooks/ | envelope
E58 | GET | /projects/{project_id}/jobs/{job_id}/tasks/{jobtask_id}/outputs/quicklooks/{quicklook_id} | binary
"""

KIND = {
    "envelope": "envelope",
    "bare JSON": "bare",
    "binary": "binary",
    "text": "text",
    "ignored": "none",
    "ignored (envelope)": "none",
    "token JSON (no `error` key)": "token",
}
CREATING = {"E13", "E23", "E38", "E46"}


def overview() -> list[tuple[str, str, str, str]]:
    rows = []
    for line in OVERVIEW.strip().splitlines():
        endpoint_id, method, path, response = (cell.strip() for cell in line.split("|"))
        rows.append((endpoint_id, method, path.split("?", 1)[0], KIND[response]))
    return rows


def test_overview_has_58_rows():
    assert [row[0] for row in overview()] == [f"E{n:02d}" for n in range(1, 59)]


@pytest.mark.parametrize(("endpoint_id", "method", "path", "kind"), overview())
def test_endpoint_declared_as_in_api_md(endpoint_id, method, path, kind):
    endpoint = V1.by_id(endpoint_id)
    assert (endpoint.method, endpoint.path, endpoint.response) == (method, path, kind)
    assert endpoint.creates is (endpoint_id in CREATING)
    assert V1.by_name(endpoint.name) is endpoint
    assert getattr(V1, endpoint.name) is endpoint


def test_each_endpoint_declared_exactly_once():
    declared = [value for value in vars(V1).values() if isinstance(value, Endpoint)]
    assert len(declared) == len(V1.all()) == 58
    assert len({e.id for e in declared}) == 58
    assert len({(e.method, e.path) for e in declared}) == 58
    assert len({e.name for e in declared}) == 58


def test_contract_names_exist():
    assert V1.get_job is V1.by_id("E48")
    assert V1.get_order is V1.by_id("E25")
    assert V1.token.response == "token"


P = "0d3f5a7c-1b2e-4c6d-8e9f-a1b2c3d4e5f6"
J = "9b1c7a52-4d0e-4f6a-8c3b-2e5f7d9a1b04"


def test_format_path_quotes_and_checks_params():
    assert V1.get_job.format_path(project_id=P, job_id=J) == f"/projects/{P}/jobs/{J}"
    assert V1.get_job_task_quicklook.path_params == ("project_id", "job_id", "jobtask_id", "quicklook_id")
    # a quicklook is a file name, not a UUID: never checked for the UUID shape
    assert V1.get_job_task_quicklook.format_path(
        project_id=P, job_id=J, jobtask_id=J, quicklook_id="ql_1.png"
    ).endswith("/outputs/quicklooks/ql_1.png")
    assert V1.search_catalog.format_path(host="oneatlas") == "/catalog/hosts/oneatlas/stac/search"
    with pytest.raises(ValueError, match="job_id"):
        V1.get_job.format_path(project_id=P)
    with pytest.raises(ValueError, match="order_id"):
        V1.get_job.format_path(project_id=P, job_id=J, order_id="o")


@pytest.mark.parametrize(
    ("job_id", "problem"),
    [
        ("..", "dot path segment"),
        (".", "dot path segment"),
        ("a/b", "slash"),
        ("a\\b", "slash"),
        (" " + J, "whitespace"),
        (J + "\n", "control character"),
        ("a\x00b", "control character"),
        ("j1", "not a UUID"),
        (J[:-1], "not a UUID"),
        (42, "must be an id string"),
    ],
)
def test_format_path_rejects_ids_that_are_no_single_uuid_segment(job_id: object, problem: str):
    with pytest.raises(InvalidIdError, match=problem) as info:
        V1.get_job.format_path(project_id=P, job_id=job_id)
    assert str(info.value).startswith("job_id ")  # names the parameter
    with pytest.raises(InvalidIdError, match="quicklook_id"):
        V1.get_job_task_quicklook.format_path(project_id=P, job_id=J, jobtask_id=J, quicklook_id="..")
    with pytest.raises(InvalidIdError, match="host"):
        V1.search_catalog.format_path(host="../v2")


def test_table_rejects_duplicates_and_bad_declarations():
    with pytest.raises(TypeError, match="twice"):

        class Dup(EndpointTable):
            a = Endpoint("X1", "a", "GET", "/a", "bare")
            b = Endpoint("X1", "b", "GET", "/b", "bare")

    with pytest.raises(TypeError, match="declares endpoint named"):

        class Misnamed(EndpointTable):
            a = Endpoint("X1", "b", "GET", "/a", "bare")

    with pytest.raises(ValueError, match="query"):
        Endpoint("X1", "a", "GET", "/a?b=c", "bare")
    with pytest.raises(ValueError, match="method"):
        Endpoint("X1", "a", "FETCH", "/a", "bare")
    with pytest.raises(KeyError):
        V1.by_id("E99")
