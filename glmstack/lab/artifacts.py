"""What the lab serves to its nodes instead of the internet: llama.cpp source and a tiny model.

The llama.cpp tree comes from the llama-cpp-python sdist on the package index (fetched with the
host's own pip configuration), repacked as a plain tarball and checked to be exactly the commit
the catalog pins. The model is a small random-weight GGUF written with the `gguf` package,
carrying GLM's own chat template from that tree, so llama-server's reasoning handling (the
answer after </think>) runs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

from glmstack.catalog import load_catalog
from glmstack.lab.host import LabError

SDIST_PACKAGE = "llama-cpp-python"
SDIST_VERSION = "0.3.36"
VOCAB_MEMBER = "vendor/llama.cpp/models/ggml-vocab-gpt-2.gguf"
# GLM's chat template as the pinned llama.cpp tree ships it (models/templates/, for its chat tests).
# The tree has GLM-4.6 and GLM-4.7-Flash, no GLM-5: GLM-4.7-Flash's is the newest (the prompt
# ends with "<|assistant|><think>", or "<|assistant|></think>" when enable_thinking is false).
CHAT_TEMPLATE_MEMBER = "vendor/llama.cpp/models/templates/GLM-4.7-Flash.jinja"


def _sdist(cache_dir: Path) -> Path:
    sdist = cache_dir / f"llama_cpp_python-{SDIST_VERSION}.tar.gz"
    if not sdist.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
             f"{SDIST_PACKAGE}=={SDIST_VERSION}", "--dest", str(cache_dir)],
            check=True,
        )
    return sdist


def llamacpp_source(cache_dir: Path) -> tuple[Path, Path]:
    """(llama.cpp source tarball, GPT-2 vocabulary GGUF), built once into the lab cache."""
    version = load_catalog().engines["llama.cpp"].version
    tarball = cache_dir / f"llama.cpp-{version[:12]}.tar.gz"
    vocab = cache_dir / "ggml-vocab-gpt-2.gguf"
    if tarball.exists() and vocab.exists():
        return tarball, vocab
    sdist = _sdist(cache_dir)
    top = f"llama_cpp_python-{SDIST_VERSION}"
    with tarfile.open(sdist) as archive:
        head = archive.extractfile(f"{top}/.git/modules/vendor/llama.cpp/HEAD")
        commit = head.read().decode().strip() if head else ""
        if commit != version:
            raise LabError(f"{sdist.name} vendors llama.cpp {commit or '(unknown)'}, "
                           f"but the catalog pins {version}")
        with tempfile.TemporaryDirectory(dir=cache_dir) as scratch:
            prefix = f"{top}/vendor/llama.cpp/"
            members = [m for m in archive.getmembers()
                       if m.name.startswith(prefix) and "/.git" not in m.name[len(prefix) - 1:]]
            archive.extractall(scratch, members=members, filter="data")
            root = Path(scratch, top, "vendor", "llama.cpp")
            (root / "models/ggml-vocab-gpt-2.gguf").replace(vocab.with_suffix(".partial"))
            vocab.with_suffix(".partial").replace(vocab)
            partial = tarball.with_suffix(".partial")
            with tarfile.open(partial, "w:gz", compresslevel=1) as out:
                out.add(root, arcname=f"llama.cpp-{version[:12]}")
            partial.replace(tarball)
    return tarball, vocab


def glm_chat_template(cache_dir: Path) -> str:
    """GLM's chat template from the llama.cpp tree of the pinned sdist, kept in the lab cache."""
    template = cache_dir / Path(CHAT_TEMPLATE_MEMBER).name
    if not template.exists():
        with tarfile.open(_sdist(cache_dir)) as archive:
            member = archive.extractfile(f"llama_cpp_python-{SDIST_VERSION}/{CHAT_TEMPLATE_MEMBER}")
            if member is None:
                raise LabError(f"llama-cpp-python {SDIST_VERSION} has no {CHAT_TEMPLATE_MEMBER}")
            template.with_suffix(".partial").write_bytes(member.read())
        template.with_suffix(".partial").replace(template)
    return template.read_text()


def model_chat_template(path: Path) -> str | None:
    """The chat template a GGUF carries (tokenizer.chat_template), if any."""
    import gguf

    field = gguf.GGUFReader(str(path)).fields.get("tokenizer.chat_template")
    return field.contents() if field else None


def write_tiny_model(path: Path, vocab_gguf: Path, seed: int = 0, chat_template: str | None = None) -> Path:
    """A 2-layer, 64-wide llama-architecture GGUF with random weights and GPT-2's tokenizer, and
    the given chat template. Its tokens are GPT-2's: the template's markers (<|user|>, <think>,
    </think>, ...) are plain text to it, which is all llama-server's template and reasoning
    parser read."""
    import gguf

    reader = gguf.GGUFReader(str(vocab_gguf))
    rng = np.random.default_rng(seed)
    n_vocab = len(reader.fields["tokenizer.ggml.tokens"].data)
    n_embd, n_ff, n_head, n_layer, n_ctx = 64, 128, 4, 2, 2048

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("glmstack-tiny-test")
    writer.add_context_length(n_ctx)
    writer.add_embedding_length(n_embd)
    writer.add_feed_forward_length(n_ff)
    writer.add_block_count(n_layer)
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_head)
    writer.add_rope_dimension_count(n_embd // n_head)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)

    for key, field in reader.fields.items():
        if not key.startswith("tokenizer."):
            continue
        value_type = field.types[0]
        if value_type == gguf.GGUFValueType.ARRAY:
            values = field.contents()
            writer.add_key_value(key, values, value_type, sub_type=field.types[-1])
        else:
            writer.add_key_value(key, field.contents(), value_type)
    if chat_template is not None:
        writer.add_chat_template(chat_template)

    def tensor(name: str, *shape: int) -> None:
        writer.add_tensor(name, (rng.standard_normal(shape) * 0.02).astype(np.float32))

    tensor("token_embd.weight", n_vocab, n_embd)
    writer.add_tensor("output_norm.weight", np.ones(n_embd, dtype=np.float32))
    tensor("output.weight", n_vocab, n_embd)
    for layer in range(n_layer):
        writer.add_tensor(f"blk.{layer}.attn_norm.weight", np.ones(n_embd, dtype=np.float32))
        writer.add_tensor(f"blk.{layer}.ffn_norm.weight", np.ones(n_embd, dtype=np.float32))
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            tensor(f"blk.{layer}.{name}.weight", n_embd, n_embd)
        tensor(f"blk.{layer}.ffn_gate.weight", n_ff, n_embd)
        tensor(f"blk.{layer}.ffn_up.weight", n_ff, n_embd)
        tensor(f"blk.{layer}.ffn_down.weight", n_embd, n_ff)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def write_gpt2_tokenizer(directory: Path, vocab_gguf: Path) -> Path:
    """A Hugging Face tokenizer directory of the tiny model's own vocabulary (GPT-2's, from the same
    GGUF): vocab.json, merges.txt and a tokenizer_config.json naming GPT2Tokenizer, which
    transformers' AutoTokenizer (so `vllm bench serve --tokenizer`) loads offline."""
    import gguf

    reader = gguf.GGUFReader(str(vocab_gguf))
    tokens = list(reader.fields["tokenizer.ggml.tokens"].contents())
    merges = list(reader.fields["tokenizer.ggml.merges"].contents())
    eos = tokens[int(reader.fields["tokenizer.ggml.eos_token_id"].contents())]
    partial = directory.with_name(directory.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    (partial / "vocab.json").write_text(json.dumps({token: index for index, token in enumerate(tokens)}))
    (partial / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    (partial / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "GPT2Tokenizer", "bos_token": eos, "eos_token": eos, "unk_token": eos,
        "model_max_length": 2048, "add_prefix_space": False}))
    shutil.rmtree(directory, ignore_errors=True)
    partial.replace(directory)
    return directory
