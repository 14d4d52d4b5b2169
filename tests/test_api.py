"""The public surface: exported names, the error tree, URLs and missing SDKs."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import cloudyfiles
from cloudyfiles import errors
from cloudyfiles._url import split_url


def test_public_names_are_pinned() -> None:
    assert sorted(cloudyfiles.__all__) == [
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
    for name in cloudyfiles.__all__:
        assert hasattr(cloudyfiles, name), name


@pytest.mark.parametrize(
    ("error", "builtin"),
    [
        (errors.KeyNotFoundError, KeyError),
        (errors.InvalidKeyError, ValueError),
        (errors.BucketNotFoundError, FileNotFoundError),
        (errors.AccessDeniedError, PermissionError),
        (errors.KeyExistsError, FileExistsError),
        (errors.TransientError, ConnectionError),
        (errors.RequestTimeoutError, TimeoutError),
        (errors.NotSupportedError, NotImplementedError),
        (errors.MissingDependencyError, ImportError),
    ],
)
def test_errors_derive_from_builtins(error: type[Exception], builtin: type[Exception]) -> None:
    assert issubclass(error, builtin)
    assert issubclass(error, errors.CloudyError)


def test_transient_errors_are_not_key_errors() -> None:
    assert not issubclass(errors.TransientError, KeyError)
    assert not issubclass(errors.RequestTimeoutError, KeyError)


def test_key_not_found_message_is_plain() -> None:
    assert str(errors.KeyNotFoundError("s3://b/k not found")) == "s3://b/k not found"


@pytest.mark.parametrize(
    ("url", "parts"),
    [
        ("s3://bucket/a/b", ("s3", "bucket", "a/b")),
        ("s3://bucket", ("s3", "bucket", "")),
        ("S3://bucket/x%20y", ("s3", "bucket", "x%20y")),
        ("gs://b/p", ("gs", "b", "p")),
        ("az://container/p", ("az", "container", "p")),
        ("swift://container/p", ("swift", "container", "p")),
        ("memory://name/p", ("memory", "name", "p")),
        ("file:///tmp/data", ("file", "/tmp/data", "")),
        ("/tmp/data", ("file", "/tmp/data", "")),
    ],
)
def test_split_url(url: str, parts: tuple[str, str, str]) -> None:
    assert split_url(url) == parts


@pytest.mark.parametrize("url", ["ftp://host/x", "s3:///no-bucket"])
def test_invalid_urls_raise_value_error(url: str) -> None:
    with pytest.raises(ValueError, match="s3://"):
        cloudyfiles.from_url(url)


@pytest.mark.parametrize(
    ("module", "sdk", "extra"),
    [
        ("cloudyfiles.s3", "boto3", "s3"),
        ("cloudyfiles.gcs", "google.cloud.storage", "gcs"),
        ("cloudyfiles.azure", "azure.storage.blob", "azure"),
        ("cloudyfiles.swift", "swiftclient", "swift"),
    ],
)
def test_missing_sdk_names_the_extra(module: str, sdk: str, extra: str) -> None:
    # A fresh interpreter in which importing the SDK fails, as if it were not installed.
    script = textwrap.dedent(
        f"""
        import sys
        sys.modules[{sdk!r}] = None
        import cloudyfiles
        try:
            import {module}
        except cloudyfiles.MissingDependencyError as error:
            print(error)
        else:
            print("imported")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert f"cloudyfiles[{extra}]" in result.stdout


def test_import_has_no_side_effects() -> None:
    script = (
        "import logging, sys, cloudyfiles;"
        "print(logging.getLogger().handlers, 'boto3' in sys.modules, 'IPython' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[] False False"
