"""A threaded HTTP reverse proxy on 127.0.0.1 that injects faults on request.

:class:`FaultProxy` forwards every request to one upstream server and streams
bodies both ways. Tests point a client at ``proxy.url`` and then:

- ``proxy.fail_next(n, status=503)`` responds to the next *n* requests with
  that status, ``Retry-After: 0`` and a short XML (S3, Azure, Swift) or JSON (GCS)
  error body, without forwarding them;
- ``proxy.drop_next(n)`` closes the connection of the next *n* requests without
  a response;
- ``proxy.stats`` counts requests and the body bytes sent to the client.

Forwarding: the method, request target (byte for byte), headers and body pass
unchanged, except the hop-by-hop headers of RFC 9110 section 7.6.1
(Connection, Keep-Alive, TE, Trailer, Transfer-Encoding, Upgrade,
Proxy-Authorization, Proxy-Authenticate) and ``Expect``, because
http.server has already sent ``100 Continue`` to the client itself. Chunked
request bodies are decoded and sent upstream chunked again. Client and upstream connections are kept
alive: each client connection has its own upstream connection. No
``X-Forwarded-*`` headers are added.

The Host header: an S3 client signs the Host it connects to, which is the
proxy's ``127.0.0.1:PORT``, and the server checks the signature against the
Host header it receives. So the proxy sends the client's Host unchanged by
default, and SigV4 signatures verify on SeaweedFS 4.48, which checks them.
moto 5.2 accepts any signature by default, so it works either way.
``rewrite_host=True`` sends the upstream's host:port instead, and SeaweedFS
then rejects every signed request with 403 SignatureDoesNotMatch. With the
client's Host kept, the other servers also keep the client on the proxy:
Azure's Shared Key does not sign the Host, Swift's tempauth builds the storage
URL from the Host it receives, and the resumable upload requests of
google-cloud-storage 3.17 against fake-gcs-server go through the proxy too.
"""

from __future__ import annotations

import http.client
import http.server
import json
import logging
import select
import socket
import sys
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, replace
from http import HTTPStatus
from typing import BinaryIO
from urllib.parse import urlsplit

__all__ = ["FaultProxy", "ProxyStats", "RequestRecord"]

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
_CHUNK_SIZE = 64 * 1024
_MAX_LINE = 65536

# Hop-by-hop headers (RFC 9110 section 7.6.1), plus Expect: the proxy sends
# "100 Continue" itself before it reads the body.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "expect",
    }
)


@dataclass
class RequestRecord:
    """One request that reached the proxy.

    ``outcome`` is "pending" while the request is in progress, then
    "forwarded", "failed" (an injected status), "dropped", "upstream-error"
    (the proxy responded with 502) or "client-error" (the client broke off its
    request body). ``status`` is None when the proxy sent no status. Byte
    counts are body bytes only, without chunked framing.
    """

    method: str
    path: str
    outcome: str = "pending"
    status: int | None = None
    request_bytes: int = 0
    response_bytes: int = 0


@dataclass(frozen=True)
class ProxyStats:
    """Snapshot of the counters of a :class:`FaultProxy`.

    The proxy updates a record before it sends the matching bytes or status
    to the client, so a client that has received a response always finds it
    counted. ``bytes_sent`` counts the body bytes of forwarded responses and
    of injected errors. ``bytes_received`` counts request body bytes read
    from clients.
    """

    records: tuple[RequestRecord, ...] = ()

    @property
    def requests(self) -> int:
        """Number of requests received, whatever their outcome."""
        return len(self.records)

    @property
    def forwarded(self) -> int:
        """Number of requests forwarded to the upstream server."""
        return self._count("forwarded")

    @property
    def failed(self) -> int:
        """Number of requests that got an injected error status."""
        return self._count("failed")

    @property
    def dropped(self) -> int:
        """Number of requests whose connection was closed without a response."""
        return self._count("dropped")

    @property
    def upstream_errors(self) -> int:
        """Number of requests that got 502 because the upstream server failed."""
        return self._count("upstream-error")

    @property
    def bytes_sent(self) -> int:
        """Response body bytes written to clients."""
        return sum(record.response_bytes for record in self.records)

    @property
    def bytes_received(self) -> int:
        """Request body bytes read from clients."""
        return sum(record.request_bytes for record in self.records)

    def _count(self, outcome: str) -> int:
        return sum(1 for record in self.records if record.outcome == outcome)


@dataclass(frozen=True)
class _Fault:
    kind: str  # "fail" or "drop"
    status: int = 0


class FaultProxy:
    """Forward HTTP requests from 127.0.0.1:PORT to *upstream_url*, with faults.

    Args:
        upstream_url: base URL of the upstream server, such as
            ``http://127.0.0.1:8333``. Only its scheme "http", host and port
            are used: request paths pass through as the client sent them.
        rewrite_host: send the upstream's host:port as Host instead of the
            client's Host. This breaks S3 signatures (see the module docs).
        error_format: "xml" or "json", the body format of injected errors.
        timeout: seconds to wait on the upstream server and on idle clients.
    """

    def __init__(
        self,
        upstream_url: str,
        *,
        rewrite_host: bool = False,
        error_format: str = "xml",
        timeout: float = 60.0,
    ):
        parts = urlsplit(upstream_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"invalid upstream URL {upstream_url!r}: expected http://HOST:PORT")
        if error_format not in ("xml", "json"):
            raise ValueError(f"invalid error_format {error_format!r}: expected 'xml' or 'json'")
        self.upstream_host = parts.hostname
        self.upstream_port = parts.port or 80
        self.rewrite_host = rewrite_host
        self.error_format = error_format
        self.timeout = timeout
        self._lock = threading.Lock()
        self._faults: deque[_Fault] = deque()
        self._records: list[RequestRecord] = []
        self._server: _ProxyServer | None = None
        self._thread: threading.Thread | None = None

    # Life cycle

    @property
    def port(self) -> int:
        """TCP port of the proxy on 127.0.0.1."""
        if self._server is None:
            raise RuntimeError("FaultProxy is not started: call start() first")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        """Base URL of the proxy, such as ``http://127.0.0.1:PORT``."""
        return f"http://{HOST}:{self.port}"

    def start(self) -> FaultProxy:
        """Bind a free port on 127.0.0.1, serve in a background thread, and return self."""
        if self._server is not None:
            return self
        self._server = _ProxyServer((HOST, 0), _ProxyHandler, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"faultproxy-{self.port}",
            daemon=True,
        )
        self._thread.start()
        log.info(
            "fault proxy %s forwards to %s:%d", self.url, self.upstream_host, self.upstream_port
        )
        return self

    def stop(self) -> None:
        """Stop serving and close every client connection."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_client_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        log.info("fault proxy on port %d stopped", server.server_address[1])

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # Faults and counters

    def fail_next(self, count: int = 1, status: int = 503) -> None:
        """Respond to the next *count* requests with *status* instead of forwarding them."""
        if not 400 <= status <= 599 or status not in HTTPStatus._value2member_map_:
            raise ValueError(f"invalid fault status {status}: expected a 4xx or 5xx HTTP status")
        with self._lock:
            self._faults.extend(_Fault("fail", status) for _ in range(count))

    def drop_next(self, count: int = 1) -> None:
        """Close the connection of the next *count* requests without a response."""
        with self._lock:
            self._faults.extend(_Fault("drop") for _ in range(count))

    def clear_faults(self) -> None:
        """Discard the faults that no request has used yet."""
        with self._lock:
            self._faults.clear()

    @property
    def pending_faults(self) -> int:
        """Number of faults that no request has used yet."""
        with self._lock:
            return len(self._faults)

    @property
    def stats(self) -> ProxyStats:
        """Snapshot of the counters since the start or the last ``reset_stats()``."""
        with self._lock:
            return ProxyStats(tuple(replace(record) for record in self._records))

    def reset_stats(self) -> None:
        """Forget every request counted so far."""
        with self._lock:
            self._records = []

    # Used by the request handler

    def _take_fault(self) -> _Fault | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def _begin_record(self, method: str, path: str) -> RequestRecord:
        record = RequestRecord(method, path)
        with self._lock:
            self._records.append(record)
        return record

    def _update_record(self, record: RequestRecord, **changes: object) -> None:
        with self._lock:
            for name, value in changes.items():
                setattr(record, name, value)

    def _add_bytes(self, record: RequestRecord, *, received: int = 0, sent: int = 0) -> None:
        with self._lock:
            record.request_bytes += received
            record.response_bytes += sent

    def _error_body(self, status: int) -> tuple[bytes, str]:
        phrase = HTTPStatus(status).phrase
        message = f"Fault injected by the test proxy: {status} {phrase}"
        if self.error_format == "json":
            error = {
                "code": status,
                "message": message,
                "errors": [{"reason": "backendError", "message": message}],
            }
            return json.dumps({"error": error}).encode(), "application/json; charset=UTF-8"
        code = phrase.replace(" ", "")
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
        )
        return body.encode(), "application/xml"


class _ProxyServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, handler_class, proxy: FaultProxy):
        self.proxy = proxy
        self._client_sockets: set[socket.socket] = set()
        self._sockets_lock = threading.Lock()
        super().__init__(address, handler_class)

    def track(self, sock: socket.socket, active: bool) -> None:
        with self._sockets_lock:
            if active:
                self._client_sockets.add(sock)
            else:
                self._client_sockets.discard(sock)

    def handle_error(self, request, client_address) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            # A client that resets an idle keep-alive connection is normal.
            log.debug("connection from %s:%d ended: %s", *client_address, error)
            return
        log.exception("fault proxy failed on a request from %s:%d", *client_address)

    def close_client_connections(self) -> None:
        """Shut down open client sockets, so that idle keep-alive handlers return."""
        with self._sockets_lock:
            sockets = list(self._client_sockets)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _UpstreamError(Exception):
    """Raised when the upstream server cannot be reached or breaks a response."""


class _ClientBodyError(Exception):
    """Raised when a client closes its connection or sends invalid chunked framing.

    Not an OSError, so that it is not mistaken for an upstream failure.
    """


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ProxyServer

    def setup(self) -> None:
        super().setup()
        self.proxy = self.server.proxy
        self.connection.settimeout(self.proxy.timeout)
        self.upstream: http.client.HTTPConnection | None = None
        self.server.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            if self.upstream is not None:
                self.upstream.close()
            self.server.track(self.connection, False)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    # Every method goes through the same path. COPY is Swift's server-side copy.
    def do_GET(self) -> None:
        self._handle()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_COPY = do_GET

    def _handle(self) -> None:
        self.record = self.proxy._begin_record(self.command, self.path)
        fault = self.proxy._take_fault()
        if fault is not None and fault.kind == "drop":
            log.debug("dropping %s %s", self.command, self.path)
            self._update(outcome="dropped")
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        try:
            if fault is not None:
                self._send_fault(fault.status)
            else:
                self._forward()
        except _ClientBodyError as error:
            log.warning("client request %s %s broke off: %s", self.command, self.path, error)
            self._update(outcome="client-error")
            self.close_connection = True
        except _UpstreamError as error:
            log.warning(
                "upstream %s:%d failed for %s %s: %s",
                self.proxy.upstream_host,
                self.proxy.upstream_port,
                self.command,
                self.path,
                error,
            )
            self._update(outcome="upstream-error", status=502)
            self.close_connection = True
            try:
                self.send_error(502, "Bad Gateway", str(error))
            except OSError:
                pass

    def _update(self, **changes: object) -> None:
        self.proxy._update_record(self.record, **changes)

    # Request bodies

    def _request_body(self) -> Iterator[bytes] | None:
        """Return an iterator over the decoded request body, or None without a body."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = _read_chunked(self.rfile)
        else:
            length = int(self.headers.get("Content-Length") or 0)
            if length <= 0:
                return None
            chunks = _read_exactly(self.rfile, length)
        return self._count_received(chunks)

    def _count_received(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            self.proxy._add_bytes(self.record, received=len(chunk))
            yield chunk

    def _send_fault(self, status: int) -> None:
        # Reading the body keeps the connection usable for the next request.
        for _ in self._request_body() or ():
            pass
        body, content_type = self.proxy._error_body(status)
        if self.command == "HEAD":
            body = b""
        log.debug("failing %s %s with %d", self.command, self.path, status)
        self._update(outcome="failed", status=status, response_bytes=len(body))
        self.send_response_only(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Retry-After", "0")
        self.end_headers()
        self.wfile.write(body)

    # Forwarding

    def _upstream_connection(self) -> tuple[http.client.HTTPConnection, bool]:
        """Return the upstream connection and whether it is reused from a previous request."""
        connection = self.upstream
        if (
            connection is not None
            and connection.sock is not None
            and not _is_dropped(connection.sock)
        ):
            return connection, True
        if connection is not None:
            connection.close()
        self.upstream = http.client.HTTPConnection(
            self.proxy.upstream_host, self.proxy.upstream_port, timeout=self.proxy.timeout
        )
        return self.upstream, False

    def _outgoing_headers(self) -> list[tuple[str, str]]:
        connection_tokens = {
            token.strip().lower()
            for value in self.headers.get_all("Connection", [])
            for token in value.split(",")
        }
        headers = []
        for name, value in self.headers.items():
            lowered = name.lower()
            if lowered in _HOP_BY_HOP or lowered in connection_tokens:
                continue
            if lowered == "host" and self.proxy.rewrite_host:
                continue
            headers.append((name, value))
        if self.proxy.rewrite_host or "Host" not in self.headers:
            headers.insert(0, ("Host", f"{self.proxy.upstream_host}:{self.proxy.upstream_port}"))
        return headers

    def _send_request(self) -> http.client.HTTPResponse:
        """Send the request upstream and return the response."""
        body = self._request_body()
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        headers = self._outgoing_headers()
        if chunked:
            headers.append(("Transfer-Encoding", "chunked"))

        # A request without a body can be repeated on a fresh connection when
        # a reused one turns out to be closed by the upstream server.
        for attempt in (1, 2):
            connection, reused = self._upstream_connection()
            try:
                connection.putrequest(
                    self.command, self.path, skip_host=True, skip_accept_encoding=True
                )
                for name, value in headers:
                    connection.putheader(name, value)
                connection.endheaders()
                for chunk in body or ():
                    connection.send(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
                if chunked:
                    connection.send(b"0\r\n\r\n")
                return connection.getresponse()
            except _ClientBodyError:
                connection.close()
                self.upstream = None
                raise
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                self.upstream = None
                if attempt == 1 and reused and body is None:
                    log.debug(
                        "reused upstream connection failed (%s), retrying on a new one", error
                    )
                    continue
                raise _UpstreamError(f"{type(error).__name__}: {error}") from error
        raise AssertionError("unreachable")

    def _forward(self) -> None:
        response = self._send_request()
        has_length = response.getheader("Content-Length") is not None
        bodiless = (
            self.command == "HEAD" or response.status in (204, 304) or 100 <= response.status < 200
        )
        # Without a length the body must be re-framed: chunked for an
        # HTTP/1.1 client, or ended by closing the connection.
        rechunk = not has_length and not bodiless and self.request_version == "HTTP/1.1"
        if not has_length and not bodiless and not rechunk:
            self.close_connection = True

        self._update(outcome="forwarded", status=response.status)
        self.send_response_only(response.status, response.reason)
        for name, value in response.msg.items():
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        if rechunk:
            self.send_header("Transfer-Encoding", "chunked")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()

        try:
            while True:
                chunk = response.read(_CHUNK_SIZE)
                if not chunk:
                    break
                self.proxy._add_bytes(self.record, sent=len(chunk))
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if rechunk else chunk)
            if rechunk:
                self.wfile.write(b"0\r\n\r\n")
        except (OSError, http.client.HTTPException) as error:
            # The status line is out, so the only signal left is closing.
            log.warning(
                "streaming the response of %s %s failed: %s", self.command, self.path, error
            )
            self.close_connection = True
        finally:
            if response.will_close and self.upstream is not None:
                self.upstream.close()
                self.upstream = None


def _read_exactly(stream: BinaryIO, length: int) -> Iterator[bytes]:
    remaining = length
    while remaining:
        data = _read_client(stream.read, min(remaining, _CHUNK_SIZE))
        if not data:
            raise _ClientBodyError(
                f"client closed the connection with {remaining} body bytes unsent"
            )
        remaining -= len(data)
        yield data


def _read_chunked(stream: BinaryIO) -> Iterator[bytes]:
    """Decode a chunked body (RFC 9112 section 7.1) and skip its trailers."""
    while True:
        line = _read_client(stream.readline, _MAX_LINE)
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise _ClientBodyError(f"invalid chunk size line {line[:80]!r}") from None
        if size == 0:
            while _read_client(stream.readline, _MAX_LINE) not in (b"\r\n", b"\n", b""):
                pass
            return
        yield from _read_exactly(stream, size)
        _read_client(stream.readline, _MAX_LINE)


def _read_client(read, size: int) -> bytes:
    try:
        return read(size)
    except OSError as error:
        raise _ClientBodyError(f"reading the request body failed: {error}") from error


def _is_dropped(sock: socket.socket) -> bool:
    """Return True when an idle connection is readable, which means closed by the peer."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)
