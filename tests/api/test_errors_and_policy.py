"""Offline units: error mapping, decoding, retry decisions, settings, URL redaction, masking."""

from __future__ import annotations

import pickle
import subprocess
import sys
import types

import pytest

from up42_provider.api import masking
from up42_provider.api.errors import (
    UP42AuthenticationError,
    UP42Error,
    UP42InsufficientCreditsError,
    UP42NotFoundError,
    UP42RateLimitedError,
    UP42ServerError,
    UP42TransportError,
    UP42ValidationError,
    error_from_response,
)
from up42_provider.api.redact import redact_text, redact_url
from up42_provider.api.responses import decode, parse_retry_after
from up42_provider.api.retry import BEFORE_SEND, is_retryable
from up42_provider.api.settings import ClientSettings


@pytest.mark.parametrize(
    ("status", "body", "cls", "message"),
    [
        (
            403,
            {"data": {}, "error": {"code": 403, "message": "some 403 error message"}},
            UP42AuthenticationError,
            "some 403 error message",
        ),
        (404, {"data": None, "error": "Not found!"}, UP42NotFoundError, "Not found!"),
        (
            404,
            {"status": 404, "title": "Resource does not exist.", "detail": {}},
            UP42NotFoundError,
            "Resource does not exist.",
        ),
        (
            405,
            {"status": 405, "title": "Resource (Quotation) is write-protected.", "detail": None},
            UP42ValidationError,
            "Resource (Quotation) is write-protected.",
        ),
        (
            401,
            {"data": None, "message": "Invalid project credentials"},
            UP42AuthenticationError,
            "Invalid project credentials",
        ),
        (
            401,
            {"error": "invalid_grant", "error_description": "Invalid user credentials"},
            UP42AuthenticationError,
            "invalid_grant: Invalid user credentials",
        ),
        (
            429,
            {"data": {}, "error": {"code": 429, "message": "rate limited"}},
            UP42RateLimitedError,
            "rate limited",
        ),
        (
            402,
            {"data": None, "error": {"code": 402, "message": "Payment required"}},
            UP42InsufficientCreditsError,
            "Payment required",
        ),
        (
            409,
            {"data": None, "error": {"code": 409, "message": "Insufficient credits for this order"}},
            UP42InsufficientCreditsError,
            "Insufficient credits for this order",
        ),
        (422, {"data": None, "error": {"code": 422, "message": "bad aoi"}}, UP42ValidationError, "bad aoi"),
        (502, b"<html>Bad gateway</html>", UP42ServerError, "<html>Bad gateway</html>"),
        (503, b"", UP42ServerError, "Service Unavailable"),
        (418, None, UP42Error, "I'm a Teapot"),
    ],
)
def test_error_bodies_map_to_classes(status, body, cls, message):
    exc = error_from_response(status, body, "GET", "/v2/tasking/quotation/q1")
    assert type(exc) is cls
    assert exc.status == status
    assert exc.message == message
    assert str(exc) == f"UP42 {status} on GET /v2/tasking/quotation/q1: {message}"


def test_v2_problem_keeps_title_and_detail():
    body = {"status": 400, "title": "Bad request", "detail": "decision must be ACCEPTED or REJECTED"}
    exc = error_from_response(400, body, "PATCH", "/v2/tasking/quotation/q")
    assert exc.title == "Bad request" and exc.detail == body["detail"]
    assert exc.message == "Bad request: decision must be ACCEPTED or REJECTED"


def test_error_messages_strip_signed_urls():
    body = {"data": None, "error": "cannot read https://storage.example/x.zip?X-Goog-Signature=deadbeef"}
    exc = error_from_response(400, body, "GET", "/x")
    assert "deadbeef" not in str(exc)
    assert "https://storage.example/x.zip" in str(exc)


def test_errors_pickle_with_their_fields():
    exc = UP42TransportError("gone", maybe_sent=True, method="POST", path="/p", status=None)
    exc.attempts = 3
    copy = pickle.loads(pickle.dumps(exc))
    assert type(copy) is UP42TransportError and copy.maybe_sent and copy.attempts == 3
    assert str(copy) == str(exc) == "UP42 transport error on POST /p: gone (gave up after 3 attempts)"


def test_decode_envelope_and_kinds():
    assert decode("envelope", 200, {}, b'{"data": {"a": 1}, "error": null}', "GET", "/x") == {"a": 1}
    assert decode("envelope", 200, {}, b'{"data": [1], "error": {}}', "GET", "/x") == [1]
    assert decode("envelope", 200, {}, b'{"content": []}', "GET", "/x") == {
        "content": []
    }  # tolerated bare page
    assert decode("envelope", 200, {}, b'{"data": null, "error": null}', "GET", "/x") is None
    assert decode("bare", 200, {}, b'{"type": "FeatureCollection"}', "GET", "/x") == {
        "type": "FeatureCollection"
    }
    assert decode("text", 200, {}, b"line 1\nline 2", "GET", "/x") == "line 1\nline 2"
    assert decode("text", 200, {}, b'""', "GET", "/x") == ""
    assert decode("text", 200, {}, b'{"a": 1}', "GET", "/x") == '{"a": 1}'
    assert decode("binary", 200, {}, b"\x89PNG", "GET", "/x") == b"\x89PNG"
    assert decode("none", 204, {}, b"", "DELETE", "/x") is None
    assert decode("none", 200, {}, b"not json", "POST", "/x") is None


def test_decode_raises_on_2xx_envelope_with_only_an_error():
    with pytest.raises(UP42Error) as info:
        decode("envelope", 200, {}, b'{"data": null, "error": "Not found!"}', "GET", "/projects/p")
    assert info.value.message == "Not found!"
    with pytest.raises(UP42NotFoundError):
        decode("envelope", 200, {}, b'{"data": null, "error": {"code": 404, "message": "gone"}}', "GET", "/x")
    with pytest.raises(UP42Error, match="not valid JSON"):
        decode("envelope", 200, {}, b"<html>", "GET", "/x")


def test_decode_reads_retry_after_on_429_and_503():
    with pytest.raises(UP42RateLimitedError) as info:
        decode("envelope", 429, {"retry-after": "7"}, b"", "GET", "/x")
    assert info.value.retry_after == 7.0
    with pytest.raises(UP42ServerError) as info:
        decode("envelope", 503, {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, b"", "GET", "/x")
    assert info.value.retry_after == 0.0
    assert parse_retry_after("abc") is None and parse_retry_after(None) is None


@pytest.mark.parametrize(
    ("exc", "creates", "expected"),
    [
        (UP42RateLimitedError("x", status=429), True, True),
        (UP42ServerError("x", status=503), False, True),
        (UP42ServerError("x", status=503), True, False),
        (UP42TransportError("x", maybe_sent=False), True, True),
        (UP42TransportError("x", maybe_sent=True), False, True),
        (UP42TransportError("x", maybe_sent=True), True, False),
        (UP42TransportError("x", maybe_sent=False, retryable=False), False, False),
        (UP42NotFoundError("x", status=404), False, False),
        (UP42AuthenticationError("x", status=401), False, False),
        (ValueError("x"), False, False),
    ],
)
def test_retry_decisions(exc, creates, expected):
    assert is_retryable(exc, creates=creates) is expected


def test_token_call_failures_are_retryable_even_for_creating_calls():
    exc = UP42TransportError("x", maybe_sent=True)
    setattr(exc, BEFORE_SEND, True)
    assert is_retryable(exc, creates=True)


def test_settings_normalise_and_hide_the_key():
    s = ClientSettings("api.up42.com/", "project", "super-secret-key", timeout=7)
    assert s.base_url == "https://api.up42.com"
    assert s.timeout == (7.0, 7.0)
    assert "super-secret-key" not in repr(s)
    with pytest.raises(ValueError):
        ClientSettings("ftp://x", "p", "k")
    with pytest.raises(ValueError, match="must look like") as info:
        ClientSettings("ftp://u:SECRET@x", "p", "k")
    assert "SECRET" not in str(info.value)
    with pytest.raises(ValueError):
        ClientSettings("https://x", "", "k")
    with pytest.raises(ValueError):
        ClientSettings("https://x", "p", "k", max_attempts=0)


def test_redact_url():
    signed = "https://storage.googleapis.com/b/o.tgz?X-Goog-Algorithm=GOOG4&X-Goog-Signature=abc#frag"
    assert redact_url(signed) == "https://storage.googleapis.com/b/o.tgz"
    assert redact_url("https://user:pw@host/p?q=1") == "https://host/p"
    assert redact_url("/relative?token=x") == "/relative"
    assert redact_url("http://u:pw@[::1?token=x") == "http://[::1"  # unparsable: user-info still dropped
    assert redact_text("see http://h/p?sig=1 and https://k/l?x=2.") == "see http://h/p and https://k/l"


def test_mask_secret_is_a_no_op_without_airflow(monkeypatch):
    monkeypatch.setattr(masking, "_resolved", None)
    monkeypatch.delitem(sys.modules, "airflow", raising=False)
    masking.mask_secret("value-1")  # must not import Airflow
    assert "airflow" not in sys.modules


async def test_mask_secret_uses_airflow_sdk_when_loaded(monkeypatch):
    seen: list[str] = []

    async def amask(value, name=None):
        seen.append(f"async:{value}")

    fake_log = types.SimpleNamespace(
        mask_secret=lambda value, name=None: seen.append(value), amask_secret=amask
    )
    monkeypatch.setattr(masking, "_resolved", None)
    monkeypatch.setitem(sys.modules, "airflow", types.ModuleType("airflow"))
    monkeypatch.setitem(sys.modules, "airflow.sdk", types.ModuleType("airflow.sdk"))
    monkeypatch.setitem(sys.modules, "airflow.sdk.log", fake_log)
    masking.mask_secret("token-abc")
    masking.mask_secret("")
    await masking.amask_secret("token-def")
    assert seen == ["token-abc", "async:token-def"]
    monkeypatch.setattr(masking, "_resolved", None)


def test_import_is_light():
    code = (
        "import sys, up42_provider.api; "
        "heavy = [m for m in ('geopandas', 'rasterio', 'matplotlib', 'pystac_client', 'airflow', 'shapely') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_real_airflow_masker_hides_the_api_key():
    code = """
import sys
try:
    import airflow.sdk.log  # noqa: F401
    from airflow.sdk._shared.secrets_masker import redact
except Exception as exc:
    print("SKIP", type(exc).__name__)
    sys.exit(0)
from up42_provider.api import ClientSettings, TokenCache, UP42Client
settings = ClientSettings("https://api.up42.com", "proj", "my-very-secret-api-key")
client = UP42Client(settings, token_cache=TokenCache())
print(redact("key=my-very-secret-api-key"))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    out = result.stdout.strip()
    if out.startswith("SKIP"):
        pytest.skip(f"Airflow not importable here: {out}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "my-very-secret-api-key" not in out and "***" in out


def test_signed_url_secrets_cover_query_and_signature():
    url = (
        "https://storage.googleapis.com/b/o.tgz?X-Goog-Algorithm=GOOG4-RSA-SHA256"
        "&X-Goog-Credential=sa%40p.iam.gserviceaccount.com%2F20240101%2Fauto"
        "&X-Goog-Date=20240101T000000Z&X-Goog-Signature=0123abcdef456789"
    )
    found = masking.signed_url_secrets(url)
    query = url.split("?", 1)[1]
    assert found[0] == query or found[1] == query  # raw and decoded query, longest first
    assert "0123abcdef456789" in found
    assert "sa@p.iam.gserviceaccount.com/20240101/auto" in found
    assert "20240101T000000Z" not in found  # the date alone is no secret
    assert masking.signed_url_secrets("https://h/public.json") == []


def test_signed_urls_are_masked_in_airflow_logs():
    """With Airflow loaded, the signature is redacted wherever it reappears (e.g. urllib3's line)."""
    from airflow.sdk._shared.secrets_masker import redact

    url = "https://h/o.zip?X-Amz-Credential=AKIDEXAMPLE%2F20240101&X-Amz-Signature=fe12ab34cd56ef78"
    assert masking.mask_signed_url(url) == url
    line = redact('"GET /o.zip?X-Amz-Credential=AKIDEXAMPLE%2F20240101&X-Amz-Signature=fe12ab34cd56ef78"')
    assert "fe12ab34cd56ef78" not in line and "AKIDEXAMPLE" not in line
    assert redact("signature fe12ab34cd56ef78 alone") == "signature *** alone"
