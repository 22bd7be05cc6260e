"""Debian's headless Chromium for the tests that look at what a person sees: HTML maps, the Airflow UI.

No browser is downloaded: ``/usr/bin/chromium`` and ``/usr/bin/chromedriver`` come from Debian's
``chromium`` and ``chromium-driver`` packages (``.ci/run`` installs them when missing). Pages are
driven either by Chromium's own ``--dump-dom`` / ``--screenshot`` (static pages) or through
chromedriver's W3C WebDriver HTTP protocol with httpx (interactive pages: no Selenium needed).
Screenshots are kept in ``test-artifacts/`` (``UP42_TEST_ARTIFACTS`` to change it).
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
# No first-run, sync, component updates or background traffic: the browser talks only to the page.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
ENTER = "\ue007"  # the WebDriver key code
# Network off: every host name fails to resolve and any proxied request goes nowhere (file:// works).
OFFLINE = ("--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9")


def require_chromium() -> None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    if missing:
        pytest.skip(f"{', '.join(missing)} missing: apt-get install chromium chromium-driver (.ci/run does)")


def artifacts(*parts: str) -> Path:
    """A folder under test-artifacts/ that survives the test (screenshots to look at)."""
    folder = Path(os.environ.get("UP42_TEST_ARTIFACTS") or REPO / "test-artifacts").joinpath(*parts)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def run_chromium(url: str, *args: str, offline: bool = True, timeout: float = 90) -> str:
    """One headless Chromium run on ``url`` (``--dump-dom`` / ``--screenshot=...`` in ``args``); stdout."""
    require_chromium()
    with tempfile.TemporaryDirectory(prefix="up42-chromium-") as profile:
        command = [
            CHROMIUM,
            *FLAGS,
            *(OFFLINE if offline else ()),
            f"--user-data-dir={profile}",
            "--window-size=1200,800",
            "--virtual-time-budget=5000",  # let the page's scripts run before the DOM is read
            *args,
            url,
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"chromium exited {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class WebDriver:
    """A minimal W3C WebDriver client (one session) over httpx; every call has a timeout."""

    def __init__(self, url: str, session_id: str) -> None:
        self.http = httpx.Client(base_url=f"{url}/session/{session_id}", timeout=60, trust_env=False)

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.http.request(method, path, json=body)
        value = response.json().get("value")
        if response.status_code >= 400:
            raise RuntimeError(f"WebDriver {method} {path}: {value}")
        return value

    def get(self, url: str) -> None:
        self._call("POST", "/url", {"url": url})

    def script(self, source: str, *args: Any) -> Any:
        return self._call("POST", "/execute/sync", {"script": source, "args": list(args)})

    def find(self, css: str, using: str = "css selector") -> str:
        """The WebDriver id of the first element matching ``css`` (or an XPath with ``using="xpath"``)."""
        found = self._call("POST", "/element", {"using": using, "value": css})
        return str(next(iter(found.values())))

    def click_button(self, label: str) -> None:
        """A real click on the button labelled ``label`` (some widgets ignore clicks from JavaScript)."""
        element = self.find(f"//button[normalize-space(.)={label!r}]", using="xpath")
        self._call("POST", f"/element/{element}/click", {})

    def type(self, css: str, text: str) -> None:
        """Real key presses into an element (React inputs ignore values set from JavaScript)."""
        self._call("POST", f"/element/{self.find(css)}/value", {"text": text})

    def wait_for(self, source: str, *args: Any, timeout: float = 60, what: str = "") -> Any:
        """Poll a JavaScript expression (``return ...``) until it is truthy; its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.script(source, *args)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"not within {timeout} s: {what or source}")
            time.sleep(0.5)

    def screenshot(self, path: Path) -> Path:
        path.write_bytes(base64.b64decode(self._call("GET", "/screenshot")))
        return path

    def close(self) -> None:
        try:
            self._call("DELETE", "")
        finally:
            self.http.close()


@contextmanager
def webdriver(window: str = "1400,1000") -> Iterator[WebDriver]:
    """chromedriver on a free loopback port, one headless Chromium session; both ended afterwards."""
    require_chromium()
    port = _free_port()
    profile = tempfile.mkdtemp(prefix="up42-chromium-")
    driver = subprocess.Popen(
        [CHROMEDRIVER, f"--port={port}", "--allowed-ips=127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    session = None
    try:
        deadline = time.monotonic() + 30
        with httpx.Client(timeout=10, trust_env=False) as http:
            while True:
                try:
                    if http.get(f"{url}/status").json()["value"]["ready"]:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError("chromedriver did not start within 30 s")
                time.sleep(0.2)
            args = [*FLAGS, f"--user-data-dir={profile}", f"--window-size={window}"]
            options = {"binary": CHROMIUM, "args": args}
            answer = http.post(
                f"{url}/session",
                json={"capabilities": {"alwaysMatch": {"goog:chromeOptions": options}}},
                timeout=60,
            ).json()["value"]
        if "sessionId" not in answer:
            raise RuntimeError(f"chromedriver refused a session: {answer}")
        session = WebDriver(url, answer["sessionId"])
        yield session
    finally:
        if session is not None:
            with contextlib.suppress(Exception):  # the driver is ended below anyway
                session.close()
        # chromedriver leads its own process group, and Chromium's processes stay in it: end the group,
        # so no browser outlives the test even when the session could not be closed.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(driver.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            driver.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):  # whatever of the group is still there
            os.killpg(driver.pid, signal.SIGKILL)
        driver.wait(timeout=10)
        shutil.rmtree(profile, ignore_errors=True)
