"""Odd but valid values reach the host exactly: every seed recipe's units, rendered with them, read
back by systemd's own parser (systemd --test) give exactly the intended command lines and settings,
and nothing more; the shell scripts they hold parse (bash -n). A newline smuggled past the schema
(the renderer called directly) cannot add a directive or a line: the quoting refuses it.
"""

from __future__ import annotations

import dataclasses
import subprocess

import pytest
from systemd_parse import parse_units
from test_seed_recipes import SEEDS

from glmstack.config import resolve_inventory
from glmstack.quoting import Unrepresentable
from glmstack.render import deployed_fingerprint, render_env_file, render_unit, rendered_files, unit_paths
from roles.service.units import node_unit_specs, ray_unit_spec

# Each a single argument the engine must receive byte for byte.
ODD_FLAGS = ["--glmstack-odd", "two words", 'say "hi"', "it's", "100% %n %% %i", "$HOME ${PATH} $$ $", "back\\slash",
             ";", "a;b", "#not-a-comment", "-", "ünïcødé ✓ 中文", '{"json": [1, "x\\\\y"]}', "`id`", "$(id)", '\\"',
             "'", "=", "--flag=with=equals", "@at", "+plus", "!bang", "x\\", "tab\\tescape", "\\n"]
ODD_ENV = {"GLMSTACK_ODD": 'x "y" $z ${w} `id` \\ %p ; # c \' ünï', "GLMSTACK_EMPTY": "",
           "GLMSTACK_BACKSLASHES": "\\\\ \\n \\t \\", "GLMSTACK_QUOTES": "'\"'\"'"}
ODD = {"extra_flags": ODD_FLAGS, "extra_env": ODD_ENV}


def seed_plans(group_data: dict, hosts: list, extra: dict) -> list:
    entries = [(host, {}) if isinstance(host, str) else host for host in hosts]
    return resolve_inventory([(name, {**group_data, **extra, **data}) for name, data in entries], require_fit=False)


@pytest.fixture(scope="module", params=list(SEEDS), ids=list(SEEDS))
def seed(request):
    group_data, hosts, _, _ = SEEDS[request.param]
    return seed_plans(group_data, hosts, ODD)


def test_every_units_command_lines_and_settings_parse_back_exactly(seed):
    for plan in seed:
        units = node_unit_specs(plan)
        parsed = parse_units({f"{unit.name}.service": render_unit(unit) for unit in units})
        for unit in units:
            got = parsed[f"{unit.name}.service"]
            paths = unit_paths(unit)
            is_ray = plan.ray is not None and unit == ray_unit_spec(plan)
            # The command line: exactly the plan's words, the odd flags among them in order.
            assert got.argv("ExecStart") == [list(unit.argv)]
            assert unit.argv[1:] == plan.ray.args if is_ray else unit.argv == plan.serve_argv
            if unit.argv[0] == plan.binary:
                assert list(unit.argv[-len(ODD_FLAGS):]) == ODD_FLAGS
            pre = got.argv("ExecStartPre")
            ports = plan.ray.ports if is_ray else plan.cluster_ports
            assert len(pre) == bool(ports) + bool(not is_ray and plan.rpc_workers) + (
                plan.ray is not None and (plan.rank > 0 or not is_ray))
            for argv in pre:
                if argv[0] == "/bin/bash":
                    assert argv[1] == "-c" and len(argv) == 3
                    subprocess.run(["bash", "-n", "-c", argv[2]], check=True, timeout=30)
                elif argv[0] == "/usr/sbin/nft":
                    assert argv == ["/usr/sbin/nft", "-f", paths["firewall"]]
            # Settings that hold values: exactly them, once.
            assert got.settings["User"] == [plan.config.base_service_user]
            assert got.settings["Group"] == [plan.config.base_service_group]
            assert got.settings["WorkingDirectory"] == [paths["home"]]
            assert got.settings["Environment"] == [f"GLMSTACK_DEPLOYED={deployed_fingerprint(unit)}"]
            writable = () if is_ray else plan.writable_paths
            assert got.settings["ReadWritePaths"] == [" ".join([paths["home"], *writable])]
            api_key = None if is_ray else plan.api_key  # Ray's unit takes no key
            assert unit.api_key == api_key
            files = ([paths["env_file"]] + ([paths["cann_env_file"]] if plan.ascend else [])
                     + ([api_key.env_file] if api_key else []))
            assert got.settings.get("EnvironmentFile", []) == files
            assert got.settings["Description"][0].count(plan.served_model_name) == 1


def test_the_environment_file_has_one_line_per_variable(seed):
    for plan in seed:
        for unit in node_unit_specs(plan):
            lines = [line for line in render_env_file(unit).splitlines() if not line.startswith("#")]
            assert [line.split("=", 1)[0] for line in lines] == sorted(line.split("=", 1)[0] for line in lines)
            assert {line.split("=", 1)[0] for line in lines} >= set(ODD_ENV)


SMUGGLED = ["x\nExecStartPre=+/tmp/evil", "x\rExecStartPre=+/tmp/evil", "x\x00y", "x\x1b[2J", "x\u2028y",
            "x\u0085y", "x\x7fy"]


@pytest.mark.parametrize("value", SMUGGLED, ids=[repr(value) for value in SMUGGLED])
def test_a_control_character_past_the_schema_is_refused_by_every_renderer(value):
    group_data, hosts, _, _ = SEEDS["000-h200-fp8"]
    (plan,) = seed_plans(group_data, hosts, {})
    config = plan.config
    tampered = [
        dataclasses.replace(plan, serve_argv=(*plan.serve_argv, value)),
        dataclasses.replace(plan, serve_env={**plan.serve_env, "GLMSTACK_X": value}),
        dataclasses.replace(plan, serve_env={**plan.serve_env, f"GLMSTACK_{value}": "1"}),
        dataclasses.replace(plan, served_model_name=value),
        dataclasses.replace(plan, config=config.model_copy(update={"base_service_user": value})),
        dataclasses.replace(plan, config=config.model_copy(update={"base_state_dir": f"/var/lib/{value}"})),
        dataclasses.replace(plan, config=config.model_copy(update={"base_config_dir": f"/etc/{value}"})),
        dataclasses.replace(plan, config=config.model_copy(update={"base_http_proxy": f"http://{value}"})),
        dataclasses.replace(plan, writable_paths=(f"/srv/{value}",)),
    ]
    for bad in tampered:
        with pytest.raises(Unrepresentable, match="control character"):
            rendered_files(bad)


def test_an_item_ending_in_a_newline_cannot_start_a_directive_on_the_next_line():
    """The issue's form: the old ExecStart quoting took '--enforce-eager\\n' for a plain word, so the
    next item began a line of its own, which systemd read as a privileged ExecStartPre."""
    group_data, hosts, _, _ = SEEDS["000-h200-fp8"]
    (plan,) = seed_plans(group_data, hosts, {})
    flags = ("--enforce-eager\n", "ExecStartPre=+/usr/bin/touch", "/tmp/pwned")
    with pytest.raises(Unrepresentable, match="control character"):
        render_unit(dataclasses.replace(plan, serve_argv=(*plan.serve_argv, *flags)))
