"""Host data the plan tests deploy with; the fact fixtures were captured with exactly this data.

It is the lab's CPU profile (glmstack.lab.profile) minus the llama.cpp tarball path, which is
specific to one control machine; no fact the deploy reads depends on it.
"""

PLAN_DATA = {
    "accelerator": "cpu",
    "model": "glm-5.2-gguf",
    "engine": "llama.cpp",
    "served_model_name": "glm-5.2-tiny-test",
    "model_source": "http://10.213.0.1:8099",
    "model_files": {"glm-5.2-tiny-test.gguf": "1b60ff179121ab5abf2701f8b39c6614d446c9a84fbd6b2e008657f9036af350"},
    "max_model_len": 2048,
}
