"""`make demo`: one lab node, the CPU profile deployed with pyinfra, checked, and ready to curl."""

from __future__ import annotations

import json
import sys

from rich.console import Console
from rich.panel import Panel

from glmstack.lab import lab
from glmstack.lab.host import LabError
from glmstack.lab.profile import (
    MODEL_PORT,
    SERVED_MODEL_NAME,
    cpu_profile_data,
    models_dir,
    run_deploy,
    run_infra_checks,
)
from glmstack.lab.serve import serve_directory
from glmstack.resolve import resolve

console = Console()


def main() -> int:
    paths = lab.LabPaths.from_env()
    try:
        console.rule("1/4 lab node")
        node = lab.up(1, paths)[0]
        console.rule("2/4 stand-in model and llama.cpp source")
        data = cpu_profile_data(paths)
        inventory = lab.write_inventory(paths, extra_data=data)
    except LabError as error:
        console.print(f"[red]{error}[/]")
        return 1

    console.rule(f"3/4 pyinfra {inventory} deploys/glm52.py")
    with serve_directory(models_dir(paths), port=MODEL_PORT):
        deployed = run_deploy(inventory, json_output=False)
    if deployed.returncode != 0:
        console.print("[red]the deploy failed; see its output above[/]")
        return deployed.returncode

    console.rule("4/4 testinfra checks")
    if run_infra_checks(inventory, paths, [node["address"]]) != 0:
        console.print("[red]the checks failed; see above[/]")
        return 1

    gateway = resolve(node["address"], data).gateway  # HAProxy in front of llama-server: TLS, the key
    base = gateway.url
    chat = json.dumps({"model": SERVED_MODEL_NAME, "messages": [{"role": "user", "content": "Hello"}],
                       "max_tokens": 16})
    console.print(Panel.fit(f"llama-server serves [bold]{SERVED_MODEL_NAME}[/] on {base}",
                            title="glmstack demo", border_style="green"))
    # Plain lines, never wrapped, so they can be copied as they are. The key is read on the node
    # by whoever runs them; the demo never prints it.
    ssh = f"ssh -i {paths.ssh_key} root@{node['address']}"
    print(f"the CA to trust: {ssh} cat {gateway.ca_file} > glmstack-ca.crt")
    print(f"the API key: KEY=$({ssh} cat {gateway.key_file})")
    print(f"curl --cacert glmstack-ca.crt {base}/v1/models -H \"Authorization: Bearer $KEY\"")
    print(f"curl --cacert glmstack-ca.crt {base}/v1/chat/completions -H \"Authorization: Bearer $KEY\" "
          f"-H 'Content-Type: application/json' -d '{chat}'")
    print(f"deploy again, changing nothing: .venv/bin/pyinfra {inventory} deploys/glm52.py")
    print("tear the lab down: make lab-down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
