"""1,000 UP42 job triggers in one asyncio loop, as a triggerer runs them (one run, a table, no asserts).

The emulator runs as a separate process (``up42-emulator --port 0``), so RSS and event-loop lag are
those of the trigger side only. N DRY_RUN jobs are created first on a frozen emulator (speed 0.01);
then N ``UP42JobStatusTrigger``s run concurrently (``async for event in trigger.run()`` each, like the
triggerer) with a small poll interval. The emulator's clock is moved over HTTP (``/_emulator/clock``)
a few seconds in, so every job is SUCCEEDED after a few poll rounds. Measured:

* event-loop lag: a ticker sleeping 50 ms records its overshoot (p50 / p99 / max);
* HTTP requests per trigger per poll round: emulator request counter / number of status checks;
* RSS per trigger: (peak RSS while the triggers run - RSS before they were created) / N;
* shared clients: how many ``httpx.AsyncClient``s the pool built for the N triggers.

Both paths run side by side on the same emulator, each on fresh jobs: ``uncoalesced`` (one GET per
trigger per poll) and ``coalesced`` (:mod:`up42_provider.triggers.poller`: one listing per round for
all triggers); it also reports the time from the jobs' completion (the clock move) to their events.

Run: ``.venv/bin/python benchmarks/triggerer_benchmark.py [--triggers 1000 --poll-interval 5]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psutil
import requests

from up42_provider.emulator.config import DEFAULT_PROJECT_API_KEY, DEFAULT_PROJECT_ID

LISTENING = re.compile(r"UP42 emulator listening on (http://\S+)")
TICK = 0.05
DATA_BLOCK = "esa-s2-l2a-gtiff-visual"
SPEED = 0.01  # nothing moves until the benchmark advances the clock
ADVANCE = 10 / SPEED  # clock seconds that take a DRY_RUN job (4 nominal s) past SUCCEEDED
AOI = {
    "type": "Polygon",
    "coordinates": [[[13.36, 52.50], [13.40, 52.50], [13.40, 52.525], [13.36, 52.525], [13.36, 52.50]]],
}


def start_emulator() -> tuple[subprocess.Popen[str], str]:
    exe = os.path.join(os.path.dirname(sys.executable), "up42-emulator")
    cmd = [exe] if os.path.exists(exe) else [sys.executable, "-m", "up42_provider.emulator"]
    proc = subprocess.Popen(
        [
            *cmd,
            "--port",
            "0",
            "--speed",
            str(SPEED),
            "--credits",
            "100000000",
            "--token-lifetime",
            "86400",
            "--log-level",
            "warning",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        match = LISTENING.search(line or "")
        if match:  # keep reading its output, or a full pipe would stall it
            threading.Thread(target=proc.stdout.read, daemon=True).start()
            return proc, match.group(1)
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise RuntimeError("the emulator did not start")


def create_jobs(n: int) -> list[str]:
    """N DRY_RUN jobs of a one-block workflow (8 threads): the setup, not measured."""
    from up42_provider.api import V1
    from up42_provider.hooks.up42 import UP42Hook

    client = UP42Hook().get_conn()
    block_id = next(b["id"] for b in client.call(V1.get_blocks) if b["name"] == DATA_BLOCK)
    workflow = client.call(
        V1.create_workflow, json={"name": "triggerer-benchmark", "description": "benchmark"}
    )
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

    def create(i: int) -> str:
        job = client.call(
            V1.create_job, json=inputs, params={"name": f"bench-{i}"}, workflow_id=workflow["id"]
        )
        return job["id"]

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(create, range(n)))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


async def measure(
    url: str, job_ids: list[str], poll_interval: float, advance_after: float, coalesce: bool
) -> dict[str, Any]:
    from up42_provider import waiters
    from up42_provider.api.pool import POOL
    from up42_provider.triggers import base as trigger_base
    from up42_provider.triggers.job import UP42JobStatusTrigger

    checks = 0
    original, original_state = waiters.ACHECKS["job"], waiters.astate_of

    async def counting(hook: Any, ids: Any) -> Any:  # one uncoalesced status check
        nonlocal checks
        checks += 1
        return await original(hook, ids)

    async def counting_state(hook: Any, kind: str, answers: Any) -> Any:  # one coalesced answer
        nonlocal checks
        checks += 1
        return await original_state(hook, kind, answers)

    trigger_base.ACHECKS["job"] = counting
    trigger_base.astate_of = counting_state
    process = psutil.Process()
    info = lambda: requests.get(f"{url}/_emulator/info", timeout=10).json()  # noqa: E731
    admin_calls = 1  # the final /_emulator/info counts itself

    # Warm up: imports, connection lookup and one client, so the baseline holds the fixed costs.
    warm = UP42JobStatusTrigger(job_ids[0], poll_interval=0.01, end_time=time.time() + 0.5, coalesce=coalesce)
    async for _ in warm.run():
        pass
    gc.collect()
    rss_before = process.memory_info().rss
    requests_before = info()["requests"]
    checks = 0

    lags: list[tuple[float, float]] = []  # (when, overshoot)
    gc_pauses: list[float] = []
    gc_started: list[float] = [0.0]

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            gc_started[0] = time.perf_counter()
        else:
            gc_pauses.append(time.perf_counter() - gc_started[0])

    gc.callbacks.append(on_gc)
    peak_rss = rss_before
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal peak_rss
        while not stop.is_set():
            started = time.perf_counter()
            await asyncio.sleep(TICK)
            lags.append((time.monotonic(), time.perf_counter() - started - TICK))
            peak_rss = max(peak_rss, process.memory_info().rss)

    advanced_at: list[float] = []

    async def advance_clock() -> None:
        nonlocal admin_calls
        await asyncio.sleep(advance_after)
        await asyncio.to_thread(
            requests.post, f"{url}/_emulator/clock", json={"advance": ADVANCE}, timeout=10
        )
        advanced_at.append(time.monotonic())  # every job is SUCCEEDED from here on
        admin_calls += 1

    events: list[dict[str, Any]] = []
    finished_at: list[float] = []

    async def consume(trigger: UP42JobStatusTrigger) -> None:  # what the triggerer does per trigger
        async for event in trigger.run():
            events.append(event.payload)
            finished_at.append(time.monotonic())

    end_time = time.time() + 300
    triggers = [
        UP42JobStatusTrigger(i, poll_interval=poll_interval, end_time=end_time, coalesce=coalesce)
        for i in job_ids
    ]
    created = POOL.created
    tick_task = asyncio.create_task(ticker())
    clock_task = asyncio.create_task(advance_clock())
    started = time.monotonic()
    await asyncio.gather(*(consume(t) for t in triggers))
    elapsed = time.monotonic() - started
    stop.set()
    await tick_task
    gc.callbacks.remove(on_gc)
    all_lags = [lag for _, lag in lags]
    steady = [lag for when, lag in lags if when > started + 1.0] or all_lags  # after the 1,000 starts
    await clock_task
    http = info()["requests"] - requests_before - admin_calls
    statuses: dict[str, int] = {}
    for event in events:
        statuses[event["status"]] = statuses.get(event["status"], 0) + 1
    n = len(triggers)
    latencies = [t - advanced_at[0] for t in finished_at] if advanced_at else [float("nan")]
    trigger_base.ACHECKS["job"], trigger_base.astate_of = original, original_state
    return {
        "latency_p50_s": statistics.median(latencies),
        "latency_p99_s": percentile(latencies, 0.99),
        "triggers": n,
        "events": statuses,
        "elapsed": elapsed,
        "last_event_after": (max(finished_at) - started) if finished_at else float("nan"),
        "lag_p50_ms": statistics.median(all_lags) * 1e3,
        "lag_p99_ms": percentile(all_lags, 0.99) * 1e3,
        "lag_max_ms": max(all_lags) * 1e3,
        "steady_p99_ms": percentile(steady, 0.99) * 1e3,
        "gc_max_ms": max(gc_pauses, default=0.0) * 1e3,
        "checks": checks,
        "rounds": checks / n,
        "http": http,
        "per_round": http / checks if checks else float("nan"),
        "rss_per_trigger_kib": (peak_rss - rss_before) / n / 1024,
        "rss_before_mib": rss_before / 2**20,
        "clients": POOL.created - created,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--triggers", type=int, default=1000)
    parser.add_argument("--poll-interval", type=float, default=5.0, help="1,000 / 5 s = 200 polls/s")
    parser.add_argument("--advance-after", type=float, default=12.0, help="seconds before the clock moves")
    args = parser.parse_args()

    proc, url = start_emulator()
    try:
        os.environ["AIRFLOW_CONN_UP42_DEFAULT"] = json.dumps(
            {
                "conn_type": "up42",
                "host": url,
                "login": DEFAULT_PROJECT_ID,
                "password": DEFAULT_PROJECT_API_KEY,
            }
        )
        results: dict[str, dict[str, Any]] = {}
        setup = 0.0
        for mode, coalesce in (("uncoalesced", False), ("coalesced", True)):
            t0 = time.monotonic()
            job_ids = create_jobs(args.triggers)  # fresh jobs per mode: the first mode's are done
            setup += time.monotonic() - t0
            results[mode] = asyncio.run(
                measure(url, job_ids, args.poll_interval, args.advance_after, coalesce)
            )
    finally:
        proc.terminate()
        proc.wait(10)

    for mode, result in results.items():
        report(mode, result, args.poll_interval, url, setup)


def report(mode: str, result: dict[str, Any], poll_interval: float, url: str, setup: float) -> None:
    target = 0.05 if mode == "coalesced" else 1.0
    rows = [
        ("triggers in one loop", f"{result['triggers']}", "1000", ""),
        ("events", ", ".join(f"{k}: {v}" for k, v in result["events"].items()), "all success", ""),
        ("wall time until the last event", f"{result['last_event_after']:.1f} s", "", ""),
        ("fulfilment -> event p50", f"{result['latency_p50_s']:.2f} s", "", ""),
        ("fulfilment -> event p99", f"{result['latency_p99_s']:.2f} s", "", ""),
        ("poll rounds per trigger (mean)", f"{result['rounds']:.2f}", "", ""),
        ("event-loop lag p50", f"{result['lag_p50_ms']:.1f} ms", "", ""),
        ("event-loop lag p99", f"{result['lag_p99_ms']:.1f} ms", "< 100 ms", result["lag_p99_ms"] < 100),
        ("event-loop lag max", f"{result['lag_max_ms']:.1f} ms", "", ""),
        (
            "event-loop lag p99 after the first second",
            f"{result['steady_p99_ms']:.1f} ms",
            "< 100 ms",
            result["steady_p99_ms"] < 100,
        ),
        ("longest garbage-collector pause", f"{result['gc_max_ms']:.1f} ms", "", ""),
        (
            "HTTP requests per trigger per poll round",
            f"{result['per_round']:.3f}",
            f"<= {target:g}",
            result["per_round"] <= target,
        ),
        (
            "RSS per trigger",
            f"{result['rss_per_trigger_kib']:.1f} KiB",
            "<= 20 KiB",
            result["rss_per_trigger_kib"] <= 20,
        ),
        ("httpx clients built for all triggers", f"{result['clients']}", "1", result["clients"] == 1),
    ]
    print(
        f"\nUP42 triggerer benchmark, {mode}: {result['triggers']} job triggers, poll interval "
        f"{poll_interval:g} s, emulator in a subprocess ({url}); setup {setup:.1f} s, "
        f"baseline RSS {result['rss_before_mib']:.0f} MiB, {result['http']} HTTP requests, "
        f"{result['checks']} status checks; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}\n"
    )
    width = max(len(r[0]) for r in rows)
    print(f"{'metric':<{width}}  {'value':>22}  {'target':>12}  ok")
    print(f"{'-' * width}  {'-' * 22}  {'-' * 12}  --")
    for name, value, target_text, ok in rows:
        mark = "" if ok == "" else ("yes" if ok else "NO")
        print(f"{name:<{width}}  {value:>22}  {target_text:>12}  {mark}")


if __name__ == "__main__":
    main()
