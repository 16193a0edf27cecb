"""Inventory for capturing plan-test facts from one lab node (GLMSTACK_CAPTURE_HOST, default node 3)."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from plan_data import PLAN_DATA  # noqa: E402

from glmstack.inventory import group  # noqa: E402
from glmstack.lab.lab import LabPaths  # noqa: E402
from glmstack.lab.nodes import NODE_CCACHE_DIR  # noqa: E402
from glmstack.lab.profile import cpu_profile_data  # noqa: E402

paths = LabPaths.from_env()
lab_source = cpu_profile_data(paths)["llamacpp_source"]
capture = group([(os.environ.get("GLMSTACK_CAPTURE_HOST", "10.213.0.13"), {
    "ssh_user": "root",
    "ssh_key": str(paths.ssh_key),
    "ssh_known_hosts_file": "/dev/null",
    "ssh_strict_host_key_checking": "no",
    **PLAN_DATA,
    # Neither changes a fact the deploy reads; they only make the capture's build possible and fast.
    "llamacpp_source": lab_source,
    "llamacpp_ccache_dir": NODE_CCACHE_DIR,
})])
