"""The conformance suite on a local folder, plus what is particular to folders."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from cloudyfiles import InvalidKeyError, ObjectMapping, from_url
from cloudyfiles.local import TEMP_FOLDER, factory
from tests.backends import Backend
from tests.conformance import MappingConformance


class TestLocal(MappingConformance):
    @pytest.fixture
    def backend(self, tmp_path_factory: pytest.TempPathFactory) -> Backend:
        def make(**options: Any) -> type[ObjectMapping]:
            return factory(tmp_path_factory.mktemp("root"), **options)

        return Backend(name="local", make=make)


def test_keys_become_folders(tmp_path: Path) -> None:
    d = factory(tmp_path)()
    d["a/b/c.txt"] = "deep"
    assert (tmp_path / "a" / "b" / "c.txt").read_bytes() == b"deep"


def test_delete_prunes_empty_folders(tmp_path: Path) -> None:
    d = factory(tmp_path)()
    d["a/b/c.txt"] = "deep"
    del d["a/b/c.txt"]
    assert not (tmp_path / "a").exists()
    assert d.list_page("").prefixes == []


def test_temporary_files_never_listed_or_left(tmp_path: Path) -> None:
    d = factory(tmp_path)()
    d["k"] = "v"
    assert list(d) == ["k"]
    assert os.listdir(tmp_path / TEMP_FOLDER) == []

    class Failing:
        def __init__(self) -> None:
            self.calls = 0

        def read(self, size: int = -1) -> bytes:
            self.calls += 1
            if self.calls > 2:
                raise OSError("source failed")
            return b"partial"

    with pytest.raises(OSError, match="source failed"):
        d["k"] = Failing()
    assert bytes(d["k"]) == b"v"
    assert os.listdir(tmp_path / TEMP_FOLDER) == []
    with pytest.raises(InvalidKeyError, match="reserved"):
        d[f"{TEMP_FOLDER}/x"] = "v"


@pytest.mark.parametrize("key", ["../outside", "a/../../outside", "/etc/passwd"])
def test_keys_cannot_escape_root(tmp_path: Path, key: str) -> None:
    d = factory(tmp_path / "root")()
    with pytest.raises(ValueError):
        d[key] = "v"
    assert not (tmp_path / "outside").exists()


def test_symlink_out_of_root_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("secret")
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(outside)
    d = factory(root)()
    with pytest.raises(ValueError, match="outside the root"):
        d["link/secret"]
    with pytest.raises(ValueError, match="outside the root"):
        d["link/new"] = "v"
    assert not (outside / "new").exists()
    assert list(d) == []


def test_url_opens_folder(tmp_path: Path) -> None:
    factory(tmp_path, "sub")(k="v")
    assert bytes(from_url(f"file://{tmp_path}/")["sub/k"]) == b"v"
    assert list(from_url(str(tmp_path))) == ["sub/k"]


def test_root_that_is_a_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(FileNotFoundError, match="not a folder"):
        factory(path)


def test_concurrent_writes_and_deletes_in_one_folder(tmp_path: Path) -> None:
    # Deletes prune empty folders, which races with writers creating them.
    import threading

    d = factory(tmp_path)()
    failures: list[BaseException] = []

    def churn(thread: int) -> None:
        for index in range(300):
            try:
                d[f"a/b/{thread}-{index}"] = "x"
                del d[f"a/b/{thread}-{index}"]
            except Exception as error:  # noqa: BLE001  # collected for the assert
                failures.append(error)

    threads = [threading.Thread(target=churn, args=(number,)) for number in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert list(d) == []


def test_equal_contents_compare_equal(tmp_path: Path) -> None:
    first = factory(tmp_path / "first")(a="1", b="2")
    second = factory(tmp_path / "second")(b="2", a="1")
    assert first == second
    second["b"] = "3"
    assert first != second
