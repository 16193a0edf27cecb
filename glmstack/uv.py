"""uv on the node: one pinned copy, bootstrapped from the host's Python, shared by every role.

uv (not pip) builds the engines' and tools' virtual environments: it resolves large CUDA
dependency sets quickly and takes the index configuration the host already has.
"""

from __future__ import annotations

import posixpath
from urllib.parse import urlsplit

from glmstack.templating import shared_templates

UV_PACKAGE = "uv==0.13.9"
# Where that uv looks: the host's configured index (PyPI's when none), and for --torch-backend
# PyTorch's index of that backend for torch and its companion packages.
DEFAULT_INDEX = "https://pypi.org/simple"
TORCH_BACKEND_INDEX = "https://download.pytorch.org/whl/{backend}"
# The host's own trust store (with any CA the base role added for an inspecting proxy), not the
# certificate bundles pip and uv carry.
SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def uv_binary(prefix: str) -> str:
    return posixpath.join(prefix, "venvs", "uv", "bin", "uv")


def ensure_uv_commands(prefix: str, bundle_dir: str | None = None, find_links: str | None = None) -> list[str]:
    """Shell lines that leave a working uv at uv_binary(prefix), made once, trusting what the host
    trusts (glmstack/templates/ensure-uv.sh.j2); with a bundle on the host (bundle_dir), from its
    tools/ and with uv kept offline; `find_links`: installed from that URL alone, its
    requirements.txt's hashes required (the wheelhouse the host passing the weights on serves)."""
    uv_env = posixpath.join(prefix, "venvs", "uv")
    return shared_templates().get_template("ensure-uv.sh.j2").render(
        ca_bundle=SYSTEM_CA_BUNDLE, uv_env_parent=posixpath.dirname(uv_env), uv_env=uv_env, uv=uv_binary(prefix),
        package=UV_PACKAGE, bundle_tools=posixpath.join(bundle_dir, "tools") if bundle_dir else None,
        find_links=find_links, trusted_host=urlsplit(find_links).hostname if find_links else None).splitlines()


def uv_pip(prefix: str) -> str:
    """The pip of uv's own environment (the host's python3 -m venv gives it one)."""
    return posixpath.join(prefix, "venvs", "uv", "bin", "pip")
