"""Host data shared by the unit tests: a CPU host served from an http mirror."""

CPU_MIRROR = {
    "accelerator": "cpu",
    "model": "glm-5.2-gguf",
    "engine": "llama.cpp",
    "served_model_name": "glm-5.2-tiny-test",
    "model_source": "http://10.213.0.1:8099",
    "model_files": {"tiny.gguf": "ab" * 32},
}
