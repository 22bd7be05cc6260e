"""The client reads the proxy environment once per host, and ~/.netrc never replaces its credentials."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from up42_provider.api.client import UP42Client
from up42_provider.api.endpoints import V1
from up42_provider.api.errors import UP42Error
from up42_provider.api.settings import ClientSettings
from up42_provider.emulator.server import EmulatorServer


@pytest.fixture
def proxy() -> Iterator[tuple[str, list[str]]]:
    """A stand-in HTTP proxy on 127.0.0.1 that records request lines and answers 502."""
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append(self.requestline)
            self.send_response(502)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def _client(server: EmulatorServer) -> UP42Client:
    settings = ClientSettings(
        base_url=server.url,
        project_id=server.config.project_id,
        api_key=server.config.project_api_key,
        max_attempts=1,
        max_retry_wait=0,
    )
    return UP42Client(settings)


def test_proxy_environment_is_honoured(emulator: EmulatorServer, proxy, monkeypatch):
    url, seen = proxy
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "")
    monkeypatch.setenv("HTTP_PROXY", url)
    monkeypatch.setenv("http_proxy", url)
    with pytest.raises(UP42Error):
        _client(emulator).call(V1.get_project)
    assert seen and seen[0].startswith(f"POST {emulator.url}/oauth/token")


def test_no_proxy_bypasses_the_proxy(emulator: EmulatorServer, proxy, monkeypatch):
    url, seen = proxy
    monkeypatch.setenv("HTTP_PROXY", url)
    monkeypatch.setenv("http_proxy", url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    assert _client(emulator).call(V1.get_project)["id"] == emulator.config.project_id
    assert seen == []


def test_netrc_does_not_replace_the_bearer_token(emulator: EmulatorServer, tmp_path, monkeypatch):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login intruder password not-the-token\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    assert _client(emulator).call(V1.get_project)["id"] == emulator.config.project_id
