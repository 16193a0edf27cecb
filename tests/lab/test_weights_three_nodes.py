"""Weights downloaded once per lab: of three nodes, one fetches from the mirror and the other two
receive each file from it over the lab network as soon as it is verified, checked against the same
sums; when the fetching node fails, the others stop waiting and say so. The same node takes
llama.cpp's source once (the control machine uploads it to that node alone) and the others build
from its copy (roles/model/fanout.py); when that fails, all stop at once, naming it."""

from __future__ import annotations

import time

import pytest

from glmstack.config import resolve_inventory
from glmstack.lab import lab
from glmstack.lab.exposure import exposure
from glmstack.lab.profile import MODEL_PORT, TINY_MODEL, cpu_profile_data, models_dir, run_deploy
from glmstack.lab.serve import serve_directory
from roles.model.fanout import PACKAGES_UNIT, SHARE_UNIT
from roles.model.operations import ready_marker, share_unit, weights_unit

pytestmark = pytest.mark.lab


def test_three_nodes_get_the_weights_with_one_download_from_the_mirror(tmp_path):
    paths = lab.LabPaths.from_env()
    lab.down(paths)
    try:
        nodes = lab.up(3, paths)
        data = {**cpu_profile_data(paths, gateway=False), "model_fetch_from": nodes[0]["address"]}
        inventory = lab.write_inventory(paths, extra_data=data, output=tmp_path / "three.py")
        stats: dict = {}
        with serve_directory(models_dir(paths), port=MODEL_PORT, stats=stats):
            first = run_deploy(inventory)
        assert first.returncode == 0, first.stderr[-4000:]
        size = (models_dir(paths) / TINY_MODEL).stat().st_size
        assert stats["bytes_sent"] == size, "the mirror served more than one copy"
        seed = nodes[0]["address"]
        assert f"glmstack model | Pass glm-5.2-gguf on to {nodes[1]['address']}, {nodes[2]['address']}" \
            in first.changed_operations

        plans = {plan.host: plan for plan in resolve_inventory(lab.inventory_hosts(paths, data))}
        for node in nodes:
            host, plan = lab.node_connection(node["address"], paths), plans[node["address"]]
            assert host.file(f"{plan.model.directory}/{TINY_MODEL}").sha256sum == data["model_files"][TINY_MODEL]
            assert host.file(ready_marker(plan)).content_string.strip() == plan.model.fingerprint
            assert host.service(f"{plan.unit_name}.service").is_running
        seed_host = lab.node_connection(seed, paths)
        assert seed_host.run(f"systemctl is-active {share_unit(plans[seed])}").stdout.strip() != "active"

        # llama.cpp's source reached the control machine's uplink once: uploaded to the seed alone,
        # and every node (the seed too) took the seed's copy, by its sum, from the seed's server.
        assert "glmstack model | Upload llama.cpp source (once, for the group)" in first.changed_operations
        assert "glmstack llama.cpp | Upload llama.cpp source" not in first.changed_operations
        part = plans[seed].fanout.llamacpp.part
        served = seed_host.check_output(f"journalctl -u {SHARE_UNIT} --no-pager -o cat")
        for node in nodes:
            assert f'{node["address"]} - - ' in served and f'"GET /{part}/source.tar.gz HTTP/1.1" 200' in served, \
                served[-2000:]
            assert served.count(f'{node["address"]} - - ') >= 2  # its sum, then the source
        assert seed_host.run(f"systemctl is-active {SHARE_UNIT}").stdout.strip() != "active"
        assert seed_host.run(f"systemctl is-active {PACKAGES_UNIT}").stdout.strip() != "failed"
        for node in nodes[1:]:
            peer = lab.node_connection(node["address"], paths)
            assert not peer.file(plans[seed].fanout.root).exists  # nothing fetched on the peers
            assert peer.file(f"{plans[node['address']].llamacpp.install_dir}/bin/llama-server").exists

        # The weights units are sandboxed like the engine's: systemd's own score, on the nodes.
        receiver = lab.node_connection(nodes[1]["address"], paths)
        scores = {"engine": exposure(seed_host, f"{plans[seed].unit_name}.service"),
                  "weights (http mirror, passing on)": exposure(seed_host, weights_unit(plans[seed])),
                  "weights share": exposure(seed_host, share_unit(plans[seed])),
                  "weights (from the seed)": exposure(receiver, weights_unit(plans[nodes[1]["address"]]))}
        print("systemd-analyze security:", scores)
        assert all(score <= scores["engine"] + 0.5 for score in scores.values()), scores
        # The fetch ran as the weights user, not root; the engine can read the files, not change them.
        assert seed_host.file(f"{plans[seed].model.directory}/{TINY_MODEL}").user == "glmstack-weights"
        assert seed_host.file(f"{plans[seed].model.directory}/{TINY_MODEL}").mode == 0o640

        # Converged: nobody needs the weights, so nothing is served and nothing changes.
        again = run_deploy(inventory)
        assert again.returncode == 0 and again.results["totals"]["success"] == 0, again.changed_operations

        # The fetching node fails (the mirror's file does not match its sum, and so does llama.cpp's
        # source of another build): the receiving nodes stop waiting at once and say why, long
        # before their timeout, each naming it and what failed in one line.
        broken = {**data, "model_files": {TINY_MODEL: "0" * 64}, "model_fetch_from_timeout": 300,
                  "model_dir": "/var/lib/glmstack/models/broken", "llamacpp_source_sha256": "0" * 64,
                  "llamacpp_cmake_flags": ["-DGGML_RPC=OFF"]}
        inventory = lab.write_inventory(paths, extra_data=broken, output=tmp_path / "broken.py")
        started = time.monotonic()
        with serve_directory(models_dir(paths), port=MODEL_PORT):
            failed = run_deploy(inventory)
        elapsed = time.monotonic() - started
        assert failed.returncode != 0
        assert elapsed < 240, f"the deploy took {elapsed:.0f} s: the receiving nodes waited for their timeout"
        for node in nodes[1:]:
            line = (f"host {seed}: fetching llama.cpp's source {plans[seed].llamacpp.version} from "
                    f"{data['llamacpp_source']} failed (exit 1; journalctl -u {PACKAGES_UNIT}); {node['address']} "
                    "installs from it, so it stops too (rerun once it is fixed)")
            assert line in failed.stderr, failed.stderr[-4000:]
            journal, waited = "", 0
            while f"{seed} failed to fetch them" not in journal and waited < 60:  # its unit, in the background
                time.sleep(2 if journal else 0)
                waited += 2
                journal = lab.node_connection(node["address"], paths).check_output(
                    f"journalctl -u {weights_unit(plans[node['address']])} --no-pager -o cat")
            assert f"{seed} failed to fetch them" in journal, journal[-2000:]

        # The fetching node is out of reach (its sshd stopped; this connection stays) and the server
        # the failed fetch above left running serves other weights: the receiving nodes take nothing
        # from it, and their waits find the node among the run's failed hosts, stop, and say so.
        assert seed_host.run(f"systemctl is-active {share_unit(plans[seed])}").stdout.strip() == "active"
        seed_host.run_expect([0], "systemctl stop ssh.socket ssh.service")
        unreachable = {**data, "model_fetch_from_timeout": 300, "model_dir": "/var/lib/glmstack/models/third"}
        inventory = lab.write_inventory(paths, extra_data=unreachable, output=tmp_path / "unreachable.py")
        started = time.monotonic()
        with serve_directory(models_dir(paths), port=MODEL_PORT):
            failed = run_deploy(inventory)
        elapsed = time.monotonic() - started
        assert failed.returncode != 0 and elapsed < 240, f"{elapsed:.0f} s"
        assert failed.stderr.count(f"{seed} fetches the weights of glm-5.2-gguf for this host and failed") == 2, \
            failed.stderr[-4000:]
        third = {plan.host: plan for plan in resolve_inventory(lab.inventory_hosts(paths, unreachable))}
        for node in nodes[1:]:
            receiver, plan = lab.node_connection(node["address"], paths), third[node["address"]]
            assert receiver.run(f"systemctl is-active {weights_unit(plan)}").stdout.strip() != "active"
            assert receiver.run(f"cat {ready_marker(plan)}").stdout.strip() != plan.model.fingerprint
            assert not receiver.file(f"{plan.model.directory}/{TINY_MODEL}").exists
    finally:
        lab.down(paths)
