"""The infra checks' chat tests against a reasoning model's replies, without a host.

tests/infra/test_engine.py's chat checks run here against a stand-in host that answers as an
engine serving GLM-5.2 with a reasoning parser does: while the model thinks (8 tokens never reach
</think>) content is empty ("" from llama-server, null from vLLM) and the text is in
reasoning_content (llama.cpp, SGLang) or reasoning (vLLM); asked with chat_template_kwargs
{"enable_thinking": false}, the text is the content. The llama.cpp replies were recorded in the
lab from llama-server serving the stand-in GGUF with GLM's chat template.
"""

from __future__ import annotations

import importlib.util
import json
import shlex

import pytest
from hostdata import CPU_MIRROR

from glmstack.config import resolve
from glmstack.paths import REPO_ROOT

SPEC = importlib.util.spec_from_file_location("infra_engine_checks", REPO_ROOT / "tests/infra/test_engine.py")
checks = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(checks)

USAGE = {"completion_tokens": 8, "prompt_tokens": 12, "total_tokens": 20}
# Recorded from llama-server (the pinned llama.cpp) serving the lab's stand-in: random weights, so
# random words, but placed where GLM's template and llama.cpp's reasoning parser put them.
LLAMACPP_THINKING = {"role": "assistant", "content": "",
                     "reasoning_content": " readily PARKreallyedu burns marksvil Sandra"}
LLAMACPP_PLAIN = {"role": "assistant", "content": "readily PARKreallyedu burns answ Claud Danny"}
# vLLM names the thinking "reasoning" (reasoning_content is its deprecated name).
VLLM_THINKING = {"role": "assistant", "content": None, "reasoning": "The user wants a greeting"}


class EngineHost:
    """Answers the checks' curl commands as an engine with a reasoning parser would."""

    def __init__(self, thinking: dict, plain: dict):
        self.thinking, self.plain, self.requests = thinking, plain, []

    def check_output(self, command: str) -> str:
        body = json.loads(shlex.split(command.rpartition(" -d ")[2])[0])
        self.requests.append(body)
        asked_plain = body.get("chat_template_kwargs", {}).get("enable_thinking") is False
        message = self.plain if asked_plain else self.thinking
        return json.dumps({"choices": [{"index": 0, "message": message, "finish_reason": "length"}],
                           "usage": USAGE})


@pytest.fixture
def plan():
    return resolve("node1", {**CPU_MIRROR, "service_bind_host": "127.0.0.1"})


@pytest.mark.parametrize("thinking", [LLAMACPP_THINKING, VLLM_THINKING], ids=["llama.cpp", "vllm"])
def test_the_chat_checks_pass_against_a_reasoning_model(plan, thinking):
    host = EngineHost(thinking, LLAMACPP_PLAIN)
    checks.test_chat_completion_returns_text(host, plan)
    # It asked for a plain answer, which the engine's chat template takes.
    assert host.requests[0]["chat_template_kwargs"] == {"enable_thinking": False}


def test_the_chat_checks_accept_a_reply_that_is_all_thinking(plan):
    host = EngineHost(LLAMACPP_THINKING, LLAMACPP_PLAIN)
    checks.test_chat_completion_returns_text_while_the_model_thinks(host, plan)
    assert "chat_template_kwargs" not in host.requests[0]


def test_an_empty_reply_still_fails_the_checks(plan):
    empty = {"role": "assistant", "content": None, "reasoning_content": "  "}
    with pytest.raises(AssertionError):
        checks.test_chat_completion_returns_text(EngineHost(empty, empty), plan)
