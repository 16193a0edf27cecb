"""The service role's plan: the API key clients must send, if any (ApiKeyPlan)."""

from __future__ import annotations

import hashlib
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from glmstack.checks import loopback

if TYPE_CHECKING:
    from glmstack.catalog import Catalog
    from glmstack.hostdata import HostConfig


@dataclass(frozen=True)
class ApiKeyPlan:
    """The key clients must send. It lives on the host in a root-only file (what operators read)
    and reaches the engine through a root-only environment file, never its command line."""

    key_file: str
    env_file: str
    variable: str
    # The operator's key to install; None: the host makes one, and it never leaves the host.
    local_file: Path | None = None

    @property
    def local_key_id(self) -> str | None:
        """The id ApiKeyState reports once the local key is installed."""
        if self.local_file is None:
            return None
        return hashlib.sha256(self.local_file.read_text().strip().encode()).hexdigest()[:16]


def plan_api_key(config: HostConfig, catalog: Catalog, problems: list) -> ApiKeyPlan | None:
    """On by default wherever the engine listens beyond loopback; off only when the host data says so."""
    required = config.service_require_api_key
    if required is None:
        required = config.service_api_key_file is not None or not loopback(config.service_bind_host)
    if not required:
        if config.service_api_key_file is not None:
            problems.append(("service_api_key_file", "a key is given but service_require_api_key is false; "
                                                     "drop one of the two"))
        return None
    engine = catalog.engines[config.engine]
    if engine.api_key_env is None:
        problems.append(("service_require_api_key",
                         f"{config.engine} cannot take an API key without leaking it: {engine.api_key_note}. "
                         f"Listen on loopback only (service_bind_host: 127.0.0.1, behind your own proxy), or "
                         f"set service_require_api_key: false to serve {config.service_bind_host} without one"))
        return None
    base = posixpath.join(config.base_config_dir, f"{engine.unit_name}.api-key")
    return ApiKeyPlan(key_file=base, env_file=f"{base}.env", variable=engine.api_key_env,
                      local_file=config.service_api_key_file)
