"""End to end on a lab node: deploy the CPU profile, check it with testinfra, deploy again: no change."""

from __future__ import annotations

import json
import re
import secrets
import shlex
import time
import urllib.error
import urllib.request

import pytest

from glmstack.config import resolve
from glmstack.drift import check_drift
from glmstack.lab import lab, leaks
from glmstack.lab.profile import MODEL_PORT, cpu_profile_data, models_dir, run_deploy, run_infra_checks
from glmstack.lab.serve import serve_directory
from glmstack.render import render_unit, unit_paths
from roles.service.operations import curl_as_client

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def lab_node():
    paths = lab.LabPaths.from_env()
    lab.down(paths)  # a lab left behind by an interrupted run must not leak into this one
    try:
        node = lab.up(1, paths)[0]
        data = cpu_profile_data(paths, gateway=False)
        inventory = lab.write_inventory(paths, extra_data=data)
        yield {"paths": paths, "node": node, "inventory": inventory, "data": data}
    finally:
        lab.down(paths)


@pytest.fixture(scope="module")
def first_deploy(lab_node):
    with serve_directory(models_dir(lab_node["paths"]), port=MODEL_PORT):
        return run_deploy(lab_node["inventory"])


def test_first_deploy_succeeds(first_deploy):
    assert first_deploy.returncode == 0, first_deploy.stderr[-4000:]
    assert not first_deploy.failed_operations
    changed = first_deploy.changed_operations
    for step in ("glmstack llama.cpp | Build llama-server", "glmstack model | Start fetching glm-5.2-gguf",
                 "glmstack service | Run llama-server"):
        assert any(name.startswith(step) for name in changed), f"{step} did not run: {changed}"


def test_testinfra_checks_pass(lab_node, first_deploy):
    assert first_deploy.returncode == 0
    node = lab_node["node"]
    assert run_infra_checks(lab_node["inventory"], lab_node["paths"], [node["address"]]) == 0


def test_second_deploy_changes_nothing(lab_node, first_deploy):
    assert first_deploy.returncode == 0
    # No model server this time: a converged node must not need to fetch anything.
    second = run_deploy(lab_node["inventory"])
    assert second.returncode == 0, second.stderr[-4000:]
    assert second.results["totals"]["success"] == 0, f"changed on rerun: {second.changed_operations}"
    assert second.results["totals"]["no_change"] > 0


def node_host(lab_node):
    return lab.node_connection(lab_node["node"]["address"], lab_node["paths"])


def test_engine_restarted_by_systemd_after_a_crash(lab_node, first_deploy):
    assert first_deploy.returncode == 0
    host = node_host(lab_node)
    plan = resolve(lab_node["node"]["address"], lab_node["data"])
    unit = f"{plan.unit_name}.service"
    before = host.check_output(f"systemctl show -p MainPID --value {unit}")
    host.run_expect([0], f"kill -9 {before}")
    host.run_expect([0], f"for i in $(seq 60); do curl -fs -o /dev/null {plan.health_url} "
                         "&& exit 0; sleep 1; done; exit 1")
    after = host.check_output(f"systemctl show -p MainPID --value {unit}")
    assert after not in ("0", before)


def test_rerun_completes_a_run_interrupted_before_its_restart(lab_node, first_deploy, tmp_path):
    assert first_deploy.returncode == 0
    host = node_host(lab_node)
    renamed = {**lab_node["data"], "served_model_name": "glm-5.2-renamed"}
    plan = resolve(lab_node["node"]["address"], renamed)
    # What a run killed between writing the unit and restarting leaves: new unit, old engine.
    host.run_expect([0], f"cat > {unit_paths(plan)['unit']} <<'UNIT'\n{render_unit(plan)}UNIT")
    inventory = lab.write_inventory(lab_node["paths"], extra_data=renamed, output=tmp_path / "renamed.py")

    rerun = run_deploy(inventory)

    assert rerun.returncode == 0, rerun.stderr[-4000:]
    assert "glmstack service | Engine unit" not in rerun.changed_operations  # already on disk
    assert "glmstack service | Run llama-server" in rerun.changed_operations
    served = host.check_output(curl_as_client(plan, f"http://127.0.0.1:{plan.port}/v1/models"))
    assert '"id":"glm-5.2-renamed"' in served.replace(" ", "")


def status_from_the_network(plan, address: str, key: str | None) -> int:
    """What a client elsewhere on the network gets for /v1/models (the key stays in this process)."""
    request = urllib.request.Request(f"http://{address}:{plan.port}/v1/models")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_api_key_is_required_and_never_leaks(lab_node, first_deploy, tmp_path):
    """The key made on the node, then one the operator gives: each is needed by clients on the
    network, and neither appears in the process list (sampled all through a deploy), the unit
    files, the journal, or pyinfra's output at its most talkative (--diff -vvv)."""
    assert first_deploy.returncode == 0
    host, address = node_host(lab_node), lab_node["node"]["address"]
    plan = resolve(address, lab_node["data"])
    made = host.file(plan.api_key.key_file).content_string.strip()
    assert status_from_the_network(plan, address, None) == 401
    assert status_from_the_network(plan, address, made) == 200

    given = tmp_path / "api-key"
    given.write_text(secrets.token_urlsafe(32) + "\n")
    given.chmod(0o600)
    operator_key = given.read_text().strip()
    data = {**lab_node["data"], "service_api_key_file": str(given)}
    inventory = lab.write_inventory(lab_node["paths"], extra_data=data, output=tmp_path / "operator-key.py")
    with leaks.process_samples(host):
        runs = [run_deploy(inventory, options=("--diff", "-vvv")) for _ in range(2)]
    assert runs[0].returncode == 0, runs[0].stderr[-4000:]
    assert "glmstack service | Run llama-server" in runs[0].changed_operations  # restarted with the new key
    assert runs[1].results["totals"]["success"] == 0, runs[1].changed_operations
    assert status_from_the_network(plan, address, operator_key) == 200
    assert status_from_the_network(plan, address, made) == 401

    places = leaks.places(host, [f"{plan.unit_name}.service"],
                          [run.stdout + run.stderr for run in [first_deploy, *runs]])
    assert "llama-server" in places["process list"] and "llama-server" in places["journal"]
    leaks.assert_absent({"the made key": made, "the operator's key": operator_key}, places)
    for path in (plan.api_key.key_file, plan.api_key.env_file):
        assert (host.file(path).user, host.file(path).mode) == ("root", 0o600), path


def test_engine_unit_exposure_is_low(lab_node, first_deploy):
    assert first_deploy.returncode == 0
    host = node_host(lab_node)
    score = exposure(host, "llama-server.service")
    print(f"systemd-analyze security llama-server.service: {score}")
    assert score <= 3.0


# The accelerator groups' units, with the exposure measured on a lab node (docs/reliability.md). They cannot
# run here (no GPU or NPU), but systemd-analyze scores a unit from its settings alone.
# AF_NETLINK, which their collectives need (test_collectives_sandbox.py), took h200 and b200 from 3.0.
ACCELERATOR_UNITS = {
    "h200-vllm": ({"accelerator": "h200", "model": "glm-5.2-fp8", "engine": "vllm"}, 3.1),
    "b200-sglang": ({"accelerator": "b200", "model": "glm-5.2-fp8", "engine": "sglang",
                     "service_bind_host": "127.0.0.1"}, 3.1),
    "mi300x-vllm": ({"accelerator": "mi300x", "model": "glm-5.2-fp8", "engine": "vllm"}, 3.1),
    "ascend-a3-vllm-ascend": ({"accelerator": "ascend-a3", "model": "glm-5.2-w8a8", "engine": "vllm-ascend",
                               "model_revision": "1" * 40}, 3.1),
}


def exposure(host, unit: str) -> float:
    report = host.check_output(f"systemd-analyze security {unit} --no-pager")
    return float(re.search(rf"Overall exposure level for {re.escape(unit)}: ([\d.]+)", report).group(1))


@pytest.mark.parametrize("name", ACCELERATOR_UNITS)
def test_accelerator_engine_unit_exposure(lab_node, first_deploy, name):
    assert first_deploy.returncode == 0
    data, measured = ACCELERATOR_UNITS[name]
    host, unit = node_host(lab_node), f"glmstack-exposure-{name}.service"
    path = f"/etc/systemd/system/{unit}"
    host.run_expect([0], f"cat > {path} <<'UNIT'\n{render_unit(resolve('n', data))}UNIT\nsystemctl daemon-reload")
    try:
        score = exposure(host, unit)
    finally:
        host.run(f"rm -f {path}; systemctl daemon-reload")
    print(f"systemd-analyze security, {name} unit: {score}")
    assert score <= measured


def test_drift_check_is_quiet_on_a_converged_node_and_precise_on_a_drifted_one(lab_node, first_deploy, tmp_path):
    assert first_deploy.returncode == 0
    assert run_deploy(lab_node["inventory"]).returncode == 0  # earlier tests may have changed the node
    converged = check_drift(lab_node["inventory"])
    assert converged.exit_code == 0, converged.as_dict()
    assert [host.status for host in converged.hosts] == ["converged"]

    node = lab_node["node"]["address"]
    node_host(lab_node).run_expect([0], "echo 'TAMPERED=1' >> /etc/glmstack/llama-server.env")
    hosts = lab.inventory_hosts(lab_node["paths"], lab_node["data"])
    silent = "10.213.0.99"  # inside the lab's own subnet, where no node answers
    inventory = tmp_path / "with-a-silent-host.py"
    inventory.write_text("from glmstack.inventory import group\n"
                         f"nodes = group({[hosts[0], (silent, hosts[0][1])]!r})\n")

    drifted = check_drift(inventory)

    assert drifted.exit_code == 1
    by_host = {host.host: host for host in drifted.hosts}
    assert by_host[silent].status == "unreachable" and not by_host[silent].changes
    assert by_host[node].status == "drift"
    changes = {change["operation"]: change["would_run"] for change in by_host[node].changes}
    assert changes["glmstack service | Engine environment file"] == "upload /etc/glmstack/llama-server.env"
    assert "TAMPERED" not in str(drifted.as_dict())

    assert run_deploy(lab_node["inventory"]).returncode == 0
    assert check_drift(lab_node["inventory"]).exit_code == 0


def chat(host, plan, **request) -> dict:
    """The stand-in's reply to a short chat, asked on the node as a client would."""
    body = json.dumps({"model": plan.served_model_name, "messages": [{"role": "user", "content": "Say hello."}],
                       "max_tokens": 8, "temperature": 0, **request})
    url = f"http://127.0.0.1:{plan.port}/v1/chat/completions"
    options = f"-fsS --max-time 120 -H 'Content-Type: application/json' -d {shlex.quote(body)}"
    return json.loads(host.check_output(curl_as_client(plan, url, options)))["choices"][0]["message"]


def test_the_stand_in_model_thinks_first_as_glm_does(lab_node, first_deploy):
    """The stand-in GGUF carries GLM's chat template, so llama-server's reasoning handling runs:
    while the model thinks (8 tokens never reach </think>) content stays empty and the text is in
    reasoning_content, which the infra checks accept (an answer in content was all they took);
    asked for a plain answer (enable_thinking false), the text is the content."""
    assert first_deploy.returncode == 0
    host = node_host(lab_node)
    plan = resolve(lab_node["node"]["address"], lab_node["data"])
    prompt = json.loads(host.check_output(curl_as_client(
        plan, f"http://127.0.0.1:{plan.port}/apply-template",
        "-fsS --max-time 30 -H 'Content-Type: application/json' "
        "-d '{\"messages\": [{\"role\": \"user\", \"content\": \"Say hello.\"}]}'")))["prompt"]
    assert prompt.startswith("[gMASK]<sop>") and prompt.endswith("<|user|>Say hello.<|assistant|><think>")

    thinking = chat(host, plan)
    print(f"thinking on: {thinking}")
    assert not thinking.get("content") and thinking["reasoning_content"].strip()
    plain = chat(host, plan, chat_template_kwargs={"enable_thinking": False})
    print(f"thinking off: {plain}")
    assert plain["content"].strip() and not plain.get("reasoning_content")
    assert run_infra_checks(lab_node["inventory"], lab_node["paths"], [lab_node["node"]["address"]],
                            ["-k", "chat_completion"]) == 0


def test_an_engine_that_refuses_a_flag_fails_the_deploy_quickly_with_its_journal(lab_node, first_deploy, tmp_path):
    """llama-server exits at once on an unknown argument; systemd restarts it every
    service_restart_sec (Restart=on-failure), so the unit never reaches "failed". The deploy must
    fail on the first exit, naming the unit and showing its journal (without the API key), not
    wait out the engine's ready_timeout; run again without the flag, it converges."""
    assert first_deploy.returncode == 0
    host, address = node_host(lab_node), lab_node["node"]["address"]
    plan = resolve(address, lab_node["data"])
    key = host.file(plan.api_key.key_file).content_string.strip()
    data = {**lab_node["data"], "extra_flags": ["--glmstack-no-such-flag"]}
    inventory = lab.write_inventory(lab_node["paths"], extra_data=data, output=tmp_path / "refused-flag.py")

    started = time.monotonic()
    failed = run_deploy(inventory)
    seconds = time.monotonic() - started

    output = failed.stdout + failed.stderr
    report = output[output.find("llama-server.service: its process exited") - 200:]
    print(f"failed deploy: {seconds:.0f}s (ready_timeout {plan.ready_timeout}s)\n{report[:6000]}")
    assert failed.returncode != 0
    assert "llama-server.service: its process exited" in output
    assert "error: invalid argument: --glmstack-no-such-flag" in output  # llama-server's, from the journal
    assert "Main process exited" in output  # systemd's, from the same journal
    assert key not in output
    assert seconds < 60  # measured: 5 s; before, the wait ran out its ready_timeout (900 s)

    rerun = run_deploy(lab_node["inventory"])
    assert rerun.returncode == 0, rerun.stderr[-4000:]
    assert run_infra_checks(lab_node["inventory"], lab_node["paths"], [address]) == 0
