"""The URL entry point: pick the backend from the scheme, as fsspec users expect."""

from __future__ import annotations

import importlib
import urllib.parse
from typing import Any

from ._mapping import ObjectMapping
from .errors import MissingDependencyError

__all__ = ["factory_from_url", "from_url"]

# Scheme -> (module, pip extra). Modules are imported on first use, so a missing SDK
# only matters for the schemes that need it.
BACKENDS: dict[str, tuple[str, str | None]] = {
    "s3": ("cloudyfiles.s3", "s3"),
    "gs": ("cloudyfiles.gcs", "gcs"),
    "gcs": ("cloudyfiles.gcs", "gcs"),
    "az": ("cloudyfiles.azure", "azure"),
    "abfs": ("cloudyfiles.azure", "azure"),
    "swift": ("cloudyfiles.swift", "swift"),
    "file": ("cloudyfiles.local", None),
    "memory": ("cloudyfiles.memory", None),
}


def split_url(url: str) -> tuple[str, str, str]:
    """Split ``scheme://bucket/prefix`` into its three parts, leaving them undecoded.

    ``file:///path`` and plain paths give the path as the bucket and no prefix.
    """
    if not isinstance(url, str):
        raise TypeError(f"url must be str, not {type(url).__name__}")
    scheme, separator, rest = url.partition("://")
    if not separator:
        return "file", url, ""
    scheme = scheme.lower()
    if scheme not in BACKENDS:
        known = ", ".join(f"{name}://" for name in BACKENDS)
        raise ValueError(f"unknown URL scheme in {url!r}: use one of {known}")
    if scheme == "file":
        host, slash, path = rest.partition("/")
        if host not in ("", "localhost"):
            raise ValueError(
                f"invalid URL {url!r}: file URLs name a local path, such as file:///data "
                "(three slashes)"
            )
        return scheme, urllib.parse.unquote(slash + path), ""
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise ValueError(f"invalid URL {url!r}: it names no bucket; write {scheme}://BUCKET/PREFIX")
    return scheme, bucket, prefix


def _backend(scheme: str) -> Any:
    module_name, extra = BACKENDS[scheme]
    try:
        return importlib.import_module(module_name)
    except MissingDependencyError:
        raise
    except ImportError as error:
        raise MissingDependencyError(
            f"{scheme}:// needs the {extra!r} extra: pip install 'cloudyfiles[{extra}]'"
        ) from error


def factory_from_url(url: str, **options: Any) -> type[ObjectMapping]:
    """Return the mapping class for ``url``, such as ``s3://bucket/prefix``.

    Options go to the backend's ``factory``.
    """
    scheme, bucket, prefix = split_url(url)
    return _backend(scheme).factory(bucket, prefix, **options)  # type: ignore[no-any-return]


def from_url(url: str, **options: Any) -> ObjectMapping:
    """Return a mapping over the objects at ``url``.

    >>> from cloudyfiles import from_url
    >>> d = from_url("memory://demo/reports")
    >>> d["2024.csv"] = "year,total\\n"
    >>> d.url
    'memory://demo/reports/'
    """
    return factory_from_url(url, **options)()
