"""The service role's units as UnitSpecs: each field lands in the unit as systemd reads it, the
renderer goes by the spec and never by the unit's name, and the engine's, the RPC worker's and
Ray's specs each hold what their unit runs and nothing of the others'."""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import re
import subprocess
import tomllib

import pytest
from systemd_parse import parse_units

from glmstack import render as legacy
from glmstack.catalog import load_catalog
from glmstack.config import ray_environment, resolve_inventory
from glmstack.examples import recipe_hosts
from glmstack.paths import REPO_ROOT
from glmstack.quoting import Unrepresentable
from roles.service.operations import health_check, wait_script
from roles.service.render import (
    TEMPLATES,
    deployed_fingerprint,
    render_cluster_firewall,
    render_command,
    render_env_file,
    render_unit,
    rendered_files,
    start_wait_command,
    unit_paths,
)
from roles.service.units import (
    NODE_WAIT_SECONDS,
    AddressFilter,
    BoundTo,
    ClusterFirewall,
    Probe,
    StartWait,
    UnitSpec,
    as_unit_spec,
    engine_unit_spec,
    node_unit_specs,
    ray_unit_spec,
    rpc_worker_unit_spec,
    serving_unit_spec,
)

OTHER = "[Unit]\nDescription=another unit\n[Service]\nExecStart=/bin/true\n"

FULL = UnitSpec(
    name="probe-unit",
    description=(("glmstack ", None), ("odd 50% model", "served_model_name"), (" on ", None), ("x", "engine")),
    argv=("/opt/probe/bin/serve", "--flag", "two words", "100%", "$HOME"),
    environment={"HOME": "/var/st/home/probe-unit", "PROBE_A": "a \"quoted\" $value", "PROBE_B": "b"},
    environment_fields={"HOME": "base_state_dir", "PROBE_A": "extra_env", "PROBE_B": "environment"},
    user="svc-user", group="svc-group", config_dir="/etc/probe", state_dir="/var/st", restart_sec=17,
    address_families=("AF_UNIX", "AF_NETLINK"), probe=Probe("tcp", 7001, "10.0.0.2", ""), ready_timeout=42,
    supplementary_groups=("video", "render"), devices=("/dev/kfd", "/dev/dri"),
    hardening=(("MemoryDenyWriteExecute", "no"),), writable_paths=("/srv/writable",), cann_environment=True,
    firewall=ClusterFirewall(ports=("7000-7010", "7020"), peers=("10.0.0.1", "fd00::1"), address="10.0.0.2"),
    waits=(StartWait(why="First the peers.", endpoints=("10.0.0.1:7000", "[fd00::1]:7000"), failure="peer %s is down"),
           StartWait(why="Then a check of its own.", argv=("/usr/bin/probe-check", "--all"))),
    bound_to=BoundTo("other", ("Runs with the other unit.", "A second line.")),
    address_filter=AddressFilter(allow=("10.0.0.1", "localhost"), why=("Only the peer.",)),
    weights_fingerprint="w1",
)
BARE = UnitSpec(
    name="bare", description=(("bare unit", None),), argv=("/usr/bin/bare",), environment={"HOME": "/h"},
    environment_fields={"HOME": "base_state_dir"}, user="u", group="g", config_dir="/etc/b", state_dir="/var/b",
    restart_sec=10, address_families=("AF_UNIX",), probe=Probe("active", 1, "127.0.0.1", ""), ready_timeout=10,
)


def parsed(spec: UnitSpec):
    return parse_units({f"{spec.name}.service": render_unit(spec), "other.service": OTHER})[f"{spec.name}.service"]


def test_every_field_of_a_spec_lands_in_its_unit_as_systemd_reads_it():
    got, text = parsed(FULL), render_unit(FULL)
    paths = unit_paths(FULL)
    assert paths == {"unit": "/etc/systemd/system/probe-unit.service", "env_file": "/etc/probe/probe-unit.env",
                     "cann_env_file": "/etc/probe/probe-unit.cann.env", "firewall": "/etc/probe/probe-unit.nft",
                     "home": "/var/st/home/probe-unit"}
    assert got.settings["Description"] == ["glmstack odd 50% model on x"]
    assert got.argv("ExecStart") == [list(FULL.argv)]
    nft, wait, check = got.argv("ExecStartPre")
    assert nft == ["/usr/sbin/nft", "-f", paths["firewall"]] and check == ["/usr/bin/probe-check", "--all"]
    assert wait[:2] == ["/bin/bash", "-c"] and wait[2].startswith("for w in 10.0.0.1:7000 '[fd00::1]:7000'; do ")
    assert "printf 'peer %s is down\\n' \"$w\"" in wait[2]
    assert "# First the peers.\nExecStartPre=/bin/bash" in text and "# Then a check of its own.\n" in text
    assert got.settings["User"] == ["svc-user"] and got.settings["Group"] == ["svc-group"]
    assert got.settings["SupplementaryGroups"] == ["video render"]
    assert got.settings["EnvironmentFile"] == [paths["env_file"], paths["cann_env_file"]]
    assert got.settings["WorkingDirectory"] == [paths["home"]]
    assert got.settings["ReadWritePaths"] == [f"{paths['home']} /srv/writable"]
    assert got.settings["RestartSec"] == ["17s"]
    assert {"/dev/kfd rw", "/dev/dri rw"} <= set(got.settings["DeviceAllow"])
    assert got.settings["PrivateDevices"] == ["no"]
    assert "\nRestrictAddressFamilies=AF_UNIX AF_NETLINK\n" in text
    assert got.settings["MemoryDenyWriteExecute"] == ["no"]
    assert "other.service (origin-file)" in got.settings["Requires"]
    assert got.settings["PartOf"] == ["other.service (origin-file)"]
    assert "# Runs with the other unit.\n# A second line.\nRequires=other.service\n" in text
    assert set(got.settings["IPAddressDeny"]) == {"0.0.0.0/0", "::/0"}  # in systemd's own order
    assert set(got.settings["IPAddressAllow"]) == {"10.0.0.1/32", "127.0.0.0/8", "::1/128"}
    assert "# Only the peer.\nIPAddressDeny=any\n" in text
    assert got.settings["Environment"] == [f"GLMSTACK_DEPLOYED={deployed_fingerprint(FULL)}"]


def test_the_environment_file_and_the_firewall_hold_the_specs_values():
    env = render_env_file(FULL)
    assert env.splitlines()[1:] == ['HOME="/var/st/home/probe-unit"', 'PROBE_A="a \\"quoted\\" \\$value"',
                                    'PROBE_B="b"']
    rules = render_cluster_firewall(FULL)
    assert "table inet glmstack_probe_unit {" in rules
    assert "tcp dport { 7000-7010, 7020 } ip saddr { 10.0.0.1, 10.0.0.2, 127.0.0.0/8 } accept" in rules
    assert "tcp dport { 7000-7010, 7020 } ip6 saddr { ::1, fd00::1 } accept" in rules
    assert set(rendered_files(FULL)) == {unit_paths(FULL)[key] for key in ("unit", "env_file", "firewall")}
    # A value refused names the field the spec says it came from.
    bad = dataclasses.replace(FULL, environment={**FULL.environment, "PROBE_A": "x\ny"})
    with pytest.raises(Unrepresentable) as error:
        render_env_file(bad)
    assert error.value.field == "extra_env"
    with pytest.raises(Unrepresentable) as error:
        render_unit(dataclasses.replace(FULL, description=(("odd ", None), ("50%\\", "served_model_name"))))
    assert error.value.field == "served_model_name"


def test_a_spec_without_the_optional_parts_renders_none_of_them():
    got, text = parsed(BARE), render_unit(BARE)
    assert "ExecStartPre" not in text and "IPAddress" not in text and "PartOf" not in text
    assert got.settings["PrivateDevices"] == ["yes"] and "DeviceAllow=" not in text
    assert got.settings["EnvironmentFile"] == ["/etc/b/bare.env"]
    assert got.settings["ReadWritePaths"] == ["/var/b/home/bare"]
    assert "SupplementaryGroups=" not in text
    assert set(rendered_files(BARE)) == {"/etc/systemd/system/bare.service", "/etc/b/bare.env"}
    assert deployed_fingerprint(BARE) != deployed_fingerprint(dataclasses.replace(BARE, weights_fingerprint="w2"))


RAY_DATA = {"accelerator": "h100", "model": "glm-5.2-bf16", "engine": "vllm", "model_revision": "1" * 40,
            "deployment": "bf16", "network_interface": "ib0"}
RAY_NODES = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
RPC_DATA = {"accelerator": "cpu", "model": "glm-5.2-gguf", "engine": "llama.cpp", "model_revision": "1" * 40,
            "model_entry": "UD-IQ2_XXS/GLM-5.2-UD-IQ2_XXS-00001-of-00005.gguf", "recipe_variant": "rpc",
            "deployment": "rpc"}


@pytest.fixture(scope="module")
def trio():
    return resolve_inventory([(address, RAY_DATA) for address in RAY_NODES])


@pytest.fixture(scope="module")
def pair():
    return resolve_inventory([("10.0.0.1", RPC_DATA), ("10.0.0.2", RPC_DATA)])


def test_the_renderer_goes_by_the_spec_not_by_the_units_name(trio):
    """The old renderer took any unit named as the deployment's Ray unit for Ray's (and the others
    for the engine's): a spec renders as it says, whatever its name."""
    head = trio[0]
    engine, ray = engine_unit_spec(head), ray_unit_spec(head)
    as_ray_name = render_unit(dataclasses.replace(engine, name=ray.name))
    assert "Description=glmstack vllm serving glm-5.2-bf16 (recipe from seed" in as_ray_name
    assert f"ExecStart={head.serve_argv[0]} " in as_ray_name and "--expect " in as_ray_name
    as_engine_name = render_unit(dataclasses.replace(ray, name=engine.name))
    assert "Description=glmstack Ray head of deployment bf16 (vllm serving glm-5.2-bf16)" in as_engine_name
    assert "PartOf=" not in as_engine_name and "--expect" not in as_engine_name


def test_a_ray_units_spec_runs_ray_and_nothing_of_the_engines(trio):
    head, worker, _ = trio
    ray = load_catalog().engines["vllm"].ray
    for plan in trio:
        spec = ray_unit_spec(plan)
        assert spec.name == "ray" and spec.argv == (f"{head.engine_env.directory}/bin/ray", *plan.ray.args)
        assert set(plan.serve_argv[1:]) & set(spec.argv) <= {"--port"}  # none of the engine's own words
        assert spec.api_key is None and spec.bound_to is None and spec.address_filter is None
        assert "RAY_ADDRESS" not in spec.environment and spec.environment["VLLM_HOST_IP"] == plan.node_address
        assert spec.firewall == ClusterFirewall(tuple(ray.ports), tuple(RAY_NODES), plan.node_address)
        assert spec.ready_timeout == NODE_WAIT_SECONDS and spec.writable_paths == ()
        text = render_unit(spec)
        assert "api-key" not in text and plan.served_model_name + " (recipe" not in text
        assert deployed_fingerprint(spec) != deployed_fingerprint(engine_unit_spec(plan))
    assert ray_unit_spec(head).probe == Probe("tcp", ray.port, "10.0.0.1", "")
    assert ray_unit_spec(worker).probe.port == ray.node_manager_port
    assert ray_unit_spec(head).waits == ()
    (wait,) = ray_unit_spec(worker).waits
    assert wait.endpoints == ("10.0.0.1:6379",) and wait.failure == "the Ray head %s does not answer"
    # The rehearsal's environment (deploys/ray_cluster.py): Ray and its PATH from there.
    alone = ray_environment(head).directory
    spec = ray_unit_spec(head, alone)
    assert spec.argv[0] == f"{alone}/bin/ray" and f":{alone}/bin:" in spec.environment["PATH"]


def test_the_engine_on_a_ray_head_runs_with_ray_and_waits_for_every_node(trio):
    head = trio[0]
    spec = engine_unit_spec(head)
    assert spec.bound_to.unit == "ray" and spec.firewall is None and spec.api_key == head.api_key
    (wait,) = spec.waits
    assert wait.argv[-4:] == ("--expect", ",".join(RAY_NODES), "--wait", str(NODE_WAIT_SECONDS))
    assert spec.environment["RAY_ADDRESS"] == "10.0.0.1:6379"
    assert [unit.name for unit in node_unit_specs(head)] == ["ray", "vllm"]
    assert [unit.name for unit in node_unit_specs(trio[1])] == ["ray"]


def test_an_rpc_workers_spec_lets_in_its_head_only_and_the_head_waits_for_it(pair):
    head, worker = pair
    (spec,) = node_unit_specs(worker)
    assert spec == rpc_worker_unit_spec(worker)
    assert spec.name == "llama-rpc" and spec.argv == worker.serve_argv and spec.api_key is None
    assert spec.address_filter.allow == ("10.0.0.1", "10.0.0.2", "localhost")
    assert spec.firewall == ClusterFirewall(("50052",), ("10.0.0.1",), "10.0.0.2")
    assert spec.probe == Probe("tcp", 50052, "10.0.0.2", "") and spec.waits == ()
    assert health_check(spec)[1] == "10.0.0.2:50052 (listening)"
    (engine,) = node_unit_specs(head)
    assert engine.address_filter is None and engine.rpc_workers == ("10.0.0.2:50052",)
    (wait,) = engine.waits
    assert wait.endpoints == ("10.0.0.2:50052",) and wait.failure == "RPC worker %s does not answer"
    assert engine.probe.kind == "http" and engine.probe.url == "http://127.0.0.1:18080/health"


def test_the_endpoint_wait_is_one_word_of_one_line_and_its_values_stay_data(tmp_path):
    """The template spans lines; the command line is one, exactly as the unit always had it (a
    change here changes every unit's fingerprint, and restarts every deployed engine)."""
    wait = StartWait(why="w", endpoints=("10.0.0.1:6379",), failure="the Ray head %s does not answer")
    # As every Ray worker's unit has it (`glmstack render`, before the template).
    assert start_wait_command(wait) == (
        '/bin/bash -c "for w in 10.0.0.1:6379; do n=0; h=$${w%%:*}; h=$${h#[[]}; h=$${h%%[]]}; until timeout 5 '
        'bash -c \\"exec 3<>/dev/tcp/$$h/$${w##*:}\\" 2>/dev/null; do n=$$((n + 1)); if [ $$n -ge 150 ]; then '
        'printf \'the Ray head %%s does not answer\\\\n\' \\"$$w\\" >&2; exit 1; fi; sleep 2; done; done"')
    # The endpoints are IP addresses and ports (the planner requires them); the message is text.
    hostile = StartWait(why="w", endpoints=("127.0.0.1:9",), failure="'%s' is down; $(touch pwned) `touch pwned`")
    (argv,) = parse_units({"h.service": f"[Service]\nExecStartPre={start_wait_command(hostile)}\n"
                                        "ExecStart=/bin/true\n"})["h.service"].argv("ExecStartPre")
    script = argv[2].replace("-ge 150", "-ge 1")
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 1 and result.stderr == "'127.0.0.1:9' is down; $(touch pwned) `touch pwned`\n"
    assert list(tmp_path.iterdir()) == []


def test_the_readiness_wait_checks_the_specs_probe():
    for spec, check in ((FULL, "/proc/net/tcp"), (BARE, "systemctl is-active --quiet bare.service"),
                        (dataclasses.replace(BARE, probe=Probe("http", 9, "0.0.0.0", "http://127.0.0.1:9/h")),
                         "curl -fsS --max-time 5 -o /dev/null http://127.0.0.1:9/h")):
        script = wait_script(spec)
        assert f"  if {health_check(spec)[0]}; then exit 0; fi\n" in script and check in script
        assert f"within {spec.ready_timeout}s" in script and not script.endswith("\n")
        subprocess.run(["bash", "-n", "-c", script], check=True, timeout=30)


@pytest.mark.parametrize("recipe", load_catalog().recipes, ids=lambda r: f"{r.model}/{r.accelerator}/{r.engine}/"
                                                                           f"{r.variant}")
def test_each_node_runs_its_units_in_order_and_the_plan_wrappers_render_its_serving_unit(recipe):
    """A node runs Ray (on every node of a Ray deployment) before the engine (on a node serving the
    API, or of a deployment without Ray), or its RPC worker's server; glmstack.render's functions,
    kept for callers that pass plans (tests/plan), render that serving unit, never Ray's."""
    for plan in resolve_inventory(recipe_hosts(recipe), require_fit=False):
        specs = node_unit_specs(plan)
        ray = [ray_unit_spec(plan)] if plan.ray is not None else []
        serving = [serving_unit_spec(plan)] if plan.ray is None or plan.serves_api else []
        assert specs == ray + serving
        if plan.ray is not None:
            assert ray[0].name == plan.ray.unit_name != plan.unit_name and ray[0].argv[0].endswith("/bin/ray")
        assert [spec.name for spec in serving] == [plan.unit_name] * len(serving)
        spec = serving_unit_spec(plan)
        assert spec == (rpc_worker_unit_spec(plan) if plan.rpc_worker else engine_unit_spec(plan))
        assert spec.argv == plan.serve_argv and as_unit_spec(plan) == spec
        assert legacy.rendered_files(plan) == rendered_files(spec)
        assert legacy.render_unit(plan) == render_unit(spec)
        assert wait_script(plan) == wait_script(spec)
        assert legacy.service_environment(plan) == spec.environment


def test_a_plan_stands_for_its_serving_unit_whatever_its_unit_name(trio):
    """No plan stands for a Ray unit: a plan named as Ray's unit is still its engine's unit (the
    name is no longer compared, as config.ray_unit's copy of the plan once needed)."""
    head = trio[0]
    renamed = dataclasses.replace(head, unit_name=head.ray.unit_name)
    spec = as_unit_spec(renamed)
    assert spec.name == "ray" and spec.argv == head.serve_argv and spec.api_key == head.api_key
    assert spec == dataclasses.replace(engine_unit_spec(head), name="ray", environment=spec.environment,
                                       environment_fields=spec.environment_fields)
    got = parse_units({"ray.service": legacy.render_unit(renamed)})["ray.service"]
    assert got.argv("ExecStart") == [list(head.serve_argv)] and "Requires" in got.settings


def test_the_service_templates_ship_inside_the_package():
    """Found from the module (a wheel installs them with it), never from the repository's root."""
    assert TEMPLATES == REPO_ROOT / "roles" / "service" / "templates"
    assert (TEMPLATES.parent / "__init__.py").is_file()
    package_data = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    # setuptools' package-data: globs relative to the package named (any package for "*").
    roots = {"roles.service": TEMPLATES.parent, "*": TEMPLATES.parent, "roles": TEMPLATES.parent.parent}
    templates = sorted(TEMPLATES.iterdir())
    assert {"engine.service.j2", "engine.env.j2", "cluster-firewall.nft.j2", "wait-for-endpoints.sh.j2",
            "wait-ready.sh.j2", "make-api-key.sh.j2", "api-key-environment.sh.j2"} == {path.name for path in templates}
    for path in templates:
        assert any(fnmatch.fnmatch(str(path.relative_to(root)), pattern) for package, root in roots.items()
                   for pattern in package_data.get(package, [])), f"{path} is not package data"
    assert not (REPO_ROOT / "templates").exists()


def test_the_api_key_commands_write_the_key_and_its_environment(tmp_path):
    """Both commands the service role runs to write the key's files, from their templates, run as
    they are: a key of 64 hex digits, then the engine's variable and the key's id beside it."""
    key_file, env_file = tmp_path / "keys" / "vllm.api-key", tmp_path / "vllm.api-key.env"
    make = render_command("make-api-key.sh.j2", key_dir=str(key_file.parent), key_file=str(key_file))
    write = render_command("api-key-environment.sh.j2", key_file=str(key_file), env_file=str(env_file),
                           id_variable="GLMSTACK_API_KEY_ID", variable="VLLM_API_KEY")
    assert "\n" not in make + write
    subprocess.run(["bash", "-c", make.replace("chown root:root", "true")], check=True, timeout=30)
    subprocess.run(["bash", "-c", write.replace("chown root:root", "true")], check=True, timeout=30)
    key = key_file.read_text()
    assert re.fullmatch(r"[0-9a-f]{64}\n", key) and oct(key_file.stat().st_mode & 0o777) == "0o600"
    key_id = hashlib.sha256(key.strip().encode()).hexdigest()[:16]
    assert env_file.read_text() == f"GLMSTACK_API_KEY_ID={key_id}\nVLLM_API_KEY={key.strip()}\n"
    # The variable lands inside printf's format: only a variable name may.
    with pytest.raises(Unrepresentable, match="not an environment variable name"):
        render_command("api-key-environment.sh.j2", key_file="k", env_file="e", id_variable="GLMSTACK_API_KEY_ID",
                       variable="X=%s' \"$(touch pwned)\" '")
