"""Capture the facts a deploy reads from a real host, as canned responses for @fake plan tests.

    python tests/plan/capture_facts.py INVENTORY OUTPUT.json [--note "..."]

Runs the deploy for real against the inventory's host and records every fact command with the
output the host gave, at the moment the deploy asked. (A dry run is not enough: pyinfra stops
each operation at its first command when detecting changes, so later facts are never asked.)
The JSON is what `fakehost.run_deploy` replays.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from datetime import date
from pathlib import Path

RECORDER = r"""
import json, sys
import pyinfra.api.facts as facts
from pyinfra.connectors.ssh import SSHConnector
recorded, in_fact = {}, [False]
original_get_fact, original_run = facts._get_fact, SSHConnector.run_shell_command
def get_fact(*args, **kwargs):
    in_fact[0] = True
    try:
        return original_get_fact(*args, **kwargs)
    finally:
        in_fact[0] = False
def run(self, command, *args, **kwargs):
    ok, output = original_run(self, command, *args, **kwargs)
    if in_fact[0]:
        text = command if isinstance(command, str) else command.get_masked_value()
        # The first answer is the host as it was before the deploy touched it.
        recorded.setdefault(text, {"success": ok, "stdout": output.stdout_lines,
                                   "stderr": output.stderr_lines})
    return ok, output
facts._get_fact, SSHConnector.run_shell_command = get_fact, run
import atexit
destination = sys.argv.pop()
atexit.register(lambda: open(destination, "w").write(json.dumps(recorded)))
from pyinfra_cli.main import main
sys.exit(main())
"""


def capture(inventory: str, deploy: str) -> dict:
    scratch = Path(".facts-capture.json")
    subprocess.run([sys.executable, "-c", RECORDER, "-y", inventory, deploy, str(scratch)],
                   check=True)
    recorded = json.loads(scratch.read_text())
    scratch.unlink()
    return recorded


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("inventory")
    parser.add_argument("output")
    parser.add_argument("--deploy", default="deploys/glm52.py")
    parser.add_argument("--note", default="", help="what host this was and in which state")
    parser.add_argument("--serve-lab-models", action="store_true",
                        help="serve the lab's tiny model to the node while capturing")
    args = parser.parse_args()
    if args.serve_lab_models:
        from glmstack.lab.lab import LabPaths
        from glmstack.lab.profile import MODEL_PORT, models_dir
        from glmstack.lab.serve import serve_directory

        with serve_directory(models_dir(LabPaths.from_env()), port=MODEL_PORT):
            responses = capture(args.inventory, args.deploy)
    else:
        responses = capture(args.inventory, args.deploy)
    fixture = {"captured": date.today().isoformat(), "note": args.note, "responses": responses}
    Path(args.output).write_text(json.dumps(fixture, indent=2, sort_keys=True) + "\n")
    print(f"{len(responses)} fact commands recorded in {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
