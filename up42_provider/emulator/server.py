"""Run the emulator in-process on a free port (tests, the demo, users' own DAG tests).

with EmulatorServer(EmulatorConfig(speed=50)) as emulator:
    os.environ["AIRFLOW_CONN_UP42_DEFAULT"] = emulator.airflow_connection()
"""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any

import uvicorn

from up42_provider.emulator.app import create_app
from up42_provider.emulator.config import EmulatorConfig
from up42_provider.emulator.state import EmulatorState


class EmulatorServer:
    def __init__(self, config: EmulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config or EmulatorConfig()
        self.host = host
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.port: int = self._socket.getsockname()[1]
        self.app = create_app(self.config)
        self._server = uvicorn.Server(
            uvicorn.Config(
                self.app,
                log_level="warning",
                access_log=False,
                lifespan="on",
                timeout_graceful_shutdown=2,
                backlog=2048,
            )
        )
        self._thread: threading.Thread | None = None

    @property
    def state(self) -> EmulatorState:
        return self.app.emulator

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def airflow_connection(self, generation: str = "2023", **extra: Any) -> str:
        """The JSON form of an Airflow connection to this emulator, for ``AIRFLOW_CONN_UP42_DEFAULT``.

        ``generation="current"`` signs in with the account (e-mail and password) instead of the
        2023 project id and API key.
        """
        return json.dumps(self.config.airflow_connection(self.url, generation, **extra))

    def start(self, timeout: float = 30) -> EmulatorServer:
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="up42-emulator", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("UP42 emulator failed to start")
            if time.monotonic() > deadline:
                raise TimeoutError(f"UP42 emulator did not start within {timeout} s")
            time.sleep(0.02)
        return self

    def stop(self, timeout: float = 10) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(timeout)
        self._socket.close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
