# expect: host bad-1.invalid: field nvidia_repo_url: given with bundle, which carries NVIDIA's packages: give one of them
from pathlib import Path

from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm",
              nvidia_repo_url="http://mirror.lab.example/cuda/repos",
              bundle=str(Path(__file__).resolve().parent / "vendor-bundles" / "nvidia-only"))
