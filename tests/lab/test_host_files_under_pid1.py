"""The engine's unit and environment file, rendered with odd but valid values, run by systemd as
PID 1 in a lab root filesystem (systemd-nspawn, no network): the program the unit starts receives
exactly the plan's arguments, and its environment holds exactly the environment file's variables
(read by systemd's own EnvironmentFile parser) and systemd's own, nothing more.

The engine's binary is a probe that writes what it received and exits; the node powers itself off
once it has. One boot, under a minute; nothing leaves the node's private network namespace.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from glmstack.config import resolve
from glmstack.lab.lab import LabPaths
from glmstack.lab.rootfs import cached_rootfs, unpack
from glmstack.render import deployed_fingerprint, render_env_file, render_unit, service_environment, unit_paths

pytestmark = pytest.mark.lab

ODD_FLAGS = ["--glmstack-odd", "two words", 'say "hi"', "it's", "100% %n %% %i", "$HOME ${PATH} $$ $", "back\\slash",
             ";", "a;b", "#not-a-comment", "-", "ünïcødé ✓ 中文", '{"json": [1, "x\\\\y"]}', "`id`", "$(id)", '\\"',
             "'", "=", "--flag=with=equals", "@at", "+plus", "!bang", "x\\", "tab\\tescape", "\\n"]
ODD_ENV = {"GLMSTACK_ODD": 'x "y" $z ${w} `id` \\ %p ; # c \' ünï', "GLMSTACK_EMPTY": "",
           "GLMSTACK_BACKSLASHES": "\\\\ \\n \\t \\", "GLMSTACK_QUOTES": "'\"'\"'", "GLMSTACK_HASH": "#x",
           "GLMSTACK_EQUALS": "a=b=c"}
PROXY = "http://proxy.lab.example:3128/a;c{d}//e#f'g(id)*!&|"
DATA = {"accelerator": "cpu", "model": "glm-5.2-gguf", "engine": "llama.cpp", "served_model_name": "glm-5.2-tiny-test",
        "model_source": "http://10.213.0.1:8099", "model_files": {"tiny.gguf": "ab" * 32},
        "extra_flags": ODD_FLAGS, "extra_env": ODD_ENV, "base_http_proxy": PROXY, "base_no_proxy": "localhost,.lab"}
# What systemd itself puts in a service's environment (systemd.exec(5), "Environment variables in
# spawned processes").
SYSTEMD_OWN = {"PATH", "LANG", "USER", "LOGNAME", "HOME", "SHELL", "INVOCATION_ID", "JOURNAL_STREAM",
               "SYSTEMD_EXEC_PID", "MANAGERPID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "NOTIFY_SOCKET",
               "WATCHDOG_PID", "WATCHDOG_USEC", "TERM", "LC_ALL"}
PROBE = """#!/usr/bin/python3
import json, os, sys
with open("probe.json.new", "w") as out:
    json.dump({"argv": sys.argv[1:], "env": dict(os.environ), "cwd": os.getcwd()}, out)
os.rename("probe.json.new", "probe.json")
"""


def _put(root: Path, path: str, text: str, mode: int = 0o644, owner: int = 0) -> Path:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    os.chmod(target, mode)
    os.chown(target, owner, owner)
    return target


def test_the_engine_receives_exactly_the_plans_arguments_and_environment():
    plan = resolve("pid1-probe", DATA)
    paths = unit_paths(plan)
    unit = f"{plan.unit_name}.service"
    with tempfile.TemporaryDirectory(prefix="glmstack-pid1-") as work:
        root = Path(work) / "root"
        unpack(cached_rootfs(LabPaths.from_env().cache_dir), root)
        uid = 990
        with open(root / "etc/passwd", "a") as passwd:
            passwd.write(f"{plan.config.base_service_user}:x:{uid}:{uid}::{plan.config.base_state_dir}:/usr/sbin/nologin\n")
        with open(root / "etc/group", "a") as group:
            group.write(f"{plan.config.base_service_group}:x:{uid}:\n")
        _put(root, paths["unit"], render_unit(plan))
        _put(root, paths["env_file"], render_env_file(plan), 0o600)
        if plan.api_key:
            _put(root, plan.api_key.env_file, f"{plan.api_key.variable}=probe-key-0123456789abcdef\n", 0o600)
        _put(root, plan.binary, PROBE, 0o755)
        home = root / paths["home"].lstrip("/")
        home.mkdir(parents=True)
        os.chown(home, uid, uid)
        for path in plan.writable_paths:
            (root / path.lstrip("/")).mkdir(parents=True, exist_ok=True)
        result = paths["home"] + "/probe.json"
        _put(root, "/etc/systemd/system/glmstack-probe-done.service", (
            "[Unit]\nAfter=multi-user.target\n[Service]\nType=oneshot\n"
            f"ExecStart=/bin/sh -c 'for i in $$(seq 300); do [ -s {result} ] && break; sleep 0.2; done; "
            f"systemctl show -p Result -p ExecMainStatus {unit} > /root/probe-state; systemctl poweroff'\n"))
        wants = root / "etc/systemd/system/multi-user.target.wants"
        wants.mkdir(parents=True, exist_ok=True)
        for name in (unit, "glmstack-probe-done.service"):
            (wants / name).symlink_to(f"/etc/systemd/system/{name}")
        node = subprocess.Popen(["systemd-nspawn", f"--directory={root}", "--boot", "--register=no", "--keep-unit",
                                 "--private-network", "--console=pipe", "--machine=glm-pid1-probe"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True, text=True)
        try:
            output, _ = node.communicate(timeout=180)
        except subprocess.TimeoutExpired:
            os.killpg(node.pid, signal.SIGKILL)  # the nspawn this test started, and only it
            output, _ = node.communicate()
            pytest.fail(f"the node did not power off within 180 s: {output[-3000:]}")
        time.sleep(0.1)
        probe = root / result.lstrip("/")
        assert probe.exists(), f"the unit's program did not run: {(root / 'root/probe-state').read_text()}\n" \
                               f"{output[-3000:]}"
        got = json.loads(probe.read_text())

    assert got["argv"] == list(plan.serve_argv[1:])
    assert got["argv"][-len(ODD_FLAGS):] == ODD_FLAGS
    assert got["cwd"] == paths["home"]
    env = got["env"]
    wanted = {**service_environment(plan), "GLMSTACK_DEPLOYED": deployed_fingerprint(plan)}
    if plan.api_key:
        wanted[plan.api_key.variable] = "probe-key-0123456789abcdef"
    assert {name: env.get(name) for name in wanted} == wanted
    assert set(env) - set(wanted) - SYSTEMD_OWN == set()
    assert env["http_proxy"] == env["HTTP_PROXY"] == PROXY
    for name, value in ODD_ENV.items():
        assert env[name] == value
