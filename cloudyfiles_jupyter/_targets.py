"""Turn what a user types after ``%cloudy`` into a mapping and a key.

A target is a URL (``s3://bucket/prefix/key``, ``memory://name/key``, ``file:///path``
or a plain path), the name of a mapping or RemoteObject variable, or ``VAR/key`` where
``VAR`` is a mapping variable. A URL or key that ends in ``/`` names a folder.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cloudyfiles import ObjectMapping, RemoteObject
from cloudyfiles._mapping import make_factory
from cloudyfiles._url import factory_from_url, split_url

__all__ = ["Target", "resolve"]


@dataclass
class Target:
    """A folder mapping and the key inside it that a command acts on."""

    mapping: ObjectMapping
    """Mapping of the folder that contains ``key``."""
    key: str
    """Key relative to ``mapping``; ``""`` when the target is the folder itself."""
    text: str
    """The target as the user typed it, for messages."""

    @property
    def is_folder(self) -> bool:
        """Whether the target names a folder (a bucket or a prefix) rather than one key."""
        return self.key == "" or self.key.endswith("/")

    @property
    def url(self) -> str:
        """Location of the target, such as ``s3://bucket/prefix/key``."""
        return self.mapping.url + self.key

    def folder(self) -> ObjectMapping:
        """Return a mapping scoped to the target read as a folder."""
        if self.key == "":
            return self.mapping
        prefix = self.mapping.prefix + self.key
        return make_factory(self.mapping.store, prefix, block_size=self.mapping.block_size)()

    def object(self) -> RemoteObject:
        """Look the key up and return its RemoteObject; raise KeyError when it is absent."""
        return self.mapping[self.key]


def resolve(text: str, namespace: Mapping[str, Any] | None = None) -> Target:
    """Return the target that ``text`` names, preferring variables of ``namespace``.

    Raises ValueError for an unknown URL scheme or a URL without a bucket, and
    MissingDependencyError when the backend's SDK is not installed.
    """
    namespace = namespace or {}
    value = namespace.get(text)
    if isinstance(value, ObjectMapping):
        return Target(value, "", text)
    if isinstance(value, RemoteObject):
        root = make_factory(value.store)()
        return Target(root, value.key, text)

    variable, separator, rest = text.partition("/")
    if separator and "://" not in text and isinstance(namespace.get(variable), ObjectMapping):
        return Target(namespace[variable], rest, text)
    return _resolve_url(text)


def _resolve_url(text: str) -> Target:
    scheme, bucket, path = split_url(text)
    if scheme == "file":
        return _resolve_path(text, bucket)
    if not path or path.endswith("/"):
        return Target(factory_from_url(text)(), "", text)
    parent, _, name = path.rpartition("/")
    folder_url = f"{scheme}://{bucket}/{parent}"
    return Target(factory_from_url(folder_url)(), name, text)


def _resolve_path(text: str, path: str) -> Target:
    from cloudyfiles.local import factory

    path = os.path.abspath(os.path.expanduser(path))
    if text.endswith("/") or os.path.isdir(path):
        return Target(factory(path)(), "", text)
    root, name = os.path.split(path)
    return Target(factory(root)(), name, text)
