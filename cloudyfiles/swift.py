"""Mappings over OpenStack Swift containers through python-swiftclient.

Swift is what Rackspace Cloud Files runs.

>>> from cloudyfiles.swift import factory
>>> Local = factory(                                    # doctest: +SKIP
...     "photos",
...     auth_url="http://127.0.0.1:8080/auth/v1.0",     # tempauth (v1)
...     user="test:tester",
...     key="testing",
...     create=True,
... )
>>> Project = factory(                                  # doctest: +SKIP
...     "photos",
...     auth_url="https://keystone.example.com/v3",     # Keystone v3
...     username="ana",
...     password="...",
...     project_name="research",
...     user_domain_name="Default",
...     project_domain_name="Default",
...     region_name="RegionOne",
... )

Rackspace Cloud Files: ``rackspace=True`` (or ``preset="rackspace"``) fills in Rackspace's
identity endpoint (``https://identity.api.rackspacecloud.com/v2.0/``, Keystone v2.0) and
takes the region as a code or a city name: ``DFW`` (Dallas), ``ORD`` (Chicago), ``IAD``
(Northern Virginia), ``LON`` (London), ``SYD`` (Sydney) or ``HKG`` (Hong Kong). Log in with
an API key or a password; ``interface="internal"`` picks the ServiceNet endpoint, which
only servers inside the same Rackspace region can reach::

    Files = factory("backups", rackspace=True, username="ana", api_key="...",
                    region_name="ORD")

Without credential options, the settings come from the environment, as in the OpenStack
and swift command line clients. The variables are ``OS_AUTH_URL``, ``OS_USERNAME``,
``OS_PASSWORD``, ``OS_PROJECT_NAME`` or ``OS_PROJECT_ID``, ``OS_USER_DOMAIN_NAME``,
``OS_PROJECT_DOMAIN_NAME``, ``OS_REGION_NAME``,
``OS_INTERFACE``, ``OS_AUTH_VERSION`` (or ``OS_IDENTITY_API_VERSION``), ``ST_AUTH``,
``ST_USER`` and ``ST_KEY`` for tempauth, and ``OS_STORAGE_URL`` with ``OS_AUTH_TOKEN`` for
a token obtained beforehand. That is what ``from_url("swift://container/prefix")`` uses.
Keystone needs the ``keystoneauth1`` package (``pip install 'cloudyfiles[swift]'``).

Objects larger than ``segment_size`` upload as Static Large Objects whose segments go to
the container ``<container>_segments``; deleting such an object deletes its segments.
"""

from __future__ import annotations

import contextlib
import datetime
import email.utils
import hashlib
import http.client
import json
import logging
import os
import threading
import time
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

from ._mapping import ObjectMapping, make_factory, pop_mapping_options
from ._store import ListPage, ObjectInfo, Store
from ._swift_auth import (
    AUTH_OPTIONS,
    RACKSPACE_AUTH_URL,
    RACKSPACE_REGIONS,
    SwiftAuth,
    keystone_session,
    resolve_auth,
)
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
    import requests.exceptions
    import swiftclient
    import urllib3.exceptions
    from swiftclient.exceptions import ClientException
    from swiftclient.utils import LengthWrapper
except ImportError as error:  # pragma: no cover - exercised without the extra
    raise MissingDependencyError(
        "cloudyfiles.swift needs python-swiftclient: pip install 'cloudyfiles[swift]'"
    ) from error

__all__ = [
    "RACKSPACE_AUTH_URL",
    "RACKSPACE_REGIONS",
    "SwiftAuth",
    "SwiftStore",
    "factory",
    "resolve_auth",
    "translate_error",
]

logger = logging.getLogger(__name__)

MIB = 1 << 20
MAX_CONTAINER_BYTES = 256
"""Maximum container name length of Swift (``max_container_name_length``), in UTF-8 bytes."""
MAX_MANIFEST_SEGMENTS = 1000
"""Default ``max_manifest_segments`` of Swift's SLO middleware."""
_OTHER_OPTIONS = (
    "auth_version",
    "project_name",
    "project_id",
    "user_domain_name",
    "project_domain_name",
    "region_name",
    "interface",
    "rackspace",
    "preset",
    "retries",
    "starting_backoff",
    "max_backoff",
    "timeout",
    "insecure",
    "cacert",
    "segment_size",
    "segment_container",
    "list_page_size",
)
_META_PREFIX = "x-object-meta-"
# Swift's defaults for user metadata (swift.common.constraints).
_MAX_META_NAME = 128
_MAX_META_VALUE = 256
_MAX_META_COUNT = 90
_MAX_META_TOTAL = 4096


class SwiftStore(Store):
    """A store on one Swift container.

    Options are all optional; the module docs list those for authentication.

    - ``retries``: retries per request after the first try, with swiftclient's
      exponential backoff (default 5).
    - ``starting_backoff`` and ``max_backoff``: backoff bounds in seconds (default 1 and 64).
    - ``timeout``: seconds for connecting and for each read (default 60).
    - ``insecure`` and ``cacert``: TLS certificate checks.
    - ``segment_size``: bytes (default 64 MiB). File objects larger than this upload as
      Static Large Objects in segments of this size, and each segment is held in memory
      while it uploads.
    - ``segment_container``: container of the segments (default ``<container>_segments``).

    One swiftclient ``Connection`` is made per thread, since a connection is not
    thread-safe; the token is shared, so only the first thread logs in.
    """

    scheme = "swift"
    max_key_bytes = 1024
    page_limit = 10000
    # put_bytes(if_absent=True) sends If-None-Match: *, but the object server checks it
    # before it stores the body, so two concurrent writers can both succeed. Seen on
    # Swift 2.38 with one replica.
    conditional_put = False
    # Swift's bulk middleware accepts 10000 deletes per request by default. Smaller batches
    # keep each request short, and within the lower limits that some clusters set.
    delete_batch = 1000

    def __init__(self, bucket: str, **options: Any) -> None:
        _validate_container(bucket)
        unknown = sorted(set(options) - set(AUTH_OPTIONS) - set(_OTHER_OPTIONS))
        if unknown:
            raise TypeError(
                f"unknown Swift option {unknown[0]!r}: use one of "
                f"{', '.join(sorted((*AUTH_OPTIONS, *_OTHER_OPTIONS)))}"
            )
        super().__init__(bucket, **options)
        self.retries = int(options.get("retries", 5))
        self.starting_backoff = float(options.get("starting_backoff", 1))
        self.max_backoff = float(options.get("max_backoff", 64))
        self.timeout = options.get("timeout", 60)
        self.segment_size = int(options.get("segment_size", 64 * MIB))
        self.segment_container = str(options.get("segment_container") or f"{bucket}_segments")
        if self.segment_size < 1:
            raise ValueError(
                f"invalid segment_size {self.segment_size}: it must be at least 1 byte"
            )
        self._local = threading.local()
        self._lock = threading.Lock()
        self._auth: SwiftAuth | None = None
        self._keystone: Any = None
        self._token: tuple[str, str] | None = None

    # Connections

    @property
    def auth(self) -> SwiftAuth:
        """Authentication settings, resolved from the options or the environment on first use."""
        if self._auth is None:
            self._auth = resolve_auth(self.options)
        return self._auth

    @property
    def connection(self) -> Any:
        """This thread's ``swiftclient.Connection``, made on first use."""
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = self._new_connection()
        return connection

    def _new_connection(self) -> Any:
        auth = self.auth
        verify = self.options.get("cacert") or not self.options.get("insecure", False)
        kwargs: dict[str, Any] = {
            "retries": self.retries,
            "starting_backoff": self.starting_backoff,
            "max_backoff": self.max_backoff,
            "timeout": self.timeout,
            "insecure": bool(self.options.get("insecure", False)),
            "cacert": self.options.get("cacert"),
            "os_options": {
                "region_name": auth.region_name,
                "endpoint_type": auth.interface,
                "service_type": "object-store",
            },
        }
        if auth.has_credentials and auth.auth_version == "1":
            kwargs.update(
                authurl=auth.auth_url, user=auth.username, key=auth.password, auth_version="1"
            )
        elif auth.has_credentials:
            kwargs["session"] = self._keystone_session(verify)
        storage_url, token = self._token or (auth.storage_url, auth.auth_token)
        if storage_url:
            kwargs["preauthurl"] = storage_url
        if token:
            kwargs["preauthtoken"] = token
        return swiftclient.Connection(**kwargs)

    def _keystone_session(self, verify: Any) -> Any:
        with self._lock:
            if self._keystone is None:
                self._keystone = keystone_session(self.auth, self.timeout, verify)
            return self._keystone

    @property
    def storage_url(self) -> str:
        """Account URL that requests go to, such as ``http://host/v1/AUTH_test``; logs in once."""
        connection = self.connection
        if not connection.url:
            with _translated(self.url("")):
                self._request("HEAD", None, container=self.bucket, ok=(404,))
        return str(connection.url)

    def same_location(self, other: Store) -> bool:
        return (
            isinstance(other, SwiftStore)
            and other.bucket == self.bucket
            and other.storage_url == self.storage_url
        )

    def _request(
        self,
        method: str,
        key: str | None,
        *,
        container: str | None = None,
        query: str | None = None,
        headers: Mapping[str, str] | None = None,
        data: Any = None,
        stream: bool = False,
        reset: Any = None,
        connection: Any = None,
        ok: tuple[int, ...] = (),
    ) -> _Response:
        """Send one request through swiftclient's retry loop and return the response.

        ``key`` None addresses the container, and ``container`` None with it the account.
        Statuses in ``ok`` are returned instead of raised.
        """
        connection = connection or self.connection
        path = _path(container if container is not None else self.bucket, key)
        if container is None and key is None:
            path = ""
        logger.debug("%s %s/%s", method, self.bucket, key or "")
        try:
            # NOTE: Connection._retry is swiftclient's private retry loop (stable through
            # python-swiftclient 4.11). Its public methods quote names with
            # urllib.parse.quote, and requests then drops '.' and '..' segments from the
            # URL, so 'a/../b' would reach the object 'b'. _path encodes those dots.
            return connection._retry(  # type: ignore[no-any-return]
                reset, _send, method, path, query, dict(headers or {}), data, stream, ok
            )
        finally:
            if connection.url and connection.token:
                self._token = (connection.url, connection.token)

    # Keys

    def validate_key(self, key: str) -> None:
        super().validate_key(key)
        _check_swift_text(key, "key", "object names")

    # Reads

    def head(self, key: str) -> ObjectInfo:
        with _translated(self.url(key)):
            response = self._request("HEAD", key)
        return _info_from_headers(key, response.headers)

    def get_range(self, info: ObjectInfo, start: int, stop: int) -> bytes:
        headers = _pinned({"Range": f"bytes={start}-{stop - 1}"}, info)
        with _translated(self.url(info.key), changed=True):
            response = self._request("GET", info.key, headers=headers)
        body = response.body
        if response.status == 200:
            body = body[start:stop]  # the server sent the whole object
        return body

    def open_stream(self, info: ObjectInfo, start: int) -> IO[bytes]:
        return _SwiftStream(self, info, start)  # type: ignore[return-value]

    # Listings

    def list_page(
        self,
        prefix: str,
        *,
        delimiter: str | None = None,
        token: str | None = None,
        page_size: int | None = None,
    ) -> ListPage:
        limit = min(page_size or self.page_limit, self.page_limit)
        with _translated(self.url(prefix), bucket=True):
            _, listing = self.connection.get_container(
                self.bucket, marker=token, limit=limit, prefix=prefix or None, delimiter=delimiter
            )
        page = ListPage()
        for item in listing:
            if "subdir" in item:
                page.prefixes.append(item["subdir"])
            else:
                page.objects.append(_info_from_listing(item))
        if len(listing) >= limit:
            last = listing[-1]
            page.next_token = last.get("name") or last.get("subdir")
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
        payload = bytes(data)
        headers = _write_headers(content_type, metadata)
        headers["ETag"] = hashlib.md5(payload, usedforsecurity=False).hexdigest()
        if if_absent:
            headers["If-None-Match"] = "*"
        with _translated(self.url(key), exists=if_absent, bucket=True):
            response = self._request("PUT", key, headers=headers, data=payload)
        return ObjectInfo(
            key=key,
            size=len(payload),
            etag=_unquote(response.headers.get("etag")),
            last_modified=_http_date(response.headers.get("last-modified")),
            content_type=content_type,
            metadata=dict(metadata),
        )

    def put_stream(
        self, key: str, stream: IO[bytes], *, content_type: str, metadata: Mapping[str, str]
    ) -> ObjectInfo:
        """Store the stream in one PUT, or as a Static Large Object above ``segment_size``.

        A seekable stream of known size up to ``segment_size`` is sent as it is read.
        Otherwise the first ``segment_size + 1`` bytes are read to choose, so memory stays
        within about one segment.
        """
        # NOTE: overwriting a Static Large Object leaves its old segments in the segment
        # container, as the swift CLI does with --leave-segments.
        headers = _write_headers(content_type, metadata)
        size = _remaining_size(stream)
        if size is not None and size <= self.segment_size:
            return self._put_sized_stream(key, stream, size, content_type, headers)
        first = _read_up_to(stream, self.segment_size + 1)
        if len(first) <= self.segment_size:
            return self.put_bytes(key, first, content_type=content_type, metadata=metadata)
        return self._put_large_object(key, _segments(stream, first, self.segment_size), headers)

    def _put_sized_stream(
        self, key: str, stream: IO[bytes], size: int, content_type: str, headers: dict[str, str]
    ) -> ObjectInfo:
        body = LengthWrapper(stream, size, md5=True)
        headers["Content-Length"] = str(size)
        with _translated(self.url(key), bucket=True):
            response = self._request(
                "PUT", key, headers=headers, data=body, reset=lambda *_, **__: body.reset()
            )
        etag = _unquote(response.headers.get("etag"))
        if etag != body.get_md5sum():
            raise TransientError(
                f"upload of {self.url(key)} was corrupted on the way (ETag {etag}, local MD5 "
                f"{body.get_md5sum()}); store it again"
            )
        return self.head(key)

    def _put_large_object(
        self, key: str, segments: Iterator[bytes], headers: dict[str, str]
    ) -> ObjectInfo:
        self._create_container(self.segment_container)
        prefix = _segment_prefix(key, self.segment_size)
        entries: list[dict[str, Any]] = []
        try:
            for index, segment in enumerate(segments):
                entries.append(self._put_segment(key, f"{prefix}/{index:08d}", segment, index))
            logger.info("writing SLO manifest %s of %d segments", self.url(key), len(entries))
            manifest = json.dumps(entries).encode("utf-8")
            with _translated(self.url(key), bucket=True):
                self._request(
                    "PUT", key, query="multipart-manifest=put", headers=headers, data=manifest
                )
        except BaseException:
            self._delete_segments(entries)
            raise
        return self.head(key)

    def _put_segment(self, key: str, name: str, segment: bytes, index: int) -> dict[str, Any]:
        if index >= MAX_MANIFEST_SEGMENTS:
            raise ValueError(
                f"{self.url(key)} needs more than {MAX_MANIFEST_SEGMENTS} segments of "
                f"{self.segment_size} bytes: pass a larger segment_size"
            )
        etag = hashlib.md5(segment, usedforsecurity=False).hexdigest()
        with _translated(f"swift://{self.segment_container}/{name}", bucket=True):
            self._request(
                "PUT", name, container=self.segment_container, headers={"ETag": etag}, data=segment
            )
        return {
            "path": f"/{self.segment_container}/{name}",
            "etag": etag,
            "size_bytes": len(segment),
        }

    def _delete_segments(self, entries: list[dict[str, Any]]) -> None:
        if entries:
            logger.warning("upload failed: deleting %d uploaded segments", len(entries))
        for entry in entries:
            name = entry["path"].split("/", 2)[2]
            try:
                with _translated(f"swift://{self.segment_container}/{name}"):
                    self._request("DELETE", name, container=self.segment_container, ok=(404,))
            except CloudyError as error:
                logger.warning("could not delete segment %s: %s", name, error)

    def delete(self, key: str) -> None:
        """Delete the object, and its segments when it is a Static Large Object."""
        headers = {"Accept": "application/json"}
        with _translated(self.url(key)):
            response = self._request(
                "DELETE", key, query="multipart-manifest=delete", headers=headers, ok=(404,)
            )
        if _not_a_manifest(response):
            with _translated(self.url(key)):
                self._request("DELETE", key, ok=(404,))

    def delete_many(self, keys: Iterable[str]) -> None:
        """Delete the keys with bulk-delete requests; Static Large Objects one by one.

        Large objects are found with one listing of the range the keys span, because the
        bulk middleware would delete only their manifests and leave the segments behind.
        """
        names = sorted(set(keys))
        for start in range(0, len(names), self.delete_batch):
            batch = names[start : start + self.delete_batch]
            large = self._large_objects(batch)
            for key in large:
                self.delete(key)
            plain = [key for key in batch if key not in large]
            if plain and not self._bulk_delete(plain):
                for key in plain:
                    self.delete(key)

    def _large_objects(self, names: list[str]) -> set[str]:
        requested = set(names)
        found: set[str] = set()
        prefix = os.path.commonprefix(names)
        marker = names[0][:-1]  # sorts just before the first name
        while True:
            with _translated(self.url(prefix), bucket=True):
                _, listing = self.connection.get_container(
                    self.bucket,
                    marker=marker or None,
                    prefix=prefix or None,
                    end_marker=names[-1] + "\x01",
                    limit=self.page_limit,
                )
            found.update(i["name"] for i in listing if "slo_etag" in i and i["name"] in requested)
            if len(listing) < self.page_limit:
                return found
            marker = listing[-1]["name"]

    def _bulk_delete(self, names: list[str]) -> bool:
        """Delete ``names`` in one request; return False when the cluster has no bulk delete."""
        body = "\n".join(urllib.parse.quote(f"/{self.bucket}/{name}") for name in names)
        headers = {"Content-Type": "text/plain", "Accept": "application/json"}
        logger.info("bulk delete of %d objects from %s", len(names), self.url(""))
        with _translated(self.url(""), bucket=True):
            response = self._request(
                "POST",
                None,
                container=None,
                query="bulk-delete",
                headers=headers,
                data=body.encode("utf-8"),
            )
        try:
            result = json.loads(response.body)
        except ValueError:
            result = None
        if not isinstance(result, dict) or "Number Deleted" not in result:
            logger.warning("%s has no bulk delete middleware: deleting one by one", self.url(""))
            return False
        _check_bulk_result(result, self.url(""), len(names))
        return True

    # Copies

    def can_copy_from(self, source: Store) -> bool:
        return isinstance(source, SwiftStore) and source.storage_url == self.storage_url

    def copy_from(
        self,
        source: Store,
        info: ObjectInfo,
        key: str,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> ObjectInfo:
        """Copy the object on the server, pinned to the ETag in ``info``.

        A Static Large Object is copied segment by segment: one server-side copy per
        segment into this store's segment container, then a new manifest. The other two
        ways are wrong. Copying only the manifest (``multipart-manifest=get``) shares the
        segments, so deleting either object deletes them under the other. Copying the
        whole object in one request is limited to 5 GiB. It also keeps the source's SLO
        ETag in system metadata (Swift 2.38), and ``If-Match`` on the copy compares against
        that ETag, so every pinned read of the copy fails.
        """
        assert isinstance(source, SwiftStore)
        with _translated(source.url(info.key)):
            current = source._request("HEAD", info.key).headers
        if info.etag and _unquote(current.get("etag")) != info.etag:
            raise ObjectChangedError(
                f"{source.url(info.key)} changed before it was copied (ETag {info.etag} is "
                f"now {_unquote(current.get('etag'))}); look the key up again"
            )
        if current.get("x-static-large-object", "").lower() == "true":
            return self._copy_large_object(source, info, key, current, content_type, metadata)
        headers = _copy_headers(content_type, metadata)
        headers["X-Copy-From"] = _path(source.bucket, info.key)
        _pinned(headers, info)
        with _translated(source.url(info.key), changed=True):
            response = self._request("PUT", key, headers=headers, data=b"")
        return ObjectInfo(
            key=key,
            size=info.size,
            etag=_unquote(response.headers.get("etag")),
            last_modified=_http_date(response.headers.get("last-modified")),
        )

    def _copy_large_object(
        self,
        source: SwiftStore,
        info: ObjectInfo,
        key: str,
        current: Mapping[str, str],
        content_type: str | None,
        metadata: Mapping[str, str] | None,
    ) -> ObjectInfo:
        # If-Match on a manifest GET fails in Swift 2.38 (500 with format=raw, 412 without),
        # so the timestamp of the write pins the manifest to the version just checked.
        with _translated(source.url(info.key), changed=True):
            response = source._request("GET", info.key, query="multipart-manifest=get&format=raw")
        if response.headers.get("x-timestamp") != current.get("x-timestamp"):
            raise ObjectChangedError(f"{source.url(info.key)} changed while it was copied")
        segments = json.loads(response.body)
        logger.info(
            "copying %s to %s in %d segments", source.url(info.key), self.url(key), len(segments)
        )
        self._create_container(self.segment_container)
        prefix = _segment_prefix(key, self.segment_size)
        entries: list[dict[str, Any]] = []
        try:
            for index, segment in enumerate(segments):
                entries.append(self._copy_segment(f"{prefix}/{index:08d}", segment))
            described = _info_from_headers(info.key, current)
            headers = _write_headers(
                content_type or described.content_type or "application/octet-stream",
                (described.metadata or {}) if metadata is None else metadata,
            )
            with _translated(self.url(key), bucket=True):
                self._request(
                    "PUT",
                    key,
                    query="multipart-manifest=put",
                    headers=headers,
                    data=json.dumps(entries).encode("utf-8"),
                )
        except BaseException:
            self._delete_segments(entries)
            raise
        return self.head(key)

    def _copy_segment(self, name: str, segment: Mapping[str, Any]) -> dict[str, Any]:
        container, _, source_name = segment["path"].lstrip("/").partition("/")
        headers = {"X-Copy-From": _path(container, source_name), "If-Match": segment["etag"]}
        with _translated(f"swift://{container}/{source_name}", changed=True):
            response = self._request(
                "PUT", name, container=self.segment_container, headers=headers, data=b""
            )
        entry = {
            "path": f"/{self.segment_container}/{name}",
            "etag": _unquote(response.headers.get("etag")),
            "size_bytes": segment["size_bytes"],
        }
        if segment.get("range"):
            entry["range"] = segment["range"]
        return entry

    def create_bucket(self) -> None:
        self._create_container(self.bucket)

    def _create_container(self, container: str) -> None:
        _validate_container(container)
        with _translated(f"swift://{container}"):
            self._request("PUT", None, container=container)


# Requests


@dataclass
class _Response:
    status: int
    headers: dict[str, str]
    body: bytes
    raw: Any = None
    """The unread requests response of a streaming request."""


def _send(
    url: str,
    token: str,
    method: str,
    path: str,
    query: str | None,
    headers: dict[str, str],
    data: Any,
    stream: bool,
    ok: tuple[int, ...],
    http_conn: Any,
    service_token: str | None = None,
) -> _Response:
    """Send one request on swiftclient's connection; the signature is what ``_retry`` calls."""
    parsed, connection = http_conn
    target = parsed.path.rstrip("/") + path + (f"?{query}" if query else "")
    headers = {**headers, "X-Auth-Token": token}
    if service_token:
        headers["X-Service-Token"] = service_token
    connection.request(method, target, data, headers)
    response = connection.getresponse()
    status = response.status
    decoded = {name.lower(): _header_text(value) for name, value in response.headers.items()}
    if stream and 200 <= status < 300:
        return _Response(status, decoded, b"", raw=response)
    # The raw body: requests would undo a Content-Encoding that the object was stored with.
    body = response.raw.read()
    response.raw.release_conn()
    if not (200 <= status < 300 or status in ok):
        raise ClientException.from_response(response, f"{method} failed", body)
    return _Response(status, decoded, body)


def _path(container: str, key: str | None) -> str:
    """Return ``/container/key`` URL-encoded, with '.' and '..' segments kept literal."""
    path = "/" + _quote(container)
    if key is not None:
        path += "/" + "/".join(_quote(segment) for segment in key.split("/"))
    return path


def _quote(segment: str) -> str:
    if segment in (".", ".."):
        # urllib3 removes dot segments from URLs (RFC 3986 section 5.2.4); Swift decodes
        # %2E back to '.', so the object keeps its literal name.
        return "%2E" * len(segment)
    return urllib.parse.quote(segment, safe="")


def _header_text(value: str) -> str:
    # requests decodes header bytes as Latin-1; Swift stores UTF-8 metadata.
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def _pinned(headers: dict[str, str], info: ObjectInfo) -> dict[str, str]:
    if info.etag:
        headers["If-Match"] = info.etag
    return headers


def _write_headers(content_type: str, metadata: Mapping[str, str]) -> dict[str, str]:
    _check_metadata(metadata)
    headers = {"Content-Type": content_type}
    headers.update({f"X-Object-Meta-{name}": value for name, value in metadata.items()})
    return headers


def _copy_headers(content_type: str | None, metadata: Mapping[str, str] | None) -> dict[str, str]:
    headers: dict[str, str] = {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if metadata is not None:
        _check_metadata(metadata)
        headers["X-Fresh-Metadata"] = "true"
        headers.update({f"X-Object-Meta-{name}": value for name, value in metadata.items()})
    return headers


def _check_metadata(metadata: Mapping[str, str]) -> None:
    total = 0
    for name, value in metadata.items():
        if "_" in name:
            raise ValueError(
                f"invalid metadata name {name!r} for Swift: Swift's WSGI server drops header "
                "names with '_'; use '-' instead"
            )
        if len(name.encode()) > _MAX_META_NAME or len(value.encode()) > _MAX_META_VALUE:
            raise ValueError(
                f"invalid metadata {name!r}: Swift allows names of at most {_MAX_META_NAME} "
                f"bytes and values of at most {_MAX_META_VALUE} bytes"
            )
        total += len(name.encode()) + len(value.encode())
    if len(metadata) > _MAX_META_COUNT or total > _MAX_META_TOTAL:
        raise ValueError(
            f"too much metadata ({len(metadata)} items, {total} bytes): Swift allows at most "
            f"{_MAX_META_COUNT} items and {_MAX_META_TOTAL} bytes"
        )


def _not_a_manifest(response: _Response) -> bool:
    """Return whether a ``multipart-manifest=delete`` found a plain object, not a manifest."""
    if response.status == 404:
        return False
    try:
        result = json.loads(response.body)
    except ValueError:
        return False  # no SLO middleware: the object server deleted the object
    return isinstance(result, dict) and str(result.get("Response Status", "")).startswith("400")


def _check_bulk_result(result: Mapping[str, Any], url: str, count: int) -> None:
    errors = result.get("Errors") or []
    status = str(result.get("Response Status", ""))
    if errors or not status.startswith("2"):
        first = errors[0] if errors else ["", result.get("Response Body", "")]
        failed = len(errors) or count
        message = (
            f"failed to delete {failed} of {count} keys from {url}, first "
            f"{first[0]!r}: {first[1]} ({status})"
        )
        if status.startswith(("5", "429")):
            raise TransientError(message)
        raise RequestError(message)


# Uploads


def _remaining_size(stream: IO[bytes]) -> int | None:
    """Return the bytes left in a seekable stream, or None when the size is unknown."""
    try:
        if not stream.seekable():
            return None
        position = stream.tell()
        end = stream.seek(0, os.SEEK_END)
        stream.seek(position)
    except (AttributeError, OSError, ValueError):
        return None
    return max(end - position, 0)


def _read_up_to(stream: IO[bytes], size: int) -> bytes:
    """Read until ``size`` bytes or the end, since ``read`` may return less than asked."""
    parts = []
    remaining = size
    while remaining > 0:
        chunk = stream.read(remaining)
        if not chunk:
            break
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise TypeError(
                f"stream.read returned {type(chunk).__name__}, not bytes: open the file in "
                "binary mode ('rb')"
            )
        parts.append(bytes(chunk))
        remaining -= len(chunk)
    return b"".join(parts)


def _segments(stream: IO[bytes], first: bytes, size: int) -> Iterator[bytes]:
    """Yield segments of ``size`` bytes: ``first`` (which may be longer), then the stream."""
    buffer = first
    while True:
        while len(buffer) >= size:
            yield buffer[:size]
            buffer = buffer[size:]
        more = _read_up_to(stream, size - len(buffer))
        if not more:
            if buffer:
                yield buffer
            return
        buffer += more


def _segment_prefix(key: str, segment_size: int) -> str:
    # Like the swift CLI: <key>/slo/<time>/<segment size>; a hash when the key is too long
    # for the segment name to fit in 1024 bytes.
    stamp = f"{time.time():.6f}"
    prefix = f"{key}/slo/{stamp}/{segment_size}"
    if len(prefix.encode("utf-8")) + 9 > 1024:
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
        prefix = f"{digest}/slo/{stamp}/{segment_size}"
    return prefix


# Metadata conversion


def _unquote(etag: str | None) -> str | None:
    return etag.strip('"') if etag else etag


def _http_date(value: str | None) -> datetime.datetime | None:
    return email.utils.parsedate_to_datetime(value) if value else None


def _info_from_headers(key: str, headers: Mapping[str, str]) -> ObjectInfo:
    timestamp = headers.get("x-timestamp")
    modified: datetime.datetime | None
    if timestamp:
        modified = datetime.datetime.fromtimestamp(float(timestamp), datetime.timezone.utc)
    else:
        modified = _http_date(headers.get("last-modified"))
    metadata = {
        name[len(_META_PREFIX) :]: value
        for name, value in headers.items()
        if name.startswith(_META_PREFIX)
    }
    return ObjectInfo(
        key=key,
        size=int(headers.get("content-length", 0)),
        etag=_unquote(headers.get("etag")),
        last_modified=modified,
        content_type=headers.get("content-type") or "application/octet-stream",
        metadata=metadata,
    )


def _info_from_listing(item: Mapping[str, Any]) -> ObjectInfo:
    # A Static Large Object lists the hash of its manifest as "hash"; "slo_etag" is the
    # ETag that HEAD and GET report, which If-Match compares against.
    etag = item.get("slo_etag") or item.get("hash")
    modified = datetime.datetime.fromisoformat(item["last_modified"])
    return ObjectInfo(
        key=item["name"],
        size=int(item.get("bytes", 0)),
        etag=_unquote(etag),
        last_modified=modified.replace(tzinfo=datetime.timezone.utc),
        content_type=item.get("content_type"),
    )


# Names


def _check_swift_text(name: str, kind: str, plural: str) -> None:
    if "\x00" in name:
        raise InvalidKeyError(f"invalid {kind} {name!r}: Swift {plural} must not contain NUL")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidKeyError(
            f"invalid {kind} {name!r}: Swift {plural} must be valid UTF-8, without lone surrogates"
        ) from None


def _validate_container(container: str) -> None:
    if not isinstance(container, str) or not container:
        raise InvalidKeyError(f"invalid Swift container name {container!r}: use a non-empty str")
    _check_swift_text(container, "container name", "container names")
    size = len(container.encode("utf-8"))
    if size > MAX_CONTAINER_BYTES:
        raise InvalidKeyError(
            f"invalid Swift container name {container[:60]!r}...: it is {size} bytes in UTF-8, "
            f"and container names may be at most {MAX_CONTAINER_BYTES} bytes"
        )
    if "/" in container:
        raise InvalidKeyError(
            f"invalid Swift container name {container!r}: container names must not contain "
            "'/'; put folders in the prefix instead"
        )


# Errors


def _status_text(error: Any) -> str:
    return f"{error.http_status} {error.http_reason}".strip()


def _translate_client_exception(
    error: Any, url: str, *, changed: bool, exists: bool, bucket: bool
) -> CloudyError:
    status = error.http_status
    if status == 404:
        if bucket:
            return BucketNotFoundError(
                f"container of {url} not found: create it with factory(..., create=True)"
            )
        if changed:
            return ObjectChangedError(f"{url} was deleted while being read; look the key up again")
        return KeyNotFoundError(f"{url} not found")
    if status == 412:
        if exists:
            return KeyExistsError(f"{url} already exists")
        return ObjectChangedError(
            f"{url} was overwritten or deleted while being read; look the key up again to "
            "read the current version"
        )
    if status in (401, 403) or status is None:
        return AccessDeniedError(f"access to {url} denied: {error.msg} ({_status_text(error)})")
    body = str(error.http_response_content or "")
    if status == 400 and ("name length" in body or "UTF8" in body):
        return InvalidKeyError(f"invalid key for {url}: {body.strip()}")
    if status == 408:
        return RequestTimeoutError(
            f"request for {url} timed out after retries: {_status_text(error)}"
        )
    if status in (429, 498) or status >= 500:
        return TransientError(f"request for {url} failed after retries: {_status_text(error)}")
    return RequestError(f"request for {url} failed: {_status_text(error)}: {body[:200]}")


def _translate_keystone(error: Exception, url: str) -> CloudyError | None:
    try:
        from keystoneauth1 import exceptions as ks
    except ImportError:
        return None
    if isinstance(error, ks.Unauthorized | ks.Forbidden):
        return AccessDeniedError(f"Keystone rejected the credentials for {url}: {error}")
    if isinstance(error, ks.EndpointNotFound):
        return RequestError(
            f"no object-store endpoint for {url} in the service catalog: check region_name "
            f"and interface ({error})"
        )
    if isinstance(error, ks.ConnectionError):
        return TransientError(f"connecting to Keystone for {url} failed: {error}")
    if isinstance(error, ks.ClientException):
        return RequestError(f"Keystone request for {url} failed: {error}")
    return None


def translate_error(
    error: Exception, url: str, *, changed: bool = False, exists: bool = False, bucket: bool = False
) -> CloudyError:
    """Map a swiftclient, requests or keystoneauth1 exception to the cloudyfiles exception.

    With ``changed``, a failed precondition means that the object changed while being
    read. With ``exists``, it means that a conditional write found an object. With
    ``bucket``, a 404 means a missing container rather than a missing key.
    """
    if isinstance(error, ClientException):
        return _translate_client_exception(
            error, url, changed=changed, exists=exists, bucket=bucket
        )
    if isinstance(
        error,
        requests.exceptions.Timeout | urllib3.exceptions.TimeoutError | TimeoutError,
    ):
        return RequestTimeoutError(f"request for {url} timed out after retries: {error}")
    if isinstance(error, _NETWORK_ERRORS):
        return TransientError(f"request for {url} failed after retries: {error}")
    return _translate_keystone(error, url) or RequestError(f"request for {url} failed: {error}")


_NETWORK_ERRORS = (
    requests.exceptions.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    ConnectionError,
    TimeoutError,
)


def _sdk_errors() -> tuple[type[BaseException], ...]:
    errors: tuple[type[BaseException], ...] = (ClientException, *_NETWORK_ERRORS)
    try:
        from keystoneauth1 import exceptions as ks
    except ImportError:
        return errors
    return (*errors, ks.ClientException)


_SDK_ERRORS = _sdk_errors()


@contextlib.contextmanager
def _translated(
    url: str, *, changed: bool = False, exists: bool = False, bucket: bool = False
) -> Iterator[None]:
    try:
        yield
    except CloudyError:
        raise  # TransientError is a ConnectionError too
    except _SDK_ERRORS as error:
        raise translate_error(
            error,  # type: ignore[arg-type]  # every type in _SDK_ERRORS is an Exception
            url,
            changed=changed,
            exists=exists,
            bucket=bucket,
        ) from error


class _SwiftStream:
    """A streaming GET of one object version that resumes after a broken connection.

    The stream has its own connection, so a background reader thread never shares one.
    """

    def __init__(self, store: SwiftStore, info: ObjectInfo, start: int) -> None:
        self._store = store
        self._info = info
        self._position = start
        self._url = store.url(info.key)
        self._connection = store._new_connection()
        self._resumes = 0
        self._response: Any = None
        self._open()

    def _open(self) -> None:
        headers = _pinned({}, self._info)
        if self._position:
            headers["Range"] = f"bytes={self._position}-"
        with _translated(self._url, changed=True):
            response = self._store._request(
                "GET", self._info.key, headers=headers, stream=True, connection=self._connection
            )
        self._response = response.raw
        if self._position and response.status == 200:
            _read_up_to(self._response.raw, self._position)  # the server ignored the range

    def read(self, size: int = -1) -> bytes:
        while True:
            try:
                chunk = self._response.raw.read(None if size < 0 else size)
            except _NETWORK_ERRORS as error:
                if not self._can_resume():
                    raise translate_error(error, self._url) from error
                self._resume(error)
                continue
            if not chunk and size != 0 and self._position < self._info.size and self._can_resume():
                self._resume(None)
                continue
            self._position += len(chunk)
            return chunk  # type: ignore[no-any-return]

    def _can_resume(self) -> bool:
        return self._resumes < self._store.retries

    def _resume(self, error: Exception | None) -> None:
        self._resumes += 1
        logger.warning(
            "download of %s broke at byte %d (%s): resuming, attempt %d",
            self._url,
            self._position,
            error or "early end",
            self._resumes,
        )
        self._response.close()
        self._open()

    def close(self) -> None:
        if self._response is not None:
            self._response.close()
        self._connection.close()


def factory(container: str, prefix: str = "", **options: Any) -> type[ObjectMapping]:
    """Return the mapping class of the Swift ``container``, scoped to ``prefix``.

    Options are those of :class:`SwiftStore` and the authentication options of the module
    docs, plus ``create=True`` to create the container when it does not exist and
    ``block_size`` for the RemoteObjects it returns.
    """
    mapping_options = pop_mapping_options(options)
    create = options.pop("create", False)
    store = SwiftStore(container, **options)
    if create:
        store.create_bucket()
    return make_factory(store, prefix, **mapping_options)
