"""Which digests a download computes, for each policy and what the server announces."""

from __future__ import annotations

import pytest

from up42_provider.transfer import checksums
from up42_provider.transfer.checksums import Announced, Digests, algorithms

BOTH = Announced(crc32c="4waSgw==", md5="0" * 32)
CRC_ONLY = Announced(crc32c="4waSgw==")
MD5_ONLY = Announced(md5="0" * 32)
NOTHING = Announced()


@pytest.mark.parametrize(
    ("policy", "announced", "expected_md5", "fast", "chosen"),
    [
        ("auto", BOTH, None, True, {"crc32c"}),
        ("auto", CRC_ONLY, None, True, {"crc32c"}),  # a composite GCS object
        ("auto", MD5_ONLY, None, True, {"md5"}),
        ("auto", NOTHING, None, True, {"crc32c"}),  # recorded for the sidecar only
        ("auto", BOTH, "a" * 32, True, {"crc32c", "md5"}),
        ("auto", BOTH, None, False, {"md5"}),  # no C extension: MD5 is the faster of the two
        ("auto", CRC_ONLY, None, False, {"crc32c"}),  # ... unless it is all there is to check
        ("auto", NOTHING, None, False, {"md5"}),
        ("md5", BOTH, None, True, {"md5"}),
        ("md5", CRC_ONLY, None, True, {"md5"}),
        ("all", BOTH, None, True, {"crc32c", "md5"}),
        ("all", MD5_ONLY, None, True, {"md5"}),
    ],
)
def test_algorithms(
    monkeypatch: pytest.MonkeyPatch,
    policy: str,
    announced: Announced,
    expected_md5: str | None,
    fast: bool,
    chosen: set[str],
) -> None:
    monkeypatch.setattr(checksums, "FAST_CRC32C", fast)
    assert algorithms(policy, announced, expected_md5) == chosen


def test_unknown_policy() -> None:
    with pytest.raises(ValueError, match="checksum must be one of auto, md5, all; got 'crc'"):
        algorithms("crc", BOTH)


def test_digests_report_every_mismatch() -> None:
    digests = Digests(frozenset({"crc32c", "md5"}))
    digests.update(memoryview(bytearray(b"123456789")))
    assert digests.crc32c == "4waSgw=="  # RFC 3720 check value 0xE3069283
    assert digests.md5 == "25f9e794323b453885f5181f1b624d0b"
    assert digests.mismatches(Announced(crc32c="4waSgw==", md5=digests.md5)) == []
    problems = digests.mismatches(Announced(crc32c="AAAAAA==", md5=digests.md5), expected_md5="f" * 32)
    assert problems == [
        "CRC32C mismatch: got 4waSgw==, server's x-goog-hash CRC32C is AAAAAA==",
        f"MD5 mismatch: got {digests.md5}, expected MD5 is {'f' * 32}",
    ]
