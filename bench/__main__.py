"""Run the benchmarks: ``python -m bench [--quick] [--only WORKLOAD] [--write-docs]``.

Starts SeaweedFS on 127.0.0.1, runs cloudyfiles, boto3, s3fs (through fsspec's FSMap)
and obstore in this process on the same bucket, and prints each contender's figure
and cloudyfiles' ratio to the best peer for every workload.
"""

from __future__ import annotations

import argparse
import sys
import time

from bench import _report, _workloads
from bench._setup import FULL, QUICK, make_clients


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="use tiny sizes (seconds, not minutes); figures are not meaningful",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(_workloads.WORKLOADS),
        metavar="WORKLOAD",
        help=f"run only this workload (repeatable): {', '.join(_workloads.WORKLOADS)}",
    )
    parser.add_argument(
        "--write-docs", action="store_true", help="write the results to docs/benchmarks.md"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    from tests.servers import SeaweedFS

    sizes = QUICK if arguments.quick else FULL
    names = arguments.only or list(_workloads.WORKLOADS)
    results = []
    with SeaweedFS() as server:
        clients = make_clients(server.endpoint_url, server.access_key, server.secret_key)
        clients.boto3.create_bucket(Bucket="bench")
        for name in names:
            started = time.perf_counter()
            result = _workloads.WORKLOADS[name](clients, sizes)
            result.seconds = time.perf_counter() - started
            print(_report.format_result(result), flush=True)
            results.append(result)
    if arguments.write_docs:
        path = _report.write_docs(results, sys.argv[1:], sizes)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
