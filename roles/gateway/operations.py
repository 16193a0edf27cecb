"""gateway: HAProxy in front of the engine. Its files come from the templates beside this module;
a new key, certificate or configuration reaches HAProxy by `systemctl reload haproxy` (its master
starts new workers, the old ones finish the requests they carry: no connection is dropped)."""

from __future__ import annotations

import posixpath
from io import StringIO
from typing import Any

from pyinfra import host
from pyinfra.api import deploy, operation
from pyinfra.operations import files, systemd

from glmstack.facts import GatewayKeyAcl, GatewayTlsState, UnitNeedsDaemonReload
from glmstack.ops import install_step, put_secret
from glmstack.os_packages import package_step
from glmstack.quoting import shell_word
from roles.gateway.render import (
    DROP_IN,
    SERVICE,
    health_command,
    key_acl_command,
    make_tls_command,
    render_command,
    rendered_files,
)
from roles.service.render import render_command as service_command

DeployPlan = Any  # a glmstack.plan.DeployPlan (not imported: the schema imports each role's defaults)

# Seconds the deploy waits for the gateway to answer on its health path after a change.
READY_SECONDS = 60


@operation()
def make_tls(plan: DeployPlan):
    """The CA and server certificate, made on the host once; never made again while they exist."""
    state = host.get_fact(GatewayTlsState, directory=plan.gateway.tls_dir) or {"files": {}, "pem_current": False}
    made = state["files"]
    wanted = {"ca.key": "root 600", "ca.crt": "root 644", "server.key": "root 600", "server.crt": "root 644",
              "server.pem": "root 600"}
    if made == wanted and state["pem_current"]:
        host.noop(f"{plan.gateway.tls_dir} holds the gateway's CA and certificate")
        return
    yield make_tls_command(plan)


@operation()
def combine_pem(plan: DeployPlan, changed: bool = False):
    """The operator's certificate and key in server.pem (and the certificate as ca.crt)."""
    state = host.get_fact(GatewayTlsState, directory=plan.gateway.tls_dir) or {"files": {}, "pem_current": False}
    if not changed and state["pem_current"] and state["files"].get("ca.crt") == "root 644":
        host.noop(f"{plan.gateway.pem_file} is current")
        return
    yield render_command("combine-pem.sh.j2", dir=plan.gateway.tls_dir)


@operation()
def make_api_key(key_file: str):
    """A random key made on the host itself, once (roles/service's template)."""
    if host.get_fact(GatewayKeyAcl, key_file=key_file, acl_file="/dev/null") is not None:
        host.noop(f"{key_file} holds a key")
        return
    yield service_command("make-api-key.sh.j2", key_dir=posixpath.dirname(key_file), key_file=key_file)


@operation()
def write_key_acl(plan: DeployPlan, key_changed: bool = False):
    """The ACL file HAProxy checks the Authorization header against, from the key file."""
    gateway = plan.gateway
    state = host.get_fact(GatewayKeyAcl, key_file=gateway.key_file, acl_file=gateway.acl_file)
    if not key_changed and state and state["current"]:
        host.noop(f"{gateway.acl_file} accepts the key")
        return
    yield key_acl_command(plan)


@operation()
def load_firewall(path: str, changed: bool = False):
    if not changed:
        host.noop(f"{path} is loaded")
        return
    yield f"nft -f {shell_word(path)}"


@operation()
def reload_gateway(plan: DeployPlan, reload: bool = False, restart: bool = False):
    """Reload HAProxy (hitless: the old workers finish their connections), or restart it when its
    sandbox changed; then wait until it answers on its health path."""
    if restart:
        yield f"systemctl restart {SERVICE}"
    elif reload:
        yield f"systemctl reload {SERVICE}"
    else:
        host.noop("haproxy runs the deployed configuration")
        return
    yield (f"for i in $(seq {READY_SECONDS}); do {health_command(plan)} && exit 0; sleep 1; done; "
           f"echo 'the gateway does not answer on {plan.gateway.health_url}' >&2; "
           f"journalctl -u {SERVICE} -n 30 --no-pager >&2; exit 1")


@deploy("glmstack gateway")
def run_gateway(plan: DeployPlan) -> None:
    """HAProxy in front of the engine: its package, TLS files, key ACL, configuration, sandbox."""
    gateway = plan.gateway
    install_step(package_step(plan, "gateway"))
    files.directory(name="Gateway directory (root only)", path=gateway.tls_dir, user="root", group="root",
                    mode="700")
    if gateway.made_tls:
        tls = make_tls(name="Gateway CA and certificate (made on the host once)", plan=plan)
        tls_changed = tls.will_change
    else:
        key = put_secret(name="Gateway TLS key (0600, root only)", src=str(gateway.tls_key_file),
                         dest=gateway.server_key_file)
        cert = files.put(name="Gateway TLS certificate", src=str(gateway.tls_cert_file), dest=gateway.cert_file,
                         user="root", group="root", mode="644")
        tls_changed = combine_pem(name="Gateway certificate and key for HAProxy (0600)", plan=plan,
                                  changed=key.will_change or cert.will_change).will_change
    acl_changed = False
    if gateway.key_file:
        if gateway.local_key_file:
            installed = put_secret(name="API key (0600, root only)", src=str(gateway.local_key_file),
                                   dest=gateway.key_file)
        else:
            installed = make_api_key(name="API key (made on the host, 0600, root only)", key_file=gateway.key_file)
        acl_changed = write_key_acl(name="Gateway API key ACL (0600, root only)", plan=plan,
                                    key_changed=installed.will_change).will_change
    rendered = rendered_files(plan)
    firewall_changed = False
    if gateway.group:
        firewall_changed = files.put(name="Gateway group port filter", src=StringIO(rendered[gateway.firewall_file][0]),
                                     dest=gateway.firewall_file, user="root", group="root", mode="644").will_change
        load_firewall(name="Load the gateway group port filter", path=gateway.firewall_file, changed=firewall_changed)
    drop_in = files.put(name="HAProxy sandbox (systemd drop-in)", src=StringIO(rendered[DROP_IN][0]), dest=DROP_IN,
                        user="root", group="root", mode="644", create_remote_dir=True)
    config = files.put(name="HAProxy configuration", src=StringIO(rendered[gateway.haproxy_config][0]),
                       dest=gateway.haproxy_config, user="root", group="root", mode="644")
    started = systemd.service(name="Run haproxy", service=SERVICE, running=True, enabled=True,
                              daemon_reload=drop_in.will_change or host.get_fact(UnitNeedsDaemonReload,
                                                                                 unit=SERVICE))
    reload_gateway(name="Reload haproxy (hitless) and wait for the gateway", plan=plan,
                   reload=config.will_change or acl_changed or tls_changed or started.will_change,
                   restart=drop_in.will_change)
