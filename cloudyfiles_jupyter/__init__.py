"""Jupyter support for cloudyfiles: ``%cloudy`` magics, previews and a bucket browser.

Load it in IPython or Jupyter with ``%load_ext cloudyfiles_jupyter``. Mappings and
RemoteObjects display rich previews even without the extension; the extension adds
the magics. Preview settings live in :data:`config`, for example
``cloudyfiles_jupyter.config.preview_bytes = 128 * 1024`` or
``%cloudy config preview_bytes=131072``.

Importing this package imports neither IPython nor ipywidgets; the magics and the
browser import them when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cloudyfiles._display import DisplayConfig, config

if TYPE_CHECKING:
    from cloudyfiles import ObjectMapping

    from ._widget import BucketBrowser

__all__ = [
    "DisplayConfig",
    "browser",
    "config",
    "load_ipython_extension",
    "unload_ipython_extension",
]


def load_ipython_extension(ipython: Any) -> None:
    """Register the ``%cloudy`` magics with ``ipython``; loading again changes nothing."""
    from .magics import CloudyMagics

    registered = ipython.magics_manager.registry.get(CloudyMagics.__name__)
    if registered is not None:
        return
    ipython.register_magics(CloudyMagics)


def unload_ipython_extension(ipython: Any) -> None:
    """Remove the ``%cloudy`` magics from ``ipython``."""
    from .magics import CloudyMagics

    manager = ipython.magics_manager
    manager.registry.pop(CloudyMagics.__name__, None)
    for kind in ("line", "cell"):
        manager.magics[kind].pop("cloudy", None)


def browser(location: str | ObjectMapping, *, name: str | None = None) -> BucketBrowser:
    """Return an interactive browser of a bucket or folder, given as URL or mapping.

    ``name`` is the variable that contains the mapping, used in the Python expressions
    that the browser offers for a selected key.
    """
    from ._targets import resolve
    from ._widget import BucketBrowser

    if isinstance(location, str):
        target = resolve(location)
        mapping = target.folder() if target.is_folder else target.mapping
    else:
        mapping = location
    return BucketBrowser(mapping, name=name)
