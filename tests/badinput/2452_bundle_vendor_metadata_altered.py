# expect: host bad-1.invalid: field bundle: apt/nvidia/debian12/x86_64/InRelease: its sha256 is not the manifest's (a changed or corrupted file)
from pathlib import Path

from glmstack.inventory import group

# NVIDIA's signed InRelease in the bundle is not the file the manifest lists.
hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm",
              bundle=str(Path(__file__).resolve().parent / "vendor-bundles" / "altered-inrelease"))
