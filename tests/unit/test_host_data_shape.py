"""The shape of host data, at the edge: host entries, host names, keys, types, control characters
and sizes are refused with one line naming host and field, through group() (what the real pyinfra
command loads), `glmstack plan` and resolve_inventory, and never with a traceback."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hostdata import CPU_MIRROR

from glmstack.catalog import load_catalog
from glmstack.cli import main
from glmstack.config import HostConfig, InventoryError, resolve_inventory
from glmstack.inventory import group, raising_on_invalid_data
from glmstack.paths import DEPLOYS
from glmstack.shape import MAX_ITEMS, MAX_STRING, PYINFRA_FREE_TEXT_KEYS, PYINFRA_HOST_KEYS, host_name_problem

ERROR_LINE = re.compile(r"^host \S+: field \S+: \S")
PYINFRA = Path(sys.executable).parent / "pyinfra"


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def errors_of(hosts, catalog) -> list[str]:
    with pytest.raises(InventoryError) as error:
        resolve_inventory(hosts, catalog)
    lines = str(error.value).splitlines()
    assert lines and all(ERROR_LINE.match(line) for line in lines), lines
    return lines


def refused(data, catalog, field: str, host: str = "n") -> str:
    """The one line refusing `field` of host data `data`."""
    lines = [line for line in errors_of([(host, data)], catalog)
             if re.match(rf"host {re.escape(host)}: field {re.escape(field)}[.:]", line)]
    assert len(lines) == 1, lines
    return lines[0]


# Host names: RFC 1123, IP addresses, and the pyinfra connector names the repo's tests and lab use.
@pytest.mark.parametrize("name", ["n", "h200-1.lab.example", "cpu-1.lab.example.", "10.213.0.13", "fd00::13",
                                  "@local", "@fake/node1", "@fake/a2-1", "@ssh/gpu-1.lab.example",
                                  "@docker/ubuntu:24.04", "@chroot/srv/node", "@dockerssh/gpu-1:ubuntu:24.04"])
def test_host_names_of_every_kind_pyinfra_and_the_lab_use_are_accepted(name, catalog):
    assert host_name_problem(name) is None
    assert resolve_inventory([(name, CPU_MIRROR)], catalog)[0].host == name


@pytest.mark.parametrize("name", [None, ["cpu-1", "cpu-2"], ("cpu-1",), 7, "", "cpu-1\n[Service]", "cpu\x00-1",
                                  "cpu\t1", "cpu\x7f1", "cpu\x851", "gpu_1", "-cpu", "cpu-", "a..b", "x y",
                                  "a" * 64 + ".example", "b." * 130, "@", "@ssh/a b", "@SSH/x", "cpu-1:22"])
def test_a_name_that_is_not_a_host_name_is_refused(name, catalog):
    lines = errors_of([(name, CPU_MIRROR)], catalog)
    assert len(lines) == 1 and ": field (host): " in lines[0], lines
    assert "\n" not in lines[0] and "\x00" not in lines[0]


def test_a_host_listed_twice_in_different_case_is_refused(catalog):
    lines = errors_of([("GPU-1.lab", CPU_MIRROR), ("gpu-1.lab", CPU_MIRROR)], catalog)
    assert lines == ["host GPU-1.lab: field (host): listed 2 times (as GPU-1.lab, gpu-1.lab; host names are "
                     "case-insensitive); each host may appear once (in a deployment, its place in the list is "
                     "its rank)"]


@pytest.mark.parametrize(("hosts", "line"), [
    ([("n", None)], "host n: field (data): the host's data is None; allowed: a dict"),
    ([("n", [("accelerator", "cpu"), ("engine", "llama.cpp")])], "host n: field (data): the host's data is a list"),
    ([("n", "accelerator=cpu")], "host n: field (data): the host's data is a string"),
    ([("n",)], "host #1: field (host): entry 1 is a tuple of 1; allowed: a (name, data dict) tuple"),
    ([["n", {}]], "host #1: field (host): entry 1 is a list of 2; allowed: a (name, data dict) tuple"),
    ([("n", {}, {})], "host #1: field (host): entry 1 is a tuple of 3"),
    (None, "host #1: field (host): the hosts are None; allowed: a list"),
])
def test_host_entries_that_are_not_a_name_and_a_dict_are_refused(hosts, line, catalog):
    assert errors_of(hosts, catalog)[0].startswith(line)


@pytest.mark.parametrize(("hosts", "line"), [
    ("cpu-1", "host #1: field (host): the hosts are a string"),
    (None, "host #1: field (host): the hosts are None"),
    ([("cpu-1", None)], "host cpu-1: field (data): the host's data is None"),
    ([("cpu-1", [("port", 80)])], "host cpu-1: field (data): the host's data is a list"),
    ([(["cpu-1"], {})], "host #1: field (host): a host name is a string; got a list"),
    ([["cpu-1", {}]], "host #1: field (host): entry 1 is a list of 2"),
])
def test_group_refuses_hosts_of_another_shape_instead_of_crashing(hosts, line):
    with raising_on_invalid_data(), pytest.raises(InventoryError) as error:
        group(hosts, **CPU_MIRROR)
    assert str(error.value).splitlines() == [str(error.value)] and str(error.value).startswith(line)


# Keys: settings and pyinfra's own; anything else is refused with the nearest setting.
@pytest.mark.parametrize(("key", "hint"), [
    ("gpu_memory_utilisation", "did you mean gpu_memory_utilization?"),
    ("extra_args", "did you mean extra_flags?"),
    ("servise_user", "did you mean base_service_user?"),
    ("base_servise_user", "did you mean base_service_user?"),
    ("model_fetch_erly", "did you mean model_fetch_early?"),
    ("ssh_usr", "did you mean ssh_user?"),
    ("_sudoo", "did you mean _sudo?"),
])
def test_unknown_keys_are_refused_with_or_without_a_role_prefix(key, hint, catalog):
    assert refused({**CPU_MIRROR, key: 1}, catalog, key).endswith(f"unknown setting; {hint}")


def test_pyinfras_own_host_data_keys_are_allowed(catalog):
    data = {**CPU_MIRROR, "ssh_user": "root", "ssh_port": 2222, "ssh_key": "/root/.ssh/id", "_sudo": True,
            "_sudo_user": "root", "_env": {"LC_ALL": "C"}, "ssh_known_hosts_file": "/dev/null",
            "ssh_strict_host_key_checking": "no", "fake_responses": {"facts": "one\ntwo"}}
    assert resolve_inventory([("n", data)], catalog)


def test_the_pyinfra_allowlist_is_what_the_installed_pyinfra_reads():
    from pyinfra.api.arguments import all_global_arguments
    from pyinfra.api.connectors import get_all_connectors

    read = {key for connector in get_all_connectors().values() for key in (connector.data_meta or {})}
    read |= {key for key, _ in all_global_arguments()} - {"name"}
    assert read <= PYINFRA_HOST_KEYS, sorted(read - PYINFRA_HOST_KEYS)
    assert not PYINFRA_HOST_KEYS & set(HostConfig.model_fields)
    assert PYINFRA_FREE_TEXT_KEYS <= PYINFRA_HOST_KEYS


# Types: strict, no bool for a number nor a number for a bool, no "8000" for a port.
@pytest.mark.parametrize(("field", "value"), [
    ("port", True), ("port", "8000"), ("port", 8000.0), ("max_model_len", False), ("gpu_memory_utilization", True),
    ("gpu_memory_utilization", "0.9"), ("nvidia_dcgm", 1), ("base_time_sync", "false"), ("extra_flags", "--x"),
    ("extra_flags", ("--x",)), ("extra_env", [("A", "1")]), ("extra_env", {"A": 1}), ("model_files", ["a"]),
    ("served_model_name", 5), ("model_hf_token_file", 5), ("base_extra_ca_certs", "/etc/ca.pem"),
])
def test_values_of_the_wrong_type_are_refused(field, value, catalog):
    assert refused({**CPU_MIRROR, field: value}, catalog, field)


def test_true_is_not_port_1(catalog):
    line = refused({**CPU_MIRROR, "port": True}, catalog, "port")
    assert line == "host n: field port: Input should be a valid integer (got True)"


# Control characters and sizes, at any depth, in settings and pyinfra's keys alike.
@pytest.mark.parametrize(("field", "value"), [
    ("extra_flags", ["--x", "1\nExecStartPre=+/bin/sh"]),
    ("extra_env", {"A\nLD_PRELOAD": "/x.so"}),
    ("extra_env", {"A": "1\x00"}),
    ("model_files", {"tiny.gguf\t": "ab" * 32}),
    ("model_files", {"tiny.gguf": "ab" * 31 + "a\x7f"}),
    ("base_http_proxy", "http://p:3128\u2028"),
    ("base_no_proxy", "a,\x85b"),
    ("llamacpp_cmake_flags", ["-DX=\udc80"]),
    ("ssh_user", "root\n"),
    ("_env", {"A": {"deeper": ["x\ry"]}}),
])
def test_a_control_character_anywhere_in_host_data_is_refused(field, value, catalog):
    line = refused({**CPU_MIRROR, field: value}, catalog, field)
    assert "control character (U+" in line and "\n" not in line


def test_strings_and_lists_are_bounded(catalog):
    assert refused({**CPU_MIRROR, "extra_flags": ["x" * (MAX_STRING + 1)]}, catalog, "extra_flags").endswith(
        f"item 0 has {MAX_STRING + 1} characters; allowed: at most {MAX_STRING}")
    assert refused({**CPU_MIRROR, "extra_flags": ["--x"] * (MAX_ITEMS + 1)}, catalog, "extra_flags").endswith(
        f"has {MAX_ITEMS + 1} items; allowed: at most {MAX_ITEMS}")
    assert "at most" in refused({**CPU_MIRROR, "ssh_key": "k" * 100_000}, catalog, "ssh_key")
    nested: list = ["x"]
    for _ in range(20):
        nested = [nested]
    assert "nested deeper" in refused({**CPU_MIRROR, "_env": {"A": nested}}, catalog, "_env")


def test_the_longest_accepted_flag_resolves(catalog):
    plan = resolve_inventory([("n", {**CPU_MIRROR, "extra_flags": ["--x", "y" * MAX_STRING]})], catalog)[0]
    assert plan.serve_argv[-1] == "y" * MAX_STRING


# `glmstack plan` and the real pyinfra command, on inventory files.
def inventory(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "inventory.py"
    path.write_text(textwrap.dedent(body))
    return path


CPU = 'accelerator="cpu", model="glm-5.2-gguf", engine="llama.cpp", served_model_name="t", ' \
      'model_source="http://10.213.0.1:8099", model_files={"tiny.gguf": "ab" * 32}'


@pytest.mark.parametrize(("body", "line"), [
    (f'from glmstack.inventory import group\nnodes = group([("n", {{}})], {CPU} max_model_len=2048)\n',
     "line 2: SyntaxError: invalid syntax. Perhaps you forgot a comma?"),
    (f'from glmstack.inventory import group\n\nnodes = group([("n", {{"nvidia_dcgm": true}})], {CPU})\n',
     "line 3: NameError: name 'true' is not defined. Did you mean: 'True'?"),
    ('from glmstack.inventory import gruop\n', "line 1: ImportError: cannot import name 'gruop'"),
    ('import glmstack.no_such_module\n', "line 1: ModuleNotFoundError: No module named 'glmstack.no_such_module'"),
    ('nodes = [1 / 0]\n', "line 1: ZeroDivisionError: division by zero"),
])
def test_a_broken_inventory_file_is_one_line_naming_file_and_line(body, line, tmp_path, capsys):
    path = inventory(tmp_path, body)
    assert main(["plan", str(path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err == err.splitlines()[0] and err.startswith(f"inventory {path}, {line}"), err


def test_an_inventory_of_pairs_instead_of_a_dict_is_refused_not_planned_as_nothing(tmp_path, capsys):
    path = inventory(tmp_path, 'nodes = [("n", [("accelerator", "cpu"), ("engine", "llama.cpp")])]\n')
    assert main(["plan", str(path)]) == 1
    assert capsys.readouterr().err.strip() == ("host n: field (data): the host's data is a list; allowed: a "
                                               "dict of settings, {'name': value, ...}")
    path = inventory(tmp_path, 'SETTINGS = 3\n')
    assert main(["plan", str(path)]) == 1
    assert "defines no hosts" in capsys.readouterr().err


@pytest.mark.parametrize(("hosts", "data", "line"), [
    ('[("cpu-1", None)]', "", "host cpu-1: field (data): the host's data is None"),
    ('[(["cpu-1", "cpu-2"], {})]', "", "host #1: field (host): a host name is a string; got a list"),
    ('[("CPU-1", {}), ("cpu-1", {})]', "", "host CPU-1: field (host): listed 2 times (as CPU-1, cpu-1;"),
    ('[("cpu\\x00-1", {})]', "", "host #1: field (host): the host name 'cpu\\x00-1' has a control character"),
    ('[("cpu-1", {})]', "port=True, ", "host cpu-1: field port: Input should be a valid integer (got True)"),
    ('[("cpu-1", {})]', 'extra_flags=["--x\\nExecStartPre=+/bin/true"], ',
     "host cpu-1: field extra_flags: item 0 has a control character (U+000A at 3)"),
    ('[("cpu-1", {})]', "gpu_memory_utilisation=0.5, ",
     "host cpu-1: field gpu_memory_utilisation: unknown setting; did you mean gpu_memory_utilization?"),
])
def test_plan_and_the_real_pyinfra_command_refuse_bad_shapes_with_one_line(hosts, data, line, tmp_path, capsys):
    path = inventory(tmp_path, f"from glmstack.inventory import group\n\nnodes = group({hosts}, {data}{CPU})\n")
    assert main(["plan", str(path)]) == 1
    assert capsys.readouterr().err.strip().startswith(line)
    result = subprocess.run([str(PYINFRA), "-y", str(path), str(DEPLOYS / "glm52.py")], capture_output=True,
                            text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    errors = [entry for entry in result.stderr.splitlines() if entry.startswith("host ")]
    assert len(errors) == 1 and errors[0].startswith(line), result.stderr
    assert "Traceback" not in result.stderr and "Connecting to hosts" not in result.stderr + result.stdout


def test_a_huge_refused_value_is_refused_in_seconds(tmp_path):
    # 1.5 MB in one extra_flags item: `glmstack plan` ran for minutes (the terminal highlighter).
    path = inventory(tmp_path, f'from glmstack.inventory import group\n\n'
                               f'nodes = group([("n", {{}})], extra_flags=["--x" + "a" * 1_500_000], {CPU})\n')
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "glmstack.cli", "plan", str(path)], capture_output=True,
                            text=True, timeout=60)
    assert time.monotonic() - start < 15
    assert result.returncode == 1
    assert result.stderr.strip() == "host n: field extra_flags: item 0 has 1500003 characters; allowed: at most 4096"


def test_printing_the_plan_of_long_accepted_values_takes_linear_time(tmp_path, capsys):
    # Sixteen flags of 4096 characters: rich's highlighter took seconds on one 20 KB word.
    flags = ", ".join(f'"--x{i}" + "a" * 4090' for i in range(16))
    path = inventory(tmp_path, f'from glmstack.inventory import group\n\n'
                               f'nodes = group([("n", {{}})], extra_flags=[{flags}], {CPU})\n')
    start = time.monotonic()
    assert main(["plan", str(path)]) == 0
    assert time.monotonic() - start < 3  # 0.3 s here; 5.8 s with the highlighter on
    assert "a" * 4090 in capsys.readouterr().err


@pytest.mark.parametrize("field", ["model_hf_token_file", "service_api_key_file", "llamacpp_source"])
def test_a_file_that_cannot_be_read_is_refused_naming_the_field_not_a_traceback(field, catalog):
    # A path component over NAME_MAX: the operating system's error, not a crash, and no path echoed.
    line = refused({**CPU_MIRROR, field: "/" + "a" * 300 + ".tar.gz"}, catalog, field)
    assert line.endswith("the file cannot be read (File name too long); allowed: a path to a readable file")


@pytest.mark.parametrize("name", [["x"], "", "a b"])
def test_resolve_names_a_host_without_a_usable_name_by_its_place(name):
    from glmstack.config import HostDataError, resolve

    with pytest.raises(HostDataError) as error:
        resolve(name, CPU_MIRROR)
    assert str(error.value).startswith("host #1: field (host): ")


def test_glmstack_deploy_stops_at_a_broken_inventory_before_running_pyinfra(tmp_path, capsys):
    path = inventory(tmp_path, f'from glmstack.inventory import group\nnodes = group([("n", {{}})], {CPU} port=1)\n')
    assert main(["deploy", str(path)]) == 2
    assert capsys.readouterr().err.strip() == (f"inventory {path}, line 2: SyntaxError: invalid syntax. Perhaps you "
                                               "forgot a comma?")


def test_plan_reads_host_groups_as_pyinfra_does(tmp_path, capsys):
    # A (hosts, group data) tuple is a group for pyinfra; a list holding a list is ignored by it (refused here).
    path = inventory(tmp_path, f'_data = dict({CPU})\nnodes = (["n1", ("n2", {{"port": 9000}})], _data)\n')
    assert main(["plan", str(path), "--json"]) == 0
    hosts = __import__("json").loads(capsys.readouterr().out)["hosts"]
    assert [(host["host"], host["port"]) for host in hosts] == [("n1", 8080), ("n2", 9000)]
    path = inventory(tmp_path, 'nodes = [["n1", {}]]\n')
    assert main(["plan", str(path)]) == 1
    assert capsys.readouterr().err.strip().startswith(f"inventory {path}: group nodes: item 1 is a list;")


@pytest.mark.parametrize(("field", "value", "message"), [
    ("port", 10**5000, "the value is out of range; allowed: a whole number of at most 19 digits"),
    ("max_model_len", 2**64, "the value is out of range"),
    ("ssh_port", -(10**30), "the value is out of range"),
    ("gpu_memory_utilization", float("nan"), "the value is not a finite number"),
    ("_env", {"A": [float("inf")]}, "the value of A item 0 is not a finite number"),
], ids=["port-5000-digits", "max_model_len-2**64", "ssh_port--10**30", "nan", "inf-nested"])
def test_numbers_beyond_64_bits_or_not_finite_are_refused(field, value, message, catalog):
    # 10**5000 was a ValueError traceback: Python will not even print an integer of over 4300 digits.
    assert message in refused({**CPU_MIRROR, field: value}, catalog, field)


def test_a_host_with_too_many_settings_is_refused_at_once(catalog):
    lines = errors_of([("n", {**CPU_MIRROR, **{f"k{i}": 1 for i in range(MAX_ITEMS + 1)}})], catalog)
    assert lines == [f"host n: field (data): has {MAX_ITEMS + len(CPU_MIRROR) + 1} settings; allowed: at most "
                     f"{MAX_ITEMS}"]


# Audit of issue 16: what a reviewer cannot see, one host under two spellings, names resolvers read
# as other addresses, pyinfra's own keys by type, and an inventory that exits while loading.
INVISIBLE = ["\u202e", "\u200b", "\ufeff", "\u2066", "\U000e0041", "\u00a0", "\u3000", "\ue000", "\U000e0080"]


@pytest.mark.parametrize("char", INVISIBLE, ids=[f"U+{ord(c):04X}" for c in INVISIBLE])
@pytest.mark.parametrize(("field", "value"), [
    ("extra_flags", ["--alias", "x{}y"]), ("extra_env", {"A": "x{}y"}), ("llamacpp_cmake_flags", ["-DX=x{}y"]),
    ("base_packages", ["cur{}l"]), ("base_http_proxy", "http://10.213.0.1:3128/{}"), ("ssh_user", "ro{}ot"),
])
def test_format_private_use_and_odd_space_characters_are_refused(char, field, value, catalog):
    value = ([v.format(char) for v in value] if isinstance(value, list) else
             {k: v.format(char) for k, v in value.items()} if isinstance(value, dict) else value.format(char))
    line = refused({**CPU_MIRROR, field: value}, catalog, field)
    assert f"(U+{ord(char):04X} at " in line and line.endswith("allowed: printable characters only"), line
    assert char not in line


def test_the_ascii_space_and_printable_unicode_are_accepted(catalog):
    data = {**CPU_MIRROR, "extra_env": {"A": "a b é ü 日本"}}
    assert resolve_inventory([("n", data)], catalog)


def test_the_quoting_functions_refuse_what_a_reviewer_cannot_see():
    from glmstack.quoting import Unrepresentable, refuse_control_characters

    for char in INVISIBLE:
        with pytest.raises(Unrepresentable):
            refuse_control_characters(f"a{char}b", "a systemd command line")
    assert refuse_control_characters("a b é", "a systemd command line") == "a b é"


@pytest.mark.parametrize(("first", "second"), [
    ("h-1.lab.example", "h-1.lab.example."), ("H-1.Lab.Example.", "h-1.lab.example"),
    ("::1", "0:0:0:0:0:0:0:1"), ("fd00::13", "FD00:0:0:0:0:0:0:13"),
])
def test_one_host_under_two_spellings_is_listed_twice(first, second, catalog):
    lines = errors_of([(first, CPU_MIRROR), (second, CPU_MIRROR)], catalog)
    assert len(lines) == 1 and f": field (host): listed 2 times (as {first}, {second}; " in lines[0], lines


@pytest.mark.parametrize(("name", "why"), [
    ("1234", "is read by resolvers as the IP address 0.0.4.210"),
    ("999.999.999.999", "ends in an all-numeric label"),
    ("10.0.0.01", "is read by resolvers as the IP address 10.0.0.1"),
    ("0x7f000001", "is read by resolvers as the IP address 127.0.0.1"),
    ("127.1", "is read by resolvers as the IP address 127.0.0.1"),
    ("gpu-1.lab.42", "ends in an all-numeric label"),
])
def test_a_host_name_resolvers_read_as_another_address_is_refused(name, why, catalog):
    lines = errors_of([(name, CPU_MIRROR)], catalog)
    assert len(lines) == 1 and lines[0].startswith(f"host {name}: field (host): '{name}' {why}"), lines


@pytest.mark.parametrize("name", ["gpu-1.lab.example", "a.b1", "1a.example", "10.0.0.1", "fd00::13"])
def test_names_with_digits_that_are_names_or_canonical_addresses_are_accepted(name):
    assert host_name_problem(name) is None


@pytest.mark.parametrize(("key", "value", "line"), [
    ("ssh_port", True, "the value is a boolean True; allowed: a whole number from 1 to 65535"),
    ("ssh_port", "2222", "the value is a string; allowed: a whole number from 1 to 65535"),
    ("ssh_port", -1, "the value is an integer -1; allowed: a whole number from 1 to 65535"),
    ("ssh_port", 65536, "the value is an integer 65536;"),
    ("ssh_port", 22.0, "the value is a number; allowed"),
    ("ssh_user", 0, "the value is an integer 0; allowed: a user name (text)"),
    ("ssh_user", "", "the value is an empty string; allowed: a user name (text)"),
    ("ssh_hostname", ["gpu-1"], "the value is a list; allowed: a host name or IP address"),
    ("ssh_key", None, "the value is None; allowed: a path to a private key file"),
    ("_sudo", 1, "the value is an integer 1; allowed: True or False"),
    ("_use_sudo_login", "yes", "the value is a string; allowed: True or False"),
    ("_preserve_sudo_env", None, "the value is None; allowed: True or False"),
    ("_use_su_login", 0, "allowed: True or False"),
    ("_sudo_user", 0, "allowed: a user name (text)"),
    ("_su_user", True, "allowed: a user name (text)"),
    ("ssh_password", "hunter2", "a password in host data is a secret anyone reading the inventory reads; "
                                "allowed: no password in host data; use an SSH key (ssh_key) or ssh-agent"),
    ("ssh_key_password", "hunter2", "allowed: no key passphrase in host data; load the key into ssh-agent"),
])
def test_pyinfras_connector_keys_are_strictly_typed(key, value, line, catalog):
    got = refused({**CPU_MIRROR, key: value}, catalog, key)
    assert got.startswith(f"host n: field {key}: ") and line in got, got
    assert "hunter2" not in got


def test_the_typed_pyinfra_keys_are_pyinfra_keys():
    from glmstack.shape import PYINFRA_KEY_TYPES

    assert set(PYINFRA_KEY_TYPES) <= PYINFRA_HOST_KEYS


def test_the_api_port_is_not_the_ssh_port(catalog):
    assert refused({**CPU_MIRROR, "port": 2222, "ssh_port": 2222}, catalog, "port") == (
        "host n: field port: the API port 2222 is the host's ssh_port; allowed: a port other than ssh_port 2222")
    assert resolve_inventory([("n", {**CPU_MIRROR, "port": 8080, "ssh_port": 2222})], catalog)


@pytest.mark.parametrize(("body", "code"), [
    ("raise SystemExit(0)\n", "0"), ("import sys\nnodes = ['n']\nsys.exit('bye')\n", "'bye'"),
    ("exit()\n", "None"),
])
def test_an_inventory_that_exits_while_loading_is_one_line_and_exit_2(body, code, tmp_path, capsys):
    path = inventory(tmp_path, body)
    assert main(["plan", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"inventory {path}, line ") and err.endswith(
        f": exited while loading (SystemExit({code})); an inventory defines hosts"), err
    assert main(["plan", str(path), "--json"]) == 2
    assert "exited while loading" in capsys.readouterr().out
