"""The tour in a real JupyterLab and Notebook 7, driven by headless Chromium.

Each test copies the tour next to its own bucket folder, which also contains a key and
a value made of ``<img src=x onerror=alert(1)>`` and a folder with more keys than one
page, runs every cell, and then uses the listing and the bucket browser. Any alert
dialog is a failure, because it means an unescaped string reached the page.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from .conftest import NOTEBOOKS, start_server

pytestmark = pytest.mark.browser

HOSTILE = "<img src=x onerror=alert(1)>"
KERNEL_IDLE = """() => {
    const widget = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const kernel = widget && widget.sessionContext && widget.sessionContext.session
        && widget.sessionContext.session.kernel;
    return Boolean(kernel && kernel.connectionStatus === "connected" && kernel.status === "idle");
}"""
RUN_ALL = "() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }"


def prepare_tour(base: Path) -> tuple[Path, Path]:
    """Copy the tour into ``base/root`` and fill ``base/data``; return both folders."""
    root = base / "root"
    root.mkdir()
    shutil.copy(NOTEBOOKS / "tour.ipynb", root / "tour.ipynb")
    shutil.copy(NOTEBOOKS / "tour_data.py", root / "tour_data.py")
    data = base / "data"
    sys.path.insert(0, str(NOTEBOOKS))
    try:
        import tour_data
    finally:
        sys.path.remove(str(NOTEBOOKS))
    bucket = tour_data.upload_sample_data(str(data))
    bucket.put(HOSTILE, HOSTILE, metadata={"note": HOSTILE})
    for number in range(120):
        bucket[f"many/item{number:03d}.txt"] = f"item {number}\n"
    return root, data


def open_and_run(page, server, path: str) -> None:
    page.goto(server.url(path))
    page.wait_for_function(KERNEL_IDLE, timeout=60_000)
    page.evaluate(RUN_ALL)
    page.wait_for_selector(".cloudyfiles-browser", timeout=120_000)
    page.wait_for_function(KERNEL_IDLE, timeout=60_000)


def browser_widget(page):
    return page.locator(".cloudyfiles-browser").first


def check_no_injection(page, dialogs: list[str]) -> None:
    page.wait_for_timeout(500)  # give a would-be onerror handler time to fire
    assert dialogs == [], f"an alert opened, so an unescaped string ran: {dialogs}"
    assert page.locator('img[src="x"]').count() == 0


def run_tour_checks(page, server, dialogs, screenshots_dir, prefix: str, path: str) -> None:
    open_and_run(page, server, path)

    listing = page.locator(
        '.jp-OutputArea-output[data-mime-type="text/html"] .cloudyfiles-listing'
    ).first
    listing.scroll_into_view_if_needed()
    assert "tables/" in listing.inner_text()
    assert HOSTILE in listing.inner_text()
    csv_table = page.locator(".cloudyfiles-csv").first
    assert csv_table.locator("th").first.inner_text() == "date"
    assert page.locator("img.cloudyfiles-image").count() == 1
    check_no_injection(page, dialogs)
    mapping_output = page.locator(".cloudyfiles-mapping").first
    mapping_output.scroll_into_view_if_needed()
    mapping_output.screenshot(path=str(screenshots_dir / f"{prefix}-listing.png"))

    widget = browser_widget(page)
    widget.scroll_into_view_if_needed()
    widget.get_by_role("button", name="📁 many/").click()
    page_label = widget.locator(".widget-label").filter(has_text="page ")
    page_label.filter(has_text="page 1").wait_for()
    widget.get_by_role("button", name="Next ▶").click()
    page_label.filter(has_text="page 2").wait_for()
    options = widget.locator("select option")
    assert options.first.inner_text().startswith("item050.txt")
    widget.get_by_role("button", name="◀ Previous").click()
    page_label.filter(has_text="page 1").wait_for()
    assert options.first.inner_text().startswith("item000.txt")

    widget.locator("button").first.click()  # the breadcrumb's root
    widget.get_by_role("button", name="📁 tables/").wait_for()
    widget.locator("select").select_option(index=0)  # the hostile key sorts first
    widget.locator(".cloudyfiles-object").wait_for()
    assert HOSTILE in widget.locator(".cloudyfiles-object").inner_text()
    check_no_injection(page, dialogs)

    widget.get_by_role("button", name="📁 tables/").click()
    page_label.filter(has_text="4 entries").wait_for()
    widget.locator("select").select_option(index=0)
    widget.locator(".cloudyfiles-json").wait_for()
    assert "chevrolet chevelle malibu" in widget.locator(".cloudyfiles-json").inner_text()
    code = widget.locator("input[type=text]").first
    assert code.input_value() == "bucket['tables/cars.json']"
    check_no_injection(page, dialogs)
    widget.screenshot(path=str(screenshots_dir / f"{prefix}-browser.png"))


@pytest.fixture
def page_with_dialogs(chromium):
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    dialogs: list[str] = []

    def record(dialog) -> None:
        dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", record)
    yield page, dialogs
    context.close()


def test_tour_in_jupyterlab(tmp_path, page_with_dialogs, screenshots_dir):
    page, dialogs = page_with_dialogs
    root, data = prepare_tour(tmp_path)
    server = start_server("lab", root, tmp_path / "lab", {"CLOUDYFILES_TOUR_URL": str(data)})
    try:
        run_tour_checks(
            page, server, dialogs, screenshots_dir, "jupyterlab",
            "lab/workspaces/tour-test/tree/tour.ipynb",
        )  # fmt: skip
    finally:
        server.stop()
    assert dialogs == []


def test_tour_in_notebook7(tmp_path, page_with_dialogs, screenshots_dir):
    page, dialogs = page_with_dialogs
    root, data = prepare_tour(tmp_path)
    server = start_server("notebook", root, tmp_path / "nb", {"CLOUDYFILES_TOUR_URL": str(data)})
    try:
        run_tour_checks(page, server, dialogs, screenshots_dir, "notebook7", "notebooks/tour.ipynb")
    finally:
        server.stop()
    assert dialogs == []
