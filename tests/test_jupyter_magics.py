"""The ``%cloudy`` magics, run through a real IPython InteractiveShell."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from cloudyfiles import ObjectMapping, RemoteObject, from_url
from cloudyfiles._display import config
from cloudyfiles.memory import discard
from cloudyfiles_jupyter.magics import Listing, ObjectStat, Removal, TextResult, Transfer

HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def shell():
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "cloudyfiles_jupyter")
    yield shell
    shell.run_line_magic("unload_ext", "cloudyfiles_jupyter")


@pytest.fixture(autouse=True)
def default_config():
    config.reset()
    yield
    config.reset()


@pytest.fixture
def bucket(shell):
    name = f"magics-{uuid.uuid4().hex[:12]}"
    mapping = from_url(f"memory://{name}")
    mapping["a/one.txt"] = "1\n"
    mapping["a/two.txt"] = "2\n"
    mapping["b/deep/three.txt"] = "3\n"
    mapping["notes.txt"] = "first\nsecond\nthird\n"
    mapping.put("data.csv", "x,y\n1,2\n", metadata={"owner": "ana"})
    shell.user_ns["bucket"] = mapping
    yield mapping
    discard(name)


def cloudy(shell, line: str):
    return shell.run_line_magic("cloudy", line)


def test_load_twice_is_harmless(shell):
    shell.run_line_magic("load_ext", "cloudyfiles_jupyter")
    shell.run_line_magic("reload_ext", "cloudyfiles_jupyter")

    assert "cloudy" in shell.magics_manager.magics["line"]
    assert "cloudy" in shell.magics_manager.magics["cell"]


def test_import_is_light():
    code = (
        "import sys, cloudyfiles_jupyter, cloudyfiles; "
        "names = ('IPython', 'ipywidgets', 'PIL', 'pandas', 'boto3'); "
        "heavy = [m for m in names if m in sys.modules]; "
        "print(heavy)"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert output.stdout.strip() == "[]"


def test_help_lists_commands(shell):
    text = cloudy(shell, "help")

    for command in ("ls", "head", "stat", "cp", "rm", "open", "whoami", "browse", "write"):
        assert f"  {command} " in text
    assert "--page-size" in cloudy(shell, "help ls")


def test_unknown_command_names_the_fix(shell):
    with pytest.raises(UsageError, match="unknown %cloudy command 'lst': use one of"):
        cloudy(shell, "lst memory://x")


def test_ls_folders_first_and_paging(shell, bucket):
    first = cloudy(shell, f"ls {bucket.url} --page-size 3")
    second = cloudy(shell, f"ls {bucket.url} --next")

    assert isinstance(first, Listing)
    assert first.folders == ["a/", "b/"]
    assert first.keys == ["data.csv"]
    assert first.next_token is not None
    assert second.keys == ["notes.txt"]
    assert second.next_token is None
    assert "More entries exist" in first._repr_mimebundle_()["text/plain"]


def test_ls_next_without_earlier_page(shell, bucket):
    with pytest.raises(UsageError, match="no earlier page"):
        cloudy(shell, "ls bucket/a/ --next")


def test_ls_token_continues(shell, bucket):
    first = cloudy(shell, "ls bucket --page-size 1")
    second = cloudy(shell, f"ls bucket --page-size 1 --token {first.next_token}")

    assert second.folders == ["b/"]


def test_ls_folder_through_variable(shell, bucket):
    listing = cloudy(shell, "ls bucket/a")

    assert listing.keys == ["one.txt", "two.txt"]
    assert listing.url.endswith("/a/")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("ls", "the following arguments are required: url"),
        ("ls memory://x --page-size 0", "invalid --page-size 0"),
        ("ls memory://x --page-size many", "invalid int value"),
        ("ls bucket --next --token abc", "either --next or --token"),
        ("ls 'memory://x", "check the quotes"),
        ("ls nope://bucket", "unknown URL scheme"),
        ("head bucket/a/", "is a folder, not an object"),
        ("head bucket/missing.txt", "not found; check the key with %cloudy ls"),
        ("head bucket/notes.txt -n 1 -c 2", "either -n LINES or -c BYTES"),
        ("head bucket/notes.txt -n -1", "invalid -n -1"),
        ("stat bucket", "is a folder"),
        ("cp bucket/a/ memory://elsewhere/", "pass --recursive"),
        ("cp bucket/a memory://elsewhere/x.txt --recursive", "end the destination with '/'"),
        ("open bucket/notes.txt as 1abc", "invalid variable name '1abc'"),
        ("open bucket/notes.txt as a b", "expected one variable name"),
        ("rm bucket", "pass --recursive --yes"),
        ("rm bucket/a/ --recursive", "without confirmation: add --yes"),
        ("config preview_bytes", "write NAME=VALUE"),
        ("config preview_bytes=-4", "invalid preview_bytes"),
        ("write bucket/x.txt", "write needs a cell"),
    ],
)
def test_bad_input_raises_usage_error(shell, bucket, line, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace("+", r"\+")):
        cloudy(shell, line)


def test_head_lines_and_bytes(shell, bucket):
    lines = cloudy(shell, "head bucket/notes.txt -n 2")
    raw = cloudy(shell, "head bucket/notes.txt -c 5")

    assert isinstance(lines, TextResult)
    assert lines == "first\nsecond\n"
    assert raw == b"first"


def test_head_of_long_object_reads_one_range(shell, bucket):
    bucket["long.log"] = "".join(f"line {n}\n" for n in range(200_000))
    config.preview_bytes = 100

    text = cloudy(shell, "head bucket/long.log -n 1000")

    assert text.startswith("line 0\n")
    assert text.endswith("\n")
    assert len(text.encode()) <= 100


def test_stat_returns_metadata(shell, bucket):
    stat = cloudy(shell, "stat bucket/data.csv")

    assert isinstance(stat, ObjectStat)
    assert stat["size"] == 8
    assert stat["content_type"] == "text/csv"
    assert stat["metadata"] == {"owner": "ana"}
    assert stat["etag"]
    assert "owner=ana" in stat._repr_mimebundle_()["text/html"]


def test_cp_same_vendor_runs_on_server(shell, bucket):
    result = cloudy(shell, f"cp bucket/data.csv {bucket.url}copies/")

    assert isinstance(result, Transfer)
    assert result.server_side
    assert result.destination.endswith("copies/data.csv")
    assert bytes(bucket["copies/data.csv"]) == b"x,y\n1,2\n"
    assert bucket["copies/data.csv"].metadata == {"owner": "ana"}


def test_cp_across_vendors_streams(shell, bucket, tmp_path):
    result = cloudy(shell, f"cp bucket/notes.txt {tmp_path}/copied.txt")

    assert not result.server_side
    assert (tmp_path / "copied.txt").read_bytes() == b"first\nsecond\nthird\n"


def test_cp_recursive(shell, bucket):
    name = f"copy-{uuid.uuid4().hex[:8]}"
    result = cloudy(shell, f"cp bucket/a/ memory://{name}/backup/ --recursive")

    assert len(result.objects) == 2
    assert sorted(from_url(f"memory://{name}/backup")) == ["one.txt", "two.txt"]
    discard(name)


def test_rm_key_and_guarded_prefix(shell, bucket):
    removed = cloudy(shell, "rm bucket/notes.txt")
    assert isinstance(removed, Removal)
    assert "notes.txt" not in bucket

    with pytest.raises(UsageError):
        cloudy(shell, "rm bucket/a/")
    assert "a/one.txt" in bucket

    removed = cloudy(shell, "rm bucket/a/ --recursive --yes")
    assert removed.deleted == 2
    assert "a/one.txt" not in bucket
    assert "b/deep/three.txt" in bucket


def test_rm_missing_key(shell, bucket):
    with pytest.raises(UsageError, match="not found"):
        cloudy(shell, "rm bucket/never.txt")


def test_open_stores_variables(shell, bucket):
    obj = cloudy(shell, "open bucket/notes.txt as notes")
    folder = cloudy(shell, "open bucket/a folder")
    root = cloudy(shell, f"open {bucket.url} root")

    assert isinstance(shell.user_ns["notes"], RemoteObject)
    assert obj is shell.user_ns["notes"]
    assert isinstance(folder, ObjectMapping)
    assert sorted(shell.user_ns["folder"]) == ["one.txt", "two.txt"]
    assert root.url == bucket.url


def test_open_missing_key(shell, bucket):
    with pytest.raises(UsageError, match="not found"):
        cloudy(shell, "open bucket/none as x")


def test_write_cell(shell, bucket):
    result = shell.run_cell_magic(
        "cloudy", "write bucket/cell.md --content-type text/markdown", "# Title\n"
    )

    assert isinstance(result, Transfer)
    assert bytes(bucket["cell.md"]) == b"# Title\n"
    assert bucket["cell.md"].content_type == "text/markdown"


def test_cell_only_for_write(shell, bucket):
    with pytest.raises(UsageError, match="takes no cell"):
        shell.run_cell_magic("cloudy", "ls bucket", "text")


def test_magics_through_run_cell(shell, bucket):
    result = shell.run_cell("listing = %cloudy ls bucket/a/\nlisting.keys")

    assert result.success
    assert result.result == ["one.txt", "two.txt"]


def test_usage_error_through_run_cell(shell, bucket, capsys):
    result = shell.run_cell("%cloudy rm bucket")

    assert not result.success
    assert isinstance(result.error_in_exec, UsageError)


def test_hostile_key_through_magics(shell, bucket):
    bucket[HOSTILE] = HOSTILE
    listing = cloudy(shell, "ls bucket")
    stat = cloudy(shell, f"stat 'bucket/{HOSTILE}'")

    assert "<img" not in listing._repr_mimebundle_()["text/html"]
    assert "<img" not in stat._repr_mimebundle_()["text/html"]
    assert stat["key"] == HOSTILE


def test_config_sets_preview_bytes(shell):
    result = cloudy(shell, "config preview_bytes=1024 page_size=10")

    assert result.preview_bytes == 1024
    assert config.page_size == 10


def test_whoami_local_and_memory(shell, bucket, tmp_path):
    memory = cloudy(shell, "whoami bucket")
    local = cloudy(shell, f"whoami {tmp_path}/")

    assert memory.scheme == "memory"
    assert "none" in memory.credentials
    assert local.endpoint == str(tmp_path)


def test_whoami_s3_names_source_and_hides_secrets(shell, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEKEY1234")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "very-secret-value")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")

    identity = cloudy(shell, "whoami s3://some-bucket/prefix/")
    shown = str(identity) + identity._repr_html_()

    assert identity.credentials == "env"
    assert identity.endpoint == "http://127.0.0.1:9"
    assert identity.details["region"] == "eu-west-1"
    assert identity.details["access key id"] == "…1234"
    assert "very-secret-value" not in shown
    assert "AKIAEXAMPLEKEY1234" not in shown


def test_whoami_s3_explicit_options(shell):
    from cloudyfiles.s3 import factory

    shell.user_ns["s3bucket"] = factory(
        "explicit-bucket",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="AKIAEXPLICIT9876",
        aws_secret_access_key="hidden-secret",
        region_name="us-east-1",
    )()

    identity = cloudy(shell, "whoami s3bucket")

    assert identity.credentials == "explicit"
    assert identity.details["option aws_secret_access_key"] == "(hidden)"
    assert "hidden-secret" not in str(identity)


def test_whoami_s3_without_credentials_stays_offline(shell, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")

    identity = cloudy(shell, "whoami s3://some-bucket")

    assert identity.credentials.startswith("none found")
    assert "not checked" in identity.credentials


def test_whoami_other_schemes_do_not_fail(shell, monkeypatch):
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "http://127.0.0.1:9")
    monkeypatch.setenv(
        "AZURE_STORAGE_CONNECTION_STRING",
        "AccountName=dev;AccountKey=c2VjcmV0;BlobEndpoint=http://127.0.0.1:10000/dev",
    )
    monkeypatch.setenv("ST_AUTH", "http://127.0.0.1:8080/auth/v1.0")
    monkeypatch.setenv("ST_USER", "test:tester")
    monkeypatch.setenv("ST_KEY", "testing")

    for url, scheme in (
        ("gs://bucket/x", "gs"),
        ("az://container/x", "az"),
        ("swift://container/x", "swift"),
    ):
        identity = cloudy(shell, f"whoami {url}")
        shown = str(identity)

        assert identity.scheme == scheme
        assert "c2VjcmV0" not in shown
        assert "testing" not in shown
        assert identity.credentials


def test_browse_returns_widget(shell, bucket):
    from cloudyfiles_jupyter._widget import BucketBrowser

    widget = cloudy(shell, "browse bucket")

    assert isinstance(widget, BucketBrowser)
    assert widget.expression_for("a/one.txt") == "bucket['a/one.txt']"


def test_display_in_terminal_shell_is_text(shell, bucket):
    formatted, _ = shell.display_formatter.format(bucket["notes.txt"])

    assert "first\nsecond" in formatted["text/plain"]
    assert "text/html" in formatted
