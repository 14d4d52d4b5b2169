"""Mappings over Azure Blob Storage containers, through azure-storage-blob.

>>> from cloudyfiles.azure import factory
>>> Container = factory("my-container")                          # doctest: +SKIP
>>> d = Container(a="1")                                         # doctest: +SKIP
>>> Other = factory("c", account_url="https://acct.blob.core.windows.net")  # doctest: +SKIP

Credentials are looked up in this order:

1. the ``connection_string`` option;
2. the ``account_url`` (or ``account_name``) option, with the ``credential`` option: an
   account key, a SAS token string, an ``AzureNamedKeyCredential``, an
   ``AzureSasCredential`` or a ``TokenCredential``. Without ``credential``,
   ``azure.identity.DefaultAzureCredential`` is used, which needs
   ``pip install 'cloudyfiles[azure-identity]'``;
3. the ``AZURE_STORAGE_CONNECTION_STRING`` environment variable.

Pickled stores carry their options but no client, and an unpickling process resolves
the environment variable and ``DefaultAzureCredential`` itself. A ``TokenCredential``
object passed as ``credential`` is pickled with the options. Most cannot be pickled, so
pickling such a store raises a TypeError that names the alternatives.
"""

from __future__ import annotations

import base64
import collections
import concurrent.futures
import contextlib
import io
import logging
import os
import pickle
import random
import re
import threading
import time
import unicodedata
import uuid
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any

from ._mapping import ObjectMapping, make_factory
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
    import azure.core.exceptions as azure_errors
    from azure.core import MatchConditions
    from azure.storage.blob import (
        BlobBlock,
        BlobPrefix,
        BlobServiceClient,
        ContentSettings,
        ExponentialRetry,
    )
except ImportError as error:  # pragma: no cover - exercised without the extra
    raise MissingDependencyError(
        "cloudyfiles.azure needs azure-storage-blob: pip install 'cloudyfiles[azure]'"
    ) from error

__all__ = ["AzureStore", "factory", "translate_error"]

logger = logging.getLogger(__name__)

MIB = 1 << 20
CONNECTION_STRING_VARIABLE = "AZURE_STORAGE_CONNECTION_STRING"
MAX_NAME_CHARACTERS = 1024
"""Maximum length of a blob name, in characters."""
MAX_PATH_SEGMENTS = 254
"""Maximum number of '/'-separated segments in a blob name."""
MAX_BLOCKS = 50_000
"""Maximum number of blocks in one block blob."""

_CONTAINER_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
# Azure metadata names must be C# identifiers (ASCII letters, digits and '_').
_METADATA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DENIED_CODES = {
    "AuthenticationFailed",
    "AuthorizationFailure",
    "AuthorizationPermissionMismatch",
    "AuthorizationResourceTypeMismatch",
    "AuthorizationSourceIPMismatch",
    "AuthorizationProtocolMismatch",
    "InsufficientAccountPermissions",
    "AccountIsDisabled",
}
_INVALID_NAME_CODES = {"InvalidResourceName", "InvalidUri", "OutOfRangeInput"}
_SOURCE_NOT_FOUND_CODES = {"BlobNotFound", "CannotVerifyCopySource"}
_COPY_POLL_MAX_DELAY = 5.0


class _BackoffRetry(ExponentialRetry):  # type: ignore[misc]
    """Azure Storage's retry policy with a capped, jittered exponential backoff.

    The SDK's storage policy decides what to retry: connection errors, timeouts, 408,
    and 5xx except 501 and 505. It does not retry 429, which then raises TransientError.
    """

    def __init__(self, total: int, backoff: float, backoff_max: float) -> None:
        super().__init__(
            initial_backoff=backoff,  # type: ignore[arg-type]  # the SDK computes with floats
            retry_total=total,
            random_jitter_range=0,
        )
        self.backoff = backoff
        self.backoff_max = backoff_max

    def get_backoff_time(self, settings: dict[str, Any]) -> float:
        attempt = max(int(settings.get("count", 1)), 1)
        delay = min(self.backoff_max, self.backoff * 2 ** (attempt - 1))
        delay *= random.uniform(0.5, 1.0)
        logger.warning("Azure request failed, retry %d in %.2f s", attempt, delay)
        return delay


class AzureStore(Store):
    """A store on one Azure Blob Storage container.

    Every option is optional. The module docstring describes the credentials:
    ``connection_string``, ``account_url``, ``account_name`` and ``credential``.

    - ``retry_total``: retries per request (default 5).
    - ``retry_backoff``: seconds before the first retry, doubled for each further one
      (default 0.5), up to ``retry_backoff_max`` seconds (default 30).
    - ``connection_timeout`` and ``read_timeout``: seconds.
    - ``max_single_put_size``: bytes; larger writes are staged as blocks (default 8 MiB).
    - ``max_block_size``: bytes per staged block (default 4 MiB).
    - ``max_concurrency``: blocks uploaded at once (default 2).
    - ``max_chunk_get_size``: bytes per request of a download (default 4 MiB).
    - ``copy_timeout``: seconds to wait for a server-side copy (default 3600).
    - ``list_page_size``: page size of the listings behind ``len`` and iteration.
    """

    scheme = "az"
    # Azure limits names in characters, which validate_key checks; 1024 characters
    # take at most 4096 bytes in UTF-8.
    max_key_bytes = 4 * MAX_NAME_CHARACTERS
    literal_slashes = False
    dot_segments = False
    page_limit = 5000
    delete_batch = 256

    def __init__(self, bucket: str, **options: Any) -> None:
        _validate_container(bucket)
        super().__init__(bucket, **options)
        self._client_lock = threading.Lock()
        self._container_instance: Any = None
        self.max_single_put_size = _positive(options, "max_single_put_size", 8 * MIB)
        self.max_block_size = _positive(options, "max_block_size", 4 * MIB)
        self.max_concurrency = _positive(options, "max_concurrency", 2)
        self.max_chunk_get_size = _positive(options, "max_chunk_get_size", 4 * MIB)
        self.copy_timeout = float(options.get("copy_timeout", 3600.0))

    def __reduce__(self) -> tuple[Any, ...]:
        credential = self.options.get("credential")
        if hasattr(credential, "get_token"):
            try:
                pickle.dumps(credential)
            except Exception as error:  # noqa: BLE001  # any pickling failure means the same
                raise TypeError(
                    f"cannot pickle {self!r}: its credential {type(credential).__name__} "
                    "cannot be pickled; pass account_url without credential so that each "
                    "process builds DefaultAzureCredential, or use a connection string or "
                    "SAS token"
                ) from error
        return super().__reduce__()

    # Client

    @property
    def container(self) -> Any:
        """The ContainerClient, made on first use so that pickles carry no client."""
        if self._container_instance is None:
            with self._client_lock:
                if self._container_instance is None:
                    service = self._make_service()
                    self._container_instance = service.get_container_client(self.bucket)
        return self._container_instance

    def _make_service(self) -> Any:
        options = self.options
        settings: dict[str, Any] = {
            "retry_policy": _BackoffRetry(
                total=int(options.get("retry_total", 5)),
                backoff=float(options.get("retry_backoff", 0.5)),
                backoff_max=float(options.get("retry_backoff_max", 30.0)),
            ),
            "max_single_put_size": self.max_single_put_size,
            "max_block_size": self.max_block_size,
            "max_single_get_size": self.max_chunk_get_size,
            "max_chunk_get_size": self.max_chunk_get_size,
        }
        for name in ("connection_timeout", "read_timeout"):
            if name in options:
                settings[name] = float(options[name])
        credential = options.get("credential")
        if options.get("connection_string"):
            return BlobServiceClient.from_connection_string(
                options["connection_string"], credential=credential, **settings
            )
        account_url = self._configured_account_url()
        if account_url:
            if credential is None:
                credential = _default_credential(account_url)
            return BlobServiceClient(account_url, credential=credential, **settings)
        connection_string = os.environ.get(CONNECTION_STRING_VARIABLE)
        if connection_string:
            return BlobServiceClient.from_connection_string(
                connection_string, credential=credential, **settings
            )
        raise AccessDeniedError(
            f"no Azure account configured for {self.url('')}: set "
            f"{CONNECTION_STRING_VARIABLE}, or pass connection_string=..., or "
            "account_url=... (with credential=... or azure-identity installed)"
        )

    def _configured_account_url(self) -> str | None:
        if self.options.get("account_url"):
            return str(self.options["account_url"])
        name = self.options.get("account_name")
        return f"https://{name}.blob.core.windows.net" if name else None

    @property
    def account_url(self) -> str:
        """The blob service endpoint of the account, without a trailing '/' or query."""
        url = str(self.container.primary_endpoint)
        url = url.split("?", 1)[0].rstrip("/")
        return url.removesuffix("/" + self.bucket)

    def same_location(self, other: Store) -> bool:
        return (
            isinstance(other, AzureStore)
            and other.bucket == self.bucket
            and other.account_url == self.account_url
        )

    def _blob(self, key: str) -> Any:
        return self.container.get_blob_client(key)

    # Keys

    def validate_key(self, key: str) -> None:
        """Raise InvalidKeyError unless Azure stores the key literally.

        Beyond the shared rules, a name has at most 1024 characters and 254 path
        segments. It contains no control characters, surrogates, Unicode noncharacters
        or backslashes, which Azure turns into '/'. No segment may end with '.',
        because Azure drops trailing dots and resolves '.' and '..' segments of a URL.
        """
        super().validate_key(key)
        if len(key) > MAX_NAME_CHARACTERS:
            raise InvalidKeyError(
                f"invalid key {key[:60]!r}...: it has {len(key)} characters, and Azure "
                f"blob names may have at most {MAX_NAME_CHARACTERS}"
            )
        segments = key.split("/")
        if len(segments) > MAX_PATH_SEGMENTS:
            raise InvalidKeyError(
                f"invalid key {key[:60]!r}...: it has {len(segments)} '/'-separated "
                f"segments, and Azure blob names may have at most {MAX_PATH_SEGMENTS}"
            )
        for character in key:
            _check_character(key, character)
        for segment in segments:
            if segment.endswith("."):
                raise InvalidKeyError(
                    f"invalid key {key!r}: segment {segment!r} ends with '.', which Azure "
                    "removes from blob names; end the name or segment with another character"
                )

    # Reads

    def head(self, key: str) -> ObjectInfo:
        with _translated(self.url(key)):
            properties = self._blob(key).get_blob_properties()
        return _info_from_properties(properties)

    def lookup(self, key: str, first_bytes: int) -> tuple[ObjectInfo, bytes | None]:
        """Fetch the metadata and the first bytes of the blob with one ranged GET."""
        if first_bytes < 1:
            return super().lookup(key, first_bytes)
        with _translated(self.url(key)):
            try:
                downloader = self._blob(key).download_blob(
                    offset=0, length=first_bytes, max_concurrency=1
                )
            except azure_errors.HttpResponseError as error:
                if error.status_code != 416:
                    raise
                # Azure rejects a ranged GET of a zero-byte blob with 416.
                return self.head(key), b""
            data = downloader.readall()
        properties = downloader.properties
        # The downloader reports the size of the range; Content-Range has the blob's.
        size = _total_size(properties.content_range, len(data))
        return _info_from_properties(properties, size=size), data

    def _download(self, info: ObjectInfo, start: int, length: int | None) -> Any:
        arguments: dict[str, Any] = {"offset": start, "length": length, "max_concurrency": 1}
        if info.etag:
            arguments["etag"] = _quote(info.etag)
            arguments["match_condition"] = MatchConditions.IfNotModified
        if info.version:
            arguments["version_id"] = info.version
        with _translated(self.url(info.key), changed=True):
            return self._blob(info.key).download_blob(**arguments)

    def get_range(self, info: ObjectInfo, start: int, stop: int) -> bytes:
        # Azure has no suffix ranges; RemoteObject always passes absolute ones.
        downloader = self._download(info, start, stop - start)
        with _translated(self.url(info.key), changed=True):
            return downloader.readall()  # type: ignore[no-any-return]

    def open_stream(self, info: ObjectInfo, start: int) -> IO[bytes]:
        if start >= info.size:
            # Azure rejects a range that starts at the end of the blob with 416.
            return io.BytesIO(b"")
        downloader = self._download(info, start, None)
        return _TranslatedStream(downloader, self.url(info.key))  # type: ignore[return-value]

    # Listings

    def list_page(
        self,
        prefix: str,
        *,
        delimiter: str | None = None,
        token: str | None = None,
        page_size: int | None = None,
    ) -> ListPage:
        size = min(page_size or self.page_limit, self.page_limit)
        arguments: dict[str, Any] = {
            "name_starts_with": prefix or None,
            "include": ["metadata"],
            "results_per_page": size,
        }
        page = ListPage()
        with _translated(self.url(prefix)):
            if delimiter:
                pager = self.container.walk_blobs(delimiter=delimiter, **arguments)
            else:
                pager = self.container.list_blobs(**arguments)
            pages = pager.by_page(continuation_token=token)
            items = list(next(pages, []))
            page.next_token = pages.continuation_token or None
        for item in items:
            if isinstance(item, BlobPrefix):
                page.prefixes.append(item.name)
            else:
                page.objects.append(_info_from_properties(item))
        return page

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
        _check_metadata(self.url(key), metadata)
        body = data if isinstance(data, bytes) else bytes(data)
        with _translated(self.url(key), exists=if_absent):
            result = self._blob(key).upload_blob(
                body,
                length=len(body),
                overwrite=not if_absent,
                content_settings=ContentSettings(content_type=content_type),
                metadata=dict(metadata),
                max_concurrency=self.max_concurrency,
            )
        return _info_from_write(key, len(body), result, content_type, metadata)

    def put_stream(
        self, key: str, stream: IO[bytes], *, content_type: str, metadata: Mapping[str, str]
    ) -> ObjectInfo:
        """Store the stream with one request, or as staged blocks when it is large.

        Memory holds at most ``max_single_put_size`` bytes plus ``max_concurrency``
        blocks. The blob appears only when the block list is committed.
        """
        _check_metadata(self.url(key), metadata)
        head = _read_full(stream, self.max_single_put_size + 1)
        if len(head) <= self.max_single_put_size:
            return self.put_bytes(key, head, content_type=content_type, metadata=metadata)
        logger.debug("block upload of %s in blocks of %d bytes", self.url(key), self.max_block_size)
        blob = self._blob(key)
        with _translated(self.url(key)):
            block_list, size = self._stage_blocks(
                blob, _iter_blocks(head, stream, self.max_block_size)
            )
            result = blob.commit_block_list(
                block_list,
                content_settings=ContentSettings(content_type=content_type),
                metadata=dict(metadata),
            )
        return _info_from_write(key, size, result, content_type, metadata)

    def _stage_blocks(self, blob: Any, blocks: Iterator[bytes]) -> tuple[list[Any], int]:
        # Block ids must have one length within a blob; the random part keeps
        # concurrent uploads to one key from staging over each other's blocks.
        upload = uuid.uuid4().hex[:16]
        block_list: list[Any] = []
        size = 0
        with concurrent.futures.ThreadPoolExecutor(self.max_concurrency) as pool:
            in_flight: collections.deque[concurrent.futures.Future[Any]] = collections.deque()
            for index, block in enumerate(blocks):
                if index >= MAX_BLOCKS:
                    raise RequestError(
                        f"upload to {self.url(blob.blob_name)} needs more than {MAX_BLOCKS} "
                        f"blocks of {self.max_block_size} bytes; pass a larger max_block_size"
                    )
                block_id = base64.b64encode(f"{upload}-{index:06d}".encode()).decode()
                block_list.append(BlobBlock(block_id=block_id))
                size += len(block)
                in_flight.append(pool.submit(blob.stage_block, block_id, block, length=len(block)))
                if len(in_flight) >= self.max_concurrency:
                    in_flight.popleft().result()
            for future in in_flight:
                future.result()
        return block_list, size

    def delete(self, key: str) -> None:
        try:
            with _translated(self.url(key)):
                self._blob(key).delete_blob(delete_snapshots="include")
        except KeyNotFoundError:
            pass  # deleting an absent key is not an error

    def delete_many(self, keys: Iterable[str]) -> None:
        """Delete the keys with batch requests of at most 256 blobs, Azure's limit."""
        pending = list(keys)
        for start in range(0, len(pending), self.delete_batch):
            batch = pending[start : start + self.delete_batch]
            with _translated(self.url("")):
                responses = list(
                    self.container.delete_blobs(
                        *batch, delete_snapshots="include", raise_on_any_failure=False
                    )
                )
            self._check_batch(batch, responses)
        if pending:
            logger.info("deleted %d keys from %s", len(pending), self.url(""))

    def _check_batch(self, batch: list[str], responses: list[Any]) -> None:
        if len(responses) != len(batch):
            raise RequestError(
                f"batch delete from {self.url('')} returned {len(responses)} results for "
                f"{len(batch)} keys; list the container to see which remain"
            )
        failures = []
        for key, response in zip(batch, responses, strict=True):
            code = response.headers.get("x-ms-error-code") or ""
            if response.status_code < 300 or code == "BlobNotFound":
                continue
            failures.append((key, response.status_code, code))
        if not failures:
            return
        key, status, code = failures[0]
        first = _error_from_status(status, code, code, self.url(key), self.url(""))
        raise type(first)(
            f"failed to delete {len(failures)} of {len(batch)} keys from {self.url('')}, "
            f"first {key!r}: {status} {code}: {first}"
        )

    # Copies

    def can_copy_from(self, source: Store) -> bool:
        return isinstance(source, AzureStore) and source.account_url == self.account_url

    def copy_from(
        self,
        source: Store,
        info: ObjectInfo,
        key: str,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> ObjectInfo:
        """Copy with Copy Blob, pinned to the source's ETag, and wait until it is done.

        A non-empty ``metadata`` replaces the source's in the copy request itself. An
        empty mapping and ``content_type`` are set after the copy, pinned to its ETag.
        """
        assert isinstance(source, AzureStore)
        if metadata is not None:
            _check_metadata(self.url(key), metadata)
        arguments: dict[str, Any] = {}
        if info.etag:
            arguments["source_etag"] = _quote(info.etag)
            arguments["source_match_condition"] = MatchConditions.IfNotModified
        if metadata:
            arguments["metadata"] = dict(metadata)
        target = self._blob(key)
        logger.debug("server-side copy of %s to %s", source.url(info.key), self.url(key))
        # NOTE: the source URL carries the source's SAS token, if any. With a
        # TokenCredential the source is authorized only by the target's token, untested.
        with _translated(source.url(info.key), changed=True, bucket_url=self.url(key)):
            result = target.start_copy_from_url(source._blob(info.key).url, **arguments)
        properties = self._wait_for_copy(target, source.url(info.key), result)
        return self._replace_properties(target, properties, content_type, metadata)

    def _wait_for_copy(self, target: Any, source_url: str, result: Mapping[str, Any]) -> Any:
        # NOTE: Azurite finishes every copy before it returns, so the tests never poll
        # a pending copy or reach the timeout and abort below.
        copy_id, status = result.get("copy_id"), result.get("copy_status")
        deadline = time.monotonic() + self.copy_timeout
        delay = 0.05
        while True:
            with _translated(self.url(target.blob_name)):
                properties = target.get_blob_properties()
            copy = properties.copy
            if copy_id and copy.id and copy.id != copy_id:
                raise ObjectChangedError(
                    f"{self.url(target.blob_name)} was replaced by another write while "
                    f"{source_url} was copied to it; copy it again"
                )
            status = copy.status or status
            if status != "pending":
                break
            if time.monotonic() > deadline:
                self._abort_copy(target, copy_id)
                raise RequestTimeoutError(
                    f"copy of {source_url} to {self.url(target.blob_name)} did not finish "
                    f"within {self.copy_timeout:g} s and was aborted; pass a larger "
                    "copy_timeout"
                )
            time.sleep(delay)
            delay = min(delay * 2, _COPY_POLL_MAX_DELAY)
        if status != "success":
            raise RequestError(
                f"copy of {source_url} to {self.url(target.blob_name)} ended with status "
                f"{status!r}: {copy.status_description or 'no description'}"
            )
        return properties

    def _abort_copy(self, target: Any, copy_id: str | None) -> None:
        try:
            target.abort_copy(copy_id)
        except azure_errors.AzureError as error:
            logger.warning(
                "failed to abort the copy %s to %s: %s", copy_id, self.url(target.blob_name), error
            )

    def _replace_properties(
        self,
        target: Any,
        properties: Any,
        content_type: str | None,
        metadata: Mapping[str, str] | None,
    ) -> ObjectInfo:
        conditions = {"etag": properties.etag, "match_condition": MatchConditions.IfNotModified}
        url = self.url(target.blob_name)
        if content_type is not None:
            settings = properties.content_settings
            settings.content_type = content_type
            with _translated(url, changed=True):
                result = target.set_http_headers(content_settings=settings, **conditions)
            conditions["etag"] = result["etag"]
        if metadata is not None and not metadata:
            with _translated(url, changed=True):
                result = target.set_blob_metadata({}, **conditions)
            conditions["etag"] = result["etag"]
        if conditions["etag"] == properties.etag:
            return _info_from_properties(properties)
        return self.head(target.blob_name)

    def create_bucket(self) -> None:
        try:
            with _translated(self.url("")):
                self.container.create_container()
        except KeyExistsError:
            pass  # the container exists already
        else:
            logger.info("created container %s", self.url(""))


def _validate_container(bucket: str) -> None:
    if (
        not isinstance(bucket, str)
        or not 3 <= len(bucket) <= 63
        or not _CONTAINER_NAME.match(bucket)
    ):
        raise ValueError(
            f"invalid Azure container name {bucket!r}: use 3 to 63 lowercase letters, "
            "digits and single hyphens, starting and ending with a letter or digit"
        )


def _positive(options: Mapping[str, Any], name: str, default: int) -> int:
    value = int(options.get(name, default))
    if value <= 0:
        raise ValueError(f"invalid {name} {value}: it must be a positive number")
    return value


def _check_character(key: str, character: str) -> None:
    category = unicodedata.category(character)
    if category == "Cc":
        reason = f"control character {character!r}"
    elif category == "Cs":
        reason = f"lone surrogate {character!r}"
    elif character == "\\":
        reason = "a backslash, which Azure turns into '/'"
    elif _is_noncharacter(character):
        reason = f"Unicode noncharacter U+{ord(character):04X}"
    else:
        return
    raise InvalidKeyError(f"invalid key {key!r}: Azure blob names must not contain {reason}")


def _is_noncharacter(character: str) -> bool:
    code = ord(character)
    return 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE


def _check_metadata(url: str, metadata: Mapping[str, str]) -> None:
    for name, value in metadata.items():
        if not _METADATA_NAME.match(name):
            raise ValueError(
                f"invalid metadata name {name!r} for {url}: Azure metadata names must be "
                "C# identifiers (ASCII letters, digits and '_', not starting with a digit)"
            )
        if not value.isascii():
            raise ValueError(
                f"invalid metadata value {value!r} of {name!r} for {url}: Azure sends "
                "metadata as HTTP headers, so values must be ASCII; encode the value, "
                "for example with urllib.parse.quote"
            )


def _default_credential(account_url: str) -> Any:
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError as error:
        raise MissingDependencyError(
            f"no credential given for {account_url}: pass credential=... (an account key, "
            "a SAS token or a TokenCredential), or install azure-identity for "
            "DefaultAzureCredential: pip install 'cloudyfiles[azure-identity]'"
        ) from error
    return DefaultAzureCredential()


def _read_full(stream: IO[bytes], size: int) -> bytes:
    """Read ``size`` bytes, fewer only at the end of the stream."""
    parts = []
    remaining = size
    while remaining > 0:
        chunk = stream.read(remaining)
        if not chunk:
            break
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def _iter_blocks(head: bytes, stream: IO[bytes], size: int) -> Iterator[bytes]:
    """Yield blocks of ``size`` bytes, the last one shorter: ``head``, then the stream."""
    view = memoryview(head)
    while len(view) >= size:
        yield bytes(view[:size])
        view = view[size:]
    carry = bytes(view)
    while True:
        block = carry + _read_full(stream, size - len(carry))
        carry = b""
        if block:
            yield block
        if len(block) < size:
            return


def _quote(etag: str) -> str:
    return etag if etag.startswith('"') or etag == "*" else f'"{etag}"'


def _unquote(etag: str | None) -> str | None:
    # Properties report ETags quoted and listings unquoted; compare them unquoted.
    return etag.strip('"') if etag else etag


def _total_size(content_range: str | None, received: int) -> int:
    """Return the blob size from a Content-Range such as ``bytes 0-99/1234``."""
    if not content_range or "/" not in content_range:
        return received
    total = content_range.rsplit("/", 1)[1].strip()
    return int(total) if total.isdigit() else received


def _info_from_properties(properties: Any, size: int | None = None) -> ObjectInfo:
    settings = properties.content_settings
    return ObjectInfo(
        key=properties.name,
        size=int(properties.size or 0) if size is None else size,
        etag=_unquote(properties.etag),
        last_modified=properties.last_modified,
        content_type=(settings.content_type if settings else None) or "application/octet-stream",
        metadata=dict(properties.metadata or {}),
        version=properties.version_id or None,
    )


def _info_from_write(
    key: str, size: int, result: Mapping[str, Any], content_type: str, metadata: Mapping[str, str]
) -> ObjectInfo:
    return ObjectInfo(
        key=key,
        size=size,
        etag=_unquote(result.get("etag")),
        last_modified=result.get("last_modified"),
        content_type=content_type,
        metadata=dict(metadata),
        version=result.get("version_id") or None,
    )


def _error_code(error: Any) -> str:
    code = getattr(error, "error_code", None)
    if code is None:
        response = getattr(error, "response", None)
        code = response.headers.get("x-ms-error-code") if response is not None else None
    return str(getattr(code, "value", code) or "")


def _error_from_status(
    status: int,
    code: str,
    message: str,
    url: str,
    bucket_url: str,
    *,
    changed: bool = False,
    exists: bool = False,
) -> CloudyError:
    """Return the cloudyfiles error for an Azure status and error code."""
    missing = _missing_or_conflict(status, code, message, url, bucket_url, changed, exists)
    if missing is not None:
        return missing

    if status in (401, 403) or code in _DENIED_CODES:
        return AccessDeniedError(f"access to {url} denied: {code or status}: {message}")
    if code in _INVALID_NAME_CODES:
        return InvalidKeyError(f"invalid key for {url}: {code}: {message}")
    if status == 408 or code == "OperationTimedOut":
        return RequestTimeoutError(f"request for {url} timed out after retries: {message}")
    if status == 429 or status >= 500:
        return TransientError(f"request for {url} failed after retries: {status} {message}")
    return RequestError(f"request for {url} failed: {status} {code}: {message}")


def _missing_or_conflict(
    status: int,
    code: str,
    message: str,
    url: str,
    bucket_url: str,
    changed: bool,
    exists: bool,
) -> CloudyError | None:
    """Return the error for a missing container or blob, a lease or a failed condition."""
    if code == "ContainerNotFound":
        return BucketNotFoundError(
            f"container of {bucket_url} not found: create it, or pass create=True to factory"
        )
    if status == 404:
        if changed and code in _SOURCE_NOT_FOUND_CODES:
            return ObjectChangedError(f"{url} was deleted while being read; look the key up again")
        return KeyNotFoundError(f"{url} not found")

    if code.startswith("Lease"):
        return RequestError(
            f"{url} is leased, so the request was rejected: {code}: {message}. Release or "
            "break the lease first"
        )
    if (status == 412 and exists) or code == "BlobAlreadyExists":
        return KeyExistsError(f"{url} already exists")
    if status == 412:
        return ObjectChangedError(
            f"{url} was overwritten or deleted while being read; look the key up "
            "again to read the current version"
        )
    if status == 409 and code == "ContainerAlreadyExists":
        return KeyExistsError(f"container of {bucket_url} already exists")
    return None


def translate_error(
    error: Exception,
    url: str,
    *,
    changed: bool = False,
    exists: bool = False,
    bucket_url: str | None = None,
) -> CloudyError:
    """Map an azure-core or azure-storage-blob exception to the cloudyfiles exception.

    ``changed`` reads a failed precondition as the object having changed while being
    read; ``exists`` reads it as a conditional write finding an object.
    ``bucket_url`` names the container in a ContainerNotFound error (default ``url``).
    """
    if isinstance(error, azure_errors.ClientAuthenticationError) and not getattr(
        error, "status_code", None
    ):
        # Raised by a credential (azure-identity) before any request was sent.
        return AccessDeniedError(f"no usable Azure credential for {url}: {error}")
    if isinstance(error, azure_errors.IncompleteReadError):
        return TransientError(f"download of {url} broke off after retries: {error}")
    if isinstance(error, azure_errors.HttpResponseError) and error.status_code:
        message = str(error.reason or error.message or "").splitlines()[0:1]
        return _error_from_status(
            int(error.status_code),
            _error_code(error),
            message[0] if message else "",
            url,
            bucket_url or url,
            changed=changed,
            exists=exists,
        )
    if isinstance(
        error,
        azure_errors.ServiceRequestTimeoutError | azure_errors.ServiceResponseTimeoutError,
    ):
        return RequestTimeoutError(f"request for {url} timed out after retries: {error}")
    if isinstance(error, azure_errors.ServiceRequestError | azure_errors.ServiceResponseError):
        return TransientError(f"request for {url} failed after retries: {error}")
    return RequestError(f"request for {url} failed: {error}")


@contextlib.contextmanager
def _translated(
    url: str, *, changed: bool = False, exists: bool = False, bucket_url: str | None = None
) -> Iterator[None]:
    try:
        yield
    except azure_errors.AzureError as error:
        raise translate_error(
            error, url, changed=changed, exists=exists, bucket_url=bucket_url
        ) from error


class _TranslatedStream:
    """A streaming download whose read errors come out as cloudyfiles errors.

    The SDK's downloader fetches ``max_chunk_get_size`` bytes per request, each pinned
    to the ETag of the first response, so memory stays bounded.
    """

    def __init__(self, downloader: Any, url: str) -> None:
        self._downloader = downloader
        self._url = url

    def read(self, size: int = -1) -> bytes:
        with _translated(self._url, changed=True):
            return self._downloader.read(size)  # type: ignore[no-any-return]

    def close(self) -> None:
        self._downloader = _EMPTY


class _Empty:
    def read(self, size: int = -1) -> bytes:
        return b""


_EMPTY = _Empty()


def factory(container: str, prefix: str = "", **options: Any) -> type[ObjectMapping]:
    """Return the mapping class of the Azure ``container``, scoped to ``prefix``.

    Options are those of :class:`AzureStore`, plus ``create=True`` to create the
    container when it does not exist and ``block_size`` for the RemoteObjects it
    returns.
    """
    mapping_options = {name: options.pop(name) for name in ("block_size",) if name in options}
    create = options.pop("create", False)
    store = AzureStore(container, **options)
    if create:
        store.create_bucket()
    return make_factory(store, prefix, **mapping_options)
