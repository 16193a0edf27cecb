"""Two replica gateways on loopback (HAProxy processes rendered from roles/gateway's haproxy.cfg.j2,
fake engines; tests/unit/gateway_loopback.py): requests through one gateway while the other
replica's engine restarts the ways llama-server does all succeed. Skipped without `haproxy`."""

import pytest

from tests.unit import gateway_loopback as loop

pytestmark = pytest.mark.skipif(not loop.haproxy_available(), reason="haproxy is not installed")


@pytest.mark.parametrize("case", ["close", "close", "close", "refuse", "loading"])
def test_no_request_fails_through_the_peer_while_an_engine_restarts(case, tmp_path):
    # close: the stopping engine accepts and closes (the peer's gateway answers 502 after its
    # retries); refuse: its port closed for 2 s; loading: 503 "Loading model" at once. Each then
    # answers 503 Loading model for 2 s and serves again.
    outcome = loop.run(case, workdir=tmp_path)
    assert outcome["requests"] > 50, outcome
    assert outcome["failed"] == 0, outcome


def test_no_request_fails_through_the_restarted_replicas_own_gateway(tmp_path):
    outcome = loop.run("close", workdir=tmp_path, through="a")  # its engine closes, then loads
    assert outcome["requests"] > 50, outcome
    assert outcome["failed"] == 0, outcome


def test_without_the_buffered_request_a_peers_503_reaches_the_client(tmp_path):
    # What the lab's replica runs before h-gw's b48048c saw: the request is not kept, so no retry.
    outcome = loop.run("refuse", workdir=tmp_path,
                       edit=lambda text: text.replace("option http-buffer-request", "# removed"))
    assert outcome["failed"] > 0 and "503" in outcome["statuses"], outcome
