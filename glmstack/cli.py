"""The `glmstack` command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from glmstack.lab import lab
from glmstack.lab.host import LabError

console = Console(stderr=True)


def _lab_up(args: argparse.Namespace) -> int:
    records = lab.up(args.nodes)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="glmstack", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    lab_parser = commands.add_parser("lab", help="local lab of real systemd nodes")
    lab_commands = lab_parser.add_subparsers(dest="lab_command", required=True)

    up = lab_commands.add_parser("up", help="boot lab nodes (kept if already running)")
    up.add_argument("--nodes", type=int, default=1, help="how many nodes (default 1)")
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
    try:
        return args.func(args)
    except LabError as error:
        console.print(f"[red]glmstack: {error}[/]")
        return 1


if __name__ == "__main__":
    sys.exit(main())
