# expect: holds a private key: it would be installed world-readable (0644) in the trust store
import atexit
import os
import tempfile
from pathlib import Path

from glmstack.inventory import group

# The CA's certificate with its key appended (a bundle exported from the CA): the key would be
# installed 0644. The key here is a stand-in, written at run time; only its header matters.
certificate = (Path(__file__).parent / "lab-test-ca.crt").read_text()
with tempfile.NamedTemporaryFile("w", suffix=".crt", delete=False) as bundle:
    bundle.write(certificate + "-----BEGIN PRIVATE KEY-----\nTk9UIEEgS0VZ\n-----END PRIVATE KEY-----\n")
atexit.register(os.unlink, bundle.name)
hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm",
              base_extra_ca_certs=[bundle.name])
