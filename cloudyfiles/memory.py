"""Mappings held in this process's memory, one independent store per name.

>>> from cloudyfiles.memory import factory
>>> Scratch = factory("scratch")
>>> d = Scratch(a="1")
>>> bytes(Scratch()["a"])
b'1'

Every factory call with the same name reaches the same store, so ``memory://scratch``
opens it too; :func:`discard` drops a store and its data. A store without a name is
private to the mapping class that made it. Pickled mappings reopen the store of that
name in the unpickling process, where it starts empty.
"""

from __future__ import annotations

import bisect
import datetime
import hashlib
import io
import itertools
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any

from ._mapping import ObjectMapping, make_factory, pop_mapping_options
from ._store import ListPage, ObjectInfo, Store, page_from_sorted
from .errors import KeyExistsError, KeyNotFoundError, ObjectChangedError

__all__ = ["MemoryStore", "discard", "factory"]

_registry: dict[str, _Bucket] = {}
_registry_lock = threading.Lock()


class _Bucket:
    """The objects of one named store, kept sorted by key for listings."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.data: dict[str, tuple[bytes, ObjectInfo]] = {}
        self.sorted_keys: list[str] = []
        self.counter = itertools.count(1)


def _bucket_named(name: str) -> _Bucket:
    with _registry_lock:
        return _registry.setdefault(name, _Bucket())


def discard(name: str) -> None:
    """Forget the store called ``name`` and free its data; unknown names are ignored."""
    with _registry_lock:
        _registry.pop(name, None)


class MemoryStore(Store):
    """A store of objects in this process's memory."""

    scheme = "memory"
    max_key_bytes = 1024
    process_shared = False

    def __init__(self, bucket: str, **options: Any) -> None:
        super().__init__(bucket, **options)
        self._bucket = _bucket_named(bucket)

    def same_location(self, other: Store) -> bool:
        return isinstance(other, MemoryStore) and other._bucket is self._bucket

    def head(self, key: str) -> ObjectInfo:
        with self._bucket.lock:
            entry = self._bucket.data.get(key)
        if entry is None:
            raise KeyNotFoundError(f"{self.url(key)} not found")
        return entry[1]

    def _current(self, info: ObjectInfo) -> bytes:
        with self._bucket.lock:
            entry = self._bucket.data.get(info.key)
        if entry is None or entry[1].version != info.version:
            raise ObjectChangedError(
                f"{self.url(info.key)} was overwritten or deleted while being read; "
                "look the key up again to read the current version"
            )
        return entry[0]

    def get_range(self, info: ObjectInfo, start: int, stop: int) -> bytes:
        return self._current(info)[start:stop]

    def open_stream(self, info: ObjectInfo, start: int) -> IO[bytes]:
        view = memoryview(self._current(info))[start:]
        return io.BytesIO(view)

    def list_page(
        self,
        prefix: str,
        *,
        delimiter: str | None = None,
        token: str | None = None,
        page_size: int | None = None,
    ) -> ListPage:
        return page_from_sorted(
            self._infos_after(prefix, token),
            prefix,
            delimiter=delimiter,
            token=token,
            page_size=page_size or self.page_limit,
        )

    def _infos_after(self, prefix: str, token: str | None) -> Iterator[ObjectInfo]:
        with self._bucket.lock:
            keys = self._bucket.sorted_keys
            if token is None or token < prefix:
                index = bisect.bisect_left(keys, prefix)
            else:
                index = bisect.bisect_right(keys, token)
            selected = []
            for key in itertools.islice(keys, index, None):
                if not key.startswith(prefix):
                    break
                selected.append(self._bucket.data[key][1])
        return iter(selected)

    def iter_objects(self, prefix: str) -> Iterator[ObjectInfo]:
        return self._infos_after(prefix, None)

    def put_bytes(
        self,
        key: str,
        data: bytes | bytearray | memoryview,
        *,
        content_type: str,
        metadata: Mapping[str, str],
        if_absent: bool = False,
    ) -> ObjectInfo:
        contents = bytes(data)
        bucket = self._bucket
        with bucket.lock:
            if if_absent and key in bucket.data:
                raise KeyExistsError(f"{self.url(key)} already exists")
            info = ObjectInfo(
                key=key,
                size=len(contents),
                etag=hashlib.md5(contents, usedforsecurity=False).hexdigest(),
                version=str(next(bucket.counter)),
                last_modified=datetime.datetime.now(datetime.timezone.utc),
                content_type=content_type,
                metadata=dict(metadata),
            )
            if key not in bucket.data:
                bisect.insort(bucket.sorted_keys, key)
            bucket.data[key] = (contents, info)
        return info

    def put_stream(
        self,
        key: str,
        stream: IO[bytes],
        *,
        content_type: str,
        metadata: Mapping[str, str],
    ) -> ObjectInfo:
        parts = []
        while chunk := stream.read(1 << 20):
            parts.append(chunk)
        return self.put_bytes(key, b"".join(parts), content_type=content_type, metadata=metadata)

    def delete(self, key: str) -> None:
        bucket = self._bucket
        with bucket.lock:
            if bucket.data.pop(key, None) is not None:
                index = bisect.bisect_left(bucket.sorted_keys, key)
                del bucket.sorted_keys[index]

    def delete_many(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.delete(key)

    def can_copy_from(self, source: Store) -> bool:
        return isinstance(source, MemoryStore)

    def copy_from(
        self,
        source: Store,
        info: ObjectInfo,
        key: str,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> ObjectInfo:
        assert isinstance(source, MemoryStore)
        contents = source._current(info)
        return self.put_bytes(
            key,
            contents,
            content_type=content_type or info.content_type or "application/octet-stream",
            metadata=(info.metadata or {}) if metadata is None else metadata,
        )


def factory(name: str | None = None, prefix: str = "", **options: Any) -> type[ObjectMapping]:
    """Return the mapping class of the in-memory store ``name``, scoped to ``prefix``.

    Without a name, the store is new and private to the returned class.
    """
    if name is None:
        name = f"anonymous-{uuid.uuid4().hex}"
    if not isinstance(name, str) or not name:
        raise ValueError(f"invalid memory store name {name!r}: pass a non-empty str")
    mapping_options = pop_mapping_options(options)
    return make_factory(MemoryStore(name, **options), prefix, **mapping_options)
