# expect: host bad-1.invalid: field model_source: credentials in a URL end up in command lines and logs
from glmstack.inventory import group

# An S3 presigned URL: the signature is a credential.
hosts = group([("bad-1.invalid", {})], accelerator="cpu", model="glm-5.2-gguf", engine="llama.cpp", model_source="https://bucket.s3.lab.example/glm?X-Amz-Credential=AK%2F1&X-Amz-Signature=0a1b2c", model_entry="m.gguf", model_files={"m.gguf": "a" * 64})
