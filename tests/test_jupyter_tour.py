"""The tour notebook, executed end to end with nbclient, and its sample data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from cloudyfiles import from_url

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO_ROOT / "notebooks"
sys.path.insert(0, str(NOTEBOOKS))

import tour_data  # noqa: E402  # lives next to the notebook, not in a package


def kernel_environment(monkeypatch, data_dir: Path) -> None:
    paths = [str(REPO_ROOT), str(NOTEBOOKS), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(path for path in paths if path))
    monkeypatch.setenv(tour_data.URL_VARIABLE, str(data_dir))


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("tour-data")
    with pytest.MonkeyPatch.context() as monkeypatch:
        kernel_environment(monkeypatch, data_dir)
        notebook = nbformat.read(NOTEBOOKS / "tour.ipynb", as_version=4)
        NotebookClient(
            notebook,
            timeout=120,
            kernel_name="python3",
            resources={"metadata": {"path": str(NOTEBOOKS)}},
        ).execute()
    return notebook, data_dir


def outputs_of(notebook, source_start: str) -> list[dict]:
    """Return the outputs of the code cell whose source is, or else starts with, the text."""
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    for cell in code:
        if cell.source == source_start:
            return cell.outputs
    for cell in code:
        if cell.source.startswith(source_start):
            return cell.outputs
    raise AssertionError(f"no code cell starts with {source_start!r}")


def html_of(notebook, source_start: str) -> str:
    return "".join(
        output.get("data", {}).get("text/html", "") for output in outputs_of(notebook, source_start)
    )


def text_of(notebook, source_start: str) -> str:
    parts = []
    for output in outputs_of(notebook, source_start):
        parts.append(output.get("data", {}).get("text/plain", ""))
        parts.append(output.get("text", ""))
    return "".join(parts)


def test_upload_sample_data_is_idempotent(tmp_path):
    bucket = tour_data.upload_sample_data(str(tmp_path))
    first = {key: bucket[key].etag for key in tour_data.SAMPLE_KEYS}

    again = tour_data.upload_sample_data(str(tmp_path))

    assert sorted(bucket) == sorted(tour_data.SAMPLE_KEYS)
    assert {key: again[key].etag for key in tour_data.SAMPLE_KEYS} == first
    assert bucket["logs/app.log"].size >= tour_data.LOG_BYTES


def test_upload_sample_data_to_memory():
    bucket = tour_data.upload_sample_data("memory://tour-test")

    assert bucket["tables/cars.json"].metadata == {"source": "vega_datasets"}
    assert from_url("memory://tour-test")["images/logo2.png"].startswith(b"\x89PNG")


def test_tour_runs_without_errors(executed):
    notebook, _ = executed

    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert all(output.output_type != "error" for output in cell.outputs), cell.source


def test_tour_lists_bucket(executed):
    notebook, data_dir = executed
    listing = html_of(notebook, "bucket = cloudyfiles.from_url")

    assert "cloudyfiles-listing" in listing
    assert "tables/" in listing
    assert "README.txt" in listing
    assert str(data_dir) in listing
    assert "More entries exist" in html_of(notebook, "tables = %cloudy ls")
    assert "'stocks.csv'" in text_of(notebook, "more = %cloudy ls")


def test_tour_previews(executed):
    notebook, _ = executed

    assert "cloudyfiles-csv" in html_of(notebook, 'bucket["tables/seattle-weather.csv"]')
    cars = text_of(notebook, 'bucket["tables/cars.json"]')
    assert '"Name": "chevrolet chevelle malibu"' in cars
    assert "document continues" in cars
    assert "data:image/png;base64," in html_of(notebook, 'bucket["images/logo2.png"]')
    header = text_of(notebook, "cloudyfiles_jupyter.config.preview_bytes = 4096")
    assert "JPEG image, 512 × 600 pixels" in header
    log = text_of(notebook, 'log = bucket["logs/app.log"]')
    assert "… cut" in log
    assert "INFO" in log
    assert "gzip data" in text_of(notebook, 'bucket["binary/s1045.ima.gz"]')


def test_tour_slices_streams_and_copies(executed):
    notebook, _ = executed

    assert "bytes in the log" in text_of(notebook, "print(log[:120]")
    errors = int(text_of(notebook, "errors = sum("))
    expected = sum(
        1 for line in tour_data.make_log(tour_data.LOG_BYTES).splitlines() if b" ERROR " in line
    )
    assert errors == expected
    assert "sun" in text_of(notebook, "import pandas as pd")
    assert len(text_of(notebook, "%cloudy head").splitlines()) == 3
    copied = text_of(notebook, 'scratch = cloudyfiles.from_url("memory://tour-scratch")')
    assert "memory://tour-scratch/iris.json" in copied
    scratch = text_of(notebook, "scratch")
    for key in ("cars.json", "iris.json", "notes.md"):
        assert key in scratch
    assert "credentials: none" in text_of(notebook, "%cloudy whoami")


def test_tour_opens_browser(executed):
    notebook, _ = executed
    outputs = outputs_of(notebook, "cloudyfiles_jupyter.browser(")

    assert any(
        "application/vnd.jupyter.widget-view+json" in output.get("data", {}) for output in outputs
    )
    assert "widgets" in notebook.metadata
    state = notebook.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    descriptions = {model["state"].get("description") for model in state.values()}
    assert "📁 tables/" in descriptions


def test_tour_script_headless(tmp_path):
    env = dict(os.environ, CLOUDYFILES_TOUR_URL=str(tmp_path / "data"))
    output = tmp_path / "tour.html"

    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "tools" / "tour"), "--headless", "--output", str(output)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str(output)
    assert "cloudyfiles-listing" in output.read_text()


def test_tour_command_serves_jupyterlab(tmp_path) -> None:
    # The README's first command ends in `tools/tour`; start it as a user would.
    import signal
    import socket
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = dict(os.environ, CLOUDYFILES_TOUR_URL=str(tmp_path / "data"))
    environment.pop("DISPLAY", None)
    process = subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "tools" / "tour"), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=environment,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        status = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api", timeout=2) as answer:
                    status = answer.status
                    break
            except OSError:
                time.sleep(0.5)
        assert process.poll() is None, process.stdout.read().decode(errors="replace")
        assert status == 200
        assert (tmp_path / "data" / "tables" / "cars.json").exists()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
