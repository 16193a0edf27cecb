"""The sandbox tier: the collectives' bootstraps run inside each accelerator unit's own sandbox.

On two lab nodes, each unit the deploy renders (the H200 vLLM TP8 default, B200 SGLang, MI300X
vLLM, Ascend A3 vLLM-Ascend, the Ray head and worker units and the engine on the Ray head of
the two-node H200 BF16 deployment, and the ranks of vLLM's and vLLM-Ascend's own multi-node
modes) is installed as a probe unit: every directive as rendered, ExecStart swapped for a probe
(see glmstack/lab/collectives.py). Probes:

- NCCL's bootstrap, `ncclGetUniqueId`, from libnccl.so.2 of the nvidia-nccl wheel the pinned
  vLLM's torch requires (no GPU needed: it lists the interfaces and opens a listener);
- a two-node Gloo rendezvous and all_reduce with GLOO_SOCKET_IFNAME from the unit's own
  environment file, with Debian 12's torch (python3-torch 1.13; not the engine's torch).

Each runs twice: with the unit as rendered (it must pass) and with the unit's old
`RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6` (it must fail on getifaddrs), so the tier shows
the directive is what decides. Ray's own node start in ray.service, as rendered, is proven by
test_ray_cluster.py (a three-node cluster formed by the deploy); what Ray's unit adds to the
engine's needs is the workers it starts, which run these collectives in its sandbox.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from glmstack.config import resolve_inventory
from glmstack.examples import roce_settings
from glmstack.lab import collectives, lab
from glmstack.lab.collectives import NODE_PROBE_DIR, OLD_ADDRESS_FAMILIES
from roles.service.render import render_unit
from roles.service.units import node_unit_specs

pytestmark = pytest.mark.lab

PIN = "1" * 40
INTERFACE = "host0"  # the lab nodes' one interface
GETIFADDRS_NCCL = re.compile(r"Call to getifaddrs failed\s*:.*Address family not supported by protocol")
GETIFADDRS_ERRNO = "Address family not supported by protocol"
VARIANTS = ("as-rendered", "old-directive")

SINGLE_NODE = {
    "h200-vllm-tp8": {"accelerator": "h200", "model": "glm-5.2-fp8", "engine": "vllm"},
    "b200-sglang": {"accelerator": "b200", "model": "glm-5.2-fp8", "engine": "sglang",
                    "service_bind_host": "127.0.0.1"},
    "mi300x-vllm": {"accelerator": "mi300x", "model": "glm-5.2-fp8", "engine": "vllm"},
    "ascend-a3-vllm-ascend": {"accelerator": "ascend-a3", "model": "glm-5.2-w8a8", "engine": "vllm-ascend",
                              "model_revision": PIN},
}
TWO_NODES = {
    "h200-ray": {"accelerator": "h200", "model": "glm-5.2-bf16", "engine": "vllm", "model_revision": PIN,
                 "deployment": "ray", "network_interface": INTERFACE},
    "h200-vllm-mp": {"accelerator": "h200", "model": "glm-5.2-bf16", "engine": "vllm", "model_revision": PIN,
                     "recipe_variant": "mp", "deployment": "mp", "network_interface": INTERFACE},
    "ascend-a2-two-nodes": {"accelerator": "ascend-a2", "model": "glm-5.2-w8a8", "engine": "vllm-ascend",
                            "model_revision": PIN, "deployment": "a2", "network_interface": INTERFACE},
}
# NCCL probe: (case, node index, unit name) -> the unit of that node.
NCCL_UNITS = [*[(case, 0, None) for case in SINGLE_NODE],
              ("h200-ray", 0, "ray"), ("h200-ray", 0, "vllm"), ("h200-ray", 1, "ray")]
# Gloo probe: (case, unit name on both nodes, rendezvous port).
GLOO_PAIRS = [("h200-ray", "ray", 29511), ("h200-vllm-mp", "vllm", 29512),
              ("ascend-a2-two-nodes", "vllm-ascend", 29513)]


@pytest.fixture(scope="module")
def sandbox_lab():
    paths = lab.LabPaths.from_env()
    lab.down(paths)
    try:
        nodes = lab.up(2, paths)
        pin = collectives.engine_nccl_pin(paths.cache_dir)
        library = collectives.nccl_library(paths.cache_dir, pin)
        for node in nodes:
            collectives.copy_probes(Path(node["root"]), library)
        addresses = [node["address"] for node in nodes]
        plans = {case: resolve_inventory([(addresses[0], data)]) for case, data in SINGLE_NODE.items()}
        plans.update({case: resolve_inventory([(address, {**data, **roce_settings(data["accelerator"], rank)})
                                               for rank, address in enumerate(addresses)])
                      for case, data in TWO_NODES.items()})
        yield {"paths": paths, "nodes": nodes, "addresses": addresses, "pin": pin, "plans": plans,
               "hosts": [lab.node_connection(address, paths) for address in addresses]}
    finally:
        lab.down(paths)


def unit_of(sandbox_lab, case: str, index: int, name: str | None):
    plan = sandbox_lab["plans"][case][index]
    units = node_unit_specs(plan)
    return units[-1] if name is None else next(unit for unit in units if unit.name == name)


def families(variant: str) -> str | None:
    return OLD_ADDRESS_FAMILIES if variant == "old-directive" else None


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize(("case", "index", "name"), NCCL_UNITS)
def test_nccl_bootstrap_in_the_units_sandbox(sandbox_lab, case, index, name, variant):
    unit = unit_of(sandbox_lab, case, index, name)
    host, root = sandbox_lab["hosts"][index], Path(sandbox_lab["nodes"][index]["root"])
    assert "AF_NETLINK" in render_unit(unit)
    probe = collectives.install_probe(
        host, root, f"nccl-{case}-{unit.name}-{variant}", unit,
        f"/usr/bin/python3 {NODE_PROBE_DIR}/nccl_unique_id.py {NODE_PROBE_DIR}/libnccl.so.2", families(variant))

    run = collectives.run_probe(host, probe)

    print(f"{case} {unit.name} ({variant}), exit {run.status}:\n{run.journal}")
    if variant == "as-rendered":
        version = collectives.nccl_version_code(sandbox_lab["pin"][1])
        assert run.status == 0 and f"ncclGetUniqueId succeeded with NCCL {version}" in run.journal, run.journal
    else:
        assert run.status == 1 and GETIFADDRS_NCCL.search(run.journal), run.journal


@pytest.fixture(scope="module")
def debian_torch(sandbox_lab):
    """Debian 12's python3-torch (CPU, with Gloo) on both nodes, installed side by side."""
    cache = sandbox_lab["paths"].cache_dir
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda pair: collectives.install_debian_torch(pair[0], Path(pair[1]["root"]), cache),
                      zip(sandbox_lab["hosts"], sandbox_lab["nodes"], strict=True)))


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize(("case", "name", "port"), GLOO_PAIRS)
def test_two_node_gloo_rendezvous_in_the_units_sandbox(sandbox_lab, debian_torch, case, name, port, variant):
    head = sandbox_lab["addresses"][0]
    probes = []
    for rank, (host, node) in enumerate(zip(sandbox_lab["hosts"], sandbox_lab["nodes"], strict=True)):
        unit = unit_of(sandbox_lab, case, rank, name)
        probe = collectives.install_probe(
            host, Path(node["root"]), f"gloo-{case}-{variant}", unit,
            f"/usr/bin/python3 {NODE_PROBE_DIR}/gloo_rendezvous.py {head} {port} {rank}", families(variant))
        probes.append((host, probe))
    for host, probe in probes:
        collectives.start_probe(host, probe)

    runs = [collectives.wait_probe(host, probe) for host, probe in probes]

    for rank, run in enumerate(runs):
        print(f"{case} {name} rank {rank} ({variant}), exit {run.status}:\n{run.journal}")
    for run in runs:
        assert f"GLOO_SOCKET_IFNAME={INTERFACE}" in run.journal, run.journal
        if variant == "as-rendered":
            assert run.status == 0 and f"across 2 ranks over {INTERFACE}: 3.0" in run.journal, run.journal
        else:
            assert run.status == 1 and GETIFADDRS_ERRNO in run.journal, run.journal


def exposure(host, unit: str) -> float:
    report = host.check_output(f"systemd-analyze security {unit} --no-pager")
    return float(re.search(rf"Overall exposure level for {re.escape(unit)}: ([\d.]+)", report).group(1))


@pytest.mark.parametrize("case", SINGLE_NODE)
def test_what_allowing_netlink_costs_in_exposure(sandbox_lab, case):
    """`systemd-analyze security` of the unit as rendered and with the old line: AF_NETLINK is the
    one difference (docs/testing.md quotes the first; test_cpu_e2e.py keeps it)."""
    unit = unit_of(sandbox_lab, case, 0, None)
    host, root = sandbox_lab["hosts"][0], Path(sandbox_lab["nodes"][0]["root"])
    scores = {variant: exposure(host, collectives.install_probe(host, root, f"exposure-{case}-{variant}", unit,
                                                                "/usr/bin/true", families(variant)))
              for variant in VARIANTS}
    print(f"systemd-analyze security, {case}: {scores}")
    assert 0 <= round(scores["as-rendered"] - scores["old-directive"], 1) <= 0.1  # scores have one decimal
