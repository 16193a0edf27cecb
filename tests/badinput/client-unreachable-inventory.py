"""`glmstack client` against a host nothing answers on (tests/badinput/2354_client_unreachable.args)."""

from glmstack.inventory import group

cpu = group(
    [("unreachable.lab.example", {"ssh_hostname": "127.0.0.1", "ssh_port": 1, "ssh_user": "root",
                                  "ssh_connect_retries": 0})],
    accelerator="cpu",
    model="glm-5.2-gguf",
    engine="llama.cpp",
    served_model_name="glm-5.2",
    max_model_len=8192,
)
