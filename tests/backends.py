"""What each backend's test module hands to the shared conformance suite."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cloudyfiles import ObjectMapping

# Server departures from the vendor's real service. A test that depends on the real
# behaviour skips, naming the quirk, on servers that have it.
MERGES_SLASHES = "merges-slashes"
"""The server merges '//' inside keys and drops leading '/' (SeaweedFS)."""
REJECTS_DOT_SEGMENTS = "rejects-dot-segments"
"""The server rejects keys with '.' or '..' segments (SeaweedFS)."""
PAGE_SIZE_COUNTS_OBJECTS_ONLY = "page-size-counts-objects-only"
"""With a delimiter, the page size limits objects but not folder prefixes
(fake-gcs-server); S3 and GCS count both."""


@dataclass
class Backend:
    """A backend under test: how to make fresh mappings on its real server."""

    name: str
    make: Callable[..., type[ObjectMapping]]
    """Return a mapping class on a fresh, empty bucket or prefix; kwargs are factory options."""
    make_faulty: Callable[..., tuple[type[ObjectMapping], Any]] | None = None
    """Return a mapping class whose requests pass through a fault proxy, and the proxy."""
    quirks: frozenset[str] = field(default_factory=frozenset)
    """Departures of the test server from the real service."""
