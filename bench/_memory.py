"""Measure peak RSS growth while one client streams an object by lines.

Runs in a fresh interpreter so that the peak (VmHWM) belongs to this read alone:
``python -m bench._memory CLIENT ENDPOINT BUCKET KEY`` prints a JSON object.
"""

from __future__ import annotations

import json
import sys

from bench._setup import ACCESS_KEY_ENV, SECRET_KEY_ENV


def _status_kib(name: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{name} not found in /proc/self/status")


def main() -> None:
    import os

    client, endpoint, bucket, key = sys.argv[1:5]
    credentials = {
        "aws_access_key_id": os.environ[ACCESS_KEY_ENV],
        "aws_secret_access_key": os.environ[SECRET_KEY_ENV],
        "region_name": "us-east-1",
    }
    if client == "cloudyfiles":
        from cloudyfiles.s3 import factory

        value = factory(bucket, endpoint_url=endpoint, **credentials)()[key]
        before = _status_kib("VmRSS")
        lines = sum(1 for _ in value)
    else:
        import boto3

        s3 = boto3.client("s3", endpoint_url=endpoint, **credentials)
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
        before = _status_kib("VmRSS")
        lines = sum(1 for _ in body.iter_lines())
    peak = _status_kib("VmHWM")
    print(json.dumps({"lines": lines, "growth_kib": peak - before}))


if __name__ == "__main__":
    main()
