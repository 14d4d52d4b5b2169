"""The conformance suite on OpenStack Swift (tempauth, one node), plus Swift-only checks.

The server is Swift itself (``tools/install-servers`` puts it in ``.cache/swift-venv``),
so no quirk constants are declared: every conformance case runs against Swift's own
behaviour.
"""

from __future__ import annotations

import concurrent.futures
import io
import itertools
import os
import pickle
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import swiftclient

from cloudyfiles import (
    AccessDeniedError,
    BucketNotFoundError,
    InvalidKeyError,
    KeyExistsError,
    ObjectChangedError,
    ObjectMapping,
    TransientError,
    from_url,
)
from cloudyfiles.swift import RACKSPACE_AUTH_URL, SwiftStore, factory, resolve_auth
from tests.backends import Backend
from tests.conformance import MappingConformance
from tests.faultproxy import FaultProxy
from tests.servers import Swift

_numbers = itertools.count()
# The conformance backend uploads file objects above 4 MiB as Static Large Objects, so
# the 12 MiB streaming case runs through segments.
_CONFORMANCE_SEGMENT_SIZE = 4 * 1024 * 1024


def _options(server: Swift, auth_url: str | None = None) -> dict[str, Any]:
    return {
        "auth_url": auth_url or server.auth_url,
        "user": server.user,
        "key": server.key,
        "retries": 2,
        "starting_backoff": 0.01,
        "max_backoff": 0.05,
        "timeout": 30,
    }


def _name() -> str:
    return f"test-{os.getpid()}-{next(_numbers)}"


def _proxy(server: Swift) -> FaultProxy:
    # Tempauth builds the storage URL from the Host header, so after logging in through
    # the proxy every request keeps going through it.
    return FaultProxy(server.auth_url.removesuffix("/auth/v1.0")).start()


def _client(server: Swift) -> Any:
    return swiftclient.Connection(authurl=server.auth_url, user=server.user, key=server.key)


@pytest.fixture(scope="session")
def swift() -> Iterator[Swift]:
    with Swift() as server:
        yield server


class TestSwift(MappingConformance):
    @pytest.fixture
    def backend(self, swift: Swift) -> Backend:
        def make(**options: Any) -> type[ObjectMapping]:
            options.setdefault("segment_size", _CONFORMANCE_SEGMENT_SIZE)
            return factory(_name(), create=True, **_options(swift), **options)

        def make_faulty(**options: Any) -> tuple[type[ObjectMapping], FaultProxy]:
            proxy = _proxy(swift)
            auth_url = f"{proxy.url}/auth/v1.0"
            return factory(_name(), create=True, **_options(swift, auth_url), **options), proxy

        return Backend(name="Swift", make=make, make_faulty=make_faulty)


@pytest.fixture
def bucket(swift: Swift) -> type[ObjectMapping]:
    return factory(_name(), create=True, **_options(swift))


class _Unseekable(io.RawIOBase):
    """A stream of unknown length that returns at most 333 bytes per read."""

    def __init__(self, payload: bytes) -> None:
        self._source = io.BytesIO(payload)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._source.read(min(len(buffer), 333))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def _segment_names(server: Swift, container: str) -> list[str]:
    _, listing = _client(server).get_container(f"{container}_segments", full_listing=True)
    return [item["name"] for item in listing]


# Static Large Objects


@pytest.mark.parametrize("seekable", [True, False], ids=["seekable", "unseekable"])
def test_large_object_upload_reads_by_ranges(swift: Swift, seekable: bool) -> None:
    name = _name()
    d = factory(name, create=True, segment_size=1000, block_size=700, **_options(swift))()
    payload = os.urandom(10_500)
    stream = io.BytesIO(payload) if seekable else _Unseekable(payload)
    d.put("big.bin", stream, metadata={"kind": "slo"})

    value = d["big.bin"]
    headers = _client(swift).head_object(name, "big.bin")
    assert headers["x-static-large-object"].lower() == "true"
    assert len(_segment_names(swift, name)) == 11
    assert value.size == len(payload)
    assert value.metadata == {"kind": "slo"}
    assert value[990:1010] == payload[990:1010]
    assert value[-5:] == payload[-5:]
    assert value.read(1500) == payload[:1500]
    assert value.read() == payload[1500:]
    assert value == payload


def test_small_stream_is_one_object(swift: Swift) -> None:
    name = _name()
    d = factory(name, create=True, segment_size=1000, **_options(swift))()
    d["exact"] = _Unseekable(b"x" * 1000)
    d["sized"] = io.BytesIO(b"y" * 999)
    for key in ("exact", "sized"):
        assert "x-static-large-object" not in _client(swift).head_object(name, key)
    assert bytes(d["exact"]) == b"x" * 1000
    assert bytes(d["sized"]) == b"y" * 999


def test_deleting_large_object_deletes_segments(swift: Swift) -> None:
    name = _name()
    d = factory(name, create=True, segment_size=100, **_options(swift))()
    d["one"] = io.BytesIO(os.urandom(250))
    d["two"] = io.BytesIO(os.urandom(350))
    d["plain"] = "p"
    assert len(_segment_names(swift, name)) == 3 + 4

    del d["one"]
    assert len(_segment_names(swift, name)) == 4
    assert "one" not in d
    d.clear()
    assert _segment_names(swift, name) == []
    assert len(d) == 0


def test_failed_upload_removes_its_segments(swift: Swift) -> None:
    class Broken(io.RawIOBase):
        def __init__(self) -> None:
            self.calls = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            self.calls += 1
            if self.calls > 3:
                raise OSError("disk read failed")
            buffer[:100] = b"z" * 100
            return 100

    name = _name()
    d = factory(name, create=True, segment_size=100, **_options(swift))()
    with pytest.raises(OSError, match="disk read failed"):
        d["broken"] = Broken()
    assert "broken" not in d
    assert _segment_names(swift, name) == []


# Listings


def test_listing_past_a_page(swift: Swift) -> None:
    d = factory(_name(), create=True, list_page_size=4, **_options(swift))()
    names = [f"k{index:02d}" for index in range(13)]
    for name in names:
        d[name] = name
    assert list(d) == names
    assert len(d) == 13

    first = d.store.list_page("", page_size=5)
    assert [info.key for info in first.objects] == names[:5]
    assert first.next_token == "k04"
    second = d.store.list_page("", page_size=5, token=first.next_token)
    assert [info.key for info in second.objects] == names[5:10]


def test_folder_token_skips_the_folder(bucket: type[ObjectMapping]) -> None:
    d = bucket()
    for key in ("a/1", "a/2", "a/3", "b", "c/1", "d"):
        d[key] = key
    page = d.list_page("", page_size=1)
    assert page.prefixes == ["a/"]
    assert page.next_token == "a/"
    rest = d.list_page("", page_size=10, token=page.next_token)
    assert [info.key for info in rest.objects] == ["b", "d"]
    assert rest.prefixes == ["c/"]
    assert rest.next_token is None


def test_page_size_is_capped_at_swift_limit(bucket: type[ObjectMapping]) -> None:
    d = bucket(a="1")
    page = d.store.list_page("", page_size=50_000)
    assert [info.key for info in page.objects] == ["a"]
    assert SwiftStore.page_limit == 10000


def test_listed_large_object_has_head_etag(swift: Swift) -> None:
    d = factory(_name(), create=True, segment_size=10, **_options(swift))()
    d["big"] = io.BytesIO(b"0123456789" * 3)
    listed = next(iter(d.values()))
    assert listed.etag == d["big"].etag
    assert listed[5:15] == b"5678901234"


# Copies


def test_copy_across_containers_stays_on_server(swift: Swift) -> None:
    with _proxy(swift) as proxy:
        options = _options(swift, f"{proxy.url}/auth/v1.0")
        source = factory(_name(), create=True, **options)()
        target = factory(_name(), create=True, **options)()
        payload = os.urandom(2 * 1024 * 1024)
        source.put("data.bin", payload, metadata={"origin": "source"})
        value = source["data.bin"]
        proxy.reset_stats()
        target["\u00fcber/copy.bin"] = value
        assert proxy.stats.bytes_sent < 10_000
        assert proxy.stats.bytes_received < 10_000
        copied = target["\u00fcber/copy.bin"]
        assert copied == payload
        assert copied.metadata == {"origin": "source"}


def test_copy_replaces_type_and_metadata(bucket: type[ObjectMapping], swift: Swift) -> None:
    source = bucket()
    target = factory(_name(), create=True, **_options(swift))()
    source.put("a.csv", "x,y\n", metadata={"origin": "a", "keep": "no"})
    target.put("b.txt", source["a.csv"], content_type="text/plain", metadata={"new": "1"})
    copied = target["b.txt"]
    assert copied.content_type == "text/plain"
    assert copied.metadata == {"new": "1"}
    target.put("c.csv", source["a.csv"], content_type="text/x-csv")
    assert target["c.csv"].metadata == {"origin": "a", "keep": "no"}
    assert target["c.csv"].content_type == "text/x-csv"


def test_copy_of_large_object_is_independent(swift: Swift) -> None:
    source_name, target_name = _name(), _name()
    source = factory(source_name, create=True, segment_size=100, **_options(swift))()
    target = factory(target_name, create=True, segment_size=100, **_options(swift))()
    payload = os.urandom(450)
    source["big"] = io.BytesIO(payload)
    with _proxy(swift) as proxy:
        via_proxy = factory(target_name, **_options(swift, f"{proxy.url}/auth/v1.0"))()
        source_via_proxy = factory(source_name, **_options(swift, f"{proxy.url}/auth/v1.0"))()
        value = source_via_proxy["big"]
        proxy.reset_stats()
        via_proxy["copy"] = value
        assert proxy.stats.bytes_sent < 10_000
    del source["big"]
    assert _segment_names(swift, source_name) == []
    copied = target["copy"]
    assert len(_segment_names(swift, target_name)) == 5
    assert copied[95:105] == payload[95:105]  # a pinned read of the copy
    assert copied == payload


def test_copy_pinned_to_source_version(bucket: type[ObjectMapping]) -> None:
    d = bucket()
    d["src"] = "old"
    value = d["src"]
    d["src"] = "new"
    with pytest.raises(ObjectChangedError, match="src"):
        d["dst"] = value
    assert "dst" not in d


def test_copy_needs_same_account(swift: Swift, bucket: type[ObjectMapping]) -> None:
    other = factory(_name(), create=True, **_options(swift))
    assert other.store.can_copy_from(bucket.store)
    from cloudyfiles.memory import factory as memory_factory

    assert not other.store.can_copy_from(memory_factory().store)


# Versions


def test_overwrite_mid_read_raises(swift: Swift) -> None:
    d = factory(_name(), create=True, segment_size=100, block_size=64, **_options(swift))()
    d["k"] = io.BytesIO(b"A" * 1000)
    value = d["k"]
    assert value.read(64) == b"A" * 64
    d["k"] = b"B" * 1000
    with pytest.raises(ObjectChangedError, match="k"):
        value.seek(500)
        value.read(10)


def test_slice_after_overwrite_raises(bucket: type[ObjectMapping]) -> None:
    d = bucket()
    d["k"] = "old contents"
    value = d["k"]
    d["k"] = "new contents"
    with pytest.raises(ObjectChangedError):
        value[0:3]


# Writes and deletes


def test_if_absent_write(bucket: type[ObjectMapping]) -> None:
    d = bucket()
    assert d.setdefault("k", "first") == b"first"
    assert d.setdefault("k", "second") == b"first"
    with pytest.raises(KeyExistsError, match="k"):
        d.store.put_bytes("k", b"x", content_type="text/plain", metadata={}, if_absent=True)


def test_bulk_delete_is_one_request(swift: Swift) -> None:
    with _proxy(swift) as proxy:
        d = factory(_name(), create=True, **_options(swift, f"{proxy.url}/auth/v1.0"))()
        keys = [f"k{index:03d}" for index in range(30)]
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda key: d.__setitem__(key, key), keys))
        proxy.reset_stats()
        d.store.delete_many([d.prefix + key for key in keys] + ["absent"])
        methods = [record.method for record in proxy.stats.records]
        assert methods == [
            "GET",
            "POST",
        ]  # the listing that finds large objects, then one bulk delete
        assert len(d) == 0


def test_delete_absent_key_is_quiet(bucket: type[ObjectMapping]) -> None:
    bucket.store.delete("never-written")
    with pytest.raises(KeyError):
        del bucket()["never-written"]


def test_metadata_rules(bucket: type[ObjectMapping]) -> None:
    d = bucket()
    with pytest.raises(ValueError, match="'_'"):
        d.put("k", "v", metadata={"snake_case": "x"})
    with pytest.raises(ValueError, match="256 bytes"):
        d.put("k", "v", metadata={"long": "v" * 257})
    d.put("k", "v", metadata={"percent": "a%20b \u00e9"})
    assert d["k"].metadata == {"percent": "a%20b \u00e9"}


# Keys and containers


def test_key_rules_raise_before_any_request() -> None:
    # Port 9 discards: a request would fail with TransientError, not a ValueError.
    d = factory(
        "container", auth_url="http://127.0.0.1:9/auth/v1.0", user="u:u", key="k", retries=0
    )()
    long_key = "\u00e9" * 513  # 1026 bytes in UTF-8
    with pytest.raises(InvalidKeyError, match="1024"):
        d[long_key] = "v"
    with pytest.raises(InvalidKeyError, match="NUL"):
        d["a\x00b"] = "v"
    with pytest.raises(InvalidKeyError, match="UTF-8"):
        d["lone\ud800surrogate"] = "v"
    assert long_key not in d


@pytest.mark.parametrize(
    ("container", "rule"),
    [("a/b", "'/'"), ("c" * 257, "256 bytes"), ("", "non-empty"), ("nul\x00", "NUL")],
)
def test_container_rules(container: str, rule: str) -> None:
    with pytest.raises(InvalidKeyError, match=rule):
        factory(container, auth_url="http://127.0.0.1:9/auth/v1.0", user="u:u", key="k")


def test_longest_key_is_stored(bucket: type[ObjectMapping]) -> None:
    d = bucket()
    key = "\u00e9" * 512  # exactly 1024 bytes
    d[key] = "v"
    assert list(d) == [key]


def test_missing_container_raises_bucket_not_found(swift: Swift) -> None:
    d = factory(_name(), **_options(swift))()
    with pytest.raises(BucketNotFoundError, match="create=True"):
        d["k"] = "v"
    with pytest.raises(BucketNotFoundError):
        list(d)
    assert "k" not in d


# Authentication and connections


def test_wrong_key_raises_permission_error(swift: Swift) -> None:
    options = _options(swift) | {"key": "wrong"}
    d = factory(_name(), **options)()
    with pytest.raises(PermissionError) as caught:
        d["k"]
    assert isinstance(caught.value, AccessDeniedError)


def test_tempauth_from_environment(swift: Swift, monkeypatch: pytest.MonkeyPatch) -> None:
    name = _name()
    factory(name, create=True, **_options(swift))(k="from env")
    monkeypatch.setenv("OS_AUTH_URL", swift.auth_url)
    monkeypatch.setenv("OS_USERNAME", swift.user)
    monkeypatch.setenv("OS_PASSWORD", swift.key)
    monkeypatch.setenv("OS_AUTH_VERSION", "1")
    assert bytes(from_url(f"swift://{name}")["k"]) == b"from env"


def test_token_from_environment(swift: Swift, monkeypatch: pytest.MonkeyPatch) -> None:
    name = _name()
    factory(name, create=True, **_options(swift))(k="with token")
    storage_url, token = _client(swift).get_auth()
    for variable in ("OS_AUTH_URL", "OS_USERNAME", "OS_PASSWORD", "ST_AUTH"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("OS_STORAGE_URL", storage_url)
    monkeypatch.setenv("OS_AUTH_TOKEN", token)
    d = from_url(f"swift://{name}/")
    assert bytes(d["k"]) == b"with token"
    assert d.store.storage_url == storage_url


def test_no_credentials_raise_permission_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in list(os.environ):
        if variable.startswith(("OS_", "ST_")):
            monkeypatch.delenv(variable)
    d = factory("container")()
    with pytest.raises(AccessDeniedError, match="OS_AUTH_URL"):
        d["k"]


def test_keystone_settings_from_environment() -> None:
    environ = {
        "OS_AUTH_URL": "https://keystone.invalid/v3",
        "OS_USERNAME": "ana",
        "OS_PASSWORD": "secret",
        "OS_PROJECT_NAME": "research",
        "OS_USER_DOMAIN_NAME": "users",
        "OS_REGION_NAME": "RegionTwo",
        "OS_INTERFACE": "internalURL",
    }
    auth = resolve_auth({}, environ)
    assert auth.auth_version == "3"
    assert (auth.username, auth.password, auth.project_name) == ("ana", "secret", "research")
    assert auth.user_domain_name == "users"
    assert auth.project_domain_name == "Default"
    assert auth.region_name == "RegionTwo"
    assert auth.interface == "internal"
    assert "secret" not in repr(auth)

    overridden = resolve_auth({"region_name": "RegionThree"}, environ)
    assert overridden.region_name == "RegionThree"
    assert overridden.username == "ana"

    explicit = resolve_auth(
        {
            "auth_url": "https://other.invalid/v3",
            "username": "bo",
            "password": "pw",
            "project_id": "p1",
        },
        environ,
    )
    assert explicit.username == "bo"
    assert explicit.region_name is None  # credentials given as options: no environment


def test_keystone_needs_a_project() -> None:
    with pytest.raises(AccessDeniedError, match="project"):
        resolve_auth(
            {"auth_url": "https://keystone.invalid/v3", "username": "a", "password": "b"}, {}
        )


def test_auth_version_from_url_and_names() -> None:
    tempauth = resolve_auth(
        {"auth_url": "http://h/auth/v1.0", "username": "a:b", "password": "k"}, {}
    )
    assert tempauth.auth_version == "1"
    v2 = resolve_auth({"auth_url": "http://h/v2.0", "username": "a", "password": "k"}, {})
    assert v2.auth_version == "2"
    swift_cli = resolve_auth({}, {"ST_AUTH": "http://h/auth", "ST_USER": "a:b", "ST_KEY": "k"})
    assert swift_cli.auth_version == "1"
    with pytest.raises(ValueError, match="auth_version"):
        resolve_auth({"auth_url": "http://h", "user": "a", "key": "b", "auth_version": "4"}, {})


@pytest.mark.parametrize(
    ("region", "code"),
    [
        ("DFW", "DFW"),
        ("ord", "ORD"),
        ("Northern-Virginia", "IAD"),
        ("london", "LON"),
        ("SYD", "SYD"),
        ("hong_kong", "HKG"),
    ],
)
def test_rackspace_preset_resolves(region: str, code: str) -> None:
    auth = resolve_auth(
        {"rackspace": True, "username": "ana", "api_key": "s3cr3t-api", "region_name": region}, {}
    )
    assert auth.auth_url == RACKSPACE_AUTH_URL
    assert auth.auth_version == "2"
    assert auth.region_name == code
    assert auth.preset == "rackspace"
    assert "s3cr3t-api" not in repr(auth)


def test_rackspace_preset_rejects_unknown_region() -> None:
    with pytest.raises(ValueError, match="DFW, HKG, IAD, LON, ORD, SYD"):
        resolve_auth(
            {"preset": "rackspace", "username": "a", "api_key": "k", "region_name": "PAR"}, {}
        )
    with pytest.raises(ValueError, match="missing region_name"):
        resolve_auth({"preset": "rackspace", "username": "a", "api_key": "k"}, {})
    with pytest.raises(ValueError, match="preset"):
        resolve_auth({"preset": "aws", "username": "a", "password": "k"}, {})


def test_unknown_option_raises_type_error() -> None:
    with pytest.raises(TypeError, match="retires"):
        factory("container", retires=3)


def test_pickle_carries_no_connection(bucket: type[ObjectMapping]) -> None:
    d = bucket(k="v")
    store = d.store
    assert store.connection is not None
    clone = pickle.loads(pickle.dumps(store))
    assert getattr(clone._local, "connection", None) is None
    assert clone._token is None
    assert bytes(make_mapping(clone)["k"]) == b"v"


def make_mapping(store: SwiftStore) -> ObjectMapping:
    from cloudyfiles._mapping import make_factory

    return make_factory(store)()


def test_threads_share_one_login(swift: Swift) -> None:
    with _proxy(swift) as proxy:
        d = factory(_name(), create=True, **_options(swift, f"{proxy.url}/auth/v1.0"))(k="v")
        connections = set()
        barrier = threading.Barrier(4)

        def read(_: int) -> bytes:
            barrier.wait()  # four threads at once, so each needs its own connection
            connections.add(id(d.store.connection))
            return bytes(d["k"])

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            assert list(pool.map(read, range(4))) == [b"v"] * 4
        logins = [record for record in proxy.stats.records if record.path.startswith("/auth/")]
        assert len(logins) == 1
        assert len(connections) == 4


# Failures


def test_retry_hides_a_503_burst(swift: Swift) -> None:
    with _proxy(swift) as proxy:
        d = factory(_name(), create=True, **_options(swift, f"{proxy.url}/auth/v1.0"))()
        d["k"] = "v"
        proxy.fail_next(2, status=503)
        assert bytes(d["k"]) == b"v"
        proxy.drop_next(1)
        assert "k" in d
        proxy.fail_next(100, status=500)
        with pytest.raises(TransientError, match="500"):
            len(d)
        proxy.clear_faults()
        proxy.fail_next(100, status=429)
        with pytest.raises(TransientError, match="429"):
            d["k"] = "w"
        proxy.clear_faults()
