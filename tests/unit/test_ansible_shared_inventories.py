"""Shared Ansible inventories (kubespray, DeepOps) plan as they are, with glmstack's own variables added
as `glmstack_<setting>`: their other variables are ignored (listed by name in the plan), including
ones that happen to carry a glmstack setting's name (kubespray's nvidia_driver_version "384.111",
the nvidia.nvidia_driver role's nvidia_driver_branch, a role GPU playbooks use); hosts with no glmstack_
variable (control plane, login, etcd) are not glmstack's. Variable names come from the projects'
sample inventories (kubespray inventory/sample, DeepOps config.example)."""

from __future__ import annotations

import json
from pathlib import Path

from glmstack import cli
from glmstack.ansible_inventory import ansible_inventory_hosts
from glmstack.planning import plan_inventory


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


KUBESPRAY = {
    "inventory.ini": (
        "[all]\n"
        "node1 ansible_host=10.9.2.1 ip=10.3.0.1 etcd_member_name=etcd1\n"
        "node2 ansible_host=10.9.2.2 ip=10.3.0.2\n"
        "node3 ansible_host=10.9.2.3 ip=10.3.0.3\n\n"
        "[kube_control_plane]\nnode1\n\n[etcd]\nnode1\n\n[kube_node]\nnode2\nnode3\n\n"
        "[k8s_cluster:children]\nkube_control_plane\nkube_node\n"),
    "group_vars/all/all.yml": (
        "---\netcd_data_dir: /var/lib/etcd\netcd_kubeadm_enabled: false\nbin_dir: /usr/local/bin\n"
        "loadbalancer_apiserver_port: 6443\nloadbalancer_apiserver_healthcheck_port: 8081\n"
        "no_proxy_exclude_workers: false\nupstream_dns_servers:\n  - 8.8.8.8\n  - 8.8.4.4\n"),
    "group_vars/all/containerd.yml": "---\ncontainerd_max_container_log_line_size: 16384\n",
    "group_vars/k8s_cluster/k8s-cluster.yml": (
        "---\nkube_config_dir: /etc/kubernetes\nkube_network_plugin: calico\n"
        "kube_service_addresses: 10.233.0.0/18\nkube_pods_subnet: 10.233.64.0/18\nkube_proxy_mode: ipvs\n"
        "cluster_name: cluster.local\ncontainer_manager: containerd\nkubeconfig_localhost: false\n"
        "nvidia_accelerator_enabled: true\nnvidia_driver_version: \"384.111\"\nnvidia_gpu_flavor: tesla\n"),
    "group_vars/k8s_cluster/addons.yml": "---\nhelm_enabled: false\nmetrics_server_enabled: false\n",
    # What glmstack adds: its own file, its own names.
    "group_vars/kube_node/glmstack.yml": (
        "---\nglmstack_accelerator: h200\nglmstack_model: glm-5.2-fp8\nglmstack_engine: vllm\n"
        "glmstack_max_num_seqs: 8\n"),
}

DEEPOPS = {
    "inventory": (
        "[all]\nmgmt01     ansible_host=10.9.3.1\nlogin01    ansible_host=10.9.3.2\n"
        "gpu01      ansible_host=10.9.3.11\ngpu02      ansible_host=10.9.3.12\n\n"
        "[kube-master]\nmgmt01\n\n[etcd]\nmgmt01\n\n[kube-node]\ngpu01\ngpu02\n\n"
        "[k8s-cluster:children]\nkube-master\nkube-node\n\n"
        "[slurm-master]\nlogin01\n\n[slurm-node]\ngpu01\ngpu02\n\n"
        "[slurm-cluster:children]\nslurm-master\nslurm-node\n\n"
        "[all:vars]\nansible_user=ubuntu\n"),
    "group_vars/all/nvidia.yml": "gpu_clock_reset: no\ngpu_clock_lock: \"1507,1507\"\n",
    "group_vars/all/all.yml": "deepops_dir: /opt/deepops\ndeepops_venv: /opt/deepops/venv\n",
    "group_vars/slurm-cluster.yml": (
        "slurm_version: \"23.11.10\"\nslurm_enable_nfs_client_nodes: true\nslurm_cluster_name: deepops\n"
        "nvidia_driver_branch: \"470\"\n"),
    "group_vars/k8s-cluster.yml": "kube_network_plugin: calico\ndeepops_gpu_operator_enabled: true\n",
    "group_vars/slurm-node.yml": (
        "glmstack_accelerator: h200\nglmstack_model: glm-5.2-fp8\nglmstack_engine: vllm\n"
        "glmstack_port: 8100\n"),
}


def test_kubespray_inventory_plans_unedited_with_glmstack_variables(tmp_path, capsys):
    root = write(tmp_path / "kubespray", KUBESPRAY)
    hosts = {name: data for name, data, _ in ansible_inventory_hosts(root / "inventory.ini")}
    assert sorted(hosts) == ["node2", "node3"]  # node1 (control plane, etcd) has no glmstack_ variable
    assert hosts["node2"] == {"accelerator": "h200", "model": "glm-5.2-fp8", "engine": "vllm", "max_num_seqs": 8,
                              "ssh_hostname": "10.9.2.2", "address": "10.9.2.2"}
    assert [plan.host for plan in plan_inventory(root / "inventory.ini")] == ["node2", "node3"]
    assert cli.main(["plan", str(root / "inventory.ini"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)["hosts"][0]
    # kubespray's nvidia_driver_version ("384.111", its GPU addon's) is not read as glmstack's.
    assert "nvidia_driver_version" in doc["ansible_ignored"] and "kube_network_plugin" in doc["ansible_ignored"]
    assert doc["ansible_hosts_skipped"] == ["node1"]
    assert cli.main(["plan", str(root / "inventory.ini")]) == 0
    said = capsys.readouterr()
    out = said.out + said.err
    assert "ansible variables ignored (" in out and "nvidia_driver_version" in out and "384.111" not in out


def test_deepops_inventory_plans_unedited_with_glmstack_variables(tmp_path, capsys):
    root = write(tmp_path / "deepops", DEEPOPS)
    hosts = {name: data for name, data, _ in ansible_inventory_hosts(root / "inventory")}
    assert sorted(hosts) == ["gpu01", "gpu02"]
    assert hosts["gpu01"] == {"accelerator": "h200", "model": "glm-5.2-fp8", "engine": "vllm", "port": 8100,
                              "ssh_hostname": "10.9.3.11", "ssh_user": "ubuntu", "address": "10.9.3.11"}
    assert cli.main(["plan", str(root / "inventory"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)["hosts"][0]
    assert "nvidia_driver_branch" in doc["ansible_ignored"]  # the driver role's "470", not glmstack's
    assert {"slurm_version", "gpu_clock_lock", "deepops_dir"} <= set(doc["ansible_ignored"])


def test_glmstack_prefix_wins_and_plain_names_read_only_without_it(tmp_path):
    both = write(tmp_path / "both", {"hosts.yml": (
        "all:\n  hosts:\n    gpu1:\n      ansible_host: 10.9.4.1\n      port: 9000\n      glmstack_port: 8100\n"
        "      glmstack_accelerator: h200\n      glmstack_model: glm-5.2-fp8\n      glmstack_engine: vllm\n")})
    [(_, data, _)] = ansible_inventory_hosts(both / "hosts.yml")
    assert data["port"] == 8100
    plain = write(tmp_path / "plain", {"hosts.yml": (
        "all:\n  hosts:\n    gpu1:\n      ansible_host: gpu1.example.invalid\n      port: 9000\n"
        "      accelerator: h200\n      model: glm-5.2-fp8\n      engine: vllm\n      max_model_length: 8192\n")})
    [(_, data, _)] = ansible_inventory_hosts(plain / "hosts.yml")
    assert data["port"] == 9000 and "address" not in data  # a host name is not made the address
    from glmstack.ansible_inventory import IGNORED
    assert IGNORED[str(plain / "hosts.yml")]["gpu1"] == ["max_model_length"]  # a typo is ignored and listed


def test_explicit_address_is_kept(tmp_path):
    root = write(tmp_path / "a", {"hosts.yml": (
        "all:\n  hosts:\n    gpu1:\n      ansible_host: 10.9.4.1\n      glmstack_address: 10.20.0.1\n"
        "      glmstack_accelerator: h200\n      glmstack_model: glm-5.2-fp8\n      glmstack_engine: vllm\n")})
    [(_, data, _)] = ansible_inventory_hosts(root / "hosts.yml")
    assert data["address"] == "10.20.0.1"
