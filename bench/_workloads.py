"""The workloads: each runs every contender on the same data and returns a Result."""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench._setup import (
    BUCKET,
    KIB,
    MIB,
    Clients,
    RepeatedReader,
    Sizes,
    environment_for_subprocess,
    exists,
    put_keys_fast,
    text_block,
    threads,
)

PEERS = ("boto3", "s3fs", "obstore")


@dataclass
class Result:
    """Figures of every contender on one workload."""

    name: str
    description: str
    unit: str
    higher_is_better: bool = True
    figures: dict[str, float] = field(default_factory=dict)
    """Contender name to figure, in ``unit``."""
    peers: tuple[str, ...] = PEERS
    """Contenders that count for the ratio; others are shown for reference."""
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def ratio(self) -> tuple[float, str] | None:
        """Return cloudyfiles' figure over the best peer's (or inverse), and that peer."""
        ours = self.figures.get("cloudyfiles")
        peers = {name: value for name, value in self.figures.items() if name in self.peers}
        if ours is None or not peers:
            return None
        if self.higher_is_better:
            best = max(peers, key=peers.__getitem__)
            return ours / peers[best], best
        best = min(peers, key=peers.__getitem__)
        if not peers[best]:
            return None  # a ratio to zero says nothing; the notes give the target
        return (peers[best] / ours if ours else float("inf")), best


ROUNDS = 3
"""Timed passes per contender; the best one counts, so a cold first pass does not."""


def _rate(count: int, run: Callable[[], Any]) -> float:
    started = time.perf_counter()
    run()
    return count / (time.perf_counter() - started)


def _best_rates(count: int, contenders: dict[str, Callable[[], Any]]) -> dict[str, float]:
    """Return each contender's best rate over ROUNDS passes, in rotating order.

    Rotating the order means no contender always runs first, on a cold cache.
    """
    names = list(contenders)
    best = dict.fromkeys(names, 0.0)
    for round_number in range(ROUNDS):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            best[name] = max(best[name], _rate(count, contenders[name]))
    return best


def _obstore():
    import obstore

    return obstore


# Small objects, one at a time


def small_get(clients: Clients, sizes: Sizes) -> Result:
    keys = [f"small/{index:05d}" for index in range(sizes.small_count)]
    put_keys_fast(clients, keys, os.urandom(KIB))
    d, fsmap, ob = clients.cloudyfiles("small"), clients.fsmap("small"), _obstore()
    names = [key.split("/")[1] for key in keys]
    contenders = {
        "cloudyfiles": lambda: [bytes(d[name]) for name in names],
        "boto3": lambda: [
            clients.boto3.get_object(Bucket=BUCKET, Key=key)["Body"].read() for key in keys
        ],
        "s3fs": lambda: [fsmap[name] for name in names],
        "obstore": lambda: [bytes(ob.get(clients.obstore, key).bytes()) for key in keys],
    }
    result = Result("small-get", f"{len(keys)} sequential GETs of 1 KiB", "GET/s")
    for name, rate in _best_rates(len(keys), contenders).items():
        result.figures[name] = rate
    return result


def small_put(clients: Clients, sizes: Sizes) -> Result:
    value = os.urandom(KIB)
    names = [f"{index:05d}" for index in range(sizes.small_count)]
    d, fsmap, ob = clients.cloudyfiles("small-put"), clients.fsmap("small-put"), _obstore()

    def put_boto3() -> None:
        for name in names:
            clients.boto3.put_object(Bucket=BUCKET, Key=f"small-put/{name}", Body=value)

    def put_cloudyfiles() -> None:
        for name in names:
            d[name] = value

    def put_fsmap() -> None:
        for name in names:
            fsmap[name] = value

    def put_obstore() -> None:
        for name in names:
            ob.put(clients.obstore, f"small-put/{name}", value)

    contenders = {
        "cloudyfiles": put_cloudyfiles,
        "boto3": put_boto3,
        "s3fs": put_fsmap,
        "obstore": put_obstore,
    }
    result = Result("small-put", f"{len(names)} sequential PUTs of 1 KiB", "PUT/s")
    for name, rate in _best_rates(len(names), contenders).items():
        result.figures[name] = rate
    return result


# Bulk


def bulk_get(clients: Clients, sizes: Sizes) -> Result:
    keys = [f"bulk/{index:05d}" for index in range(sizes.bulk_count)]
    put_keys_fast(clients, keys, os.urandom(KIB))
    names = [key.split("/")[1] for key in keys]
    d, fsmap, ob = clients.cloudyfiles("bulk"), clients.fsmap("bulk"), _obstore()

    def get_boto3(key: str) -> bytes:
        return clients.boto3.get_object(Bucket=BUCKET, Key=key)["Body"].read()

    async def gather_obstore() -> list[Any]:
        return await asyncio.gather(*(ob.get_async(clients.obstore, key) for key in keys))

    def get_obstore() -> None:
        for response in asyncio.run(gather_obstore()):
            bytes(response.bytes())

    contenders = {
        "cloudyfiles": lambda: d.get_many(names),
        "boto3": lambda: threads(get_boto3, keys),
        "s3fs": lambda: fsmap.getitems(names),
        "obstore": get_obstore,
    }
    result = Result(
        "bulk-get",
        f"{len(keys)} GETs of 1 KiB: get_many, boto3 on 32 threads, FSMap.getitems, "
        "obstore asyncio",
        "GET/s",
    )
    for name, rate in _best_rates(len(keys), contenders).items():
        result.figures[name] = rate
    return result


def bulk_put(clients: Clients, sizes: Sizes) -> Result:
    value = os.urandom(KIB)
    names = [f"{index:05d}" for index in range(sizes.bulk_count)]
    d, fsmap, ob = clients.cloudyfiles("bulk-put"), clients.fsmap("bulk-put"), _obstore()

    def put_boto3(name: str) -> None:
        clients.boto3.put_object(Bucket=BUCKET, Key=f"bulk-put/{name}", Body=value)

    async def gather_obstore() -> None:
        await asyncio.gather(
            *(ob.put_async(clients.obstore, f"bulk-put/{name}", value) for name in names)
        )

    contenders = {
        "cloudyfiles": lambda: d.put_many((name, value) for name in names),
        "boto3": lambda: threads(put_boto3, names),
        "s3fs": lambda: fsmap.setitems({name: value for name in names}),
        "obstore": lambda: asyncio.run(gather_obstore()),
    }
    result = Result(
        "bulk-put",
        f"{len(names)} PUTs of 1 KiB: put_many, boto3 on 32 threads, FSMap.setitems, "
        "obstore asyncio",
        "PUT/s",
    )
    for name, rate in _best_rates(len(names), contenders).items():
        result.figures[name] = rate
    return result


# One large object


def _put_big(clients: Clients, key: str, size: int) -> None:
    if not exists(clients, key):
        clients.cloudyfiles().put(key, RepeatedReader(os.urandom(MIB), size))


def slices(clients: Clients, sizes: Sizes) -> Result:
    from tests.faultproxy import FaultProxy

    key = f"big-{sizes.big}.bin"
    _put_big(clients, key, sizes.big)
    rng = random.Random(4096)
    starts = [rng.randrange(0, sizes.big - 4096) for _ in range(sizes.slice_count)]
    value = clients.cloudyfiles()[key]
    ob = _obstore()
    contenders = {
        "cloudyfiles": lambda: [value[start : start + 4096] for start in starts],
        "boto3": lambda: [
            clients.boto3.get_object(Bucket=BUCKET, Key=key, Range=f"bytes={start}-{start + 4095}")[
                "Body"
            ].read()
            for start in starts
        ],
        "s3fs": lambda: [
            clients.s3fs.cat_file(f"{BUCKET}/{key}", start=start, end=start + 4096)
            for start in starts
        ],
        "obstore": lambda: [
            bytes(ob.get_range(clients.obstore, key, start=start, end=start + 4096))
            for start in starts
        ],
    }
    result = Result(
        "slices", f"{len(starts)} random 4 KiB slices of a {sizes.big // MIB} MiB object", "slice/s"
    )
    for name, rate in _best_rates(len(starts), contenders).items():
        result.figures[name] = rate

    with FaultProxy(clients.endpoint) as proxy:
        counted = clients.cloudyfiles(endpoint=proxy.url)[key]
        proxy.reset_stats()
        for start in starts:
            counted[start : start + 4096]
        stats = proxy.stats
        result.notes.append(
            f"cloudyfiles through tests.faultproxy: {stats.requests / len(starts):.2f} "
            f"requests and {stats.bytes_sent / len(starts):.0f} body bytes per slice"
        )
    return result


def whole_read(clients: Clients, sizes: Sizes) -> Result:
    key = f"big-{sizes.big}.bin"
    _put_big(clients, key, sizes.big)
    d, ob = clients.cloudyfiles(), _obstore()
    megabytes = sizes.big / 1e6
    contenders = {
        "cloudyfiles": lambda: bytes(d[key]),
        "boto3": lambda: clients.boto3.get_object(Bucket=BUCKET, Key=key)["Body"].read(),
        "s3fs": lambda: clients.fsmap("")[key],
        "obstore": lambda: bytes(ob.get(clients.obstore, key).bytes()),
    }
    result = Result("whole-read", f"one {sizes.big // MIB} MiB object read whole", "MB/s")
    for name, rate in _best_rates(1, contenders).items():
        result.figures[name] = rate * megabytes
    return result


def whole_write(clients: Clients, sizes: Sizes) -> Result:
    data = os.urandom(sizes.big)
    d, ob = clients.cloudyfiles("write"), _obstore()
    megabytes = sizes.big / 1e6

    def put_cloudyfiles() -> None:
        d["w.bin"] = data

    def put_fsmap() -> None:
        clients.fsmap("write")["s.bin"] = data

    contenders = {
        "cloudyfiles": put_cloudyfiles,
        "boto3": lambda: clients.boto3.put_object(Bucket=BUCKET, Key="write/b.bin", Body=data),
        "s3fs": put_fsmap,
        "obstore": lambda: ob.put(clients.obstore, "write/o.bin", data),
    }
    result = Result("whole-write", f"one {sizes.big // MIB} MiB object written whole", "MB/s")
    for name, rate in _best_rates(1, contenders).items():
        result.figures[name] = rate * megabytes
    return result


# Text


def _put_text(clients: Clients, key: str, size: int) -> None:
    if not exists(clients, key):
        clients.cloudyfiles().put(key, RepeatedReader(text_block(), size))


def lines(clients: Clients, sizes: Sizes) -> Result:
    key = f"text-{sizes.text}.txt"
    _put_text(clients, key, sizes.text)
    d = clients.cloudyfiles()
    megabytes = sizes.text / 1e6

    contenders = {
        "cloudyfiles": lambda: sum(1 for _ in d[key]),
        "boto3": lambda: sum(
            1 for _ in clients.boto3.get_object(Bucket=BUCKET, Key=key)["Body"].iter_lines()
        ),
    }
    result = Result(
        "lines",
        f"line iteration over a {sizes.text // 1_000_000} MB text object "
        "(peer: boto3 Body.iter_lines; s3fs's file readline took minutes, so it is left out)",
        "MB/s",
        peers=("boto3",),
    )
    for name, rate in _best_rates(1, contenders).items():
        result.figures[name] = rate * megabytes
    return result


# Listings


def _listing(index: int) -> Callable[[Clients, Sizes], Result]:
    def run(clients: Clients, sizes: Sizes) -> Result:
        count = sizes.listings[index]
        prefix = f"list-{count}/"
        marker = f"list-{count}.done"
        if not exists(clients, marker):
            keys = [f"{prefix}{index:07d}" for index in range(count)]
            put_keys_fast(clients, keys, b"x")
            clients.boto3.put_object(Bucket=BUCKET, Key=marker, Body=b"")
        d, ob = clients.cloudyfiles(prefix), _obstore()

        def list_boto3() -> int:
            paginator = clients.boto3.get_paginator("list_objects_v2")
            return sum(
                len(page.get("Contents", ()))
                for page in paginator.paginate(Bucket=BUCKET, Prefix=prefix)
            )

        def list_obstore() -> int:
            return sum(len(batch) for batch in ob.list(clients.obstore, prefix))

        contenders = {
            # Iterating, as a for loop does: list(d) would first call len(d), which
            # is a listing of its own.
            "cloudyfiles": lambda: sum(1 for _ in d),
            "boto3": list_boto3,
            "s3fs": lambda: len(clients.s3fs.find(f"{BUCKET}/{prefix}")),
            "obstore": list_obstore,
        }
        result = Result(
            f"list-{count}",
            f"listing {count:,} keys (peer: boto3's list_objects_v2 paginator)",
            "key/s",
            peers=("boto3",),
        )
        for name, function in contenders.items():
            listed = function()
            if listed != count:
                result.notes.append(f"{name} listed {listed} keys, expected {count}")
        for name, rate in _best_rates(count, contenders).items():
            result.figures[name] = rate
        return result

    return run


# Bytes through the client


def server_copy(clients: Clients, sizes: Sizes) -> Result:
    from tests.faultproxy import FaultProxy

    key = f"copy-{sizes.copy}.bin"
    _put_big(clients, key, sizes.copy)
    result = Result(
        "server-copy",
        f"copy of a {sizes.copy // MIB} MiB object within the bucket: payload bytes "
        "through the client (lower is better)",
        "bytes",
        higher_is_better=False,
        peers=("boto3",),
    )
    with FaultProxy(clients.endpoint) as proxy:
        d = clients.cloudyfiles(endpoint=proxy.url)
        value = d[key]
        proxy.reset_stats()
        d["copied/cloudyfiles.bin"] = value
        result.figures["cloudyfiles"] = proxy.stats.bytes_sent + proxy.stats.bytes_received

        import boto3

        through = boto3.client("s3", endpoint_url=proxy.url, **clients.credentials())
        proxy.reset_stats()
        through.copy_object(
            Bucket=BUCKET, Key="copied/boto3.bin", CopySource={"Bucket": BUCKET, "Key": key}
        )
        result.figures["boto3"] = proxy.stats.bytes_sent + proxy.stats.bytes_received
    result.notes.append("bytes = response plus request body bytes counted by tests.faultproxy")
    return result


def preview(clients: Clients, sizes: Sizes) -> Result:
    from cloudyfiles._display import object_bundle
    from tests.faultproxy import FaultProxy

    key = f"text-{sizes.text}.txt"
    _put_text(clients, key, sizes.text)
    result = Result(
        "preview",
        f"body bytes that the preview of a {sizes.text // 1_000_000} MB text object "
        "transfers (64 KiB first range; lower is better)",
        "bytes",
        higher_is_better=False,
        peers=("boto3",),
    )
    with FaultProxy(clients.endpoint) as proxy:
        d = clients.cloudyfiles(endpoint=proxy.url)
        proxy.reset_stats()
        object_bundle(d[key])
        result.figures["cloudyfiles"] = proxy.stats.bytes_sent
        requests = proxy.stats.requests

        import boto3

        through = boto3.client("s3", endpoint_url=proxy.url, **clients.credentials())
        proxy.reset_stats()
        through.head_object(Bucket=BUCKET, Key=key)
        through.get_object(Bucket=BUCKET, Key=key, Range=f"bytes=0-{64 * KIB - 1}")["Body"].read()
        result.figures["boto3"] = proxy.stats.bytes_sent
    result.notes.append(
        f"cloudyfiles sent {requests} request(s) for the lookup and the preview, which "
        "reuses the 64 KiB that the lookup fetched; boto3 is a HEAD and one 64 KiB ranged GET"
    )
    return result


def stream_memory(clients: Clients, sizes: Sizes) -> Result:
    key = f"stream-{sizes.stream}.txt"
    _put_text(clients, key, sizes.stream)
    result = Result(
        "stream-memory",
        f"peak RSS growth while streaming a {sizes.stream // MIB} MiB object by lines, "
        "in a fresh process (lower is better)",
        "MiB",
        higher_is_better=False,
        peers=("boto3",),
    )
    for client in ("cloudyfiles", "boto3"):
        completed = subprocess.run(
            [sys.executable, "-m", "bench._memory", client, clients.endpoint, BUCKET, key],
            capture_output=True,
            text=True,
            timeout=900,
            env=environment_for_subprocess(clients),
            check=True,
        )
        measured = json.loads(completed.stdout.strip().splitlines()[-1])
        result.figures[client] = measured["growth_kib"] / 1024
    result.notes.append(
        "growth = VmHWM after the read minus VmRSS after the lookup; target: under 64 MiB"
    )
    return result


WORKLOADS: dict[str, Callable[[Clients, Sizes], Result]] = {
    "small-get": small_get,
    "small-put": small_put,
    "bulk-get": bulk_get,
    "bulk-put": bulk_put,
    "slices": slices,
    "whole-read": whole_read,
    "whole-write": whole_write,
    "lines": lines,
    "list-10k": _listing(0),
    "list-100k": _listing(1),
    "server-copy": server_copy,
    "preview": preview,
    "stream-memory": stream_memory,
}
"""Workload name to function, in the order they run."""
