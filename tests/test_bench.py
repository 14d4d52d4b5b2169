"""The benchmark command runs end to end in its quick mode against a real SeaweedFS."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench._workloads import WORKLOADS

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(900)
def test_quick_bench_prints_every_workload() -> None:
    pytest.importorskip("s3fs")
    pytest.importorskip("obstore")
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    for name in WORKLOADS:
        assert f"== {name}" in completed.stdout or "== list-" in completed.stdout, name
    assert completed.stdout.count("cloudyfiles / best peer:") == len(WORKLOADS)
