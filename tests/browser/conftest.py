"""JupyterLab and Notebook 7 servers on 127.0.0.1, and headless Chromium through Playwright.

Each server runs in the test's own process group with throw-away config, data,
settings, workspace and runtime folders, news and update checks off, and is stopped
by PID. Chromium resolves no host but 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
NOTEBOOKS = REPO_ROOT / "notebooks"
# Screenshots go to tests/artifacts, which git ignores; set CLOUDYFILES_SCREENSHOTS to
# docs/screenshots to refresh the ones the documentation shows.
SCREENSHOTS = Path(
    os.environ.get("CLOUDYFILES_SCREENSHOTS", REPO_ROOT / "tests" / "artifacts" / "screenshots")
)
CHROMIUM = Path(os.environ.get("CLOUDYFILES_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]
_NOTIFICATION_SETTINGS = "@jupyterlab/apputils-extension/notification.jupyterlab-settings"
_NOTEBOOK_SETTINGS = "@jupyterlab/notebook-extension/tracker.jupyterlab-settings"


@dataclass
class JupyterServer:
    """A running JupyterLab or Notebook 7 server."""

    app: str
    process: subprocess.Popen
    base_url: str
    token: str
    root_dir: Path
    log_path: Path

    def url(self, path: str) -> str:
        """Return the address of ``path`` on the server, with the token."""
        separator = "&" if "?" in path else "?"
        return f"{self.base_url.rstrip('/')}/{path.lstrip('/')}{separator}token={self.token}"

    def stop(self) -> None:
        """Stop the server by PID: SIGTERM, then SIGKILL after ten seconds."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def _throwaway_dirs(base: Path) -> dict[str, str]:
    names = {
        "HOME": "home",
        "JUPYTER_CONFIG_DIR": "config",
        "JUPYTER_DATA_DIR": "data",
        "JUPYTER_RUNTIME_DIR": "runtime",
        "JUPYTERLAB_SETTINGS_DIR": "settings",
        "JUPYTERLAB_WORKSPACES_DIR": "workspaces",
        "IPYTHONDIR": "ipython",
    }
    env = {}
    for variable, name in names.items():
        path = base / name
        path.mkdir(parents=True, exist_ok=True)
        env[variable] = str(path)
    settings = base / "settings" / _NOTIFICATION_SETTINGS
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    # Render every cell: with windowing, cells outside the viewport have no text to check.
    tracker = base / "settings" / _NOTEBOOK_SETTINGS
    tracker.parent.mkdir(parents=True, exist_ok=True)
    tracker.write_text(json.dumps({"windowingMode": "none"}))
    return env


def start_server(
    app: str, root_dir: Path, work_dir: Path, extra_env: dict[str, str]
) -> JupyterServer:
    """Start ``jupyter lab`` or ``jupyter notebook`` on ``root_dir``; return once it responds."""
    token = secrets.token_hex(16)
    env = dict(os.environ)
    env.update(_throwaway_dirs(work_dir))
    env.update(extra_env)
    python_path = [str(REPO_ROOT), str(root_dir), os.environ.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(path for path in python_path if path)
    app_class = "LabApp" if app == "lab" else "JupyterNotebookApp"
    command = [
        sys.executable, "-m", "jupyter", app,
        "--no-browser", "--ip=127.0.0.1", "--port=0", "--allow-root",
        f"--IdentityProvider.token={token}",
        "--ServerApp.disable_check_xsrf=True",
        f"--ServerApp.root_dir={root_dir}",
        f"--{app_class}.expose_app_in_browser=True",
        # Notebook 7 loads JupyterLab's server extension too, so these apply to both.
        # With them given as JupyterNotebookApp options, Notebook 7.6 served the page
        # with exposeAppInBrowser false.
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    ]  # fmt: skip
    log_path = work_dir / f"{app}.log"
    with open(log_path, "wb") as log:
        # The server stays in this test's process group, so a killed run takes it along.
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    runtime = Path(env["JUPYTER_RUNTIME_DIR"])
    deadline = time.monotonic() + 60
    info_file = runtime / f"jpserver-{process.pid}.json"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"jupyter {app} exited with {process.returncode}:\n{log_path.read_text()[-3000:]}"
            )
        if info_file.exists():
            try:
                info = json.loads(info_file.read_text())
            except json.JSONDecodeError:
                info = None  # written but not flushed yet
            if info:
                return JupyterServer(app, process, info["url"], token, root_dir, log_path)
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"jupyter {app} did not start within 60 s:\n{log_path.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def chromium():
    """Yield a headless Chromium browser driven by Playwright."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: install it with `apt-get install -y chromium`")
    from playwright.sync_api import sync_playwright

    home = Path(os.environ.get("TMPDIR", "/tmp")) / f"chromium-home-{os.getpid()}"
    home.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, env={**os.environ, "HOME": str(home)}
        )
        yield browser
        browser.close()
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def screenshots_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
