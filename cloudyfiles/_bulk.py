"""Bulk operations on a mapping: many keys at once on a bounded thread pool.

Every function here takes an :class:`~cloudyfiles.ObjectMapping` and runs one request
per key (or per batch of keys) on at most ``max_workers`` threads. At most twice as
many requests are queued as there are workers, so an iterable of a million keys does
not become a million futures. When one key fails, the queued requests are cancelled,
the running ones finish, no thread is left behind, and the first error is raised with
the key named in its message.

Progress shows through ``tqdm.auto`` with ``progress=True``. With the default
``progress=None`` it shows only inside a running Jupyter kernel, and only for at
least :data:`AUTO_PROGRESS_MIN` keys.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import logging
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import MissingDependencyError

if TYPE_CHECKING:
    from ._mapping import ObjectMapping

__all__ = [
    "AUTO_PROGRESS_MIN",
    "DEFAULT_MAX_WORKERS",
    "copy_to",
    "delete_many",
    "get_many",
    "put_many",
    "update",
]

logger = logging.getLogger(__name__)

DEFAULT_MAX_WORKERS = 32
"""Threads of one bulk operation; boto3's S3 client keeps as many connections."""
BATCH_SIZE = 512
"""Keys per call of a store's concurrent batch method; progress advances per batch."""
AUTO_PROGRESS_MIN = 100
"""Minimum number of keys for which ``progress=None`` shows a bar in a notebook."""

_Item = TypeVar("_Item")
_Result = TypeVar("_Result")


def get_many(
    mapping: ObjectMapping,
    keys: Iterable[str],
    *,
    max_workers: int | None = None,
    progress: bool | None = None,
) -> dict[str, bytes]:
    """Download the contents of many keys; raise KeyError naming the first missing one."""
    unique = list(dict.fromkeys(keys))
    for key in unique:
        mapping._full_key(key)  # reject invalid keys before any request

    workers = _workers(mapping, max_workers)
    batched = _get_batched(mapping, unique, workers, progress)
    if batched is not None:
        return batched

    def fetch(key: str) -> bytes:
        return bytes(mapping[key])

    results = dict(_run(fetch, unique, workers, progress, "get"))
    return {key: results[key] for key in unique}


def _get_batched(
    mapping: ObjectMapping, keys: list[str], workers: int, progress: bool | None
) -> dict[str, bytes] | None:
    """Fetch through the store's concurrent batch method, or return None if it has none."""
    prefix = mapping.prefix
    results: dict[str, bytes] = {}
    bar = _progress_bar(progress, len(keys), "get")
    try:
        for start in range(0, len(keys), BATCH_SIZE):
            batch = keys[start : start + BATCH_SIZE]
            contents = mapping.store.get_many_bytes([prefix + key for key in batch], workers)
            if contents is None:
                return None
            results.update(zip(batch, contents, strict=True))
            if bar is not None:
                bar.update(len(batch))
    finally:
        if bar is not None:
            bar.close()
    return results


def _put_batched(
    mapping: ObjectMapping, pairs: dict[str, Any], workers: int, progress: bool | None
) -> bool:
    """Store plain values through the store's concurrent batch method, if it has one.

    Returns False, having stored nothing, when a value is a stream or a RemoteObject or
    the store has no batch method.
    """
    from ._mapping import plain_bytes
    from ._store import guess_content_type

    items = []
    for key, value in pairs.items():
        data = plain_bytes(value)
        if data is None:
            return False  # a stream or a RemoteObject takes the general path
        items.append((mapping.prefix + key, data, guess_content_type(key)))
    bar = _progress_bar(progress, len(items), "put")
    try:
        for start in range(0, len(items), BATCH_SIZE):
            if not mapping.store.put_many_bytes(items[start : start + BATCH_SIZE], workers):
                # Stores decide by their transport, not by the items, so only the
                # first batch can be declined and nothing was stored yet.
                return False
            if bar is not None:
                bar.update(min(BATCH_SIZE, len(items) - start))
    finally:
        if bar is not None:
            bar.close()
    return True


def put_many(
    mapping: ObjectMapping,
    items: Mapping[str, Any] | Iterable[tuple[str, Any]],
    *,
    max_workers: int | None = None,
    progress: bool | None = None,
) -> None:
    """Store many values; a key given twice keeps its last value, as ``dict`` does."""
    pairs = _pairs(items)
    for key in pairs:
        mapping._full_key(key)

    workers = _workers(mapping, max_workers)
    if _put_batched(mapping, pairs, workers, progress):
        logger.info("stored %d objects under %s", len(pairs), mapping.url)
        return

    def store(key: str) -> None:
        mapping.put(key, pairs[key])

    for _ in _run(store, list(pairs), workers, progress, "put"):
        pass
    logger.info("stored %d objects under %s", len(pairs), mapping.url)


def update(mapping: ObjectMapping, other: Any = (), /, **kwargs: Any) -> None:
    """Store the pairs of ``other`` and ``kwargs`` concurrently, as ``dict.update`` would.

    ``other`` is a mapping, an object with ``keys()``, or an iterable of pairs.
    """
    pairs: dict[str, Any] = {}
    if isinstance(other, Mapping) or hasattr(other, "keys"):
        for key in other.keys():  # noqa: SIM118  # dict.update calls keys() too
            pairs[key] = other[key]
    else:
        for pair in other:
            key, value = pair
            pairs[key] = value
    pairs.update(kwargs)
    if len(pairs) == 1:
        ((key, value),) = pairs.items()
        mapping.put(key, value)
        return
    put_many(mapping, pairs)


def delete_many(
    mapping: ObjectMapping,
    keys: Iterable[str],
    *,
    max_workers: int | None = None,
    progress: bool | None = None,
) -> None:
    """Delete many keys with the store's batched deletes; absent keys are skipped.

    Unlike ``del mapping[key]``, a missing key is not an error: checking each key
    first would cost one request per key, and S3, GCS and Azure batch deletes
    report absent keys as deleted too.
    """
    full = list(dict.fromkeys(mapping._full_key(key) for key in keys))
    size = mapping.store.delete_batch
    batches = [full[start : start + size] for start in range(0, len(full), size)]

    def delete(batch: list[str]) -> None:
        mapping.store.delete_many(batch)

    for _ in _run(delete, batches, _workers(mapping, max_workers), progress, "delete"):
        pass
    logger.info("deleted %d keys under %s", len(full), mapping.url)


def copy_to(
    mapping: ObjectMapping,
    other: ObjectMapping,
    prefix: str = "",
    *,
    max_workers: int | None = None,
    progress: bool | None = None,
) -> int:
    """Copy every key of ``mapping`` that starts with ``prefix`` to the same key in ``other``.

    Copies run on the server when both stores allow it (S3 to S3 on one endpoint, for
    example), and otherwise stream through this process in bounded memory. Returns the
    number of objects copied.
    """
    from .common import RemoteObject

    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be str, not {type(prefix).__name__}")
    start = len(mapping.prefix)
    infos = list(mapping.store.iter_objects(mapping.prefix + prefix))

    def copy(info: Any) -> None:
        source = RemoteObject(mapping.store, info, block_size=mapping.block_size)
        other.put(info.key[start:], source)

    for _ in _run(copy, infos, _workers(mapping, max_workers), progress, "copy", key=_info_key):
        pass
    logger.info("copied %d objects from %s to %s", len(infos), mapping.url, other.url)
    return len(infos)


def _info_key(info: Any) -> str:
    return str(info.key)


def _pairs(items: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> dict[str, Any]:
    if isinstance(items, Mapping):
        return {key: items[key] for key in items}
    return dict(items)


def _workers(mapping: ObjectMapping, max_workers: int | None) -> int:
    workers = mapping.max_workers if max_workers is None else max_workers
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"invalid max_workers {workers!r}: it must be an int of at least 1")
    return workers


def _run(
    function: Callable[[_Item], _Result],
    items: list[_Item],
    max_workers: int,
    progress: bool | None,
    verb: str,
    *,
    key: Callable[[_Item], str] = str,
) -> Iterator[tuple[_Item, _Result]]:
    """Yield ``(item, function(item))`` as calls finish, on at most ``max_workers`` threads."""
    if not items:
        return
    bar = _progress_bar(progress, len(items), verb)
    workers = min(max_workers, len(items))
    pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="cloudyfiles")
    pending: dict[concurrent.futures.Future[_Result], _Item] = {}
    queue = iter(items)
    try:
        for item in itertools.islice(queue, 2 * workers):
            pending[pool.submit(function, item)] = item
        while pending:
            done, _ = concurrent.futures.wait(
                pending, return_when=concurrent.futures.FIRST_COMPLETED
            )
            for future in done:
                item = pending.pop(future)
                yield item, _result(future, key(item))
                if bar is not None:
                    bar.update(1)
                for following in itertools.islice(queue, 1):
                    pending[pool.submit(function, following)] = following
    finally:
        # On an error, or when the caller stops early: drop queued calls and wait
        # for the running ones, so that no thread outlives the call.
        pool.shutdown(wait=True, cancel_futures=True)
        if bar is not None:
            bar.close()


def _result(future: concurrent.futures.Future[_Result], key: str) -> _Result:
    try:
        return future.result()
    except Exception as error:
        if key not in str(error) and sys.version_info >= (3, 11):
            error.add_note(f"while processing key {key!r}")
        raise


def _progress_bar(progress: bool | None, total: int, verb: str) -> Any:
    if progress is False or (progress is None and (total < AUTO_PROGRESS_MIN or not _in_kernel())):
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError as error:
        if progress is None:
            return None
        raise MissingDependencyError(
            "progress=True needs tqdm: pip install tqdm, or pass progress=False"
        ) from error
    return tqdm(total=total, desc=verb, unit="key")


def _in_kernel() -> bool:
    """Return whether a Jupyter kernel runs this code, without importing IPython."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = getattr(ipython, "get_ipython", lambda: None)()
    return shell is not None and hasattr(shell, "kernel")
