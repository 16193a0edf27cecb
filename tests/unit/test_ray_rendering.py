"""vLLM over a Ray cluster: what each node's units run, in which order, and who may connect."""

from __future__ import annotations

import subprocess

import pytest
from systemd_parse import parse_units

from glmstack.catalog import load_catalog
from glmstack.config import ray_environment, resolve_inventory
from glmstack.planning import node_rendered_files
from glmstack.render import ray_head_wait_command
from roles.service.render import render_cluster_firewall, render_env_file, render_unit
from roles.service.units import engine_unit_spec, node_unit_specs

DATA = {"accelerator": "h100", "model": "glm-5.2-bf16", "engine": "vllm", "model_revision": "1" * 40,
        "deployment": "bf16", "network_interface": "ib0"}
NODES = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]


@pytest.fixture(scope="module")
def trio():
    return resolve_inventory([(address, DATA) for address in NODES])


def test_the_head_runs_ray_then_the_engine_the_workers_ray_alone(trio):
    head, worker, _ = trio
    assert [unit.name for unit in node_unit_specs(head)] == ["ray", "vllm"]
    assert [unit.name for unit in node_unit_specs(worker)] == ["ray"]
    # The key is checked by the head's gateway; the engine behind it takes none.
    assert [unit.api_key is not None for unit in node_unit_specs(head)] == [False, False]
    assert worker.api_key is None and node_unit_specs(worker)[0].api_key is None and head.api_key is None
    assert head.gateway.key_file == "/etc/glmstack/vllm.api-key" and worker.gateway is None
    # Only the engine on the head names the executor; Ray knows the nodes.
    assert "--distributed-executor-backend ray" in " ".join(head.serve_argv)
    assert "--nnodes" not in head.serve_argv and "--headless" not in head.serve_argv


def test_every_node_runs_ray_on_its_own_address_with_its_own_vllm_host_ip(trio):
    for address, plan in zip(NODES, trio, strict=True):
        ray = node_unit_specs(plan)[0]
        argv = " ".join(ray.argv)
        assert f"--node-ip-address {address} " in argv
        assert ("--head --block --port 6379" in argv) == (address == NODES[0])
        assert f"--address {NODES[0]}:6379" in argv or address == NODES[0]
        env = render_env_file(ray)
        assert f'VLLM_HOST_IP="{address}"' in env and 'NCCL_SOCKET_IFNAME="ib0"' in env
        assert "RAY_ADDRESS" not in env


def test_the_engine_waits_for_every_node_and_stops_with_ray(trio):
    head = trio[0]
    unit = render_unit(engine_unit_spec(head))
    assert "Requires=ray.service\nAfter=ray.service\nPartOf=ray.service\n" in unit
    assert f"--expect {','.join(NODES)} --wait 300" in unit
    # It reaches the local raylet through Ray's session directory.
    assert "ReadWritePaths=/var/lib/glmstack/home/vllm /var/lib/glmstack/home/ray/tmp\n" in unit
    assert 'RAY_ADDRESS="10.0.0.1:6379"' in render_env_file(engine_unit_spec(head))


def test_a_worker_waits_for_the_heads_gcs_and_says_so(trio):
    worker = node_unit_specs(trio[1])[0]
    unit = render_unit(worker)
    assert "ExecStartPre=+/usr/sbin/nft -f /etc/glmstack/ray.nft" in unit
    assert ray_head_wait_command(trio[1]) in unit
    # As systemd reads it (its own parser), against a port nothing listens on, the wait shortened.
    nft, wait = parse_units({"ray.service": unit})["ray.service"].argv("ExecStartPre")
    assert nft == ["/usr/sbin/nft", "-f", "/etc/glmstack/ray.nft"] and wait[:2] == ["/bin/bash", "-c"]
    assert "for w in 10.0.0.1:6379;" in wait[2]
    script = wait[2].replace("for w in 10.0.0.1:6379", "for w in 127.0.0.1:9").replace("-ge 150", "-ge 1")
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and result.stderr == "the Ray head 127.0.0.1:9 does not answer\n"


def test_rays_ports_answer_the_deployments_nodes_only(trio):
    rules = render_cluster_firewall(node_unit_specs(trio[2])[0])
    assert "ip saddr { 10.0.0.1, 10.0.0.2, 10.0.0.3, 127.0.0.0/8 } accept" in rules
    assert "tcp dport { 6379-6385, 10002-10999 } drop" in rules
    assert "/etc/glmstack/ray.nft" in node_rendered_files(trio[2])


def test_every_port_ray_opens_is_fixed_and_filtered():
    ray = load_catalog().engines["vllm"].ray
    for args in (ray.head_args, ray.worker_args):
        for flag in ("--node-manager-port", "--object-manager-port", "--runtime-env-agent-port",
                     "--dashboard-agent-grpc-port", "--dashboard-agent-listen-port", "--metrics-export-port",
                     "--min-worker-port", "--max-worker-port"):
            assert flag in args, flag
    assert ray.head_args[ray.head_args.index("--include-dashboard") + 1] == "false"


def test_the_engine_environment_pins_ray_and_the_rehearsal_holds_ray_alone(trio):
    head = trio[0]
    assert head.engine_env.requirements[-1] == "ray[cgraph]==2.60.0"
    alone = ray_environment(head)
    assert alone.requirements == ("ray==2.60.0",) and alone.directory != head.engine_env.directory
    ray = node_unit_specs(head)[0]
    assert ray.argv[0] == f"{head.engine_env.directory}/bin/ray"
