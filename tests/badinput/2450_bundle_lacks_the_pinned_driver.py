# expect: host bad-1.invalid: field bundle: apt/nvidia/debian12/x86_64: cuda-drivers-580 580.105.08 is not in the bundle (debian-12 x86_64); make the bundle again from this inventory
from pathlib import Path

from glmstack.inventory import group

# A bundle made while the catalog pinned another driver: it holds cuda-drivers-580 at 580.65.06 only.
hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm",
              bundle=str(Path(__file__).resolve().parent / "vendor-bundles" / "old-driver"))
