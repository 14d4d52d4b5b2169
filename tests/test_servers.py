"""Check that each server launcher starts a working server and stops it, and
that the fault proxy forwards, fails, drops and counts requests."""

from __future__ import annotations

import http.client
import http.server
import json
import os
import socket
import sys
import threading
import uuid
from pathlib import Path

import pytest

from tests.faultproxy import FaultProxy
from tests.servers import Azurite, FakeGCS, Moto, SeaweedFS, Server, ServerError, Swift

PAYLOAD = os.urandom(100_000)


def assert_stopped(server: Server, pids: list[int], data_dir: Path) -> None:
    assert not server.running
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not data_dir.exists(), "the temporary data dir should be removed by stop()"


def s3_client(server, endpoint_url: str | None = None, **config):
    boto3 = pytest.importorskip("boto3")
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint_url or server.endpoint_url,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name=server.region,
        config=Config(s3={"addressing_style": "path"}, **config),
    )


def unique_name() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


# --- Launchers -----------------------------------------------------------------


@pytest.fixture(scope="module")
def seaweedfs():
    with SeaweedFS() as server:
        yield server


@pytest.mark.parametrize("launcher", [SeaweedFS, Moto], ids=["seaweedfs", "moto"])
def test_s3_launcher_round_trip(launcher):
    server = launcher()
    with server:
        pids = server.pids
        data_dir = server.data_dir
        client = s3_client(server)
        bucket = unique_name()
        client.create_bucket(Bucket=bucket)
        client.put_object(Bucket=bucket, Key="dir/blob", Body=PAYLOAD)

        body = client.get_object(Bucket=bucket, Key="dir/blob")["Body"].read()
        suffix = client.get_object(Bucket=bucket, Key="dir/blob", Range="bytes=-10")["Body"].read()

        assert body == PAYLOAD
        assert suffix == PAYLOAD[-10:]
    assert_stopped(server, pids, data_dir)


def test_seaweedfs_rejects_wrong_secret(seaweedfs):
    botocore_exceptions = pytest.importorskip("botocore.exceptions")
    client = s3_client(seaweedfs)
    client._request_signer._credentials.secret_key = "wrong"

    with pytest.raises(botocore_exceptions.ClientError) as caught:
        client.list_buckets()

    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_seaweedfs_keeps_nonempty_bucket(seaweedfs):
    botocore_exceptions = pytest.importorskip("botocore.exceptions")
    client = s3_client(seaweedfs)
    bucket = unique_name()
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key="blob", Body=b"x")

    with pytest.raises(botocore_exceptions.ClientError) as caught:
        client.delete_bucket(Bucket=bucket)

    assert caught.value.response["Error"]["Code"] == "BucketNotEmpty"


def test_fake_gcs_launcher_round_trip():
    storage = pytest.importorskip("google.cloud.storage")
    from google.auth.credentials import AnonymousCredentials

    server = FakeGCS()
    with server:
        pids = server.pids
        data_dir = server.data_dir
        client = storage.Client(
            project=server.project,
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": server.endpoint},
        )
        bucket = client.create_bucket(unique_name())
        bucket.blob("dir/blob").upload_from_string(PAYLOAD)

        body = bucket.blob("dir/blob").download_as_bytes()
        head = bucket.blob("dir/blob").download_as_bytes(start=0, end=9)

        assert body == PAYLOAD
        assert head == PAYLOAD[:10]
    assert_stopped(server, pids, data_dir)


def test_azurite_launcher_round_trip():
    blob = pytest.importorskip("azure.storage.blob")

    server = Azurite()
    with server:
        pids = server.pids
        data_dir = server.data_dir
        service = blob.BlobServiceClient.from_connection_string(server.connection_string)
        container = service.create_container(unique_name())
        container.upload_blob("dir/blob", PAYLOAD)

        body = container.download_blob("dir/blob").readall()
        part = container.download_blob("dir/blob", offset=5, length=10).readall()
        by_url = blob.BlobServiceClient(
            server.account_url,
            credential={"account_name": server.account_name, "account_key": server.account_key},
        )
        names = [
            item.name for item in by_url.get_container_client(container.container_name).list_blobs()
        ]

        assert body == PAYLOAD
        assert part == PAYLOAD[5:15]
        assert names == ["dir/blob"]
    assert_stopped(server, pids, data_dir)


def test_swift_launcher_round_trip():
    swiftclient = pytest.importorskip("swiftclient")

    server = Swift()
    with server:
        pids = server.pids
        data_dir = server.data_dir
        assert len(pids) == 5, "memcached and four Swift servers"
        connection = swiftclient.Connection(
            authurl=server.auth_url, user=server.user, key=server.key
        )
        container = unique_name()
        connection.put_container(container)
        connection.put_object(container, "dir/blob é", PAYLOAD)

        _, body = connection.get_object(container, "dir/blob é")
        _, suffix = connection.get_object(container, "dir/blob é", headers={"Range": "bytes=-10"})

        assert body == PAYLOAD
        assert suffix == PAYLOAD[-10:]
    assert_stopped(server, pids, data_dir)


def test_launcher_keeps_given_data_dir(tmp_path):
    with Moto(tmp_path / "moto") as server:
        assert server.data_dir == tmp_path / "moto"

    assert (tmp_path / "moto" / "moto.log").is_file()


def test_launcher_missing_program_names_fix(monkeypatch):
    monkeypatch.setenv("CLOUDYFILES_MOTO_SERVER", "/nonexistent/moto_server")

    with pytest.raises(ServerError, match="CLOUDYFILES_MOTO_SERVER"):
        Moto().start()


def test_launcher_early_exit_shows_log(monkeypatch, tmp_path):
    program = tmp_path / "broken-server"
    program.write_text("#!/bin/sh\necho 'cannot open config' >&2\nexit 3\n")
    program.chmod(0o755)
    monkeypatch.setenv("CLOUDYFILES_MOTO_SERVER", str(program))

    with pytest.raises(ServerError) as caught:
        Moto().start()

    assert "exited with code 3" in str(caught.value)
    assert "cannot open config" in str(caught.value)


def test_launcher_attributes_need_start():
    with pytest.raises(ServerError, match="not started"):
        _ = SeaweedFS().endpoint_url


# --- Fault proxy in front of SeaweedFS ------------------------------------------


@pytest.fixture
def proxy(seaweedfs):
    with FaultProxy(seaweedfs.endpoint_url) as proxy:
        yield proxy


@pytest.fixture
def bucket(seaweedfs):
    name = unique_name()
    s3_client(seaweedfs).create_bucket(Bucket=name)
    return name


def proxied_client(seaweedfs, proxy: FaultProxy):
    return s3_client(
        seaweedfs,
        endpoint_url=proxy.url,
        retries={"mode": "standard", "max_attempts": 3},
    )


def test_proxy_503_is_retried(seaweedfs, proxy, bucket):
    client = proxied_client(seaweedfs, proxy)
    client.put_object(Bucket=bucket, Key="blob", Body=PAYLOAD)
    proxy.reset_stats()

    proxy.fail_next(1, status=503)
    body = client.get_object(Bucket=bucket, Key="blob")["Body"].read()
    stats = proxy.stats

    assert body == PAYLOAD
    assert stats.requests == 2
    assert stats.failed == 1
    assert stats.forwarded == 1
    assert [record.status for record in stats.records] == [503, 200]
    assert stats.records[1].response_bytes == len(PAYLOAD)
    assert stats.bytes_sent == len(PAYLOAD) + stats.records[0].response_bytes
    assert proxy.pending_faults == 0


def test_proxy_dropped_connection_is_retried(seaweedfs, proxy, bucket):
    client = proxied_client(seaweedfs, proxy)
    client.put_object(Bucket=bucket, Key="blob", Body=b"small")
    proxy.reset_stats()

    proxy.drop_next(1)
    body = client.get_object(Bucket=bucket, Key="blob")["Body"].read()
    stats = proxy.stats

    assert body == b"small"
    assert stats.dropped == 1
    assert stats.forwarded == 1


def test_proxy_counts_upload_and_range_bytes(seaweedfs, proxy, bucket):
    client = proxied_client(seaweedfs, proxy)

    client.put_object(Bucket=bucket, Key="blob", Body=PAYLOAD)
    part = client.get_object(Bucket=bucket, Key="blob", Range="bytes=100-199")["Body"].read()
    stats = proxy.stats

    assert part == PAYLOAD[100:200]
    assert stats.requests == 2
    assert stats.bytes_received == len(PAYLOAD)
    assert stats.records[1].status == 206
    assert stats.records[1].response_bytes == 100


def test_proxy_passes_conditional_put(seaweedfs, proxy, bucket):
    botocore_exceptions = pytest.importorskip("botocore.exceptions")
    client = proxied_client(seaweedfs, proxy)
    client.put_object(Bucket=bucket, Key="blob", Body=b"first")

    with pytest.raises(botocore_exceptions.ClientError) as caught:
        client.put_object(Bucket=bucket, Key="blob", Body=b"second", IfNoneMatch="*")

    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412


def test_proxy_host_rewrite_breaks_sigv4(seaweedfs, bucket):
    botocore_exceptions = pytest.importorskip("botocore.exceptions")
    with FaultProxy(seaweedfs.endpoint_url, rewrite_host=True) as proxy:
        client = proxied_client(seaweedfs, proxy)

        with pytest.raises(botocore_exceptions.ClientError) as caught:
            client.head_bucket(Bucket=bucket)

    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


# --- Fault proxy framing, against a local echo server -----------------------------


class EchoHandler(http.server.BaseHTTPRequestHandler):
    """Return the request's method, target, headers, body and client port as JSON."""

    protocol_version = "HTTP/1.1"

    def do_PUT(self) -> None:
        if "chunked" in self.headers.get("Transfer-Encoding", ""):
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                body += self.rfile.read(size)
                self.rfile.readline()
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        echo = {
            "method": self.command,
            "target": self.path,
            "headers": [list(item) for item in self.headers.items()],
            "body": body.decode("latin-1"),
            "client_port": self.client_address[1],
        }
        payload = json.dumps(echo).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        if self.path != "/chunked":
            self.do_PUT()
            return
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for part in (b"abc", b"defgh"):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def echo_url():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), EchoHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def echo_request(
    connection: http.client.HTTPConnection, method: str, target: str, **kwargs
) -> dict:
    connection.request(method, target, **kwargs)
    response = connection.getresponse()
    assert response.status == 200
    return json.loads(response.read())


def test_proxy_passes_headers_unchanged(echo_url):
    with FaultProxy(echo_url) as proxy:
        connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
        headers = {"Range": "bytes=-5", "If-None-Match": '"abc"', "X-Custom": "a, b"}

        echo = echo_request(connection, "GET", "/b/a%2Fb%20c?x=1&y", headers=headers)
        proxy_host = f"127.0.0.1:{proxy.port}"

    received = {name.lower(): value for name, value in echo["headers"]}
    assert echo["target"] == "/b/a%2Fb%20c?x=1&y"
    assert received["host"] == proxy_host
    assert received["range"] == "bytes=-5"
    assert received["if-none-match"] == '"abc"'
    assert received["x-custom"] == "a, b"


def test_proxy_forwards_chunked_body(echo_url):
    chunks = [b"first chunk,", b"", b"second chunk"]
    with FaultProxy(echo_url) as proxy:
        connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)

        echo = echo_request(connection, "PUT", "/blob", body=iter(chunks), encode_chunked=True)
        stats = proxy.stats

    assert echo["body"] == "first chunk,second chunk"
    assert stats.bytes_received == len("first chunk,second chunk")


def test_proxy_reuses_upstream_connection(echo_url):
    with FaultProxy(echo_url) as proxy:
        connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)

        first = echo_request(connection, "GET", "/one")
        second = echo_request(connection, "PUT", "/two", body=b"data")

    assert first["client_port"] == second["client_port"]
    assert second["body"] == "data"


def test_proxy_fault_keeps_connection_usable(echo_url):
    with FaultProxy(echo_url, error_format="json") as proxy:
        connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
        proxy.fail_next(1, status=500)

        connection.request("PUT", "/blob", body=b"ignored body")
        failed = connection.getresponse()
        error = json.loads(failed.read())
        echo = echo_request(connection, "GET", "/after")

    assert failed.status == 500
    assert failed.getheader("Retry-After") == "0"
    assert error["error"]["code"] == 500
    assert echo["target"] == "/after"


def test_proxy_streams_chunked_response(echo_url):
    with FaultProxy(echo_url) as proxy:
        connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)

        connection.request("GET", "/chunked")
        response = connection.getresponse()
        body = response.read()
        echo = echo_request(connection, "GET", "/after")
        stats = proxy.stats

    assert response.getheader("Transfer-Encoding") == "chunked"
    assert body == b"abcdefgh"
    assert echo["target"] == "/after"
    assert stats.records[0].response_bytes == 8


@pytest.mark.parametrize("launcher", [Moto, FakeGCS], ids=["moto", "fake-gcs"])
def test_launcher_retries_taken_port(launcher, monkeypatch):
    import tests.servers

    real_free_ports = tests.servers.free_ports
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        taken_port = taken.getsockname()[1]
        offers = iter([[taken_port]])

        def taken_then_free(count: int = 1) -> list[int]:
            return next(offers, None) or real_free_ports(count)

        monkeypatch.setattr(tests.servers, "free_ports", taken_then_free)

        with launcher() as server:
            assert server.port != taken_port
            assert server.running


def test_launcher_kills_server_ignoring_sigterm(monkeypatch, tmp_path, caplog):
    # A stand-in for moto_server that ignores SIGTERM and serves the readiness
    # URL from its working directory, the launcher's data dir.
    program = tmp_path / "stubborn-server"
    program.write_text(
        "#!/bin/sh\n"
        "trap '' TERM\n"
        "mkdir -p moto-api && echo '{}' > moto-api/data.json\n"
        f'exec {sys.executable} -m http.server --bind "$2" "$4"\n'
    )
    program.chmod(0o755)
    monkeypatch.setenv("CLOUDYFILES_MOTO_SERVER", str(program))
    server = Moto(stop_timeout=0.5)
    server.start()
    pids = server.pids
    data_dir = server.data_dir

    server.stop()

    assert_stopped(server, pids, data_dir)
    assert "ignored SIGTERM, sending SIGKILL" in caplog.text
