"""Per-GET overhead of the UP42 client against an in-process emulator (one run, no asserts).

Measures GET of a job's status (E48) through:

* ``UP42Client.call``            - our sync client (pooled session, token cache, retry policy, decoding);
* raw pooled ``requests.Session`` - the same URL and bearer, ``.json()["data"]``: the floor to beat;
* ``requests.get`` per call       - a new connection per request, as the 2023 SDK did;
* ``AsyncUP42Client.call``        - the async twin, awaited one call at a time (for information).

The variants are interleaved in rounds (the order rotates every round) so that drift of the machine
affects all of them alike. Run: ``.venv/bin/python benchmarks/hook_benchmark.py [--rounds 15 --calls 40]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Any

import requests

from up42_provider.api import V1, AsyncUP42Client, ClientSettings, TokenCache, UP42Client
from up42_provider.emulator.config import EmulatorConfig
from up42_provider.emulator.server import EmulatorServer

DATA_BLOCK = "esa-s2-l2a-gtiff-visual"
AOI = {
    "type": "Polygon",
    "coordinates": [[[13.36, 52.50], [13.40, 52.50], [13.40, 52.525], [13.36, 52.525], [13.36, 52.50]]],
}


def create_job(client: UP42Client) -> str:
    """A DRY_RUN job on a one-block workflow, created through our client (E05, E38, E43, E46)."""
    block_id = next(b["id"] for b in client.call(V1.get_blocks) if b["name"] == DATA_BLOCK)
    workflow = client.call(V1.create_workflow, json={"name": "benchmark", "description": "hook benchmark"})
    task = {"name": f"{DATA_BLOCK}:1", "parentName": None, "blockId": block_id}
    client.call(V1.set_workflow_tasks, json=[task], workflow_id=workflow["id"])
    inputs = {
        f"{DATA_BLOCK}:1": {
            "time": "2021-03-01T00:00:00Z/2021-09-30T23:59:59Z",
            "limit": 1,
            "intersects": AOI,
        },
        "config": {"mode": "DRY_RUN"},
    }
    job = client.call(V1.create_job, json=inputs, params={"name": "benchmark_py"}, workflow_id=workflow["id"])
    return job["id"]


def timed(fn: Callable[[], Any], calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - started) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=40, help="GETs per variant per round")
    args = parser.parse_args()

    with EmulatorServer(EmulatorConfig(speed=1.0, seed=7)) as server:
        cfg = server.config
        settings = ClientSettings(server.url, cfg.project_id, cfg.project_api_key)
        client = UP42Client(settings, token_cache=TokenCache())
        job_id = create_job(client)
        assert client.call(V1.get_job, job_id=job_id)["id"] == job_id

        url = server.url + V1.get_job.format_path(project_id=cfg.project_id, job_id=job_id)
        headers = {"Authorization": f"Bearer {client.tokens.token.value}"}  # the same bearer
        raw = requests.Session()
        timeout = settings.timeout

        loop = asyncio.new_event_loop()
        aclient = AsyncUP42Client(settings, token_cache=client.tokens)

        async def async_batch(calls: int) -> float:
            started = time.perf_counter()
            for _ in range(calls):
                await aclient.call(V1.get_job, job_id=job_id)
            return (time.perf_counter() - started) / calls

        variants: dict[str, Callable[[int], float]] = {
            "UP42Client.call (ours, sync)": lambda n: timed(
                lambda: client.call(V1.get_job, job_id=job_id), n
            ),
            "raw pooled requests.Session": lambda n: timed(
                lambda: raw.get(url, headers=headers, timeout=timeout).json()["data"], n
            ),
            "requests.get, new connection": lambda n: timed(
                lambda: requests.get(url, headers=headers, timeout=timeout).json()["data"], n
            ),
            "AsyncUP42Client.call (ours)": lambda n: loop.run_until_complete(async_batch(n)),
        }
        for run in variants.values():  # warm-up: connections, token, code paths
            run(10)

        samples: dict[str, list[float]] = {name: [] for name in variants}
        names = list(variants)
        for r in range(args.rounds):
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                samples[name].append(variants[name](args.calls))

        loop.run_until_complete(aclient.aclose())
        loop.close()
        client.close()
        raw.close()

    base = statistics.mean(samples["raw pooled requests.Session"])
    ours = statistics.mean(samples["UP42Client.call (ours, sync)"])
    print(f"GET E48 job status, {args.rounds} interleaved rounds x {args.calls} calls per variant")
    header = ("variant", "mean ms", "median ms", "stdev", "vs raw pooled", "per-round")
    print(f"{header[0]:<32} {header[1]:>9} {header[2]:>10} {header[3]:>7} {header[4]:>14} {header[5]:>10}")
    raw_rounds = samples["raw pooled requests.Session"]
    for name, values in samples.items():
        mean = statistics.mean(values)
        # Ratio within each round, then the median: cancels slow drift of the machine.
        per_round = statistics.median(v / b for v, b in zip(values, raw_rounds, strict=True))
        print(
            f"{name:<32} {mean * 1e3:>9.3f} {statistics.median(values) * 1e3:>10.3f} "
            f"{statistics.pstdev(values) * 1e3:>7.3f} {mean / base:>13.2f}x {per_round:>9.2f}x"
        )
    new_conn = statistics.mean(samples["requests.get, new connection"])
    print(
        f"\nours / raw pooled = {ours / base:.3f}x (target <= 1.10x); "
        f"new-connection-per-request / ours = {new_conn / ours:.2f}x"
    )


if __name__ == "__main__":
    main()
