"""Sizing preflight: do the weights fit, how much KV cache is left, what context and concurrency fit.

All figures are per device, over the devices the recipe's layout uses (tensor x pipeline x data
parallel), because that is where an engine runs out of memory first. GB means 10^9 bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from glmstack.catalog import KV_DTYPE_BYTES, Accelerator, Model, Parallelism

# What vLLM uses when --gpu-memory-utilization is not given.
DEFAULT_MEMORY_UTILIZATION = 0.9
# A context the plan caps is rounded down to whole steps of this many tokens (a multiple of every
# KV-cache block size the engines use: 16 to 128 tokens), so an estimate reads as a length chosen.
CONTEXT_STEP = 1024
GIB = 1024**3 / 1e9  # vLLM's --cpu-offload-gb counts GiB


@dataclass(frozen=True)
class Sizing:
    checked: bool
    reason: str = ""
    nodes: int = 0
    devices: int = 0
    memory_per_device_gb: float = 0.0
    memory_utilization: float = 0.0
    offload_per_device_gb: float = 0.0
    usable_per_device_gb: float = 0.0
    weights_gb: float = 0.0
    weights_per_device_gb: float = 0.0
    kv_cache_dtype: str = "auto"
    kv_bytes_per_token: int = 0
    kv_budget_per_device_gb: float = 0.0
    kv_tokens: int = 0
    max_model_len: int | None = None
    context_that_fits: int = 0
    concurrency_at_max_len: float = 0.0
    # Neither host nor recipe sets max_model_len and the model's native context does not fit: the
    # estimate rounded down (context_cap), and what the command gives the engine instead
    # (max_model_len_rendered: the engine's own automatic value where it has one, else the cap).
    context_cap: int | None = None
    max_model_len_rendered: str | None = None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def fits(self) -> bool | None:
        return None if not self.checked else not self.problems


def kv_bytes_per_token(model: Model, layout: Parallelism, kv_cache_dtype: str | None) -> int:
    """KV-cache bytes one token takes on one device."""
    layers = math.ceil(model.layers / layout.pipeline_parallel_size)
    elements = model.kv_elements_per_token_per_layer
    if model.kv_heads is not None:
        elements //= min(layout.tensor_parallel_size or 1, model.kv_heads)
    return layers * elements * KV_DTYPE_BYTES.get(kv_cache_dtype or "auto", 2)


def _gb(value: float) -> str:
    return f"{value:,.0f} GB" if value >= 10 else f"{value:,.1f} GB"


def format_tokens(value: int | None) -> str:
    if not value:
        return "-"
    return f"{value / 1024:,.0f}K" if value < 1024**2 else f"{value / 1024**2:,.2f}M"


def size(model_id: str, model: Model, accelerator_id: str, accelerator: Accelerator, layout: Parallelism,
         nodes: int, tunables: dict, explicit_max_model_len: bool, alternatives: list[str],
         cap_option: str | None = None, auto_value: str | None = None, caps_itself: bool = False) -> Sizing:
    """cap_option: the engine's max_model_len argument, when it has one: a native context that does
    not fit is then capped (auto_value, the engine's own automatic length, or the rounded estimate;
    nothing when the engine caps it itself)."""
    # Beyond the native context is refused even where memory is not checked (llama.cpp takes any --ctx-size).
    asked = tunables.get("max_model_len")
    beyond = ([f"max_model_len {asked} exceeds {model_id}'s native context of {model.native_context}"]
              if asked and asked > model.native_context else [])
    if accelerator.devices_per_node == 0:
        return Sizing(checked=False, reason="host memory of CPU servers is not in the catalog; not checked",
                      problems=beyond)
    if model.weights_gb is None:
        return Sizing(checked=False, reason=f"the catalog has no weight size for {model_id}; not checked",
                      problems=beyond)

    devices = (layout.tensor_parallel_size or 1) * layout.pipeline_parallel_size * layout.data_parallel_size
    utilization = float(tunables.get("gpu_memory_utilization") or DEFAULT_MEMORY_UTILIZATION)
    offload = float(tunables.get("cpu_offload_gb") or 0) * GIB
    usable = accelerator.memory_per_device_gb * utilization + offload
    per_device = model.weights_gb / devices
    kv_dtype = tunables.get("kv_cache_dtype")
    token_bytes = kv_bytes_per_token(model, layout, kv_dtype)
    budget = usable - per_device
    kv_tokens = max(0, int(budget * 1e9 // token_bytes))
    max_len = tunables.get("max_model_len") or model.native_context
    problems, notes = [], []
    context_cap, rendered = None, None
    where = f"{nodes} nodes of {accelerator_id} have" if nodes > 1 else f"1 node of {accelerator_id} has"

    if devices > nodes * accelerator.devices_per_node:
        problems.append(f"the layout uses {devices} devices but {where} "
                        f"{nodes * accelerator.devices_per_node}")
    if per_device > usable:
        total = nodes * accelerator.devices_per_node * accelerator.memory_per_device_gb
        per_node_usable = accelerator.devices_per_node * (accelerator.memory_per_device_gb * utilization + offload)
        needed_nodes = math.ceil(model.weights_gb / per_node_usable)
        ways = [*alternatives, f"{needed_nodes} nodes"] if needed_nodes > nodes else alternatives
        problems.append(
            f"{model_id} needs about {_gb(model.weights_gb)} of weights, {_gb(per_device)} on each of "
            f"{devices} devices; {where} {_gb(total)} ({_gb(usable)} usable per device at "
            f"{utilization:.2f} memory utilization)" + (f"; use {' or '.join(ways)}" if ways else ""))
    elif max_len > kv_tokens:
        needed = _gb(max_len * token_bytes / 1e9)
        message = (f"a {format_tokens(max_len)}-token context needs {needed} of KV cache "
                   f"per device ({kv_dtype or 'auto'} KV); {_gb(budget)} remain after the weights, "
                   f"enough for {format_tokens(kv_tokens)} tokens")
        if explicit_max_model_len:
            problems.append(message + f"; lower max_model_len to {kv_tokens} or less")
        elif cap_option and kv_tokens >= CONTEXT_STEP:
            context_cap = kv_tokens // CONTEXT_STEP * CONTEXT_STEP
            max_len = context_cap
            if caps_itself:
                how = (f"nothing rendered: the engine starts anyway and limits each request to what its KV "
                       f"cache holds (about {format_tokens(context_cap)}, {context_cap} tokens, by this estimate)")
            elif auto_value:
                rendered = auto_value
                how = (f"the engine fits the context to the KV cache it measures at start (about "
                       f"{format_tokens(context_cap)}, {context_cap} tokens, by this estimate)")
            else:
                rendered = str(context_cap)
                how = f"this estimate rounded down to whole {CONTEXT_STEP:,}-token steps"
            capped = "the engine caps it" if caps_itself else f"the command caps it: {cap_option} {rendered}"
            notes.append(f"the model's native {format_tokens(model.native_context)}-token context does not fit, "
                         f"so {capped}: {how}. Why: {message}. Set max_model_len (up to {kv_tokens}) to choose "
                         "the length")
        else:
            notes.append(message + f"; set max_model_len to {kv_tokens} or less (the model allows "
                                   f"{format_tokens(model.native_context)})")
    if max_len > model.native_context:
        problems.append(f"max_model_len {max_len} exceeds {model_id}'s native context of {model.native_context}")
    if offload and accelerator.host_memory_gb is not None:
        offloaded = offload * devices
        if offloaded > accelerator.host_memory_gb * nodes:
            host_memory = accelerator.host_memory_gb * nodes
            problems.append(f"offloading {_gb(offloaded)} needs more than the {_gb(host_memory)} of host memory")
    return Sizing(
        checked=True, nodes=nodes, devices=devices, memory_per_device_gb=accelerator.memory_per_device_gb,
        memory_utilization=utilization, offload_per_device_gb=round(offload, 1), usable_per_device_gb=round(usable, 1),
        weights_gb=model.weights_gb, weights_per_device_gb=round(per_device, 1), kv_cache_dtype=kv_dtype or "auto",
        kv_bytes_per_token=token_bytes, kv_budget_per_device_gb=round(budget, 1), kv_tokens=kv_tokens,
        max_model_len=tunables.get("max_model_len"), context_that_fits=min(kv_tokens, model.native_context),
        concurrency_at_max_len=round(kv_tokens / max_len, 2), context_cap=context_cap,
        max_model_len_rendered=rendered, problems=problems, notes=notes,
    )
