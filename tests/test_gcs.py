"""The conformance suite on Google Cloud Storage (fake-gcs-server), plus GCS-only checks."""

from __future__ import annotations

import io
import itertools
import json
import os
import pickle
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

from cloudyfiles import (
    BucketNotFoundError,
    InvalidKeyError,
    KeyExistsError,
    ObjectChangedError,
    ObjectMapping,
    TransientError,
    from_url,
)
from cloudyfiles.gcs import GCSStore, factory
from tests.backends import PAGE_SIZE_COUNTS_OBJECTS_ONLY, Backend
from tests.conformance import MappingConformance
from tests.faultproxy import FaultProxy
from tests.servers import FakeGCS

MIB = 1 << 20
_numbers = itertools.count()

# fake-gcs-server's departures from real GCS. They live here rather than in
# tests/backends.py because only this module's servers have them.
SAME_NOT_FOUND_FOR_BUCKET_AND_KEY = "same-not-found-for-bucket-and-key"
"""A read of a missing bucket answers the same 404 as a missing object; real GCS says
"The specified bucket does not exist." GCSStore.head then checks the bucket."""
ETAG_IS_MD5 = "etag-is-md5"
"""The etag equals the MD5 of the contents; real GCS's etag changes with each
generation and metageneration. GCSStore reports the MD5 as ObjectInfo.etag anyway."""
REWRITES_IN_ONE_CALL = "rewrites-in-one-call"
"""Rewrites ignore maxBytesRewrittenPerCall and finish in one call, so the continuation
token loop is tested through _SplitRewrites, which answers like GCS with tokens."""
RESUMABLE_UPLOADS_BYPASS_PROXY = "resumable-uploads-bypass-proxy"
"""Resumable upload session URLs are built from -external-url, so a fault proxy sees
the first request of a resumable upload and none of its chunks."""

QUIRKS = frozenset(
    {
        PAGE_SIZE_COUNTS_OBJECTS_ONLY,
        SAME_NOT_FOUND_FOR_BUCKET_AND_KEY,
        ETAG_IS_MD5,
        REWRITES_IN_ONE_CALL,
        RESUMABLE_UPLOADS_BYPASS_PROXY,
    }
)

# Quick retries, so that a test of an outage that outlasts them takes seconds.
RETRY = {"retry_initial_delay": 0.05, "retry_max_delay": 0.5, "retry_timeout": 3.0}


@pytest.fixture(scope="session")
def fake_gcs() -> Iterator[FakeGCS]:
    with FakeGCS() as server:
        yield server


def _name() -> str:
    return f"test-{os.getpid()}-{next(_numbers)}"


def _options(server: FakeGCS, endpoint: str | None = None) -> dict[str, Any]:
    return {"endpoint": endpoint or server.endpoint, "project": server.project, **RETRY}


def _bucket(server: FakeGCS, endpoint: str | None = None, **options: Any) -> ObjectMapping:
    return factory(_name(), create=True, **_options(server, endpoint), **options)()


def _backend(server: FakeGCS) -> Backend:
    def make(**options: Any) -> type[ObjectMapping]:
        return factory(_name(), create=True, **_options(server), **options)

    def make_faulty(**options: Any) -> tuple[type[ObjectMapping], FaultProxy]:
        proxy = FaultProxy(server.endpoint, error_format="json").start()
        Bucket = factory(_name(), create=True, **_options(server, proxy.url), **options)
        return Bucket, proxy

    return Backend(name="fake-gcs-server", make=make, make_faulty=make_faulty, quirks=QUIRKS)


class TestFakeGCS(MappingConformance):
    @pytest.fixture
    def backend(self, fake_gcs: FakeGCS) -> Backend:
        return _backend(fake_gcs)


# GCS-only checks


def _rewrite_calls(proxy: FaultProxy) -> list[str]:
    return [record.path for record in proxy.stats.records if "/rewriteTo/" in record.path]


def test_rewrite_in_one_call_on_fake_gcs_server(fake_gcs: FakeGCS) -> None:
    # fake-gcs-server ignores maxBytesRewrittenPerCall (REWRITES_IN_ONE_CALL), so
    # the token loop is driven by _SplitRewrites below; this checks the request.
    with FaultProxy(fake_gcs.endpoint, error_format="json") as proxy:
        source = _bucket(fake_gcs, proxy.url)
        target = _bucket(fake_gcs, proxy.url, rewrite_chunk_bytes=MIB)
        payload = os.urandom(3 * MIB + 17)
        source.put("big.bin", payload, metadata={"kind": "test"})
        value = source["big.bin"]
        proxy.reset_stats()
        copied = target.put("copy.bin", value)
        (call,) = _rewrite_calls(proxy)
        assert "maxBytesRewrittenPerCall=1048576" in call
        assert f"sourceGeneration={value.info.version}" in call
        assert proxy.stats.bytes_received < 10_000  # the bytes stayed on the server
        assert proxy.stats.bytes_sent < 10_000
        assert copied.metadata == {"kind": "test"}
        assert target["copy.bin"] == payload


def test_rewrite_follows_tokens_across_buckets(fake_gcs: FakeGCS) -> None:
    with _SplitRewrites(fake_gcs.endpoint, calls=4) as shim:
        source = _bucket(fake_gcs, shim.url)
        target = _bucket(fake_gcs, shim.url, rewrite_chunk_bytes=MIB)
        payload = os.urandom(3 * MIB + 17)
        source.put("big.bin", payload, metadata={"kind": "test"})
        value = source["big.bin"]

        copied = target.put("copy.bin", value)

        queries = [urllib.parse.parse_qs(urllib.parse.urlsplit(p).query) for p in shim.rewrites]
        assert len(queries) == 4
        assert [q.get("rewriteToken") for q in queries] == [None, ["t1"], ["t2"], ["t3"]]
        assert all(q["maxBytesRewrittenPerCall"] == ["1048576"] for q in queries)
        assert all(q["sourceGeneration"] == [value.info.version] for q in queries)
        assert copied.metadata == {"kind": "test"}
        assert copied.size == len(payload)
        assert target["copy.bin"] == payload


class _SplitRewrites:
    """A forwarding HTTP server that makes GCS rewrites take several calls.

    Real GCS answers a rewrite with a token when it copies across locations or
    storage classes, or moves more than maxBytesRewrittenPerCall; fake-gcs-server
    always finishes in one call. This server answers the first ``calls - 1`` rewrite
    requests with progress and a token, as GCS does, checks that each next request
    carries that token, and forwards the last one without it. Everything else is
    forwarded unchanged.
    """

    def __init__(self, upstream: str, calls: int) -> None:
        import http.server
        import threading

        self.rewrites: list[str] = []
        shim = self
        target = urllib.parse.urlsplit(upstream)

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if "/rewriteTo/" in self.path:
                    shim.rewrites.append(self.path)
                    if len(shim.rewrites) < calls:
                        self._progress(len(shim.rewrites))
                        return
                    self.path = self.path.replace(f"rewriteToken=t{calls - 1}&", "")
                self._forward(body)

            do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

            def _progress(self, number: int) -> None:
                expected = f"rewriteToken=t{number - 1}" if number > 1 else None
                assert expected is None or expected in self.path, self.path
                answer = json.dumps(
                    {
                        "kind": "storage#rewriteResponse",
                        "totalBytesRewritten": str(number * MIB),
                        "objectSize": str(10 * MIB),
                        "done": False,
                        "rewriteToken": f"t{number}",
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def _forward(self, body: bytes) -> None:
                connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                    connection.request(self.command, self.path, body=body or None, headers=headers)
                    response = connection.getresponse()
                    data = response.read()
                finally:
                    connection.close()
                self.send_response(response.status)
                for name, value in response.getheaders():
                    if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> _SplitRewrites:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def test_copy_replaces_content_type_and_metadata(fake_gcs: FakeGCS) -> None:
    source = _bucket(fake_gcs)
    target = _bucket(fake_gcs)
    source.put("a.csv", "x,y\n", metadata={"origin": "source"})
    copied = target.put("b.txt", source["a.csv"], content_type="text/plain", metadata={"n": "1"})
    assert (copied.content_type, copied.metadata) == ("text/plain", {"n": "1"})
    fresh = target["b.txt"]
    assert (fresh.content_type, fresh.metadata, bytes(fresh)) == (
        "text/plain",
        {"n": "1"},
        b"x,y\n",
    )
    kept = target.put("c.csv", source["a.csv"], metadata={"m": "2"})
    assert (kept.content_type, kept.metadata) == ("text/csv", {"m": "2"})


def test_copy_of_overwritten_source_raises_object_changed(fake_gcs: FakeGCS) -> None:
    source = _bucket(fake_gcs)
    target = _bucket(fake_gcs)
    source["k"] = "old"
    value = source["k"]
    source["k"] = "new"
    with pytest.raises(ObjectChangedError, match="k"):
        target["copy"] = value
    assert "copy" not in target


def _versioned(mapping: ObjectMapping) -> None:
    store = mapping.store
    assert isinstance(store, GCSStore)
    bucket = store.client.get_bucket(store.bucket)
    bucket.versioning_enabled = True
    bucket.patch()


def test_reader_keeps_its_generation_when_versions_are_kept(fake_gcs: FakeGCS) -> None:
    d = factory(_name(), create=True, block_size=4, **_options(fake_gcs))()
    _versioned(d)
    old = os.urandom(64)
    d["k"] = old
    value = d["k"]
    assert value.read(4) == old[:4]
    d["k"] = b"B" * 64
    assert value.read() == old[4:]  # the streaming download asks for the old generation
    assert value[10:20] == old[10:20]  # and so does a range read
    assert d["k"] == b"B" * 64
    assert value.info.version != d["k"].info.version


def test_reader_fails_when_its_generation_is_gone(fake_gcs: FakeGCS) -> None:
    d = factory(_name(), create=True, block_size=4, **_options(fake_gcs))()
    d["k"] = b"A" * 64
    value = d["k"]
    assert value.read(4) == b"AAAA"
    d["k"] = b"B" * 64
    with pytest.raises(ObjectChangedError, match="k"):
        value.read()
    with pytest.raises(ObjectChangedError):
        value[0:3]


def test_stream_from_offset_is_one_request(fake_gcs: FakeGCS) -> None:
    with FaultProxy(fake_gcs.endpoint, error_format="json") as proxy:
        d = _bucket(fake_gcs, proxy.url)
        payload = os.urandom(2 * MIB)
        d["k"] = payload
        info = d["k"].info
        proxy.reset_stats()
        stream = d.store.open_stream(info, 1000)
        try:
            chunks = iter(lambda: stream.read(64 * 1024), b"")
            assert b"".join(chunks) == payload[1000:]
        finally:
            stream.close()
        (record,) = proxy.stats.records
        assert record.method == "GET"
        assert f"generation={info.version}" in record.path


def test_every_listing_request_sends_a_page_size(fake_gcs: FakeGCS) -> None:
    with FaultProxy(fake_gcs.endpoint, error_format="json") as proxy:
        d = _bucket(fake_gcs, proxy.url, list_page_size=4)
        for index in range(10):
            d[f"k{index}"] = b""
        proxy.reset_stats()
        assert len(d) == 10
        assert d.list_page("", page_size=5000).next_token is None
        listings = [r.path for r in proxy.stats.records if r.method == "GET"]
        assert len(listings) == 4  # 4 + 4 + 2, then one page capped at 1000
        sizes = [
            urllib.parse.parse_qs(urllib.parse.urlsplit(p).query)["maxResults"] for p in listings
        ]
        assert sizes == [["4"], ["4"], ["4"], ["1000"]]


INVALID_KEYS = [
    ("line\nfeed", "carriage return or line feed"),
    ("carriage\rreturn", "carriage return or line feed"),
    (".", r"cannot be any of \['\.', '\.\.'\]"),
    ("..", r"cannot be any of \['\.', '\.\.'\]"),
    (".well-known/acme-challenge/token", "acme-challenge"),
    ("\u00e9" * 513, "1026 bytes"),
]


@pytest.mark.parametrize(("key", "rule"), INVALID_KEYS)
def test_key_rules_checked_before_any_request(fake_gcs: FakeGCS, key: str, rule: str) -> None:
    with FaultProxy(fake_gcs.endpoint, error_format="json") as proxy:
        d = _bucket(fake_gcs, proxy.url)
        proxy.reset_stats()
        with pytest.raises(InvalidKeyError, match=rule) as caught:
            d[key] = "v"
        assert repr(key)[:40] in str(caught.value)
        with pytest.raises(InvalidKeyError):
            d[key]
        assert key not in d
        assert proxy.stats.requests == 0


def test_keys_that_gcs_allows(fake_gcs: FakeGCS) -> None:
    d = _bucket(fake_gcs)
    for key in ("\u00e9" * 512, "a/./b", ".well-known/other", "..x", "tab\there"):
        d[key] = key
        assert str(d[key]) == key


@pytest.mark.parametrize(
    "name",
    [
        "UPPER",
        "ab",
        "x" * 64,
        "-leading",
        "trailing-",
        "goog-bucket",
        "my-google-data",
        "g00gle",
        "192.168.1.1",
        "a..b",
        "a" * 64 + ".com",
        "sp ace",
        "",
    ],
)
def test_invalid_bucket_names(name: str) -> None:
    with pytest.raises(ValueError, match="bucket name"):
        factory(name)


@pytest.mark.parametrize("name", ["abc", "under_score", "a.b.c", "x" * 63, "1-2-3"])
def test_valid_bucket_names(name: str) -> None:
    factory(name, anonymous=True)  # makes no request and no client


def test_conditional_write(fake_gcs: FakeGCS) -> None:
    d = _bucket(fake_gcs)
    store = d.store
    store.put_bytes("k", b"first", content_type="text/plain", metadata={}, if_absent=True)
    with pytest.raises(KeyExistsError, match="k"):
        store.put_bytes("k", b"second", content_type="text/plain", metadata={}, if_absent=True)
    assert d.setdefault("k", b"third") == b"first"


class _Unseekable(io.RawIOBase):
    """A pipe-like stream: no seek, no tell, short reads."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self.largest_read = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self.largest_read = max(self.largest_read, size)
        size = min(size if size >= 0 else len(self._data), 100_000)
        chunk, self._data = bytes(self._data[:size]), self._data[size:]
        return chunk


def test_stream_upload_is_resumable_in_chunks(fake_gcs: FakeGCS) -> None:
    chunk = 256 * 1024
    d = _bucket(fake_gcs, upload_chunk_size=chunk)
    payload = os.urandom(3 * chunk + 5)
    stream = _Unseekable(payload)
    d.put("big.bin", stream, metadata={"via": "stream"})
    assert stream.largest_read <= chunk
    value = d["big.bin"]
    assert value == payload
    assert (value.content_type, value.metadata) == ("application/octet-stream", {"via": "stream"})
    exact = _Unseekable(payload[: 2 * chunk])
    d["exact.bin"] = exact
    assert d["exact.bin"] == payload[: 2 * chunk]
    d["small.txt"] = _Unseekable(b"tiny")
    assert d["small.txt"] == b"tiny"
    assert d["small.txt"].content_type == "text/plain"


@pytest.mark.parametrize(
    ("option", "value"),
    [("upload_chunk_size", 1000), ("rewrite_chunk_bytes", 1000), ("delete_threads", 0)],
)
def test_invalid_sizes(option: str, value: int) -> None:
    with pytest.raises(ValueError, match=option):
        factory("bucket", anonymous=True, **{option: value})


def test_delete_many_in_parallel(fake_gcs: FakeGCS) -> None:
    d = _bucket(fake_gcs, delete_threads=4)
    for index in range(25):
        d[f"k{index}"] = b""
    d.store.delete_many([f"k{index}" for index in range(20)] + ["never-existed"])
    assert sorted(d) == sorted(f"k{index}" for index in range(20, 25))


def test_missing_bucket(fake_gcs: FakeGCS) -> None:
    d = factory(_name(), **_options(fake_gcs))()
    with pytest.raises(BucketNotFoundError):
        d["k"]
    with pytest.raises(BucketNotFoundError):
        list(d)
    with pytest.raises(BucketNotFoundError):
        "k" in d  # noqa: B015


def test_retry_hides_a_short_outage(fake_gcs: FakeGCS) -> None:
    with FaultProxy(fake_gcs.endpoint, error_format="json") as proxy:
        d = _bucket(fake_gcs, proxy.url)
        proxy.fail_next(2, status=503)
        d["k"] = "v"  # an upload, retried
        proxy.fail_next(2, status=429)
        assert bytes(d["k"]) == b"v"
        proxy.drop_next(1)
        assert "k" in d
        proxy.fail_next(3, status=503)
        assert list(d) == ["k"]
        proxy.fail_next(1000, status=500)
        with pytest.raises(TransientError, match="500"):
            len(d)
        proxy.clear_faults()


def test_emulator_host_variable(fake_gcs: FakeGCS, monkeypatch: pytest.MonkeyPatch) -> None:
    _forbid_metadata_server(monkeypatch)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", fake_gcs.endpoint)
    name = _name()
    factory(name, create=True)(k="from env")
    assert bytes(from_url(f"gs://{name}")["k"]) == b"from env"
    assert GCSStore(name).endpoint == fake_gcs.endpoint


def test_plain_http_endpoint_is_anonymous(
    fake_gcs: FakeGCS, monkeypatch: pytest.MonkeyPatch
) -> None:
    _forbid_metadata_server(monkeypatch)
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    d = factory(_name(), create=True, endpoint=fake_gcs.endpoint)()
    d["k"] = "v"
    assert d.store.client.project is None


def test_explicit_credentials_skip_project_lookup(
    fake_gcs: FakeGCS, monkeypatch: pytest.MonkeyPatch
) -> None:
    from google.auth.credentials import AnonymousCredentials

    _forbid_metadata_server(monkeypatch)
    d = factory(
        _name(), create=True, endpoint=fake_gcs.endpoint, credentials=AnonymousCredentials()
    )()
    d["k"] = "v"
    assert bytes(d["k"]) == b"v"


def _forbid_metadata_server(monkeypatch: pytest.MonkeyPatch) -> None:
    import google.auth

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("Application Default Credentials were looked up")

    monkeypatch.setattr(google.auth, "default", refuse)
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("GCE_METADATA_IP", "127.0.0.1:9")


def test_pickle_carries_no_client(fake_gcs: FakeGCS) -> None:
    d = _bucket(fake_gcs)
    d["k"] = "v"
    assert d.store._client_instance is not None
    data = pickle.dumps(d)
    assert b"AuthorizedSession" not in data
    again = pickle.loads(data)
    assert again.store._client_instance is None
    assert bytes(again["k"]) == b"v"
    assert bytes(pickle.loads(pickle.dumps(d["k"]))) == b"v"


def test_errors_are_cloudyfiles_errors(fake_gcs: FakeGCS) -> None:
    from cloudyfiles.errors import CloudyError

    with FaultProxy(fake_gcs.endpoint, error_format="json") as proxy:
        d = _bucket(fake_gcs, proxy.url)
        d["k"] = "v"
        for status, kind in ((403, PermissionError), (401, PermissionError), (400, CloudyError)):
            proxy.fail_next(1, status=status)
            with pytest.raises(kind) as caught:
                d["k"]
            assert isinstance(caught.value, CloudyError)
            assert not isinstance(caught.value, KeyError)
