# expect: host bad-1.invalid: field extra_flags: item 1 (--tensor-parallel) is a prefix the engine's parser takes for --tensor-parallel-size
from glmstack.inventory import group

# argparse (allow_abbrev) takes an unambiguous prefix for the whole option.
hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", extra_flags=["--tensor-parallel", "4"])
