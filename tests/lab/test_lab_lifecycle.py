"""`lab up` makes nodes with their own address and sshd; `lab down` removes exactly what it made."""

from __future__ import annotations

from pathlib import Path

import pytest

from glmstack.lab import lab, network

pytestmark = pytest.mark.lab


def test_up_status_down(tmp_path):
    paths = lab.LabPaths.from_env()
    lab.down(paths)
    forward_before = network.IP_FORWARD.read_text()
    try:
        records = lab.up(2, paths)
        assert [r["address"] for r in records] == ["10.213.0.11", "10.213.0.12"]
        rows = lab.status(paths)
        assert all(row["running"] and row["ssh"] for row in rows), rows
        # Each node is its own machine: its own hostname, systemd as PID 1, in its own netns.
        for record in records:
            node = lab.node_connection(record["address"], paths)
            assert node.check_output("hostname") == record["name"]
            assert node.check_output("ps -o comm= -p 1") == "systemd"
            assert node.check_output("systemctl is-system-running --wait") in ("running", "degraded")
        inventory = lab.write_inventory(paths, output=tmp_path / "inventory.py", validate=False)
        text = inventory.read_text()
        assert "10.213.0.11" in text and str(paths.ssh_key) in text
        pids = [r["pid"] for r in records]
        # A run interrupted between booting a node and recording it leaves a PID the state lacks.
        state = lab.load_state(paths)
        state["nodes"][1]["pid"] = None
        lab.save_state(paths, state)
    finally:
        removed = lab.down(paths)

    assert any("bridge" in item for item in removed)
    assert any(item.startswith("unrecorded node") and str(pids[1]) in item for item in removed), removed
    for pid in pids:
        assert not Path(f"/proc/{pid}/cmdline").exists() or not Path(f"/proc/{pid}/cmdline").read_bytes()
    assert not network.link_exists(network.BRIDGE)
    assert not network.nft_table_exists()
    assert not paths.state_dir.exists()
    assert network.IP_FORWARD.read_text() == forward_before
    assert paths.cache_dir.exists(), "the root filesystem cache is kept for the next lab"
    assert lab.status(paths) == []
