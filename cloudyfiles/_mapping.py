"""The dict over a bucket: :class:`ObjectMapping` and the ``factory`` behind each backend."""

from __future__ import annotations

import io
import logging
from collections.abc import (
    ItemsView,
    Iterable,
    Iterator,
    Mapping,
    MutableMapping,
    ValuesView,
)
from typing import IO, Any, ClassVar, cast

from . import _bulk
from ._store import ListPage, ObjectInfo, Store, guess_content_type
from .common import DEFAULT_BLOCK_SIZE, LOOKUP_BYTES, RemoteObject
from .errors import KeyExistsError, KeyNotFoundError

__all__ = ["ObjectMapping", "make_factory", "pop_mapping_options"]

logger = logging.getLogger(__name__)

_MISSING = object()


class ObjectMapping(MutableMapping[str, RemoteObject]):
    """A ``MutableMapping`` from keys to the objects of a bucket under a prefix.

    Instances are made by the class that a backend's ``factory`` returns; every
    instance of one bucket and prefix is a view of the same stored data. Keys are
    ``str`` and taken literally: the mapping never decodes, collapses or normalises
    them. Values read back as lazy :class:`~cloudyfiles.common.RemoteObject` proxies.
    """

    store: ClassVar[Store]
    """The bucket that every instance of the class reads and writes."""
    prefix: ClassVar[str] = ""
    """Folder that scopes the keys; ``""`` or a string ending in ``/``."""
    block_size: ClassVar[int] = DEFAULT_BLOCK_SIZE
    """Block size of the RemoteObjects that the mapping returns."""
    max_workers: ClassVar[int] = _bulk.DEFAULT_MAX_WORKERS
    """Threads of the bulk operations, unless a call passes its own ``max_workers``."""

    def __init__(self, other: Any = (), /, **kwargs: Any) -> None:
        self.update(other, **kwargs)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url}>"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_reopen_mapping, (self.store, self.prefix, self.block_size, self.max_workers))

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """Return HTML and text of one listing page, for Jupyter and IPython."""
        from ._display import mapping_bundle

        return mapping_bundle(self)

    @property
    def url(self) -> str:
        """Location such as ``s3://bucket/prefix/``."""
        return self.store.url(self.prefix)

    # Keys

    def _full_key(self, key: object) -> str:
        if not isinstance(key, str):
            raise TypeError(f"keys must be str, not {type(key).__name__}: {key!r}")
        full = self.prefix + key
        if not key:
            # An empty key would name the prefix itself.
            self.store.validate_key("")
        self.store.validate_key(full)
        return full

    def _object(self, info: ObjectInfo, data: bytes | None = None) -> RemoteObject:
        return RemoteObject(self.store, info, data=data, block_size=self.block_size)

    # Reads

    def __getitem__(self, key: str) -> RemoteObject:
        # One request where the store can: the lookup's ranged GET returns the
        # metadata and the first bytes, which are the whole value of a small object.
        first_bytes = min(self.block_size, LOOKUP_BYTES)
        info, head = self.store.lookup(self._full_key(key), first_bytes)
        return RemoteObject(self.store, info, first=head, block_size=self.block_size)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        try:
            return self.store.exists(self._full_key(key))
        except ValueError:
            return False  # a key the store cannot hold is not in it

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyNotFoundError:
            return default

    def _iter_infos(self) -> Iterator[ObjectInfo]:
        yield from self.store.iter_objects(self.prefix)

    def __iter__(self) -> Iterator[str]:
        start = len(self.prefix)
        for info in self._iter_infos():
            yield info.key[start:]

    def __len__(self) -> int:
        return sum(1 for _ in self._iter_infos())

    def values(self) -> ValuesView[RemoteObject]:
        return _ListedValues(self)

    def items(self) -> ItemsView[str, RemoteObject]:
        return _ListedItems(self)

    def list_page(
        self,
        prefix: str = "",
        *,
        delimiter: str | None = "/",
        token: str | None = None,
        page_size: int | None = None,
    ) -> ListPage:
        """Return one page of a listing below ``prefix``, with keys relative to the mapping.

        With the default ``delimiter``, names that continue past the next ``/`` are
        grouped into ``prefixes`` (folders). Pass ``next_token`` of a page as ``token``
        to fetch the next one.
        """
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be str, not {type(prefix).__name__}")
        page = self.store.list_page(
            self.prefix + prefix, delimiter=delimiter, token=token, page_size=page_size
        )
        start = len(self.prefix)
        return ListPage(
            objects=[_relative(info, start) for info in page.objects],
            prefixes=[name[start:] for name in page.prefixes],
            next_token=page.next_token,
        )

    def __eq__(self, other: object) -> bool:
        """Compare with another mapping; two cloudyfiles mappings download nothing.

        Between two cloudyfiles mappings, keys, sizes and ETags from listings decide.
        Two objects with equal contents but different ETags (a multipart upload and a
        single upload, or two vendors) compare unequal between two mappings. Against a
        plain mapping, values whose sizes match are compared by contents.
        """
        if isinstance(other, ObjectMapping):
            if self.store.same_location(other.store) and self.prefix == other.prefix:
                return True
            return _listing_signature(self) == _listing_signature(other)
        if not isinstance(other, Mapping):
            return NotImplemented
        start = len(self.prefix)
        sizes = {info.key[start:]: info.size for info in self._iter_infos()}
        if sizes.keys() != set(other.keys()):
            return False
        return all(self._value_equals(key, sizes[key], other[key]) for key in sizes)

    def _value_equals(self, key: str, size: int, value: Any) -> bool:
        if isinstance(value, str):
            value = value.encode("utf-8")
        if isinstance(value, bytes | bytearray) and len(value) != size:
            return False
        return bool(self[key] == value)

    __hash__ = None  # type: ignore[assignment]

    # Writes

    def __setitem__(self, key: str, value: Any) -> None:
        self.put(key, value)

    def put(
        self,
        key: str,
        value: Any,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> RemoteObject:
        """Store ``value`` under ``key`` with an explicit content type and user metadata.

        ``value`` may be bytes-like, ``str`` (stored as UTF-8), a binary file object
        (streamed in parts), a RemoteObject (copied on the server when the vendor
        allows), or any other object, stored as its ``str()``. ``content_type`` defaults
        to a guess from the key's extension. Returns the stored object.
        """
        full = self._full_key(key)
        if metadata is not None:
            metadata = _validate_metadata(metadata)
        if isinstance(value, RemoteObject):
            return self._copy(full, value, content_type, metadata)
        content_type = content_type or guess_content_type(key)
        metadata = metadata or {}
        if hasattr(value, "read"):
            stream = _binary_stream(value, key)
            info = self.store.put_stream(full, stream, content_type=content_type, metadata=metadata)
        else:
            info = self.store.put_bytes(
                full, _to_bytes(value), content_type=content_type, metadata=metadata
            )
        return self._object(info)

    def _copy(
        self,
        full: str,
        source: RemoteObject,
        content_type: str | None,
        metadata: Mapping[str, str] | None,
    ) -> RemoteObject:
        if (
            source.key == full
            and self.store.same_location(source.store)
            and content_type is None
            and metadata is None
        ):
            return source.open()  # d[k] = d[k]: the object already contains these contents
        if source._data is None and self.store.can_copy_from(source.store):
            logger.debug("server-side copy %s -> %s", source.url, self.store.url(full))
            info = self.store.copy_from(
                source.store, source._info, full, content_type=content_type, metadata=metadata
            )
            return self._object(info)
        content_type = content_type or source.content_type
        metadata = source.metadata if metadata is None else metadata
        if source._data is not None:
            info = self.store.put_bytes(
                full, source._data, content_type=content_type, metadata=metadata
            )
        else:
            info = self.store.put_stream(
                full, cast(IO[bytes], source.open()), content_type=content_type, metadata=metadata
            )
        return self._object(info)

    def __delitem__(self, key: str) -> None:
        full = self._full_key(key)
        self.store.head(full)  # KeyError for a missing key, as dict raises
        self.store.delete(full)

    def pop(self, key: str, default: Any = _MISSING) -> Any:
        """Remove ``key`` and return its value, downloaded first so it stays readable."""
        try:
            value = self[key]
        except KeyNotFoundError:
            if default is _MISSING:
                raise
            return default
        detached = self._object(value.info, data=bytes(value))
        self.store.delete(value.key)
        return detached

    def popitem(self) -> tuple[str, RemoteObject]:
        """Remove and return one (key, value) pair; raise KeyError when empty."""
        for key in self:
            try:
                return key, self.pop(key)
            except KeyNotFoundError:
                continue  # deleted by someone else meanwhile
        raise KeyNotFoundError(f"popitem(): {self.url} is empty")

    def setdefault(self, key: str, default: Any = b"") -> RemoteObject:  # type: ignore[override]
        """Return the value of ``key``, first storing ``default`` if the key is absent.

        The default is ``b""`` rather than dict's ``None``, because None cannot be stored.

        Where the store supports conditional writes the store-if-absent is atomic, so
        two concurrent callers both get the value that was stored first.
        """
        try:
            return self[key]
        except KeyNotFoundError:
            pass
        full = self._full_key(key)
        if not self.store.conditional_put or hasattr(default, "read"):
            self[key] = default
            return self[key]
        if isinstance(default, RemoteObject):
            default = bytes(default)
        try:
            info = self.store.put_bytes(
                full,
                _to_bytes(default),
                content_type=guess_content_type(key),
                metadata={},
                if_absent=True,
            )
        except KeyExistsError:
            return self[key]
        return self._object(info)

    # Bulk operations, concurrent on a bounded thread pool (see cloudyfiles._bulk)

    def update(self, other: Any = (), /, **kwargs: Any) -> None:
        """Store the pairs of ``other`` and ``kwargs`` concurrently, as ``dict.update`` would.

        ``other`` is a mapping, an object with ``keys()``, or an iterable of pairs; a key
        given twice keeps its last value.
        """
        _bulk.update(self, other, **kwargs)

    def get_many(
        self, keys: Iterable[str], *, max_workers: int | None = None, progress: bool | None = None
    ) -> dict[str, bytes]:
        """Download the contents of many keys concurrently, in the order given.

        Raises KeyError for the first missing key found. ``progress=True`` shows a tqdm
        bar; the default shows one only in a Jupyter kernel and for long work.
        """
        return _bulk.get_many(self, keys, max_workers=max_workers, progress=progress)

    def put_many(
        self,
        items: Mapping[str, Any] | Iterable[tuple[str, Any]],
        *,
        max_workers: int | None = None,
        progress: bool | None = None,
    ) -> None:
        """Store many values concurrently; values are those that ``d[key] = value`` takes."""
        _bulk.put_many(self, items, max_workers=max_workers, progress=progress)

    def delete_many(
        self, keys: Iterable[str], *, max_workers: int | None = None, progress: bool | None = None
    ) -> None:
        """Delete many keys with batched requests; keys that are absent are skipped."""
        _bulk.delete_many(self, keys, max_workers=max_workers, progress=progress)

    def copy_to(
        self,
        other: ObjectMapping,
        prefix: str = "",
        *,
        max_workers: int | None = None,
        progress: bool | None = None,
    ) -> int:
        """Copy every key that starts with ``prefix`` to the same key in ``other``.

        Copies run on the server where both stores allow it. Returns the number of
        objects copied.
        """
        return _bulk.copy_to(self, other, prefix, max_workers=max_workers, progress=progress)

    def clear(self) -> None:
        """Delete every key under the prefix with batched delete requests."""
        batch: list[str] = []
        deleted = 0
        for info in self._iter_infos():
            batch.append(info.key)
            if len(batch) >= self.store.delete_batch:
                self.store.delete_many(batch)
                deleted += len(batch)
                batch = []
        if batch:
            self.store.delete_many(batch)
            deleted += len(batch)
        logger.info("cleared %s: deleted %d objects", self.url, deleted)


def _to_bytes(value: Any) -> bytes | bytearray | memoryview:
    if value is None:
        raise TypeError(
            "cannot store None: pass bytes, str, a file object or a RemoteObject "
            "(use b'' for an empty object, or del to remove a key)"
        )
    if isinstance(value, bytes | bytearray):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    try:
        view = memoryview(value)  # numpy arrays, array.array and other buffers
    except TypeError:
        pass
    except ValueError as error:  # a buffer that cannot be exported, such as datetime64
        raise TypeError(
            f"cannot store {type(value).__name__}: {error}; convert it to bytes first, "
            "for example with .astype(...).tobytes() or str()"
        ) from error
    else:
        if "O" in view.format:
            raise TypeError(
                f"cannot store {type(value).__name__} of Python objects: its buffer holds "
                "memory addresses, not data; serialise it first, for example with pickle"
            )
        return view.cast("B") if view.contiguous and view.ndim <= 1 else view.tobytes()
    if isinstance(value, Iterator):
        raise TypeError(
            f"cannot store an iterator ({type(value).__name__}): its str() is not its "
            "contents; join the chunks first, such as b''.join(chunks), or wrap them in a "
            "file object"
        )
    return str(value).encode("utf-8")


def plain_bytes(value: Any) -> bytes | bytearray | memoryview | None:
    """Return the bytes that storing ``value`` writes, or None for a stream or RemoteObject.

    Raises TypeError for the values that ``put`` rejects.
    """
    if isinstance(value, RemoteObject) or hasattr(value, "read"):
        return None
    return _to_bytes(value)


def _binary_stream(stream: Any, key: str) -> Any:
    """Return ``stream``, raising TypeError first when it is a text-mode file."""
    mode = getattr(stream, "mode", None)
    text_mode = isinstance(mode, str) and bool(mode) and "b" not in mode
    if isinstance(stream, io.TextIOBase) or text_mode:
        raise TypeError(
            f"cannot store a text-mode file under {key!r}: open it in binary mode "
            "(open(path, 'rb')) or pass its text as a str"
        )
    return stream


def _validate_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    checked = {}
    for name, value in metadata.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError(f"metadata names and values must be str, got {name!r}: {value!r}")
        if not name or not name.isascii() or not name.replace("-", "").replace("_", "").isalnum():
            raise ValueError(
                f"invalid metadata name {name!r}: use ASCII letters, digits, '-' and '_'"
            )
        checked[name.lower()] = value
    return checked


def _relative(info: ObjectInfo, start: int) -> ObjectInfo:
    return ObjectInfo(
        key=info.key[start:],
        size=info.size,
        etag=info.etag,
        last_modified=info.last_modified,
        content_type=info.content_type,
        metadata=info.metadata,
        version=info.version,
    )


def _listing_signature(mapping: ObjectMapping) -> dict[str, tuple[int, str | None]]:
    start = len(mapping.prefix)
    return {info.key[start:]: (info.size, info.etag) for info in mapping._iter_infos()}


class _ListedValues(ValuesView[RemoteObject]):
    """Values built from listings: one request per page, not one per key."""

    _mapping: ObjectMapping

    def __iter__(self) -> Iterator[RemoteObject]:
        for info in self._mapping._iter_infos():
            yield self._mapping._object(info)


class _ListedItems(ItemsView[str, RemoteObject]):
    """Items built from listings: one request per page, not one per key."""

    _mapping: ObjectMapping

    def __iter__(self) -> Iterator[tuple[str, RemoteObject]]:
        start = len(self._mapping.prefix)
        for info in self._mapping._iter_infos():
            yield info.key[start:], self._mapping._object(info)


def _normalize_prefix(prefix: str) -> str:
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be str, not {type(prefix).__name__}")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return prefix


MAPPING_OPTIONS = ("block_size", "max_workers")
"""Factory options that configure the mapping rather than the store."""


def pop_mapping_options(options: dict[str, Any]) -> dict[str, Any]:
    """Remove the mapping's own options from a factory's ``options`` and return them."""
    return {name: options.pop(name) for name in MAPPING_OPTIONS if name in options}


def make_factory(
    store: Store,
    prefix: str = "",
    *,
    block_size: int = DEFAULT_BLOCK_SIZE,
    max_workers: int = _bulk.DEFAULT_MAX_WORKERS,
) -> type[ObjectMapping]:
    """Return a mapping class bound to ``store`` and ``prefix``, as backends' ``factory`` do.

    A ``prefix`` that does not end in ``/`` gets one, so that it names a folder.
    """
    prefix = _normalize_prefix(prefix)
    if prefix:
        store.validate_key(prefix + "_")
    name = f"{type(store).__name__.removesuffix('Store')}Mapping"
    namespace = {
        "store": store,
        "prefix": prefix,
        "block_size": block_size,
        "max_workers": max_workers,
    }
    mapping_class = type(name, (ObjectMapping,), namespace)
    mapping_class.__module__ = type(store).__module__
    return mapping_class


def _reopen_mapping(
    store: Store, prefix: str, block_size: int, max_workers: int = _bulk.DEFAULT_MAX_WORKERS
) -> ObjectMapping:
    return make_factory(store, prefix, block_size=block_size, max_workers=max_workers)()
