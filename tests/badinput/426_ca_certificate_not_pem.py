# expect: is not PEM certificates: give one or more -----BEGIN CERTIFICATE----- blocks
from pathlib import Path

from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm",
              base_extra_ca_certs=[str(Path(__file__).with_name("not-a-certificate.crt"))])
