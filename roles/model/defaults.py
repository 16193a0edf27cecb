"""Settings of the model role: where weights come from and how they are checked."""

from pathlib import Path

from pydantic import BaseModel, Field


class ModelSettings(BaseModel):
    model_source: str | None = Field(
        None, json_schema_extra={"host_path": True},
        description="hf://org/repo[@commit], modelscope://org/repo[@commit], an http(s) mirror base "
                    "URL, or an absolute path on the host; None: the catalog's source.")
    model_revision: str | None = Field(
        None, pattern=r"^[0-9a-f]{40}$", description="Hub commit sha (required for hf:// and modelscope:// sources).")
    model_graft_revision: str | None = Field(
        None, pattern=r"^[0-9a-f]{40}$",
        description="Commit sha of a grafted model's delta repository (its base is pinned by model_revision).")
    model_include: list[str] | None = Field(None, description="Hub include patterns; None: the catalog's.")
    model_exclude: list[str] = Field([], description="Hub exclude patterns, applied after the include ones.")
    model_hf_endpoint: str | None = Field(
        None, pattern=r"^https?://[^\s@/]+(/[^\s@]*)?$",
        description="Hub-compatible endpoint (HF_ENDPOINT) to download from, e.g. a lab's hub mirror; "
                    "None: the client's default, huggingface.co.")
    model_modelscope_endpoint: str | None = Field(
        None, pattern=r"^https?://[^\s@/]+(/[^\s@]*)?$",
        description="ModelScope-compatible endpoint (MODELSCOPE_ENDPOINT) to download from; None: the "
                    "client's default, modelscope.cn.")
    model_modelscope_token_file: Path | None = Field(
        None, description="File on the control machine holding a ModelScope access token; must be mode 0600.")
    model_entry: str | None = Field(
        None, pattern=r"^[\w.][\w./-]*$",
        description="File the engine loads, relative to the model directory (first GGUF shard).")
    model_files: dict[str, str] = Field(
        {}, description="Relative path -> sha256 of every file (required for mirrors, checked for paths).")
    model_hf_token_file: Path | None = Field(
        None, description="File on the control machine holding a hub token; must be mode 0600.")
    model_download_jobs: int = Field(4, ge=1, le=64,
                                     description="Files fetched at once from an http(s) mirror or ModelScope.")
    model_fetch_early: bool = Field(
        True, description="Start the weights download right after the base role, beside the driver and engine "
                          "installs; False: only once they are done.")
    model_fetch_from: str | None = Field(
        None, pattern=r"^[\w.@:-]+$",
        description="Inventory name of the host in this run that fetches the weights from the source and "
                    "passes them to this one over the lab network (its own name: fetch from the source); "
                    "None: a multi-node deployment's rank 0, else the source itself.")
    model_fetch_from_timeout: int = Field(
        86400, ge=60, description="Seconds a host receiving the weights waits for the host fetching them to "
                                  "answer before it gives up.")
    model_share_port: int = Field(8097, ge=1, le=65535,
                                  description="Port a host passing weights to others serves them on, "
                                              "only while they fetch.")
    model_fetch_packages: bool = Field(
        True, description="The host passing the weights on also fetches, once, what the other hosts' installs take "
                          "from outside (uv, each engine environment's Python packages with a lock of their hashes, "
                          "llama.cpp's source) and serves it to them over the lab network; False: each host "
                          "fetches its own.")
    model_packages_port: int = Field(8098, ge=1, le=65535,
                                     description="Port the host passing the weights on serves those packages on, "
                                                 "only while the hosts install.")
    model_dir: str | None = Field(
        None, pattern=r"^/[\w./-]+$", json_schema_extra={"host_path": True},
        description="Where weights are placed; None: <state_dir>/models/<model>.")
