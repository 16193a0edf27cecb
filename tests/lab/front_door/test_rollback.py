"""A failed upgrade in the replica group (the package's deployment, conftest.py): a deploy adding a
flag llama-server refuses fails on the first replica restarted, which rolls back to its previous
unit and engine; the other replica is never taken down; requests through the gateways succeed but
for those sent in the seconds before the gateways' health checks see the restarted engine down
(measured: 3, 4, 6 and 1 of 196, 268, 540 and 15324, answered 503 by the gateway whose peer it is,
or refused); the previous
settings then change nothing."""

from __future__ import annotations

import http.client
import json
import re
import ssl
import threading
import time

import pytest

from glmstack.lab import lab
from glmstack.lab.profile import SERVED_MODEL_NAME, run_deploy
from roles.service.render import deployed_fingerprint
from roles.service.units import serving_unit_spec

pytestmark = pytest.mark.lab

BAD_FLAG = "--glmstack-no-such-flag"


def chat_status(door, address: str) -> int | None:
    """One short chat through a node's gateway (TLS verified against its CA): its status, or None."""
    context = ssl.create_default_context(cafile=str(door.ca_files[address]))
    connection = http.client.HTTPSConnection(address, door.plans[address].gateway.port, context=context, timeout=60)
    body = {"model": SERVED_MODEL_NAME, "messages": [{"role": "user", "content": "hello"}], "max_tokens": 4}
    try:
        connection.request("POST", "/v1/chat/completions", body=json.dumps(body),
                           headers={"Content-Type": "application/json",
                                    "Authorization": f"Bearer {door.keys[address]}"})
        return connection.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def unit_state(door, address: str, unit: str) -> dict[str, str]:
    shown = door.connection(address).check_output(f"systemctl show -p InvocationID -p Environment {unit}")
    return dict(line.split("=", 1) for line in shown.splitlines())


def test_a_refused_flag_rolls_back_the_first_replica_and_never_takes_the_other_down(front_door, tmp_path):
    unit = f"{front_door.plans[front_door.addresses[0]].unit_name}.service"
    before = {address: unit_state(front_door, address, unit) for address in front_door.addresses}
    bad = {**front_door.data, "extra_flags": [BAD_FLAG]}
    inventory = lab.write_inventory(front_door.paths, extra_data=bad, output=tmp_path / "refused-flag.py")

    outcomes: list[tuple[str, int | None, float]] = []  # (gateway, status, when it was sent)
    done = threading.Event()

    def requests_all_along():  # one at a time, through each gateway in turn
        while not done.is_set():
            for address in front_door.addresses:
                sent = time.monotonic()
                outcomes.append((address, chat_status(front_door, address), sent))
                time.sleep(0.05)  # a steady trickle: a loop flat out starved the 2-core lab (311 s deploy)

    loop = threading.Thread(target=requests_all_along)
    loop.start()
    try:
        time.sleep(2)
        started = time.monotonic()
        failed = run_deploy(inventory)
        seconds = time.monotonic() - started
        time.sleep(2)
    finally:
        done.set()
        loop.join()

    output = failed.stdout + failed.stderr
    not_ok = [outcome for outcome in outcomes if outcome[1] != 200]
    window = not_ok[-1][2] - not_ok[0][2] if not_ok else 0.0
    print(f"failed deploy with its rollback: {seconds:.0f}s; {len(outcomes)} requests through the gateways, "
          f"{len(not_ok)} not 200 ({sorted({(gateway, status) for gateway, status, _ in not_ok})}) "
          f"within {window:.1f}s")
    assert failed.returncode != 0
    # pyinfra runs the restart host by host, in an order of its own: the first is the one rolled back.
    rolled_back = (rf"host (\S+): {re.escape(unit)}: its process exited[^;]*, its journal says: "
                   rf"error: invalid argument: {BAD_FLAG}; not ready on \S+; rolled back to the previous unit, "
                   rf"environment file and engine, ready again on \S+\n")
    match = re.search(rolled_back, output)
    assert match, output[-4000:]
    first = match.group(1)
    (second,) = [address for address in front_door.addresses if address != first]
    assert (f"host {second}: {unit}: not restarted: host {first} of rollout group {front_door.data['gateway_group']} "
            "failed its restart in this run") in output
    after = {address: unit_state(front_door, address, unit) for address in front_door.addresses}
    assert after[second]["InvocationID"] == before[second]["InvocationID"]  # never taken down
    assert after[first]["InvocationID"] != before[first]["InvocationID"]  # restarted, then rolled back
    fingerprint = f"GLMSTACK_DEPLOYED={deployed_fingerprint(serving_unit_spec(front_door.plans[first]))}"
    for address in front_door.addresses:
        assert fingerprint in after[address]["Environment"].split()  # both run the previous settings
        unit_file = front_door.connection(address).file(f"/etc/systemd/system/{unit}").content_string
        assert BAD_FLAG not in unit_file  # and their files say so
    # Requests one at a time, through both gateways: a peer's 503 (its engine down or loading) or
    # 502 (its engine accepted and closed) is retried on the other replica, so at most the one
    # request in flight on the stopping engine may fail (loopback proof of each way an engine
    # restarts: tests/unit/test_gateway_loopback.py).
    assert len(outcomes) > 10
    assert len(not_ok) <= 1, not_ok
    assert all(chat_status(front_door, address) == 200 for address in front_door.addresses)

    rerun = run_deploy(front_door.inventory)
    assert rerun.returncode == 0, rerun.stderr[-4000:]
    assert rerun.results["totals"]["success"] == 0, f"changed after the rollback: {rerun.changed_operations}"
