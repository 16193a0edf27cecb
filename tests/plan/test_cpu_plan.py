"""Plan tests: what deploys/glm52.py does on a CPU host, replayed from facts captured on real hosts.

The fixtures in facts/ were recorded by capture_facts.py from a lab node (Debian 12, booted with
systemd-nspawn): `debian12-fresh` before the first deploy, `debian12-converged` after it.
Variants below change one captured answer and say which.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from fakehost import run_deploy
from plan_data import PLAN_DATA

from glmstack.catalog import load_catalog
from glmstack.config import resolve
from roles.model import fetch_script, weights_unit_text

FACTS = Path(__file__).resolve().parent / "facts"
DETECT_VIRT = "systemd-detect-virt --container"
HEALTH_PROBE = "curl --silent --output /dev/null --max-time 5"
UNIT_SUBSTATE = "--property SubState llama-server.service"
RUNNING_FINGERPRINT = "GLMSTACK_DEPLOYED="
OS_RELEASE = "*-release"
ARCH = "uname -m"
DPKG_LIST = "dpkg -l"
SLES_OS_RELEASE = [  # /etc/os-release as SLES 15 SP6 ships it
    "/etc/os-release", 'NAME="SLES"', 'VERSION="15-SP6"', 'ID="sles"', 'ID_LIKE="suse"',
    'VERSION_ID="15.6"', 'PRETTY_NAME="SUSE Linux Enterprise Server 15 SP6"', "---",
]
NEEDS_RELOAD = "--property NeedDaemonReload"
RUNNING_KEY_ID = '"^"GLMSTACK_API_KEY_ID='
API_KEY_STATE = "[ -s /etc/glmstack/llama-server.api-key ]"


def captured(name: str) -> dict:
    return json.loads((FACTS / f"{name}.json").read_text())["responses"]


def answer(responses: dict, fragment: str, stdout: list[str]) -> dict:
    """The captured responses with the answer to the one command containing `fragment` replaced."""
    matches = [command for command in responses if fragment in command]
    assert len(matches) == 1, f"{fragment!r} matches {len(matches)} captured commands"
    return {**responses, matches[0]: {"success": True, "stdout": stdout, "stderr": []}}


def deploy(responses: dict, **data_changes):
    return run_deploy({**PLAN_DATA, **data_changes}, responses)


def new_commands(run, responses: dict) -> list[str]:
    """Commands the deploy ran that are not fact reads."""
    return [command for command in run.commands if command not in responses]


# A fresh Debian 12 host


@pytest.fixture(scope="module")
def fresh():
    responses = captured("debian12-fresh")
    return responses, deploy(responses)


def test_fresh_host_gets_every_step_in_order(fresh):
    responses, run = fresh
    commands = new_commands(run, responses)
    order = [
        "groupadd -r glmstack",
        "useradd -d /var/lib/glmstack -s /usr/sbin/nologin -g glmstack -r -M glmstack",
        "systemctl start --no-block glmstack-weights-glm-5.2-gguf.service",
        "apt-get update",
        "install --no-install-recommends build-essential cmake git ccache pkg-config",
        "cmake --build /opt/glmstack/build/",
        "echo state=$(systemctl is-active glmstack-weights-glm-5.2-gguf.service)",
        "head -c 32 /dev/urandom",
        "GLMSTACK_API_KEY_ID=%s",
        "systemctl start llama-server.service",
        "systemctl enable llama-server.service",
        "curl -fsS --max-time 5 -o /dev/null http://127.0.0.1:8080/health",
    ]
    positions = []
    for fragment in order:
        hits = [i for i, command in enumerate(commands) if fragment in command]
        assert hits, f"the fresh deploy never ran {fragment!r}"
        positions.append(hits[0])
    assert positions == sorted(positions), list(zip(order, positions, strict=True))


def test_fresh_host_builds_the_catalog_pin_from_git(fresh):
    responses, run = fresh
    pin = load_catalog().engines["llama.cpp"].version
    build = next(command for command in new_commands(run, responses) if "cmake --build" in command)
    assert f"fetch -q --depth 1 https://github.com/ggml-org/llama.cpp.git {pin}" in build
    # Built beside, then moved into place: an interrupted build never looks finished.
    assert build.index("cmake --build") < build.rindex("BUILD-INFO") < build.rindex("mv /opt/glmstack/llama.cpp/")
    # A build left running by a killed deploy is waited for, and its result kept.
    assert build.index("flock 9") < build.index("rm -rf")


def test_fresh_host_marks_weights_ready_only_after_verifying():
    fetch = fetch_script(resolve("n", PLAN_DATA))
    digest = PLAN_DATA["model_files"]["glm-5.2-tiny-test.gguf"]
    assert f"listing() {{ printf '%s %s\\n' glm-5.2-tiny-test.gguf {digest}; }}" in fetch  # what the fetches read
    assert "--continue-at -" in fetch  # an interrupted download resumes
    assert "openssl dgst -sha256" in fetch  # hashed with the CPU's SHA instructions
    assert fetch.index('if [ "$got" != "$2" ]') < fetch.rindex("glm-5.2-gguf.ready.files") < fetch.rindex(
        "> /var/lib/glmstack/models/glm-5.2-gguf.ready")
    assert "--speed-limit 1024 --speed-time 60" in fetch  # a stalled transfer gives up, never hangs
    assert '-ge 4 ]; do wait -n' in fetch  # four files at a time
    assert ('echo "$got $total $first $started $now" > '
            '/var/lib/glmstack/models/glm-5.2-gguf/.cache/glmstack/progress.new') in fetch


def test_fresh_host_fetches_weights_in_their_own_unit_while_the_engine_builds(fresh):
    responses, run = fresh
    run.assert_in_order(["systemctl start --no-block glmstack-weights-glm-5.2-gguf.service",
                         "cmake --build /opt/glmstack/build/",
                         "echo state=$(systemctl is-active glmstack-weights-glm-5.2-gguf.service)",
                         "systemctl start llama-server.service"])
    assert run.changed[run.changed.index("glmstack model | Start fetching glm-5.2-gguf") - 2:][:3] == [
        "glmstack model | Weights fetch script", "glmstack model | Weights unit",
        "glmstack model | Start fetching glm-5.2-gguf"]


def test_fresh_host_makes_its_own_api_key_into_root_only_files(fresh):
    responses, run = fresh
    commands = new_commands(run, responses)
    made = next(command for command in commands if "/dev/urandom" in command)
    assert made.startswith("umask 077;") and "> /etc/glmstack/llama-server.api-key.new" in made
    environment = next(command for command in commands if "GLMSTACK_API_KEY_ID=%s" in command)
    assert environment.startswith("umask 077;") and "LLAMA_API_KEY=%s" in environment
    assert environment.index("chown root:root") < environment.index("mv /etc/glmstack/llama-server.api-key.env.new")


def test_time_sync_is_left_to_the_container_host(fresh):
    responses, run = fresh
    assert "systemd-nspawn" in responses[next(c for c in responses if DETECT_VIRT in c)]["stdout"]
    assert not run.ran("systemd-timesyncd")


def test_bare_metal_host_gets_time_sync():
    # Variant: the captured fresh host, answering as bare metal does ("none").
    responses = answer(captured("debian12-fresh"), DETECT_VIRT, ["none"])
    run = deploy(responses)
    assert run.ran("install --no-install-recommends systemd-timesyncd")
    assert run.ran("systemctl enable systemd-timesyncd.service")


def test_bare_metal_host_with_chrony_keeps_it():
    # Variant: bare metal that already runs chrony; timesyncd would make apt remove it.
    responses = answer(captured("debian12-fresh"), DETECT_VIRT, ["none"])
    dpkg = next(command for command in responses if DPKG_LIST in command)
    listing = responses[dpkg]["stdout"] + ["ii  chrony         4.3-2+deb12u1  amd64  Versatile implementation of NTP"]
    responses = answer(responses, DPKG_LIST, listing)
    run = deploy(responses)
    assert not run.ran("systemd-timesyncd")


def test_unsupported_distribution_stops_before_any_change():
    from pyinfra.api.exceptions import PyinfraError

    responses = answer(captured("debian12-fresh"), OS_RELEASE, SLES_OS_RELEASE)
    with pytest.raises(PyinfraError) as error:
        deploy(responses)
    message = str(error.value.__cause__ or error.value)
    assert "host @fake/node1: SUSE Linux Enterprise Server 15 SP6 is not supported yet" in message
    assert "supported: Debian, Ubuntu, RedHat" in message


def test_unsupported_cpu_architecture_stops_before_any_change():
    from pyinfra.api.exceptions import PyinfraError

    responses = answer(captured("debian12-fresh"), ARCH, ["riscv64"])
    with pytest.raises(PyinfraError) as error:
        deploy(responses)
    assert "host @fake/node1: CPU architecture riscv64 cannot serve accelerator 'cpu'; allowed: x86_64, aarch64" in str(
        error.value.__cause__ or error.value)


def test_a_system_account_glmstack_did_not_create_is_never_made_the_service_user():
    from pyinfra.api.exceptions import PyinfraError

    responses = captured("debian12-fresh")
    users = next(command for command in responses if "cat /etc/passwd" in command)
    postgres = "postgres:x:105:110::/var/lib/postgresql:/bin/bash|postgres|postgres|postgres **Never logged in**|!"
    responses = answer(responses, users, [*responses[users]["stdout"], postgres])
    with pytest.raises(PyinfraError) as error:
        deploy(responses, base_service_user="postgres")
    message = str(error.value.__cause__ or error.value)
    assert ("host @fake/node1: field base_service_user: 'postgres' is an account of this host (uid 105, home "
            "/var/lib/postgresql) that glmstack did not create") in message


# A converged host


def test_converged_host_changes_nothing():
    run = deploy(captured("debian12-converged"))
    assert run.changed == []
    assert len(run.unchanged) > 10


def test_converged_host_with_its_engine_down_is_started_and_waited_for():
    # Variant: the unit is not running, so there is no engine process and no health answer.
    responses = captured("debian12-converged")
    responses = answer(responses, HEALTH_PROBE, ["000"])
    responses = answer(responses, UNIT_SUBSTATE, ["Id=llama-server.service", "SubState=dead"])
    responses = answer(responses, RUNNING_FINGERPRINT, [])
    run = deploy(responses)
    assert run.changed == ["glmstack service | Run llama-server",
                           "glmstack service | Wait for llama-server to be healthy"]
    assert run.ran("systemctl start llama-server.service")


def test_new_weights_restart_the_engine():
    # Same host, but the operator pinned different bytes for the model file.
    run = deploy(captured("debian12-converged"), model_files={"glm-5.2-tiny-test.gguf": "0" * 64})
    assert run.changed == ["glmstack model | Keep glm-5.2-gguf's verified weights until the change is ready",
                           "glmstack model | Weights fetch script",
                           "glmstack model | Start fetching glm-5.2-gguf",
                           "glmstack model | Wait for glm-5.2-gguf to be fetched and verified",
                           # What runs is kept until the changed engine is ready (its rollback).
                           "glmstack service | Keep llama-server's running configuration until the change is ready",
                           "glmstack service | Engine unit",
                           "glmstack service | Run llama-server",  # systemd reloads the new unit
                           "glmstack service | Restart llama-server in turn, ready before the next"]
    run.assert_in_order(["systemctl daemon-reload",
                         "systemctl start --no-block glmstack-weights-glm-5.2-gguf.service",
                         "echo state=$(systemctl is-active glmstack-weights-",
                         "systemctl restart llama-server.service",
                         # The restart waits for health itself: the next host restarts only then.
                         "curl -fsS --max-time 5 -o /dev/null http://127.0.0.1:8080/health"])
    fetch = fetch_script(resolve("n", {**PLAN_DATA, "model_files": {"glm-5.2-tiny-test.gguf": "0" * 64}}))
    # The stale marker goes before the fetch (as root, in the unit's prepare step), the fetch holds
    # the lock, and the new marker is written only after it (as root, in the finish step).
    assert fetch.index("rm -f /var/lib/glmstack/models/glm-5.2-gguf.ready") < fetch.index("flock 9") < fetch.index(
        'fetch "$name" "$digest"') < fetch.index("> /var/lib/glmstack/models/glm-5.2-gguf.ready\n")


def test_weights_changed_on_the_host_since_they_were_verified_are_fetched_again():
    # Variant: a file's size or mtime differs from what was recorded when it was verified.
    responses = captured("debian12-converged")
    state = next(command for command in responses
                 if command.startswith("cat /var/lib/glmstack/models/glm-5.2-gguf.ready"))
    stdout = responses[state]["stdout"]
    responses = answer(responses, state[:60], [*stdout[:-1], "f" * 64])
    run = deploy(responses)
    assert run.changed == ["glmstack model | Start fetching glm-5.2-gguf",
                           "glmstack model | Wait for glm-5.2-gguf to be fetched and verified",
                           "glmstack service | Restart llama-server in turn, ready before the next"]
    # The engine may have loaded the bad bytes: it restarts on the repaired files.
    assert run.index_of("echo state=$(systemctl is-active") < run.index_of("systemctl restart llama-server.service")


def test_run_interrupted_before_the_restart_is_completed_by_the_next_run():
    # Variant: the new unit is on disk but systemd and the engine still run the old one.
    responses = answer(captured("debian12-converged"), RUNNING_FINGERPRINT, ["running", "GLMSTACK_DEPLOYED=0ld"])
    responses = answer(responses, NEEDS_RELOAD, ["yes"])
    run = deploy(responses)
    # The keep runs, but the host keeps nothing: the unit on disk is not what runs (keep-running.sh.j2).
    assert run.changed == ["glmstack service | Keep llama-server's running configuration until the change is ready",
                           "glmstack service | Run llama-server",
                           "glmstack service | Restart llama-server in turn, ready before the next"]
    assert run.index_of("systemctl daemon-reload") < run.index_of("systemctl restart llama-server.service")


def test_engine_started_by_an_older_unit_without_a_fingerprint_is_restarted():
    responses = answer(captured("debian12-converged"), RUNNING_FINGERPRINT, ["running"])
    run = deploy(responses)
    assert run.ran("systemctl restart llama-server.service")
    assert not run.ran("systemctl daemon-reload")


def test_new_llamacpp_pin_builds_beside_the_old_and_switches_the_unit():
    run = deploy(captured("debian12-converged"), llamacpp_version="b9999")
    assert any(name.startswith("glmstack llama.cpp | Build llama-server b9999-cpu-") for name in run.changed)
    assert "glmstack service | Engine unit" in run.changed
    assert run.ran("systemctl daemon-reload") and run.ran("systemctl restart llama-server.service")
    assert not run.ran("rm -rf /opt/glmstack/llama.cpp/0c1e57098bba-cpu")  # the old build stays


def test_engine_running_with_another_api_key_is_restarted():
    # Variant: a run was cut off after a new key was written, before the engine was restarted.
    responses = answer(captured("debian12-converged"), RUNNING_KEY_ID, ["running", "GLMSTACK_API_KEY_ID=0ld"])
    run = deploy(responses)
    assert run.changed == ["glmstack service | Restart llama-server in turn, ready before the next"]
    assert run.ran("systemctl restart llama-server.service")


def test_api_key_environment_that_lost_its_key_is_rewritten_and_the_engine_restarted():
    key_id = captured("debian12-converged")[next(c for c in captured("debian12-converged") if API_KEY_STATE in c)]
    responses = answer(captured("debian12-converged"), API_KEY_STATE, key_id["stdout"][:1])  # not "current"
    run = deploy(responses)
    assert run.changed == ["glmstack service | Engine API key environment (0600, root only)",
                           "glmstack service | Restart llama-server in turn, ready before the next"]


def test_operator_api_key_is_uploaded_never_shown_and_restarts_the_engine(tmp_path):
    key = tmp_path / "api-key"
    key.write_text("operator-key-not-in-any-command-0123456789\n")
    key.chmod(0o600)
    run = deploy(captured("debian12-converged"), service_api_key_file=str(key))
    assert run.changed == ["glmstack service | Engine API key (0600, root only)",
                           "glmstack service | Engine API key environment (0600, root only)",
                           "glmstack service | Restart llama-server in turn, ready before the next"]
    # The file is root-only before the key is written into it.
    run.assert_in_order(["install -m 600 -o root -g root /dev/null /etc/glmstack/llama-server.api-key",
                         "mv /etc/glmstack/llama-server.api-key.env.new", "systemctl restart llama-server.service"])
    assert all("operator-key-not" not in command for command in run.commands)


def test_engine_on_loopback_only_gets_no_api_key():
    run = deploy(captured("debian12-converged"), service_bind_host="127.0.0.1")
    assert not run.ran("/dev/urandom") and not run.ran("GLMSTACK_API_KEY_ID=%s")
    assert "glmstack service | Engine unit" in run.changed  # the key's EnvironmentFile line goes


# Other sources and bad data on the same host


def test_hub_source_keeps_the_token_out_of_commands(tmp_path):
    token = tmp_path / "hf-token"
    token.write_text("hf_not_a_real_token_1234")
    os.chmod(token, 0o600)
    revision = "a" * 40
    hub = {"model_source": "hf://unsloth/GLM-5.2-GGUF", "model_revision": revision, "model_files": {},
           "model_entry": "UD-IQ2_XXS/GLM-5.2-UD-IQ2_XXS-00001-of-00005.gguf", "model_hf_token_file": str(token),
           "model_hf_endpoint": "http://hub.lab.example:8080", "model_exclude": ["*.md"]}
    run = deploy(captured("debian12-converged"), **hub)
    assert run.changed[:5] == ["glmstack model | Keep glm-5.2-gguf's verified weights until the change is ready",
                               "glmstack model | Python for the hub client",
                               "glmstack model | Hub token (0600, root only)",
                               "glmstack model | Hub download checker", "glmstack model | Weights fetch script"]
    script = fetch_script(resolve("n", {**PLAN_DATA, **hub}))
    # The token reaches the client as the unit's credential (systemd reads the root-only file).
    assert "export HF_HUB_DISABLE_TELEMETRY=1 HF_ENDPOINT=http://hub.lab.example:8080 " \
           'HF_TOKEN_PATH="$CREDENTIALS_DIRECTORY"/hf-token' in script
    assert "\nLoadCredential=hf-token:/etc/glmstack/hf-token\n" in weights_unit_text(resolve("n", {**PLAN_DATA, **hub}))
    assert re.search(rf"\S+/venvs/hf/bin/hf download unsloth/GLM-5.2-GGUF --revision {revision} "
                     rf"--include 'UD-IQ2_XXS/\*' --exclude '\*.md' --local-dir", script)
    # Checked against the hub's sums after the download, and downloaded once more if a file is bad.
    assert re.search(r"hf download .*&& \S+/bin/python /opt/glmstack/lib/verify_hub.py verify .* \|\| "
                     r"\{ \S+/hf download .*&& \S+/python \S+/verify_hub.py verify", script)
    assert all("hf_not_a_real_token_1234" not in command for command in run.commands)
    assert "hf_not_a_real_token_1234" not in script
    assert "uv pip install --quiet --python /opt/glmstack/venvs/hf/bin/python huggingface_hub==" in script


def test_modelscope_source_uses_its_own_client_and_keeps_the_token_out_of_commands(tmp_path):
    token = tmp_path / "modelscope-token"
    token.write_text("ms-not-a-real-token-5678")
    os.chmod(token, 0o600)
    revision = "b" * 40
    source = {"model_source": f"modelscope://Eco-Tech/GLM-5.2-w8a8@{revision}", "model_files": {},
              "model_entry": "model.gguf", "model_modelscope_token_file": str(token),
              "model_modelscope_endpoint": "http://ms.lab.example:8080/", "model_include": ["*.gguf", "*.json"],
              "model_download_jobs": 6}
    run = deploy(captured("debian12-converged"), **source)
    assert run.changed[:5] == ["glmstack model | Keep glm-5.2-gguf's verified weights until the change is ready",
                               "glmstack model | Python for the hub client",
                               "glmstack model | Hub token (0600, root only)",
                               "glmstack model | Hub download checker", "glmstack model | Weights fetch script"]
    script = fetch_script(resolve("n", {**PLAN_DATA, **source}))
    assert "export MODELSCOPE_ENDPOINT=http://ms.lab.example:8080\n" in script
    assert 'MODELSCOPE_API_TOKEN="$(cat "$CREDENTIALS_DIRECTORY"/modelscope-token)"; export MODELSCOPE_API_TOKEN' \
        in script
    assert "\nLoadCredential=modelscope-token:/etc/glmstack/modelscope-token\n" in weights_unit_text(
        resolve("n", {**PLAN_DATA, **source}))
    assert re.search(rf"\S+/venvs/modelscope/bin/modelscope download Eco-Tech/GLM-5.2-w8a8 --revision {revision} "
                     r"--include '\*.gguf' --include '\*.json' --local-dir \"\$dir\" --max-workers 6 && "
                     r"\S+/venvs/modelscope/bin/python /opt/glmstack/lib/verify_hub.py verify .* --source modelscope "
                     r"\|\| \{ \S+/modelscope download .* --source modelscope; \}", script)
    assert "uv pip install --quiet --python /opt/glmstack/venvs/modelscope/bin/python modelscope-hub==" in script
    assert "HF_" not in script
    assert all("ms-not-a-real-token-5678" not in command for command in run.commands)
    assert "ms-not-a-real-token-5678" not in script


def test_bad_host_data_stops_before_any_operation():
    from pyinfra.api.exceptions import PyinfraError

    with pytest.raises(PyinfraError) as error:
        deploy(captured("debian12-converged"), engine="vllm")
    assert "host @fake/node1: field engine: 'vllm' cannot run on accelerator 'cpu'; allowed: llama.cpp" in str(
        error.value.__cause__ or error.value)


def test_tarball_url_source_is_checked_before_it_is_unpacked():
    digest = "e" * 64
    run = deploy(captured("debian12-fresh"), llamacpp_source="https://mirror.lab.example/llama.cpp-b9000.tar.gz",
                 llamacpp_source_sha256=digest, llamacpp_version="b9000")
    build = next(command for command in run.commands if "cmake --build" in command)
    tarball = "/opt/glmstack/build/b9000-cpu-"
    assert build.index(f"curl -fsSL --retry 3 -o {tarball}") < build.index(f"echo '{digest}  {tarball}")
    assert build.index("sha256sum -c") < build.index("tar -xzf") < build.index("cmake -S")
    assert "git " not in build


PCI_LISTING = "for d in /sys/bus/pci/devices/*"


def hgx_h200_pci(gpus: int = 8) -> list[str]:
    """A constructed /sys/bus/pci listing of an HGX H200: GPUs 10de:2335 (3D controller, 0302) and
    NVSwitches 10de:22a3 (bridge, 0680), beside the captured host's own devices. Not captured."""
    return ([f"0000:{0x18 + i:02x}:00.0 0x030200 0x10de 0x2335" for i in range(gpus)]
            + [f"0000:{0x80 + i:02x}:00.0 0x068000 0x10de 0x22a3" for i in range(4)])


H200_DATA = {"accelerator": "h200", "model": "glm-5.2-fp8", "engine": "vllm"}


def test_gpu_group_on_a_host_without_gpus_stops_in_preflight():
    from pyinfra.api.exceptions import PyinfraError

    with pytest.raises(PyinfraError) as error:
        run_deploy(H200_DATA, captured("debian12-fresh"))
    assert ("host @fake/node1: accelerator 'h200' needs 8 nvidia devices (PCI vendor 10de, class 0302 or 0300); "
            "this host has 0") in str(error.value.__cause__ or error.value)


def test_gpu_group_short_of_gpus_stops_in_preflight():
    from pyinfra.api.exceptions import PyinfraError

    responses = {**captured("debian12-fresh"), PCI_LISTING: {"stdout": hgx_h200_pci(gpus=7)}}
    with pytest.raises(PyinfraError) as error:
        run_deploy(H200_DATA, responses)
    assert "this host has 7" in str(error.value.__cause__ or error.value)  # NVSwitches do not count


def test_ascend_without_a_package_set_is_refused_before_any_change():
    from pyinfra.api.exceptions import PyinfraError

    # A constructed Atlas 800 A3 listing: sixteen 19e5:d803 processing accelerators (class 1200).
    a3 = [f"0000:{0x10 + i:02x}:00.0 0x120000 0x19e5 0xd803" for i in range(16)]
    responses = answer({**captured("debian12-fresh"), PCI_LISTING: {"stdout": a3}}, ARCH, ["aarch64"])
    with pytest.raises(PyinfraError) as error:
        run_deploy({"accelerator": "ascend-a3", "model": "glm-5.2-w8a8", "engine": "vllm-ascend",
                    "model_revision": "0" * 40}, responses)
    assert ("host @fake/node1: field ascend_packages: Ascend's driver, firmware and CANN installers are "
            "login-gated downloads") in str(error.value.__cause__ or error.value)


def test_a_package_run_cut_off_earlier_is_finished_before_any_install():
    # Variant: dpkg was killed mid-way by an earlier, interrupted deploy (its updates/ is not empty).
    responses = {"pidof apt-get apt dpkg": {"stdout": ["interrupted"], "stderr": [], "success": True},
                 **captured("debian12-fresh")}
    run = deploy(responses)
    recover = next(i for i, c in enumerate(run.commands) if "dpkg --configure -a" in c)
    first_install = next(i for i, c in enumerate(run.commands)
                         if c.startswith("DEBIAN_FRONTEND=noninteractive apt-get -y"))
    assert recover < first_install
    assert "glmstack base | Finish an interrupted package run" in run.changed
    assert "glmstack base | Finish an interrupted package run" not in deploy(captured("debian12-fresh")).changed
