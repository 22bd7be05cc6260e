"""Route tables of the tasking domain, per generation (quotations keep their 2023 paths)."""

from __future__ import annotations

from up42_provider.emulator.http import route
from up42_provider.emulator.tasking import responses, responses_current

ROUTES_2023 = [
    *route("/v2/tasking/quotation", responses.quotations, ["GET"]),
    *route("/v2/tasking/quotation/{quotation_id}", responses.decide, ["PATCH"]),
    *route("/v2/tasking/feasibility", responses.studies, ["GET"]),
    *route("/v2/tasking/feasibility/{feasibility_id}", responses.choose, ["PATCH"]),
]
ROUTES_CURRENT = [
    *route("/v2/tasking/feasibility-studies", responses.studies, ["GET"]),
    *route("/v2/tasking/feasibility-studies/{feasibility_id}", responses.choose, ["PATCH"]),
    *route("/v2/coverage/orders/{order_id}", responses_current.order_coverage, ["GET"]),
]
