"""Today's generation of tasking: order coverage (the moved study routes share ``responses.py``).

Coverage of a tasking order grows while it is acquired: nothing before its quotation is
accepted, a west-to-east strip of the ordered geometry that widens over the acquisition, all of
it once ``FULFILLED`` (a point order covers the ~5 km square it acquires). An archive order is a
400 (coverage is computed for tasking orders only), an unknown one a 404.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from up42_provider.emulator.http import bad_request, bare, emulator_state
from up42_provider.emulator.tasking.models import coverage


async def order_coverage(request: Request) -> Response:
    order_id = request.path_params["order_id"]
    kind, target, covered = emulator_state(request).orders.acquired(order_id)
    if kind != "TASKING":
        raise bad_request(
            f"Order {order_id} is an {kind} order: coverage is computed for TASKING orders only"
        )
    return bare(coverage(target, covered))
