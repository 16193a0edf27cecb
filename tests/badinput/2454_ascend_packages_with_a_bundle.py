# expect: host bad-1.invalid: field ascend_packages: given with bundle, which carries the Ascend package set: give one of them
from pathlib import Path

from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="ascend-a3", model="glm-5.2-w8a8", engine="vllm-ascend",
              model_revision="0" * 40, ascend_packages="/srv/ascend",
              bundle=str(Path(__file__).resolve().parent / "vendor-bundles" / "nvidia-only"))
