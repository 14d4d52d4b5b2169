"""Sample data for the tour notebook, uploaded to the tour's bucket.

The data comes from packages that ship it, so the upload needs no network: tables
from ``vega_datasets`` (its locally bundled files only), images and binary samples
from matplotlib's ``mpl-data/sample_data``, and a text log generated here.

The bucket is ``$CLOUDYFILES_TOUR_URL`` when set, otherwise the local folder
``.cache/tour-data`` at the top of the repository.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import cloudyfiles
from cloudyfiles import NotSupportedError, ObjectMapping

__all__ = ["SAMPLE_KEYS", "make_log", "tour_url", "upload_sample_data"]

URL_VARIABLE = "CLOUDYFILES_TOUR_URL"
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FOLDER = REPO_ROOT / ".cache" / "tour-data"
LOG_BYTES = 4 * 1024 * 1024
"""Size of the generated log: large enough that a preview shows a small part of it."""

_TABLES = ("cars.json", "iris.json", "seattle-weather.csv", "stocks.csv")
_SAMPLES = {
    "images/grace_hopper.jpg": "grace_hopper.jpg",
    "images/logo2.png": "logo2.png",
    "binary/s1045.ima.gz": "s1045.ima.gz",
    "binary/eeg.dat": "eeg.dat",
}
SAMPLE_KEYS = (
    "README.txt",
    *(f"tables/{name}" for name in _TABLES),
    *_SAMPLES,
    "logs/app.log",
)
"""Every key that :func:`upload_sample_data` writes."""

_README = """\
cloudyfiles tour data

tables/  JSON and CSV tables from the vega_datasets package
images/  sample images shipped with matplotlib
logs/    a generated application log of a few megabytes
binary/  binary samples shipped with matplotlib
"""


def tour_url() -> str:
    """Return the location of the tour's bucket: the environment's choice or the default."""
    return os.environ.get(URL_VARIABLE) or str(DEFAULT_FOLDER)


def upload_sample_data(location: str | ObjectMapping | None = None) -> ObjectMapping:
    """Write the sample objects to ``location`` (default :func:`tour_url`); return its mapping.

    Objects that already exist with the expected size are left alone, so running the
    tour again sends one HEAD per key and no uploads.
    """
    if isinstance(location, ObjectMapping):
        bucket = location
    else:
        bucket = cloudyfiles.from_url(location or tour_url())
    for key, source in _sources().items():
        data = source if isinstance(source, bytes) else source.read_bytes()
        existing = bucket.get(key)
        if existing is not None and existing.size == len(data):
            continue
        _put(bucket, key, data, {"source": _origin(key)})
    return bucket


def _put(bucket: ObjectMapping, key: str, data: bytes, metadata: dict[str, str]) -> None:
    try:
        bucket.put(key, data, metadata=metadata)
    except NotSupportedError:
        bucket.put(key, data)  # a file system without extended attributes


def _origin(key: str) -> str:
    if key.startswith("tables/"):
        return "vega_datasets"
    if key.startswith(("images/", "binary/")):
        return "matplotlib sample_data"
    return "generated"


def _sources() -> dict[str, bytes | Path]:
    import matplotlib
    import vega_datasets

    tables = Path(vega_datasets.__file__).parent / "_data"
    samples = Path(matplotlib.get_data_path()) / "sample_data"
    sources: dict[str, bytes | Path] = {"README.txt": _README.encode()}
    for name in _TABLES:
        sources[f"tables/{name}"] = tables / name
    for key, name in _SAMPLES.items():
        sources[key] = samples / name
    sources["logs/app.log"] = make_log(LOG_BYTES)
    return sources


def make_log(size: int, seed: int = 7) -> bytes:
    """Return a plausible application log of whole lines, at least ``size`` bytes long.

    The same seed gives the same log.
    """
    rng = random.Random(seed)
    levels = ["INFO"] * 12 + ["DEBUG"] * 6 + ["WARNING"] * 2 + ["ERROR"]
    events = [
        "GET /api/orders/{n} 200 {ms}ms",
        "POST /api/orders 201 {ms}ms",
        "cache miss for customer {n}",
        "retrying upload part {n} after 503",
        "worker {n} finished batch in {ms}ms",
        "payment {n} declined by issuer",
    ]
    lines = []
    total = 0
    second = 0
    while total < size:
        second += rng.randint(0, 3)
        stamp = f"2024-05-{1 + second // 86400:02d}T{second // 3600 % 24:02d}:{second // 60 % 60:02d}:{second % 60:02d}Z"
        event = rng.choice(events).format(n=rng.randint(1, 99999), ms=rng.randint(1, 900))
        line = f"{stamp} {rng.choice(levels):<7} app: {event}\n"
        lines.append(line)
        total += len(line)
    return "".join(lines).encode()


if __name__ == "__main__":
    mapping = upload_sample_data()
    print(mapping.url)
