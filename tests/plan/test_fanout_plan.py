"""Once per lab: the host passing the weights on fetches the rest of the group's downloads (uv, the
engine environment's wheels with their hash lock, llama.cpp's source) and every host installs from
it, hashes required, never from the index (roles/model/fanout.py). Deploys/glm52.py on several @fake
hosts at once, every host's commands in the order they ran."""

from __future__ import annotations

import pytest
from fakehost import PACKAGES_POLL, run_deploy_on
from plan_data import PLAN_DATA
from test_multinode_plan import ADDRESSES, H100_RAY, HEAD, WORKER, first, h100_pair

from glmstack.config import resolve_inventory
from roles.llamacpp.operations import build_script
from roles.model.fanout_operations import fetch_script, unit_text

SEED_URL = f"http://{ADDRESSES[HEAD]}:8098"


@pytest.fixture(scope="module")
def vllm_pair():
    return run_deploy_on(h100_pair(H100_RAY))


def test_rank_0_fetches_the_vllm_wheels_once_and_both_nodes_install_them_from_it(vllm_pair):
    runs, timeline = vllm_pair
    plans = {plan.host: plan for plan in resolve_inventory([(name, {**H100_RAY, "address": address})
                                                            for name, address in ADDRESSES.items()])}
    env = plans[WORKER].engine_env
    wheelhouse = f"{SEED_URL}/python/{env.install_key}"
    # Only rank 0 fetches (a unit of its own, started early, beside the weights).
    assert runs[HEAD].ran("systemctl start --no-block glmstack-packages.service")
    assert not runs[WORKER].ran("glmstack-packages.service")
    for host in (HEAD, WORKER):
        run = runs[host]
        # uv itself from rank 0's wheel, by its hash; the environment from rank 0's wheels alone.
        # pip skips a plain-HTTP source it is not told to trust ("not a trusted or secure host").
        assert run.ran(f"--no-index --trusted-host 10.0.0.11 --find-links {SEED_URL}/tools/uv/x86_64 --require-hashes "
                       f"-r {SEED_URL}/tools/uv/x86_64/requirements.txt")
        assert run.ran(f"curl -fsS --retry 5 --retry-delay 2 -o /opt/glmstack/venvs/{env.install_key}.requirements.txt "
                       f"{wheelhouse}/requirements.txt")
        assert run.ran(f"--no-index --find-links {wheelhouse} --require-hashes "
                       f"-r /opt/glmstack/venvs/{env.install_key}.requirements.txt")
        # Nothing from the index: no uv from pip's index, no resolve of the engine's requirements.
        assert not run.ran("pip install --quiet uv==0.13.9")
        assert not run.ran("'ray[cgraph]==2.60.0'")
        # Each waits for the parts it needs, then installs.
        assert first(timeline, host, PACKAGES_POLL) < first(timeline, host, f"--find-links {wheelhouse}")
    # Rank 0 serves from before any host waits, until every host has installed.
    started = first(timeline, HEAD, "systemctl start --no-block glmstack-packages.service")
    earlier = first(timeline, HEAD, "systemctl stop glmstack-packages-share.service 2>/dev/null || true")
    stop = max(index for index, (name, command) in enumerate(timeline)
               if name == HEAD and command.endswith("systemctl stop glmstack-packages-share.service"))
    assert earlier < started
    assert started < first(timeline, WORKER, PACKAGES_POLL)
    assert first(timeline, WORKER, f"--find-links {wheelhouse}") < stop
    assert f"glmstack model | Fetch the packages once for {HEAD}, {WORKER}" in runs[HEAD].changed


def test_the_fetch_locks_each_set_with_uvs_hashes_and_downloads_exactly_those_files():
    plans = {plan.host: plan for plan in resolve_inventory([(name, {**H100_RAY, "address": address})
                                                            for name, address in ADDRESSES.items()])}
    head, worker = plans[HEAD], plans[WORKER]
    assert head.fanout.fetches and not worker.fanout.fetches and worker.fanout.seed_host == HEAD
    script = fetch_script(head)
    env = head.engine_env
    assert (f"wheelhouse python/{env.install_key} vllm==0.23.0 'transformers>=5.9.0' 'ray[cgraph]==2.60.0'"
            in script)
    assert 'pip compile --quiet --no-header --generate-hashes --python-version "$python_version"' in script
    assert '"$pip" download --quiet --no-deps --require-hashes --python-version "$python_version"' in script
    assert "wheelhouse tools/uv/x86_64 uv==0.13.9" in script
    # Served while the parts arrive: uv first, then the environments; each marked ready only whole.
    assert script.index("systemctl start --no-block glmstack-packages-share.service") < script.index(
        "wheelhouse tools/uv") < script.index("wheelhouse python/")
    assert 'mv "$part.partial" "$part"\n  : > "$part/ready"' in script
    # A failure leaves one line saying what failed, for the hosts waiting on it.
    assert 'fetching ${current:-the packages} failed' in script and '> "$root/failed.new"' in script


def test_model_fetch_packages_false_leaves_each_host_fetching_its_own():
    plans = resolve_inventory([(name, {**H100_RAY, "address": address, "model_fetch_packages": False})
                               for name, address in ADDRESSES.items()])
    assert all(plan.fanout is None for plan in plans)
    assert all(plan.weights_seed or plan.weights_peers for plan in plans)  # the weights are still passed on


def test_a_cpu_group_takes_llamacpps_source_from_the_host_passing_the_weights_on():
    # (model_fetch_from names a host, which an @fake name cannot be: the scripts, as the deploy writes
    # them; the lab's three-node test runs them.)
    hosts = [(f"cpu-{n}", {**PLAN_DATA, "address": f"10.0.0.{n}", "model_fetch_from": "cpu-1"}) for n in (1, 2, 3)]
    plans = {plan.host: plan for plan in resolve_inventory(hosts)}
    seed = plans["cpu-1"]
    assert [name for name, _ in seed.fanout.peers] == ["cpu-2", "cpu-3"]
    part = f"http://10.0.0.1:8098/{seed.fanout.llamacpp.part}"
    # The seed fetches the pinned commit once (git, then a tarball and its sum); nobody else clones.
    script = fetch_script(seed)
    assert 'git -C "$part.partial" fetch -q --depth 1 https://github.com/ggml-org/llama.cpp.git' in script
    assert "tools/uv" not in script  # nothing in this group installs with uv
    for plan in plans.values():
        build = build_script(plan.llamacpp, plan.fanout)
        assert "git " not in build and "github.com" not in build
        tarball = f"/opt/glmstack/build/{plan.llamacpp.build_key}/src.tar.gz"
        assert f"curl -fsSL --retry 3 -o {tarball} {part}/source.tar.gz" in build
        assert f'echo "$(curl -fsS --retry 5 {part}/sha256)  "' in build
    # Without the group, each host clones for itself as before.
    alone = resolve_inventory([("cpu-9", PLAN_DATA)])[0]
    assert alone.fanout is None and "git -C" in build_script(alone.llamacpp, alone.fanout)


def test_the_engine_environments_deploy_fans_out_the_same_way():
    """deploys/engine_envs.py (`make test-slow`, `make bench-envs`): rank 0 fetches, both install from it."""
    runs, timeline = run_deploy_on(h100_pair(H100_RAY), deploy="engine_envs.py")
    assert runs[HEAD].ran("systemctl start --no-block glmstack-packages.service")
    for host in (HEAD, WORKER):
        assert runs[host].ran(f"--no-index --find-links {SEED_URL}/python/vllm-0.23.0-")
        assert first(timeline, host, PACKAGES_POLL) < first(timeline, host, "--find-links")
    assert first(timeline, WORKER, f"--find-links {SEED_URL}/python/") < max(
        index for index, (name, command) in enumerate(timeline)
        if name == HEAD and command.endswith("systemctl stop glmstack-packages-share.service"))
    # The server runs as the service user: this deploy (no base role) makes it first.
    assert first(timeline, HEAD, "useradd") < first(timeline, HEAD, "systemctl start --no-block glmstack-packages")


def test_the_fetch_unit_keeps_uv_and_pip_caches_where_its_sandbox_lets_it_write():
    """ProtectHome=yes hides root's ~/.cache: uv failed there ("Failed to initialize cache at
    /root/.cache/uv ... Read-only file system") on a lab node before the unit had a cache directory."""
    plan = next(plan for plan in resolve_inventory([(name, {**H100_RAY, "address": address})
                                                    for name, address in ADDRESSES.items()]) if plan.host == HEAD)
    unit = unit_text(plan)
    assert "ProtectHome=yes" in unit and "CacheDirectory=glmstack-packages" in unit
    # pip keeps a set's wheels in TMPDIR until the end: 4.3 GB for vLLM's, which filled the lab node's
    # private /tmp ("OSError: [Errno 28] No space left on device").
    assert ("Environment=UV_CACHE_DIR=%C/glmstack-packages/uv PIP_NO_CACHE_DIR=1 "
            "TMPDIR=%C/glmstack-packages/tmp") in unit
    assert 'mkdir -p "${TMPDIR:-/tmp}"' in fetch_script(plan)


def test_a_group_deployed_from_a_bundle_takes_nothing_from_the_host_passing_the_weights_on():
    plans = resolve_inventory([(name, {**H100_RAY, "address": address, "bundle": "http://10.0.0.5/bundle"})
                               for name, address in ADDRESSES.items()])
    assert all(plan.fanout is None for plan in plans)
