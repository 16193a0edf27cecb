# expect: host bad-1.invalid: field bundle: its weights are weights/glm-5.2-gguf-0123456789abcdef, host data pins other files or sums now (model_files or the lock changed since it was made); make it again with glmstack bundle INVENTORY OUT --weights
from pathlib import Path

from glmstack.inventory import group

# A bundle made with --weights while model_files pinned another file: its weights are not these.
hosts = group([("bad-1.invalid", {})], accelerator="cpu", model="glm-5.2-gguf", engine="llama.cpp",
              model_source="http://10.0.0.1:8099", model_files={"m.gguf": "1" * 64},
              bundle=str(Path(__file__).resolve().parent / "weights-bundles" / "other-pin"))
