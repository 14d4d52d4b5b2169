"""The values of every cloudyfiles mapping: lazy :class:`RemoteObject` proxies."""

from __future__ import annotations

import collections
import io
import itertools
import logging
import operator
import queue
import threading
from collections.abc import Callable, Iterator
from typing import IO, Any, SupportsIndex

from ._store import ObjectInfo, Store
from .errors import ObjectChangedError, TransientError

__all__ = ["RemoteObject"]

logger = logging.getLogger(__name__)

DEFAULT_BLOCK_SIZE = 1 << 20
"""Bytes fetched by one range request when a read starts somewhere new."""
LOOKUP_BYTES = 64 * 1024
"""Maximum number of bytes that a key lookup fetches along with the metadata."""
DEFAULT_READAHEAD = 2
"""Chunks that a background thread downloads ahead of a sequential reader."""

_BytesLike = bytes | bytearray | memoryview


class RemoteObject(io.BufferedIOBase):
    """A stored object that reads like ``bytes`` and like a read-only binary file.

    Contents are fetched only when used. Slicing (``obj[10:20]``) sends exactly one
    range request for exactly those bytes, or none when the slice is empty. File methods
    (``read``, ``readline``, ``seek``, iteration by lines) read through a window of
    ``block_size`` bytes and switch to one streaming download, read ahead on a
    background thread, once the reads turn out sequential. Memory stays bounded by
    about ``block_size * (readahead + 2)``.

    Every read requests the version seen when the object was looked up; when the
    object has been overwritten since, reads raise :class:`~cloudyfiles.errors.ObjectChangedError`
    instead of mixing bytes of two versions.
    """

    def __init__(
        self,
        store: Store,
        info: ObjectInfo,
        *,
        data: bytes | None = None,
        first: bytes | None = None,
        block_size: int = DEFAULT_BLOCK_SIZE,
        readahead: int = DEFAULT_READAHEAD,
    ) -> None:
        """Make a reader of the version ``info`` describes.

        ``data`` detaches the object: every read returns these contents and no request
        is sent. ``first`` is the object's leading bytes, as a lookup fetched them: they
        serve the first reads, and when they are the whole object, every read.
        """
        super().__init__()
        if block_size < 1:
            raise ValueError(f"invalid block_size {block_size!r}: it must be at least 1")
        self._store = store
        self._info = info
        self._data = data
        self._block_size = block_size
        self._readahead = readahead
        self._pos = 0
        self._window = b""
        self._window_start = 0
        self._stream: _ReadAhead | None = None
        self._stream_pos = 0
        self._lines: _LineBatch | None = None
        self._first = first
        self._complete = first if first is not None and len(first) == info.size else None
        if first:
            self._window = first

    # Metadata

    @property
    def key(self) -> str:
        """Full object name in its bucket."""
        return self._info.key

    @property
    def name(self) -> str:
        """Object name, as file objects carry one."""
        return self._info.key

    @property
    def mode(self) -> str:
        """File mode: always ``"rb"``."""
        return "rb"

    @property
    def size(self) -> int:
        """Length of the contents in bytes."""
        return self._info.size

    @property
    def etag(self) -> str | None:
        """Opaque version tag from the server."""
        return self._info.etag

    @property
    def last_modified(self) -> Any:
        """Time of the last write, as a timezone-aware datetime."""
        return self.info.last_modified

    @property
    def content_type(self) -> str:
        """MIME type stored with the object."""
        content_type = self.info.content_type
        assert content_type is not None
        return content_type

    @property
    def metadata(self) -> dict[str, str]:
        """User metadata stored with the object."""
        return dict(self.info.metadata or {})

    @property
    def url(self) -> str:
        """Location such as ``s3://bucket/key``."""
        return self._store.url(self._info.key)

    @property
    def store(self) -> Store:
        """The store that contains the object."""
        return self._store

    @property
    def info(self) -> ObjectInfo:
        """Complete metadata; sends one HEAD when a listing supplied only part of it."""
        if self._info.complete and self._info.last_modified is not None:
            return self._info
        if self._data is not None:
            return self._info
        fresh = self._store.head(self._info.key)
        if self._info.etag is not None and fresh.etag != self._info.etag:
            raise ObjectChangedError(
                f"{self.url} changed after it was looked up (ETag {self._info.etag} "
                f"is now {fresh.etag}); look the key up again to read the new version"
            )
        self._info = fresh
        return fresh

    def open(self) -> RemoteObject:
        """Return a new reader of the same version, positioned at the start."""
        return RemoteObject(
            self._store,
            self._info,
            data=self._data,
            first=self._first,
            block_size=self._block_size,
            readahead=self._readahead,
        )

    def __repr__(self) -> str:
        return f"<RemoteObject {self.url} size={self.size}>"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_reopen_object, (self._store, self._info, self._data, self._block_size))

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """Return a preview built from the first bytes only, for Jupyter and IPython."""
        from ._display import object_bundle

        return object_bundle(self)

    # Bytes behaviour

    def __len__(self) -> int:
        return self._info.size

    def __bytes__(self) -> bytes:
        if self._data is not None:
            return self._data
        if self._complete is not None:
            return self._complete
        if self.size == 0:
            return b""
        return self._fetch(0, self.size)

    def __str__(self) -> str:
        return bytes(self).decode("utf-8")

    def __getitem__(self, index: SupportsIndex | slice) -> Any:
        if isinstance(index, slice):
            return self._get_slice(index)
        position = index.__index__()
        if position < 0:
            position += self.size
        if not 0 <= position < self.size:
            raise IndexError(f"index {index!r} out of range for an object of {self.size} bytes")
        return self._fetch(position, position + 1)[0]

    def _get_slice(self, index: slice) -> bytes:
        positions = range(*index.indices(self.size))
        if not positions:
            return b""
        low = min(positions[0], positions[-1])
        high = max(positions[0], positions[-1]) + 1
        chunk = self._fetch(low, high)
        if positions.step == 1:
            return chunk
        stop = positions.stop - low
        return chunk[positions.start - low : stop if stop >= 0 else None : positions.step]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RemoteObject):
            return self._equals_object(other)
        if isinstance(other, str):
            other = other.encode("utf-8")
        if not isinstance(other, bytes | bytearray | memoryview):
            return NotImplemented
        expected = memoryview(other).cast("B")
        if len(expected) != self.size:
            return False
        offset = 0
        for chunk in self._iter_chunks():
            if expected[offset : offset + len(chunk)] != chunk:
                return False
            offset += len(chunk)
        return True

    def _equals_object(self, other: RemoteObject) -> bool:
        if self.size != other.size:
            return False
        if (
            self._store.same_location(other._store)
            and self.key == other.key
            and self.etag is not None
            and self.etag == other.etag
        ):
            return True
        mine, theirs = self._iter_chunks(), other._iter_chunks()
        pending = b""
        for chunk in mine:
            while len(pending) < len(chunk):
                pending += next(theirs)
            if pending[: len(chunk)] != chunk:
                return False
            pending = pending[len(chunk) :]
        return True

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    __hash__ = None  # type: ignore[assignment]  # equality follows contents

    def __contains__(self, needle: object) -> bool:
        if isinstance(needle, int):
            needle = bytes([needle])
        if isinstance(needle, str):
            raise TypeError("a bytes-like object is required, not 'str'")
        target = bytes(needle)  # type: ignore[call-overload]
        carry = b""
        for chunk in self._iter_chunks():
            block = carry + chunk
            if target in block:
                return True
            carry = block[len(block) - len(target) + 1 :] if len(target) > 1 else b""
        return target == b""

    def __add__(self, other: _BytesLike) -> bytes:
        return bytes(self) + other

    def __radd__(self, other: _BytesLike) -> bytes:
        return bytes(other) + bytes(self)

    def startswith(self, prefix: Any, start: int | None = None, end: int | None = None) -> bool:
        """Return whether the contents start with ``prefix``, reading only its length."""
        low, high, _ = slice(start, end).indices(self.size)
        prefixes = prefix if isinstance(prefix, tuple) else (prefix,)
        return any(len(p) <= high - low and self[low : low + len(p)] == bytes(p) for p in prefixes)

    def endswith(self, suffix: Any, start: int | None = None, end: int | None = None) -> bool:
        """Return whether the contents end with ``suffix``, reading only its length."""
        low, high, _ = slice(start, end).indices(self.size)
        suffixes = suffix if isinstance(suffix, tuple) else (suffix,)
        return any(
            len(s) <= high - low and self[high - len(s) : high] == bytes(s) for s in suffixes
        )

    def _fetch(self, start: int, stop: int) -> bytes:
        """Return bytes ``[start, stop)`` with at most one request.

        Bytes already in hand (a detached object, or the leading bytes that the lookup
        fetched) are served without a request; anything else is one range request
        for exactly the bytes asked for.
        """
        if self._data is not None:
            return self._data[start:stop]
        if self._first is not None and stop <= len(self._first):
            return self._first[start:stop]
        logger.debug("range %s [%d, %d)", self.url, start, stop)
        return self._store.get_range(self._info, start, stop)

    def _iter_chunks(self) -> Iterator[bytes]:
        """Yield the whole contents in blocks, without moving the file position."""
        if self._data is not None or self._complete is not None or self.size <= self._block_size:
            if self.size:
                yield bytes(self)
            return
        stream = _ReadAhead(
            lambda: self._store.open_stream(self._info, 0), self._block_size, self._readahead
        )
        try:
            received = 0
            while received < self.size:
                chunk = stream.read_chunk()
                if not chunk:
                    raise _truncated(self.url, received, self.size)
                received += len(chunk)
                yield chunk
        finally:
            stream.close()

    # File behaviour

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        if self.closed:
            raise ValueError(f"I/O operation on closed RemoteObject {self.url}")
        batch = self._lines
        return batch.position() if batch is not None else self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check_open()
        if whence == io.SEEK_SET:
            position = offset
        elif whence == io.SEEK_CUR:
            position = self._pos + offset
        elif whence == io.SEEK_END:
            position = self.size + offset
        else:
            raise ValueError(f"invalid whence ({whence!r}, should be 0, 1 or 2)")
        if position < 0:
            if whence == io.SEEK_SET:
                raise ValueError(f"negative seek position {position}")
            position = 0  # relative seeks before the start stop at 0, as in io.BytesIO
        self._pos = position
        return position

    def read(self, size: int | None = -1) -> bytes:
        self._check_open()
        if size is None or size < 0:
            return self._read_to_end()
        return self._read_bounded(size)

    def read1(self, size: int = -1) -> bytes:
        self._check_open()
        if self._pos >= self.size:
            return b""
        if size < 0:
            size = self._block_size
        offset = self._ensure_window(size)
        chunk = self._window[offset : offset + size]
        self._pos += len(chunk)
        return chunk

    def readinto(self, buffer: Any) -> int:
        target = memoryview(buffer).cast("B")
        data = self.read(len(target))
        target[: len(data)] = data
        return len(data)

    def readinto1(self, buffer: Any) -> int:
        target = memoryview(buffer).cast("B")
        data = self.read1(len(target))
        target[: len(data)] = data
        return len(data)

    def readline(self, size: int | None = -1) -> bytes:
        self._check_open()
        limit = self.size if size is None or size < 0 else min(self.size, self._pos + size)
        parts = []
        while self._pos < limit:
            offset = self._ensure_window(limit - self._pos)
            end = min(len(self._window), offset + limit - self._pos)
            newline = self._window.find(b"\n", offset, end)
            stop = end if newline < 0 else newline + 1
            parts.append(self._window[offset:stop])
            self._pos += stop - offset
            if newline >= 0:
                break
        return b"".join(parts)

    def __iter__(self) -> Iterator[bytes]:
        self._check_open()
        return self._iter_lines()

    def _iter_lines(self) -> Iterator[bytes]:
        # Split whole windows at C speed and hand out their lines with `yield from`,
        # which costs no Python statement per line. readline only joins a line
        # across windows. While a batch is out, its position is computed on demand.
        while True:
            # Another iterator of this object may have a batch out. Take over from its
            # position, because iterators of one file share the file position.
            self._check_open()
            if self._pos >= self.size:
                return
            offset = self._ensure_window(self._block_size)
            window = self._window[offset:] if offset else self._window
            if b"\r" in window:
                lines = [line + b"\n" for line in window.split(b"\n")]
                lines[-1] = lines[-1][:-1]
            else:
                lines = window.splitlines(keepends=True)
            partial = lines.pop() if not lines[-1].endswith(b"\n") else b""
            batch = _LineBatch(lines, self._pos)
            self._lines = batch
            yield from batch.iterator
            if self._lines is not batch:
                continue  # closed meanwhile, or a read, seek or other iterator took over
            self._lines = None
            self._pos = batch.end
            if partial:
                yield self.readline()

    def close(self) -> None:
        if self._lines is not None:
            self._lines.stop()
            self._lines = None
        self._close_stream()
        self._window = b""
        super().close()

    def __del__(self) -> None:
        try:
            self._close_stream()
        except Exception:  # noqa: BLE001  # interpreter shutdown may have torn down modules
            pass

    def _check_open(self) -> None:
        """Raise ValueError when closed, and end a line batch that a read or seek overtakes."""
        if self.closed:
            raise ValueError(f"I/O operation on closed RemoteObject {self.url}")
        batch = self._lines
        if batch is not None:
            self._pos = batch.position()
            batch.stop()
            self._lines = None

    def _read_to_end(self) -> bytes:
        if self._pos >= self.size:
            return b""
        untouched = not self._window or self._window is self._first
        if self._pos == 0 and untouched and self._stream is None:
            self._pos = self.size
            return bytes(self)
        return self._read_bounded(self.size - self._pos)

    def _read_bounded(self, size: int) -> bytes:
        end = min(self._pos + size, self.size)
        parts = []
        while self._pos < end:
            offset = self._ensure_window(end - self._pos)
            chunk = self._window[offset : offset + end - self._pos]
            parts.append(chunk)
            self._pos += len(chunk)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _ensure_window(self, wanted: int) -> int:
        """Make the window cover the current position and return its offset there."""
        offset = self._pos - self._window_start
        if 0 <= offset < len(self._window):
            return offset
        self._load_window(wanted)
        return self._pos - self._window_start

    def _load_window(self, wanted: int) -> None:
        position = self._pos
        if self._data is not None:
            self._window, self._window_start = self._data, 0
            return
        if self._complete is not None:
            self._window, self._window_start = self._complete, 0
            return
        sequential = position > 0 and position == self._window_start + len(self._window)
        if self._stream is not None and self._stream_pos != position:
            self._close_stream()
        if self._stream is None and sequential:
            self._open_stream(position)
        if self._stream is not None:
            chunk = self._stream.read_chunk()
            if not chunk:
                raise _truncated(self.url, position, self.size)
            self._stream_pos += len(chunk)
        else:
            stop = min(self.size, position + max(wanted, self._block_size))
            chunk = self._fetch(position, stop)
        self._window, self._window_start = chunk, position

    def _open_stream(self, position: int) -> None:
        info = self._info
        logger.debug("streaming %s from byte %d", self.url, position)
        self._stream = _ReadAhead(
            lambda: self._store.open_stream(info, position), self._block_size, self._readahead
        )
        self._stream_pos = position

    def _close_stream(self) -> None:
        stream, self._stream = getattr(self, "_stream", None), None
        if stream is not None:
            stream.close()


def _truncated(url: str, received: int, size: int) -> TransientError:
    return TransientError(
        f"download of {url} ended after {received} of {size} bytes; read it again"
    )


def _make_bytes_method(name: str) -> Callable[..., Any]:
    method = getattr(bytes, name)

    def proxy(self: RemoteObject, *args: Any, **kwargs: Any) -> Any:
        return method(bytes(self), *args, **kwargs)

    proxy.__name__ = proxy.__qualname__ = name
    proxy.__doc__ = f"Return ``bytes.{name}`` of the whole contents, which it downloads."
    return proxy


# Read-only bytes methods that need the whole contents; startswith and endswith read
# only what they compare.
for _name in [
    "capitalize",
    "center",
    "count",
    "decode",
    "expandtabs",
    "find",
    "hex",
    "index",
    "isalnum",
    "isalpha",
    "isascii",
    "isdigit",
    "islower",
    "isspace",
    "istitle",
    "isupper",
    "ljust",
    "lower",
    "lstrip",
    "partition",
    "removeprefix",
    "removesuffix",
    "replace",
    "rfind",
    "rindex",
    "rjust",
    "rpartition",
    "rsplit",
    "rstrip",
    "split",
    "splitlines",
    "strip",
    "swapcase",
    "title",
    "translate",
    "upper",
    "zfill",
]:
    setattr(RemoteObject, _name, _make_bytes_method(_name))
del _name


class _LineBatch:
    """The lines of one window while an iterator hands them out."""

    __slots__ = ("_offsets", "end", "iterator", "lines", "start")

    def __init__(self, lines: list[bytes], start: int) -> None:
        self.lines = lines
        self.iterator = iter(lines)
        self.start = start
        self.end = start + sum(map(len, lines))
        self._offsets: list[int] | None = None

    def position(self) -> int:
        """Return the file position after the lines handed out so far."""
        handed_out = len(self.lines) - operator.length_hint(self.iterator)
        if self._offsets is None:
            self._offsets = [0, *itertools.accumulate(map(len, self.lines))]
        return self.start + self._offsets[handed_out]

    def stop(self) -> None:
        """Hand out no more lines."""
        collections.deque(self.iterator, maxlen=0)


class _ReadAhead:
    """Chunks of one streaming download, read ahead by a background thread.

    With ``depth`` 0 the chunks are read on demand in the caller's thread.
    """

    def __init__(self, opener: Callable[[], IO[bytes]], chunk_size: int, depth: int) -> None:
        self._opener = opener
        self._chunk_size = chunk_size
        self._stream: IO[bytes] | None = None
        self._queue: queue.Queue[bytes | BaseException] | None = None
        self._stopped = threading.Event()
        if depth > 0:
            self._queue = queue.Queue(maxsize=depth)
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()

    def read_chunk(self) -> bytes:
        """Return the next chunk, or ``b""`` at the end of the stream."""
        if self._queue is None:
            if self._stream is None:
                self._stream = self._opener()
            return self._stream.read(self._chunk_size)
        item = self._queue.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        """Stop the download and release its connection."""
        self._stopped.set()
        if self._queue is not None:
            # Unblock a producer waiting on a full queue.
            while not self._queue.empty():
                self._queue.get_nowait()
        elif self._stream is not None:
            self._stream.close()

    def _run(self) -> None:
        assert self._queue is not None
        try:
            stream = self._opener()
        except BaseException as error:  # noqa: BLE001  # handed to the reader
            self._queue.put(error)
            return
        try:
            while not self._stopped.is_set():
                chunk = stream.read(self._chunk_size)
                self._put(chunk)
                if not chunk:
                    return
        except BaseException as error:  # noqa: BLE001  # handed to the reader
            self._put(error)
        finally:
            stream.close()

    def _put(self, item: bytes | BaseException) -> None:
        assert self._queue is not None
        while not self._stopped.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue


def _reopen_object(
    store: Store, info: ObjectInfo, data: bytes | None, block_size: int
) -> RemoteObject:
    return RemoteObject(store, info, data=data, block_size=block_size)
