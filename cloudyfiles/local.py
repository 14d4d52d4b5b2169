"""Mappings over a folder on the local disk.

>>> from cloudyfiles.local import factory
>>> Folder = factory("/tmp/data")            # doctest: +SKIP
>>> Folder()["logs/today.txt"] = "started"   # doctest: +SKIP  # writes /tmp/data/logs/today.txt

Keys with ``/`` become folders. Writes are atomic: the contents go to a temporary file
in ``.cloudyfiles-tmp`` at the root, which is never listed, and are renamed into place.
No key reaches outside the root, whether through ``..``, an absolute path or a symbolic
link. Because a folder cannot also be a file, a key cannot be both an object and the
folder of other keys (``a`` and ``a/b``), and keys with empty or ``.``/``..`` segments
are rejected. Content type and user metadata are kept in extended attributes where the
file system has them.
"""

from __future__ import annotations

import datetime
import errno
import hashlib
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator, Mapping
from typing import IO, Any

from ._mapping import ObjectMapping, make_factory, pop_mapping_options
from ._store import ListPage, ObjectInfo, Store, guess_content_type, page_from_sorted
from .errors import (
    BucketNotFoundError,
    InvalidKeyError,
    KeyExistsError,
    KeyNotFoundError,
    NotSupportedError,
    ObjectChangedError,
)

__all__ = ["LocalStore", "factory"]

TEMP_FOLDER = ".cloudyfiles-tmp"
_XATTR_TYPE = "user.cloudyfiles.content_type"
_XATTR_METADATA = "user.cloudyfiles.metadata"
_XATTR_MD5 = "user.cloudyfiles.md5"
_COPY_CHUNK = 1 << 20
_PLACE_ATTEMPTS = 20


class LocalStore(Store):
    """A store of files below one root folder, created on the first write."""

    scheme = "file"
    max_key_bytes = 3072
    literal_slashes = False
    dot_segments = False
    nested_keys = False

    def __init__(self, bucket: str, **options: Any) -> None:
        root = os.path.abspath(os.path.expanduser(os.fspath(bucket)))
        super().__init__(root, **options)
        self.root = root

    def url(self, key: str) -> str:
        return f"file://{self.root}/{key}"

    def same_location(self, other: Store) -> bool:
        return isinstance(other, LocalStore) and other.root == self.root

    def validate_key(self, key: str) -> None:
        super().validate_key(key)
        if "\x00" in key:
            raise InvalidKeyError(f"invalid key {key!r}: file names cannot contain NUL")
        segments = key.split("/")
        if segments[0] == TEMP_FOLDER:
            raise InvalidKeyError(
                f"invalid key {key!r}: {TEMP_FOLDER!r} is reserved for temporary files"
            )
        for segment in segments:
            if len(segment.encode("utf-8", "surrogatepass")) > 255:
                raise InvalidKeyError(
                    f"invalid key {key[:60]!r}...: each '/'-separated part may be at "
                    "most 255 bytes, the file name limit of local file systems"
                )

    def _path(self, key: str) -> str:
        """Return the file path of ``key``, checking that it resolves inside the root."""
        path = os.path.join(self.root, *key.split("/"))
        real_root = os.path.realpath(self.root)
        real_parent = os.path.realpath(os.path.dirname(path))
        if real_parent != real_root and not real_parent.startswith(real_root + os.sep):
            raise InvalidKeyError(
                f"invalid key {key!r}: it resolves to {real_parent!r}, outside the root "
                f"{self.root!r} (through a symbolic link)"
            )
        if os.path.islink(path):
            raise InvalidKeyError(
                f"invalid key {key!r}: {path!r} is a symbolic link, which this store "
                "does not follow"
            )
        return path

    # Reads

    def head(self, key: str) -> ObjectInfo:
        path = self._path(key)
        try:
            status = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            raise KeyNotFoundError(f"{self.url(key)} not found") from None
        if not _is_file(status):
            raise KeyNotFoundError(f"{self.url(key)} not found (it is a folder)")
        return _info_from_stat(key, status, _read_xattrs(path, key))

    def _open_version(self, info: ObjectInfo) -> IO[bytes]:
        try:
            handle = open(self._path(info.key), "rb")  # noqa: SIM115  # returned open
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise _changed(self.url(info.key)) from None
        if _etag(os.fstat(handle.fileno())) != (info.version or info.etag):
            handle.close()
            raise _changed(self.url(info.key))
        return handle

    def get_range(self, info: ObjectInfo, start: int, stop: int) -> bytes:
        with self._open_version(info) as handle:
            return os.pread(handle.fileno(), stop - start, start)

    def open_stream(self, info: ObjectInfo, start: int) -> IO[bytes]:
        # The open file keeps reading its version even when a write renames a new
        # file into place.
        handle = self._open_version(info)
        handle.seek(start)
        return handle

    # Listings

    def list_page(
        self,
        prefix: str,
        *,
        delimiter: str | None = None,
        token: str | None = None,
        page_size: int | None = None,
    ) -> ListPage:
        infos = self._walk_prefix(prefix, token, grouped=delimiter == "/")
        return page_from_sorted(
            infos, prefix, delimiter=delimiter, token=token, page_size=page_size or self.page_limit
        )

    def iter_objects(self, prefix: str) -> Iterator[ObjectInfo]:
        return self._walk_prefix(prefix, None, grouped=False)

    def _walk_prefix(self, prefix: str, token: str | None, grouped: bool) -> Iterator[ObjectInfo]:
        folder, _, start = prefix.rpartition("/")
        base = folder + "/" if folder else ""
        directory = os.path.join(self.root, *folder.split("/")) if folder else self.root
        if not os.path.isdir(directory) or os.path.islink(directory):
            return iter(())
        return self._walk(directory, base, start, token, grouped)

    def _walk(
        self, directory: str, base: str, start: str, token: str | None, grouped: bool
    ) -> Iterator[ObjectInfo]:
        """Yield objects below ``directory`` in key order, after ``token``, whose names
        (relative to ``directory``) start with ``start``."""
        entries = []
        with os.scandir(directory) as scan:
            for entry in scan:
                if not entry.name.startswith(start) or entry.is_symlink():
                    continue
                if not base and entry.name == TEMP_FOLDER:
                    continue
                is_folder = entry.is_dir(follow_symlinks=False)
                # Sort a folder as its name plus "/", which is how its keys begin.
                entries.append((base + entry.name + ("/" if is_folder else ""), entry, is_folder))
        entries.sort(key=lambda item: item[0])
        for name, entry, is_folder in entries:
            if is_folder:
                if token is not None and name < token and not token.startswith(name):
                    continue
                if grouped:
                    # One placeholder file stands for the folder; page_from_sorted
                    # groups it into a prefix. Empty folders are left out.
                    first = next(self._walk(entry.path, name, "", None, True), None)
                    if first is not None and (token is None or name > token):
                        yield first
                    continue
                yield from self._walk(entry.path, name, "", token, grouped)
            elif token is None or name > token:
                try:
                    status = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue  # deleted since the scan
                if _is_file(status):
                    yield _info_from_stat(name, status, None, _read_digest(entry.path))

    # Writes

    def _temp_folder(self) -> str:
        folder = os.path.join(self.root, TEMP_FOLDER)
        os.makedirs(folder, exist_ok=True)
        return folder

    def _prepare_parent(self, key: str) -> str:
        path = self._path(key)
        parent = os.path.dirname(path)
        try:
            os.makedirs(parent, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            if not self._file_on_path(parent):
                # A concurrent delete removed an empty folder meanwhile; the
                # caller retries.
                raise FileNotFoundError(parent) from None
            raise InvalidKeyError(
                f"invalid key {key!r}: a part of its folder path is already an object, and "
                "a local folder cannot hold an object and a folder of the same name"
            ) from None
        if os.path.isdir(path):
            raise InvalidKeyError(
                f"invalid key {key!r}: it is already the folder of other keys, and a "
                "local folder cannot hold an object and a folder of the same name"
            )
        return path

    def _file_on_path(self, folder: str) -> bool:
        """Return whether ``folder`` or one of its parents below the root is a file."""
        while folder.startswith(self.root + os.sep):
            try:
                if not stat.S_ISDIR(os.stat(folder).st_mode):
                    return True
            except (FileNotFoundError, NotADirectoryError):
                pass
            folder = os.path.dirname(folder)
        return False

    def _write(
        self,
        key: str,
        write: Any,
        *,
        content_type: str,
        metadata: Mapping[str, str],
        if_absent: bool = False,
    ) -> ObjectInfo:
        self._path(key)  # reject a key that escapes the root before writing anything
        # Closed by the with block below; the name must outlive it for the rename.
        handle = tempfile.NamedTemporaryFile(dir=self._temp_folder(), delete=False)  # noqa: SIM115
        try:
            with handle:
                hashing = _HashingWriter(handle)
                write(hashing)
                handle.flush()
                os.fsync(handle.fileno())
                status = os.fstat(handle.fileno())
            digest = hashing.hexdigest()
            _write_xattrs(handle.name, key, content_type, metadata, digest)
            self._move_into_place(handle.name, key, if_absent)
        except BaseException:
            if os.path.exists(handle.name):
                os.unlink(handle.name)
            raise
        return _info_from_stat(key, status, (content_type, dict(metadata), digest))

    def _move_into_place(self, temporary: str, key: str, if_absent: bool) -> None:
        # A concurrent delete may prune the folder between makedirs and the rename,
        # so both steps run again a bounded number of times.
        for attempt in range(_PLACE_ATTEMPTS):
            try:
                path = self._prepare_parent(key)
                if not if_absent:
                    os.replace(temporary, path)
                    return
                try:
                    os.link(temporary, path)  # fails atomically when the key exists
                except FileExistsError:
                    raise KeyExistsError(f"{self.url(key)} already exists") from None
                os.unlink(temporary)
                return
            except FileNotFoundError:
                if attempt == _PLACE_ATTEMPTS - 1 or not os.path.exists(temporary):
                    raise

    def put_bytes(
        self,
        key: str,
        data: bytes | bytearray | memoryview,
        *,
        content_type: str,
        metadata: Mapping[str, str],
        if_absent: bool = False,
    ) -> ObjectInfo:
        return self._write(
            key,
            lambda handle: handle.write(data),
            content_type=content_type,
            metadata=metadata,
            if_absent=if_absent,
        )

    def put_stream(
        self, key: str, stream: IO[bytes], *, content_type: str, metadata: Mapping[str, str]
    ) -> ObjectInfo:
        def write(handle: IO[bytes]) -> None:
            while chunk := stream.read(_COPY_CHUNK):
                handle.write(chunk)

        return self._write(key, write, content_type=content_type, metadata=metadata)

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            os.unlink(path)
        except (FileNotFoundError, NotADirectoryError):
            return
        except IsADirectoryError:
            return  # a folder is not an object
        self._prune_folders(os.path.dirname(path))

    def _prune_folders(self, directory: str) -> None:
        """Remove folders that the deletion left empty, up to the root."""
        while directory != self.root and directory.startswith(self.root + os.sep):
            try:
                os.rmdir(directory)
            except OSError:
                return
            directory = os.path.dirname(directory)

    def can_copy_from(self, source: Store) -> bool:
        return isinstance(source, LocalStore)

    def copy_from(
        self,
        source: Store,
        info: ObjectInfo,
        key: str,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> ObjectInfo:
        assert isinstance(source, LocalStore)
        full_info = source.head(info.key) if not info.complete else info
        with source._open_version(info) as handle:
            return self._write(
                key,
                lambda target: shutil.copyfileobj(handle, target, _COPY_CHUNK),
                content_type=content_type or full_info.content_type or guess_content_type(key),
                metadata=(full_info.metadata or {}) if metadata is None else metadata,
            )

    def create_bucket(self) -> None:
        os.makedirs(self.root, exist_ok=True)


def _is_file(status: os.stat_result) -> bool:
    return stat.S_ISREG(status.st_mode)


def _etag(status: os.stat_result) -> str:
    # A write renames a new file into place, so the inode changes with every version.
    # This tag is the version that reads pin; the ETag is the MD5 of the contents
    # where a write recorded one.
    return f"{status.st_ino:x}-{status.st_mtime_ns:x}-{status.st_size:x}"


def _info_from_stat(
    key: str,
    status: os.stat_result,
    attributes: tuple[str, dict[str, str], str | None] | None,
    digest: str | None = None,
) -> ObjectInfo:
    if attributes is not None:
        digest = attributes[2]
    return ObjectInfo(
        key=key,
        size=status.st_size,
        etag=digest or _etag(status),
        version=_etag(status),
        last_modified=datetime.datetime.fromtimestamp(status.st_mtime, datetime.timezone.utc),
        content_type=attributes[0] if attributes else None,
        metadata=attributes[1] if attributes else None,
    )


def _read_xattrs(path: str, key: str) -> tuple[str, dict[str, str], str | None]:
    try:
        content_type = os.getxattr(path, _XATTR_TYPE).decode()
        metadata = json.loads(os.getxattr(path, _XATTR_METADATA))
    except OSError:
        return guess_content_type(key), {}, None
    return content_type, metadata, _read_digest(path)


def _read_digest(path: str) -> str | None:
    """Return the MD5 of the contents that the write recorded, if any."""
    try:
        return os.getxattr(path, _XATTR_MD5, follow_symlinks=False).decode()
    except OSError:
        return None


def _write_xattrs(
    path: str, key: str, content_type: str, metadata: Mapping[str, str], digest: str
) -> None:
    try:
        os.setxattr(path, _XATTR_TYPE, content_type.encode())
        os.setxattr(path, _XATTR_METADATA, json.dumps(dict(metadata)).encode())
        os.setxattr(path, _XATTR_MD5, digest.encode())
    except OSError as error:
        if error.errno not in (errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
        if metadata:
            raise NotSupportedError(
                f"cannot store metadata for {key!r}: the file system of this folder has no "
                "extended attributes"
            ) from error


class _HashingWriter:
    """A write-only file that passes data on and computes its MD5."""

    def __init__(self, target: IO[bytes]) -> None:
        self._target = target
        self._md5 = hashlib.md5(usedforsecurity=False)

    def write(self, data: Any) -> int:
        self._md5.update(data)
        return self._target.write(data)

    def hexdigest(self) -> str:
        return self._md5.hexdigest()


def _changed(url: str) -> ObjectChangedError:
    return ObjectChangedError(
        f"{url} was overwritten or deleted while being read; look the key up again to "
        "read the current version"
    )


def factory(root: str | os.PathLike[str], prefix: str = "", **options: Any) -> type[ObjectMapping]:
    """Return the mapping class of the folder ``root``, scoped to ``prefix``.

    The folder is created on the first write. Raises BucketNotFoundError when ``root``
    exists and is not a folder.
    """
    mapping_options = pop_mapping_options(options)
    store = LocalStore(os.fspath(root), **options)
    if os.path.exists(store.root) and not os.path.isdir(store.root):
        raise BucketNotFoundError(f"{store.root!r} is not a folder; pass a folder as root")
    return make_factory(store, prefix, **mapping_options)
