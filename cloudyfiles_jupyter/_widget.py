"""An interactive bucket browser built on ipywidgets.

Every navigation or paging click sends one list request for one page, so a bucket of
any size opens at once. Selecting an object previews it with the same one-range
preview as its repr.
"""

from __future__ import annotations

import html
import logging
import os
import shutil
import tempfile
from typing import Any

import ipywidgets as widgets

from cloudyfiles import CloudyError, ListPage, ObjectMapping, RemoteObject
from cloudyfiles._display import config, format_size, object_bundle

__all__ = ["BucketBrowser"]

logger = logging.getLogger(__name__)

_HANDLED = (CloudyError, OSError, ValueError, TypeError)


class BucketBrowser(widgets.VBox):
    """Browse a mapping by folder and page, preview objects, and act on them.

    ``name`` is the variable holding the mapping; the expression offered for a selected
    key uses it, or ``cloudyfiles.from_url(...)`` without it.
    """

    def __init__(
        self, mapping: ObjectMapping, *, name: str | None = None, page_size: int | None = None
    ) -> None:
        self.mapping = mapping
        self.name = name
        self.page_size = page_size or config.page_size
        self.prefix = ""
        self.page = ListPage()
        self._tokens: list[str | None] = [None]
        self._selected: RemoteObject | None = None
        self._selected_key = ""

        self.breadcrumb = widgets.HBox(layout=widgets.Layout(flex_flow="row wrap"))
        self.folders = widgets.VBox()
        self.objects = widgets.Select(options=[], rows=12, layout=widgets.Layout(width="100%"))
        self.objects.observe(self._on_select, names="value")
        self.previous_button = self._button("◀ Previous", self._on_previous)
        self.next_button = self._button("Next ▶", self._on_next)
        self.page_label = widgets.Label()
        self.preview = widgets.HTML(layout=widgets.Layout(width="100%"))
        self.status = widgets.HTML()
        self.expression = widgets.Text(
            description="Code", placeholder="select an object", layout=widgets.Layout(width="100%")
        )
        self.download_path = widgets.Text(description="Save as", placeholder="local file path")
        self.download_button = self._button("Download", self._on_download)
        self.upload = widgets.FileUpload(multiple=True, description="Upload")
        self.upload.observe(self._on_upload, names="value")
        self.delete_button = self._button("Delete…", self._on_delete)
        self.confirm_label = widgets.HTML()
        self.confirm_button = self._button("Delete", self._on_confirm_delete, style="danger")
        self.cancel_button = self._button("Cancel", self._on_cancel_delete)
        self.confirm_box = widgets.HBox(
            [self.confirm_label, self.confirm_button, self.cancel_button],
            layout=widgets.Layout(display="none"),
        )

        listing = widgets.VBox(
            [
                self.folders,
                self.objects,
                widgets.HBox([self.previous_button, self.next_button]),
                self.page_label,
            ],
            layout=widgets.Layout(width="45%"),
        )
        details = widgets.VBox(
            [
                self.expression,
                widgets.HBox([self.download_path, self.download_button]),
                widgets.HBox([self.upload, self.delete_button]),
                self.confirm_box,
                self.preview,
            ],
            layout=widgets.Layout(width="55%"),
        )
        super().__init__([self.breadcrumb, widgets.HBox([listing, details]), self.status])
        self.add_class("cloudyfiles-browser")
        self.open_folder("")

    @property
    def selected(self) -> RemoteObject | None:
        """The RemoteObject selected in the listing, or None."""
        return self._selected

    def _button(self, label: str, handler: Any, style: str = "") -> widgets.Button:
        button = widgets.Button(
            description=label, button_style=style, layout=widgets.Layout(width="auto")
        )
        button.on_click(lambda _: self._guarded(handler))
        return button

    def _guarded(self, handler: Any) -> None:
        try:
            handler()
        except _HANDLED as error:
            logger.warning("bucket browser: %s", error)
            self._show_status(str(error), error=True)

    def _show_status(self, message: str, *, error: bool = False) -> None:
        color = "#b00020" if error else "#555"
        self.status.value = f'<span style="color:{color}">{html.escape(message)}</span>'

    # Navigation

    def open_folder(self, prefix: str) -> None:
        """Show the first page of the folder ``prefix``, relative to the mapping."""
        self.prefix = prefix
        self._tokens = [None]
        self._load_page()
        self._update_breadcrumb()

    def next_page(self) -> None:
        """Show the page after the current one, with one list request."""
        if self.page.next_token is None:
            return
        self._tokens.append(self.page.next_token)
        self._load_page()

    def previous_page(self) -> None:
        """Show the page before the current one, with one list request."""
        if len(self._tokens) < 2:
            return
        self._tokens.pop()
        self._load_page()

    def _on_next(self) -> None:
        self.next_page()

    def _on_previous(self) -> None:
        self.previous_page()

    def _load_page(self) -> None:
        self.page = self.mapping.list_page(
            self.prefix, delimiter="/", token=self._tokens[-1], page_size=self.page_size
        )
        start = len(self.prefix)
        self.folders.children = [
            self._button("📁 " + folder[start:], lambda folder=folder: self.open_folder(folder))
            for folder in self.page.prefixes
        ]
        self.objects.unobserve(self._on_select, names="value")
        self.objects.options = [
            (f"{info.key[start:]}  ({format_size(info.size)})", info.key)
            for info in self.page.objects
        ]
        self.objects.value = None
        self.objects.observe(self._on_select, names="value")
        self._select(None)
        number = len(self._tokens)
        more = "more follow" if self.page.next_token else "last page"
        count = len(self.page.prefixes) + len(self.page.objects)
        self.page_label.value = f"page {number} · {count} entries · {more}"
        self.previous_button.disabled = number == 1
        self.next_button.disabled = self.page.next_token is None
        self._show_status(f"{self.mapping.url}{self.prefix}")

    def _update_breadcrumb(self) -> None:
        crumbs = [self._button(self.mapping.url, lambda: self.open_folder(""))]
        path = ""
        for part in self.prefix.split("/")[:-1]:
            path += part + "/"
            crumbs.append(self._button(part + "/", lambda path=path: self.open_folder(path)))
        self.breadcrumb.children = crumbs

    # Selection and preview

    def _on_select(self, change: dict[str, Any]) -> None:
        self._guarded(lambda: self._select(change["new"]))

    def _select(self, key: str | None) -> None:
        self.confirm_box.layout.display = "none"
        if key is None:
            self._selected = None
            self.preview.value = ""
            self.expression.value = ""
            self.download_path.value = ""
            return
        self._selected = self.mapping[key]
        self._selected_key = key
        self.expression.value = self.expression_for(key)
        self.download_path.value = key.rpartition("/")[2]
        self.preview.value = object_bundle(self._selected)["text/html"]

    def expression_for(self, key: str) -> str:
        """Return Python code that evaluates to the object at ``key``."""
        if self.name:
            return f"{self.name}[{key!r}]"
        return f"cloudyfiles.from_url({self.mapping.url!r})[{key!r}]"

    # Actions

    def _require_selection(self) -> RemoteObject:
        if self._selected is None:
            raise ValueError("select an object first")
        return self._selected

    def _on_download(self) -> None:
        obj = self._require_selection()
        path = os.path.abspath(os.path.expanduser(self.download_path.value.strip()))
        if not self.download_path.value.strip():
            raise ValueError("enter a local file path under 'Save as'")
        if os.path.exists(path):
            raise ValueError(f"{path} already exists: choose another path or delete it first")
        self.download(obj, path)
        self._show_status(f"saved {obj.size:,} bytes to {path}")

    @staticmethod
    def download(obj: RemoteObject, path: str) -> None:
        """Stream ``obj`` to the local file ``path``, which appears only when complete."""
        folder = os.path.dirname(path) or "."
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115  # closed by the with block below
            dir=folder, prefix=".download-", delete=False
        )
        try:
            with handle, obj.open() as source:
                shutil.copyfileobj(source, handle, 1 << 20)
            os.replace(handle.name, path)
        except BaseException:
            os.unlink(handle.name)
            raise

    def _on_upload(self, change: dict[str, Any]) -> None:
        files = change["new"]
        if not files:
            return
        self._guarded(lambda: self.upload_files(files))
        self.upload.unobserve(self._on_upload, names="value")
        self.upload.value = ()
        self.upload.observe(self._on_upload, names="value")

    def upload_files(self, files: Any) -> None:
        """Store uploaded files (dicts with ``name``, ``content`` and ``type``) here."""
        names = []
        for item in files:
            key = self.prefix + item["name"]
            self.mapping.put(key, bytes(item["content"]), content_type=item.get("type") or None)
            names.append(key)
        self._load_page()
        self._show_status(f"uploaded {', '.join(names)}")

    def _on_delete(self) -> None:
        obj = self._require_selection()
        self.confirm_label.value = f"Delete <b>{html.escape(obj.url)}</b>?"
        self.confirm_box.layout.display = "flex"

    def _on_confirm_delete(self) -> None:
        obj = self._require_selection()
        del self.mapping[self._selected_key]
        self._load_page()
        self._show_status(f"deleted {obj.url}")

    def _on_cancel_delete(self) -> None:
        self.confirm_box.layout.display = "none"
