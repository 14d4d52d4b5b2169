"""Profile sequential small GETs through cloudyfiles against SeaweedFS on 127.0.0.1.

    python -m bench.profile [COUNT]

Prints the functions with the most own time over COUNT lookups of 1 KiB values, so
the share of the request itself (obstore's ``get``) against cloudyfiles' Python
overhead is visible.
"""

from __future__ import annotations

import cProfile
import pstats
import sys

from bench._setup import BUCKET
from tests.servers import SeaweedFS


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    count = int(arguments[0]) if arguments else 300
    from cloudyfiles.s3 import factory

    with SeaweedFS() as server:
        d = factory(
            BUCKET,
            create=True,
            endpoint_url=server.endpoint_url,
            aws_access_key_id=server.access_key,
            aws_secret_access_key=server.secret_key,
            region_name=server.region,
        )()
        keys = [f"profile/{index:05d}" for index in range(count)]
        d.put_many({key: b"x" * 1024 for key in keys})
        for key in keys:  # warm the connection pool and the server's caches
            bytes(d[key])
        profile = cProfile.Profile()
        profile.enable()
        for key in keys:
            bytes(d[key])
        profile.disable()
    pstats.Stats(profile).sort_stats("tottime").print_stats(8)
    return 0


if __name__ == "__main__":
    sys.exit(main())
