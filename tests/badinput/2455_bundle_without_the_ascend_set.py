# expect: ascend/ascend-a3: not in the bundle, which carries no Ascend package set for ascend-a3; make it again from this inventory (glmstack bundle)
from pathlib import Path

from glmstack.inventory import group

# A bundle made without the A3's package set (an NVIDIA inventory's).
hosts = group([("bad-1.invalid", {})], accelerator="ascend-a3", model="glm-5.2-w8a8", engine="vllm-ascend",
              model_revision="0" * 40,
              bundle=str(Path(__file__).resolve().parent / "vendor-bundles" / "nvidia-only"))
