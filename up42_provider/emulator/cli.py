"""``up42-emulator``: run the UP42 API emulator as a local HTTP server."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import socket
import sys
from pathlib import Path

import uvicorn

from up42_provider.emulator.app import create_app
from up42_provider.emulator.config import (
    DEFAULT_ACCOUNT_PASSWORD,
    DEFAULT_ACCOUNT_USERNAME,
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_PROJECT_API_KEY,
    DEFAULT_PROJECT_ID,
    EmulatorConfig,
    FaultConfig,
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="up42-emulator",
        description="Local emulator of the UP42 API for offline tests and demos.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--host", default=DEFAULT_HOST, help="interface to listen on")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="port to listen on (0: any free port)")
    p.add_argument(
        "--project-id", default=DEFAULT_PROJECT_ID, help="project id 2023 clients authenticate with"
    )
    p.add_argument(
        "--project-api-key", default=DEFAULT_PROJECT_API_KEY, help="project API key (2023 generation)"
    )
    p.add_argument(
        "--account-username",
        default=DEFAULT_ACCOUNT_USERNAME,
        help="account e-mail today's generation signs in with (OAuth password grant)",
    )
    p.add_argument(
        "--account-password", default=DEFAULT_ACCOUNT_PASSWORD, help="account password (today's generation)"
    )
    p.add_argument(
        "--speed", type=float, default=1.0, help="time factor: 10 makes every simulated duration 10x shorter"
    )
    p.add_argument("--seed", type=int, default=42, help="seed of the synthetic world and of injected faults")
    p.add_argument("--token-lifetime", type=int, default=300, help="access token lifetime in seconds")
    p.add_argument(
        "--signed-url-lifetime", type=int, default=900, help="signed download URL lifetime in seconds"
    )
    p.add_argument("--credits", type=int, default=100_000, help="initial credit balance")
    p.add_argument("--max-concurrent-jobs", type=int, default=3, help="project setting MAX_CONCURRENT_JOBS")
    p.add_argument(
        "--asset-size-mb", type=float, default=0.0, help="pad order assets to about this size (benchmarks)"
    )
    p.add_argument(
        "--download-hashes",
        default="crc32c,md5",
        help="hashes signed downloads announce in x-goog-hash: crc32c,md5 (GCS), crc32c or md5",
    )
    p.add_argument(
        "--data-dir", type=Path, default=None, help="where generated files are kept (default: temporary)"
    )
    faults = p.add_argument_group("fault injection (probabilities 0..1, off by default)")
    faults.add_argument("--fault-5xx", type=float, default=0.0, help="rate of 500/502/503 answers")
    faults.add_argument("--fault-429", type=float, default=0.0, help="rate of 429 answers with Retry-After")
    faults.add_argument("--retry-after", type=float, default=1.0, help="seconds sent in Retry-After")
    faults.add_argument("--fault-slow", type=float, default=0.0, help="rate of slow answers")
    faults.add_argument("--slow-seconds", type=float, default=2.0, help="delay of a slow answer")
    faults.add_argument("--fault-drop", type=float, default=0.0, help="rate of downloads dropped mid-body")
    faults.add_argument(
        "--fault-token-expiry", type=float, default=0.0, help="rate of valid tokens refused as expired"
    )
    faults.add_argument(
        "--fault-lost-response", type=float, default=0.0, help="rate of creating calls whose response is lost"
    )
    faults.add_argument(
        "--fault-late",
        type=float,
        default=0.0,
        help="rate of creating calls held --late-seconds and completed even after the client gave up",
    )
    faults.add_argument(
        "--fault-late-504",
        type=float,
        default=0.0,
        help="rate of creating calls answered 504 at once and completed --late-seconds later",
    )
    faults.add_argument("--late-seconds", type=float, default=4.0, help="delay of a late creation")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return p


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    return EmulatorConfig(
        project_id=args.project_id,
        project_api_key=args.project_api_key,
        account_username=args.account_username,
        account_password=args.account_password,
        seed=args.seed,
        speed=args.speed,
        token_lifetime=args.token_lifetime,
        signed_url_lifetime=args.signed_url_lifetime,
        initial_credits=args.credits,
        max_concurrent_jobs=args.max_concurrent_jobs,
        asset_size_mb=args.asset_size_mb,
        data_dir=args.data_dir,
        download_hashes=tuple(h.strip().lower() for h in args.download_hashes.split(",") if h.strip()),
        faults=FaultConfig(
            error_rate=args.fault_5xx,
            rate_limit_rate=args.fault_429,
            retry_after=args.retry_after,
            slow_rate=args.fault_slow,
            slow_seconds=args.slow_seconds,
            drop_rate=args.fault_drop,
            token_expiry_rate=args.fault_token_expiry,
            lost_response_rate=args.fault_lost_response,
            late_rate=args.fault_late,
            late_504_rate=args.fault_late_504,
            late_seconds=args.late_seconds,
        ),
    )


def announcement(config: EmulatorConfig, base: str) -> list[str]:
    """The start-up text: both generations' credentials and a ready Airflow connection for each."""
    lines = [
        f"UP42 emulator listening on {base}",
        f"  workspace id:    {config.workspace_id}",
        f"  speed: x{config.speed:g}  seed: {config.seed}  token lifetime: {config.token_lifetime} s",
        "  2023 generation (project id + API key, POST /oauth/token):",
        f"    project id:      {config.project_id}",
        f"    project API key: {config.project_api_key}",
        f"    AIRFLOW_CONN_UP42_DEFAULT='{json.dumps(config.airflow_connection(base, '2023'))}'",
        "  today's generation (account e-mail + password, OAuth password grant at",
        f"  {base}/realms/public/protocol/openid-connect/token):",
        f"    username:        {config.account_username}",
        f"    password:        {config.account_password}",
        f"    AIRFLOW_CONN_UP42_DEFAULT='{json.dumps(config.airflow_connection(base, 'current'))}'",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.speed <= 0:
        print("up42-emulator: --speed must be > 0", file=sys.stderr)
        return 2
    try:
        config = config_from_args(args)
    except ValueError as exc:
        print(f"up42-emulator: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = create_app(config)
    sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as exc:
        print(f"up42-emulator: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    sock.listen(2048)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level=args.log_level, access_log=False, lifespan="on"))
    base = f"http://{args.host}:{port}"

    async def announce() -> None:
        # Printed when the app is ready; the socket already listens, so a script can wait for it.
        for line in announcement(config, base):
            print(line, flush=True)

    app.emulator.startup_hooks.append(announce)
    # uvicorn shuts down gracefully on SIGINT/SIGTERM and then re-raises the signal to the handler that was
    # installed before it started: make that a no-op so a stopped emulator exits with status 0.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: None)
    server.run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
