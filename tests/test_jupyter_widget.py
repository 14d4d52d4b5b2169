"""The bucket browser, driven through its ipywidgets objects without a front end.

Clicks call the buttons' handlers as a front end would; a memory store that counts
list requests checks that each click lists one page.
"""

from __future__ import annotations

import datetime
import uuid
from collections import Counter

import pytest

from cloudyfiles._display import config
from cloudyfiles._mapping import make_factory
from cloudyfiles.memory import MemoryStore, discard
from cloudyfiles_jupyter import browser
from cloudyfiles_jupyter._widget import BucketBrowser

HOSTILE = "<img src=x onerror=alert(1)>"


class CountingStore(MemoryStore):
    """A memory store that counts list requests and range reads."""

    def __init__(self, bucket: str, **options) -> None:
        super().__init__(bucket, **options)
        self.calls: Counter[str] = Counter()

    def list_page(self, prefix, **kwargs):
        self.calls["list"] += 1
        return super().list_page(prefix, **kwargs)

    def get_range(self, info, start, stop):
        self.calls["get_range"] += 1
        return super().get_range(info, start, stop)


@pytest.fixture
def store():
    name = f"widget-{uuid.uuid4().hex}"
    store = CountingStore(name)
    mapping = make_factory(store)()
    for number in range(25):
        mapping[f"logs/day{number:02d}.log"] = f"entry {number}\n"
    mapping["docs/readme.txt"] = "read me\n"
    mapping["top.csv"] = "a,b\n1,2\n"
    store.calls.clear()
    yield store
    discard(name)


def mapping_of(store):
    return make_factory(store)()


def click(button) -> None:
    button.click()


def test_opens_with_one_list_request(store):
    widget = BucketBrowser(mapping_of(store), page_size=10)

    assert store.calls == Counter({"list": 1})
    assert [button.description for button in widget.folders.children] == ["📁 docs/", "📁 logs/"]
    assert [value for _, value in widget.objects.options] == ["top.csv"]


def test_folder_navigation_and_breadcrumb(store):
    widget = BucketBrowser(mapping_of(store), page_size=10)

    click(widget.folders.children[1])

    assert widget.prefix == "logs/"
    assert len(widget.objects.options) == 10
    assert [button.description for button in widget.breadcrumb.children][1:] == ["logs/"]
    assert store.calls["list"] == 2

    click(widget.breadcrumb.children[0])
    assert widget.prefix == ""


def test_paging_fetches_one_page_per_click(store):
    widget = BucketBrowser(mapping_of(store), page_size=10)
    widget.open_folder("logs/")
    store.calls.clear()

    click(widget.next_button)
    second = [value for _, value in widget.objects.options]
    click(widget.next_button)
    third = [value for _, value in widget.objects.options]
    click(widget.previous_button)
    back = [value for _, value in widget.objects.options]

    assert store.calls == Counter({"list": 3})
    assert second[0] == "logs/day10.log"
    assert third == [
        "logs/day20.log",
        "logs/day21.log",
        "logs/day22.log",
        "logs/day23.log",
        "logs/day24.log",
    ]
    assert back == second
    assert widget.next_button.disabled is False
    assert widget.page_label.value.startswith("page 2 ·")


def test_last_page_disables_next(store):
    widget = BucketBrowser(mapping_of(store), page_size=10)
    widget.open_folder("logs/")
    click(widget.next_button)
    click(widget.next_button)

    assert widget.next_button.disabled
    assert "last page" in widget.page_label.value


def test_select_previews_with_one_range(store):
    widget = BucketBrowser(mapping_of(store), name="d")
    store.calls.clear()

    widget.objects.value = "top.csv"

    assert store.calls == Counter({"get_range": 1})
    assert "cloudyfiles-csv" in widget.preview.value
    assert widget.expression.value == "d['top.csv']"
    assert widget.selected.key == "top.csv"


def test_expression_without_name(store):
    widget = BucketBrowser(mapping_of(store))

    assert (
        widget.expression_for("a b.txt")
        == f"cloudyfiles.from_url({widget.mapping.url!r})['a b.txt']"
    )


def test_download_streams_to_file(store, tmp_path):
    widget = BucketBrowser(mapping_of(store))
    widget.objects.value = "top.csv"
    widget.download_path.value = str(tmp_path / "saved.csv")

    click(widget.download_button)

    assert (tmp_path / "saved.csv").read_bytes() == b"a,b\n1,2\n"
    assert "saved 8 bytes" in widget.status.value


def test_download_refuses_existing_file(store, tmp_path):
    (tmp_path / "saved.csv").write_text("keep")
    widget = BucketBrowser(mapping_of(store))
    widget.objects.value = "top.csv"
    widget.download_path.value = str(tmp_path / "saved.csv")

    click(widget.download_button)

    assert (tmp_path / "saved.csv").read_text() == "keep"
    assert "already exists" in widget.status.value


def test_upload_writes_into_current_folder(store):
    widget = BucketBrowser(mapping_of(store))
    widget.open_folder("docs/")

    widget.upload_files(
        [{"name": "new.txt", "type": "text/plain", "content": memoryview(b"fresh")}]
    )

    assert bytes(mapping_of(store)["docs/new.txt"]) == b"fresh"
    assert "docs/new.txt" in [value for _, value in widget.objects.options]


def test_upload_through_file_upload_value(store):
    widget = BucketBrowser(mapping_of(store))

    widget.upload.value = (
        {
            "name": "up.bin",
            "type": "",
            "size": 3,
            "content": memoryview(b"abc"),
            "last_modified": datetime.datetime.now(datetime.timezone.utc),
        },
    )

    assert bytes(mapping_of(store)["up.bin"]) == b"abc"
    assert widget.upload.value == ()


def test_delete_needs_confirmation(store):
    widget = BucketBrowser(mapping_of(store))
    widget.objects.value = "top.csv"

    click(widget.delete_button)
    assert widget.confirm_box.layout.display == "flex"
    assert "top.csv" in mapping_of(store)

    click(widget.cancel_button)
    assert widget.confirm_box.layout.display == "none"
    assert "top.csv" in mapping_of(store)

    click(widget.delete_button)
    click(widget.confirm_button)
    assert "top.csv" not in mapping_of(store)
    assert "deleted" in widget.status.value


def test_actions_without_selection_report(store):
    widget = BucketBrowser(mapping_of(store))

    click(widget.delete_button)

    assert "select an object first" in widget.status.value


def test_hostile_names_are_inert(store):
    mapping = mapping_of(store)
    mapping[HOSTILE] = HOSTILE
    mapping.put(f"{HOSTILE}.txt", HOSTILE, metadata={"note": HOSTILE})
    widget = BucketBrowser(mapping)

    widget.objects.value = f"{HOSTILE}.txt"
    click(widget.delete_button)

    for html_widget in (widget.preview, widget.status, widget.confirm_label):
        assert "<img" not in html_widget.value
    assert "&lt;img" in widget.preview.value
    assert "&lt;img" in widget.confirm_label.value


def test_browser_accepts_url(store, tmp_path):
    (tmp_path / "f.txt").write_text("x")

    widget = browser(str(tmp_path))

    assert [value for _, value in widget.objects.options] == ["f.txt"]


def test_page_size_follows_config(store):
    config.update(page_size=5)
    try:
        widget = BucketBrowser(mapping_of(store))
        widget.open_folder("logs/")
    finally:
        config.reset()

    assert len(widget.objects.options) == 5
