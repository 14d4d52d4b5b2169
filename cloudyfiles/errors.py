"""Exceptions raised by cloudyfiles.

Every error derives from :class:`CloudyError` and, where one fits, from the builtin
exception that callers already catch::

    CloudyError
    ├── KeyNotFoundError          (KeyError)        no object under the key
    ├── InvalidKeyError           (ValueError)      the store cannot hold this key
    ├── BucketNotFoundError       (FileNotFoundError)
    ├── AccessDeniedError         (PermissionError) missing or refused credentials
    ├── KeyExistsError            (FileExistsError) a conditional write found an object
    ├── ObjectChangedError                          the object changed while being read
    ├── TransientError            (ConnectionError) retries ran out on 5xx or throttling
    │   └── RequestTimeoutError   (TimeoutError)
    ├── NotSupportedError         (NotImplementedError)
    ├── MissingDependencyError    (ImportError)     an optional SDK is not installed
    └── RequestError                                any other refused request

Backends translate their SDK's exceptions in one function each and chain the original
with ``raise ... from``, so the vendor's details stay available as ``__cause__``.
"""

from __future__ import annotations

__all__ = [
    "AccessDeniedError",
    "BucketNotFoundError",
    "CloudyError",
    "InvalidKeyError",
    "KeyExistsError",
    "KeyNotFoundError",
    "MissingDependencyError",
    "NotSupportedError",
    "ObjectChangedError",
    "RequestError",
    "RequestTimeoutError",
    "TransientError",
]


class CloudyError(Exception):
    """Base class of every exception that cloudyfiles raises."""


class KeyNotFoundError(CloudyError, KeyError):
    """No object is stored under the key."""

    def __str__(self) -> str:
        # KeyError.__str__ shows repr(args[0]); a message reads better here.
        return str(self.args[0]) if self.args else ""


class InvalidKeyError(CloudyError, ValueError):
    """The key breaks a naming rule of the store, so nothing was sent."""


class BucketNotFoundError(CloudyError, FileNotFoundError):
    """The bucket, container or root folder does not exist."""


class AccessDeniedError(CloudyError, PermissionError):
    """The server refused the credentials, or found none."""


class KeyExistsError(CloudyError, FileExistsError):
    """A write that required the key to be absent found an object there."""


class ObjectChangedError(CloudyError):
    """The object was overwritten or deleted while a RemoteObject was reading it."""


class TransientError(CloudyError, ConnectionError):
    """A request kept failing with a server error or throttling after all retries."""


class RequestTimeoutError(TransientError, TimeoutError):
    """A request timed out after all retries."""


class NotSupportedError(CloudyError, NotImplementedError):
    """The store cannot perform the operation."""


class MissingDependencyError(CloudyError, ImportError):
    """An optional package needed by a backend is not installed."""


class RequestError(CloudyError):
    """The server rejected a request for a reason no other class describes."""
