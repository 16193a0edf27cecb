"""`make bench-drift`: wall time of `glmstack drift` on 1 and on 8 lab nodes, and of the same
converged check written for ansible-core (benchmarks/ansible/converged.yml), in one run.

Boots 8 lab nodes, deploys the CPU profile to all of them (python3 and python3-apt added to
the base packages: ansible's modules need them on the nodes), then times each check REPEATS
times and prints the medians and both ratios. Leaves no node behind.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from glmstack.config import resolve
from glmstack.facts import ApiKeyState
from glmstack.lab import lab
from glmstack.lab.profile import MODEL_PORT, cpu_profile_data, models_dir, run_deploy
from glmstack.lab.serve import serve_directory
from glmstack.paths import REPO_ROOT
from glmstack.render import rendered_files, unit_paths
from roles.model.operations import ready_marker

NODES = int(os.environ.get("BENCH_NODES", "8"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
ANSIBLE_CORE = "ansible-core==2.19.14"  # the newest release that runs on Python 3.11
PLAYBOOK = REPO_ROOT / "benchmarks" / "ansible" / "converged.yml"
BENCH_DIR = REPO_ROOT / ".bench"


def ansible_playbook() -> Path:
    venv = BENCH_DIR / "ansible"
    binary = venv / "bin" / "ansible-playbook"
    if not binary.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", ANSIBLE_CORE], check=True)
    return binary


def timed(command: list[str], **kwargs) -> float:
    """Seconds the command took; it must succeed and, for ansible, report every host unchanged."""
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    elapsed = time.monotonic() - started
    recap = [line for line in result.stdout.splitlines() if " : ok=" in line]
    drifted = [line for line in recap if "changed=0 " not in line or "failed=0 " not in line]
    if command[0].endswith("ansible-playbook") and len(recap) != NODES:
        drifted.append(f"{len(recap)} hosts in the recap, not {NODES}")
    if result.returncode != 0 or drifted:
        raise SystemExit(f"{' '.join(command[:3])} ... failed or found drift ({result.returncode}):\n"
                         f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return elapsed


def ansible_inputs(work: Path, paths: lab.LabPaths, nodes: list[dict], data: dict) -> tuple[Path, Path, dict]:
    """Inventory and variables for the playbook, from the very plan the deploy used."""
    plan = resolve(nodes[0]["address"], data)
    config = plan.config
    files = rendered_files(plan)
    rendered = {}
    for path, (content, _mode) in files.items():
        local = work / Path(path).name
        local.write_text(content)
        rendered[path] = str(local)
    units = unit_paths(plan)
    variables = {
        "ca_certs": [{"src": str(cert), "dest": f"/usr/local/share/ca-certificates/glmstack/{cert.stem}.crt"}
                     for cert in config.base_extra_ca_certs],
        "base_packages": ["ca-certificates", "curl", "coreutils", "tar", "gzip", *config.base_packages],
        "service_user": config.base_service_user,
        "service_group": config.base_service_group,
        "state_dir": config.base_state_dir,
        "directories": [
            {"path": config.base_prefix, "owner": "root", "group": "root", "mode": "0755"},
            {"path": config.base_state_dir, "owner": "root", "group": config.base_service_group, "mode": "0750"},
            {"path": f"{config.base_state_dir}/models", "owner": "root", "group": config.base_service_group,
             "mode": "0750"},
            {"path": f"{config.base_state_dir}/home", "owner": "root", "group": config.base_service_group,
             "mode": "0750"},
            {"path": config.base_config_dir, "owner": "root", "group": "root", "mode": "0700"},
            {"path": units["home"], "owner": config.base_service_user, "group": config.base_service_group,
             "mode": "0700"},
        ],
        "build_packages": list(plan.llamacpp.build_packages),
        "build_info": f"{plan.llamacpp.install_dir}/BUILD-INFO",
        "ready_marker": ready_marker(plan),
        "model_fingerprint": plan.model.fingerprint,
        "env_file": units["env_file"], "env_file_src": rendered[units["env_file"]],
        "unit_file": units["unit"], "unit_file_src": rendered[units["unit"]],
        "unit_name": f"{plan.unit_name}.service",
        "health_url": plan.health_url,
        "api_key_file": plan.api_key.key_file,
        "api_key_check": ApiKeyState().command(plan.api_key.key_file, plan.api_key.env_file, plan.api_key.variable),
    }
    (work / "vars.json").write_text(json.dumps(variables))
    key = paths.state_dir / "id_ed25519"
    lines = ["[lab]", *(n["address"] for n in nodes), "", "[lab:vars]", "ansible_user=root",
             f"ansible_ssh_private_key_file={key}", "ansible_python_interpreter=/usr/bin/python3",
             "ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'"]
    inventory = work / "hosts.ini"
    inventory.write_text("\n".join(lines) + "\n")
    return inventory, work / "vars.json", variables


def main() -> int:
    paths = lab.LabPaths.from_env()
    BENCH_DIR.mkdir(exist_ok=True)
    lab.down(paths)
    try:
        print(f"booting {NODES} lab nodes", flush=True)
        nodes = lab.up(NODES, paths)
        data = {**cpu_profile_data(paths, gateway=False), "base_packages": ["python3", "python3-apt"]}
        all_nodes = lab.write_inventory(paths, extra_data=data, output=BENCH_DIR / "lab-all.py")
        started = time.monotonic()
        with serve_directory(models_dir(paths), port=MODEL_PORT):
            deployed = run_deploy(all_nodes)
        if deployed.returncode != 0:
            raise SystemExit(f"deploying {NODES} nodes failed:\n{deployed.stderr[-3000:]}")
        print(f"deployed {NODES} nodes in {time.monotonic() - started:.0f} s", flush=True)
        print("each check runs against the converged nodes and must report no change", flush=True)
        one_node = BENCH_DIR / "lab-one.py"
        hosts = lab.inventory_hosts(paths, data)[:1]
        one_node.write_text("from glmstack.inventory import group\n\n"
                            f"lab = group({json.dumps(hosts)})\n")
        glmstack = str(Path(sys.executable).parent / "glmstack")
        playbook = ansible_playbook()
        with tempfile.TemporaryDirectory() as scratch:
            inventory, variables, _ = ansible_inputs(Path(scratch), paths, nodes, data)
            env = {**os.environ, "ANSIBLE_HOST_KEY_CHECKING": "False", "ANSIBLE_FORKS": str(NODES)}
            ansible = [str(playbook), "-i", str(inventory), "--check", "--extra-vars", f"@{variables}", str(PLAYBOOK)]
            pipelined = {**env, "ANSIBLE_PIPELINING": "True"}
            times = {"glmstack drift, 1 node": [], f"glmstack drift, {NODES} nodes": [],
                     f"ansible-core defaults, {NODES} nodes": [], f"ansible-core pipelining, {NODES} nodes": []}
            runs = list(times.values())
            for _ in range(REPEATS):
                runs[0].append(timed([glmstack, "drift", str(one_node)]))
                runs[1].append(timed([glmstack, "drift", str(all_nodes)]))
                runs[2].append(timed(ansible, env=env))
                runs[3].append(timed(ansible, env=pipelined))
        medians = [statistics.median(values) for values in runs]
        for (name, values), median in zip(times.items(), medians, strict=True):
            print(f"{name}: median {median:.2f} s  (runs: {', '.join(f'{v:.2f}' for v in values)})")
        print(f"ratio, {NODES} nodes / 1 node (glmstack drift): {medians[1] / medians[0]:.2f}  (aim: <= 1.5)")
        print(f"ratio, ansible-core / glmstack drift on {NODES} nodes: {medians[2] / medians[1]:.2f} with ansible's "
              f"defaults, {medians[3] / medians[1]:.2f} with pipelining  (aim: >= 3)")
        return 0
    finally:
        lab.down(paths)


if __name__ == "__main__":
    sys.exit(main())
