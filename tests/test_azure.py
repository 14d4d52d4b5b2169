"""The conformance suite on Azure Blob Storage (Azurite), plus Azure-only checks."""

from __future__ import annotations

import base64
import datetime
import io
import itertools
import os
import pickle
import socket
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from cloudyfiles import (
    AccessDeniedError,
    BucketNotFoundError,
    InvalidKeyError,
    KeyExistsError,
    KeyNotFoundError,
    MissingDependencyError,
    ObjectChangedError,
    ObjectMapping,
    RequestError,
    RequestTimeoutError,
    TransientError,
    from_url,
)
from cloudyfiles.azure import AzureStore, factory
from tests.backends import Backend
from tests.conformance import MappingConformance
from tests.faultproxy import FaultProxy
from tests.servers import Azurite

_numbers = itertools.count()

# Azurite's departures from real Azure Blob Storage. No conformance test depends on
# them, because AzureStore rejects the keys they concern before any request. They are
# listed so that readers know the key-rule tests, not Azurite, enforce Azure's rules.
STORES_TRAILING_DOTS = "stores-trailing-dots"
"""Azurite stores 'a.' literally; real Azure drops trailing dots of blob names."""
ACCEPTS_255_SEGMENTS = "accepts-255-segments"
"""Azurite accepts names with more than 254 '/'-separated segments; Azure rejects them."""
BATCH_REJECTS_SAS = "batch-rejects-sas"
"""Azurite fails a blob batch authorized with a SAS token with 500; Azure accepts it."""

QUIRKS = frozenset({STORES_TRAILING_DOTS, ACCEPTS_255_SEGMENTS, BATCH_REJECTS_SAS})

# Quick retries, so that a test of an outage that outlasts them takes seconds.
RETRY = {"retry_total": 3, "retry_backoff": 0.02, "retry_backoff_max": 0.1}


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    with Azurite() as server:
        yield server


def _name() -> str:
    return f"test-{os.getpid()}-{next(_numbers)}"


def _connection_string(server: Azurite, endpoint: str | None = None) -> str:
    if endpoint is None:
        return server.connection_string
    return (
        f"DefaultEndpointsProtocol=http;AccountName={server.account_name};"
        f"AccountKey={server.account_key};BlobEndpoint={endpoint}/{server.account_name};"
    )


def _options(server: Azurite, endpoint: str | None = None) -> dict[str, Any]:
    return {"connection_string": _connection_string(server, endpoint), **RETRY}


def _container(server: Azurite, endpoint: str | None = None, **options: Any) -> ObjectMapping:
    return factory(_name(), create=True, **{**_options(server, endpoint), **options})()


class TestAzurite(MappingConformance):
    @pytest.fixture
    def backend(self, azurite: Azurite) -> Backend:
        def make(**options: Any) -> type[ObjectMapping]:
            return factory(_name(), create=True, **_options(azurite), **options)

        def make_faulty(**options: Any) -> tuple[type[ObjectMapping], FaultProxy]:
            proxy = FaultProxy(azurite.account_url).start()
            Container = factory(_name(), create=True, **_options(azurite, proxy.url), **options)
            return Container, proxy

        return Backend(name="Azurite", make=make, make_faulty=make_faulty, quirks=QUIRKS)


# Names and configuration


@pytest.mark.parametrize(
    "name", ["ab", "a" * 64, "Upper", "under_score", "double--hyphen", "-lead", "trail-", "dot.s"]
)
def test_invalid_container_name_raises_value_error(name: str) -> None:
    with pytest.raises(ValueError, match="3 to 63 lowercase"):
        factory(name, connection_string="unused")


def test_valid_container_names_accepted() -> None:
    for name in ("abc", "a" * 63, "a-b-c", "0day"):
        assert AzureStore(name).bucket == name


@pytest.mark.parametrize(
    ("key", "rule"),
    [
        ("k" * 1025, "at most 1024"),
        ("/".join(["s"] * 255), "at most 254"),
        ("ends.", "ends with '.'"),
        ("dir./file", "ends with '.'"),
        ("a/../b", "'.'"),
        ("back\\slash", "backslash"),
        ("tab\tkey", "control character"),
        ("nul\x00key", "control character"),
        ("c1\x85key", "control character"),
        ("noncharacter\ufffe", "noncharacter"),
        ("surrogate\ud800", "surrogate"),
        ("trailing/", "'/'"),
        ("/leading", "'/'"),
    ],
)
def test_key_rules_reject_before_any_request(azurite: Azurite, key: str, rule: str) -> None:
    with FaultProxy(azurite.account_url) as proxy:
        d = _container(azurite, proxy.url)
        proxy.reset_stats()
        with pytest.raises(InvalidKeyError, match=rule) as caught:
            d[key] = "v"
        assert isinstance(caught.value, ValueError)
        assert repr(key)[:15] in str(caught.value)
        assert proxy.stats.requests == 0


def test_key_rule_errors_name_the_key(azurite: Azurite) -> None:
    d = _container(azurite)
    with pytest.raises(InvalidKeyError, match="dir\\./file"):
        d["dir./file"] = "v"


@pytest.mark.parametrize(
    "key",
    [
        "\u00e9" * 1024,  # 1024 characters, 2048 bytes in UTF-8
        "/".join(["s"] * 254),
        ".hidden",
        "a/.b/c",
        "x.y/z",
        "q?x#y%z",
        "new\u2028line-separator",
    ],
)
def test_keys_at_the_limits_round_trip(azurite: Azurite, key: str) -> None:
    d = _container(azurite)
    d[key] = "v"
    assert key in d
    assert list(d) == [key]
    assert bytes(d[key]) == b"v"


def test_metadata_rules_raise_value_error(azurite: Azurite) -> None:
    d = _container(azurite)
    with pytest.raises(ValueError, match="C# identifiers"):
        d.put("k", "v", metadata={"with-hyphen": "x"})
    with pytest.raises(ValueError, match="C# identifiers"):
        d.put("k", "v", metadata={"9lives": "x"})
    with pytest.raises(ValueError, match="ASCII"):
        d.put("k", "v", metadata={"name": "caf\u00e9"})
    assert "k" not in d
    d.put("k", "v", metadata={"under_score": "x"})
    assert d["k"].metadata == {"under_score": "x"}


def test_url_of_mapping_and_object(azurite: Azurite) -> None:
    name = _name()
    d = factory(name, "reports", create=True, **_options(azurite))()
    d["2024.csv"] = "a\n"
    assert d.url == f"az://{name}/reports/"
    assert d["2024.csv"].url == f"az://{name}/reports/2024.csv"


def test_from_url_uses_connection_string_variable(
    azurite: Azurite, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    name = _name()
    for scheme in ("az", "abfs"):
        d = from_url(f"{scheme}://{name}/folder", create=True)
        d["k"] = scheme
        assert bytes(d["k"]) == scheme.encode()
        assert "connection_string" not in d.store.options
    root = factory(name, connection_string=azurite.connection_string)()
    assert list(root) == ["folder/k"]


def test_missing_configuration_raises_access_denied(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    d = factory("nowhere")()
    with pytest.raises(AccessDeniedError, match="AZURE_STORAGE_CONNECTION_STRING"):
        d["k"]


def test_account_url_without_identity_names_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry makes ``import azure.identity`` raise ImportError, as when the
    # package is not installed, so no credential ever probes the network.
    monkeypatch.setitem(sys.modules, "azure.identity", None)
    d = factory("nowhere", account_url="http://127.0.0.1:9/devstoreaccount1")()
    with pytest.raises(MissingDependencyError, match=r"cloudyfiles\[azure-identity\]"):
        d["k"]


def test_account_name_builds_public_endpoint() -> None:
    store = AzureStore("abc", account_name="myaccount", credential="a2V5")
    assert store.account_url == "https://myaccount.blob.core.windows.net"


def test_account_url_with_account_key(azurite: Azurite) -> None:
    d = factory(
        _name(), create=True, account_url=azurite.account_url, credential=azurite.account_key
    )()
    d["k"] = "with key"
    assert bytes(d["k"]) == b"with key"


def test_account_url_with_sas_token(azurite: Azurite) -> None:
    from azure.storage.blob import AccountSasPermissions, ResourceTypes, generate_account_sas

    name = _name()
    factory(name, create=True, **_options(azurite))
    sas = generate_account_sas(
        azurite.account_name,
        azurite.account_key,
        ResourceTypes(container=True, object=True),
        AccountSasPermissions(read=True, write=True, list=True, create=True, delete=True),
        expiry=datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1),
    )
    d = factory(name, account_url=azurite.account_url, credential=sas)()
    d["k"] = "with sas"
    d["copy"] = d["k"]  # the source URL carries the SAS token
    assert bytes(d["copy"]) == b"with sas"
    assert sorted(d) == ["copy", "k"]


def test_wrong_account_key_raises_access_denied(azurite: Azurite) -> None:
    name = _name()
    factory(name, create=True, **_options(azurite))
    wrong = base64.b64encode(b"not the key").decode()
    d = factory(name, account_url=azurite.account_url, credential=wrong, **RETRY)()
    with pytest.raises(AccessDeniedError, match="denied"):
        d["k"] = "v"
    with pytest.raises(AccessDeniedError):
        "k" in d  # noqa: B015


class _TokenCredential:
    """A TokenCredential that holds a lock, so that it cannot be pickled."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        raise AssertionError("no test sends a request with this credential")


def test_pickle_with_token_credential_explains(azurite: Azurite) -> None:
    Container = factory("tokens", account_url=azurite.account_url, credential=_TokenCredential())
    with pytest.raises(TypeError, match="account_url without credential"):
        pickle.dumps(Container())


def test_pickled_store_carries_no_client(azurite: Azurite) -> None:
    d = _container(azurite)
    d["k"] = "v"
    assert d.store._container_instance is not None
    clone = pickle.loads(pickle.dumps(d))
    assert clone.store._container_instance is None
    assert bytes(clone["k"]) == b"v"


# Errors


def test_missing_container_raises_bucket_not_found(azurite: Azurite) -> None:
    d = factory(_name(), **_options(azurite))()
    with pytest.raises(BucketNotFoundError, match="create=True"):
        d["k"]
    with pytest.raises(BucketNotFoundError):
        d["k"] = "v"
    with pytest.raises(BucketNotFoundError):
        list(d)


def test_create_is_idempotent(azurite: Azurite) -> None:
    name = _name()
    factory(name, create=True, **_options(azurite))()["k"] = "v"
    d = factory(name, create=True, **_options(azurite))()
    assert bytes(d["k"]) == b"v"


def test_retry_hides_a_short_outage(azurite: Azurite) -> None:
    with FaultProxy(azurite.account_url) as proxy:
        d = _container(azurite, proxy.url)
        d["k"] = "v"
        proxy.fail_next(2, status=503)
        assert bytes(d["k"]) == b"v"
        proxy.drop_next(1)
        assert "k" in d
        proxy.fail_next(100, status=500)
        with pytest.raises(TransientError, match="500"):
            len(d)


def test_retry_total_bounds_attempts(azurite: Azurite) -> None:
    with FaultProxy(azurite.account_url) as proxy:
        d = _container(azurite, proxy.url)
        d["k"] = "v"
        proxy.reset_stats()
        proxy.fail_next(100, status=503)
        with pytest.raises(TransientError, match="503"):
            d["k"]
        assert proxy.stats.requests == RETRY["retry_total"] + 1


def test_closed_port_raises_transient_error(azurite: Azurite) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    d = factory("closed", **_options(azurite, f"http://127.0.0.1:{port}"))()
    with pytest.raises(TransientError) as caught:
        d["k"]
    assert not isinstance(caught.value, KeyError)


def test_silent_server_raises_request_timeout() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        endpoint = f"http://127.0.0.1:{server.getsockname()[1]}"
        connection_string = (
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
            f"AccountKey={Azurite.account_key};BlobEndpoint={endpoint}/devstoreaccount1;"
        )
        d = factory(
            "silent",
            connection_string=connection_string,
            read_timeout=0.2,
            retry_total=1,
            retry_backoff=0.01,
        )()
        with pytest.raises(RequestTimeoutError, match="timed out"):
            d["k"]


def test_leased_blob_delete_reports_key(azurite: Azurite) -> None:
    d = _container(azurite)
    d["free"] = "1"
    d["leased"] = "2"
    lease = d.store._blob("leased").acquire_lease(lease_duration=-1)
    try:
        with pytest.raises(RequestError, match="leased") as caught:
            d.store.delete_many(["free", "leased"])
        assert "'leased'" in str(caught.value)
        assert "1 of 2" in str(caught.value)
        assert "free" not in d
        with pytest.raises(RequestError, match="lease"):
            del d["leased"]
    finally:
        lease.release()
    del d["leased"]
    assert list(d) == []


# Reads


def test_lookup_uses_one_request(azurite: Azurite) -> None:
    with FaultProxy(azurite.account_url) as proxy:
        d = _container(azurite, proxy.url)
        payload = os.urandom(200_000)
        d.put("big.bin", payload, metadata={"kind": "x"})
        d["empty"] = b""
        proxy.reset_stats()
        info, head = d.store.lookup(d.prefix + "big.bin", 1000)
        assert proxy.stats.requests == 1
        assert head == payload[:1000]
        assert info.size == len(payload)
        assert info.metadata == {"kind": "x"}
        assert info.content_type == "application/octet-stream"
        info, head = d.store.lookup("empty", 1000)
        assert (info.size, head) == (0, b"")
        with pytest.raises(KeyNotFoundError):
            d.store.lookup("missing", 1000)


def test_slice_sends_one_exact_range_request(azurite: Azurite) -> None:
    with FaultProxy(azurite.account_url) as proxy:
        d = _container(azurite, proxy.url)
        payload = os.urandom(256 * 1024)
        d["k"] = payload
        value = d["k"]
        proxy.reset_stats()
        assert value[100_000:104_096] == payload[100_000:104_096]
        assert value[-100:] == payload[-100:]
        assert value[10:20] == payload[10:20]  # inside the bytes the lookup fetched
        assert [record.method for record in proxy.stats.records] == ["GET", "GET"]
        assert proxy.stats.bytes_sent == 4096 + 100


def test_overwrite_during_stream_raises_changed(azurite: Azurite) -> None:
    d = _container(azurite, max_chunk_get_size=64 * 1024)
    payload = os.urandom(1024 * 1024)
    d["k"] = payload
    info = d["k"].info
    stream = d.store.open_stream(info, 0)
    assert stream.read(1000) == payload[:1000]
    d["k"] = os.urandom(1024 * 1024)
    with pytest.raises(ObjectChangedError, match="look the key up again"):
        while stream.read(64 * 1024):
            pass
    with pytest.raises(ObjectChangedError):
        d.store.get_range(info, 0, 10)


def test_deleted_blob_read_raises_changed(azurite: Azurite) -> None:
    d = _container(azurite)
    d["k"] = "contents"
    value = d["k"]
    info = value.info
    del d["k"]
    with pytest.raises(ObjectChangedError, match="deleted"):
        d.store.get_range(info, 0, 3)
    with pytest.raises(ObjectChangedError):
        d.store.open_stream(info, 1)


def test_open_stream_from_offset(azurite: Azurite) -> None:
    d = _container(azurite, max_chunk_get_size=1000)
    payload = os.urandom(10_000)
    d["k"] = payload
    info = d["k"].info
    stream = d.store.open_stream(info, 4321)
    parts = []
    while chunk := stream.read(777):
        assert len(chunk) <= 777
        parts.append(chunk)
    stream.close()
    assert b"".join(parts) == payload[4321:]
    assert d.store.open_stream(info, len(payload)).read() == b""


def test_list_page_size_is_capped_at_5000(azurite: Azurite) -> None:
    d = _container(azurite)
    d["k"] = "v"
    page = d.list_page("", page_size=100_000)
    assert [info.key for info in page.objects] == ["k"]
    assert page.objects[0].complete  # listings carry content type and metadata


# Writes


def _committed_blocks(store: AzureStore, key: str) -> list[Any]:
    committed, _ = store._blob(key).get_block_list("committed")
    return list(committed)


class _TrickleReader(io.RawIOBase):
    """A stream that returns at most ``step`` bytes per read and records the requested sizes."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = memoryview(data)
        self._step = step
        self.requested: list[int] = []

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self.requested.append(size)
        size = self._step if size < 0 else min(size, self._step)
        chunk, self._data = bytes(self._data[:size]), self._data[size:]
        return chunk


def test_block_upload_with_small_thresholds(azurite: Azurite) -> None:
    d = _container(azurite, max_single_put_size=1024, max_block_size=256, max_concurrency=3)
    payload = os.urandom(3000)
    reader = _TrickleReader(payload, step=100)
    stored = d.put("blocks.bin", reader, metadata={"kind": "blocks"})
    assert stored.size == 3000
    blocks = _committed_blocks(d.store, "blocks.bin")
    assert [block.size for block in blocks] == [256] * 11 + [3000 - 11 * 256]
    assert max(reader.requested) <= 1025  # never the whole stream at once
    value = d["blocks.bin"]
    assert value == payload
    assert value.metadata == {"kind": "blocks"}
    assert value.content_type == "application/octet-stream"
    assert value.etag == stored.etag


def test_stream_at_threshold_is_one_put(azurite: Azurite) -> None:
    d = _container(azurite, max_single_put_size=1024, max_block_size=256)
    d["exact"] = io.BytesIO(b"x" * 1024)
    assert _committed_blocks(d.store, "exact") == []
    d["over"] = io.BytesIO(b"y" * 1025)
    assert [block.size for block in _committed_blocks(d.store, "over")] == [256] * 4 + [1]
    d["empty"] = io.BytesIO(b"")
    assert bytes(d["empty"]) == b""


def test_large_bytes_upload_with_if_absent(azurite: Azurite) -> None:
    d = _container(azurite, max_single_put_size=1024, max_block_size=512)
    d["k"] = os.urandom(4000)
    with pytest.raises(KeyExistsError):
        d.store.put_bytes("k", os.urandom(4000), content_type="x/y", metadata={}, if_absent=True)
    with pytest.raises(KeyExistsError):
        d.store.put_bytes("k", b"small", content_type="x/y", metadata={}, if_absent=True)
    info = d.store.put_bytes(
        "new", os.urandom(4000), content_type="x/y", metadata={}, if_absent=True
    )
    assert d["new"].etag == info.etag


def test_delete_many_in_batches(azurite: Azurite) -> None:
    with FaultProxy(azurite.account_url) as proxy:
        d = _container(azurite, proxy.url)
        keys = [f"k{index:04d} with space+\u00e9" for index in range(600)]
        for key in keys[:20]:
            d[key] = b""
        proxy.reset_stats()
        d.store.delete_many(keys)  # 580 of them are absent, which is not an error
        methods = [record.method for record in proxy.stats.records]
        assert methods == ["POST", "POST", "POST"]  # 256 + 256 + 88
        assert list(d) == []
        d.store.delete_many([])


def test_clear_uses_batches(azurite: Azurite) -> None:
    d = _container(azurite)
    for index in range(300):
        d.store.put_bytes(f"k{index}", b"", content_type="x/y", metadata={})
    d.clear()
    assert len(d) == 0


# Copies


def test_copy_across_containers_waits_and_replaces(azurite: Azurite) -> None:
    source = _container(azurite)
    target = _container(azurite)
    payload = os.urandom(300_000)
    source.put("data.bin", payload, content_type="application/x-test", metadata={"origin": "a"})
    assert target.store.can_copy_from(source.store)

    kept = target.put("kept.bin", source["data.bin"])
    assert kept.content_type == "application/x-test"
    assert kept.metadata == {"origin": "a"}

    replaced = target.put(
        "replaced.bin", source["data.bin"], content_type="text/plain", metadata={"new": "b"}
    )
    assert (replaced.content_type, replaced.metadata) == ("text/plain", {"new": "b"})
    cleared = target.put("cleared.bin", source["data.bin"], metadata={})
    assert (cleared.content_type, cleared.metadata) == ("application/x-test", {})

    for key in ("kept.bin", "replaced.bin", "cleared.bin"):
        value = target[key]
        assert value == payload
        assert value.store._blob(key).get_blob_properties().copy.status == "success"
    assert replaced.etag == target["replaced.bin"].etag


def test_copy_stays_on_server(azurite: Azurite) -> None:
    with FaultProxy(azurite.account_url) as proxy:
        source = _container(azurite, proxy.url)
        target = _container(azurite, proxy.url)
        payload = os.urandom(2 * 1024 * 1024)
        source["big.bin"] = payload
        value = source["big.bin"]
        proxy.reset_stats()
        target["copy.bin"] = value
        assert proxy.stats.bytes_sent < 10_000
        assert proxy.stats.bytes_received < 10_000
        assert target["copy.bin"] == payload


def test_copy_of_changed_source_raises_changed(azurite: Azurite) -> None:
    source = _container(azurite)
    target = _container(azurite)
    source["k"] = "old"
    value = source["k"]
    source["k"] = "new"
    with pytest.raises(ObjectChangedError):
        target["copy"] = value
    assert "copy" not in target
    del source["k"]
    with pytest.raises(ObjectChangedError):
        target["copy"] = value


def test_copy_through_other_endpoint_streams(azurite: Azurite) -> None:
    with FaultProxy(azurite.account_url) as proxy:
        direct = _container(azurite)
        through_proxy = _container(azurite, proxy.url)
        assert not through_proxy.store.can_copy_from(direct.store)
        direct["k"] = "streamed"
        through_proxy["k"] = direct["k"]
        assert bytes(through_proxy["k"]) == b"streamed"
