"""Describe which credentials and endpoint a location resolves to, hiding secrets.

``describe`` never sends a request and never runs a credential program: an S3 chain
is resolved without the instance-metadata, container, assume-role, SSO and
credential-process providers, and a source that needs one of them is named, not
resolved. Secrets never appear; an access key id shows only its last four characters.
"""

from __future__ import annotations

import html
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cloudyfiles import Store

__all__ = ["Identity", "describe", "describe_url"]

_SECRET_WORDS = ("secret", "key", "password", "token", "credential", "sas", "signature")


@dataclass
class Identity:
    """Endpoint and credential source of a location."""

    url: str
    scheme: str
    endpoint: str
    """Service address that requests go to, or a local path."""
    credentials: str
    """Source of the credentials, such as ``env`` or ``shared-credentials-file``."""
    details: dict[str, str] = field(default_factory=dict)
    """Further facts without secrets: region, profile, masked key id, option names."""

    def __str__(self) -> str:
        lines = [f"{name}: {value}" for name, value in self._rows()]
        return "\n".join(lines)

    def _rows(self) -> list[tuple[str, str]]:
        rows = [
            ("url", self.url),
            ("scheme", self.scheme),
            ("endpoint", self.endpoint),
            ("credentials", self.credentials),
        ]
        return rows + sorted(self.details.items())

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))

    def _repr_html_(self) -> str:
        cells = "".join(
            f"<tr><th style='text-align:left;padding:1px 8px'>{html.escape(name)}</th>"
            f"<td style='text-align:left;padding:1px 8px'>{html.escape(value)}</td></tr>"
            for name, value in self._rows()
        )
        return f"<table class='cloudyfiles-whoami'>{cells}</table>"


def describe(store: Store, url: str) -> Identity:
    """Return the identity of ``store``, whose location is ``url``."""
    scheme = store.scheme
    describer = _DESCRIBERS.get(scheme, _describe_generic)
    return describer(store.options, url, store)


def describe_url(url: str, scheme: str) -> Identity:
    """Return what the environment alone shows about ``url``, for a backend not installed."""
    describer = _DESCRIBERS.get(scheme, _describe_generic)
    return describer({}, url, None)


def mask(value: str) -> str:
    """Return ``value`` with all but its last four characters hidden."""
    return "…" + value[-4:] if len(value) > 4 else "…"


def _option_names(options: Mapping[str, Any]) -> dict[str, str]:
    """Return the option names, with the values of secret-looking options hidden."""
    shown = {}
    for name, value in sorted(options.items()):
        secret = any(word in name.lower() for word in _SECRET_WORDS)
        shown[f"option {name}"] = "(hidden)" if secret else str(value)
    return shown


# S3

_UNRESOLVED_PROVIDERS = (
    "iam-role",
    "container-role",
    "assume-role",
    "assume-role-with-web-identity",
    "sso",
    "custom-process",
)
_SESSION_OPTIONS = (
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "region_name",
)


def _describe_s3(options: Mapping[str, Any], url: str, store: Store | None) -> Identity:
    try:
        import boto3
        import botocore.session
    except ImportError:
        return Identity(url, "s3", "unknown", "unknown: boto3 is not installed", {})

    core = botocore.session.Session(profile=options.get("profile_name"))
    resolver = core.get_component("credential_provider")
    for name in _UNRESOLVED_PROVIDERS:
        try:
            resolver.remove(name)
        except Exception:  # noqa: BLE001  # botocore versions differ in their providers
            pass
    session = boto3.session.Session(
        botocore_session=core,
        **{name: options[name] for name in _SESSION_OPTIONS if name in options},
    )
    details = _option_names(options)
    profile = options.get("profile_name") or os.environ.get("AWS_PROFILE")
    if profile:
        details["profile"] = profile

    if options.get("anonymous"):
        source = "none: unsigned requests (anonymous=True)"
    else:
        source = _s3_profile_source(core) or _s3_chain_source(session, details)
    client = session.client("s3", endpoint_url=options.get("endpoint_url"))
    details["region"] = str(client.meta.region_name)
    return Identity(url, "s3", str(client.meta.endpoint_url), source, details)


def _s3_profile_source(core: Any) -> str | None:
    """Name a profile source that whoami leaves unresolved because it sends requests."""
    try:
        profile = core.get_scoped_config()
    except Exception:  # noqa: BLE001  # a missing profile raises ProfileNotFound
        return None
    for setting, source in (
        ("role_arn", "assume-role"),
        ("web_identity_token_file", "assume-role-with-web-identity"),
        ("sso_session", "sso"),
        ("sso_start_url", "sso"),
        ("credential_process", "custom-process"),
    ):
        if setting in profile:
            return f"{source} (from the profile; not resolved, because that sends requests)"
    return None


def _s3_chain_source(session: Any, details: dict[str, str]) -> str:
    credentials = session.get_credentials()
    if credentials is not None:
        details["access key id"] = mask(credentials.access_key or "")
        return str(credentials.method)
    if os.environ.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") or os.environ.get(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI"
    ):
        return "container-role (not resolved, because that sends requests)"
    return (
        "none found in options, environment or shared files; an EC2 instance role may "
        "still apply (not checked, because that sends requests)"
    )


# Google Cloud Storage


def _describe_gcs(options: Mapping[str, Any], url: str, store: Store | None) -> Identity:
    emulator = os.environ.get("STORAGE_EMULATOR_HOST")
    endpoint = _store_endpoint(store) or options.get("endpoint") or emulator
    details = _option_names(options)
    if options.get("anonymous") or options.get("token") == "anon":
        source = "none: anonymous requests"
    elif options.get("credentials") is not None:
        source = f"credentials object passed as an option ({type(options['credentials']).__name__})"
    elif os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"):
        source = "service account file in GOOGLE_APPLICATION_CREDENTIALS"
        details["credentials file"] = os.environ["GOOGLE_APPLICATION_CREDENTIALS"]
    elif emulator:
        source = "none: STORAGE_EMULATOR_HOST points to an emulator"
    else:
        source = (
            "Application Default Credentials (not resolved, because that may query the "
            "metadata server)"
        )
    return Identity(url, "gs", str(endpoint or "https://storage.googleapis.com"), source, details)


# Azure Blob Storage


def _describe_azure(options: Mapping[str, Any], url: str, store: Store | None) -> Identity:
    details = _option_names(options)
    connection = options.get("connection_string") or os.environ.get(
        "AZURE_STORAGE_CONNECTION_STRING", ""
    )
    parts = dict(item.split("=", 1) for item in str(connection).split(";") if "=" in item)
    endpoint = (
        _store_endpoint(store)
        or options.get("account_url")
        or parts.get("BlobEndpoint")
        or (
            f"https://{parts['AccountName']}.blob.core.windows.net"
            if "AccountName" in parts
            else ""
        )
    )
    credential = options.get("credential")
    if credential is not None:
        kind = (
            "a string (account key or SAS token)"
            if isinstance(credential, str)
            else type(credential).__name__
        )
        source = f"credential passed as an option: {kind}"
    elif "AccountKey" in parts:
        source = "shared key in the connection string"
    elif "SharedAccessSignature" in parts:
        source = "SAS token in the connection string"
    elif connection:
        source = "connection string without a key"
    else:
        source = "none found in options or AZURE_STORAGE_CONNECTION_STRING"
    if "AccountName" in parts:
        details["account"] = parts["AccountName"]
    return Identity(url, "az", str(endpoint or "unknown"), source, details)


# OpenStack Swift


def _describe_swift(options: Mapping[str, Any], url: str, store: Store | None) -> Identity:
    details = _option_names(options)
    auth_url = (
        options.get("auth_url")
        or options.get("authurl")
        or os.environ.get("ST_AUTH")
        or os.environ.get("OS_AUTH_URL")
    )
    user = options.get("user") or os.environ.get("ST_USER") or os.environ.get("OS_USERNAME")
    if options.get("key") or options.get("password"):
        source = "user and key passed as options"
    elif os.environ.get("ST_KEY"):
        source = "ST_USER and ST_KEY environment variables"
    elif os.environ.get("OS_PASSWORD"):
        source = "OS_USERNAME and OS_PASSWORD environment variables (Keystone)"
    elif os.environ.get("OS_APPLICATION_CREDENTIAL_ID"):
        source = "Keystone application credential from the environment"
    else:
        source = "none found in options or ST_*/OS_* environment variables"
    if user:
        details["user"] = str(user)
    endpoint = _store_endpoint(store) or auth_url or "unknown"
    return Identity(url, "swift", str(endpoint), source, details)


# Local stores and anything else


def _describe_file(options: Mapping[str, Any], url: str, store: Store | None) -> Identity:
    root = getattr(store, "root", None) or url
    return Identity(url, "file", str(root), "none: a folder on this machine", {})


def _describe_memory(options: Mapping[str, Any], url: str, store: Store | None) -> Identity:
    return Identity(url, "memory", "this Python process", "none: memory of this process", {})


def _describe_generic(options: Mapping[str, Any], url: str, store: Store | None) -> Identity:
    scheme = store.scheme if store is not None else url.partition("://")[0]
    endpoint = _store_endpoint(store) or "unknown"
    return Identity(url, scheme, endpoint, "unknown for this backend", _option_names(options))


def _store_endpoint(store: Store | None) -> str | None:
    """Return an endpoint attribute the store already has, without making a client."""
    if store is None:
        return None
    for name in ("endpoint_url", "account_url", "auth_url", "endpoint", "storage_url"):
        value = vars(store).get(name) or store.options.get(name)
        if isinstance(value, str) and value:
            return value
    return None


_DESCRIBERS = {
    "s3": _describe_s3,
    "gs": _describe_gcs,
    "gcs": _describe_gcs,
    "az": _describe_azure,
    "abfs": _describe_azure,
    "azure": _describe_azure,
    "swift": _describe_swift,
    "file": _describe_file,
    "memory": _describe_memory,
}
