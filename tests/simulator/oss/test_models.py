"""Pure parts of the OSS emulator: listing pages, ranges, lifecycle sweeps, names, tokens, CRC."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import simulator.oss
from simulator.oss import LifecycleRule, MemoryStore, ObjectFields, OssModel
from simulator.oss.buffers import BufferReader, ChunkedBuffer
from simulator.oss.crc import IMPLEMENTATION, crc64, crc64_reference
from simulator.oss.errors import InvalidArgument, InvalidBucketName, InvalidObjectName, InvalidRange
from simulator.oss.listing import decode_token, encode_token, list_page
from simulator.oss.names import check_bucket_name, check_object_key
from simulator.oss.ranges import select_range
from simulator.oss.records import ObjectRecord, ObjectType


def _record(key: str) -> ObjectRecord:
    return ObjectRecord(key, 0, "E", 0, 0, ObjectType.NORMAL, "application/octet-stream")


def _full_listing(keys: list[str], prefix: str, delimiter: str) -> list[str]:
    entries: list[str] = []
    for key in sorted(keys):
        if not key.startswith(prefix):
            continue
        cut = key.find(delimiter, len(prefix)) if delimiter else -1
        entry = key[: cut + len(delimiter)] if cut >= 0 else key
        if entry not in entries:
            entries.append(entry)
    return entries


@settings(max_examples=200, deadline=None)
@given(
    keys=st.sets(st.text(alphabet="ab/c", min_size=1, max_size=6), max_size=25),
    prefix=st.sampled_from(["", "a", "a/", "b/c"]),
    delimiter=st.sampled_from(["", "/", "c"]),
    max_keys=st.integers(min_value=1, max_value=5),
)
def test_paging_visits_every_entry_once(
    keys: set[str], prefix: str, delimiter: str, max_keys: int
) -> None:
    ordered = sorted(keys)
    objects = {k: _record(k) for k in ordered}
    seen: list[str] = []
    after = ""
    for _ in range(100):
        page = list_page(
            ordered, objects, prefix=prefix, delimiter=delimiter, after=after, max_keys=max_keys
        )
        assert len(page.contents) + len(page.prefixes) <= max_keys
        seen += [r.key for r in page.contents] + page.prefixes
        if not page.truncated:
            break
        assert page.next_marker is not None
        after = page.next_marker
    assert sorted(seen) == sorted(_full_listing(ordered, prefix, delimiter))
    assert len(seen) == len(set(seen))


def test_tokens_round_trip_and_reject_forgeries() -> None:
    for marker in ["", "a/b", "视频/ü+ x"]:
        assert decode_token(encode_token(marker)) == marker
    for forged in ["", "abc", "!!!", encode_token("x")[:-3] + "A"]:
        with pytest.raises(InvalidArgument):
            decode_token(forged)


@pytest.mark.parametrize(
    ("header", "size", "standard", "expected"),
    [
        (None, 10, False, None),
        ("bytes=0-4", 10, False, (0, 4)),
        ("bytes=3-", 10, False, (3, 9)),
        ("bytes=-3", 10, False, (7, 9)),
        ("bytes=0-10", 10, False, None),
        ("bytes=0-10", 10, True, (0, 9)),
        ("bytes=-11", 10, False, None),
        ("bytes=-11", 10, True, (0, 9)),
        ("bytes=10-", 10, False, None),
        ("bytes=4-3", 10, True, None),
        ("bytes=0-0", 0, False, None),
        ("BYTES=1-2", 10, False, (1, 2)),
    ],
)
def test_select_range(
    header: str | None, size: int, standard: bool, expected: tuple[int, int] | None
) -> None:
    assert select_range(header, size, standard=standard) == expected


@pytest.mark.parametrize(("header", "size"), [("bytes=10-", 10), ("bytes=0-", 0), ("bytes=-0", 10)])
def test_select_range_standard_unsatisfiable(header: str, size: int) -> None:
    with pytest.raises(InvalidRange):
        select_range(header, size, standard=True)


def test_lifecycle_rules() -> None:
    by_age = LifecycleRule("r", "v/", True, days=2)
    assert not by_age.expired(mtime=1000, now=1000 + 2 * 86400 - 1)
    assert by_age.expired(mtime=1000, now=1000 + 2 * 86400)
    by_date = LifecycleRule("d", "", True, created_before=5000)
    assert by_date.expired(mtime=4999, now=0)
    assert not by_date.expired(mtime=5000, now=10**9)
    assert not LifecycleRule("off", "", False, days=1).expired(mtime=0, now=10**9)


def test_sweep_with_injected_time_skips_rewritten_objects() -> None:
    model = OssModel(MemoryStore(), max_append_object_size=1000)
    model.create_bucket("b-1", owner="1", region="cn-hangzhou", now=0)
    model.put_lifecycle("b-1", (LifecycleRule("r", "tmp/", True, days=1),))
    model.put_object("b-1", "tmp/a", b"1", ObjectFields(), now=0)
    model.put_object("b-1", "tmp/b", b"1", ObjectFields(), now=50_000)
    model.put_object("b-1", "keep/c", b"1", ObjectFields(), now=0)
    assert model.sweep(86_399) == 0
    assert model.sweep(86_400) == 1
    assert model.sweep(200_000) == 1
    assert model.bucket_object_count("b-1") == 1


@pytest.mark.parametrize("name", ["abc", "a-b-c", "0" * 63, "my-bucket-1"])
def test_valid_bucket_names(name: str) -> None:
    assert check_bucket_name(name) == name


@pytest.mark.parametrize("name", ["ab", "a" * 64, "Abc", "a_b", "-ab", "ab-", "a.b", ""])
def test_invalid_bucket_names(name: str) -> None:
    with pytest.raises(InvalidBucketName):
        check_bucket_name(name)


@pytest.mark.parametrize("key", ["", "/a", "\\a", "k" * 1024, "é" * 512])
def test_invalid_object_keys(key: str) -> None:
    with pytest.raises(InvalidObjectName):
        check_object_key(key)


@pytest.mark.parametrize("key", ["a\x00b", "specified-char-\x01\x07", "a\x1fb\x7f", "a/\\b"])
def test_control_characters_are_legal_in_object_keys(key: str) -> None:
    assert check_object_key(key) == key


@pytest.mark.parametrize("key", ["a", "..", "a/../b", "tab\there", "new\nline", "é" * 511, "a//b/"])
def test_valid_object_keys(key: str) -> None:
    assert check_object_key(key) == key


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=300), st.binary(max_size=300))
def test_crc64_continues_across_appends(first: bytes, second: bytes) -> None:
    assert crc64(second, crc64(first)) == crc64(first + second)
    assert crc64(first + second) == crc64_reference(first + second)


def test_crc64_runs_in_liblzma_here() -> None:
    # The hot path depends on the fast implementation; the fallback is only for odd systems.
    assert IMPLEMENTATION == "liblzma"


def test_crc64_check_value() -> None:
    assert crc64(b"123456789") == 0x995DC9BBDF1939FA
    assert crc64(b"") == 0


def test_public_surface() -> None:
    assert sorted(simulator.oss.__all__) == [
        "BucketRecord",
        "Caller",
        "DurableStore",
        "IdentityService",
        "LifecycleRule",
        "MemoryStore",
        "ObjectFields",
        "ObjectRecord",
        "ObjectStore",
        "ObjectType",
        "OssApp",
        "OssError",
        "OssModel",
        "OssSettings",
        "PrincipalLike",
        "Stats",
    ]


@settings(max_examples=100, deadline=None)
@given(
    pieces=st.lists(st.sampled_from([0, 1, 7, 100, 16 * 1024, 20_000, 70_000]), max_size=12),
    reads=st.lists(st.tuples(st.integers(0, 200_000), st.integers(0, 200_000)), max_size=8),
)
def test_chunked_buffer_reads_back_what_was_appended(
    pieces: list[int], reads: list[tuple[int, int]]
) -> None:
    buffer = ChunkedBuffer()
    reference = bytearray()
    for index, size in enumerate(pieces):
        data = bytes([index % 251]) * size
        buffer.append(data)
        reference += data
        assert len(buffer) == len(reference)
    for offset, length in reads:
        assert buffer.read(offset, length) == bytes(reference[offset : offset + length])
    reader = BufferReader(buffer)
    assert reader.read(0, len(reference)) == bytes(reference)
    reader.close()
