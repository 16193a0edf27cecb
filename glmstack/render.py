"""Rendering of systemd units and environment files from the resolved plan."""

from __future__ import annotations

import hashlib
import posixpath
from typing import TYPE_CHECKING

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from glmstack.paths import TEMPLATES
from glmstack.quoting import (
    env_name,
    exec_line,
    exec_word,
    nft_address,
    nft_identifier,
    nft_port,
    one_line,
    shell_word,
    unit_environment,
    unit_list,
    unit_list_word,
    unit_setting,
)
from glmstack.quoting import env_quote as env_quote  # their home is glmstack.quoting; imported from here too
from glmstack.quoting import systemd_quote as systemd_quote

if TYPE_CHECKING:  # glmstack.config imports the roles, which import this module
    from glmstack.config import DeployPlan

_jinja = Environment(loader=FileSystemLoader(str(TEMPLATES)), undefined=StrictUndefined,
                     keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
# One filter per syntax a value lands in; each takes the host-data field the value came from.
_jinja.filters["exec_line"] = exec_line
_jinja.filters["exec_word"] = exec_word
_jinja.filters["one_line"] = one_line
_jinja.filters["unit_setting"] = unit_setting
_jinja.filters["unit_list"] = unit_list
_jinja.filters["unit_list_word"] = unit_list_word
_jinja.filters["unit_environment"] = unit_environment
_jinja.filters["env_name"] = env_name
_jinja.filters["env_quote"] = env_quote


def unit_paths(plan: DeployPlan) -> dict[str, str]:
    config = plan.config
    return {
        "unit": f"/etc/systemd/system/{plan.unit_name}.service",
        "env_file": f"{config.base_config_dir}/{plan.unit_name}.env",
        "cann_env_file": f"{config.base_config_dir}/{plan.unit_name}.cann.env",
        "firewall": f"{config.base_config_dir}/{plan.unit_name}.nft",
        "home": f"{config.base_state_dir}/home/{plan.unit_name}",
    }


# The proxy variables the unit's environment takes from a setting (each in lower and upper case).
PROXY_SETTINGS = {"http_proxy": "base_http_proxy", "https_proxy": "base_https_proxy", "no_proxy": "base_no_proxy"}


def service_environment(plan: DeployPlan) -> dict[str, str]:
    config = plan.config
    env = {"HOME": unit_paths(plan)["home"]}
    for name, field in PROXY_SETTINGS.items():
        value = getattr(config, field)
        if value:
            env[name] = value
            env[name.upper()] = value
    env.update(plan.serve_env)
    return env


def environment_fields(plan: DeployPlan) -> dict[str, str]:
    """The host-data field each variable of the engine's environment comes from (for errors)."""
    config = plan.config
    fields = {"HOME": "base_state_dir"}
    for name, field in PROXY_SETTINGS.items():
        fields[name] = fields[name.upper()] = field
    fields.update(dict.fromkeys(config.extra_env, "extra_env"))
    return {name: fields.get(name, "extra_env" if name in config.extra_env else "environment")
            for name in service_environment(plan)}


# Set in the unit; the running engine's copy says which configuration it was started with.
FINGERPRINT_VARIABLE = "GLMSTACK_DEPLOYED"


# How long a unit waits for the other nodes of its deployment at each start (an RPC head for its
# workers, a Ray worker for its head, the engine on a Ray head for the whole cluster) before it
# gives up (systemd restarts it); the deploy waits as long for a Ray cluster to have every node.
NODE_WAIT_SECONDS = 300


def _wait_until_answering(endpoints: list[str] | tuple[str, ...], failure: str) -> str:
    """An ExecStartPre: each host:port accepts a connection in turn, or after NODE_WAIT_SECONDS
    the start fails printing `failure` (printf's format: %s is the endpoint) and systemd tries again.
    Every value is one shell word (quoted), and the whole script one word of the command line."""
    message = shell_word(failure + "\\n")  # printf's \\n: the word itself stays on one line
    # host:port, an IPv6 host in brackets: /dev/tcp takes the address without them.
    script = (f"for w in {' '.join(shell_word(endpoint) for endpoint in endpoints)}; do n=0; "
              "h=${w%:*}; h=${h#[[]}; h=${h%[]]}; "
              "until timeout 5 bash -c \"exec 3<>/dev/tcp/$h/${w##*:}\" 2>/dev/null; do "
              f"n=$((n + 1)); if [ $n -ge {NODE_WAIT_SECONDS // 2} ]; then "
              f"printf {message} \"$w\" >&2; exit 1; fi; sleep 2; done; done")
    return exec_line(["/bin/bash", "-c", script])


def rpc_wait_command(plan: DeployPlan) -> str:
    """The head's ExecStartPre: each RPC worker accepts a connection, or the start fails naming it."""
    return _wait_until_answering(plan.rpc_workers, "RPC worker %s does not answer")


def ray_head_wait_command(plan: DeployPlan) -> str:
    """A Ray worker's ExecStartPre: the head's GCS accepts a connection (after a reboot the worker
    may come up first), or the start fails saying so and systemd tries again."""
    return _wait_until_answering([plan.ray.gcs], "the Ray head %s does not answer")


def ray_nodes_command(plan: DeployPlan, python: str, wait: int = 0) -> list[str]:
    """The check that the Ray cluster has every node of the deployment (naming those it lacks)."""
    ray = plan.ray
    command = [python, ray_nodes_script(plan), "--gcs", ray.gcs, "--expect", ",".join(ray.nodes)]
    return command + (["--wait", str(wait)] if wait else [])


def ray_nodes_script(plan: DeployPlan) -> str:
    return f"{plan.config.base_prefix}/lib/ray_nodes.py"


def _unit_text(plan: DeployPlan, fingerprint: str) -> str:
    is_ray_unit = plan.ray is not None and plan.unit_name == plan.ray.unit_name
    on_ray_head = plan.ray is not None and not is_ray_unit  # the engine, driving the cluster
    ray_wait = ""
    if on_ray_head:
        # The engine on the head starts once the cluster has every node (after a reboot too).
        python = posixpath.join(posixpath.dirname(plan.binary), "python")
        ray_wait = exec_line(ray_nodes_command(plan, python, wait=NODE_WAIT_SECONDS))
    elif is_ray_unit and plan.rank > 0:
        ray_wait = ray_head_wait_command(plan)
    return _jinja.get_template("engine.service.j2").render(
        plan=plan, config=plan.config, paths=unit_paths(plan), fingerprint=fingerprint,
        fingerprint_variable=FINGERPRINT_VARIABLE,
        serve_argv=list(plan.serve_argv),
        rpc_wait=rpc_wait_command(plan) if plan.rpc_workers else "",
        ray_wait=ray_wait,
        is_ray_unit=is_ray_unit,
        on_ray_head=on_ray_head,
    )


def deployed_fingerprint(plan: DeployPlan) -> str:
    """Identifies the unit, its environment and the weights: what a running engine should match."""
    material = _unit_text(plan, "") + render_env_file(plan) + plan.model.fingerprint
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def render_unit(plan: DeployPlan) -> str:
    return _unit_text(plan, deployed_fingerprint(plan))


def render_env_file(plan: DeployPlan) -> str:
    return _jinja.get_template("engine.env.j2").render(plan=plan, env=service_environment(plan),
                                                       fields=environment_fields(plan))


def cluster_firewall_table(plan: DeployPlan) -> str:
    return nft_identifier(f"glmstack_{plan.unit_name.replace('-', '_')}", "deployment")


def render_cluster_firewall(plan: DeployPlan) -> str:
    """nftables rules the unit loads before it starts: the ports the deployment's nodes talk on
    answer those nodes and this one only. A table of its own, replaced whole, beside whatever else
    the host filters."""
    table = cluster_firewall_table(plan)
    allowed = [*plan.cluster_peers, plan.node_address]
    allowed = [nft_address(address, "address") for address in allowed]
    v4 = sorted({a for a in allowed if ":" not in a} | {"127.0.0.0/8"})
    v6 = sorted({a for a in allowed if ":" in a} | {"::1"})
    ports = ", ".join(nft_port(port, "port") for port in plan.cluster_ports)
    return "\n".join([
        "# Managed by glmstack: these ports carry the deployment's own traffic, unauthenticated; only",
        "# its nodes may connect.",
        f"table inet {table} {{}}",
        f"delete table inet {table}",
        f"table inet {table} {{",
        "  chain input {",
        "    type filter hook input priority 0; policy accept;",
        f"    tcp dport {{ {ports} }} ip saddr {{ {', '.join(v4)} }} accept",
        f"    tcp dport {{ {ports} }} ip6 saddr {{ {', '.join(v6)} }} accept",
        f"    tcp dport {{ {ports} }} drop",
        "  }",
        "}",
        "",
    ])


def rendered_files(plan: DeployPlan) -> dict[str, tuple[str, str]]:
    """Path on the host -> (content, mode) of every file the service role installs for one unit."""
    paths = unit_paths(plan)
    files = {paths["unit"]: (render_unit(plan), "644"), paths["env_file"]: (render_env_file(plan), "600")}
    if plan.cluster_ports:
        files[paths["firewall"]] = (render_cluster_firewall(plan), "644")
    return files
