"""cloudyfiles: object storage as a Python dict.

Each backend module has a ``factory(bucket, prefix="", **options)`` that returns a
mapping class: :mod:`cloudyfiles.s3`, :mod:`cloudyfiles.gcs`, :mod:`cloudyfiles.azure`,
:mod:`cloudyfiles.swift`, :mod:`cloudyfiles.local` and :mod:`cloudyfiles.memory`.
:func:`from_url` opens a mapping from a URL such as ``s3://bucket/prefix``.
"""

from __future__ import annotations

from ._mapping import ObjectMapping
from ._store import ListPage, ObjectInfo, Store
from ._url import factory_from_url, from_url
from .common import RemoteObject
from .errors import (
    AccessDeniedError,
    BucketNotFoundError,
    CloudyError,
    InvalidKeyError,
    KeyExistsError,
    KeyNotFoundError,
    MissingDependencyError,
    NotSupportedError,
    ObjectChangedError,
    RequestError,
    RequestTimeoutError,
    TransientError,
)

__version__ = "0.1.0"

__all__ = [
    "AccessDeniedError",
    "BucketNotFoundError",
    "CloudyError",
    "InvalidKeyError",
    "KeyExistsError",
    "KeyNotFoundError",
    "ListPage",
    "MissingDependencyError",
    "NotSupportedError",
    "ObjectChangedError",
    "ObjectInfo",
    "ObjectMapping",
    "RemoteObject",
    "RequestError",
    "RequestTimeoutError",
    "Store",
    "TransientError",
    "factory_from_url",
    "from_url",
]
