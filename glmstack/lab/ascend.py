"""Stand-in Ascend package sets for the lab: installer scripts named like Huawei's that do what the
deploy relies on the real ones doing, and nothing an NPU needs.

Each STAND-IN records its run (component and arguments) in LOG, refuses arguments the real
installer would not take in that state (--upgrade with nothing installed, the driver before its
user exists), and writes the version file the catalog says the real one leaves. The driver's also
leaves an `npu-smi` stand-in, and the toolkit's and NNAL's their set_env scripts. They exercise
the deploy's orchestration (manifest, sums, order, version detection, reboot, environment capture)
and never stand behind a claim that Ascend serving works.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml

from glmstack.ascend import expected_file
from glmstack.catalog import ASCEND_COMPONENTS, load_catalog

LOG = "/var/log/glmstack-standin-installers.log"

# What each component's real installer leaves that the deploy reads, per component: version
# file content ({version}), and other files.
_LEAVES = {
    "driver": ("Version={version}\n", {
        "/usr/local/bin/npu-smi": "#!/bin/sh\n# STAND-IN npu-smi (glmstack lab test)\necho 'npu-smi stand-in: "
                                  "no NPU here'\n"}),
    "firmware": ("Version={version}\n", {}),
    "toolkit": ("package_name=Ascend-cann-toolkit\nversion={version}\n", {
        "/usr/local/Ascend/ascend-toolkit/set_env.sh":
            "# STAND-IN set_env.sh (glmstack lab test)\n"
            "export ASCEND_TOOLKIT_HOME=/usr/local/Ascend/ascend-toolkit/latest\n"
            "export LD_LIBRARY_PATH=${ASCEND_TOOLKIT_HOME}/lib64:${LD_LIBRARY_PATH}\n"
            "export PATH=${ASCEND_TOOLKIT_HOME}/bin:$PATH\n"
            "export PS1='not for the engine'\n"}),
    "ops": ("version={version}\n", {}),
    "nnal": ("Ascend-cann-atb : {version}\nAscend-cann-atb Version : {version}.B010\n", {
        "/usr/local/Ascend/nnal/atb/set_env.sh":
            "# STAND-IN set_env.sh (glmstack lab test)\nexport ATB_HOME_PATH=/usr/local/Ascend/nnal/atb/latest\n"}),
}


def standin_installer(component: str, version: str, arch: str) -> str:
    platform = load_catalog().ascend
    version_file = platform.components[component].version_files[0].format(arch=arch)
    content, others = _LEAVES[component]
    writes = [f"mkdir -p {Path(version_file).parent}",
              f"cat > {version_file} <<'VERSION'\n{content.format(version=version)}VERSION"]
    for path, text in others.items():
        writes += [f"mkdir -p {Path(path).parent}", f"cat > {path} <<'FILE'\n{text}FILE", f"chmod 755 {path}"]
    needs_user = (f"id {platform.user} >/dev/null 2>&1 || {{ echo 'the {platform.user} user must exist first' >&2; "
                  "exit 3; }") if component == "driver" else ":"
    return "\n".join([
        "#!/bin/bash",
        f"# STAND-IN for Huawei's {component} installer {version} (glmstack lab test): records its run and",
        "# leaves the version file the real one leaves. It installs nothing an NPU needs.",
        "set -eu",
        f"echo \"{component} {version} $*\" >> {LOG}",
        needs_user,
        f"if [[ \" $* \" == *' --upgrade '* ]] && [ ! -f {version_file} ]; then",
        f"  echo 'nothing to upgrade: {version_file} is missing' >&2; exit 2",
        "fi",
        *writes,
        "",
    ])


def write_package_set(directory: Path, accelerator: str, arch: str, versions: dict[str, str]) -> Path:
    """Stand-in installers for every component at `versions` in `directory`, and their manifest.
    Returns the manifest's path."""
    catalog = load_catalog()
    chip = catalog.ascend.chips[accelerator].model_dump()
    directory.mkdir(parents=True, exist_ok=True)
    packages = []
    for component in ASCEND_COMPONENTS:
        version = versions[component]
        name = expected_file(catalog.ascend.components[component], chip, version, arch)
        data = standin_installer(component, version, arch).encode()
        (directory / name).write_bytes(data)
        packages.append({"component": component, "file": name, "version": version,
                         "sha256": hashlib.sha256(data).hexdigest()})
    manifest = directory / "manifest.yaml"
    manifest.write_text(yaml.safe_dump({"packages": packages}, sort_keys=False))
    manifest.chmod(0o644)
    return manifest
