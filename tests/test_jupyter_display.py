"""Listing and preview reprs: what they show, what they escape, and what they fetch.

Request and byte counts come from a memory store that counts the calls it serves, and,
for S3, from the fault proxy in front of a SeaweedFS server on 127.0.0.1.
"""

from __future__ import annotations

import io
import json
import os
import uuid
from collections import Counter
from pathlib import Path

import pytest

from cloudyfiles import from_url
from cloudyfiles._display import build_preview, config, mapping_bundle, object_bundle
from cloudyfiles._mapping import make_factory
from cloudyfiles.local import LocalStore
from cloudyfiles.memory import MemoryStore, discard

HOSTILE = "<img src=x onerror=alert(1)>"
MPL_SAMPLES = None


class CountingMemoryStore(MemoryStore):
    """A memory store that counts the requests it serves and the bytes it returns."""

    def __init__(self, bucket: str, **options) -> None:
        super().__init__(bucket, **options)
        self.calls: Counter[str] = Counter()
        self.bytes_returned = 0

    def list_page(self, prefix, **kwargs):
        self.calls["list"] += 1
        return super().list_page(prefix, **kwargs)

    def head(self, key):
        self.calls["head"] += 1
        return super().head(key)

    def get_range(self, info, start, stop):
        self.calls["get_range"] += 1
        data = super().get_range(info, start, stop)
        self.bytes_returned += len(data)
        return data

    def open_stream(self, info, start):
        self.calls["open_stream"] += 1
        return super().open_stream(info, start)


class CountingLocalStore(LocalStore):
    """A local folder store that counts range reads and the bytes they return."""

    def __init__(self, bucket: str, **options) -> None:
        super().__init__(bucket, **options)
        self.calls: Counter[str] = Counter()
        self.bytes_returned = 0

    def get_range(self, info, start, stop):
        self.calls["get_range"] += 1
        data = super().get_range(info, start, stop)
        self.bytes_returned += len(data)
        return data

    def open_stream(self, info, start):
        self.calls["open_stream"] += 1
        return super().open_stream(info, start)


@pytest.fixture
def counting():
    name = f"display-{uuid.uuid4().hex}"
    store = CountingMemoryStore(name)
    yield make_factory(store)(), store
    discard(name)


@pytest.fixture(autouse=True)
def default_config():
    config.reset()
    yield
    config.reset()


def sample_path(name: str) -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "sample_data" / name


# Listings


def test_listing_folders_first_with_columns(counting):
    mapping, _ = counting
    mapping["b.csv"] = "x\n"
    mapping["a/inner.txt"] = "1"
    mapping["z/deeper/x.txt"] = "2"

    bundle = mapping_bundle(mapping)
    text = bundle["text/plain"]
    lines = text.splitlines()

    assert lines[0].endswith("2 folders and 1 object")
    assert lines[2].startswith("a/")
    assert lines[3].startswith("z/")
    assert lines[4].startswith("b.csv")
    assert "text/csv" in lines[4]
    assert "2 B" in lines[4]
    assert "UTC" in lines[4]
    assert "<th" in bundle["text/html"]
    assert "More entries" not in text


def test_listing_of_20000_keys_sends_one_request(counting):
    mapping, store = counting
    for number in range(20_000):
        store.put_bytes(f"k{number:05d}", b"x", content_type="text/plain", metadata={})
    store.calls.clear()

    bundle = mapping_bundle(mapping)

    assert store.calls == Counter({"list": 1})
    assert f"{config.page_size} objects on this page" in bundle["text/plain"]
    assert "More entries exist" in bundle["text/plain"]
    assert "20,000" not in bundle["text/plain"]
    assert bundle["text/html"].count("<tr>") == config.page_size + 1  # with the header row


def test_listing_escapes_keys(counting):
    mapping, _ = counting
    mapping[HOSTILE] = "value"
    mapping[f"{HOSTILE}/inside"] = "value"

    bundle = mapping_bundle(mapping)

    assert "<img" not in bundle["text/html"]
    assert "&lt;img src=x onerror=alert(1)&gt;" in bundle["text/html"]
    assert HOSTILE in bundle["text/plain"]


def test_repr_hook_uses_display(counting):
    mapping, store = counting
    mapping["a"] = "1"
    store.calls.clear()

    bundle = mapping._repr_mimebundle_()

    assert store.calls == Counter({"list": 1})
    assert "cloudyfiles-mapping" in bundle["text/html"]


# Previews: one range, the right kind


def preview_of(counting, key: str, data: bytes, **put_options):
    mapping, store = counting
    mapping.put(key, data, **put_options)
    obj = mapping[key]
    store.calls.clear()
    store.bytes_returned = 0
    return object_bundle(obj), store


def test_text_preview_marks_cut(counting):
    data = b"".join(b"line %06d\n" % number for number in range(100_000))

    bundle, store = preview_of(counting, "big.txt", data)

    assert store.calls == Counter({"get_range": 1})
    assert store.bytes_returned == config.preview_bytes
    assert "line 000000" in bundle["text/plain"]
    assert "… cut" in bundle["text/plain"]
    assert "cloudyfiles-cut" in bundle["text/html"]
    assert "line 099999" not in bundle["text/plain"]


def test_small_text_preview_is_whole(counting):
    bundle, store = preview_of(counting, "notes.txt", "héllo\nwörld\n".encode())

    assert store.bytes_returned == len("héllo\nwörld\n".encode())
    assert "wörld" in bundle["text/plain"]
    assert "cut" not in bundle["text/plain"]


def test_csv_preview_is_table(counting):
    rows = ["id,name,score"] + [f"{n},name{n},{n * 1.5}" for n in range(10_000)]
    data = "\n".join(rows).encode()

    bundle, store = preview_of(counting, "scores.csv", data)
    html = bundle["text/html"]

    assert store.calls == Counter({"get_range": 1})
    assert "cloudyfiles-csv" in html
    assert "<th" in html
    assert ">score</th>" in html
    assert html.count("<tr>") == config.preview_rows + 1
    assert "first 20 rows" in bundle["text/plain"]


def test_tsv_preview_splits_tabs(counting):
    bundle, _ = preview_of(counting, "table.tsv", b"a\tb\n1\t2\n")

    assert ">a</th>" in bundle["text/html"]
    assert ">2</td>" in bundle["text/html"]


def test_json_whole_document_pretty_printed(counting):
    bundle, _ = preview_of(counting, "doc.json", b'{"b": [1, 2], "a": "x"}')

    assert '"b": [\n    1,' in bundle["text/plain"]
    assert "cut" not in bundle["text/plain"]


def test_json_cut_document_shows_parsed_part(counting):
    records = [{"id": n, "name": f"item {n}", "tags": ["a", "b"]} for n in range(5_000)]
    data = json.dumps(records).encode()
    config.preview_bytes = 1000

    bundle, store = preview_of(counting, "records.json", data)
    text = bundle["text/plain"]

    assert store.bytes_returned == 1000
    assert '"name": "item 0"' in text
    assert "…" in text
    assert "document continues" in text
    assert '"name": "item 4999"' not in text


def test_json_invalid_shown_as_text(counting):
    bundle, _ = preview_of(counting, "broken.json", b'{"a": nope}')

    assert "not valid JSON" in bundle["text/plain"]
    assert "nope" in bundle["text/plain"]


def test_image_inline_when_in_range(counting):
    data = sample_path("logo2.png").read_bytes()

    bundle, store = preview_of(counting, "logo.png", data)

    assert store.calls == Counter({"get_range": 1})
    assert 'src="data:image/png;base64,' in bundle["text/html"]
    assert "PNG image, 542 × 130 pixels" in bundle["text/plain"]


def test_image_header_only_when_larger(counting):
    data = sample_path("grace_hopper.jpg").read_bytes()
    config.preview_bytes = 4096

    bundle, store = preview_of(counting, "photo.jpg", data)

    assert store.bytes_returned == 4096
    assert "<img" not in bundle["text/html"]
    assert "JPEG image, 512 × 600 pixels" in bundle["text/plain"]
    assert "only its header was read" in bundle["text/plain"]


def test_binary_preview_is_hexdump(counting):
    data = sample_path("s1045.ima.gz").read_bytes()

    bundle, _ = preview_of(counting, "scan.ima.gz", data)

    assert "gzip data" in bundle["text/plain"]
    assert "00000000  1f 8b" in bundle["text/plain"]
    assert "cloudyfiles-hexdump" in bundle["text/html"]


def test_empty_object_sends_no_range(counting):
    bundle, store = preview_of(counting, "empty.bin", b"")

    assert store.calls == Counter()
    assert "(empty object)" in bundle["text/plain"]


def test_metadata_line_above_preview(counting):
    bundle, _ = preview_of(counting, "m.txt", b"x", metadata={"owner": "ana"})

    meta = bundle["text/plain"].splitlines()[0]
    assert meta.startswith("memory://")
    assert "owner=ana" in meta
    assert "text/plain" in meta
    assert bundle["text/html"].index("cloudyfiles-meta") < bundle["text/html"].index("<pre")


@pytest.mark.parametrize(
    "key",
    ["hostile.txt", "hostile.csv", "hostile.json", "hostile.bin"],
)
def test_previews_escape_values_and_metadata(counting, key):
    value = f'"{HOSTILE}",{HOSTILE}\n{HOSTILE},"</pre><script>alert(2)</script>"\n'
    if key.endswith(".json"):
        value = json.dumps({HOSTILE: [HOSTILE, "</pre><script>alert(2)</script>"]})
    if key.endswith(".bin"):
        value = "\x00\x01" + HOSTILE

    bundle, _ = preview_of(counting, key, value.encode(), metadata={"note": HOSTILE})
    html = bundle["text/html"]

    assert "<img" not in html
    assert "<script" not in html
    assert "&lt;img" in html


def test_hostile_key_and_content_type_escaped(counting):
    bundle, _ = preview_of(
        counting, HOSTILE, b"x", content_type='text/plain"><img src=x onerror=alert(1)>'
    )

    assert "<img" not in bundle["text/html"]


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="preview_bytes"):
        config.update(preview_bytes=0)
    with pytest.raises(ValueError, match="unknown display setting"):
        config.update(preview_byte=10)
    with pytest.raises(ValueError, match="at most"):
        config.update(preview_bytes=1 << 30)

    config.update(preview_bytes="128_000")

    assert config.preview_bytes == 128_000


def test_build_preview_keeps_split_character_out():
    head = "é".encode() * 10
    preview = build_preview("a.txt", "text/plain", 100, head[:-1])

    assert "\ufffd" not in preview.text
    assert preview.text.startswith("é" * 9)


# Large objects: byte counts


def test_preview_of_100_mb_memory_object_reads_range(counting):
    mapping, store = counting
    store.put_bytes(
        "big.bin", bytes(100 << 20), content_type="application/octet-stream", metadata={}
    )
    obj = mapping["big.bin"]
    store.calls.clear()

    object_bundle(obj)

    assert store.calls == Counter({"get_range": 1})
    assert store.bytes_returned == config.preview_bytes


def test_preview_of_100_mb_local_file_reads_range(tmp_path):
    store = CountingLocalStore(str(tmp_path))
    with open(tmp_path / "big.log", "wb") as handle:
        handle.truncate(100 << 20)  # sparse: 100 MB without writing it
    obj = make_factory(store)()["big.log"]

    object_bundle(obj)

    assert store.calls == Counter({"get_range": 1})
    assert store.bytes_returned == config.preview_bytes


@pytest.fixture(scope="module")
def s3_server():
    from tests.servers import SeaweedFS

    with SeaweedFS() as server:
        yield server


@pytest.fixture
def s3_proxy(s3_server):
    from tests.faultproxy import FaultProxy

    with FaultProxy(s3_server.endpoint_url) as proxy:
        yield proxy


def s3_mapping(server, proxy, bucket: str):
    from cloudyfiles.s3 import factory

    return factory(
        bucket,
        endpoint_url=proxy.url,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name=server.region,
        create=True,
    )()


def test_s3_preview_of_100_mb_transfers_range(s3_server, s3_proxy):
    mapping = s3_mapping(s3_server, s3_proxy, f"big-{uuid.uuid4().hex[:8]}")
    mapping["big.log"] = io.BytesIO(os.urandom(1 << 20) * 100)
    s3_proxy.reset_stats()

    # The lookup's ranged GET brings the metadata and the first 64 KiB, which the
    # preview reuses: one request in all, for the lookup and the display.
    object_bundle(mapping["big.log"])
    stats = s3_proxy.stats

    assert [record.method for record in stats.records] == ["GET"]
    assert stats.bytes_sent == config.preview_bytes

    listed = next(iter(mapping.values()))  # from a listing: no bytes in hand
    s3_proxy.reset_stats()
    object_bundle(listed)
    assert [record.method for record in s3_proxy.stats.records] == ["HEAD", "GET"]
    assert s3_proxy.stats.bytes_sent == config.preview_bytes


@pytest.mark.slow  # uploading 20,000 keys takes about 45 s on 2 cores
def test_s3_listing_of_20000_keys_sends_one_request(s3_server, s3_proxy):
    from concurrent.futures import ThreadPoolExecutor

    mapping = s3_mapping(s3_server, s3_proxy, f"many-{uuid.uuid4().hex[:8]}")
    client = mapping.store.client
    bucket = mapping.store.bucket

    def put(number: int) -> None:
        client.put_object(Bucket=bucket, Key=f"k{number:05d}", Body=b"x")

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, range(20_000)))
    s3_proxy.reset_stats()

    bundle = mapping_bundle(mapping)
    stats = s3_proxy.stats

    assert stats.requests == 1
    assert stats.records[0].method == "GET"
    assert "list-type=2" in stats.records[0].path
    assert "More entries exist" in bundle["text/plain"]
    print(f"one listing display: {stats.requests} request, {stats.bytes_sent} bytes")


def test_from_url_memory_display_round_trip():
    mapping = from_url(f"memory://display-{uuid.uuid4().hex}")
    mapping["x.txt"] = "hello"

    assert "x.txt" in mapping._repr_mimebundle_()["text/plain"]
    assert "hello" in mapping["x.txt"]._repr_mimebundle_()["text/plain"]
