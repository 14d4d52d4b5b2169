"""The server, the data and the clients that every workload shares."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
from dataclasses import dataclass
from typing import Any

BUCKET = "bench"
ACCESS_KEY_ENV = "CLOUDYFILES_BENCH_ACCESS_KEY"
SECRET_KEY_ENV = "CLOUDYFILES_BENCH_SECRET_KEY"
KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True)
class Sizes:
    """How much data each workload moves; ``--quick`` shrinks every figure."""

    small_count: int = 500
    """Sequential 1 KiB GETs and PUTs."""
    bulk_count: int = 1000
    """Values of the bulk GETs and PUTs."""
    slice_count: int = 200
    """Random 4 KiB slices."""
    big: int = 256 * MIB
    """Object read and written whole, and sliced."""
    text: int = 100 * 1000 * 1000
    """Text object iterated by lines, and previewed."""
    stream: int = 1024 * MIB
    """Object streamed by lines in a fresh process for the peak RSS."""
    listings: tuple[int, ...] = (10_000, 100_000)
    """Key counts of the listings."""
    copy: int = 64 * MIB
    """Object copied on the server."""


FULL = Sizes()
QUICK = Sizes(
    small_count=20,
    bulk_count=50,
    slice_count=20,
    big=4 * MIB,
    text=2 * 1000 * 1000,
    stream=8 * MIB,
    listings=(300, 1200),
    copy=1 * MIB,
)


@dataclass
class Clients:
    """One client of each contender, all on the same bucket."""

    endpoint: str
    access_key: str
    secret_key: str
    boto3: Any
    obstore: Any
    s3fs: Any

    def credentials(self) -> dict[str, str]:
        return {
            "aws_access_key_id": self.access_key,
            "aws_secret_access_key": self.secret_key,
            "region_name": "us-east-1",
        }

    def cloudyfiles(self, prefix: str = "", endpoint: str | None = None, **options: Any) -> Any:
        """Return a cloudyfiles mapping on the bucket, optionally through another endpoint."""
        from cloudyfiles.s3 import factory

        return factory(
            BUCKET, prefix, endpoint_url=endpoint or self.endpoint, **self.credentials(), **options
        )()

    def fsmap(self, prefix: str) -> Any:
        """Return fsspec's FSMap over ``bucket/prefix`` through s3fs."""
        return self.s3fs.get_mapper(f"{BUCKET}/{prefix}")


def make_clients(endpoint: str, access_key: str, secret_key: str) -> Clients:
    """Build boto3, obstore and s3fs clients with explicit endpoint and credentials."""
    import boto3
    import botocore.config
    import s3fs
    from obstore.store import S3Store

    config = botocore.config.Config(max_pool_connections=32, s3={"addressing_style": "path"})
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name="us-east-1",
        config=config,
    )
    store = S3Store(
        BUCKET,
        endpoint=endpoint,
        access_key_id=access_key,
        secret_access_key=secret_key,
        region="us-east-1",
        virtual_hosted_style_request=False,
        client_options={"allow_http": True},
    )
    fs = s3fs.S3FileSystem(
        key=access_key,
        secret=secret_key,
        endpoint_url=endpoint,
        client_kwargs={"region_name": "us-east-1"},
        use_listings_cache=False,
        skip_instance_cache=True,
    )
    return Clients(endpoint, access_key, secret_key, client, store, fs)


def text_block(size: int = MIB) -> bytes:
    """Return about ``size`` bytes of numbered text lines of 40 to 120 bytes."""
    lines = []
    total = 0
    number = 0
    while total < size:
        line = f"{number:09d} " + "x" * (30 + number * 37 % 80) + "\n"
        lines.append(line.encode())
        total += len(line)
        number += 1
    return b"".join(lines)


class RepeatedReader:
    """A file-like object that yields ``block`` repeated up to ``size`` bytes."""

    def __init__(self, block: bytes, size: int) -> None:
        self._block = block
        self._left = size

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        count = self._left if size < 0 else min(size, self._left)
        parts = []
        while sum(map(len, parts)) < count:
            parts.append(self._block)
        data = b"".join(parts)[:count]
        self._left -= len(data)
        return data


def put_keys_fast(clients: Clients, keys: list[str], value: bytes) -> None:
    """Create many small objects with obstore's async puts, 64 at a time."""
    import obstore

    async def run() -> None:
        limit = asyncio.Semaphore(64)

        async def put(key: str) -> None:
            async with limit:
                await obstore.put_async(clients.obstore, key, value)

        await asyncio.gather(*(put(key) for key in keys))

    asyncio.run(run())


def threads(function: Any, items: list[Any], workers: int = 32) -> list[Any]:
    """Map ``function`` over ``items`` on a thread pool, as a boto3 user would."""
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        return list(pool.map(function, items))


def exists(clients: Clients, key: str) -> bool:
    """Return whether ``key`` is stored, so set-ups that take minutes run once."""
    try:
        clients.boto3.head_object(Bucket=BUCKET, Key=key)
    except clients.boto3.exceptions.ClientError:
        return False
    return True


def environment_for_subprocess(clients: Clients) -> dict[str, str]:
    env = dict(os.environ)
    env[ACCESS_KEY_ENV] = clients.access_key
    env[SECRET_KEY_ENV] = clients.secret_key
    return env
