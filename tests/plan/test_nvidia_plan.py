"""Plan tests: what deploys/glm52.py does on NVIDIA hosts, state by state.

The hosts are built by nvidia_states.py (the captured Debian 12 lab node underneath, NVIDIA
answers constructed in the facts' own formats): no NVIDIA machine was captured yet.
"""

from __future__ import annotations

import pytest
from fakehost import run_deploy
from gpu_states import OLD_DRIVER, UBUNTU_2204, UBUNTU_2404, NvidiaHost

from glmstack.catalog import load_catalog
from glmstack.config import resolve
from roles.model import fetch_script, graft_script, weights_parts

H200 = {"accelerator": "h200", "model": "glm-5.2-fp8", "engine": "vllm"}
B200 = {"accelerator": "b200", "model": "glm-5.2-fp8", "engine": "vllm"}
GH200 = {"accelerator": "gh200", "model": "glm-5.2-fp8", "engine": "vllm"}
PIN = load_catalog().nvidia.driver_branches["580"].version
INSTALL = "apt-get install -y --no-install-recommends --allow-downgrades --allow-change-held-packages"
REBOOT = "( sleep 1 && reboot )"


def deploy(data: dict, state: NvidiaHost, **kwargs):
    return run_deploy(data, state.responses(), **kwargs)



def message_of(error) -> str:
    return str(error.value.__cause__ or error.value)


# ---- a fresh machine ----


@pytest.fixture(scope="module")
def fresh_h200():
    return deploy(H200, NvidiaHost(H200))


def test_fresh_hgx_gets_repository_driver_toolkit_fabric_then_engine_in_order(fresh_h200):
    order = [
        # The weights download starts first and runs while everything below installs.
        "systemctl start --no-block glmstack-weights-glm-5.2-fp8.service",
        "sed -i -E '/^Components:/{/contrib/!s/$/ contrib/}'",  # Debian: contrib for the driver's deps
        "install --no-install-recommends linux-headers-6.1.0-28-amd64 dkms",
        "https://developer.download.nvidia.com/compute/cuda/repos/debian12/x86_64/cuda-keyring_1.1-1_all.deb",
        f"{INSTALL} -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold nvidia-open-580 "
        "cuda-drivers-580",
        "apt-mark hold nvidia-open-580 cuda-drivers-580",
        "update-initramfs -u",
        "cuda-toolkit-13-0",
        "nvidia-fabricmanager-580",
        "modprobe nvidia && modprobe nvidia_uvm",
        "systemctl start nvidia-persistenced.service",
        "systemctl start nvidia-fabricmanager.service",
        "uv venv --quiet --python python3 /opt/glmstack/venvs/vllm-0.23.0-",
        "echo state=$(systemctl is-active glmstack-weights-glm-5.2-fp8.service)",  # waits for the weights
        "systemctl start vllm.service",
    ]
    fresh_h200.assert_in_order(order)
    script = fetch_script(resolve("h200-1", H200))
    assert "hf download zai-org/GLM-5.2-FP8 --revision ba978f7d347eaf65d22f1a86833408afdb953541" in script


def test_fresh_hgx_engine_is_the_catalog_pin_proven_with_deepgemm(fresh_h200):
    install = next(c for c in fresh_h200.commands if "uv venv --quiet --python python3" in c)
    pip = next(line for line in install.splitlines() if "pip install --quiet --python /opt/glmstack/venvs/vllm" in line)
    # CUDA 13: PyPI's own build; GLM-5.2 needs a transformers that knows glm_moe_dsa (seed 000).
    assert pip.endswith(" vllm==0.23.0 'transformers>=5.9.0'") and "--torch-backend" not in pip
    assert "installed {v}, pinned 0.23.0" in install
    # Proven before it is marked installed: version command, imports, DeepGEMM (driver loaded by then).
    assert (install.index("bin/vllm --version") < install.index("import vllm.third_party.deep_gemm")
            < install.rindex("GLMSTACK-INSTALL"))


def test_driver_family_is_pinned_to_one_version():
    from roles.nvidia import preferences

    text = preferences(NvidiaHost(H200).plan.nvidia)
    assert f"Pin: version {PIN}-*" in text and "Pin-Priority: 1001" in text
    assert "nvidia-*" in text and "libnvidia-*" in text


def test_mirror_replaces_nvidias_host_everywhere():
    data = {**H200, "nvidia_repo_url": "http://mirror.lab.example/cuda/repos/"}
    run = deploy(data, NvidiaHost(data))
    assert any("http://mirror.lab.example/cuda/repos/debian12/x86_64/cuda-keyring_1.1-1_all.deb" in c
               for c in run.commands)
    assert not any("developer.download.nvidia.com" in c for c in run.commands)


@pytest.mark.parametrize(("release", "directory"), [(UBUNTU_2404, "ubuntu2404"), (UBUNTU_2204, "ubuntu2204")])
def test_ubuntu_hosts_use_their_own_repository_and_keep_their_sources(release, directory):
    run = deploy(H200, NvidiaHost(H200).os(release))
    assert any(f"/compute/cuda/repos/{directory}/x86_64/cuda-keyring" in c for c in run.commands)
    assert not any("contrib" in c for c in run.commands if "sed -i" in c)




def test_gh200_uses_sbsa_has_no_fabric_manager_and_binds_numa():
    state = NvidiaHost(GH200).os(UBUNTU_2404, arch="aarch64")
    argv = " ".join(state.plan.serve_argv)
    # Seed 003: TP2, 270 GiB of experts per rank in Grace memory, each worker on its own NUMA node.
    assert "--tensor-parallel-size 2 --cpu-offload-gb 270 --max-model-len 4096" in argv
    assert "--cpu-offload-params experts --numa-bind" in argv
    assert "numactl" in state.plan.engine_env.system_packages
    run = deploy(GH200, state)
    assert any("/compute/cuda/repos/ubuntu2404/sbsa/cuda-keyring" in c for c in run.commands)
    assert not any("fabricmanager" in c for c in run.commands)  # one module per GPU, no NVSwitch
    assert "glmstack nvidia | Fabric manager" not in run.changed


GRAFT = {**GH200, "model": "glm-5.2-awq-int4-mtp-fp8", "model_revision": "1" * 40,
         "model_graft_revision": "2" * 40,
         "engine_requirement": "vllm @ https://files.lab.example/vllm-0.23.0.post1-cp38-abi3-linux_aarch64.whl"
                               "#sha256=" + "a" * 64}


def test_gh200_graft_fetches_base_and_delta_grafts_them_then_serves_with_mtp():
    state = NvidiaHost(GRAFT).os(UBUNTU_2404, arch="aarch64")
    plan = state.plan
    argv = " ".join(plan.serve_argv)
    assert argv.startswith(f"{plan.binary} serve /var/lib/glmstack/models/glm-5.2-awq-int4-mtp-fp8 ")
    # Seed 003's fastest vLLM result: MTP-3 on the graft, TP2, experts in Grace memory, NUMA-bound.
    assert "--speculative-config.method mtp --speculative-config.num_speculative_tokens 3" in argv
    assert "--tensor-parallel-size 2" in argv and "--cpu-offload-params experts --numa-bind" in argv
    run = deploy(GRAFT, state)
    run.assert_in_order([
        # Both parts start downloading first, each as if it were the model (its own unit and directory).
        "systemctl start --no-block glmstack-weights-glm-5.2-awq-int4.service",
        "systemctl start --no-block glmstack-weights-glm-5.2-mtp-fp8-delta.service",
        "uv venv --quiet --python python3 /opt/glmstack/venvs/vllm-0.23.0-",
        "echo state=$(systemctl is-active glmstack-weights-glm-5.2-awq-int4.service)",
        "echo state=$(systemctl is-active glmstack-weights-glm-5.2-mtp-fp8-delta.service)",
        "/bin/bash /opt/glmstack/lib/graft-weights-glm-5.2-awq-int4-mtp-fp8.sh",
        "systemctl start vllm.service",
    ])
    # The host's patched build replaces the release, pinned by its sum instead of the version.
    install = next(c for c in run.commands if "uv venv --quiet --python python3" in c)
    assert install.splitlines()[-0] and GRAFT["engine_requirement"] in install and "vllm==0.23.0" not in install
    assert "pinned 0.23.0" not in install
    assert "glmstack engine | Install vllm build aaaaaaaaaaaa" in run.changed
    base, delta = (fetch_script(part) for part in weights_parts(plan))
    assert f"hf download cyankiwi/GLM-5.2-AWQ-INT4 --revision {'1' * 40}" in base
    assert f"hf download dnhkng/GLM-5.2-AWQ-INT4-FP8-MTP-delta --revision {'2' * 40}" in delta
    graft = graft_script(plan)
    assert ("runuser -u glmstack -- env PATH=" in graft and
            "/var/lib/glmstack/models/glm-5.2-mtp-fp8-delta/graft_glm52_awq_mtp.sh --awq-dir "
            "/var/lib/glmstack/models/glm-5.2-awq-int4 --mtp-delta-dir /var/lib/glmstack/models/glm-5.2-mtp-fp8-delta "
            "--out-dir /var/lib/glmstack/models/glm-5.2-awq-int4-mtp-fp8.graft/out" in graft)
    # Checked, then moved into place, then marked: never marked before the check.
    assert graft.index("model.layers.78.") < graft.index("mv ") < graft.index(f"{plan.model.fingerprint} >")


def test_converged_gh200_graft_changes_nothing():
    state = NvidiaHost(GRAFT).converged()
    nvidia = state.plan.nvidia
    state.answer("uname -m", ["aarch64"]).file(
        "/etc/apt/sources.list.d/cuda-debian12-sbsa.list",
        f"deb [signed-by={nvidia.keyring_file}] {nvidia.repo_url}/debian12/sbsa/ /\n", "-rw-r--r--")
    run = deploy(GRAFT, state)
    assert run.changed == []
    assert "glmstack model | Graft glm-5.2-mtp-fp8-delta onto glm-5.2-awq-int4" in run.unchanged


def test_b200_gets_the_nvlink5_subnet_manager_and_ib_umad():
    run = deploy(B200, NvidiaHost(B200))
    assert any(f"{INSTALL}" in c and c.endswith("nvlsm libnvidia-nscq-580") for c in run.commands)
    assert "modprobe -a ib_umad" in run.commands
    assert run.index_of("nvidia-fabricmanager-580") < run.index_of("nvlsm")


def test_dcgm_is_optional():
    data = {**H200, "nvidia_dcgm": True}
    run = deploy(data, NvidiaHost(data))
    assert any(c.endswith("datacenter-gpu-manager-4-cuda13") for c in run.commands if INSTALL in c)
    assert any("systemctl start nvidia-dcgm.service" in c for c in run.commands)
    assert not any("datacenter-gpu-manager" in c for c in deploy(H200, NvidiaHost(H200)).commands)


# ---- already converged ----


def test_converged_host_changes_nothing():
    run = deploy(H200, NvidiaHost(H200).converged())
    assert run.changed == []
    assert len(run.unchanged) > 25


def test_converged_b200_changes_nothing():
    state = NvidiaHost(B200).converged()
    state.directory("/etc/modules-load.d").file("/etc/modules-load.d/glmstack-ib_umad.conf", "ib_umad\n",
                                                "-rw-r--r--")
    state.answer("cat /proc/modules", ["ib_umad 45056 0 - Live 0x0000000000000000"])
    run = deploy(B200, state)
    assert run.changed == []


# ---- drifted or pending states ----


def test_wrong_driver_branch_is_replaced_then_the_deploy_stops_for_the_reboot():
    state = NvidiaHost(H200).converged()
    old = (("nvidia-open-570", f"{OLD_DRIVER}-1"), ("cuda-drivers-570", f"{OLD_DRIVER}-1"))
    state.extra_packages = [p for p in state.extra_packages if not p[0].startswith(("nvidia-open", "cuda-drivers"))]
    state.packages(*old).held("nvidia-open-570", "cuda-drivers-570", "cuda-toolkit-13-0",
                              "nvidia-fabricmanager-580")
    state.driver(OLD_DRIVER, OLD_DRIVER)
    state.answer("a reboot is needed", [], success=False)
    run = deploy(H200, state, allow_failure=True)
    commands = run.commands
    assert run.index_of("apt-mark unhold cuda-drivers-570 nvidia-open-570") < run.index_of(
        f"{INSTALL} -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "
        "nvidia-open-580 cuda-drivers-580")
    assert run.failed == ["glmstack nvidia | Run the installed driver"]
    stop = next(c for c in commands if "a reboot is needed" in c)
    assert f"NVIDIA driver {PIN} is installed but driver {OLD_DRIVER} is loaded" in stop
    assert "nvidia_allow_reboot: true" in stop
    assert not any(REBOOT in c for c in commands)
    assert not any("systemctl restart vllm" in c or "uv venv" in c for c in commands)  # nothing after the stop


def test_fabric_manager_version_mismatch_is_fixed_alone():
    state = NvidiaHost(H200).converged()
    state.extra_packages = [p if p[0] != "nvidia-fabricmanager-580" else (p[0], "580.95.05-1")
                            for p in state.extra_packages]
    run = deploy(H200, state)
    assert run.changed == [f"glmstack nvidia | Fabric manager {PIN}"]
    assert any(c.endswith("nvidia-fabricmanager-580") for c in run.commands if INSTALL in c)
    # Only the fabric manager's hold is lifted; the driver's stays.
    assert "apt-mark unhold nvidia-fabricmanager-580" in run.commands


def test_unheld_driver_is_held_again_without_reinstalling():
    state = NvidiaHost(H200).converged().held("cuda-toolkit-13-0", "nvidia-fabricmanager-580")
    run = deploy(H200, state)
    assert run.changed == [f"glmstack nvidia | NVIDIA driver {PIN} (open modules)"]
    assert any("apt-mark hold nvidia-open-580 cuda-drivers-580" in c for c in run.commands)
    assert not any(INSTALL in c for c in run.commands)


def test_secure_boot_without_an_enrolled_key_stops_before_any_change():
    from pyinfra.api.exceptions import PyinfraError

    with pytest.raises(PyinfraError) as error:
        deploy(H200, NvidiaHost(H200).secure_boot(True))
    message = message_of(error)
    assert "host @fake/node1: UEFI Secure Boot is on" in message
    assert "mokutil --import /var/lib/dkms/mok.pub" in message and "Nothing was changed" in message


def test_secure_boot_with_the_dkms_key_enrolled_proceeds():
    run = deploy(H200, NvidiaHost(H200).secure_boot(True, key_enrolled=True))
    assert any("nvidia-open-580 cuda-drivers-580" in c for c in run.commands if INSTALL in c)


def test_reboot_pending_without_permission_stops_and_says_so():
    state = NvidiaHost(H200).converged().driver(OLD_DRIVER, PIN)
    state.answer("a reboot is needed", [], success=False)
    run = deploy(H200, state, allow_failure=True)
    assert run.failed == ["glmstack nvidia | Run the installed driver"]
    assert not any(REBOOT in c for c in run.commands)


def test_reboot_pending_with_permission_reboots_verifies_and_continues(monkeypatch):
    import pyinfra.operations.server as server_ops

    monkeypatch.setattr(server_ops, "sleep", lambda seconds: None)
    data = {**H200, "nvidia_allow_reboot": True}
    before = NvidiaHost(data).converged().driver(OLD_DRIVER, PIN).answer("/proc/uptime", ["86400"])
    after = NvidiaHost(data).converged().answer("/proc/uptime", ["30"])
    run = run_deploy(data, before.responses(), after=(REBOOT, after.responses()))
    assert "glmstack nvidia | Run the installed driver" in run.changed
    after_reboot = run.commands[run.index_of(REBOOT):]
    assert any("/proc/uptime" in c for c in after_reboot), "the reboot was not confirmed by the uptime"
    verify_after_reboot = [c for c in after_reboot if "cat /sys/module/nvidia/version" in c]
    assert verify_after_reboot, "the driver was not checked after the reboot"
    assert "glmstack nvidia | Verify the loaded driver" in run.unchanged


def test_nouveau_holding_the_gpus_needs_a_reboot_not_a_modprobe():
    state = NvidiaHost(H200).driver(None, None, nouveau=True)
    state.answer("a reboot is needed", [], success=False)
    run = deploy(H200, state, allow_failure=True)
    assert not any(c.startswith("modprobe nvidia") for c in run.commands)
    assert "no NVIDIA driver is loaded (nouveau holds the GPUs)" in next(
        c for c in run.commands if "a reboot is needed" in c)


# ---- RHEL 9 (dnf) ----

DNF_INSTALL = "dnf install -y --allowerasing"


def test_fresh_rhel_enables_the_branch_stream_installs_exact_versions_and_locks_them():
    run = deploy(H200, NvidiaHost(H200).rhel())
    commands = run.commands
    order = [
        "dnf install -y kernel-devel-5.14.0-427.13.1.el9_4.x86_64 kernel-headers dkms",
        "dnf install -y python3-dnf-plugin-versionlock",
        "dnf module enable -y nvidia-driver:580-open",
        f"{DNF_INSTALL} nvidia-open-{PIN}",
        "dnf versionlock add nvidia-open",
        "dracut --regenerate-all --force",
        f"{DNF_INSTALL} cuda-toolkit-13-0",
        f"{DNF_INSTALL} nvidia-fabricmanager-{PIN}",
        "dnf versionlock add nvidia-fabricmanager",
        "modprobe nvidia && modprobe nvidia_uvm",
        "uv venv --quiet --python python3.12 /opt/glmstack/venvs/vllm-0.23.0-",
        "systemctl start vllm.service",
    ]
    run.assert_in_order(order)
    assert not any("apt-get" in c or "update-initramfs" in c for c in commands)


def test_fresh_rhel_engine_prerequisites_use_rhel_names():
    run = deploy(H200, NvidiaHost(H200).rhel())
    assert "dnf install -y python3.12 python3.12-devel gcc gcc-c++ make numactl" in run.commands


def test_rhel_without_epel_stops_before_any_change():
    from pyinfra.api.exceptions import PyinfraError

    with pytest.raises(PyinfraError) as error:
        deploy(H200, NvidiaHost(H200).rhel(epel=False))
    assert "host @fake/node1: the NVIDIA driver's DKMS build needs these repositories enabled: EPEL 9" in \
        message_of(error)


def test_converged_rhel_changes_nothing():
    run = deploy(H200, NvidiaHost(H200).rhel().converged())
    assert run.changed == []


def test_rhel_fabric_manager_locked_at_another_version_is_replaced_alone():
    state = NvidiaHost(H200).rhel().converged()
    state.extra_packages = [p if p[0] != "nvidia-fabricmanager" else (p[0], "580.95.05-1.el9")
                            for p in state.extra_packages]
    state.locks(("nvidia-open", f"{PIN}-1.el9"), ("nvidia-fabricmanager", "580.95.05-1.el9"),
                ("cuda-toolkit-13-0", "13.0.2-1"))
    run = deploy(H200, state)
    assert run.changed == [f"glmstack nvidia | Fabric manager {PIN}"]
    assert run.index_of("dnf versionlock delete nvidia-fabricmanager") < run.index_of(
        f"{DNF_INSTALL} nvidia-fabricmanager-{PIN}")


def test_keyring_package_is_installed_only_with_nvidias_key_in_it(fresh_h200):
    keyring = next(c for c in fresh_h200.commands if "cuda-keyring_1.1-1_all.deb" in c)
    # Unpacked aside and its key checked before dpkg runs the package.
    assert keyring.index("dpkg-deb -x /tmp/glmstack-cuda-keyring_1.1-1_all.deb") < keyring.index(
        "grep -qx EB693B3035CD5710E231E123A4B469963BF863CC") < keyring.index("dpkg -i")
    fresh_h200.assert_in_order(["install --no-install-recommends linux-headers-6.1.0-28-amd64 dkms gnupg",
                                "cuda-keyring_1.1-1_all.deb"])


def test_rhel_repository_trusts_only_the_key_with_nvidias_published_sum():
    run = deploy(H200, NvidiaHost(H200).rhel())
    key = next(c for c in run.commands if "D42D0685.pub" in c)
    assert ("d0664fbbdb8c32356d45de36c5984617217b2d0bef41b93ccecd326ba3b80c87  "
            "/etc/pki/rpm-gpg/RPM-GPG-KEY-NVIDIA.new") in key
    assert key.index("sha256sum -c --strict") < key.index("rpm --import /etc/pki/rpm-gpg/RPM-GPG-KEY-NVIDIA")
