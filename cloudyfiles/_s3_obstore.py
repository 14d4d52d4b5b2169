"""The obstore transport of the S3 backend: the data path through Rust's object_store.

:class:`ObstoreTransport` serves ranged reads, streaming downloads, single-request
writes, existence checks and lookups of one :class:`~cloudyfiles.s3.S3Store`. boto3
still resolves credentials, region and endpoint, and serves listings, copies,
multipart uploads and keys that obstore would not send literally.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime
import importlib.util
import os
import re
import urllib.parse
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import botocore.credentials

from ._store import ObjectInfo
from .errors import (
    AccessDeniedError,
    BucketNotFoundError,
    CloudyError,
    KeyExistsError,
    KeyNotFoundError,
    MissingDependencyError,
    ObjectChangedError,
    RequestError,
    RequestTimeoutError,
    TransientError,
)
from .s3 import MIB, _quote, _real_version, _unquote

if TYPE_CHECKING:
    from .s3 import S3Store

__all__ = ["ObstoreTransport", "choose_transport"]

_TRANSPORTS = ("auto", "obstore", "boto3")
_OBSTORE_ATTRIBUTES = {
    "Content-Type",
    "Content-Disposition",
    "Content-Encoding",
    "Content-Language",
    "Cache-Control",
}
_STREAM_CHUNK = MIB
_STATUS = re.compile(r"status code: (\d{3})")


def choose_transport(requested: str) -> str:
    """Return ``"obstore"`` or ``"boto3"`` for the ``transport`` option."""
    if requested == "auto":
        requested = os.environ.get("CLOUDYFILES_S3_TRANSPORT", "auto") or "auto"
    if requested not in _TRANSPORTS:
        raise ValueError(f"invalid transport {requested!r}: use 'obstore', 'boto3' or 'auto'")
    if requested == "auto":
        return "obstore" if importlib.util.find_spec("obstore") is not None else "boto3"
    if requested == "obstore" and importlib.util.find_spec("obstore") is None:
        raise MissingDependencyError(
            "transport='obstore' needs obstore: pip install obstore, or pass transport='boto3'"
        )
    return requested


class ObstoreTransport:
    """The data path of one S3Store through obstore, configured from boto3's client.

    boto3 resolves credentials (environment, profiles, roles), region and endpoint;
    obstore receives them through a credential provider, so refreshed role
    credentials reach it too and obstore never looks for credentials on its own.
    """

    def __init__(self, owner: S3Store) -> None:
        import obstore
        import obstore.exceptions
        from obstore.store import S3Store as ObstoreS3Store

        self._obstore = obstore
        self._errors = obstore.exceptions
        self._owner = owner
        options = owner.options
        client = owner.client
        self._credentials = None if options.get("anonymous") else owner._session.get_credentials()
        attempts = int(options.get("max_attempts", 5))
        config: dict[str, Any] = {
            "region": client.meta.region_name or "us-east-1",
            "retry_config": {
                "max_retries": max(attempts - 1, 0),
                "retry_timeout": datetime.timedelta(seconds=120),
                "backoff": {
                    "init_backoff": datetime.timedelta(milliseconds=50),
                    "max_backoff": datetime.timedelta(seconds=5),
                    "base": 2,
                },
            },
            "client_options": {
                "connect_timeout": f"{options.get('connect_timeout', 10)}s",
                "read_timeout": f"{options.get('read_timeout', 60)}s",
                # obstore's default of 30 s for a whole request would cut off long
                # streaming downloads; stalls are caught by read_timeout instead.
                "timeout": "24h",
                "allow_http": owner.endpoint_url.startswith("http://"),
            },
        }
        endpoint = owner.endpoint_url
        if not (urllib.parse.urlsplit(endpoint).hostname or "").endswith(".amazonaws.com"):
            # An endpoint from the options, AWS_ENDPOINT_URL or a profile: S3-compatible
            # servers take path-style requests, as the boto3 client sends them.
            config["endpoint"] = endpoint
            config["virtual_hosted_style_request"] = False
        if self._credentials is None:
            config["skip_signature"] = True
            provider = None
        else:
            provider = self._provide_credentials
        # obstore's stubs type the provider as a Protocol and the config as TypedDicts;
        # the plain callable and dict match them at run time.
        self.store = ObstoreS3Store(
            owner.bucket,
            credential_provider=provider,  # type: ignore[arg-type]
            **config,
        )
        self.usable = self._credentials is not None or bool(options.get("anonymous"))

    def _provide_credentials(self) -> dict[str, Any]:
        assert self._credentials is not None
        frozen = self._credentials.get_frozen_credentials()
        refreshable = isinstance(self._credentials, botocore.credentials.RefreshableCredentials)
        expires = (
            datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=5)
            if refreshable
            else None
        )
        return {
            "access_key_id": frozen.access_key,
            "secret_access_key": frozen.secret_key,
            "token": frozen.token,
            "expires_at": expires,
        }

    def can_address(self, key: str) -> bool:
        """Return whether obstore sends ``key`` literally: no empty, ``.`` or ``..`` segments."""
        if not self.usable:
            return False  # no credentials: boto3 raises its own error
        for segment in key.split("/"):
            if not segment or segment == "." or segment == "..":
                return False
        return key.isprintable()

    @staticmethod
    def can_put(data: Any, metadata: Mapping[str, str]) -> bool:
        """Return whether obstore can send this write as boto3 would."""
        for name, value in metadata.items():
            if name.lower() in _RESERVED_METADATA or not value.isascii():
                return False
        return True

    @contextlib.contextmanager
    def _translated(
        self, url: str, *, changed: bool = False, exists: bool = False
    ) -> Iterator[None]:
        try:
            yield
        except self._errors.BaseError as error:
            raise _translate_obstore_error(self._errors, error, url, changed, exists) from error
        except FileNotFoundError as error:  # obstore's NotFoundError also derives from it
            raise _translate_obstore_error(self._errors, error, url, changed, exists) from error

    def exists(self, key: str) -> bool:
        try:
            with self._translated(self._owner.url(key)):
                self._obstore.head(self.store, key)
        except KeyNotFoundError:
            return False
        return True

    def lookup(self, key: str, first_bytes: int) -> tuple[ObjectInfo, bytes] | None:
        """Fetch metadata and the first bytes with one ranged GET; None for a zero-byte object."""
        url = self._owner.url(key)
        try:
            with self._translated(url):
                result = self._obstore.get(self.store, key, options={"range": (0, first_bytes)})
                data = bytes(result.bytes())
        except RequestError as error:
            if "416" in str(error):
                return None
            raise
        meta, attributes = result.meta, result.attributes
        info = ObjectInfo(
            key=key,
            size=int(meta["size"]),
            etag=_unquote(meta.get("e_tag")),
            last_modified=meta.get("last_modified"),
            content_type=attributes.get("Content-Type") or "application/octet-stream",
            metadata={
                name: str(value)
                for name, value in attributes.items()
                if name not in _OBSTORE_ATTRIBUTES
            },
            version=_real_version(meta.get("version")),
        )
        return info, data

    def _get_options(self, info: ObjectInfo) -> dict[str, Any]:
        if info.version:
            return {"version": info.version}
        if info.etag:
            return {"if_match": _quote(info.etag)}
        return {}

    def get_range(self, info: ObjectInfo, start: int, stop: int) -> bytes:
        options = self._get_options(info)
        options["range"] = (start, stop)
        with self._translated(self._owner.url(info.key), changed=True):
            result = self._obstore.get(self.store, info.key, options=options)  # type: ignore[arg-type]
            return bytes(result.bytes())

    def open_stream(self, info: ObjectInfo, start: int) -> _ObstoreStream:
        options = self._get_options(info)
        if start:
            options["range"] = {"offset": start}
        url = self._owner.url(info.key)
        with self._translated(url, changed=True):
            result = self._obstore.get(self.store, info.key, options=options)  # type: ignore[arg-type]
        return _ObstoreStream(self, result.stream(min_chunk_size=_STREAM_CHUNK), url)

    def put_bytes(
        self,
        key: str,
        data: bytes | bytearray | memoryview,
        *,
        content_type: str,
        metadata: Mapping[str, str],
        if_absent: bool,
    ) -> ObjectInfo:
        attributes: dict[str, str] = {"Content-Type": content_type, **metadata}
        with self._translated(self._owner.url(key), exists=if_absent):
            result = self._obstore.put(
                self.store,
                key,
                data,
                attributes=attributes,
                mode="create" if if_absent else "overwrite",
                use_multipart=False,
            )
        return ObjectInfo(
            key=key,
            size=len(data),
            etag=_unquote(result.get("e_tag")),
            content_type=content_type,
            metadata=dict(metadata),
            version=_real_version(result.get("version")),
        )

    def get_many_bytes(self, keys: list[str], concurrency: int) -> list[bytes]:
        """Return the contents of ``keys``, fetched on one event loop, in order."""

        async def fetch(key: str, limit: asyncio.Semaphore) -> bytes:
            async with limit:
                with self._translated(self._owner.url(key)):
                    result = await self._obstore.get_async(self.store, key)
                    return bytes(await result.bytes_async())

        async def fetch_all() -> list[bytes]:
            limit = asyncio.Semaphore(concurrency)
            return list(await asyncio.gather(*(fetch(key, limit) for key in keys)))

        return _run_coroutine(fetch_all())

    def put_many_bytes(
        self, items: list[tuple[str, bytes | bytearray | memoryview, str]], concurrency: int
    ) -> None:
        """Store ``(key, data, content_type)`` items on one event loop."""

        async def store(key: str, data: Any, content_type: str, limit: asyncio.Semaphore) -> None:
            async with limit:
                with self._translated(self._owner.url(key)):
                    await self._obstore.put_async(
                        self.store,
                        key,
                        data,
                        attributes={"Content-Type": content_type},
                        use_multipart=False,
                    )

        async def store_all() -> None:
            limit = asyncio.Semaphore(concurrency)
            await asyncio.gather(*(store(*item, limit) for item in items))

        _run_coroutine(store_all())


def _run_coroutine(coroutine: Any) -> Any:
    """Run ``coroutine`` to completion, on a helper thread when this thread has a loop.

    A Jupyter kernel runs an event loop in the main thread, where asyncio.run fails.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="cloudyfiles-async") as pool:
        return pool.submit(asyncio.run, coroutine).result()


_RESERVED_METADATA = {name.lower() for name in _OBSTORE_ATTRIBUTES}


class _ObstoreStream:
    """A binary stream over obstore's chunk iterator, as RemoteObject's reader expects."""

    def __init__(self, transport: ObstoreTransport, chunks: Any, url: str) -> None:
        self._transport = transport
        self._chunks: Any = chunks
        self._pending = memoryview(b"")
        self._url = url

    def read(self, size: int = -1) -> bytes:
        if not self._pending:
            if self._chunks is None:
                return b""
            try:
                with self._transport._translated(self._url):
                    chunk = next(self._chunks)
            except StopIteration:
                self._chunks = None
                return b""
            self._pending = memoryview(chunk)
        if size < 0 or size >= len(self._pending):
            data, self._pending = bytes(self._pending), memoryview(b"")
            return data
        data = bytes(self._pending[:size])
        self._pending = self._pending[size:]
        return data

    def close(self) -> None:
        # Dropping obstore's stream closes its connection.
        self._chunks = None
        self._pending = memoryview(b"")


def _translate_obstore_error(
    errors: Any, error: Exception, url: str, changed: bool, exists: bool
) -> CloudyError:
    """Map an obstore exception to the cloudyfiles exception for it."""
    message = str(error)
    if isinstance(error, errors.PreconditionError | errors.AlreadyExistsError):
        if exists:
            return KeyExistsError(f"{url} already exists")
        return ObjectChangedError(
            f"{url} was overwritten or deleted while being read; look the key up "
            "again to read the current version"
        )
    if isinstance(error, FileNotFoundError):
        if "NoSuchBucket" in message:
            return BucketNotFoundError(
                f"bucket of {url} not found; check the name, or pass create=True to the factory"
            )
        if changed:
            return ObjectChangedError(f"{url} was deleted while being read; look the key up again")
        return KeyNotFoundError(f"{url} not found")
    if isinstance(error, errors.PermissionDeniedError | errors.UnauthenticatedError):
        return AccessDeniedError(f"access to {url} denied: {_first_line(message)}")
    match = _STATUS.search(message)
    status = int(match.group(1)) if match else 0
    if status in (401, 403):
        return AccessDeniedError(f"access to {url} denied: {_first_line(message)}")
    if status >= 500 or status == 429:
        return TransientError(f"request for {url} failed after retries: {_first_line(message)}")
    if not status:
        if "timed out" in message or "timeout" in message.lower():
            return RequestTimeoutError(
                f"request for {url} timed out after retries: {_first_line(message)}"
            )
        return TransientError(f"request for {url} failed after retries: {_first_line(message)}")
    return RequestError(f"request for {url} failed: {_first_line(message)}")


def _first_line(message: str) -> str:
    return message.strip().splitlines()[0][:300] if message.strip() else message
