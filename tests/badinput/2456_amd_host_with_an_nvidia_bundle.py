# expect: host bad-1.invalid: field bundle: the bundle has no apt/amd/amdgpu-install/7.2.1/ubuntu/jammy for debian-12 x86_64; make it again from this inventory
from pathlib import Path

from glmstack.inventory import group

# The bundle carries NVIDIA's repository for Debian 12, not AMD's.
hosts = group([("bad-1.invalid", {})], accelerator="mi300x", model="glm-5.2-fp8", engine="vllm",
              bundle=str(Path(__file__).resolve().parent / "vendor-bundles" / "nvidia-only"))
