"""Settings of the model role: where weights come from and how they are checked."""

from pathlib import Path

from pydantic import BaseModel, Field


class ModelSettings(BaseModel):
    model_source: str | None = Field(
        None, description="hf://org/repo[@commit], an http(s) mirror base URL, or an absolute "
                          "path on the host; None: the catalog's source.")
    model_revision: str | None = Field(
        None, pattern=r"^[0-9a-f]{40}$", description="Hub commit sha (required for hf:// sources).")
    model_include: list[str] | None = Field(None, description="Hub include patterns; None: the catalog's.")
    model_entry: str | None = Field(
        None, pattern=r"^[\w.-][\w./-]*$",
        description="File the engine loads, relative to the model directory (first GGUF shard).")
    model_files: dict[str, str] = Field(
        {}, description="Relative path -> sha256 of every file (required for mirrors, checked for paths).")
    model_hf_token_file: Path | None = Field(
        None, description="File on the control machine holding a hub token; must be mode 0600.")
    model_dir: str | None = Field(
        None, pattern=r"^/[\w./-]+$", description="Where weights are placed; None: <state_dir>/models/<model>.")
