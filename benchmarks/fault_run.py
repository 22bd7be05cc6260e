"""Fault-injected acceptance run: archive and processing pipelines against a faulty emulator.

Starts ``up42-emulator`` with seeded rates of every fault kind and a short token life, runs the
example DAGs (``airflow dags test``, one logical date per pipeline, sequentially), then checks:
every pipeline succeeded, no duplicate orders (per tag) / jobs (per name), downloaded files match
the emulator's bytes, and no secret (API key, issued bearer tokens, URL signatures) is in the log.

    python benchmarks/fault_run.py [--archive 10] [--processing 5] [--out /tmp/fault-run]

Exit code 0 only when every check passes. Not a pytest test: it takes minutes.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from up42_provider.demo import _run, _run_succeeded, airflow_command, airflow_environment  # noqa: E402

FAULTS = {
    "--fault-5xx": 0.08,
    "--fault-429": 0.08,
    "--fault-slow": 0.05,
    "--fault-drop": 0.15,
    "--fault-token-expiry": 0.05,
    "--fault-lost-response": 0.1,
    "--fault-late": 0.1,
    "--fault-late-504": 0.1,
}
SECRET_PATTERNS = [
    re.compile(r"(?:X-Goog-Signature|Signature|sig)=([A-Za-z0-9%_\-.~+/]{8,})", re.I),
    re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),  # JWT
]


def start_emulator(out: Path, seed: int, speed: float) -> tuple[subprocess.Popen[str], str, dict]:
    argv = [
        str(Path(sys.executable).with_name("up42-emulator")),
        "--port=0",
        f"--seed={seed}",
        f"--speed={speed}",
        "--token-lifetime=20",
        "--retry-after=0.2",
        "--slow-seconds=0.5",
        "--late-seconds=3",
        f"--data-dir={out / 'emulator-data'}",
        "--log-level=debug",
        *[f"{k}={v}" for k, v in FAULTS.items()],
    ]
    log = (out / "emulator.log").open("w")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, text=True, bufsize=1)
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    conn = None
    for line in proc.stdout:
        log.write(line)
        m = re.search(r"AIRFLOW_CONN_UP42_DEFAULT='(.*)'", line)
        if m and conn is None:
            conn = json.loads(m.group(1))
            break
        if time.monotonic() > deadline:
            break
    if conn is None:
        proc.kill()
        raise SystemExit("emulator did not announce a connection; see emulator.log")

    def pump() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            log.write(line)
        log.flush()

    import threading

    threading.Thread(target=pump, daemon=True).start()
    return proc, conn["host"], conn


def api_token(base: str, conn: dict) -> str:
    for _ in range(20):
        r = httpx.post(
            f"{base}/oauth/token",
            auth=(conn["login"], conn["password"]),
            data={"grant_type": "client_credentials"},
            timeout=10,
        )
        if r.status_code == 200:
            return r.json()["access_token"]
        time.sleep(0.3)
    raise SystemExit(f"no token from the emulator: {r.status_code}")


def get_json(base: str, path: str, token: str, **params: object) -> dict:
    for _ in range(30):  # the emulator's faults also hit our checks: retry them
        r = httpx.get(
            f"{base}{path}", params=params, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        if r.status_code == 200:
            return r.json()
        time.sleep(0.3)
    raise SystemExit(f"GET {path}: {r.status_code}")


def items(body: object) -> list[dict]:
    """The records of a 2023 list answer: ``data`` as a list or a page with ``content``."""
    if isinstance(body, dict):
        body = body.get("data", body)
    if isinstance(body, dict):
        body = body.get("content", [])
    return list(body or [])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archive", type=int, default=10)
    ap.add_argument("--processing", type=int, default=5)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--speed", type=float, default=60.0)
    ap.add_argument("--out", type=Path, default=Path("/tmp/up42-fault-run"))
    args = ap.parse_args(argv)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    home = out / ".airflow"
    home.mkdir(exist_ok=True)
    started = time.monotonic()
    proc, base, conn = start_emulator(out, args.seed, args.speed)
    failures: list[str] = []
    try:
        conn["extra"] = {**conn.get("extra", {}), "create_settle_seconds": 8, "timeout": [5, 2]}
        env = airflow_environment(home, out, json.dumps(conn), 0.5)
        env["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "DEBUG"
        env["AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY"] = "2"
        if not (home / "airflow.db").exists() and (
            _run([*airflow_command(), "db", "migrate"], env, home / "db-migrate.log", None) != 0
        ):
            raise SystemExit("airflow db migrate failed")
        runs: dict[str, bool] = {}
        plan = [("up42_archive_imagery", i) for i in range(args.archive)]
        plan += [("up42_processing", i) for i in range(args.processing)]
        for dag_id, i in plan:
            name = f"{dag_id}-{i:02d}"
            folder = out / "runs" / name
            conf = {"output_folder": str(folder)}
            if dag_id == "up42_processing":
                conf["workflow_name"] = f"fault-run-{i:02d}"
            date = f"2024-01-{i + 1:02d}T00:00:00+00:00"
            log_path = out / f"{name}.log"
            began = time.monotonic()
            code = _run(
                [*airflow_command(), "dags", "test", dag_id, date, "-c", json.dumps(conf)],
                env,
                log_path,
                None,
            )
            runs[name] = code == 0 and _run_succeeded(log_path)
            print(
                f"{name}: {'success' if runs[name] else 'FAILED'} in {time.monotonic() - began:.0f} s",
                flush=True,
            )

        token = api_token(base, conn)
        info = get_json(base, "/_emulator/info", token)
        ws = info["workspaceId"]
        orders = get_json(base, f"/workspaces/{ws}/orders", token, size=500)
        order_list = items(orders)
        tags = collections.Counter(tuple(sorted(o.get("tags") or [])) for o in order_list)
        jobs = get_json(base, f"/projects/{info['projectId']}/jobs", token)
        job_list = items(jobs)
        names = collections.Counter(j.get("name") for j in job_list)
        wfs = items(get_json(base, f"/projects/{info['projectId']}/workflows", token))
        wf_names = collections.Counter(w.get("name") for w in wfs)
        dup_orders = sum(n - 1 for n in tags.values() if n > 1)
        dup_jobs = sum(n - 1 for n in names.values() if n > 1)
        dup_wfs = sum(n - 1 for n in wf_names.values() if n > 1)

        # files: every downloaded file against the emulator's stored bytes (same name, md5)
        blobs: dict[str, set[str]] = collections.defaultdict(set)
        for p in (out / "emulator-data").rglob("*"):
            if p.is_file():
                blobs[p.name].add(hashlib.md5(p.read_bytes()).hexdigest())
        checked = corrupt = 0
        for p in (out / "runs").rglob("*"):
            if p.is_file() and p.name in blobs:
                checked += 1
                if hashlib.md5(p.read_bytes()).hexdigest() not in blobs[p.name]:
                    corrupt += 1
                    failures.append(f"corrupt file {p}")
            if p.is_file() and p.name.endswith((".part", ".tmp", ".partial")):
                corrupt += 1
                failures.append(f"leftover partial file {p}")
    finally:
        proc.terminate()
        proc.wait(timeout=20)

    log_text = "".join(
        p.read_text(errors="replace") for p in [*out.glob("*.log"), *home.rglob("*.log")] if p.is_file()
    )
    (out / "all.log").write_text(log_text)
    secrets_found = []
    if conn["password"] in log_text:
        secrets_found.append("project API key")
    for pat in SECRET_PATTERNS:
        for m in pat.finditer(log_text):
            secrets_found.append(m.group(0)[:24] + "...")
    if token in log_text:
        secrets_found.append("bearer token")

    ok_runs = sum(runs.values())
    rows = [
        ("pipelines succeeded", f"{ok_runs}/{len(runs)}"),
        ("orders", str(len(order_list))),
        ("duplicate orders (per tag)", str(dup_orders)),
        ("jobs", str(len(job_list))),
        ("duplicate jobs (per name)", str(dup_jobs)),
        ("workflows", str(len(wfs))),
        ("duplicate workflows (per name)", str(dup_wfs)),
        ("files verified / corrupt", f"{checked}/{corrupt}"),
        ("secrets in logs", str(len(secrets_found))),
        ("faults fired", json.dumps(info.get("faultsFired"))),
        ("requests", str(info.get("requests"))),
        ("log bytes scanned", str(len(log_text))),
        ("seconds", f"{time.monotonic() - started:.0f}"),
    ]
    for k, v in rows:
        print(f"{k:34} {v}")
    if ok_runs != len(runs):
        failures.append("pipelines failed: " + ", ".join(n for n, s in runs.items() if not s))
    if dup_orders or dup_jobs or dup_wfs:
        failures.append("duplicates")
    if secrets_found:
        failures.append("secrets in logs: " + ", ".join(sorted(set(secrets_found))[:10]))
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
