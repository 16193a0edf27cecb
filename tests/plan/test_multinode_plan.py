"""Plan tests of deployments spanning hosts: deploys/glm52.py against several @fake hosts at
once, as pyinfra drives an inventory, with every host's commands in the order they ran.

The H100 hosts are constructed (nvidia_states.py: the captured Debian 12 lab node underneath,
NVIDIA answers in the facts' own formats); the CPU replicas are the captured lab node.
"""

from __future__ import annotations

import pytest
from fakehost import run_deploy_on
from gpu_states import NvidiaHost
from plan_data import PLAN_DATA
from test_cpu_plan import RUNNING_FINGERPRINT, answer, captured

from glmstack.config import resolve_inventory
from glmstack.render import render_unit

# Fake hosts (the @fake connector: no connection is ever made), reached at these addresses.
HEAD, WORKER = "@fake/h100-1", "@fake/h100-2"
ADDRESSES = {HEAD: "10.0.0.11", WORKER: "10.0.0.12"}
H100_RAY = {"accelerator": "h100", "model": "glm-5.2-fp8", "engine": "vllm", "deployment": "glm52-h100",
            "network_interface": "ens1f0"}
INTERFACES = "for d in /sys/class/net/*"


def h100_pair(data: dict, interfaces: dict[str, list[str]] | None = None) -> list[tuple[str, dict, dict]]:
    """Two fresh HGX H100 hosts of one deployment; `interfaces`: each host's NICs as the fact reads them."""
    hosts = [(name, {**data, "address": address}) for name, address in ADDRESSES.items()]
    plans = {plan.host: plan for plan in resolve_inventory(hosts)}
    built = []
    for name, host_data in hosts:
        state = NvidiaHost(host_data, plan=plans[name])
        nics = (interfaces or {}).get(name, ["lo 127.0.0.1 ::1", f"ens1f0 {host_data['address']}"])
        state.answer(INTERFACES, nics)
        # Fresh hosts: no Ray yet, so the head's check finds none of the nodes.
        state.answer("ray_nodes.py --gcs", [f"the Ray head {ADDRESSES[HEAD]}:6379 does not answer"])
        built.append((name, host_data, state.responses()))
    return built


def first(timeline: list[tuple[str, str]], host: str, fragment: str) -> int:
    for index, (name, command) in enumerate(timeline):
        if name == host and fragment in command:
            return index
    raise AssertionError(f"{host} ran no command containing {fragment!r}")


@pytest.fixture(scope="module")
def ray_pair():
    return run_deploy_on(h100_pair(H100_RAY))


def test_the_ray_head_starts_first_then_its_worker_then_the_engine_on_the_head_alone(ray_pair):
    runs, timeline = ray_pair
    head_ray = first(timeline, HEAD, "systemctl start ray.service")
    worker_ray = first(timeline, WORKER, "systemctl start ray.service")
    every_node = first(timeline, HEAD, f"--expect {ADDRESSES[HEAD]},{ADDRESSES[WORKER]} --wait 300")
    engine = first(timeline, HEAD, "systemctl start vllm.service")
    assert head_ray < worker_ray < every_node < engine
    # The worker lends its GPUs through Ray: no engine unit, no API key, but the weights (vLLM's
    # Ray workers load their share from the node's own disk).
    assert not runs[WORKER].ran("vllm.service") and not runs[WORKER].ran("api-key")
    assert runs[WORKER].ran("systemctl start --no-block glmstack-weights-glm-5.2-fp8.service")
    # Every node's engine environment has the same pinned Ray: the one wheelhouse the head fetched
    # for both (tests/plan/test_fanout_plan.py), locked from the engine's requirements.
    plans = resolve_inventory([(name, {**H100_RAY, "address": address}) for name, address in ADDRESSES.items()])
    assert all("ray[cgraph]==2.60.0" in plan.engine_env.requirements for plan in plans)
    for run in runs.values():
        assert run.ran(f"--find-links http://{ADDRESSES[HEAD]}:8098/python/{plans[0].engine_env.install_key}")


def test_every_ray_node_is_checked_for_its_nic_before_any_change():
    hosts = h100_pair(H100_RAY, interfaces={HEAD: ["lo 127.0.0.1", f"ens1f0 {ADDRESSES[HEAD]}"],
                                            WORKER: ["lo 127.0.0.1", f"eth0 {ADDRESSES[WORKER]}", "ib0"]})
    with pytest.raises(Exception) as error:
        run_deploy_on(hosts)
    message = str(error.value.__cause__ or error.value)
    assert message == (f"host {WORKER}: field network_interface: 'ens1f0' is not an interface of this host; it has: "
                       f"eth0 ({ADDRESSES[WORKER]}), ib0")


def test_vllm_multinode_mode_starts_the_engine_on_both_with_the_worker_headless():
    runs, timeline = run_deploy_on(h100_pair({**H100_RAY, "recipe_variant": "mp"}))
    assert not any("ray.service" in command for _, command in timeline)
    for host in (HEAD, WORKER):
        assert runs[host].ran("systemctl start vllm.service")
    # The headless worker serves no API: its readiness is its unit running, not /health.
    assert not runs[WORKER].ran("api-key")


def replicas(stale: bool) -> list[tuple[str, dict, dict]]:
    """Two CPU hosts serving alone (no deployment): replicas behind the operator's balancer."""
    responses = captured("debian12-converged")
    if stale:  # the running engines were started with another configuration
        responses = answer(responses, RUNNING_FINGERPRINT, ["running", "GLMSTACK_DEPLOYED=0ld"])
    return [("@fake/replica1", dict(PLAN_DATA), responses), ("@fake/replica2", dict(PLAN_DATA), responses)]


def test_a_restart_of_replicas_rolls_one_host_at_a_time_each_healthy_before_the_next():
    runs, timeline = run_deploy_on(replicas(stale=True))
    restart = "systemctl restart llama-server.service"
    wait = "if curl -fsS --max-time 5 -o /dev/null http://127.0.0.1:8080/health"
    one, two = sorted(runs, key=lambda host: first(timeline, host, restart))
    # The first host's restart has waited for its health before the second host goes down.
    assert first(timeline, one, restart) < first(timeline, one, wait) < first(timeline, two, restart)
    for run in runs.values():
        assert run.changed == ["glmstack service | Keep llama-server's running configuration until the change is ready",
                               "glmstack service | Restart llama-server in turn, ready before the next"]


def test_converged_replicas_restart_nothing():
    runs, timeline = run_deploy_on(replicas(stale=False))
    assert not any("systemctl restart" in command for _, command in timeline)
    assert all(run.changed == [] for run in runs.values())


def test_sglang_runs_on_every_node_with_its_rank_and_closes_its_rendezvous_port():
    data = {"accelerator": "h200", "model": "glm-5.2-bf16", "engine": "sglang", "model_revision": "1" * 40,
            "deployment": "bf16", "network_interface": "ens1f0", "service_bind_host": "127.0.0.1"}
    runs, _ = run_deploy_on(h100_pair(data))
    plans = {plan.host: plan for plan in resolve_inventory([(name, {**data, "address": address})
                                                            for name, address in ADDRESSES.items()])}
    for host, rank in ((HEAD, 0), (WORKER, 1)):
        argv = " ".join(plans[host].serve_argv)
        assert f"--nnodes 2 --node-rank {rank} --dist-init-addr {ADDRESSES[HEAD]}:5000" in argv
        # Every node filters the rendezvous port, with nftables installed before the engine starts.
        assert plans[host].cluster_ports == ("5000",)
        assert "ExecStartPre=+/usr/sbin/nft -f /etc/glmstack/sglang.nft" in render_unit(plans[host])
        assert runs[host].index_of("nftables") < runs[host].index_of("systemctl start sglang.service")
    # Rank 1 serves no API: its readiness is its unit running.
    assert plans[WORKER].probe == "active" and plans[HEAD].probe == "http"
