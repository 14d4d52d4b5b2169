"""The conformance suite that every backend runs against its real server.

A backend's test module subclasses :class:`MappingConformance` and supplies a
``backend`` fixture returning a :class:`tests.backends.Backend`. A capability that a
store lacks is read from the store's class attributes, and a departure of a test
server from the real service from ``Backend.quirks``; tests skip with the reason.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import gzip
import io
import json
import pickle
import threading
import unicodedata
import zipfile
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloudyfiles import (
    InvalidKeyError,
    KeyNotFoundError,
    ObjectChangedError,
    ObjectMapping,
    RemoteObject,
    TransientError,
)
from tests.backends import (
    MERGES_SLASHES,
    PAGE_SIZE_COUNTS_OBJECTS_ONLY,
    REJECTS_DOT_SEGMENTS,
    Backend,
)

LINES = b"first line\nsecond\r\nthird\n\nlast without newline"
BINARY = bytes(range(256)) * 4 + b"\n\x00\r\n tail"

SPECIAL_KEYS = [
    "with space",
    "plus+sign",
    "literal%20percent",
    "hash#mark",
    "question?mark",
    "unicode-\u00e9\u00e8\u4e2d\u6587-\U0001f600",
    "ampersand&equals=semicolon;",
    "quote'double\"",
    "tilde~star*parens()",
    "brackets[]{}",
    "caret^pipe|backtick`",
    "dots.in.name",
]
SLASH_KEYS = ["/leading", "trailing/", "doubled//slash", "triple///slash", "/"]
DOT_KEYS = ["a/../b", "a/./b", "..", ".", "./x", "x/.."]


def _slice_bounds(size: int) -> list[int | None]:
    return [None, 0, 1, 2, size - 1, size, size + 3, -1, -2, -size, -size - 3]


class MappingConformance:
    """Tests that every backend passes against its real server."""

    @pytest.fixture
    def mapping(self, backend: Backend) -> ObjectMapping:
        return backend.make()()

    def _skip_for_quirk(self, backend: Backend, quirk: str, reason: str) -> None:
        if quirk in backend.quirks:
            pytest.skip(f"{backend.name} {reason}, unlike the real service")

    # Construction and views

    def test_factory_writes_keyword_values(self, backend: Backend) -> None:
        Bucket = backend.make()
        d = Bucket(a="1", b="2")
        e = Bucket(c="3")
        assert sorted(d) == ["a", "b", "c"]
        assert "c" in d
        assert "q" not in d
        assert bytes(e["a"]) == b"1"

    def test_factory_accepts_mapping_and_pairs(self, backend: Backend) -> None:
        Bucket = backend.make()
        d = Bucket({"x": b"1"}, y="2")
        Bucket([("z", "3")])
        assert sorted(d) == ["x", "y", "z"]

    def test_instances_see_each_others_writes(self, backend: Backend) -> None:
        Bucket = backend.make()
        first, second = Bucket(), Bucket()
        first["k"] = "v1"
        assert bytes(second["k"]) == b"v1"
        second["k"] = "v2"
        assert bytes(first["k"]) == b"v2"
        del first["k"]
        assert "k" not in second

    def test_pickled_mapping_sees_same_data(self, mapping: ObjectMapping) -> None:
        mapping["k"] = "v"
        clone = pickle.loads(pickle.dumps(mapping))
        assert bytes(clone["k"]) == b"v"
        clone["j"] = "w"
        assert bytes(mapping["j"]) == b"w"

    def test_pickled_object_reads_in_other_process(self, mapping: ObjectMapping) -> None:
        if not mapping.store.process_shared:
            pytest.skip(f"{type(mapping.store).__name__} keeps its data in one process")
        mapping["k"] = "from another process"
        context = __import__("multiprocessing").get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
            assert pool.submit(bytes, mapping["k"]).result(timeout=120) == b"from another process"
            assert pool.submit(sorted, mapping).result(timeout=120) == ["k"]

    def test_concurrent_writers(self, backend: Backend) -> None:
        Bucket = backend.make()

        def write(index: int) -> None:
            Bucket()[f"key-{index:03d}"] = f"value {index}"

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(write, range(40)))
        d = Bucket()
        assert len(d) == 40
        assert bytes(d["key-017"]) == b"value 17"

    # Reads and membership

    def test_missing_key_raises_key_error(self, mapping: ObjectMapping) -> None:
        with pytest.raises(KeyError) as caught:
            mapping["missing"]
        assert isinstance(caught.value, KeyNotFoundError)
        assert "missing" in str(caught.value)

    def test_get_returns_default(self, mapping: ObjectMapping) -> None:
        mapping["k"] = "v"
        assert mapping.get("missing") is None
        assert mapping.get("missing", 7) == 7
        assert mapping.get("k") == b"v"

    def test_prefix_only_name_is_not_a_key(self, mapping: ObjectMapping) -> None:
        mapping["folder/inner"] = "1"
        assert "folder" not in mapping
        assert "folder/" not in mapping
        with pytest.raises(KeyError):
            mapping["folder"]
        assert list(mapping) == ["folder/inner"]

    def test_key_and_folder_of_same_name(self, mapping: ObjectMapping) -> None:
        if not mapping.store.nested_keys:
            mapping["a"] = "object"
            with pytest.raises(InvalidKeyError, match="a/b"):
                mapping["a/b"] = "nested"
            assert bytes(mapping["a"]) == b"object"
            return
        mapping["a"] = "object"
        mapping["a/b"] = "nested"
        assert sorted(mapping) == ["a", "a/b"]

    def test_non_str_keys_raise_type_error(self, mapping: ObjectMapping) -> None:
        for key in (b"bytes", 1, None, ("a",)):
            with pytest.raises(TypeError):
                mapping[key] = "v"  # type: ignore[index]
            with pytest.raises(TypeError):
                mapping[key]  # type: ignore[index]
            assert key not in mapping

    def test_empty_key_raises_value_error(self, mapping: ObjectMapping) -> None:
        with pytest.raises(ValueError, match="empty"):
            mapping[""] = "v"

    def test_too_long_key_raises_value_error(self, mapping: ObjectMapping) -> None:
        limit = mapping.store.max_key_bytes
        key = "k" * (limit + 1)
        with pytest.raises(ValueError, match=str(limit)):
            mapping[key] = "v"
        assert len(mapping) == 0

    @pytest.mark.parametrize("key", SPECIAL_KEYS)
    def test_special_keys_round_trip(self, mapping: ObjectMapping, key: str) -> None:
        mapping[key] = key
        assert key in mapping
        assert str(mapping[key]) == key
        assert list(mapping) == [key]
        del mapping[key]
        assert key not in mapping

    @pytest.mark.parametrize("key", SLASH_KEYS)
    def test_slash_keys(self, backend: Backend, mapping: ObjectMapping, key: str) -> None:
        if not mapping.store.literal_slashes:
            with pytest.raises(ValueError, match="'/'"):
                mapping[key] = "v"
            return
        self._skip_for_quirk(backend, MERGES_SLASHES, "merges '//' and drops a leading '/'")
        mapping[key] = key
        mapping["neighbour"] = "n"
        assert key in mapping
        assert str(mapping[key]) == key
        assert sorted(mapping) == sorted([key, "neighbour"])

    @pytest.mark.parametrize("key", DOT_KEYS)
    def test_dot_segment_keys(self, backend: Backend, mapping: ObjectMapping, key: str) -> None:
        if key in mapping.store.reserved_keys:
            with pytest.raises(ValueError, match="cannot be"):
                mapping[key] = "v"
            assert list(mapping) == []
            return
        if not mapping.store.dot_segments:
            with pytest.raises(ValueError, match="'\\.'"):
                mapping[key] = "v"
            return
        self._skip_for_quirk(backend, REJECTS_DOT_SEGMENTS, "rejects '.' and '..' segments")
        mapping[key] = key
        assert key in mapping
        assert str(mapping[key]) == key
        assert list(mapping) == [key]

    def test_unicode_forms_stay_distinct(self, mapping: ObjectMapping) -> None:
        composed = unicodedata.normalize("NFC", "caf\u00e9")
        decomposed = unicodedata.normalize("NFD", "caf\u00e9")
        mapping[composed] = "composed"
        mapping[decomposed] = "decomposed"
        assert len(mapping) == 2
        assert str(mapping[composed]) == "composed"
        assert str(mapping[decomposed]) == "decomposed"

    # Listing

    def test_len_and_iteration_past_1000_keys(self, backend: Backend) -> None:
        Bucket = backend.make()
        d = Bucket()
        names = [f"many/{index:05d}" for index in range(1003)]
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda name: d.__setitem__(name, b"x"), names))
        assert len(d) == 1003
        assert list(d) == names
        assert len(d.keys()) == 1003

    def test_listing_pages_with_small_page_size(self, backend: Backend) -> None:
        d = backend.make(list_page_size=3)()
        names = [f"k{index:02d}" for index in range(11)]
        for name in names:
            d[name] = name
        assert list(d) == names
        assert [key for key, _ in d.items()] == names

    def test_list_page_groups_folders(self, mapping: ObjectMapping) -> None:
        for key in ("a.txt", "b/1", "b/2", "c/d/e", "z"):
            mapping[key] = key
        page = mapping.list_page("")
        assert [info.key for info in page.objects] == ["a.txt", "z"]
        assert page.prefixes == ["b/", "c/"]
        assert page.next_token is None
        inner = mapping.list_page("b/")
        assert [info.key for info in inner.objects] == ["b/1", "b/2"]

    def test_list_page_continues_with_token(self, backend: Backend, mapping: ObjectMapping) -> None:
        self._skip_for_quirk(
            backend, PAGE_SIZE_COUNTS_OBJECTS_ONLY, "does not count folders toward the page size"
        )
        for key in ("a", "b/1", "b/2", "c", "d/1", "e"):
            mapping[key] = key
        seen: list[str] = []
        token = None
        while True:
            page = mapping.list_page("", page_size=2, token=token)
            assert len(page.objects) + len(page.prefixes) <= 2
            seen += [info.key for info in page.objects] + page.prefixes
            token = page.next_token
            if token is None:
                break
        assert seen == ["a", "b/", "c", "d/", "e"]

    def test_views_are_lazy_and_complete(self, mapping: ObjectMapping) -> None:
        mapping.update({"a": "1", "b": "22"})
        keys, values, items = mapping.keys(), mapping.values(), mapping.items()
        mapping["c"] = "333"
        assert list(keys) == ["a", "b", "c"]
        assert [len(value) for value in values] == [1, 2, 3]
        assert [(key, bytes(value)) for key, value in items] == [
            ("a", b"1"),
            ("b", b"22"),
            ("c", b"333"),
        ]
        assert "b" in keys
        assert ("a", b"1") in items

    def test_prefix_scopes_keys(self, backend: Backend) -> None:
        Root = backend.make()
        root = Root()
        scoped = _scoped(Root, "folder")
        scoped["k"] = "v"
        assert list(scoped) == ["k"]
        assert list(root) == ["folder/k"]
        assert bytes(root["folder/k"]) == b"v"

    # Values

    def test_value_types(self, mapping: ObjectMapping) -> None:
        mapping["bytes"] = b"b"
        mapping["bytearray"] = bytearray(b"ba")
        mapping["memoryview"] = memoryview(b"mv")
        mapping["str"] = "\u00e9"
        mapping["int"] = 42
        mapping["file"] = io.BytesIO(b"from a file")
        mapping["copy"] = mapping["bytes"]
        assert bytes(mapping["bytes"]) == b"b"
        assert bytes(mapping["bytearray"]) == b"ba"
        assert bytes(mapping["memoryview"]) == b"mv"
        assert bytes(mapping["str"]) == "\u00e9".encode()
        assert bytes(mapping["int"]) == b"42"
        assert bytes(mapping["file"]) == b"from a file"
        assert bytes(mapping["copy"]) == b"b"

    def test_buffer_values_store_raw_bytes(self, mapping: ObjectMapping) -> None:
        import array

        mapping["array"] = array.array("H", [1, 2, 258])
        assert bytes(mapping["array"]) == array.array("H", [1, 2, 258]).tobytes()
        numpy = pytest.importorskip("numpy")
        values = numpy.arange(2000, dtype="uint8")
        mapping["numpy"] = values
        assert bytes(mapping["numpy"]) == values.tobytes()
        mapping["strided"] = numpy.arange(10, dtype="uint8")[::2]
        assert bytes(mapping["strided"]) == bytes([0, 2, 4, 6, 8])

    def test_file_value_stays_open(self, mapping: ObjectMapping) -> None:
        source = io.BytesIO(b"abc")
        mapping["k"] = source
        assert not source.closed
        source.seek(0)
        mapping["again"] = source
        assert bytes(mapping["again"]) == b"abc"

    def test_two_iterators_share_position(self, mapping: ObjectMapping) -> None:
        mapping["k"] = b"one\ntwo\nthree\n"
        value, reference = mapping["k"], io.BytesIO(b"one\ntwo\nthree\n")
        first, second = iter(value), iter(value)
        expected_first, expected_second = iter(reference), iter(reference)
        assert next(first) == next(expected_first)
        assert next(second) == next(expected_second)
        assert next(first) == next(expected_first)
        assert value.tell() == reference.tell()
        value.close()
        with pytest.raises(ValueError, match="closed"):
            next(second)

    def test_unstorable_buffers_raise_type_error(self, mapping: ObjectMapping) -> None:
        numpy = pytest.importorskip("numpy")
        with pytest.raises(TypeError, match="pickle"):
            mapping["objects"] = numpy.array([1, "a"], dtype=object)
        with pytest.raises(TypeError, match="bytes first"):
            mapping["dates"] = numpy.array(["2020-01-01"], dtype="M8[D]")
        assert list(mapping) == []

    def test_iterators_and_text_files_raise_type_error(
        self, mapping: ObjectMapping, tmp_path: Any
    ) -> None:
        with pytest.raises(TypeError, match="join"):
            mapping["generator"] = (b"x" for _ in range(3))
        path = tmp_path / "notes.txt"
        path.write_text("text")
        with open(path) as text_file, pytest.raises(TypeError, match="'rb'"):
            mapping["text"] = text_file
        with pytest.raises(TypeError, match="binary mode"):
            mapping["string-io"] = io.StringIO("text")
        import tempfile

        with tempfile.NamedTemporaryFile("w+") as wrapped, pytest.raises(TypeError, match="'rb'"):
            mapping["temporary"] = wrapped
        assert list(mapping) == []

    def test_copy_onto_itself(self, mapping: ObjectMapping) -> None:
        mapping.put("k.txt", "same", metadata={"origin": "test"})
        mapping["k.txt"] = mapping["k.txt"]
        assert bytes(mapping["k.txt"]) == b"same"
        assert mapping["k.txt"].metadata == {"origin": "test"}
        mapping.update(mapping)
        assert list(mapping) == ["k.txt"]

    def test_delete_while_reading_is_a_change(self, backend: Backend) -> None:
        d = backend.make(block_size=4)()
        d["k"] = b"A" * 64
        value = next(iter(d.values()))
        assert value.read(4) == b"AAAA"
        del d["k"]
        with pytest.raises(ObjectChangedError):
            value.read(8)

    def test_none_value_raises_type_error(self, mapping: ObjectMapping) -> None:
        with pytest.raises(TypeError, match="None"):
            mapping["k"] = None
        assert "k" not in mapping

    def test_large_file_value_streams(self, backend: Backend) -> None:
        d = backend.make()()
        payload = bytes(range(256)) * (12 * 4096 + 1)  # about 12 MiB
        d["big"] = io.BytesIO(payload)
        assert d["big"].size == len(payload)
        assert d["big"] == payload
        assert (
            d["big"][len(payload) // 2 : len(payload) // 2 + 10]
            == payload[len(payload) // 2 : len(payload) // 2 + 10]
        )

    def test_content_type_guessed_and_explicit(self, mapping: ObjectMapping) -> None:
        mapping["table.csv"] = "a,b\n"
        mapping["data.json"] = "{}"
        mapping["blob"] = b"\x00"
        assert mapping["table.csv"].content_type == "text/csv"
        assert mapping["data.json"].content_type == "application/json"
        assert mapping["blob"].content_type == "application/octet-stream"
        mapping.put("custom", "x", content_type="text/x-custom", metadata={"Owner": "ana"})
        stored = mapping["custom"]
        assert stored.content_type == "text/x-custom"
        assert stored.metadata == {"owner": "ana"}

    def test_metadata_fields(self, mapping: ObjectMapping) -> None:
        mapping["k.txt"] = "hello"
        value = mapping["k.txt"]
        assert value.size == 5
        assert isinstance(value.etag, str) and value.etag
        assert isinstance(value.last_modified, datetime.datetime)
        assert value.last_modified.tzinfo is not None
        assert value.url.endswith("k.txt")
        assert value.key.endswith("k.txt")
        listed = next(iter(mapping.values()))
        assert listed.content_type == "text/plain"
        assert listed.etag == value.etag

    def test_invalid_metadata_raises_value_error(self, mapping: ObjectMapping) -> None:
        with pytest.raises(ValueError, match="bad name"):
            mapping.put("k", "v", metadata={"bad name": "x"})
        assert "k" not in mapping

    # RemoteObject as bytes

    def test_zero_byte_object(self, mapping: ObjectMapping) -> None:
        mapping["empty"] = b""
        value = mapping["empty"]
        assert len(value) == 0
        assert bytes(value) == b""
        assert value == b""
        assert value[:] == b""
        assert value.read() == b""
        assert value.readline() == b""
        assert list(mapping["empty"]) == []
        assert not value

    def test_slices_at_every_boundary(self, mapping: ObjectMapping) -> None:
        data = b"0123456789abcdef"
        mapping["k"] = data
        value = next(iter(mapping.values()))  # from a listing: no bytes in hand yet
        calls = _count_range_requests(value)
        bounds = _slice_bounds(len(data))
        for start in bounds:
            for stop in bounds:
                before = calls["count"]
                assert value[start:stop] == data[start:stop], (start, stop)
                expected_requests = 1 if data[start:stop] else 0
                assert calls["count"] - before == expected_requests, (start, stop)
        for step in (2, 3, -1, -2):
            assert value[::step] == data[::step]
            assert value[1:-2:step] == data[1:-2:step]
        assert value[3] == data[3]
        assert value[-1] == data[-1]
        with pytest.raises(IndexError):
            value[len(data)]

    def test_slice_request_has_exact_range(self, mapping: ObjectMapping) -> None:
        mapping["k"] = BINARY
        value = next(iter(mapping.values()))
        seen: list[tuple[int, int]] = []
        original = value.store.get_range

        def record(info: Any, start: int, stop: int) -> bytes:
            seen.append((start, stop))
            return original(info, start, stop)

        value._store = _StoreWithHook(value.store, record)  # type: ignore[assignment]
        assert value[100:200] == BINARY[100:200]
        assert value[-10:] == BINARY[-10:]
        assert seen == [(100, 200), (len(BINARY) - 10, len(BINARY))]

    def test_slices_of_looked_up_small_object(self, mapping: ObjectMapping) -> None:
        mapping["k"] = BINARY
        value = mapping["k"]
        calls = _count_range_requests(value)
        assert value[10:20] == BINARY[10:20]
        assert value[-5:] == BINARY[-5:]
        assert bytes(value) == BINARY
        assert value.read() == BINARY
        if value._first is not None and len(value._first) == len(BINARY):
            # The lookup fetched the small object whole, so no slice sends a request.
            assert calls["count"] == 0
        else:
            assert calls["count"] >= 2

    def test_equality_and_bytes_methods(self, mapping: ObjectMapping) -> None:
        mapping["k"] = "Hello, world"
        value = mapping["k"]
        assert value == b"Hello, world"
        assert value == "Hello, world"
        assert value != b"Hello"
        assert value != b"Hello, worlD"
        assert bytes(value) == b"Hello, world"
        assert str(value) == "Hello, world"
        assert value.decode() == "Hello, world"
        assert value.startswith(b"Hello")
        assert value.endswith((b"x", b"world"))
        assert value.split(b", ") == [b"Hello", b"world"]
        assert value.upper() == b"HELLO, WORLD"
        assert value.find(b"world") == 7
        assert b"world" in value
        assert b"planet" not in value
        assert value + b"!" == b"Hello, world!"
        mapping["same"] = value
        assert mapping["same"] == value
        mapping["other"] = "Hello, World"
        assert mapping["other"] != value

    def test_repr_does_no_io(self, mapping: ObjectMapping) -> None:
        mapping["k"] = "v"
        value = mapping["k"]
        calls = _count_range_requests(value)
        text = repr(value)
        assert "k" in text
        assert "size=1" in text
        assert repr(mapping).startswith("<")
        assert calls["count"] == 0

    # RemoteObject as a file

    def test_lines_match_bytesio(self, backend: Backend) -> None:
        d = backend.make(block_size=5)()
        d["lines"] = LINES
        expected = io.BytesIO(LINES)
        assert list(d["lines"]) == list(expected)
        assert d["lines"].readlines() == io.BytesIO(LINES).readlines()
        value, reference = d["lines"], io.BytesIO(LINES)
        for limit in (3, -1, 100, 0, 1, 7):
            assert value.readline(limit) == reference.readline(limit)
            assert value.tell() == reference.tell()

    def test_crlf_and_missing_final_newline(self, mapping: ObjectMapping) -> None:
        mapping["crlf"] = b"a\r\nb\r\nc"
        mapping["cr"] = b"a\rb\nc\r"
        assert list(mapping["crlf"]) == [b"a\r\n", b"b\r\n", b"c"]
        assert list(mapping["cr"]) == [b"a\rb\n", b"c\r"]

    def test_seek_tell_every_whence(self, backend: Backend) -> None:
        d = backend.make(block_size=4)()
        d["k"] = BINARY
        value, reference = d["k"], io.BytesIO(BINARY)
        for offset, whence in ((10, 0), (5, 1), (-20, 2), (0, 2), (3, 0), (-2, 1), (50, 2)):
            assert value.seek(offset, whence) == reference.seek(offset, whence)
            assert value.read(7) == reference.read(7)
            assert value.tell() == reference.tell()
        with pytest.raises(ValueError):
            value.seek(-1)
        with pytest.raises(ValueError):
            value.seek(0, 3)

    def test_read_variants(self, backend: Backend) -> None:
        d = backend.make(block_size=16)()
        d["k"] = BINARY
        value, reference = d["k"], io.BytesIO(BINARY)
        assert value.read(10) == reference.read(10)
        value.seek(0)
        reference.seek(0)
        buffer, expected = bytearray(33), bytearray(33)
        assert value.readinto(buffer) == reference.readinto(expected)
        assert buffer == expected
        assert value.read() == reference.read()
        assert value.read() == b""
        assert value.read(5) == b""

    def test_read1_returns_bounded_data(self, backend: Backend) -> None:
        d = backend.make(block_size=8)()
        d["k"] = BINARY
        value = d["k"]
        collected = b""
        while chunk := value.read1(5):
            assert len(chunk) <= 5
            collected += chunk
        assert collected == BINARY

    def test_with_closes(self, mapping: ObjectMapping) -> None:
        mapping["k"] = "abc"
        with mapping["k"] as value:
            assert value.read(1) == b"a"
        assert value.closed
        with pytest.raises(ValueError, match="closed"):
            value.read()

    def test_binary_file_consumers(self, mapping: ObjectMapping) -> None:
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as writer:
            writer.writestr("inner.txt", "zipped text")
        mapping["archive.zip"] = archive.getvalue()
        mapping["data.json"] = json.dumps({"a": [1, 2]})
        mapping["text.gz"] = gzip.compress(b"gzipped\n" * 100)
        mapping["table.csv"] = "x,y\n1,2\n3,4\n"

        assert json.load(mapping["data.json"]) == {"a": [1, 2]}
        with zipfile.ZipFile(mapping["archive.zip"]) as reader:
            assert reader.read("inner.txt") == b"zipped text"
        with gzip.GzipFile(fileobj=mapping["text.gz"]) as unzipped:
            assert unzipped.read() == b"gzipped\n" * 100
        pandas = pytest.importorskip("pandas")
        frame = pandas.read_csv(mapping["table.csv"])
        assert frame["y"].tolist() == [2, 4]

    def test_image_opens_with_pillow(self, mapping: ObjectMapping) -> None:
        image_module = pytest.importorskip("PIL.Image")
        buffer = io.BytesIO()
        image_module.new("RGB", (7, 5), "red").save(buffer, format="PNG")
        mapping["red.png"] = buffer.getvalue()
        with image_module.open(mapping["red.png"]) as image:
            assert image.size == (7, 5)
            assert image.getpixel((0, 0)) == (255, 0, 0)

    def test_streaming_lines_in_bounded_windows(self, backend: Backend) -> None:
        d = backend.make(block_size=1024)()
        lines = [f"line {index}\n".encode() for index in range(5000)]
        d["log"] = b"".join(lines)
        value = d["log"]
        seen = 0
        for line, expected in zip(value, lines, strict=True):
            assert line == expected
            seen += 1
            assert len(value._window) <= 1024
        assert seen == 5000

    # Versions

    def test_overwrite_between_reads_never_mixes(self, backend: Backend) -> None:
        d = backend.make(block_size=4)()
        d["k"] = b"A" * 64
        value = d["k"]
        first = value.read(4)
        d["k"] = b"B" * 64
        try:
            rest = value.read()
        except ObjectChangedError:
            return
        assert first + rest == b"A" * 64

    def test_overwrite_before_slice_never_returns_new(self, mapping: ObjectMapping) -> None:
        mapping["k"] = b"old contents"
        value = mapping["k"]
        mapping["k"] = b"new contents"
        try:
            assert value[0:3] == b"old"
        except ObjectChangedError as error:
            assert "k" in str(error)

    # Mutation semantics

    def test_delete_missing_raises_key_error(self, mapping: ObjectMapping) -> None:
        with pytest.raises(KeyError):
            del mapping["missing"]

    def test_pop_value_survives_deletion(self, mapping: ObjectMapping) -> None:
        mapping["k"] = "contents"
        value = mapping.pop("k")
        assert "k" not in mapping
        assert bytes(value) == b"contents"
        assert value.read(4) == b"cont"
        assert mapping.pop("k", None) is None
        with pytest.raises(KeyError):
            mapping.pop("k")

    def test_popitem_and_empty(self, mapping: ObjectMapping) -> None:
        mapping["only"] = "1"
        key, value = mapping.popitem()
        assert key == "only"
        assert bytes(value) == b"1"
        with pytest.raises(KeyError):
            mapping.popitem()

    def test_setdefault_keeps_existing(self, mapping: ObjectMapping) -> None:
        assert mapping.setdefault("k", "first") == b"first"
        assert mapping.setdefault("k", "second") == b"first"
        assert bytes(mapping["k"]) == b"first"

    def test_setdefault_concurrent_callers_agree(self, backend: Backend) -> None:
        Bucket = backend.make()
        barrier = threading.Barrier(4)

        def claim(index: int) -> bytes:
            barrier.wait()
            value = Bucket().setdefault("claim", f"writer {index}")
            try:
                return bytes(value)
            except ObjectChangedError:
                if Bucket.store.conditional_put:
                    raise
                # Without conditional writes another caller may overwrite the value
                # between the write and the read; the pinned read then refuses it.
                return bytes(Bucket()["claim"])

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            results = list(pool.map(claim, range(4)))
        stored = bytes(Bucket()["claim"])
        if Bucket.store.conditional_put:
            assert results == [stored] * 4
        else:
            assert stored in results

    def test_update_and_clear(self, mapping: ObjectMapping) -> None:
        mapping.update({"a": "1"}, b="2")
        mapping.update([("c", "3")])
        assert sorted(mapping) == ["a", "b", "c"]
        mapping.clear()
        assert len(mapping) == 0
        assert list(mapping) == []

    def test_clear_more_than_one_batch(self, backend: Backend) -> None:
        d = backend.make()()
        count = d.store.delete_batch + 5
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda index: d.__setitem__(f"k{index:05d}", b""), range(count)))
        d.clear()
        assert len(d) == 0

    def test_equality_without_downloads(self, backend: Backend) -> None:
        Bucket = backend.make()
        d = Bucket(a="1", b="2")
        same = Bucket()
        assert d == same
        other = backend.make()(a="1", b="2")
        calls = _count_range_requests_on_store(d.store)
        calls_other = _count_range_requests_on_store(other.store)
        same_etags = d["a"].etag == other["a"].etag and d["b"].etag == other["b"].etag
        assert (d == other) == same_etags
        other["b"] = "3"
        assert d != other
        assert calls["count"] == 0
        assert calls_other["count"] == 0
        assert d == {"a": b"1", "b": "2"}
        assert d != {"a": b"1"}
        assert d != {"a": b"1", "b": b"22"}

    # Bulk operations

    def test_put_many_and_get_many(self, mapping: ObjectMapping) -> None:
        values = {f"bulk/{index:04d}.txt": f"value {index}" for index in range(600)}
        mapping.put_many(values, max_workers=8)
        assert len(mapping) == 600
        assert mapping["bulk/0007.txt"].content_type == "text/plain"
        wanted = ["bulk/0599.txt", "bulk/0000.txt", "bulk/0599.txt"]
        assert mapping.get_many(wanted) == {
            "bulk/0599.txt": b"value 599",
            "bulk/0000.txt": b"value 0",
        }
        contents = mapping.get_many(list(values), progress=True)
        assert contents == {key: value.encode() for key, value in values.items()}

    def test_get_many_names_missing_key(self, mapping: ObjectMapping) -> None:
        mapping["present"] = "1"
        with pytest.raises(KeyError, match="absent"):
            mapping.get_many(["present", "absent"])

    def test_put_many_mixed_values(self, mapping: ObjectMapping) -> None:
        mapping["source"] = "copied"
        mapping.put_many([("bytes", b"b"), ("file", io.BytesIO(b"f")), ("copy", mapping["source"])])
        assert mapping.get_many(["bytes", "file", "copy"]) == {
            "bytes": b"b",
            "file": b"f",
            "copy": b"copied",
        }

    def test_put_many_rejects_bad_value_before_writing(self, mapping: ObjectMapping) -> None:
        with pytest.raises(TypeError, match="None"):
            mapping.put_many({"good": "1", "bad": None})
        assert list(mapping) == []

    def test_delete_many_skips_missing(self, mapping: ObjectMapping) -> None:
        mapping.put_many({f"k{index}": "v" for index in range(30)})
        mapping.delete_many([f"k{index}" for index in range(20)] + ["never-stored"])
        assert sorted(mapping) == sorted(f"k{index}" for index in range(20, 30))

    def test_copy_to_other_mapping(self, backend: Backend) -> None:
        source = backend.make()()
        target = backend.make()()
        source.put_many({"keep/a.csv": "a", "keep/b/c.txt": "c", "skip.txt": "s"})
        assert source.copy_to(target, "keep/") == 2
        assert sorted(target) == ["keep/a.csv", "keep/b/c.txt"]
        assert target["keep/a.csv"].content_type == "text/csv"
        assert bytes(target["keep/b/c.txt"]) == b"c"

    # Copies

    def test_copy_within_and_across_buckets(self, backend: Backend) -> None:
        source = backend.make()()
        target = backend.make()()
        source.put("data.csv", "a,b\n", metadata={"origin": "test"})
        target["copy.csv"] = source["data.csv"]
        source["same-bucket.csv"] = source["data.csv"]
        for value in (target["copy.csv"], source["same-bucket.csv"]):
            assert bytes(value) == b"a,b\n"
            assert value.content_type == "text/csv"
            assert value.metadata == {"origin": "test"}

    def test_copy_from_other_backend_streams(self, backend: Backend) -> None:
        from cloudyfiles.memory import factory as memory_factory

        memory = memory_factory()()
        memory["m.txt"] = "from memory"
        d = backend.make()()
        d["copied.txt"] = memory["m.txt"]
        assert bytes(d["copied.txt"]) == b"from memory"
        memory["back.txt"] = d["copied.txt"]
        assert bytes(memory["back.txt"]) == b"from memory"

    # Failures

    def test_transient_failure_is_not_a_missing_key(self, backend: Backend) -> None:
        if backend.make_faulty is None:
            pytest.skip(f"{backend.name} makes no network requests")
        Bucket, proxy = backend.make_faulty()
        d = Bucket()
        d["k"] = "v"
        proxy.fail_next(1000, status=503)
        with pytest.raises(TransientError) as caught:
            d["k"]
        assert not isinstance(caught.value, KeyError)
        with pytest.raises(TransientError):
            "k" in d  # noqa: B015
        proxy.clear_faults()
        proxy.fail_next(1, status=503)
        assert bytes(d["k"]) == b"v"

    # Property-based: RemoteObject against io.BytesIO

    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.differing_executors,  # each backend subclass runs the same test
        ],
    )
    @given(
        data=st.binary(max_size=200),
        operations=st.lists(
            st.tuples(
                st.sampled_from(["read", "read1", "readline", "seek", "slice", "readinto", "iter"]),
                st.integers(-30, 230),
                st.integers(-30, 230),
            ),
            max_size=12,
        ),
    )
    def test_operations_match_bytesio(
        self, backend: Backend, data: bytes, operations: list[tuple[str, int, int]]
    ) -> None:
        mapping = _shared_mapping(backend)
        mapping["k"] = data
        value, reference = mapping["k"], io.BytesIO(data)
        for name, first, second in operations:
            if name == "read1":
                # read1 may return fewer bytes than asked, as any buffered file may;
                # the same number of bytes must come out of the reference.
                chunk = value.read1(max(first, 1))
                assert len(chunk) <= max(first, 1)
                assert chunk == reference.read(len(chunk))
            else:
                assert _apply(value, name, first, second, data) == _apply(
                    reference, name, first, second, data
                ), (name, first, second)
            assert value.tell() == reference.tell()


def _apply(target: Any, name: str, first: int, second: int, data: bytes) -> Any:
    if name == "read":
        return target.read(first)
    if name == "readline":
        return target.readline(first)
    if name == "seek":
        whence = second % 3
        try:
            return target.seek(first, whence)
        except ValueError:
            return "ValueError"
    if name == "slice":
        if isinstance(target, RemoteObject):
            return target[first:second]
        return data[first:second]
    if name == "readinto":
        buffer = bytearray(max(first, 0))
        count = target.readinto(buffer)
        return count, bytes(buffer[:count])
    if name == "iter":
        return [next(iter(target), None)]
    raise AssertionError(name)


_SHARED: dict[int, ObjectMapping] = {}


def _shared_mapping(backend: Backend) -> ObjectMapping:
    # Hypothesis runs many examples per test; one bucket per backend keeps it quick.
    if id(backend) not in _SHARED:
        _SHARED[id(backend)] = backend.make(block_size=16)()
    return _SHARED[id(backend)]


def _scoped(bucket_class: type[ObjectMapping], prefix: str) -> ObjectMapping:
    from cloudyfiles._mapping import make_factory

    return make_factory(bucket_class.store, bucket_class.prefix + prefix)()


class _StoreWithHook:
    """A store proxy whose get_range goes through ``hook``; everything else passes."""

    def __init__(self, store: Any, hook: Any) -> None:
        self._store = store
        self.get_range = hook

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def _count_range_requests(value: RemoteObject) -> dict[str, int]:
    calls = {"count": 0}
    original = value.store.get_range

    def counted(info: Any, start: int, stop: int) -> bytes:
        calls["count"] += 1
        return original(info, start, stop)

    value._store = _StoreWithHook(value.store, counted)  # type: ignore[assignment]
    return calls


def _count_range_requests_on_store(store: Any) -> dict[str, int]:
    calls = {"count": 0}
    original = store.get_range

    def counted(info: Any, start: int, stop: int) -> bytes:
        calls["count"] += 1
        return original(info, start, stop)

    store.get_range = counted
    return calls
