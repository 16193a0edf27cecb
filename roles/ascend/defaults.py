"""Settings of the ascend role: the operator's package set, its manifest, reboots, and the NPUs'
RoCE addresses."""

from pathlib import Path

from pydantic import BaseModel, Field


class AscendSettings(BaseModel):
    ascend_packages: str | None = Field(
        None, pattern=r"^(/|https?://)\S+$",
        description="Where the installers are: a directory on the control machine, or an http(s) base URL "
                    "the hosts download them from (Ascend's downloads need a login, so there is no default).")
    ascend_manifest: Path | None = Field(
        None, description="The package set's manifest on the control machine (YAML: each installer's "
                          "component, file, version and sha256); None: manifest.yaml in ascend_packages "
                          "when that is a directory.")
    ascend_pip_extra_index_urls: list[str] = Field(
        [], description="Extra package indexes for the engine's Python packages (vllm-ascend's docs use "
                        "Huawei Cloud's 'variant' index); empty: the host's own pip configuration only.")
    ascend_allow_reboot: bool = Field(
        False, description="Reboot after the driver or firmware was installed; otherwise stop and say so.")
    ascend_reboot_timeout: int = Field(900, ge=60, description="Seconds to wait for the host to come back.")
    ascend_roce_addresses: list[str] | None = Field(
        None, description="Each NPU's RoCE address (IPv4), NPU 0 first, one per NPU of the accelerator (8 on "
                          "an A2, 16 on an A3): HCCL runs between nodes over these ports, so every node of a "
                          "multi-node deployment needs them. Set with hccn_tool where they differ.")
    ascend_roce_netmask: str | None = Field(
        None, description="The netmask of ascend_roce_addresses, dotted (255.255.255.0); required with them. "
                          "All of a host's addresses lie in one subnet, and a deployment's nodes share it.")
