"""`glmstack client` against the lab's replica group (two llama.cpp replicas behind their gateways):
the settings it prints make ONE REAL REQUEST PER CLIENT FORM through the gateway, from this
machine as a client would: the OpenAI SDK snippet (each of seed 000's ways of answering, which
reach GLM's chat template: thinking first, or a plain answer), the curl command, the Anthropic
messages call, and Claude Code's environment (its base URL, token, CA and model, used by a
stand-in for `claude` that calls the messages endpoint as Claude Code does). The key is printed
only with --show-key; the CA certificate it writes is the one the gateway's TLS is verified with.

Set GLMSTACK_CLIENT_TRANSCRIPT=FILE to keep what ran and what came back (the key redacted): the
source of docs/clients.md's examples."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.lab

REDACTED = "<the API key>"


def run_client(inventory: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "glmstack.cli", "client", str(inventory), *args],
                          capture_output=True, text=True, timeout=300)


def the_key(form: str) -> str:
    line = next(line for line in form.splitlines() if line.startswith("export GLMSTACK_API_KEY="))
    return shlex.split(line)[1].split("=", 1)[1]


class Transcript:
    def __init__(self, key: str):
        self.key, self.parts = key, []

    def add(self, title: str, command: str, output: str) -> None:
        self.parts.append(f"## {title}\n$ {command}\n{output.rstrip()}\n")
        print(self.parts[-1].replace(self.key, REDACTED))

    def write(self) -> None:
        target = os.environ.get("GLMSTACK_CLIENT_TRANSCRIPT")
        if target:
            Path(target).write_text("\n".join(self.parts).replace(self.key, REDACTED))


def bash(script: str, env: dict | None = None) -> str:
    run = subprocess.run(["bash", "-e", "-o", "pipefail"], input=script, capture_output=True, text=True,
                         timeout=300, env=env)
    assert run.returncode == 0, run.stderr + run.stdout
    return run.stdout


def test_every_client_form_makes_a_real_request_through_the_gateway(front_door, tmp_path):
    inventory = front_door.inventory
    shown = run_client(inventory, "--show-key", "--json", "--ca-dir", str(tmp_path), "--max-tokens", "16")
    assert shown.returncode == 0, shown.stderr
    [endpoint] = json.loads(shown.stdout)["endpoints"]  # one block for the replica group
    forms = endpoint["forms"]
    key = the_key(forms["curl"])
    transcript = Transcript(key)
    assert len(key) >= 16 and key != REDACTED
    assert sorted(endpoint["members"]) == sorted(front_door.addresses)
    assert key == front_door.keys[endpoint["host"]]  # the key of the gateway the block points at
    if endpoint["ca_file"]:  # behind the gateway: TLS with the host-made CA, written where asked
        assert endpoint["base_url"].startswith("https://")
        ca = Path(endpoint["ca_file"])
        assert ca.parent == tmp_path and ca.read_text() == front_door.ca_files[endpoint["host"]].read_text()
    printed = run_client(inventory, "--ca-dir", str(tmp_path), "--max-tokens", "16")
    assert printed.returncode == 0 and key not in printed.stdout + printed.stderr
    transcript.add("glmstack client (without --show-key)",
                   f"glmstack client {inventory} --ca-dir {tmp_path} --max-tokens 16",
                   printed.stdout + printed.stderr)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "NODE_EXTRA_CA_CERTS",
                                                                      "SSL_CERT", "GLMSTACK_API_KEY"))}

    # OpenAI SDK: every way of answering, through the chat template's kwargs.
    script = tmp_path / "openai_client.py"
    script.write_text(forms["openai"])
    python = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                            env={**clean, "GLMSTACK_API_KEY": key})
    assert python.returncode == 0, python.stderr
    transcript.add("OpenAI SDK", "GLMSTACK_API_KEY=... python3 openai_client.py  # the OpenAI SDK form",
                   python.stdout)
    replies = {line.split(" ", 1)[0]: json.loads(line.split(" ", 1)[1]) for line in python.stdout.splitlines()}
    assert list(replies) == ["think-max", "think-high", "plain"]
    for mode in ("think-max", "think-high"):  # GLM's template opens <think>: the text is reasoning
        assert replies[mode].get("reasoning_content", "").strip(), replies[mode]
    assert replies["plain"]["content"].strip() and not replies["plain"].get("reasoning_content"), replies["plain"]

    # curl: a plain answer.
    answer = json.loads(bash(forms["curl"], clean))
    transcript.add("curl", "bash -e -o pipefail < curl-form.sh", json.dumps(answer, indent=2))
    message = answer["choices"][0]["message"]
    assert message["content"].strip() and not message.get("reasoning_content"), message
    assert answer["model"] == endpoint["model"]

    # The Anthropic-compatible messages endpoint (llama.cpp's pinned tree has one).
    assert endpoint["messages"] and endpoint["messages"]["path"] == "/v1/messages"
    reply = json.loads(bash(forms["messages"], clean))
    transcript.add("Anthropic messages", "bash -e -o pipefail < messages-form.sh", json.dumps(reply, indent=2))
    assert reply["type"] == "message" and reply["role"] == "assistant"
    assert [block["type"] for block in reply["content"]] == ["text"] and reply["content"][0]["text"].strip()

    # Claude Code's environment, used by a stand-in for `claude` that calls the messages endpoint
    # with exactly what Claude Code takes from it (Bearer token, CA file, base URL, model).
    stand_in = r'''claude() {
  printf 'header = "Authorization: Bearer %s"\n' "$ANTHROPIC_AUTH_TOKEN" |
    curl --config - -sS --fail-with-body ${NODE_EXTRA_CA_CERTS:+--cacert "$NODE_EXTRA_CA_CERTS"} \
      "$ANTHROPIC_BASE_URL/v1/messages" \
      -H 'Content-Type: application/json' -H 'anthropic-version: 2023-06-01' \
      -d "{\"model\": \"$ANTHROPIC_MODEL\", \"max_tokens\": 16,
           \"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}"
}
'''
    reply = json.loads(bash(stand_in + forms["claude-code"], clean))
    transcript.add("Claude Code's environment (stand-in `claude`)",
                   "bash -e -o pipefail < stand-in-claude-then-claude-code-form.sh", json.dumps(reply, indent=2))
    assert reply["type"] == "message" and reply["model"] == endpoint["model"]
    transcript.write()


def test_a_host_that_is_not_in_the_inventory_is_one_line(front_door):
    run = run_client(front_door.inventory, "nosuch", "--offline")
    assert run.returncode == 1 and run.stderr.strip().startswith("host nosuch: field HOST: is not in")
    assert "\n" not in run.stderr.strip()
