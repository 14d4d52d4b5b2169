"""The conformance suite on S3: SeaweedFS and moto_server, plus S3-only checks.

SeaweedFS rewrites some keys that S3 stores literally, so the key cases run on
moto_server as well, which stores them as AWS does.
"""

from __future__ import annotations

import io
import itertools
import os
from collections.abc import Iterator
from typing import Any

import pytest

from cloudyfiles import BucketNotFoundError, ObjectMapping, TransientError, from_url
from cloudyfiles.s3 import S3Store, factory
from tests.backends import MERGES_SLASHES, REJECTS_DOT_SEGMENTS, Backend
from tests.conformance import MappingConformance
from tests.faultproxy import FaultProxy
from tests.servers import Moto, SeaweedFS

_numbers = itertools.count()


def _options(server: Any, endpoint_url: str | None = None) -> dict[str, Any]:
    return {
        "endpoint_url": endpoint_url or server.endpoint_url,
        "aws_access_key_id": server.access_key,
        "aws_secret_access_key": server.secret_key,
        "region_name": server.region,
        "max_attempts": 3,
    }


@pytest.fixture(scope="session")
def seaweedfs() -> Iterator[SeaweedFS]:
    with SeaweedFS() as server:
        yield server


@pytest.fixture(scope="session")
def moto() -> Iterator[Moto]:
    with Moto() as server:
        yield server


def _backend(name: str, server: Any, quirks: frozenset[str] = frozenset()) -> Backend:
    def make(**options: Any) -> type[ObjectMapping]:
        bucket = f"test-{os.getpid()}-{next(_numbers)}"
        return factory(bucket, create=True, **_options(server), **options)

    def make_faulty(**options: Any) -> tuple[type[ObjectMapping], FaultProxy]:
        proxy = FaultProxy(server.endpoint_url).start()
        bucket = f"test-{os.getpid()}-{next(_numbers)}"
        Bucket = factory(bucket, create=True, **_options(server, proxy.url), **options)
        return Bucket, proxy

    return Backend(name=name, make=make, make_faulty=make_faulty, quirks=quirks)


class TestSeaweedFS(MappingConformance):
    @pytest.fixture
    def backend(self, seaweedfs: SeaweedFS) -> Backend:
        return _backend("SeaweedFS", seaweedfs, frozenset({MERGES_SLASHES, REJECTS_DOT_SEGMENTS}))


class TestMoto(MappingConformance):
    @pytest.fixture
    def backend(self, moto: Moto) -> Backend:
        return _backend("moto_server", moto)


@pytest.fixture
def bucket(seaweedfs: SeaweedFS) -> type[ObjectMapping]:
    return factory(f"s3-{next(_numbers)}", create=True, **_options(seaweedfs))


def test_slice_sends_one_exact_range_request(seaweedfs: SeaweedFS) -> None:
    with FaultProxy(seaweedfs.endpoint_url) as proxy:
        d = factory(f"s3-{next(_numbers)}", create=True, **_options(seaweedfs, proxy.url))()
        payload = os.urandom(256 * 1024)
        d["k"] = payload
        proxy.reset_stats()
        value = d["k"]
        assert proxy.stats.requests == 1  # the lookup: metadata and the first bytes
        assert proxy.stats.bytes_sent <= 64 * 1024
        proxy.reset_stats()
        assert value[100_000:104_096] == payload[100_000:104_096]
        assert value[-100:] == payload[-100:]
        assert value[5:5] == b""
        assert value[10:20] == payload[10:20]  # inside the bytes the lookup fetched
        records = proxy.stats.records
        assert [record.method for record in records] == ["GET", "GET"]
        assert proxy.stats.bytes_sent == 4096 + 100


def test_copy_stays_on_server(seaweedfs: SeaweedFS) -> None:
    with FaultProxy(seaweedfs.endpoint_url) as proxy:
        options = _options(seaweedfs, proxy.url)
        source = factory(f"s3-{next(_numbers)}", create=True, **options)()
        target = factory(f"s3-{next(_numbers)}", create=True, **options)()
        payload = os.urandom(3 * 1024 * 1024)
        source["big.bin"] = payload
        value = source["big.bin"]
        proxy.reset_stats()
        target["copy.bin"] = value
        assert proxy.stats.bytes_sent < 10_000
        assert proxy.stats.bytes_received < 10_000
        assert target["copy.bin"] == payload


def test_multipart_copy_above_threshold(seaweedfs: SeaweedFS) -> None:
    options = _options(seaweedfs)
    source = factory(f"s3-{next(_numbers)}", create=True, **options)()
    target = factory(
        f"s3-{next(_numbers)}", create=True, copy_threshold=5 * 1024 * 1024, **options
    )()
    payload = os.urandom(12 * 1024 * 1024)
    source.put("big.bin", payload, metadata={"kind": "test"})
    target["copy.bin"] = source["big.bin"]
    copied = target["copy.bin"]
    assert copied.etag.endswith("-3")  # three parts of at least 5 MiB
    assert copied == payload
    assert copied.metadata == {"kind": "test"}


def test_multipart_upload_of_file(seaweedfs: SeaweedFS) -> None:
    options = _options(seaweedfs)
    d = factory(
        f"s3-{next(_numbers)}",
        create=True,
        multipart_threshold=5 * 1024 * 1024,
        multipart_chunksize=5 * 1024 * 1024,
        **options,
    )()
    payload = os.urandom(11 * 1024 * 1024)
    d["upload.bin"] = io.BytesIO(payload)
    assert d["upload.bin"].etag.endswith("-3")
    assert d["upload.bin"] == payload


def test_retry_hides_a_short_outage(seaweedfs: SeaweedFS) -> None:
    with FaultProxy(seaweedfs.endpoint_url) as proxy:
        d = factory(f"s3-{next(_numbers)}", create=True, **_options(seaweedfs, proxy.url))()
        d["k"] = "v"
        proxy.fail_next(2, status=503)
        assert bytes(d["k"]) == b"v"
        proxy.drop_next(1)
        assert "k" in d
        proxy.fail_next(100, status=500)
        with pytest.raises(TransientError, match="500"):
            len(d)
        proxy.clear_faults()


def test_endpoint_from_environment(seaweedfs: SeaweedFS, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", seaweedfs.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", seaweedfs.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", seaweedfs.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", seaweedfs.region)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    name = f"s3-{next(_numbers)}"
    factory(name, create=True)(k="from env")
    assert bytes(from_url(f"s3://{name}")["k"]) == b"from env"
    assert S3Store(name).endpoint_url == seaweedfs.endpoint_url


def test_profile_from_config_files(
    seaweedfs: SeaweedFS, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[local]\n"
        f"aws_access_key_id = {seaweedfs.access_key}\n"
        f"aws_secret_access_key = {seaweedfs.secret_key}\n"
    )
    config = tmp_path / "config"
    config.write_text(
        f"[profile local]\nregion = us-east-1\nendpoint_url = {seaweedfs.endpoint_url}\n"
    )
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_PROFILE", "local")
    name = f"s3-{next(_numbers)}"
    factory(name, create=True)(k="from profile")
    assert bytes(factory(name)()["k"]) == b"from profile"


def test_wrong_credentials_raise_permission_error(seaweedfs: SeaweedFS) -> None:
    options = _options(seaweedfs) | {"aws_secret_access_key": "wrong"}
    name = f"s3-{next(_numbers)}"
    factory(name, create=True, **_options(seaweedfs))(k="v")
    d = factory(name, **options)()
    with pytest.raises(PermissionError):
        d["k"]
    with pytest.raises(PermissionError):
        list(d)


@pytest.mark.parametrize("name", ["UPPER", "a", "under_score", "-leading", "x" * 64])
def test_invalid_bucket_names(name: str) -> None:
    with pytest.raises(ValueError, match="bucket name"):
        factory(name)


def test_product_example_runs(seaweedfs: SeaweedFS, monkeypatch: pytest.MonkeyPatch) -> None:
    # The example from the README, with the endpoint and keys from the environment.
    monkeypatch.setenv("AWS_ENDPOINT_URL", seaweedfs.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", seaweedfs.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", seaweedfs.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", seaweedfs.region)
    name = f"s3-{next(_numbers)}"
    S3Store(name).create_bucket()

    Bucket = factory(name)
    d = Bucket(a="1", b="2")
    e = Bucket(c="3")
    assert "c" in d
    assert "q" not in d
    d["d"] = "foobar"
    assert bytes(e["d"]) == b"foobar"
    del d["d"]
    assert [(key, bytes(value)) for key, value in d.items()] == [
        ("a", b"1"),
        ("b", b"2"),
        ("c", b"3"),
    ]
    assert d["a"] == "1"


def test_missing_bucket_is_not_a_missing_key(seaweedfs: SeaweedFS) -> None:
    d = factory(f"s3-missing-{next(_numbers)}", **_options(seaweedfs))()
    with pytest.raises(BucketNotFoundError, match="create=True"):
        d["k"]
    with pytest.raises(BucketNotFoundError):
        "k" in d  # noqa: B015


def test_clear_deletes_keys_with_control_characters(moto: Moto) -> None:
    d = factory(f"s3-{next(_numbers)}", create=True, **_options(moto))()
    d.update({"plain": "1", "bell\x07key": "2", "tab\tkey": "3"})
    d.clear()
    assert list(d) == []


def test_cross_vendor_copy_memory_is_bounded(seaweedfs: SeaweedFS, tmp_path: Any) -> None:
    # A 256 MiB copy from a local folder to S3 streams through the client; a fresh
    # process measures its peak resident memory (VmHWM) before and after.
    import json
    import subprocess
    import sys
    from pathlib import Path

    size, limit = 256 * 1024 * 1024, 64 * 1024 * 1024
    with open(tmp_path / "big.bin", "wb") as handle:
        for _ in range(size // (4 * 1024 * 1024)):
            handle.write(os.urandom(4 * 1024 * 1024))
    options = _options(seaweedfs)
    bucket = f"s3-{next(_numbers)}"
    script = f"""
import json, sys
sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})
from cloudyfiles.local import factory as local_factory
from cloudyfiles.s3 import factory as s3_factory

def peak():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024

source = local_factory({str(tmp_path)!r})()
target = s3_factory({bucket!r}, create=True, **{options!r})()
target["warm-up"] = source["big.bin"][:1024]
before = peak()
target["big.bin"] = source["big.bin"]
print(json.dumps({{"growth": peak() - before, "size": target["big.bin"].size}}))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True
    )
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    assert measured["size"] == size
    assert measured["growth"] < limit, measured
