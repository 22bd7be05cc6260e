"""1,000 deferred UP42 order sensors in a real ``airflow triggerer``: coalesced vs uncoalesced, one run.

Where ``triggerer_benchmark.py`` runs the triggers in a bare asyncio loop, this one gives them to
Airflow's own triggerer process (supervisor + trigger-runner subprocess) on a SQLite metadata DB,
through :class:`tests.system.topology.AirflowTopology` (``components=()``: DB, emulator and
environment; the triggerer is started fresh per phase). The emulator is frozen (speed 0.01) and its
clock moved over HTTP (``/_emulator/clock``). Per phase:

1. N 2023 archive orders are placed (PLACED until the clock moves) and a fresh triggerer started;
2. one run of ``benchmarks/dags/up42_triggerer_benchmark.py`` is written into the DB with its
   ``lag_probe`` task deferred on ``benchmarks.lag_probe.LagProbeTrigger`` (the event-loop lag,
   sampled every 50 ms by a coroutine in the triggerer's own loop) and one warm-up sensor (its
   imports, pooled client and token are fixed costs); the triggerer then idles with them for
   ``--baseline`` s: the baseline of lag and RSS;
3. N more mapped ``wait_for_order`` task instances are written as deferred, each on the trigger
   the sensor defers with (``UP42OrderStatusTrigger``, one order, ``coalesce`` per phase);
4. once every trigger started (its trigger log exists) and the emulator's request rate is steady
   (two poll intervals within 10 %: uncoalesced triggers each read the connection through the
   triggerer's supervisor before their first poll), a steady window of
   ``--steady-rounds`` poll intervals: emulator requests (``/_emulator/info``) / (N + 1 triggers x
   rounds, rounds = window / poll interval), lag, RSS of the triggerer and its children (minus
   the baseline, / N);
5. the clock moves twice (PLACED -> BEING_FULFILLED, then, once the emulator built every delivery,
   -> FULFILLED): fulfilment -> event is measured per order from the fulfilment moment to the
   trigger's "UP42 order wait ended" log line and to the task instance leaving ``deferred`` in the
   DB (``updated_at``), and every event must be ``success``.

The uncoalesced phase is the baseline: the table shows both phases and their ratio, then one JSON
line. No asserts on timing (tests/benchmarks/test_airflow_triggerer_benchmark.py checks the shape).

Run: ``.venv/bin/python benchmarks/airflow_triggerer_benchmark.py [--triggers 1000 --poll-interval 5]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psutil
import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.triggerer_benchmark import percentile  # noqa: E402
from tests.system.topology import AirflowTopology, _script  # noqa: E402
from up42_provider.emulator.orders.models import FULFILMENT_SECONDS, PLACED_SECONDS  # noqa: E402

DAG_ID = "up42_triggerer_benchmark"
SENSOR_TASK, PROBE_TASK = "wait_for_order", "lag_probe"
WAIT_ENDED = "UP42 order wait ended"
SPEED = 0.01  # frozen: nothing moves until the clock does
SAMPLE = 0.25  # seconds between RSS samples
MODES = (("uncoalesced", False), ("coalesced", True))  # the first one is the baseline


def of_task(run_id: str, task_id: str | None = None) -> Any:
    """SELECT the task instances of one benchmark run (of one task)."""
    from airflow.models.taskinstance import TaskInstance
    from sqlalchemy import select

    query = select(TaskInstance).where(TaskInstance.dag_id == DAG_ID, TaskInstance.run_id == run_id)
    return query.where(TaskInstance.task_id == task_id) if task_id else query


def percentiles(values: Iterable[float]) -> dict[str, float]:
    data = list(values)
    if not data:
        return {"n": 0, "p50": float("nan"), "p99": float("nan"), "max": float("nan")}
    return {"n": len(data), "p50": statistics.median(data), "p99": percentile(data, 0.99), "max": max(data)}


class Bench:
    """One run: the topology, the emulator's control API and the DB rows of each phase."""

    def __init__(self, topology: AirflowTopology, args: argparse.Namespace) -> None:
        self.topology = topology
        self.args = args
        self.n: int = args.triggers
        self.home = topology.home
        self.session = requests.Session()
        self.session.trust_env = False
        # One connection per control call: the emulator closes idle keep-alive connections after 5 s.
        self.session.headers["Connection"] = "close"

    # --------------------------------------------------------------------------------- emulator

    def info(self) -> dict[str, Any]:
        return self.session.get(f"{self.topology.emulator_url}/_emulator/info", timeout=30).json()

    def advance(self, nominal: float) -> tuple[float, datetime]:
        """Move the emulator clock by ``nominal`` UP42 seconds: (local time of the answer, emulator now)."""
        url = f"{self.topology.emulator_url}/_emulator/clock"
        answer = self.session.post(url, json={"advance": nominal / SPEED}, timeout=120).json()
        return time.time(), datetime.fromisoformat(answer["now"])

    def built_deliveries(self) -> int:
        """Order archives the emulator has built (its ``--data-dir``); a build ends with a rename."""
        return sum(1 for p in (self.home / "emulator-data" / "blobs").glob("*/*.zip"))

    @staticmethod
    def place_orders(n: int) -> list[str]:
        """N archive orders of one Pleiades scene over Berlin (8 threads): setup, not measured."""
        from up42_provider.hooks.up42 import UP42Hook
        from up42_provider.utils import parameters as P
        from up42_provider.utils.geometry import example_aoi

        hook = UP42Hook()
        berlin = example_aoi("Berlin")
        products = hook.get_data_products(basic=True)
        product = next(v for v in products.values() if v["collection"] == "phr")["data_products"]["Display"]
        search = P.search_parameters(berlin, ["phr"], "2022-01-01", "2022-12-31", limit=1)
        image = hook.search(search)["features"][0]["properties"]["id"]
        params = hook.construct_catalog_order_parameters(product, image, aoi=berlin)
        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(lambda _: hook.place_order(params)["id"], range(n)))

    # ------------------------------------------------------------------------------------ DB rows

    def create_run(self, mode: str, lag_path: Path) -> str:
        """A run of the benchmark DAG with its lag probe deferred (the sensors come later)."""
        from airflow.models.dagbag import DBDagBag
        from airflow.utils.session import create_session
        from airflow.utils.state import DagRunState
        from airflow.utils.types import DagRunTriggeredByType, DagRunType

        from benchmarks.lag_probe import LagProbeTrigger

        run_id = f"benchmark__{mode}"
        with create_session() as session:
            dag = DBDagBag().get_latest_version_of_dag(DAG_ID, session=session)
            if dag is None:
                raise RuntimeError(f"{DAG_ID} is not serialized in the DB")
            dag.create_dagrun(
                run_id=run_id,
                run_after=datetime.now(timezone.utc),
                run_type=DagRunType.MANUAL,
                triggered_by=DagRunTriggeredByType.TEST,
                state=DagRunState.RUNNING,
                session=session,
            )
            probe = session.scalars(of_task(run_id, PROBE_TASK)).one()
            self._defer(session, [(probe, LagProbeTrigger(str(lag_path)))])
        return run_id

    def order_triggers(self, order_ids: dict[int, str], coalesce: bool) -> dict[int, Any]:
        """map index -> the trigger the sensor defers with (one order each)."""
        from up42_provider.triggers.order import UP42OrderStatusTrigger

        end_time = time.time() + 3600
        return {
            index: UP42OrderStatusTrigger(
                [order_id], poll_interval=self.args.poll_interval, end_time=end_time, coalesce=coalesce
            )
            for index, order_id in order_ids.items()
        }

    def add_sensors(self, run_id: str, triggers: dict[int, Any]) -> None:
        """Deferred ``wait_for_order[i]`` (map index -> the trigger it waits on)."""
        from airflow.models.dagbag import DBDagBag
        from airflow.models.taskinstance import TaskInstance
        from airflow.utils.session import create_session

        with create_session() as session:
            dag = DBDagBag().get_latest_version_of_dag(DAG_ID, session=session)
            assert dag is not None
            task = dag.get_task(SENSOR_TASK)
            of_run = session.scalars(of_task(run_id)).all()
            version = of_run[0].dag_version_id
            for ti in of_run:  # the unexpanded placeholder (map index -1) the run was created with
                if ti.task_id == SENSOR_TASK and ti.map_index < 0:
                    session.delete(ti)
            session.flush()
            pairs = []
            for index, trigger in triggers.items():
                ti = TaskInstance(task, dag_version_id=version, run_id=run_id, map_index=index)
                session.add(ti)
                pairs.append((ti, trigger))
            self._defer(session, pairs)

    @staticmethod
    def _defer(session: Any, pairs: list[tuple[Any, Any]]) -> None:
        """What the execution API does when a task defers: a trigger row, the TI deferred on it."""
        from airflow.models.trigger import Trigger
        from airflow.utils.state import TaskInstanceState

        now = datetime.now(timezone.utc)
        rows = [Trigger.from_object(trigger) for _, trigger in pairs]
        session.add_all(rows)
        session.flush()
        for (ti, _), row in zip(pairs, rows, strict=True):
            ti.state = TaskInstanceState.DEFERRED
            ti.trigger_id = row.id
            ti.next_method = "execute_complete"
            ti.trigger_timeout = now + timedelta(hours=2)
            ti.try_number = 1
            ti.start_date = now
        session.commit()

    def deferred(self, run_id: str) -> int:
        from airflow.models.taskinstance import TaskInstance
        from airflow.utils.session import create_session
        from airflow.utils.state import TaskInstanceState
        from sqlalchemy import func, select

        with create_session() as session:
            return int(
                session.scalar(
                    select(func.count()).where(
                        TaskInstance.dag_id == DAG_ID,
                        TaskInstance.run_id == run_id,
                        TaskInstance.task_id == SENSOR_TASK,
                        TaskInstance.state == TaskInstanceState.DEFERRED,
                    )
                )
                or 0
            )

    def resumed(self, run_id: str) -> dict[int, tuple[str, float | None, dict[str, Any]]]:
        """map index -> (state, when it left ``deferred`` (epoch s), the event)."""
        from airflow.utils.session import create_session

        found = {}
        with create_session() as session:
            for ti in session.scalars(of_task(run_id, SENSOR_TASK)):
                event = (ti.next_kwargs or {}).get("event") or {}
                when = ti.updated_at.timestamp() if ti.updated_at else None
                found[ti.map_index] = (str(ti.state), when, event)
        return found

    def end_run(self, run_id: str) -> None:
        """Every task of the run done: its triggers are cleaned up (the probe stops measuring)."""
        from airflow.utils.session import create_session
        from airflow.utils.state import TaskInstanceState

        with create_session() as session:
            for ti in session.scalars(of_task(run_id)):
                if ti.state == TaskInstanceState.DEFERRED:
                    ti.state, ti.trigger_id = TaskInstanceState.SUCCESS, None

    # --------------------------------------------------------------------------------- observing

    def trigger_logs(self, run_id: str) -> list[Path]:
        folder = self.home / "logs" / f"dag_id={DAG_ID}" / f"run_id={run_id}" / f"task_id={SENSOR_TASK}"
        return list(folder.glob("map_index=*/*.trigger.*.log"))

    def wait_ended_at(self, run_id: str) -> dict[int, float]:
        """map index -> epoch time of the trigger's "UP42 order wait ended" log line."""
        ended = {}
        for path in self.trigger_logs(run_id):
            index = int(path.parent.name.split("=", 1)[1])
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                if WAIT_ENDED not in line:
                    continue
                try:
                    stamp = json.loads(line)["timestamp"]
                except (ValueError, KeyError, TypeError):
                    continue
                ended[index] = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
        return ended

    def wait(self, what: str, probe: Callable[[], Any], timeout: float, interval: float = 0.5) -> Any:
        deadline = time.monotonic() + timeout
        while not (result := probe()):
            self.topology.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(interval)
        return result

    def rss(self) -> tuple[int, int]:
        """RSS of the triggerer's supervisor process and of its children (the trigger runner)."""
        proc = self.topology.processes["triggerer"]
        try:
            supervisor = psutil.Process(proc.pid)
            children = supervisor.children(recursive=True)
            return supervisor.memory_info().rss, sum(c.memory_info().rss for c in children)
        except psutil.Error:
            return 0, 0

    def rss_during(self, seconds: float) -> tuple[float, float]:
        """Median (supervisor, runner) RSS sampled every :data:`SAMPLE` s for ``seconds``."""
        samples, end = [], time.monotonic() + seconds
        while time.monotonic() < end:
            samples.append(self.rss())
            time.sleep(SAMPLE)
        return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)

    def wait_steady(self, timeout: float = 300.0) -> None:
        """Until the emulator's request rate is steady: two poll intervals in a row within 10 % of
        each other. A trigger's log exists before its first poll; uncoalesced triggers each read
        the connection first (through the triggerer's supervisor), which takes a while for 1,000."""
        poll, deadline = self.args.poll_interval, time.monotonic() + timeout
        last, before = -1, self.info()["requests"]
        while time.monotonic() < deadline:
            time.sleep(poll)
            now = self.info()["requests"]
            count, before = now - before - 1, now
            if count > 0 and abs(count - last) <= 0.1 * max(count, last):
                return
            last = count
        raise RuntimeError(f"the request rate did not settle within {timeout:.0f} s")

    # -------------------------------------------------------------------------------------- phase

    def phase(self, mode: str, coalesce: bool) -> dict[str, Any]:
        n, poll = self.n, self.args.poll_interval
        t0 = time.monotonic()
        order_ids = self.place_orders(n + 1)  # index 0: the warm-up sensor of the baseline
        setup = time.monotonic() - t0
        if "triggerer" in self.topology.processes:
            self.topology.processes["triggerer"].stop()
        self.topology.start_component("triggerer")

        lag_path = self.home / f"lag-{mode}.txt"
        run_id = self.create_run(mode, lag_path)
        self.wait("the lag probe", lambda: lag_path.exists() and lag_path.stat().st_size > 200, 120)
        # One warm-up sensor first: imports, the pooled client and its token belong to the baseline.
        self.add_sensors(run_id, self.order_triggers({0: order_ids[0]}, coalesce))
        self.wait("the warm-up sensor", lambda: self.trigger_logs(run_id), 120)
        time.sleep(poll + 1)
        t_base = time.time()
        rss_base = self.rss_during(self.args.baseline)
        t_base_end = time.time()

        t_add = time.time()
        self.add_sensors(run_id, self.order_triggers(dict(list(enumerate(order_ids))[1:]), coalesce))
        self.wait(f"{n} triggers to start", lambda: len(self.trigger_logs(run_id)) > n, 300)
        t_started = time.time()
        self.wait_steady()
        t_settled = time.time()

        requests_before = self.info()["requests"]
        t_steady = time.time()
        rss_steady = self.rss_during(self.args.steady_rounds * poll)
        t_steady_end = time.time()
        sent = self.info()["requests"] - requests_before - 1  # the second /_emulator/info counts itself
        rounds = (t_steady_end - t_steady) / poll

        built_before = self.built_deliveries()
        t_jump1, _ = self.advance(PLACED_SECONDS + 1)  # PLACED -> BEING_FULFILLED: deliveries build
        self.wait("the deliveries to be built", lambda: self.built_deliveries() - built_before > n, 600)
        t_fulfil, emulator_now = self.advance(FULFILMENT_SECONDS + 1)  # -> FULFILLED
        offset = emulator_now.timestamp() - t_fulfil  # emulator clock - local clock
        self.wait("every sensor to leave deferred", lambda: self.deferred(run_id) == 0, 300, interval=0.25)
        t_done = time.time()
        self.end_run(run_id)
        # The supervisor writes the trigger logs a little after the events reached the DB; lines
        # still missing after 30 s show as fulfilment_to_event_s.n < sensors.
        with contextlib.suppress(RuntimeError):
            self.wait("every trigger log line", lambda: len(self.wait_ended_at(run_id)) > n, 30, interval=1)

        from up42_provider.hooks.up42 import UP42Hook

        orders = {o["id"]: o for o in UP42Hook().get_orders() if o["id"] in set(order_ids)}
        fulfilled_at = {}
        for index, order_id in enumerate(order_ids):
            order = orders.get(order_id) or {}
            updated = order.get("updated_at")
            if order.get("status") == "FULFILLED" and updated:
                stamp = datetime.fromisoformat(updated.replace("Z", "+00:00")).timestamp() - offset
                fulfilled_at[index] = max(t_fulfil, stamp)  # in the clock request, or a later build
        resumed = self.resumed(run_id)
        ended = self.wait_ended_at(run_id)
        statuses: dict[str, int] = {}
        for _state, _when, event in resumed.values():
            key = str(event.get("status", "none"))
            statuses[key] = statuses.get(key, 0) + 1
        to_event = [ended[i] - fulfilled_at[i] for i in fulfilled_at if i in ended]
        to_resume = [w - fulfilled_at[i] for i, (_s, w, _e) in resumed.items() if i in fulfilled_at and w]

        lags = read_lags(lag_path)

        def lag(start: float, end: float) -> dict[str, float]:
            return lag_between(lags, start, end)

        steady_lag, baseline_lag = lag(t_steady, t_steady_end), lag(t_base, t_base_end)
        return {
            "triggers": n,
            "sensors": n + 1,
            "setup_s": setup,
            "start_s": t_started - t_add,
            "settle_s": t_settled - t_add,
            "events": statuses,
            "fired": sum(1 for s, _w, e in resumed.values() if s != "deferred" and e),
            "fulfilled": len(fulfilled_at),
            "requests": sent,
            "poll_rounds": rounds,
            "requests_per_trigger_per_poll": sent / ((n + 1) * rounds),
            "lag_baseline_ms": baseline_lag,
            "lag_start_ms": lag(t_add, t_settled),
            "lag_steady_ms": steady_lag,
            "lag_steady_vs_baseline_p99": steady_lag["p99"] / baseline_lag["p99"],
            "lag_fulfilment_ms": lag(t_jump1, t_done),
            **rss_result(rss_base, rss_steady, n),
            "fulfilment_to_event_s": percentiles(to_event),
            "fulfilment_to_resumed_s": percentiles(to_resume),
            "last_event_after_fulfilment_s": t_done - t_fulfil,
        }

    def reference(self) -> dict[str, Any]:
        """Airflow's own cost of N deferred tasks, in a fresh triggerer: the same sensors on
        ``DateTimeTrigger`` an hour ahead (one asyncio sleep each, no I/O) - RSS and lag only."""
        from airflow.providers.standard.triggers.temporal import DateTimeTrigger

        n, poll = self.n, self.args.poll_interval
        self.topology.processes["triggerer"].stop()
        self.topology.start_component("triggerer")
        lag_path = self.home / "lag-reference.txt"
        run_id = self.create_run("reference", lag_path)
        self.wait("the lag probe", lambda: lag_path.exists() and lag_path.stat().st_size > 200, 120)
        moment = datetime.now(timezone.utc) + timedelta(hours=1)
        self.add_sensors(run_id, {0: DateTimeTrigger(moment)})
        self.wait("the warm-up trigger", lambda: self.trigger_logs(run_id), 120)
        time.sleep(2)
        t_base = time.time()
        rss_base = self.rss_during(self.args.baseline)
        t_base_end = time.time()
        self.add_sensors(run_id, {i: DateTimeTrigger(moment) for i in range(1, n + 1)})
        self.wait(f"{n} triggers to start", lambda: len(self.trigger_logs(run_id)) > n, 300)
        time.sleep(poll)
        t_steady = time.time()
        rss_steady = self.rss_during(self.args.steady_rounds * poll)
        t_steady_end = time.time()
        self.end_run(run_id)
        lags = read_lags(lag_path)
        return {
            "triggers": n,
            "lag_baseline_ms": lag_between(lags, t_base, t_base_end),
            "lag_steady_ms": lag_between(lags, t_steady, t_steady_end),
            **rss_result(rss_base, rss_steady, n),
        }


def read_lags(path: Path) -> list[tuple[float, float]]:
    """The probe's (wall-clock time, overshoot ms) lines."""
    found = []
    for line in path.read_text(encoding="ascii").splitlines():
        parts = line.split()
        if len(parts) == 2:
            found.append((float(parts[0]), float(parts[1])))
    return found


def lag_between(lags: list[tuple[float, float]], start: float, end: float) -> dict[str, float]:
    return percentiles(ms for when, ms in lags if start <= when <= end)


def rss_result(base: tuple[float, float], steady: tuple[float, float], n: int) -> dict[str, float]:
    """(supervisor, runner) RSS medians before and with the N triggers: totals and per trigger."""
    return {
        "rss_baseline_mib": sum(base) / 2**20,
        "rss_steady_mib": sum(steady) / 2**20,
        "rss_per_trigger_kib": (sum(steady) - sum(base)) / n / 1024,
        "rss_per_trigger_runner_kib": (steady[1] - base[1]) / n / 1024,
        "rss_per_trigger_supervisor_kib": (steady[0] - base[0]) / n / 1024,
    }


def reserialize(topology: AirflowTopology) -> None:
    """``airflow dags reserialize``: the benchmark DAG into the DB, as the dag-processor would."""
    log_path = topology.logs_dir / "dags-reserialize.log"
    with log_path.open("ab") as log:
        code = subprocess.run(
            [*_script("airflow"), "dags", "reserialize"],
            env=topology.env,
            cwd=topology.home,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=300,
            check=False,
        ).returncode
    if code != 0:
        raise RuntimeError(f"airflow dags reserialize failed ({code}); see {log_path}")


def report(
    results: dict[str, dict[str, Any]], reference: dict[str, Any], args: argparse.Namespace, wall: float
) -> dict[str, Any]:
    base, coal = results["uncoalesced"], results["coalesced"]
    for result in results.values():  # what the UP42 trigger costs beyond any deferred task
        result["rss_per_trigger_over_reference_kib"] = (
            result["rss_per_trigger_kib"] - reference["rss_per_trigger_kib"]
        )

    def value(result: dict[str, Any], path: str) -> float:
        found: Any = result
        for key in path.split("."):
            found = found[key]
        return float(found)

    def ratio(path: str) -> float:
        b = value(base, path)
        return value(coal, path) / b if b else float("nan")

    rows = [  # (label, result key[.sub key], format, target)
        ("requests per trigger per poll", "requests_per_trigger_per_poll", ".3f", "<= 0.05 coalesced"),
        ("poll rounds in the steady window", "poll_rounds", ".1f", ""),
        ("event-loop lag p99, idle baseline (ms)", "lag_baseline_ms.p99", ".1f", ""),
        ("event-loop lag p99, N triggers starting up (ms)", "lag_start_ms.p99", ".1f", ""),
        ("event-loop lag p99, steady (ms)", "lag_steady_ms.p99", ".1f", "< 100"),
        ("event-loop lag max, steady (ms)", "lag_steady_ms.max", ".1f", ""),
        ("event-loop lag p99, steady / idle baseline", "lag_steady_vs_baseline_p99", ".2f", ""),
        ("event-loop lag p99, fulfilment (ms)", "lag_fulfilment_ms.p99", ".1f", ""),
        ("RSS triggerer + runner, baseline (MiB)", "rss_baseline_mib", ".0f", ""),
        ("RSS triggerer + runner, steady (MiB)", "rss_steady_mib", ".0f", ""),
        ("RSS per trigger (KiB)", "rss_per_trigger_kib", ".1f", "<= 20"),
        ("  of it in the trigger runner (KiB)", "rss_per_trigger_runner_kib", ".1f", ""),
        ("  of it in the supervisor (KiB)", "rss_per_trigger_supervisor_kib", ".1f", ""),
        ("RSS per trigger beyond a DateTimeTrigger's (KiB)", "rss_per_trigger_over_reference_kib", ".1f", ""),
        ("fulfilment -> trigger event p50 (s)", "fulfilment_to_event_s.p50", ".2f", ""),
        ("fulfilment -> trigger event p99 (s)", "fulfilment_to_event_s.p99", ".2f", ""),
        ("fulfilment -> task resumed in DB p50 (s)", "fulfilment_to_resumed_s.p50", ".2f", ""),
        ("fulfilment -> task resumed in DB p99 (s)", "fulfilment_to_resumed_s.p99", ".2f", ""),
        ("N triggers started after (s)", "start_s", ".1f", ""),
        ("request rate steady after (s)", "settle_s", ".1f", ""),
    ]
    print(
        f"\nUP42 sensors in a real airflow triggerer: {args.triggers} deferred order sensors per phase "
        f"(+1 warm-up), poll interval {args.poll_interval:g} s, steady window {args.steady_rounds} polls; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, whole run {wall:.0f} s"
    )
    for mode, r in results.items():
        events = ", ".join(f"{k}: {v}" for k, v in sorted(r["events"].items()))
        print(
            f"  {mode}: {r['fired']}/{r['sensors']} sensors resumed ({events}); {r['requests']} "
            f"requests in the steady window; orders placed in {r['setup_s']:.0f} s"
        )
    width = max(len(row[0]) for row in rows)
    header = f"{'metric':<{width}}  {'uncoalesced':>12}  {'coalesced':>12}  {'coal./uncoal.':>13}  target"
    print(f"\n{header}\n{'-' * len(header)}")
    for name, path, fmt, target in rows:
        print(
            f"{name:<{width}}  {value(base, path):>12{fmt}}  {value(coal, path):>12{fmt}}  "
            f"{ratio(path):>13.3f}  {target}"
        )
    ref = reference
    print(
        f"\nreference, the same {ref['triggers']} deferred tasks on DateTimeTrigger (Airflow alone): "
        f"RSS per trigger {ref['rss_per_trigger_kib']:.1f} KiB "
        f"(runner {ref['rss_per_trigger_runner_kib']:.1f}, "
        f"supervisor {ref['rss_per_trigger_supervisor_kib']:.1f}), event-loop lag p99 "
        f"{ref['lag_steady_ms']['p99']:.1f} ms (idle {ref['lag_baseline_ms']['p99']:.1f} ms)"
    )
    summary = {
        "benchmark": "airflow_triggerer",
        "triggers": args.triggers,
        "poll_interval": args.poll_interval,
        "wall_s": wall,
        "phases": results,
        "reference": reference,
        "ratios": {  # coalesced / uncoalesced
            "requests_per_trigger_per_poll": ratio("requests_per_trigger_per_poll"),
            "lag_steady_p99": ratio("lag_steady_ms.p99"),
            "rss_per_trigger": ratio("rss_per_trigger_kib"),
            "fulfilment_to_event_p50": ratio("fulfilment_to_event_s.p50"),
        },
    }
    print(json.dumps(summary, sort_keys=True))
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--triggers", type=int, default=1000, help="deferred sensors per phase")
    parser.add_argument("--poll-interval", type=float, default=5.0, help="1,000 / 5 s = 200 polls/s")
    parser.add_argument("--steady-rounds", type=int, default=3, help="poll intervals in the steady window")
    parser.add_argument("--baseline", type=float, default=6.0, help="seconds the idle triggerer is measured")
    parser.add_argument("--home", type=Path, default=None, help="AIRFLOW_HOME to keep (default: temporary)")
    args = parser.parse_args(argv)

    started = time.monotonic()
    home = args.home or Path(tempfile.mkdtemp(prefix="up42-triggerer-bench-"))
    topology = AirflowTopology(
        home,
        REPO / "benchmarks" / "dags",
        emulator_speed=SPEED,
        emulator_args=[
            "--credits",
            "100000000",
            "--token-lifetime",
            "86400",
            "--log-level",
            "warning",
            "--data-dir",
            str(Path(home).resolve() / "emulator-data"),
        ],
        extra_env={
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            "AIRFLOW__TRIGGERER__CAPACITY": str(args.triggers + 10),
        },
        components=(),
    )
    try:
        with topology:
            os.environ.clear()
            os.environ.update(topology.env)  # before Airflow is first imported in this process
            reserialize(topology)
            bench = Bench(topology, args)
            results = {mode: bench.phase(mode, coalesce) for mode, coalesce in MODES}
            reference = bench.reference()
    finally:
        if args.home is None:
            shutil.rmtree(home, ignore_errors=True)
    report(results, reference, args, time.monotonic() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
