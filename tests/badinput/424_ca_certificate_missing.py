# expect: host bad-1.invalid: field base_extra_ca_certs: item 2 (
from pathlib import Path

from glmstack.inventory import group

# A CA file that does not exist used to pass the plan and stop the real deploy after the host was contacted.
here = Path(__file__).parent
hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm",
              base_extra_ca_certs=[str(here / "lab-test-ca.crt"), str(here / "no-such-ca.crt")])
