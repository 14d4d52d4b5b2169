"""The seam between the mapping and each vendor: the :class:`Store` interface.

A store speaks to one bucket (or container, or root folder) and knows nothing of
prefixes, value conversion or dict semantics; :mod:`cloudyfiles._mapping` and
:class:`cloudyfiles.common.RemoteObject` build those on top. Keys passed to a store are
full object names. Byte ranges are end-exclusive ``[start, stop)`` everywhere.

A backend may replace its transport (an SDK, a faster HTTP client) without touching the
mapping, as long as it keeps this interface.
"""

from __future__ import annotations

import abc
import datetime
import io
import mimetypes
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, ClassVar

from .errors import InvalidKeyError, KeyNotFoundError, NotSupportedError

__all__ = ["ListPage", "ObjectInfo", "Store", "guess_content_type", "page_from_sorted"]

DEFAULT_CONTENT_TYPE = "application/octet-stream"


def guess_content_type(key: str) -> str:
    """Return the MIME type for the key's extension, or ``application/octet-stream``."""
    content_type, _ = mimetypes.guess_type(key, strict=False)
    return content_type or DEFAULT_CONTENT_TYPE


@dataclass(frozen=True)
class ObjectInfo:
    """Metadata of one stored object, as a HEAD, a listing or a write reports it."""

    key: str
    """Full object name in the bucket."""
    size: int
    """Length of the contents in bytes."""
    etag: str | None = None
    """Opaque version tag; equal tags mean equal contents within one store."""
    last_modified: datetime.datetime | None = None
    """Time of the last write, timezone-aware."""
    content_type: str | None = None
    """MIME type, or None when the source (a listing) did not report it."""
    metadata: Mapping[str, str] | None = None
    """User metadata, or None when the source did not report it."""
    version: str | None = None
    """Vendor version id (S3 VersionId, GCS generation) when the store has one."""

    @property
    def complete(self) -> bool:
        """Whether content type and user metadata are known, so no HEAD is needed."""
        return self.content_type is not None and self.metadata is not None


@dataclass
class ListPage:
    """One page of a listing: objects, then folder prefixes when a delimiter was given."""

    objects: list[ObjectInfo] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    next_token: str | None = None
    """Opaque token that fetches the next page, or None on the last page."""


class Store(abc.ABC):
    """Access to one bucket of one vendor.

    Subclasses declare their capabilities as class attributes, so shared code and the
    conformance suite ask the attribute rather than the class.
    """

    scheme: ClassVar[str]
    """URL scheme of the backend, such as ``s3``."""
    max_key_bytes: ClassVar[int] = 1024
    """Maximum object name length the vendor accepts, in UTF-8 bytes."""
    literal_slashes: ClassVar[bool] = True
    """Whether keys with leading, trailing or doubled ``/`` are stored literally."""
    dot_segments: ClassVar[bool] = True
    """Whether keys with ``.`` or ``..`` path segments are stored literally."""
    reserved_keys: ClassVar[frozenset[str]] = frozenset()
    """Whole keys the vendor forbids although their parts are allowed (GCS: ``.``)."""
    nested_keys: ClassVar[bool] = True
    """Whether one key may be an object and the folder of others (``a`` and ``a/b``)."""
    conditional_put: ClassVar[bool] = True
    """Whether a write can require that the key is absent, atomically on the server."""
    server_side_copy: ClassVar[bool] = True
    """Whether copies within the vendor run on the server."""
    page_limit: ClassVar[int] = 1000
    """Largest listing page the vendor returns."""
    delete_batch: ClassVar[int] = 1000
    """Maximum number of keys that one batched delete request removes."""
    process_shared: ClassVar[bool] = True
    """Whether another process that reopens the store sees the same objects."""

    def __init__(self, bucket: str, **options: Any) -> None:
        self.bucket = bucket
        self.options = options
        self.list_page_size: int | None = options.get("list_page_size")
        """Page size of the listings behind ``len`` and iteration; None for the vendor's."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.bucket!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickle the location and the options, never a live client: the unpickling
        # process builds its own client and resolves credentials itself.
        return (_reopen_store, (type(self), self.bucket, self.options))

    def same_location(self, other: Store) -> bool:
        """Return whether both stores address the same bucket of the same service."""
        return type(self) is type(other) and self.bucket == other.bucket

    def url(self, key: str) -> str:
        """Return the URL of the object, such as ``s3://bucket/key``."""
        return f"{self.scheme}://{self.bucket}/{key}"

    def validate_key(self, key: str) -> None:
        """Raise InvalidKeyError unless the vendor can store the full key."""
        if not key:
            raise InvalidKeyError("invalid key '': keys must not be empty")
        try:
            size = len(key.encode("utf-8"))
        except UnicodeEncodeError:
            raise InvalidKeyError(
                f"invalid key {key!r}: it contains a lone surrogate, which no store can "
                "encode as UTF-8; decode the name with errors='strict' or 'replace' first"
            ) from None
        if size > self.max_key_bytes:
            raise InvalidKeyError(
                f"invalid key {key[:60]!r}...: it is {size} bytes in UTF-8, and "
                f"{self.scheme} keys may be at most {self.max_key_bytes} bytes"
            )
        if key in self.reserved_keys:
            raise InvalidKeyError(
                f"invalid key {key!r}: {self.scheme} object names cannot be any of "
                f"{sorted(self.reserved_keys)}"
            )
        segments = key.split("/")
        if not self.literal_slashes and "" in segments:
            raise InvalidKeyError(
                f"invalid key {key!r}: this store maps '/' to folders, so keys must not "
                "start or end with '/' or contain '//'"
            )
        if not self.dot_segments and ("." in segments or ".." in segments):
            raise InvalidKeyError(
                f"invalid key {key!r}: this store maps '/' to folders, so '.' and '..' "
                "segments are not allowed"
            )

    # Reads

    @abc.abstractmethod
    def head(self, key: str) -> ObjectInfo:
        """Return the complete metadata of the object; raise KeyNotFoundError if absent."""

    def exists(self, key: str) -> bool:
        """Return whether an object is stored under ``key``, with one metadata request.

        The default sends :meth:`head`; backends override this with a cheaper check.
        """
        try:
            self.head(key)
        except KeyNotFoundError:
            return False
        return True

    def lookup(self, key: str, first_bytes: int) -> tuple[ObjectInfo, bytes | None]:
        """Return the complete metadata of the object and, optionally, its first bytes.

        A backend may fetch both with one ranged GET of ``[0, first_bytes)``, and then
        returns the bytes it received: the whole contents when the object is no longer
        than ``first_bytes``. The default sends :meth:`head` and returns None for the
        bytes. Raises KeyNotFoundError if the key is absent.
        """
        return self.head(key), None

    @abc.abstractmethod
    def get_range(self, info: ObjectInfo, start: int, stop: int) -> bytes:
        """Return bytes ``[start, stop)`` of exactly the version that ``info`` describes.

        Callers clip the range to the object's size and never ask for an empty one.
        Raises ObjectChangedError when that version is no longer the stored one.
        """

    def open_stream(self, info: ObjectInfo, start: int) -> IO[bytes]:
        """Return a binary stream of the version ``info`` describes, from ``start`` on.

        The default reads one range; backends override this with a streaming download.
        """
        return io.BytesIO(self.get_range(info, start, info.size))

    def get_many_bytes(self, keys: list[str], concurrency: int) -> list[bytes] | None:
        """Return the contents of ``keys`` with up to ``concurrency`` requests in flight.

        Returns None when the store has no faster way than one thread per request,
        and the caller then uses a thread pool. Raises KeyNotFoundError for a missing key.
        """
        return None

    def put_many_bytes(
        self,
        items: list[tuple[str, bytes | bytearray | memoryview, str]],
        concurrency: int,
    ) -> bool:
        """Store ``(key, data, content_type)`` items with up to ``concurrency`` in flight.

        Returns False, having stored nothing, when the store has no faster way than one
        thread per request.
        """
        return False

    # Listings

    @abc.abstractmethod
    def list_page(
        self,
        prefix: str,
        *,
        delimiter: str | None = None,
        token: str | None = None,
        page_size: int | None = None,
    ) -> ListPage:
        """Return one page of the objects whose names start with ``prefix``, in order."""

    def iter_objects(self, prefix: str) -> Iterator[ObjectInfo]:
        """Yield every object under ``prefix``, fetching page after page."""
        token = None
        while True:
            page = self.list_page(prefix, token=token, page_size=self.list_page_size)
            yield from page.objects
            token = page.next_token
            if token is None:
                return

    # Writes

    @abc.abstractmethod
    def put_bytes(
        self,
        key: str,
        data: bytes | bytearray | memoryview,
        *,
        content_type: str,
        metadata: Mapping[str, str],
        if_absent: bool = False,
    ) -> ObjectInfo:
        """Store ``data`` under ``key``; with ``if_absent``, raise KeyExistsError if taken."""

    @abc.abstractmethod
    def put_stream(
        self,
        key: str,
        stream: IO[bytes],
        *,
        content_type: str,
        metadata: Mapping[str, str],
    ) -> ObjectInfo:
        """Store what ``stream.read`` yields, in parts, without holding it all in memory."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Delete the object; deleting an absent key is not an error."""

    def delete_many(self, keys: Iterable[str]) -> None:
        """Delete every key; backends override this with batched requests."""
        for key in keys:
            self.delete(key)

    def copy_from(
        self,
        source: Store,
        info: ObjectInfo,
        key: str,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> ObjectInfo:
        """Copy the object ``info`` of ``source`` to ``key`` on the server.

        Called only when :meth:`can_copy_from` is true. ``content_type`` and ``metadata``
        replace the source's when given.
        """
        raise NotSupportedError(f"{type(self).__name__} cannot copy on the server")

    def can_copy_from(self, source: Store) -> bool:
        """Return whether a copy from ``source`` can run on the server."""
        return False

    def create_bucket(self) -> None:
        """Create the bucket if it does not exist yet."""
        raise NotSupportedError(f"{type(self).__name__} cannot create buckets")


def _reopen_store(cls: type[Store], bucket: str, options: dict[str, Any]) -> Store:
    return cls(bucket, **options)


def page_from_sorted(
    infos: Iterable[ObjectInfo],
    prefix: str,
    *,
    delimiter: str | None,
    token: str | None,
    page_size: int,
) -> ListPage:
    """Cut one listing page from objects sorted by key, as S3's ListObjectsV2 would.

    ``infos`` must start after ``token`` and hold only keys under ``prefix``. Objects
    and folder prefixes both count toward ``page_size``; the token of the next page is
    the last name returned.
    """
    page = ListPage()
    count = 0
    last = None
    for info in infos:
        if token and delimiter and token.endswith(delimiter) and info.key.startswith(token):
            continue  # inside the folder that ended the previous page
        if count >= page_size:
            page.next_token = last
            return page
        if delimiter:
            cut = info.key.find(delimiter, len(prefix))
            if cut >= 0:
                folder = info.key[: cut + len(delimiter)]
                if folder != last:
                    page.prefixes.append(folder)
                    last = folder
                    count += 1
                continue
        page.objects.append(info)
        last = info.key
        count += 1
    return page
