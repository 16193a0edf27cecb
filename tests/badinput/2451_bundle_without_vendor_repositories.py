# expect: host bad-1.invalid: field bundle: the bundle carries no vendor repository; make it again from this inventory (glmstack bundle)
from pathlib import Path

from glmstack.inventory import group

# A bundle made from a CPU inventory, given to an NVIDIA host.
hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm",
              bundle=str(Path(__file__).resolve().parent / "vendor-bundles" / "no-vendor"))
