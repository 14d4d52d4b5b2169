"""Authentication settings of the Swift backend: tempauth, Keystone and Rackspace.

:func:`resolve_auth` merges a factory's options with the ``OS_*`` and ``ST_*``
environment variables into one :class:`SwiftAuth`; the store turns it into a
swiftclient connection.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import AccessDeniedError, MissingDependencyError

__all__ = [
    "AUTH_OPTIONS",
    "RACKSPACE_AUTH_URL",
    "RACKSPACE_REGIONS",
    "SwiftAuth",
    "keystone_session",
    "resolve_auth",
]

RACKSPACE_AUTH_URL = "https://identity.api.rackspacecloud.com/v2.0/"
"""Rackspace's identity endpoint (Keystone v2.0) for every region."""
RACKSPACE_REGIONS = {
    "DFW": "DFW",
    "DALLAS": "DFW",
    "ORD": "ORD",
    "CHICAGO": "ORD",
    "IAD": "IAD",
    "VIRGINIA": "IAD",
    "NORTHERN VIRGINIA": "IAD",
    "LON": "LON",
    "LONDON": "LON",
    "SYD": "SYD",
    "SYDNEY": "SYD",
    "HKG": "HKG",
    "HONG KONG": "HKG",
}
"""Region codes of Rackspace Cloud Files, by code and by city name in upper case."""


AUTH_OPTIONS = (
    "auth_url",
    "user",
    "key",
    "username",
    "password",
    "api_key",
    "storage_url",
    "auth_token",
)
# Environment variables per setting, first found wins; ST_* are the swift CLI's tempauth names.
_ENVIRONMENT = {
    "auth_url": ("OS_AUTH_URL", "ST_AUTH"),
    "username": ("OS_USERNAME", "ST_USER"),
    "password": ("OS_PASSWORD", "ST_KEY"),
    "project_name": ("OS_PROJECT_NAME", "OS_TENANT_NAME"),
    "project_id": ("OS_PROJECT_ID", "OS_TENANT_ID"),
    "user_domain_name": ("OS_USER_DOMAIN_NAME",),
    "project_domain_name": ("OS_PROJECT_DOMAIN_NAME",),
    "region_name": ("OS_REGION_NAME",),
    "interface": ("OS_INTERFACE", "OS_ENDPOINT_TYPE"),
    "auth_version": ("OS_AUTH_VERSION", "OS_IDENTITY_API_VERSION", "ST_AUTH_VERSION"),
    "storage_url": ("OS_STORAGE_URL",),
    "auth_token": ("OS_AUTH_TOKEN",),
}
_V1_AUTH_PATH = re.compile(r"/(auth/)?v1(\.0)?/?$")


# Authentication settings


@dataclass(frozen=True)
class SwiftAuth:
    """Resolved authentication settings of a store; secrets stay out of the repr."""

    auth_version: str
    """``"1"`` (tempauth and other v1 systems), ``"2"`` or ``"3"`` (Keystone)."""
    auth_url: str | None = None
    """Identity endpoint, or None when only a storage URL and token are known."""
    username: str | None = None
    """User name; ``account:user`` for tempauth."""
    password: str | None = field(default=None, repr=False)
    """Password, or the key of a v1 user."""
    api_key: str | None = field(default=None, repr=False)
    """Rackspace API key, used instead of the password."""
    project_name: str | None = None
    """Keystone project (tenant) name."""
    project_id: str | None = None
    """Keystone project (tenant) id."""
    user_domain_name: str | None = None
    """Keystone v3 domain of the user."""
    project_domain_name: str | None = None
    """Keystone v3 domain of the project."""
    region_name: str | None = None
    """Region of the object-store endpoint in the service catalog."""
    interface: str = "public"
    """Endpoint interface in the catalog: ``public``, ``internal`` or ``admin``."""
    storage_url: str | None = None
    """Storage URL that overrides the catalog, or that a token was issued for."""
    auth_token: str | None = field(default=None, repr=False)
    """Token obtained beforehand."""
    preset: str | None = None
    """``"rackspace"`` when Rackspace's defaults were applied."""

    @property
    def has_credentials(self) -> bool:
        """Whether the settings can authenticate, as opposed to only reuse a token."""
        return bool(self.auth_url and self.username and (self.password or self.api_key))


def resolve_auth(options: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> SwiftAuth:
    """Return the authentication settings from store options, or else from the environment.

    When ``options`` name any credential (``auth_url``, ``user``, ``key``, ``username``,
    ``password``, ``api_key``, ``storage_url``, ``auth_token``) the environment is not read,
    so credentials of two sources never mix. Makes no request.
    """
    environ = os.environ if environ is None else environ
    settings = _settings_from(options, environ)
    preset = _preset(options)
    if preset == "rackspace":
        settings.setdefault("auth_url", RACKSPACE_AUTH_URL)
        settings.setdefault("auth_version", "2")
        settings["region_name"] = _rackspace_region(settings.get("region_name"))
    version = _auth_version(settings, options, environ)
    if version == "3":
        settings.setdefault("user_domain_name", "Default")
        settings.setdefault("project_domain_name", "Default")
    auth = SwiftAuth(auth_version=version, preset=preset, **settings)
    _check_auth(auth)
    return auth


def _settings_from(options: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    if not any(options.get(name) for name in AUTH_OPTIONS):
        for name, variables in _ENVIRONMENT.items():
            value = next((environ[v] for v in variables if environ.get(v)), None)
            if value:
                settings[name] = value
    aliases = {"user": "username", "key": "password"}
    for name in (*AUTH_OPTIONS, *_ENVIRONMENT):
        if options.get(name) is not None:
            settings[aliases.get(name, name)] = str(options[name])
    if "interface" in settings:
        settings["interface"] = settings["interface"].lower().removesuffix("url")
    return settings


def _preset(options: Mapping[str, Any]) -> str | None:
    preset = options.get("preset")
    if options.get("rackspace"):
        preset = preset or "rackspace"
    if preset not in (None, "rackspace"):
        raise ValueError(f"unknown Swift preset {preset!r}: the only preset is 'rackspace'")
    return preset  # type: ignore[no-any-return]


def _rackspace_region(region: str | None) -> str:
    known = ", ".join(sorted(set(RACKSPACE_REGIONS.values())))
    if not region:
        raise ValueError(f"missing region_name for Rackspace Cloud Files: use one of {known}")
    code = RACKSPACE_REGIONS.get(region.upper().replace("-", " ").replace("_", " "))
    if code is None:
        raise ValueError(f"unknown Rackspace region {region!r}: use one of {known}")
    return code


def _auth_version(
    settings: dict[str, Any], options: Mapping[str, Any], environ: Mapping[str, str]
) -> str:
    explicit = settings.pop("auth_version", None)
    if explicit:
        version = str(explicit).lower().removeprefix("v").removesuffix(".0")
        if version not in ("1", "2", "3"):
            raise ValueError(f"invalid auth_version {explicit!r}: use '1', '2' or '3'")
        return version
    auth_url = settings.get("auth_url") or ""
    uses_v1_names = "user" in options or "key" in options
    from_st = not any(options.get(n) for n in AUTH_OPTIONS) and bool(environ.get("ST_AUTH"))
    if _V1_AUTH_PATH.search(urllib.parse.urlsplit(auth_url).path) or uses_v1_names or from_st:
        return "1"
    if re.search(r"/v2\.0/?$", auth_url):
        return "2"
    return "3"


def _check_auth(auth: SwiftAuth) -> None:
    if not auth.has_credentials and not (auth.storage_url and auth.auth_token):
        raise AccessDeniedError(
            "no Swift credentials found: pass auth_url, user and key (tempauth), or "
            "auth_url, username, password and project_name (Keystone), or set OS_AUTH_URL, "
            "OS_USERNAME, OS_PASSWORD and OS_PROJECT_NAME, or OS_STORAGE_URL and OS_AUTH_TOKEN"
        )
    if (
        auth.auth_version == "3"
        and auth.has_credentials
        and not (auth.project_name or auth.project_id)
    ):
        raise AccessDeniedError(
            f"missing project for Keystone v3 at {auth.auth_url}: pass project_name or "
            "project_id, or set OS_PROJECT_NAME"
        )


def keystone_session(auth: SwiftAuth, timeout: float | None, verify: Any) -> Any:
    """Return a keystoneauth1 session that logs in with ``auth``."""
    # NOTE: the tests resolve Keystone and Rackspace settings but run no Keystone server,
    # so these logins have not been run against a real identity service.
    try:
        from keystoneauth1 import session
        from keystoneauth1.identity import v2, v3
    except ImportError as error:
        raise MissingDependencyError(
            "Keystone authentication needs keystoneauth1: pip install 'cloudyfiles[swift]'"
        ) from error
    if auth.api_key:
        plugin = _rackspace_api_key_plugin(v2)(auth.auth_url, auth.username, auth.api_key)
    elif auth.auth_version == "2":
        plugin = v2.Password(
            auth.auth_url,  # type: ignore[arg-type]  # _check_auth requires it
            username=auth.username,
            password=auth.password,
            tenant_name=auth.project_name,
            tenant_id=auth.project_id,
        )
    else:
        plugin = v3.Password(
            auth.auth_url,  # type: ignore[arg-type]  # _check_auth requires it
            username=auth.username,
            password=auth.password,  # type: ignore[arg-type]
            project_name=auth.project_name,
            project_id=auth.project_id,
            user_domain_name=auth.user_domain_name,
            project_domain_name=auth.project_domain_name,
        )
    return session.Session(auth=plugin, timeout=timeout, verify=verify)


def _rackspace_api_key_plugin(v2: Any) -> Any:
    class RackspaceApiKey(v2.Auth):  # type: ignore[misc, name-defined]
        """Keystone v2.0 login with Rackspace's ``RAX-KSKEY:apiKeyCredentials``."""

        def __init__(self, auth_url: str, username: str, api_key: str) -> None:
            super().__init__(auth_url)
            self.username = username
            self.api_key = api_key

        def get_auth_data(self, headers: Any = None) -> dict[str, Any]:
            credentials = {"username": self.username, "apiKey": self.api_key}
            return {"RAX-KSKEY:apiKeyCredentials": credentials}

    return RackspaceApiKey


# The store
