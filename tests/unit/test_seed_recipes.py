"""Every configuration the seeds describe, planned with `glmstack plan --json` from an inventory.

The expected flags and environment are copied from the seed texts (../shared/seeds), not from the
catalog, so a catalog that drifts from its seeds fails here.
"""

from __future__ import annotations

import json
import textwrap

import pytest

from glmstack.cli import main

PIN = "1" * 40  # stands in for a commit sha where the catalog has none yet
ROCE_MASK = {"ascend_roce_netmask": "255.255.255.0"}


def roce(host: str, node: int, npus: int) -> tuple[str, dict]:
    """A multi-node Ascend host with its NPUs' RoCE addresses (not part of the seeds' commands)."""
    return host, {"ascend_roce_addresses": [f"198.51.100.{16 * node + npu + 1}" for npu in range(npus)]}
HERMES = ["--tool-call-parser glm47", "--reasoning-parser glm45"]
AITER_ENV = {"VLLM_ROCM_USE_AITER": "1", "VLLM_ROCM_USE_AITER_FUSION_SHARED_EXPERTS": "1"}
ASCEND_ENV = {"HCCL_OP_EXPANSION_MODE": "AIV", "OMP_PROC_BIND": "false", "OMP_NUM_THREADS": "1",
              "HCCL_BUFFSIZE": "200", "PYTORCH_NPU_ALLOC_CONF": "expandable_segments:True",
              "HCCL_CONNECT_TIMEOUT": "3600", "HCCL_EXEC_TIMEOUT": "3600"}
ASCEND_W8A8_FLAGS = ["--enable-expert-parallel", "--quantization ascend", "--trust-remote-code",
                     '--compilation-config {"cudagraph_mode":"FULL_DECODE_ONLY"}',
                     # The tutorial's --additional-config and its VLLM_ASCEND_ENABLE_MLAPO=1, one object;
                     # fused MC2 off, as vllm-ascend would otherwise switch the overlap off.
                     '--additional-config {"multistream_overlap_shared_expert":true,"enable_mlapo":true,'
                     '"enable_fused_mc2":0}',
                     # vLLM 0.23.0 replaces the tutorial's deprecated "deepseek_mtp" with "mtp".
                     '--speculative-config {"num_speculative_tokens":3,"method":"mtp","enforce_eager":true}',
                     *HERMES, "--enable-auto-tool-choice"]

# id: (group data, hosts (a name, or a name with its own data), {host: (flags that must appear, env that must
# be set)}, flags that must not appear)
SEEDS = {
    "000-h200-fp8": (
        {"accelerator": "h200", "model": "glm-5.2-fp8", "engine": "vllm"}, ["h1"],
        {"h1": (["--kv-cache-dtype fp8", "--tensor-parallel-size 8", "--speculative-config.method mtp",
                 "--speculative-config.num_speculative_tokens 5", *HERMES, "--enable-auto-tool-choice",
                 "--served-model-name glm-5.2-fp8"], {})}, []),
    "000-h20-fp8": (
        {"accelerator": "h20", "model": "glm-5.2-fp8", "engine": "vllm"}, ["h1"],
        {"h1": (["--kv-cache-dtype fp8", "--tensor-parallel-size 8",
                 "--speculative-config.num_speculative_tokens 5", *HERMES, "--enable-auto-tool-choice"], {})}, []),
    "000-b200-fp8-1m": (
        {"accelerator": "b200", "model": "glm-5.2-fp8", "engine": "vllm"}, ["h1"],
        {"h1": (["--kv-cache-dtype fp8_e4m3", "--tensor-parallel-size 8", "--speculative-config.method mtp",
                 "--speculative-config.num_speculative_tokens 5", "--max-num-seqs 32", *HERMES,
                 "--enable-auto-tool-choice", "--served-model-name glm-5.2-fp8"],
                {"VLLM_DEEP_GEMM_WARMUP": "skip"})}, ["--max-model-len"]),
    "000-mi300x-fp8": (
        {"accelerator": "mi300x", "model": "glm-5.2-fp8", "engine": "vllm"}, ["h1"],
        {"h1": (["--kv-cache-dtype fp8_e4m3", "--tensor-parallel-size 8", "--speculative-config.method mtp",
                 "--speculative-config.num_speculative_tokens 5", *HERMES, "--enable-auto-tool-choice",
                 "--gpu-memory-utilization 0.8", "--max-model-len 524288", "--max-num-seqs 32",
                 "--linear-backend aiter", "--moe-backend aiter"], AITER_ENV)}, []),
    "000-mi355x-fp8": (
        {"accelerator": "mi355x", "model": "glm-5.2-fp8", "engine": "vllm"}, ["h1"],
        {"h1": (["--kv-cache-dtype fp8_e4m3", "--gpu-memory-utilization 0.8", "--max-model-len 524288",
                 "--max-num-seqs 32", "--linear-backend aiter", "--moe-backend aiter"], AITER_ENV)}, []),
    "000-h200-bf16-two-nodes-ray": (
        {"accelerator": "h200", "model": "glm-5.2-bf16", "engine": "vllm", "model_revision": PIN,
         "deployment": "bf16", "network_interface": "ens1f0"}, ["10.0.0.1", "10.0.0.2"],
        {"10.0.0.1": (["--tensor-parallel-size 8", "--pipeline-parallel-size 2", "--distributed-executor-backend ray"],
                      {"RAY_ADDRESS": "10.0.0.1:6379", "NCCL_SOCKET_IFNAME": "ens1f0", "GLOO_SOCKET_IFNAME": "ens1f0"}),
         # The worker runs Ray alone, joined to the head, with its own VLLM_HOST_IP.
         "10.0.0.2": (["start --block --address 10.0.0.1:6379 --node-ip-address 10.0.0.2"],
                      {"VLLM_HOST_IP": "10.0.0.2", "NCCL_SOCKET_IFNAME": "ens1f0"})}, ["--nnodes", "--headless"]),
    "000-h200-bf16-two-nodes-mp": (
        {"accelerator": "h200", "model": "glm-5.2-bf16", "engine": "vllm", "model_revision": PIN,
         "deployment": "bf16", "network_interface": "ens1f0", "recipe_variant": "mp"}, ["10.0.0.1", "10.0.0.2"],
        {"10.0.0.1": (["--tensor-parallel-size 8", "--pipeline-parallel-size 2", "--nnodes 2", "--node-rank 0",
                       "--master-addr 10.0.0.1", "--master-port 29500"], {"NCCL_SOCKET_IFNAME": "ens1f0"}),
         "10.0.0.2": (["--nnodes 2", "--node-rank 1", "--master-addr 10.0.0.1", "--headless"], {})},
        ["--distributed-executor-backend", "RAY_ADDRESS"]),
    "000-h100-bf16-three-nodes-ray": (
        {"accelerator": "h100", "model": "glm-5.2-bf16", "engine": "vllm", "model_revision": PIN,
         "deployment": "bf16", "network_interface": "ib0"}, ["10.0.0.1", "10.0.0.2", "10.0.0.3"],
        {"10.0.0.1": (["--tensor-parallel-size 8", "--pipeline-parallel-size 3", "--distributed-executor-backend ray"],
                      {"RAY_ADDRESS": "10.0.0.1:6379", "GLOO_SOCKET_IFNAME": "ib0"}),
         "10.0.0.3": (["--address 10.0.0.1:6379 --node-ip-address 10.0.0.3"], {"VLLM_HOST_IP": "10.0.0.3"})}, []),
    "000-h200-bf16-two-nodes-sglang": (
        {"accelerator": "h200", "model": "glm-5.2-bf16", "engine": "sglang", "model_revision": PIN,
         "deployment": "bf16", "network_interface": "ens1f0", "service_bind_host": "127.0.0.1"},
        ["10.0.0.1", "10.0.0.2"],
        {"10.0.0.1": (["serve --model-path", "--tp-size 16", "--nnodes 2", "--node-rank 0",
                       "--dist-init-addr 10.0.0.1:5000"],
                      {"NCCL_SOCKET_IFNAME": "ens1f0", "GLOO_SOCKET_IFNAME": "ens1f0"}),
         "10.0.0.2": (["--tp-size 16", "--nnodes 2", "--node-rank 1", "--dist-init-addr 10.0.0.1:5000"], {})},
        ["--tp "]),
    "001-b200-vllm-benchmark": (
        {"accelerator": "b200", "model": "glm-5.2-fp8", "engine": "vllm", "recipe_variant": "cu129-benchmark"},
        ["h1"],
        {"h1": (["--tensor-parallel-size 8", "--trust-remote-code", "--kv-cache-dtype fp8", *HERMES,
                 "--served-model-name glm-5.2-fp8"], {})}, ["--speculative-config.method"]),
    "001-b200-sglang": (
        # Behind the operator's proxy: SGLang cannot take an API key without logging it.
        {"accelerator": "b200", "model": "glm-5.2-fp8", "engine": "sglang", "service_bind_host": "127.0.0.1"},
        ["h1"],
        {"h1": (["serve", "--host 127.0.0.1", "--model-path /var/lib/glmstack/models/glm-5.2-fp8",
                 "--served-model-name glm-5.2-fp8", "--tp-size 8", "--trust-remote-code",
                 "--mem-fraction-static 0.85", *HERMES], {})}, ["launch_server", "--tp "]),
    "002-a3-w8a8": (
        {"accelerator": "ascend-a3", "model": "glm-5.2-w8a8", "engine": "vllm-ascend", "model_revision": PIN},
        ["h1"],
        {"h1": (["--tensor-parallel-size 16", *ASCEND_W8A8_FLAGS],
                ASCEND_ENV)}, ["VLLM_ASCEND_ENABLE_MLAPO", "VLLM_ASCEND_ENABLE_FUSED_MC2"]),
    "002-a2-w8a8-two-nodes": (
        {"accelerator": "ascend-a2", "model": "glm-5.2-w8a8", "engine": "vllm-ascend", "model_revision": PIN,
         "deployment": "a2", "network_interface": "enp189s0f0", **ROCE_MASK},
        [roce("10.0.1.1", 0, 8), roce("10.0.1.2", 1, 8)],
        {"10.0.1.1": (["--tensor-parallel-size 8", *ASCEND_W8A8_FLAGS, "--data-parallel-size 2",
                       "--data-parallel-size-local 1", "--data-parallel-address 10.0.1.1",
                       "--data-parallel-rpc-port 12890"],
                  {**ASCEND_ENV, "HCCL_IF_IP": "10.0.1.1", "GLOO_SOCKET_IFNAME": "enp189s0f0",
                   "TP_SOCKET_IFNAME": "enp189s0f0", "HCCL_SOCKET_IFNAME": "enp189s0f0"}),
         "10.0.1.2": (["--headless", "--data-parallel-start-rank 1", "--data-parallel-address 10.0.1.1",
                       *ASCEND_W8A8_FLAGS], {"HCCL_IF_IP": "10.0.1.2"})},
        ["VLLM_ASCEND_ENABLE_MLAPO", "VLLM_ASCEND_ENABLE_FUSED_MC2"]),
    "002-a3-bf16-two-nodes": (
        {"accelerator": "ascend-a3", "model": "glm-5.2-bf16", "engine": "vllm-ascend", "model_revision": PIN,
         "deployment": "a3", "network_interface": "eth1", **ROCE_MASK},
        [roce("10.0.2.1", 0, 16), roce("10.0.2.2", 1, 16)],
        {"10.0.2.1": (["--tensor-parallel-size 16", "--data-parallel-size 2"], ASCEND_ENV),
         "10.0.2.2": (["--headless"], ASCEND_ENV)}, ["--quantization ascend"]),
    "002-a2-bf16-four-nodes": (
        {"accelerator": "ascend-a2", "model": "glm-5.2-bf16", "engine": "vllm-ascend", "model_revision": PIN,
         "deployment": "a2", "network_interface": "eth1", **ROCE_MASK},
        [roce(f"10.0.3.{node + 1}", node, 8) for node in range(4)],
        {"10.0.3.1": (["--data-parallel-size 4", "--data-parallel-size-local 1"], ASCEND_ENV),
         "10.0.3.4": (["--headless", "--data-parallel-start-rank 3"], ASCEND_ENV)}, []),
    "003-gh200-fp8-offload": (
        {"accelerator": "gh200", "model": "glm-5.2-fp8", "engine": "vllm"}, ["h1"],
        {"h1": (["--tensor-parallel-size 2", "--cpu-offload-gb 270", "--max-model-len 4096"], {})},
        ["--speculative-config.method"]),
    "003-gh200-awq": (
        {"accelerator": "gh200", "model": "glm-5.2-awq-int4", "engine": "vllm", "model_revision": PIN}, ["h1"],
        {"h1": (["--tensor-parallel-size 2", "--cpu-offload-gb"], {})}, ["--speculative-config.method"]),
    "003-cpu-gguf": (
        {"accelerator": "cpu", "model": "glm-5.2-gguf", "engine": "llama.cpp", "model_revision": PIN,
         "model_entry": "UD-IQ2_XXS/GLM-5.2-UD-IQ2_XXS-00001-of-00005.gguf"}, ["h1"],
        {"h1": (["--model /var/lib/glmstack/models/glm-5.2-gguf/UD-IQ2_XXS/GLM-5.2-UD-IQ2_XXS-00001-of-00005.gguf",
                 "--alias glm-5.2-gguf"], {})}, ["--speculative"]),
    "004-glm45-fp8-tp8": (
        {"accelerator": "h200", "model": "glm-4.5-fp8", "engine": "vllm", "model_revision": PIN}, ["h1"],
        {"h1": (["--tensor-parallel-size 8", "--tool-call-parser glm45", "--reasoning-parser glm45",
                 "--enable-auto-tool-choice"], {})}, ["--speculative-config.method"]),
    "004-glm45-fp8-mtp": (
        {"accelerator": "h200", "model": "glm-4.5-fp8", "engine": "vllm", "model_revision": PIN,
         "recipe_variant": "mtp"}, ["h1"],
        {"h1": (["--tensor-parallel-size 4", "--speculative-config.method mtp",
                 "--speculative-config.num_speculative_tokens 1", "--tool-call-parser glm45"], {})}, []),
    "004-glm45-bf16": (
        {"accelerator": "h200", "model": "glm-4.5-bf16", "engine": "vllm", "model_revision": PIN}, ["h1"],
        {"h1": (["--tensor-parallel-size 8", "--tool-call-parser glm45", "--reasoning-parser glm45"], {})}, []),
    "004-glm45-mi300x": (
        {"accelerator": "mi300x", "model": "glm-4.5-fp8", "engine": "vllm", "model_revision": PIN}, ["h1"],
        {"h1": (["--tensor-parallel-size 8", "--tool-call-parser glm45"], {})}, []),
    "004-glm45-mi355x": (
        {"accelerator": "mi355x", "model": "glm-4.5-fp8", "engine": "vllm", "model_revision": PIN}, ["h1"],
        {"h1": (["--tensor-parallel-size 8", "--tool-call-parser glm45"], {})}, []),
}


def write_inventory(tmp_path, group_data: dict, hosts: list[str | tuple[str, dict]]):
    path = tmp_path / "inventory.py"
    entries = [(host, {}) if isinstance(host, str) else host for host in hosts]
    path.write_text(textwrap.dedent(f"""\
        from glmstack.inventory import group
        nodes = group({entries!r}, **{group_data!r})
        """))
    return path


def plan_json(capsys, path) -> tuple[int, dict]:
    code = main(["plan", str(path), "--json"])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(("group_data", "hosts", "expected", "absent"), SEEDS.values(), ids=SEEDS.keys())
def test_plan_shows_the_seed_flags_and_environment(tmp_path, capsys, group_data, hosts, expected, absent):
    code, document = plan_json(capsys, write_inventory(tmp_path, group_data, hosts))
    assert code == 0, document["errors"]
    by_host = {entry["host"]: entry for entry in document["hosts"]}
    assert list(by_host) == [host if isinstance(host, str) else host[0] for host in hosts]
    for host, (flags, env) in expected.items():
        entry = by_host[host]
        command = " ".join(entry["command"])
        for flag in flags:
            assert f" {flag} " in f" {command} ", f"{host}: {flag!r} missing from {command}"
        for name, value in env.items():
            assert entry["env"].get(name) == value, f"{host}: {name}={entry['env'].get(name)!r}, want {value!r}"
        for flag in absent:
            assert flag not in command and flag not in entry["env"]
        assert entry["fits"] in (True, None)
        for key in ("accelerator", "model", "engine"):
            assert entry[key] == group_data[key]
