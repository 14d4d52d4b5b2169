"""The conformance suite on the in-memory store, plus what is particular to it."""

from __future__ import annotations

import itertools
import pickle
from typing import Any

import pytest

from cloudyfiles import ObjectMapping, from_url
from cloudyfiles.memory import discard, factory
from tests.backends import Backend
from tests.conformance import MappingConformance

_names = itertools.count()


class TestMemory(MappingConformance):
    @pytest.fixture
    def backend(self) -> Backend:
        def make(**options: Any) -> type[ObjectMapping]:
            return factory(f"test-{next(_names)}", **options)

        return Backend(name="memory", make=make)


def test_named_stores_are_independent() -> None:
    factory("left")(k="left")
    factory("right")(k="right")
    assert bytes(factory("left")()["k"]) == b"left"
    assert bytes(factory("right")()["k"]) == b"right"
    discard("left")
    assert "k" not in factory("left")()


def test_url_opens_named_store() -> None:
    factory("by-url", "folder")(k="v")
    assert bytes(from_url("memory://by-url/folder")["k"]) == b"v"
    assert list(from_url("memory://by-url")) == ["folder/k"]


def test_anonymous_store_is_private() -> None:
    first, second = factory(), factory()
    first()["k"] = "v"
    assert "k" not in second()


def test_pickle_reopens_store_by_name() -> None:
    d = factory("pickled")(k="v")
    assert bytes(pickle.loads(pickle.dumps(d))["k"]) == b"v"
