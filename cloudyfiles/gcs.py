"""Mappings over Google Cloud Storage and GCS emulators, through google-cloud-storage.

>>> from cloudyfiles.gcs import factory
>>> Bucket = factory("my-bucket")                                   # doctest: +SKIP
>>> d = Bucket(a="1")                                               # doctest: +SKIP
>>> Public = factory("gcp-public-data-landsat", anonymous=True)     # doctest: +SKIP
>>> Local = factory("b", endpoint="http://127.0.0.1:4443")          # doctest: +SKIP

Credentials, in order: the ``credentials`` option (a google.auth credentials object);
``anonymous=True``; anonymous access when the endpoint is an emulator (an ``endpoint``
with plain ``http://``, or the ``STORAGE_EMULATOR_HOST`` environment variable, which the
SDK honours); otherwise Application Default Credentials. Anonymous clients never look
up a default project, so they never contact a metadata server.

Every read of a looked-up object asks for its generation, so a reader keeps reading the
version it started with while GCS keeps it (buckets with object versioning), and gets
:class:`~cloudyfiles.errors.ObjectChangedError` once that generation is gone.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import http.client
import io
import ipaddress
import logging
import os
import re
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import IO, Any, TypeVar

from ._mapping import ObjectMapping, make_factory, pop_mapping_options
from ._store import ListPage, ObjectInfo, Store
from .errors import (
    AccessDeniedError,
    BucketNotFoundError,
    CloudyError,
    InvalidKeyError,
    KeyExistsError,
    KeyNotFoundError,
    MissingDependencyError,
    ObjectChangedError,
    RequestError,
    RequestTimeoutError,
    TransientError,
)

try:
    import google.auth.exceptions
    import requests
    import requests.adapters
    import urllib3.exceptions
    from google.api_core import exceptions as api_exceptions
    from google.api_core import retry as api_retry
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage
    from google.cloud._helpers import _rfc3339_nanos_to_datetime
    from google.cloud.storage import retry as storage_retry
    from google.cloud.storage.exceptions import DataCorruption, InvalidResponse
except ImportError as error:  # pragma: no cover - exercised without the extra
    raise MissingDependencyError(
        "cloudyfiles.gcs needs google-cloud-storage: pip install 'cloudyfiles[gcs]'"
    ) from error

__all__ = ["GCSStore", "factory", "translate_error"]

logger = logging.getLogger(__name__)

KIB = 1 << 10
MIB = 1 << 20
DEFAULT_ENDPOINT = "https://storage.googleapis.com"
EMULATOR_VARIABLE = "STORAGE_EMULATOR_HOST"
_CHUNK_MULTIPLE = 256 * KIB
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*[a-z0-9]$")
_GOOGLE_LIKE = re.compile(r"g[o0][o0]g[l1]e")
_ACME_PREFIX = ".well-known/acme-challenge/"
_STREAM_RESUMES = 3
_T = TypeVar("_T")


class GCSStore(Store):
    """A store on one Google Cloud Storage bucket.

    Options (all optional): ``project``, ``credentials`` (a google.auth credentials
    object), ``anonymous`` (no credentials, for public buckets), ``endpoint`` (the API
    endpoint, such as an emulator's ``http://127.0.0.1:4443``), ``connect_timeout`` and
    ``read_timeout`` in seconds, ``retry_timeout`` (seconds that one call keeps retrying
    429, 5xx and connection failures; default 120), ``retry_initial_delay`` and
    ``retry_max_delay`` (exponential backoff bounds in seconds; default 1 and 60),
    ``max_pool_connections`` (default 32), ``upload_chunk_size`` (bytes per request of
    a resumable upload, a multiple of 256 KiB; default 8 MiB), ``rewrite_chunk_bytes``
    (``maxBytesRewrittenPerCall`` of server-side copies, a multiple of 1 MiB; default
    the server's choice) and ``delete_threads`` (parallel deletes; default 16).

    Uploads are retried too: a whole-object write sends the same bytes again, and a
    write with ``if_absent`` is conditional, so a retry cannot store anything else.
    A retried conditional write whose first attempt succeeded unseen reports
    KeyExistsError, as on every vendor.
    """

    scheme = "gs"
    max_key_bytes = 1024
    reserved_keys = frozenset({".", ".."})
    page_limit = 1000
    delete_batch = 1000

    def __init__(self, bucket: str, **options: Any) -> None:
        _validate_bucket(bucket)
        super().__init__(bucket, **options)
        self._client_lock = threading.Lock()
        self._client_instance: Any = None
        self.upload_chunk_size = int(options.get("upload_chunk_size", 8 * MIB))
        self.rewrite_chunk_bytes = options.get("rewrite_chunk_bytes")
        self.delete_threads = int(options.get("delete_threads", 16))
        self.timeout = (
            float(options.get("connect_timeout", 10)),
            float(options.get("read_timeout", 60)),
        )
        self.retry = api_retry.Retry(
            predicate=_should_retry,
            initial=float(options.get("retry_initial_delay", 1.0)),
            maximum=float(options.get("retry_max_delay", 60.0)),
            multiplier=2.0,
            timeout=float(options.get("retry_timeout", 120.0)),
            on_error=_log_retry,
        )
        _validate_sizes(self.upload_chunk_size, self.rewrite_chunk_bytes, self.delete_threads)

    # The client

    @property
    def client(self) -> Any:
        """The google-cloud-storage client, made on first use so pickles carry none."""
        if self._client_instance is None:
            with self._client_lock:
                if self._client_instance is None:
                    self._client_instance = self._make_client()
        return self._client_instance

    def _make_client(self) -> Any:
        options = self.options
        endpoint = options.get("endpoint")
        credentials = options.get("credentials")
        if options.get("anonymous") or (credentials is None and _is_emulator(endpoint)):
            credentials = AnonymousCredentials()
        arguments: dict[str, Any] = {"credentials": credentials}
        if endpoint:
            arguments["client_options"] = {"api_endpoint": endpoint.rstrip("/")}
        project = options.get("project") or os.environ.get("GOOGLE_CLOUD_PROJECT")
        if credentials is not None:
            # Explicit credentials: never let the SDK run the default-project lookup,
            # which may probe the metadata server.
            arguments["project"] = project or getattr(credentials, "project_id", None)
        elif project:
            arguments["project"] = project
        client = storage.Client(**arguments)
        pool = int(options.get("max_pool_connections", 32))
        session = client._http  # the AuthorizedSession every SDK call uses
        if isinstance(session, requests.Session) and not getattr(session, "is_mtls", False):
            adapter = requests.adapters.HTTPAdapter(pool_connections=pool, pool_maxsize=pool)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
        return client

    @property
    def endpoint(self) -> str:
        """The API endpoint that requests go to, as the SDK resolved it."""
        options_endpoint = self.options.get("endpoint")
        if options_endpoint:
            return str(options_endpoint).rstrip("/")
        return str(self.client.api_endpoint).rstrip("/")

    @property
    def _bucket(self) -> Any:
        return self.client.bucket(self.bucket)

    def _blob(self, key: str, generation: str | None = None) -> Any:
        return self._bucket.blob(key, generation=int(generation) if generation else None)

    def _call(self, function: Callable[[], _T]) -> _T:
        """Run one request of our own with the store's retry policy."""
        return self.retry(function)()  # type: ignore[no-any-return]

    def same_location(self, other: Store) -> bool:
        return (
            isinstance(other, GCSStore)
            and other.bucket == self.bucket
            and other.endpoint == self.endpoint
        )

    def validate_key(self, key: str) -> None:
        super().validate_key(key)
        if "\r" in key or "\n" in key:
            raise InvalidKeyError(
                f"invalid key {key!r}: GCS object names must not contain carriage "
                "return or line feed characters"
            )
        if key.startswith(_ACME_PREFIX):
            raise InvalidKeyError(
                f"invalid key {key!r}: GCS object names cannot start with {_ACME_PREFIX!r}"
            )

    # Reads

    def head(self, key: str) -> ObjectInfo:
        blob = None
        try:
            with _translated(self.url(key)):
                blob = self._blob(key)
                blob.reload(projection="full", timeout=self.timeout, retry=self.retry)
        except KeyNotFoundError as error:
            # fake-gcs-server answers a missing bucket and a missing object alike;
            # real GCS says which, and translate_error reads that.
            if _ambiguous_not_found(error.__cause__) and not self._bucket_exists():
                raise BucketNotFoundError(f"bucket of {self.url(key)} not found") from error
            raise
        return _info_from_blob(blob)

    def _bucket_exists(self) -> bool:
        with _translated(self.url("")):
            return bool(self._bucket.exists(timeout=self.timeout, retry=self.retry))

    def get_range(self, info: ObjectInfo, start: int, stop: int) -> bytes:
        with _translated(self.url(info.key), changed=True):
            data = self._blob(info.key, info.version).download_as_bytes(
                start=start,
                end=stop - 1,
                raw_download=True,
                checksum=None,
                timeout=self.timeout,
                retry=self.retry,
            )
        return data  # type: ignore[no-any-return]

    def open_stream(self, info: ObjectInfo, start: int) -> IO[bytes]:
        return _MediaStream(self, info, start)  # type: ignore[return-value]

    def _media_url(self, info: ObjectInfo) -> tuple[str, dict[str, str]]:
        name = urllib.parse.quote(info.key, safe="")
        bucket = urllib.parse.quote(self.bucket, safe="")
        url = f"{self.client.api_endpoint}/download/storage/v1/b/{bucket}/o/{name}"
        params = {"alt": "media"}
        if info.version:
            params["generation"] = str(info.version)
        return url, params

    # Listings

    def list_page(
        self,
        prefix: str,
        *,
        delimiter: str | None = None,
        token: str | None = None,
        page_size: int | None = None,
    ) -> ListPage:
        # Always send a page size: fake-gcs-server returns everything in one page
        # without one, and real GCS caps pages at 1000.
        size = min(page_size or self.page_limit, self.page_limit)
        with _translated(self.url(prefix), listing=True):
            iterator = self.client.list_blobs(
                self.bucket,
                prefix=prefix or None,
                delimiter=delimiter,
                page_token=token,
                page_size=size,
                timeout=self.timeout,
                retry=self.retry,
            )
            page = next(iterator.pages)
            objects = [_info_from_blob(blob) for blob in page]
            prefixes = sorted(page.prefixes)
        return ListPage(objects=objects, prefixes=prefixes, next_token=iterator.next_page_token)

    # Writes

    def _new_blob(self, key: str, content_type: str, metadata: Mapping[str, str]) -> Any:
        blob = self._blob(key)
        blob.content_type = content_type
        blob.metadata = dict(metadata)
        return blob

    def put_bytes(
        self,
        key: str,
        data: bytes | bytearray | memoryview,
        *,
        content_type: str,
        metadata: Mapping[str, str],
        if_absent: bool = False,
    ) -> ObjectInfo:
        blob = self._new_blob(key, content_type, metadata)
        with _translated(self.url(key), exists=if_absent):
            blob.upload_from_string(
                bytes(data),
                content_type=content_type,
                if_generation_match=0 if if_absent else None,
                timeout=self.timeout,
                retry=self.retry,
            )
        return _info_from_blob(blob)

    def put_stream(
        self, key: str, stream: IO[bytes], *, content_type: str, metadata: Mapping[str, str]
    ) -> ObjectInfo:
        reader = _ChunkReader(stream, self.upload_chunk_size)
        if reader.single_chunk:
            # One request instead of a resumable session for a small stream.
            return self.put_bytes(
                key, reader.first_chunk, content_type=content_type, metadata=metadata
            )
        blob = self._new_blob(key, content_type, metadata)
        blob.chunk_size = self.upload_chunk_size
        logger.debug("resumable upload of %s in %d-byte chunks", self.url(key), blob.chunk_size)
        with _translated(self.url(key)):
            blob.upload_from_file(
                reader, content_type=content_type, timeout=self.timeout, retry=self.retry
            )
        return _info_from_blob(blob)

    def delete(self, key: str) -> None:
        try:
            with _translated(self.url(key)):
                self._blob(key).delete(timeout=self.timeout, retry=self.retry)
        except KeyNotFoundError:
            pass  # deleting an absent key is not an error

    def delete_many(self, keys: Iterable[str]) -> None:
        # fake-gcs-server cannot run client.batch(), so deletes run in parallel on a
        # bounded pool, one batch of futures at a time to keep memory bounded.
        batch: list[str] = []
        with concurrent.futures.ThreadPoolExecutor(self.delete_threads) as pool:
            for key in keys:
                batch.append(key)
                if len(batch) >= self.delete_batch:
                    _wait_all(pool.map(self.delete, batch))
                    batch = []
            if batch:
                _wait_all(pool.map(self.delete, batch))

    # Server-side copies

    def can_copy_from(self, source: Store) -> bool:
        return isinstance(source, GCSStore) and source.endpoint == self.endpoint

    def copy_from(
        self,
        source: Store,
        info: ObjectInfo,
        key: str,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> ObjectInfo:
        assert isinstance(source, GCSStore)
        source_blob = source._blob(info.key, info.version)
        body: dict[str, Any] = {}
        if content_type is not None or metadata is not None:
            complete = info if info.complete else source._head_version(info)
            body["contentType"] = content_type or complete.content_type
            body["metadata"] = dict((complete.metadata or {}) if metadata is None else metadata)
        with _translated(source.url(info.key), changed=True):
            resource = self._rewrite(source_blob, self._blob(key), body)
        return _info_from_resource(resource)

    def _head_version(self, info: ObjectInfo) -> ObjectInfo:
        with _translated(self.url(info.key), changed=True):
            blob = self._blob(info.key, info.version)
            blob.reload(projection="full", timeout=self.timeout, retry=self.retry)
        return _info_from_blob(blob)

    def _rewrite(self, source_blob: Any, target_blob: Any, body: dict[str, Any]) -> Any:
        """Run objects.rewrite until done, following its continuation tokens."""
        params: dict[str, Any] = {"projection": "full"}
        if source_blob.generation:
            params["sourceGeneration"] = source_blob.generation
        if self.rewrite_chunk_bytes:
            params["maxBytesRewrittenPerCall"] = int(self.rewrite_chunk_bytes)
        path = f"{source_blob.path}/rewriteTo{target_blob.path}"
        calls = 0
        while True:
            response = self.client._connection.api_request(
                method="POST",
                path=path,
                query_params=params,
                data=body,
                timeout=self.timeout,
                retry=self.retry,
            )
            calls += 1
            if response.get("done"):
                logger.debug("rewrite of %s took %d calls", path, calls)
                return response["resource"]
            params["rewriteToken"] = response["rewriteToken"]
            logger.debug(
                "rewrite of %s: %s of %s bytes",
                path,
                response.get("totalBytesRewritten"),
                response.get("objectSize"),
            )

    def create_bucket(self) -> None:
        try:
            with _translated(self.url("")):
                self.client.create_bucket(self.bucket, timeout=self.timeout, retry=self.retry)
        except RequestError as error:
            if not isinstance(error.__cause__, api_exceptions.Conflict):
                raise


def _validate_bucket(bucket: str) -> None:
    if not isinstance(bucket, str):
        raise ValueError(f"invalid GCS bucket name {bucket!r}: it must be a str")
    problem = _bucket_problem(bucket)
    if problem:
        raise ValueError(f"invalid GCS bucket name {bucket!r}: {problem}")


def _bucket_problem(bucket: str) -> str | None:
    if not _BUCKET_NAME.match(bucket):
        return (
            "use lowercase letters, digits, '-', '_' and '.', starting and ending "
            "with a letter or digit"
        )
    if "." in bucket:
        if len(bucket) > 222:
            return "names with dots may be at most 222 characters"
        if any(not 1 <= len(part) <= 63 for part in bucket.split(".")):
            return "each dot-separated part must be 1 to 63 characters"
    elif not 3 <= len(bucket) <= 63:
        return "names must be 3 to 63 characters"
    if bucket.startswith("goog") or _GOOGLE_LIKE.search(bucket):
        return "names cannot start with 'goog' or contain 'google' or a look-alike"
    with contextlib.suppress(ValueError):
        ipaddress.IPv4Address(bucket)
        return "names cannot be IP addresses"
    return None


def _validate_sizes(chunk: int, rewrite: Any, threads: int) -> None:
    if chunk < _CHUNK_MULTIPLE or chunk % _CHUNK_MULTIPLE:
        raise ValueError(
            f"invalid upload_chunk_size {chunk}: GCS needs a multiple of 256 KiB (262144)"
        )
    if rewrite is not None and (int(rewrite) < MIB or int(rewrite) % MIB):
        raise ValueError(
            f"invalid rewrite_chunk_bytes {rewrite}: GCS needs a multiple of 1 MiB (1048576)"
        )
    if threads < 1:
        raise ValueError(f"invalid delete_threads {threads}: it must be at least 1")


def _is_emulator(endpoint: str | None) -> bool:
    """Return whether the endpoint is an emulator: plain HTTP, where no token belongs."""
    endpoint = endpoint or os.environ.get(EMULATOR_VARIABLE)
    return bool(endpoint) and str(endpoint).lower().startswith("http://")


def _info_from_blob(blob: Any) -> ObjectInfo:
    return _info_from_resource(blob._properties)


def _info_from_resource(resource: Mapping[str, Any]) -> ObjectInfo:
    updated = resource.get("updated")
    return ObjectInfo(
        key=resource["name"],
        size=int(resource.get("size") or 0),
        # The MD5 of the contents where GCS has one (not for composite objects): equal
        # contents give equal tags, as S3's ETag of a single-part upload does, and a
        # metadata change does not make a reader fail. The generation pins the version.
        etag=resource.get("md5Hash") or resource.get("etag"),
        last_modified=_rfc3339_nanos_to_datetime(updated) if updated else None,
        content_type=resource.get("contentType") or "application/octet-stream",
        metadata=dict(resource.get("metadata") or {}),
        version=str(resource["generation"]) if resource.get("generation") else None,
    )


def _wait_all(results: Iterator[None]) -> None:
    for _ in results:
        pass


# Errors and retries


def _should_retry(error: BaseException) -> bool:
    return bool(storage_retry.DEFAULT_RETRY._predicate(error))


def _log_retry(error: BaseException) -> None:
    logger.warning("retrying a GCS request after %s: %s", type(error).__name__, error)


def _status(error: BaseException) -> int:
    if isinstance(error, api_exceptions.GoogleAPICallError) and error.code:
        return int(error.code)
    if isinstance(error, InvalidResponse) and error.response is not None:
        return int(getattr(error.response, "status_code", 0) or 0)
    return 0


def _message(error: BaseException) -> str:
    if isinstance(error, api_exceptions.GoogleAPICallError):
        return str(error.message)
    return str(error)


def _ambiguous_not_found(error: BaseException | None) -> bool:
    if error is None:
        return False
    message = _message(error).lower()
    return "no such object" not in message and "bucket does not exist" not in message


_TIMEOUTS = (
    requests.exceptions.Timeout,
    urllib3.exceptions.TimeoutError,
    TimeoutError,
)
_CONNECTION_ERRORS = (
    requests.exceptions.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    ConnectionError,
)


def translate_error(
    error: BaseException,
    url: str,
    *,
    changed: bool = False,
    exists: bool = False,
    listing: bool = False,
) -> CloudyError:
    """Map a google-cloud-storage, google.auth or transport exception to cloudyfiles.

    ``changed`` reads a missing object or a failed precondition as the pinned
    generation being gone; ``exists`` reads a failed precondition as a conditional
    write finding an object; ``listing`` reads not found as a missing bucket.
    """
    if isinstance(error, api_exceptions.RetryError) and error.cause is not None:
        return translate_error(error.cause, url, changed=changed, exists=exists, listing=listing)
    if isinstance(error, api_exceptions.GoogleAPICallError | InvalidResponse):
        return _translate_status(error, url, changed=changed, exists=exists, listing=listing)
    if isinstance(error, google.auth.exceptions.DefaultCredentialsError):
        return AccessDeniedError(
            f"no Google credentials found for {url}: run `gcloud auth application-default "
            "login`, set GOOGLE_APPLICATION_CREDENTIALS, pass credentials=..., or pass "
            "anonymous=True for a public bucket"
        )
    if isinstance(error, google.auth.exceptions.RefreshError):
        return AccessDeniedError(f"Google credentials for {url} were refused: {error}")
    if isinstance(error, google.auth.exceptions.TransportError):
        return TransientError(f"fetching Google credentials for {url} failed: {error}")
    if isinstance(error, DataCorruption):
        return TransientError(f"transfer of {url} failed its checksum; try again: {error}")
    if isinstance(error, api_exceptions.RetryError):
        return RequestTimeoutError(f"request for {url} kept failing until retries ran out")
    if isinstance(error, _TIMEOUTS):
        return RequestTimeoutError(f"request for {url} timed out after retries: {error}")
    if isinstance(error, _CONNECTION_ERRORS):
        return TransientError(f"request for {url} failed after retries: {error}")
    return RequestError(f"request for {url} failed: {type(error).__name__}: {error}")


def _translate_status(
    error: BaseException, url: str, *, changed: bool, exists: bool, listing: bool
) -> CloudyError:
    status, message = _status(error), _message(error)
    if status == 404:
        if listing or "bucket does not exist" in message.lower():
            return BucketNotFoundError(f"bucket of {url} not found")
        if changed:
            return _changed(url)
        return KeyNotFoundError(f"{url} not found")
    if status == 412:
        return KeyExistsError(f"{url} already exists") if exists else _changed(url)
    if status in (401, 403):
        return AccessDeniedError(f"access to {url} denied: {status} {message}")
    if status == 408:
        return RequestTimeoutError(f"request for {url} timed out after retries: {message}")
    if status == 429 or status >= 500:
        return TransientError(f"request for {url} failed after retries: {status} {message}")
    if status == 400 and "object name" in message.lower():
        return InvalidKeyError(f"invalid key for {url}: {message}")
    return RequestError(f"request for {url} failed: {status} {message}")


def _changed(url: str) -> ObjectChangedError:
    return ObjectChangedError(
        f"{url} was overwritten or deleted while being read; look the key up again to "
        "read the current version"
    )


_SDK_ERRORS = (
    api_exceptions.GoogleAPIError,
    google.auth.exceptions.GoogleAuthError,
    InvalidResponse,
    DataCorruption,
    *_CONNECTION_ERRORS,
    *_TIMEOUTS,
)


@contextlib.contextmanager
def _translated(
    url: str, *, changed: bool = False, exists: bool = False, listing: bool = False
) -> Iterator[None]:
    try:
        yield
    except CloudyError:
        raise
    except _SDK_ERRORS as error:
        raise translate_error(
            error, url, changed=changed, exists=exists, listing=listing
        ) from error


# Streams


class _MediaStream:
    """One streaming download of a pinned generation, from an offset on.

    The body is read from the socket as the caller asks, so memory stays bounded by
    the read size. A connection that breaks mid-body is reopened from the current
    offset, asking for the same generation, a few times before the error surfaces.
    """

    def __init__(self, store: GCSStore, info: ObjectInfo, start: int) -> None:
        self._store = store
        self._info = info
        self._position = start
        self._url = store.url(info.key)
        self._response: Any = None
        self._open()

    def _open(self) -> None:
        store = self._store
        url, params = store._media_url(self._info)
        headers = {"Range": f"bytes={self._position}-"} if self._position else {}

        def request() -> Any:
            response = store.client._http.get(
                url, params=params, headers=headers, stream=True, timeout=store.timeout
            )
            if response.status_code not in (200, 206):
                try:
                    raise api_exceptions.from_http_response(response)
                finally:
                    response.close()
            return response

        logger.debug("streaming %s from byte %d", self._url, self._position)
        with _translated(self._url, changed=True):
            self._response = store._call(request)

    def read(self, size: int = -1) -> bytes:
        if self._position >= self._info.size:
            return b""
        for attempt in range(_STREAM_RESUMES + 1):
            try:
                data = self._response.raw.read(None if size < 0 else size, decode_content=False)
            except _SDK_ERRORS as error:
                if attempt == _STREAM_RESUMES:
                    raise translate_error(error, self._url, changed=True) from error
                logger.warning(
                    "download of %s broke at byte %d (%s); resuming",
                    self._url,
                    self._position,
                    error,
                )
                self._response.close()
                self._open()
                continue
            self._position += len(data)
            return bytes(data)
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._response is not None:
            self._response.close()


class _ChunkReader(io.RawIOBase):
    """A non-seekable stream made fit for a resumable upload, in bounded memory.

    Reads fill whole chunks (the SDK takes a short chunk as the last one), ``tell``
    counts bytes read, and ``seek`` may go back within the last chunk, which is all
    that a resumable upload asks. The first chunk is read ahead, so a stream that
    fits in it can go up in one request.
    """

    def __init__(self, stream: IO[bytes], chunk_size: int) -> None:
        super().__init__()
        self._stream = stream
        self._chunk_size = chunk_size
        self._buffer = self._fill(chunk_size)
        self._buffer_start = 0
        self._position = 0
        self.single_chunk = len(self._buffer) < chunk_size

    @property
    def first_chunk(self) -> bytes:
        return self._buffer

    def _fill(self, size: int) -> bytes:
        parts: list[bytes] = []
        remaining = size
        while remaining > 0:
            data = self._stream.read(remaining)
            if not data:
                break
            if isinstance(data, str):
                raise TypeError(f"streams to store must be binary; {self._stream!r} returned str")
            parts.append(bytes(data))
            remaining -= len(data)
        return b"".join(parts)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            offset += self._position
        elif whence != io.SEEK_SET:
            raise io.UnsupportedOperation("an upload stream seeks only within its last chunk")
        if not self._buffer_start <= offset <= self._buffer_start + len(self._buffer):
            raise io.UnsupportedOperation(
                f"cannot seek to {offset}: only bytes {self._buffer_start} to "
                f"{self._buffer_start + len(self._buffer)} are still held"
            )
        self._position = offset
        return offset

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            size = self._chunk_size
        offset = self._position - self._buffer_start
        if offset < len(self._buffer):
            data = self._buffer[offset : offset + size]
            if len(data) < size:
                data += self._refill(size - len(data), keep=data)
        else:
            data = self._refill(size, keep=b"")
        self._position += len(data)
        return data

    def _refill(self, size: int, keep: bytes) -> bytes:
        data = self._fill(size)
        self._buffer = keep + data
        self._buffer_start = self._position
        return data


def factory(bucket: str, prefix: str = "", **options: Any) -> type[ObjectMapping]:
    """Return the mapping class of the GCS ``bucket``, scoped to ``prefix``.

    Options are those of :class:`GCSStore`, plus ``create=True`` to create the bucket
    when it does not exist and ``block_size`` for the RemoteObjects it returns.
    """
    mapping_options = pop_mapping_options(options)
    create = options.pop("create", False)
    store = GCSStore(bucket, **options)
    if create:
        store.create_bucket()
    return make_factory(store, prefix, **mapping_options)
