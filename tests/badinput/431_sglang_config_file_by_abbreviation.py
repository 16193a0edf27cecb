# expect: host bad-1.invalid: field extra_flags: item 1 (--conf) is refused: --config reads further options from a file on the host
from glmstack.inventory import group

# argparse takes --conf for --config: SGLang then merges the file's options into its arguments.
hosts = group([("bad-1.invalid", {})], accelerator="b200", model="glm-5.2-fp8", engine="sglang", extra_flags=["--conf=/srv/sglang.yaml"])
