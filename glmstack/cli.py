"""The `glmstack` command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from glmstack.ansible_inventory import IGNORED, SKIPPED, VAULT_PASSWORD_FILE_ENV
from glmstack.hostdata import InventoryError
from glmstack.lab import lab
from glmstack.lab.host import LabError
from glmstack.planning import InventoryExited, host_document, node_rendered_files, plan_inventory, write_rendered
from glmstack.secrets import redact, redact_data
from glmstack.sizing import format_tokens

# soft_wrap: messages stay whole in logs and pipes instead of being cut at 80 columns.
# highlight=False: rich's repr highlighter runs regular expressions that take quadratic time on a long
# word (an 80 KB extra_flags item took 39 s to print); the plan colours what matters itself.
console = Console(stderr=True, soft_wrap=True, highlight=False)


def _lab_up(args: argparse.Namespace) -> int:
    records = lab.up(args.nodes, route_out=not args.no_route_out)
    table = Table("node", "address", "nspawn pid", title="lab nodes")
    for record in records:
        table.add_row(record["name"], record["address"], str(record["pid"]))
    console.print(table)
    console.print(f"inventory: glmstack lab inventory  (SSH key: {lab.LabPaths.from_env().ssh_key})")
    return 0


def _lab_down(args: argparse.Namespace) -> int:
    for item in lab.down(purge_cache=args.purge_cache):
        console.print(f"removed {item}")
    return 0


def _lab_status(args: argparse.Namespace) -> int:
    rows = lab.status()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        console.print("the lab has no nodes")
        return 0
    table = Table("node", "address", "nspawn pid", "running", "ssh")
    for row in rows:
        table.add_row(row["name"], row["address"], str(row["pid"]),
                      "yes" if row["running"] else "[red]no[/]", "yes" if row["ssh"] else "[red]no[/]")
    console.print(table)
    return 0 if all(row["ssh"] for row in rows) else 1


def _lab_inventory(args: argparse.Namespace) -> int:
    extra = json.loads(Path(args.data).read_text()) if args.data else {}
    path = lab.write_inventory(extra_data=extra, output=Path(args.output) if args.output else None,
                               validate=bool(args.data))
    print(path)
    return 0


def _print_plan(documents: list[dict]) -> None:
    for doc in documents:
        sizing = doc["sizing"]
        fits = {True: "[green]fits[/]", False: "[red]does not fit[/]", None: "[yellow]not checked[/]"}[doc["fits"]]
        node = f" (deployment {doc['deployment']}, rank {doc['rank']} of {doc['nodes']})" if doc["deployment"] else ""
        console.rule(f"{doc['host']}{node}")
        console.print(f"{doc['accelerator']} · {doc['model']} · {doc['engine']} · recipe "
                      f"{doc['recipe']['variant']} (seed {doc['recipe']['seed']}) · {fits}")
        if "ansible_ignored" in doc:
            names = doc["ansible_ignored"]
            console.print(escape(f"ansible variables ignored ({len(names)}, names only): "
                                 f"{', '.join(names) or 'none'}"), soft_wrap=True)
            if doc["ansible_hosts_skipped"] and doc is documents[0]:
                console.print(escape("ansible hosts without glmstack_ variables, not glmstack's: "
                                     + ", ".join(doc["ansible_hosts_skipped"])), soft_wrap=True)
        if sizing["checked"]:
            console.print(f"weights {sizing['weights_gb']:,.0f} GB = {sizing['weights_per_device_gb']} GB on each of "
                          f"{sizing['devices']} devices of {sizing['usable_per_device_gb']} GB usable; KV "
                          f"{sizing['kv_budget_per_device_gb']} GB/device ({sizing['kv_cache_dtype']}) = "
                          f"{format_tokens(sizing['kv_tokens'])} tokens; context that fits "
                          f"{format_tokens(sizing['context_that_fits'])}")
        else:
            console.print(f"sizing: {sizing['reason']}")
        for line in sizing["problems"]:
            console.print(f"[red]  ✗ {line}[/]")
        for line in sizing["notes"]:
            console.print(escape(f"  ! {line}"), style="yellow")
        for limit in doc["limitations"]:
            console.print(escape(f"  ! {doc['engine']} limitation {limit['name']} (seed {limit['seed']}): "
                                 f"{limit['message']}"), style="yellow")
        lock = doc["model_source"].get("lock")
        if lock:
            style = "yellow" if "not locked" in lock else "default"
            console.print(escape(f"weights: {lock}"), style=style, soft_wrap=True)
        if not doc["installable"]:
            console.print(f"[yellow]  ! glmstack cannot install {doc['engine']} yet; plan and render only[/]")
        platform = doc.get("platform")
        if platform:
            env = platform["engine_environment"] or {}
            console.print(f"platform: NVIDIA driver {platform['driver']['version']} (held) · CUDA "
                          f"{platform['cuda']['line']} ({platform['cuda']['toolkit']}) · fabric manager if "
                          f"NVSwitches are found · reboot: {platform['reboot']} · "
                          f"{escape(' '.join(env.get('requirements', [])))}", soft_wrap=True)
        engine_env = doc.get("engine_environment")
        if engine_env:
            targets = ", ".join(f"Python {t['python']} on {t['manylinux']}" for t in engine_env["targets"])
            # The first is uv's default, which the host's own index configuration replaces.
            default, *others = [i["url"] for i in engine_env["index_urls"]]
            indexes = " ".join([f"the host's index (default {default})", *others])
            console.print(escape(f"engine environment: {' '.join(engine_env['requirements'])} · for {targets} · "
                                 f"indexes {indexes}"), soft_wrap=True)
        if doc["nodes"] > 1:
            console.print(f"role: {doc['role']}", soft_wrap=True)
        for unit in doc["units"]:
            where = f" ({unit['unit']})" if len(doc["units"]) > 1 else ""
            console.print(f"command{where}: " + escape(" ".join(unit["command"])), soft_wrap=True)
            for name, value in unit["env"].items():
                console.print(escape(f"  {name}={value}"), soft_wrap=True)


def _add_ansible_ignored(inventory: str, documents: list[dict]) -> None:
    """For an Ansible inventory, the variables each host ignored (names only: values may be secrets)."""
    ignored = IGNORED.get(str(inventory))
    if ignored is None:
        return
    for doc in documents:
        doc["ansible_ignored"] = ignored.get(doc["host"], [])
        doc["ansible_hosts_skipped"] = SKIPPED.get(str(inventory), [])


def _plan(args: argparse.Namespace) -> int:
    try:
        # Host data holding a secret is refused; whatever still looks like one is never shown.
        documents = redact_data([host_document(plan) for plan in plan_inventory(args.inventory)])
        _add_ansible_ignored(args.inventory, documents)
    except InventoryError as error:
        if args.json:
            print(json.dumps({"hosts": [], "errors": str(error).splitlines()}, indent=2))
        else:
            console.print(escape(str(error)), style="red")
        return 2 if isinstance(error, InventoryExited) else 1
    if args.json:
        errors = [f"host {d['host']}: does not fit: {p}" for d in documents for p in d["sizing"]["problems"]]
        print(json.dumps({"hosts": documents, "errors": errors}, indent=2))
    else:
        _print_plan(documents)
    return 0 if all(doc["fits"] is not False for doc in documents) else 1


def _render(args: argparse.Namespace) -> int:
    try:
        plans = {plan.host: plan for plan in plan_inventory(args.inventory)}
    except InventoryError as error:
        console.print(escape(str(error)), style="red")
        return 2 if isinstance(error, InventoryExited) else 1
    if args.host not in plans:
        console.print(f"[red]host {args.host} is not in {args.inventory}; hosts: {', '.join(plans)}[/]")
        return 1
    plan = plans[args.host]
    if args.out:
        for path in write_rendered(plan, Path(args.out)):
            print(path)
        return 0
    for path, (content, mode) in node_rendered_files(plan).items():
        print(f"# ---- {path} (mode {mode})")
        print(redact(content), end="")
    return 0


def _deploy(args: argparse.Namespace) -> int:
    """Run the deploy with pyinfra, then say per host what happened; unreachable hosts by name."""
    import subprocess

    from glmstack.planning import inventory_hosts, pyinfra_command

    try:
        names = [name for name, _ in inventory_hosts(args.inventory)]
    except InventoryError as error:
        console.print(escape(str(error)), style="red")
        return 2
    # pyinfra's progress goes to stderr (shown as it runs); its JSON results come on stdout.
    # The deploy reads this inventory's lock file (deploys/glm52.py, glmstack.inventory.deploy_lock).
    env = {**os.environ, "GLMSTACK_INVENTORY": str(args.inventory)}
    run = subprocess.run(pyinfra_command(Path(args.inventory)), stdout=subprocess.PIPE, text=True, env=env)
    try:
        operations = json.loads(run.stdout)["results"]["operations"]
    except (json.JSONDecodeError, KeyError, TypeError):
        console.print(f"[red]the deploy stopped before running (pyinfra exit {run.returncode}); see above[/]")
        return run.returncode or 2
    summary = {name: {"host": name, "changed": 0, "errors": [], "status": "unreachable"} for name in names}
    for op in operations:
        for key in ("success", "no_change", "error"):
            for name in op[key]:
                entry = summary.setdefault(name, {"host": name, "changed": 0, "errors": [], "status": "ok"})
                entry["status"] = "ok" if entry["status"] == "unreachable" else entry["status"]
                if key == "success":
                    entry["changed"] += 1
                elif key == "error":
                    entry["errors"].append(op["name"])
                    entry["status"] = "failed"
    rows = list(summary.values())
    if args.json:
        print(json.dumps({"hosts": rows}, indent=2))
    else:
        table = Table("host", "status", "changed", "failed operation", title="glmstack deploy")
        for row in rows:
            color = {"ok": "green", "failed": "red", "unreachable": "yellow"}[row["status"]]
            table.add_row(row["host"], f"[{color}]{row['status']}[/]", str(row["changed"]),
                          ", ".join(row["errors"]) or "-")
        console.print(table)
        bad = [row["host"] for row in rows if row["status"] != "ok"]
        if bad:
            console.print(f"[red]not deployed: {', '.join(bad)}[/]")
    return 0 if all(row["status"] == "ok" for row in rows) else 1


def _drift(args: argparse.Namespace) -> int:
    from glmstack.drift import check_drift

    try:
        report = check_drift(args.inventory)
    except InventoryError as error:
        console.print(escape(str(error)), style="red")
        return 2
    document = redact_data(report.as_dict())  # commands may carry what host data should not have
    if args.json:
        print(json.dumps(document, indent=2))
        return report.exit_code
    for host in document["hosts"]:
        mark = {"converged": "[green]no change[/]", "drift": "[red]would change[/]",
                "unreachable": "[yellow]unreachable[/]"}[host["status"]]
        console.print(f"{host['host']}: {mark}")
        for change in host["changes"]:
            console.print(escape(f"  {change['operation']}: would run: {change['would_run']}"))
    if document["error"]:
        console.print(escape(document["error"]), style="red")
    console.print(f"checked {len(report.hosts)} hosts in {report.seconds:.1f}s")
    return report.exit_code


def _lock(args: argparse.Namespace) -> int:
    from glmstack.lock import lock_path
    from glmstack.locking import lock_inventory

    try:
        result = lock_inventory(args.inventory, upgrade=args.upgrade is not None,
                                only=args.upgrade or None, check=args.check)
    except InventoryError as error:
        console.print(escape(str(error)), style="red")
        return 2
    path = lock_path(args.inventory)
    for change in result.changes:
        style = {"+": "green", "~": "yellow", "-": "red"}[change[0]]
        console.print(escape(change), style=style)
    if args.check:
        for problem in result.problems:
            console.print(escape(f"lock out of date: {problem}"), style="red")
        if not result.problems:
            console.print(f"{path} matches {args.inventory} and the hubs")
        return 1 if result.problems else 0
    count = f"{len(result.entries)} model{'' if len(result.entries) == 1 else 's'}"
    if path.is_file() and path.read_text() == result.text:
        console.print(f"{path}: up to date ({count})")
        return 0
    path.write_text(result.text)
    console.print(f"wrote {path} ({count}): review and commit it")
    return 0


def _bundle(args: argparse.Namespace) -> int:
    from glmstack.bundle import BundleError
    from glmstack.bundling import make_bundle

    out = Path(args.out)
    if any(not ch.isprintable() for ch in args.out):
        console.print("[red]bundle: OUT holds a control character; give a plain directory path[/]")
        return 2
    try:
        manifest = make_bundle(args.inventory, out, cache=Path(args.cache) if args.cache else None,
                               weights=args.weights, log=lambda line: console.print(escape(line)))
    except (InventoryError, BundleError) as error:
        console.print(escape(str(error)), style="red")
        return 2
    document = json.loads(manifest.read_text())
    size = sum(entry["size"] for entry in document["files"].values())
    console.print(f"wrote {manifest}: {len(document['files'])} files, {size / 1e6:,.0f} MB, for "
                  f"{len(document['hosts'])} host(s) in {document['seconds']} s")
    return 0


INVENTORY_HELP = "a pyinfra inventory (.py) or an Ansible inventory (INI or YAML file, or a directory)"
VAULT_HELP = f"an Ansible inventory's vault password file (default: ${VAULT_PASSWORD_FILE_ENV})"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="glmstack", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    plan = commands.add_parser("plan", help="what each host of an inventory would run, and whether it fits")
    plan.add_argument("inventory", help=INVENTORY_HELP)
    plan.add_argument("--vault-password-file", help=VAULT_HELP)
    plan.add_argument("--json", action="store_true", help="machine-readable output")
    plan.set_defaults(func=_plan)

    deploy = commands.add_parser(
        "deploy", help="pyinfra INVENTORY deploys/glm52.py, then a per-host summary; exit 0 only if all succeeded")
    deploy.add_argument("inventory", help=INVENTORY_HELP)
    deploy.add_argument("--vault-password-file", help=VAULT_HELP)
    deploy.add_argument("--json", action="store_true", help="print the summary as JSON")
    deploy.set_defaults(func=_deploy)

    drift = commands.add_parser(
        "drift", help="would a deploy change anything? exit 0: no; 1: drift; 2: unreachable hosts or errors")
    drift.add_argument("inventory", help=INVENTORY_HELP)
    drift.add_argument("--vault-password-file", help=VAULT_HELP)
    drift.add_argument("--json", action="store_true", help="machine-readable output")
    drift.set_defaults(func=_drift)

    lock = commands.add_parser(
        "lock", help="pin each hub model's commit, files and sums in INVENTORY's lock file (NAME.lock.json)")
    lock.add_argument("inventory", help=INVENTORY_HELP)
    lock.add_argument("--vault-password-file", help=VAULT_HELP)
    lock.add_argument("--upgrade", nargs="?", const="", metavar="MODEL",
                      help="move the pins to what the branches point to now (all models, or MODEL)")
    lock.add_argument("--check", action="store_true",
                      help="exit 1 when the lock is missing, lacks a model, or a branch has moved; writes nothing")
    lock.set_defaults(func=_lock)

    bundle = commands.add_parser(
        "bundle", help="write OUT: everything INVENTORY's deploy needs from outside, for a lab without internet")
    bundle.add_argument("inventory", help=INVENTORY_HELP)
    bundle.add_argument("out", help="the bundle's directory (made; parts already there are reused)")
    bundle.add_argument("--vault-password-file", help=VAULT_HELP)
    bundle.add_argument("--weights", action="store_true", help="also the model's files, checked against the lock")
    bundle.add_argument("--cache", help="where downloads are kept between runs (default ~/.cache/glmstack/bundle)")
    bundle.set_defaults(func=_bundle)

    render = commands.add_parser("render", help="the files the deploy would install on one host")
    render.add_argument("inventory", help=INVENTORY_HELP)
    render.add_argument("--vault-password-file", help=VAULT_HELP)
    render.add_argument("host")
    render.add_argument("--out", help="write them under this directory instead of printing")
    render.set_defaults(func=_render)

    lab_parser = commands.add_parser("lab", help="local lab of real systemd nodes")
    lab_commands = lab_parser.add_subparsers(dest="lab_command", required=True)

    up = lab_commands.add_parser("up", help="boot lab nodes (kept if already running)")
    up.add_argument("--nodes", type=int, default=1, help="how many nodes (default 1)")
    up.add_argument("--no-route-out", action="store_true",
                    help="no NAT: the nodes reach each other and this machine only (deploy them from a bundle)")
    up.set_defaults(func=_lab_up)

    down = lab_commands.add_parser("down", help="stop the nodes and remove all the lab made")
    down.add_argument("--purge-cache", action="store_true",
                      help="also remove the cached root filesystem and build cache")
    down.set_defaults(func=_lab_down)

    status = lab_commands.add_parser("status", help="show the nodes; exit 1 if one is down")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=_lab_status)

    inventory = lab_commands.add_parser("inventory", help="write a pyinfra inventory of the nodes")
    inventory.add_argument("--data", help="JSON file of host data for every node (validated)")
    inventory.add_argument("--output", "-o", help="where to write it (default: in the lab's state dir)")
    inventory.set_defaults(func=_lab_inventory)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "vault_password_file", None):
        # Ansible's own variable, so pyinfra (a child process) reads the same file; a path, never the password.
        os.environ[VAULT_PASSWORD_FILE_ENV] = args.vault_password_file
    try:
        return args.func(args)
    except LabError as error:
        console.print(f"[red]glmstack: {error}[/]")
        return 1


if __name__ == "__main__":
    sys.exit(main())
