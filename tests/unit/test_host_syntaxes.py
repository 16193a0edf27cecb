"""Each host syntax other than systemd's, read back by its own parser: apt's configuration by
apt-config, the nftables rules by nft -c, the shell scripts by bash (-n, and run where harmless),
sed's rewrite of a mirror URL by sed. Odd but valid values come back exactly; what a syntax
cannot hold is refused."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from test_seed_recipes import SEEDS

from glmstack.config import resolve_inventory
from glmstack.quoting import Unrepresentable, apt_value, sed_substitution, shell_word
from glmstack.render import render_cluster_firewall
from roles.base.operations import _apt_proxy_config, dnf_proxy_line
from roles.engine.operations import install_script
from roles.llamacpp.operations import build_script
from roles.service.operations import wait_script
from roles.service.units import node_unit_specs

# Valid in a URL or at least in a proxy setting, and each special somewhere.
ODD_PROXIES = ["http://proxy.lab.example:3128", "http://proxy.lab.example:3128/a;c{d}//e#f'g",
               "http://proxy.lab.example:3128/%C3%BC/%41%22/(id)/;/&/|/*!"]
H200 = {"accelerator": "h200", "model": "glm-5.2-fp8", "engine": "vllm"}


def plan_with(**data):
    return resolve_inventory([("bad-1.invalid", {**H200, **data})])[0]


@pytest.mark.skipif(shutil.which("apt-config") is None, reason="apt-config is not installed here")
@pytest.mark.parametrize("proxy", ODD_PROXIES)
def test_apt_reads_the_proxy_back_exactly_and_nothing_else(proxy, tmp_path):
    conf = tmp_path / "95glmstack-proxy"
    conf.write_text(_apt_proxy_config(plan_with(base_http_proxy=proxy, base_https_proxy=proxy)))
    for key in ("Acquire::http::Proxy", "Acquire::https::Proxy"):
        shown = subprocess.run(["apt-config", "-c", str(conf), "shell", "P", key], capture_output=True, text=True,
                               check=True).stdout
        assert shlex.split(shown.strip().removeprefix("P=")) == [proxy]
    # The file adds those two settings to apt's configuration and nothing else.
    empty = tmp_path / "empty"
    empty.write_text("")
    before, after = (set(subprocess.run(["apt-config", "-c", str(path), "dump"], capture_output=True, text=True,
                                        check=True).stdout.splitlines()) for path in (empty, conf))
    added = {line.split(" ", 1)[0] for line in after - before if not line.endswith(' "";')}
    added.discard("CommandLine::AsString")  # the command line itself, which names the file
    assert added == {"Acquire::http::Proxy", "Acquire::https::Proxy"}


def test_a_quote_in_an_apt_proxy_is_refused_not_written():
    with pytest.raises(Unrepresentable, match="double quote"):
        apt_value('http://p:3128"; APT::Update::Pre-Invoke:: "touch /tmp/pwned', "base_http_proxy")


@pytest.mark.parametrize("proxy", ODD_PROXIES)
def test_dnfs_proxy_line_is_one_line_with_the_proxy(proxy):
    assert dnf_proxy_line(plan_with(base_https_proxy=proxy)) == f"proxy={proxy}"


def _nft_checks() -> bool:
    if shutil.which("nft") is None:
        return False
    return subprocess.run(["nft", "-c", "-f", "-"], input="table inet glmstack_probe {}\n", capture_output=True,
                          text=True).returncode == 0


@pytest.mark.skipif(not _nft_checks(), reason="nft -c needs CAP_NET_ADMIN, which this user lacks")
def test_nft_accepts_every_deployments_firewall(tmp_path):
    checked = 0
    for group_data, hosts, _, _ in SEEDS.values():
        entries = [(host, {}) if isinstance(host, str) else host for host in hosts]
        for plan in resolve_inventory([(name, {**group_data, **data}) for name, data in entries], require_fit=False):
            for unit in node_unit_specs(plan):
                if unit.firewall:
                    rules = tmp_path / "rules.nft"
                    rules.write_text(render_cluster_firewall(unit))
                    result = subprocess.run(["nft", "-c", "-f", str(rules)], capture_output=True, text=True)
                    assert result.returncode == 0, result.stderr
                    checked += 1
    assert checked


def test_every_shell_script_made_from_host_data_parses():
    """The readiness wait, the engine's install and llama.cpp's build, made with odd proxies, pass bash -n;
    the lines that carry a proxy, run, set exactly it."""
    for proxy in ODD_PROXIES:
        vllm = plan_with(base_http_proxy=proxy, base_https_proxy=proxy, base_no_proxy="localhost,.lab.example")
        llamacpp = resolve_inventory([("bad-1.invalid", {
            "accelerator": "cpu", "model": "glm-5.2-gguf", "engine": "llama.cpp", "model_revision": "1" * 40,
            "model_entry": "UD-IQ2_XXS/GLM-5.2-UD-IQ2_XXS-00001-of-00005.gguf",
            "llamacpp_ccache_dir": "/var/cache/glm-ccache", "base_http_proxy": proxy})])[0]
        scripts = [wait_script(vllm), install_script(vllm.engine_env), wait_script(llamacpp),
                   build_script(llamacpp.llamacpp)]
        for script in scripts:
            subprocess.run(["bash", "-n", "-c", script], check=True, timeout=30)
        exports = [line for line in install_script(vllm.engine_env).splitlines() if line.startswith("export http")]
        assert exports
        for line in exports:
            shown = subprocess.run(["bash", "-c", f"{line}; printf '%s\\n' \"$http_proxy\" \"$HTTPS_PROXY\""],
                                   capture_output=True, text=True, check=True, timeout=30).stdout
            assert shown.splitlines() in ([proxy, ""], ["", proxy], [proxy, proxy])


HOSTILE_MIRRORS = ["http://mirror.lab.example/r'; touch pwned; '", "http://mirror.lab.example/a|b&c\\d$(touch pwned)",
                   "http://mirror.lab.example/.*[x]^$/"]


@pytest.mark.parametrize("mirror", HOSTILE_MIRRORS)
def test_the_mirror_rewrite_replaces_the_literal_url_and_runs_nothing_else(mirror, tmp_path):
    upstream = "https://repo.radeon.com"
    sources = tmp_path / "amdgpu.list"
    original = f"deb {upstream}/amdgpu/7.2.1/ubuntu noble main\ndeb https://repoXradeonXcom/x noble main\n"
    sources.write_text(original)
    subprocess.run(["bash", "-c", f"sed -i {sed_substitution(upstream, mirror, 'amd_repo_url')} {sources.name}"],
                   cwd=tmp_path, check=True, timeout=30)
    assert sources.read_text() == original.replace(upstream, mirror)
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()


@pytest.mark.parametrize("word", ["plain", "two words", "it's", "$(touch pwned)", "`id`", "a\\b", "ünï", "", "-n"])
def test_a_shell_word_is_one_argument_exactly(word, tmp_path):
    shown = subprocess.run(["bash", "-c", f"printf '%s\\0' {shell_word(word)}"], capture_output=True, text=True,
                           check=True, cwd=tmp_path).stdout
    assert shown == word + "\0" and not (tmp_path / "pwned").exists()
