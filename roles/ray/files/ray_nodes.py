"""Which of a deployment's nodes the Ray cluster lacks, asked of the head's GCS.

    python ray_nodes.py --gcs HEAD:PORT --expect A,B,C [--wait SECONDS]

Prints one line per node the cluster lacks and exits 1 (2 when the GCS does not answer); exits 0
silently when every expected node is alive. With --wait, asks again every 2 seconds until then.
Runs with the Python of the environment Ray is installed in (the pinned Ray's GCS client).
"""

from __future__ import annotations

import argparse
import socket
import sys
import time


def alive_nodes(gcs: str) -> set[str]:
    # The GCS client retries a silent head for 40 s; a plain connection says at once.
    host, _, port = gcs.rpartition(":")  # an IPv6 head in brackets, as Ray writes it
    socket.create_connection((host.strip("[]"), int(port)), timeout=3).close()
    from ray._raylet import GcsClient
    from ray.core.generated import gcs_pb2

    client = GcsClient(address=gcs)
    return {info.node_manager_address for info in client.get_all_node_info(timeout=10).values()
            if info.state == gcs_pb2.GcsNodeInfo.ALIVE}


def missing(gcs: str, expected: list[str]) -> tuple[int, list[str]]:
    try:
        alive = alive_nodes(gcs)
    except Exception as error:  # the GCS down or unreachable: say so, whatever the client raised
        return 2, [f"the Ray head {gcs} does not answer ({type(error).__name__}: {error})".splitlines()[0]]
    lacking = [node for node in expected if node not in alive]
    return (1 if lacking else 0), [f"Ray node {node} is not in the cluster of {gcs} "
                                   f"(alive: {', '.join(sorted(alive)) or 'none'})" for node in lacking]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gcs", required=True)
    parser.add_argument("--expect", required=True)
    parser.add_argument("--wait", type=int, default=0)
    args = parser.parse_args()
    expected = [node for node in args.expect.split(",") if node]
    deadline = time.monotonic() + args.wait
    while True:
        status, lines = missing(args.gcs, expected)
        if status == 0 or time.monotonic() >= deadline:
            break
        time.sleep(2)
    for line in lines:
        print(line, file=sys.stderr if args.wait else sys.stdout)
    return status


if __name__ == "__main__":
    sys.exit(main())
