"""Mappings over Amazon S3 and S3-compatible servers, through boto3.

>>> from cloudyfiles.s3 import factory
>>> Bucket = factory("my-bucket")                       # doctest: +SKIP
>>> d = Bucket(a="1")                                   # doctest: +SKIP
>>> Local = factory("b", endpoint_url="http://127.0.0.1:8333")  # doctest: +SKIP

Without options, credentials, region and endpoint are found the way boto3 finds them:
environment variables (including ``AWS_ENDPOINT_URL``), the shared config and
credentials files, ``AWS_PROFILE``, and instance or container roles.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, TYPE_CHECKING, Any

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
    import boto3
    import botocore.config
    import botocore.credentials
    import botocore.exceptions
    from boto3.s3.transfer import TransferConfig
except ImportError as error:  # pragma: no cover - exercised without the extra
    raise MissingDependencyError(
        "cloudyfiles.s3 needs boto3: pip install 'cloudyfiles[s3]'"
    ) from error

if TYPE_CHECKING:
    from ._s3_obstore import ObstoreTransport

__all__ = ["S3Store", "factory"]

logger = logging.getLogger(__name__)

MIB = 1 << 20
_ASYNC_REQUESTS_PER_WORKER = 8
"""Requests in flight per bulk worker on obstore's event loop, where a request costs no thread."""
_OBSTORE_MAX_RANGE = 8 * MIB
"""Largest range read through obstore; boto3 reads larger ones faster (see docs/benchmarks.md)."""
_XML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_NOT_FOUND = {"NoSuchKey", "404", "NotFound"}
_DENIED = {
    "AccessDenied",
    "403",
    "Forbidden",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "AllAccessDisabled",
}
_THROTTLED = {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "503", "500"}
_SESSION_OPTIONS = (
    "profile_name",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "region_name",
)


class S3Store(Store):
    """A store on one S3 bucket.

    Options (all optional): ``endpoint_url``, ``region_name``, ``profile_name``,
    ``aws_access_key_id``, ``aws_secret_access_key``, ``aws_session_token``,
    ``anonymous`` (send unsigned requests, for public buckets), ``max_attempts``
    (tries per request, with boto3's standard backoff; default 5), ``connect_timeout``
    and ``read_timeout`` in seconds, ``max_pool_connections``, ``multipart_threshold``
    and ``multipart_chunksize`` in bytes for uploads of file objects, and
    ``copy_threshold``: copies of larger objects run as a multipart copy, 5 GiB at
    most, which is the limit of one CopyObject.

    ``transport`` picks the HTTP client of the data path. ``"obstore"`` sends ranged
    reads, streaming downloads, single-request writes, existence checks and lookups
    through obstore (Rust), with the credentials, region and endpoint that boto3
    resolved. ``"boto3"`` sends everything through boto3. The default, ``"auto"``, is
    the environment variable ``CLOUDYFILES_S3_TRANSPORT`` when set, else obstore when
    it is installed. Listings, deletes, copies, uploads of file objects and keys that
    obstore cannot address literally (empty, ``.`` or ``..`` segments) use boto3.
    """

    scheme = "s3"
    max_key_bytes = 1024

    def __init__(self, bucket: str, **options: Any) -> None:
        _validate_bucket(bucket)
        super().__init__(bucket, **options)
        self._client_lock = threading.Lock()
        self._client_instance: Any = None
        self.copy_threshold = int(options.get("copy_threshold", 5 * 1024 * MIB))
        self._transfer = TransferConfig(
            multipart_threshold=int(options.get("multipart_threshold", 8 * MIB)),
            multipart_chunksize=int(options.get("multipart_chunksize", 8 * MIB)),
            max_concurrency=4,
        )
        # s3transfer holds up to this many parts in memory (10 by default), which with
        # 8 MiB parts let one streamed upload grow by 120 MiB; with 2 a 256 MiB copy
        # stays under 64 MiB (tests/test_s3.py). boto3's constructor does not take
        # the setting, but its s3transfer base class reads the attribute.
        self._transfer.max_in_memory_upload_chunks = 2
        from ._s3_obstore import choose_transport

        self.transport = choose_transport(options.get("transport", "auto"))
        """The data path's HTTP client: ``"obstore"`` or ``"boto3"``."""
        self._fast_instance: ObstoreTransport | None = None
        self._bucket_checked = False
        if self.copy_threshold > 5 * 1024 * MIB:
            raise ValueError(
                f"invalid copy_threshold {self.copy_threshold}: S3 copies at most 5 GiB "
                "in one request"
            )

    @property
    def client(self) -> Any:
        """The boto3 S3 client, made on first use so that pickles carry no client."""
        if self._client_instance is None:
            with self._client_lock:
                if self._client_instance is None:
                    self._client_instance = self._make_client()
        return self._client_instance

    @property
    def _fast(self) -> ObstoreTransport | None:
        """The obstore transport, or None when the boto3 transport was chosen."""
        if self.transport != "obstore":
            return None
        if self._fast_instance is None:
            from ._s3_obstore import ObstoreTransport

            client = self.client  # resolves the session first, outside the lock
            with self._client_lock:
                if self._fast_instance is None and client is not None:
                    self._fast_instance = ObstoreTransport(self)
        return self._fast_instance

    def _fast_for(self, key: str) -> ObstoreTransport | None:
        fast = self._fast
        return fast if fast is not None and fast.can_address(key) else None

    def _make_client(self) -> Any:
        options = self.options
        session = boto3.session.Session(
            **{name: options[name] for name in _SESSION_OPTIONS if name in options}
        )
        config = botocore.config.Config(
            retries={"max_attempts": int(options.get("max_attempts", 5)), "mode": "standard"},
            connect_timeout=options.get("connect_timeout", 10),
            read_timeout=options.get("read_timeout", 60),
            max_pool_connections=int(options.get("max_pool_connections", 32)),
            signature_version=botocore.UNSIGNED if options.get("anonymous") else None,
            s3={"addressing_style": "path"} if options.get("endpoint_url") else None,
        )
        self._session = session
        return session.client("s3", endpoint_url=options.get("endpoint_url"), config=config)

    @property
    def endpoint_url(self) -> str:
        """The endpoint that requests go to, as boto3 resolved it."""
        return str(self.client.meta.endpoint_url)

    def same_location(self, other: Store) -> bool:
        return (
            isinstance(other, S3Store)
            and other.bucket == self.bucket
            and other.endpoint_url == self.endpoint_url
        )

    # Reads

    def exists(self, key: str) -> bool:
        fast = self._fast_for(key)
        found = super().exists(key) if fast is None else fast.exists(key)
        if not found:
            self._check_bucket(key)
        return found

    def lookup(self, key: str, first_bytes: int) -> tuple[ObjectInfo, bytes | None]:
        if first_bytes < 1:
            return self.head(key), None
        fast = self._fast_for(key)
        try:
            found = (
                fast.lookup(key, first_bytes)
                if fast is not None
                else self._lookup_boto3(key, first_bytes)
            )
        except KeyNotFoundError:
            self._check_bucket(key)
            raise
        if found is None:
            # S3 rejects a ranged GET of a zero-byte object with 416, so a HEAD describes it.
            return self.head(key), b""
        info, data = found
        if info.content_type == "application/x-directory" and key.endswith("/"):
            raise KeyNotFoundError(f"{self.url(key)} not found")  # see head()
        return info, data

    def _lookup_boto3(self, key: str, first_bytes: int) -> tuple[ObjectInfo, bytes] | None:
        """Fetch metadata and the first bytes with one ranged GET; None for a zero-byte object."""
        try:
            with _translated(self.url(key)):
                response = self.client.get_object(
                    Bucket=self.bucket, Key=key, Range=f"bytes=0-{first_bytes - 1}"
                )
                with contextlib.closing(response["Body"]) as body:
                    data = body.read()
        except RequestError as error:
            if isinstance(error.__cause__, botocore.exceptions.ClientError) and (
                _status(error.__cause__) == 416
            ):
                return None
            raise
        size = _total_size(response.get("ContentRange")) or len(data)
        info = _info_from_response(key, response)
        return dataclasses.replace(info, size=size), data

    def _check_bucket(self, key: str) -> None:
        """Raise BucketNotFoundError when a 404 came from a missing bucket.

        A HEAD or ranged GET returns 404 without saying whether the key or the
        bucket is missing, so the first miss of a store sends one HEAD of the bucket.
        """
        if self._bucket_checked:
            return
        try:
            with _translated(self.url("")):
                self.client.head_bucket(Bucket=self.bucket)
        except KeyNotFoundError:
            raise BucketNotFoundError(
                f"bucket {self.bucket!r} not found at {self.endpoint_url}; check the name, "
                "or pass create=True to the factory"
            ) from None
        self._bucket_checked = True

    def head(self, key: str) -> ObjectInfo:
        try:
            with _translated(self.url(key)):
                response = self.client.head_object(Bucket=self.bucket, Key=key)
        except KeyNotFoundError:
            self._check_bucket(key)
            raise
        if response.get("ContentType") == "application/x-directory" and key.endswith("/"):
            # SeaweedFS returns 200 to a HEAD of "p/" for the folder of keys below it;
            # S3 has no folders, so no object is stored under that key.
            raise KeyNotFoundError(f"{self.url(key)} not found")
        return _info_from_response(key, response)

    def _get(self, info: ObjectInfo, byte_range: str | None) -> Any:
        arguments: dict[str, Any] = {"Bucket": self.bucket, "Key": info.key}
        if byte_range:
            arguments["Range"] = byte_range
        if info.version:
            arguments["VersionId"] = info.version
        elif info.etag:
            arguments["IfMatch"] = _quote(info.etag)
        with _translated(self.url(info.key), changed=True):
            return self.client.get_object(**arguments)["Body"]

    def get_range(self, info: ObjectInfo, start: int, stop: int) -> bytes:
        fast = self._fast_for(info.key)
        if fast is not None and stop - start <= _OBSTORE_MAX_RANGE:
            return fast.get_range(info, start, stop)
        body = self._get(info, f"bytes={start}-{stop - 1}")
        with _translated(self.url(info.key)), contextlib.closing(body):
            return body.read()  # type: ignore[no-any-return]

    def open_stream(self, info: ObjectInfo, start: int) -> IO[bytes]:
        fast = self._fast_for(info.key)
        if fast is not None:
            return fast.open_stream(info, start)  # type: ignore[return-value]
        body = self._get(info, f"bytes={start}-" if start else None)
        return _TranslatedStream(body, self.url(info.key))  # type: ignore[return-value]

    def get_many_bytes(self, keys: list[str], concurrency: int) -> list[bytes] | None:
        fast = self._fast
        if fast is None or not fast.usable:
            return None
        direct = [key for key in keys if fast.can_address(key)]
        in_flight = concurrency * _ASYNC_REQUESTS_PER_WORKER
        contents = dict(zip(direct, fast.get_many_bytes(direct, in_flight), strict=True))
        for key in keys:
            if key not in contents:  # keys that only boto3 sends literally
                info = self.head(key)
                contents[key] = self.get_range(info, 0, info.size) if info.size else b""
        return [contents[key] for key in keys]

    def put_many_bytes(
        self,
        items: list[tuple[str, bytes | bytearray | memoryview, str]],
        concurrency: int,
    ) -> bool:
        fast = self._fast
        if fast is None or not fast.usable:
            return False
        direct = [item for item in items if fast.can_address(item[0])]
        fast.put_many_bytes(direct, concurrency * _ASYNC_REQUESTS_PER_WORKER)
        for key, data, content_type in items:
            if not fast.can_address(key):  # keys that only boto3 sends literally
                self.put_bytes(key, data, content_type=content_type, metadata={})
        return True

    # Listings

    def list_page(
        self,
        prefix: str,
        *,
        delimiter: str | None = None,
        token: str | None = None,
        page_size: int | None = None,
    ) -> ListPage:
        arguments: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        if delimiter:
            arguments["Delimiter"] = delimiter
        if token:
            arguments["ContinuationToken"] = token
        if page_size:
            arguments["MaxKeys"] = page_size
        with _translated(self.url(prefix)):
            response = self.client.list_objects_v2(**arguments)
        return ListPage(
            objects=[_info_from_listing(item) for item in response.get("Contents", ())],
            prefixes=[item["Prefix"] for item in response.get("CommonPrefixes", ())],
            next_token=response.get("NextContinuationToken")
            if response.get("IsTruncated")
            else None,
        )

    # Writes

    def put_bytes(
        self,
        key: str,
        data: bytes | bytearray | memoryview,
        *,
        content_type: str,
        metadata: Mapping[str, str],
        if_absent: bool = False,
    ) -> ObjectInfo:
        fast = self._fast_for(key)
        if fast is not None and fast.can_put(data, metadata):
            return fast.put_bytes(
                key, data, content_type=content_type, metadata=metadata, if_absent=if_absent
            )
        arguments: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": key,
            "Body": bytes(data),
            "ContentType": content_type,
            "Metadata": dict(metadata),
        }
        if if_absent:
            arguments["IfNoneMatch"] = "*"
        with _translated(self.url(key), exists=if_absent):
            response = self.client.put_object(**arguments)
        return ObjectInfo(
            key=key,
            size=len(data),
            etag=_unquote(response.get("ETag")),
            content_type=content_type,
            metadata=dict(metadata),
            version=response.get("VersionId"),
        )

    def put_stream(
        self, key: str, stream: IO[bytes], *, content_type: str, metadata: Mapping[str, str]
    ) -> ObjectInfo:
        extra = {"ContentType": content_type, "Metadata": dict(metadata)}
        with _translated(self.url(key)):
            self.client.upload_fileobj(
                _KeepOpen(stream), self.bucket, key, ExtraArgs=extra, Config=self._transfer
            )
        return self.head(key)

    def delete(self, key: str) -> None:
        with _translated(self.url(key)):
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def delete_many(self, keys: Iterable[str]) -> None:
        batch = []
        for key in keys:
            if _XML_UNSAFE.search(key):
                # DeleteObjects sends keys in an XML body, which cannot carry
                # control characters; a single DELETE sends the key in the URL.
                self.delete(key)
            else:
                batch.append({"Key": key})
        for start in range(0, len(batch), self.delete_batch):
            objects = batch[start : start + self.delete_batch]
            with _translated(self.url("")):
                response = self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True}
                )
            errors = response.get("Errors") or []
            if errors:
                first = errors[0]
                raise RequestError(
                    f"failed to delete {len(errors)} of {len(objects)} keys from "
                    f"{self.url('')}, first {first.get('Key')!r}: {first.get('Code')} "
                    f"{first.get('Message')}"
                )

    def can_copy_from(self, source: Store) -> bool:
        return isinstance(source, S3Store) and source.endpoint_url == self.endpoint_url

    def copy_from(
        self,
        source: Store,
        info: ObjectInfo,
        key: str,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> ObjectInfo:
        assert isinstance(source, S3Store)
        copy_source = {"Bucket": source.bucket, "Key": info.key}
        if info.version:
            copy_source["VersionId"] = info.version
        if info.size > self.copy_threshold:
            return self._multipart_copy(source, info, key, copy_source, content_type, metadata)
        arguments: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "CopySource": copy_source}
        if info.etag and not info.version:
            arguments["CopySourceIfMatch"] = _quote(info.etag)
        if content_type is not None or metadata is not None:
            complete = info if info.complete else source.head(info.key)
            arguments["MetadataDirective"] = "REPLACE"
            arguments["ContentType"] = content_type or complete.content_type
            arguments["Metadata"] = dict(
                (complete.metadata or {}) if metadata is None else metadata
            )
        with _translated(source.url(info.key), changed=True):
            response = self.client.copy_object(**arguments)
        result = response.get("CopyObjectResult", {})
        return ObjectInfo(
            key=key,
            size=info.size,
            etag=_unquote(result.get("ETag")),
            last_modified=result.get("LastModified"),
            version=response.get("VersionId"),
        )

    def _multipart_copy(
        self,
        source: S3Store,
        info: ObjectInfo,
        key: str,
        copy_source: dict[str, str],
        content_type: str | None,
        metadata: Mapping[str, str] | None,
    ) -> ObjectInfo:
        complete = info if info.complete else source.head(info.key)
        if complete.etag != info.etag:
            raise ObjectChangedError(f"{source.url(info.key)} changed before it was copied")
        extra = {
            "ContentType": content_type or complete.content_type,
            "Metadata": dict((complete.metadata or {}) if metadata is None else metadata),
        }
        if not info.version and info.etag:
            extra["CopySourceIfMatch"] = _quote(info.etag)
        config = TransferConfig(
            multipart_threshold=self.copy_threshold,
            multipart_chunksize=max(self.copy_threshold, 5 * MIB),
            max_concurrency=4,
        )
        logger.info("multipart copy of %s to %s", source.url(info.key), self.url(key))
        with _translated(source.url(info.key), changed=True):
            self.client.copy(
                copy_source,
                self.bucket,
                key,
                ExtraArgs=extra,
                Config=config,
                SourceClient=source.client,
            )
        return self.head(key)

    def create_bucket(self) -> None:
        arguments: dict[str, Any] = {"Bucket": self.bucket}
        region = self.client.meta.region_name
        if region and region != "us-east-1" and not self.options.get("endpoint_url"):
            arguments["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            with _translated(self.url("")):
                self.client.create_bucket(**arguments)
        except RequestError as error:
            code = _error_code(error.__cause__)
            if code not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                raise


def _validate_bucket(bucket: str) -> None:
    if not isinstance(bucket, str) or not _BUCKET_NAME.match(bucket) or ".." in bucket:
        raise ValueError(
            f"invalid S3 bucket name {bucket!r}: use 3 to 63 lowercase letters, digits, "
            "'.' and '-', starting and ending with a letter or digit"
        )


def _quote(etag: str) -> str:
    return etag if etag.startswith('"') or etag == "*" else f'"{etag}"'


def _unquote(etag: str | None) -> str | None:
    return etag.strip('"') if etag else etag


def _info_from_response(key: str, response: Mapping[str, Any]) -> ObjectInfo:
    return ObjectInfo(
        key=key,
        size=int(response.get("ContentLength", 0)),
        etag=_unquote(response.get("ETag")),
        last_modified=response.get("LastModified"),
        content_type=response.get("ContentType") or "application/octet-stream",
        metadata=dict(response.get("Metadata") or {}),
        version=_real_version(response.get("VersionId")),
    )


def _info_from_listing(item: Mapping[str, Any]) -> ObjectInfo:
    return ObjectInfo(
        key=item["Key"],
        size=int(item.get("Size", 0)),
        etag=_unquote(item.get("ETag")),
        last_modified=item.get("LastModified"),
    )


def _total_size(content_range: str | None) -> int | None:
    """Return the object size from a ``Content-Range: bytes 0-9/1234`` header."""
    if not content_range or "/" not in content_range:
        return None
    total = content_range.rsplit("/", 1)[1]
    return int(total) if total.isdigit() else None


def _real_version(version: str | None) -> str | None:
    # Unversioned buckets report "null"; asking for that version would be wrong.
    return None if version in (None, "", "null") else version


def _error_code(error: BaseException | None) -> str:
    if isinstance(error, botocore.exceptions.ClientError):
        return str(error.response.get("Error", {}).get("Code", ""))
    return ""


def _status(error: botocore.exceptions.ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def translate_error(
    error: Exception, url: str, *, changed: bool = False, exists: bool = False
) -> CloudyError:
    """Map a boto3 or botocore exception to the cloudyfiles exception for it.

    ``changed`` reads a failed precondition as the object having changed while being
    read; ``exists`` reads it as a conditional write finding an object.
    """
    if isinstance(error, botocore.exceptions.ClientError):
        code, status = _error_code(error), _status(error)
        message = error.response.get("Error", {}).get("Message") or code
        if code == "NoSuchBucket":
            return BucketNotFoundError(
                f"bucket of {url} not found; check the name, or pass create=True to the factory"
            )
        if code in _NOT_FOUND or status == 404:
            if changed:
                return ObjectChangedError(
                    f"{url} was deleted while being read; look the key up again"
                )
            return KeyNotFoundError(f"{url} not found")
        if code in {"PreconditionFailed", "412"} or status == 412:
            if exists:
                return KeyExistsError(f"{url} already exists")
            return ObjectChangedError(
                f"{url} was overwritten or deleted while being read; look the key up "
                "again to read the current version"
            )
        if code in _DENIED or status in (401, 403):
            return AccessDeniedError(f"access to {url} denied: {code}: {message}")
        if code in {"KeyTooLongError", "InvalidObjectName"}:
            return InvalidKeyError(f"invalid key for {url}: {message}")
        if code in _THROTTLED or status >= 500 or status == 429:
            return TransientError(f"request for {url} failed after retries: {status} {message}")
        return RequestError(f"request for {url} failed: {status} {code}: {message}")
    if isinstance(
        error, botocore.exceptions.NoCredentialsError | botocore.exceptions.PartialCredentialsError
    ):
        return AccessDeniedError(
            f"no AWS credentials found for {url}: set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, configure a profile, or pass anonymous=True for a public bucket"
        )
    if isinstance(
        error, botocore.exceptions.ReadTimeoutError | botocore.exceptions.ConnectTimeoutError
    ):
        return RequestTimeoutError(f"request for {url} timed out after retries: {error}")
    if isinstance(
        error,
        botocore.exceptions.EndpointConnectionError
        | botocore.exceptions.ConnectionClosedError
        | botocore.exceptions.IncompleteReadError
        | botocore.exceptions.ResponseStreamingError
        | botocore.exceptions.ConnectionError,
    ):
        return TransientError(f"request for {url} failed after retries: {error}")
    if isinstance(error, botocore.exceptions.ParamValidationError):
        return InvalidKeyError(f"invalid request for {url}: {error}")
    return RequestError(f"request for {url} failed: {error}")


_SDK_ERRORS = (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)


@contextlib.contextmanager
def _translated(url: str, *, changed: bool = False, exists: bool = False) -> Iterator[None]:
    try:
        yield
    except _SDK_ERRORS as error:
        raise translate_error(error, url, changed=changed, exists=exists) from error
    except Exception as error:
        # s3transfer wraps SDK errors in its own exception types.
        cause = error.__cause__ or error.__context__
        if isinstance(cause, _SDK_ERRORS) and not isinstance(error, CloudyError):
            raise translate_error(cause, url, changed=changed, exists=exists) from error
        raise


class _KeepOpen:
    """The caller's stream as passed to s3transfer: reads pass through, close does not.

    s3transfer closes the file object of a small upload, which would leave the
    caller's file closed after ``d[key] = f`` on S3 alone.
    """

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        return self._stream.read(size)

    def close(self) -> None:
        pass


class _TranslatedStream:
    """A streaming download body whose read errors come out as cloudyfiles errors."""

    def __init__(self, body: Any, url: str) -> None:
        self._body = body
        self._url = url

    def read(self, size: int = -1) -> bytes:
        with _translated(self._url):
            return self._body.read(None if size < 0 else size)  # type: ignore[no-any-return]

    def close(self) -> None:
        self._body.close()


def factory(bucket: str, prefix: str = "", **options: Any) -> type[ObjectMapping]:
    """Return the mapping class of the S3 ``bucket``, scoped to ``prefix``.

    Options are those of :class:`S3Store`, plus ``create=True`` to create the bucket
    when it does not exist and ``block_size`` for the RemoteObjects it returns.
    """
    mapping_options = pop_mapping_options(options)
    create = options.pop("create", False)
    store = S3Store(bucket, **options)
    if create:
        store.create_bucket()
    return make_factory(store, prefix, **mapping_options)
