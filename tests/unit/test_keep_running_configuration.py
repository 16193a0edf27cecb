"""What a host keeps before a changed configuration is written, and what the rollback puts back:
the very scripts the deploy runs (keep_script, restore_script), run for real on files under a
temporary directory (the unit's path moved there; systemctl a stub that records its calls)."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest
from hostdata import CPU_MIRROR

from glmstack.config import resolve
from roles.service.operations import keep_script, restore_script
from roles.service.render import (
    FINGERPRINT_VARIABLE,
    deployed_fingerprint,
    kept_configuration,
    rendered_files,
    unit_paths,
)
from roles.service.units import serving_unit_spec

RUNNING = "0123456789abcdef"  # the fingerprint the running engine was started with


@pytest.fixture
def host(tmp_path):
    """The new configuration's unit (its files under tmp_path), and a host running an older one:
    its unit and environment file on disk, as the engine was started with them."""
    unit = dataclasses.replace(serving_unit_spec(resolve("node1", CPU_MIRROR)), config_dir=str(tmp_path / "etc"))
    unit_file = tmp_path / "systemd" / f"{unit.name}.service"
    unit_file.parent.mkdir()
    (tmp_path / "etc").mkdir()
    unit_file.write_text(f"[Service]\nEnvironment={FINGERPRINT_VARIABLE}={RUNNING}\nExecStart=/opt/old/llama-server\n")
    env_file = Path(unit_paths(unit)["env_file"])
    env_file.write_text("OLD=1\n")
    env_file.chmod(0o600)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "systemctl").write_text(f"#!/bin/sh\necho \"systemctl $*\" >> {tmp_path}/systemctl\n")
    (bin_dir / "systemctl").chmod(0o755)
    return {"unit": unit, "unit_file": unit_file, "env_file": env_file, "tmp": tmp_path,
            "env": {"PATH": f"{bin_dir}:/usr/bin:/bin"}}


def run(host, script: str) -> None:
    script = script.replace(unit_paths(host["unit"])["unit"], str(host["unit_file"]))
    subprocess.run(["/bin/sh", "-c", script], env=host["env"], check=True, timeout=30)


def write_the_change(host) -> None:
    """What the deploy writes after the keep: the new configuration's files."""
    files = rendered_files(host["unit"])
    host["unit_file"].write_text(files[unit_paths(host["unit"])["unit"]][0])
    host["env_file"].write_text(files[str(host["env_file"])][0])


def test_the_running_files_are_kept_for_the_change_and_put_back_by_its_rollback(host):
    unit, kept = host["unit"], kept_configuration(host["unit"])
    old_unit, old_env = host["unit_file"].read_text(), host["env_file"].read_text()
    stale = Path(kept.directory) / f"{unit.name}.nft"
    stale.parent.mkdir(parents=True)
    stale.write_text("an older change's firewall\n")

    run(host, keep_script(unit, RUNNING))

    assert Path(kept.target).read_text() == f"{deployed_fingerprint(unit)}\n"
    assert oct(Path(kept.directory).stat().st_mode & 0o777) == "0o700"
    copies = sorted(path.name for path in Path(kept.directory).iterdir())
    assert copies == ["for", f"{unit.name}.env", f"{unit.name}.service"]  # nothing of an older keep
    write_the_change(host)
    assert host["unit_file"].read_text() != old_unit

    run(host, restore_script(unit))

    assert (host["unit_file"].read_text(), host["env_file"].read_text()) == (old_unit, old_env)
    assert oct(host["env_file"].stat().st_mode & 0o777) == "0o600"
    assert (host["tmp"] / "systemctl").read_text() == "systemctl daemon-reload\n"


def test_files_on_disk_that_are_not_what_runs_are_not_kept(host):
    """A run cut off after writing the change: the unit on disk is the change, the engine the old
    one. The keep leaves what the earlier run kept for this change; the rollback still finds it."""
    unit, kept = host["unit"], kept_configuration(host["unit"])
    old_unit = host["unit_file"].read_text()
    run(host, keep_script(unit, RUNNING))  # the cut-off run's keep
    write_the_change(host)

    run(host, keep_script(unit, RUNNING))  # the rerun's

    assert Path(dict(kept.files)[unit_paths(unit)["unit"]]).read_text() == old_unit
    run(host, restore_script(unit))
    assert host["unit_file"].read_text() == old_unit


def test_files_kept_for_another_change_are_not_put_back(host):
    unit = host["unit"]
    run(host, keep_script(unit, RUNNING))
    Path(kept_configuration(unit).target).write_text("another change\n")
    write_the_change(host)
    changed = host["unit_file"].read_text()

    run(host, restore_script(unit))

    assert host["unit_file"].read_text() == changed
    assert not (host["tmp"] / "systemctl").exists()
