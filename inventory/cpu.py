"""CPU servers: GLM-5.2 as a GGUF quant on llama.cpp (the CPU row of seed 003).

    pyinfra inventory/cpu.py deploys/glm52.py

Put your servers in the host list. Host data is checked against the catalog when this file
loads, before pyinfra connects to anything; any setting in docs/settings.md can be given
for the whole group below or per host.
"""

from glmstack.inventory import group

cpu = group(
    [
        ("cpu-1.lab.example", {"ssh_user": "root"}),
    ],
    accelerator="cpu",
    model="glm-5.2-gguf",
    engine="llama.cpp",
    # `glmstack lock inventory/cpu.py` pins the hub commit of unsloth/GLM-5.2-GGUF, every file's
    # sum and the quant's first shard in inventory/cpu.lock.json (the deploy refuses until then);
    # or pin them here by hand, and the lock checks them:
    # model_revision="<40-character commit sha>",
    # model_entry="UD-IQ2_XXS/GLM-5.2-UD-IQ2_XXS-00001-of-0000N.gguf",
    # Optional: a private hub token, in a file only you can read (chmod 600).
    # model_hf_token_file="~/.config/glmstack/hf-token",
    served_model_name="glm-5.2",
    max_model_len=8192,
)
