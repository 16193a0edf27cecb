"""Which host fetches the weights from the source and which receive them from it over the lab network."""

from __future__ import annotations

import pytest
from hostdata import CPU_MIRROR

from glmstack.config import InventoryError, resolve_inventory
from glmstack.planning import plan_inventory
from roles.model.operations import fetch_script

CPU_GROUP = [(f"cpu-{i}", {**CPU_MIRROR, "address": f"10.0.0.{i}", "model_fetch_from": "cpu-1"}) for i in (1, 2, 3)]


def test_a_multi_node_deployment_fetches_once_on_rank_0_and_passes_the_weights_on():
    head, worker = plan_inventory("inventory/h100.py")
    assert head.weights_seed is None and head.weights_peers == (("h100-2.lab.example", "10.0.0.12"),)
    assert worker.weights_seed == "10.0.0.11" and worker.weights_peers == ()
    assert worker.weights_seed_host == "h100-1.lab.example" and head.weights_seed_host is None
    script = fetch_script(worker)
    # The worker fetches each file as rank 0 lists it as verified, until rank 0's full manifest.
    assert ('until serving_ours && curl -fsS --max-time 30 -o "$dir/.cache/glmstack/total" '
            '"$base/.cache/glmstack/total"') in script
    assert 'curl -fsS --max-time 30 -o "$dir/.cache/glmstack/arrived" "$base/.cache/glmstack/arrived"' in script
    assert script.index('"$base/.cache/glmstack/manifest"') < script.index('"$base/.cache/glmstack/arrived"')
    assert "did not serve them within 86400 s" in script
    assert "base=http://10.0.0.11:8097" in script and "hf download" not in script
    # Rank 0 serves from the start, after a leftover server is stopped and the old lists removed.
    head = fetch_script(head)
    stop = head.index("systemctl stop glmstack-weights-share-glm-5.2-fp8.service")
    reset = head.index('rm -f "$dir/.cache/glmstack/manifest" "$dir/.cache/glmstack/total"')
    serve = head.index("systemctl start --no-block glmstack-weights-share-glm-5.2-fp8.service")
    assert stop < reset < serve < head.index("hf download")
    assert head.index('> "$dir/.cache/glmstack/total.new"') < head.index("hf download")
    # A failed fetch is announced, and the worker gives up on it instead of waiting for its timeout.
    assert head.count('[ $rc -eq 0 ] || : > "$dir/.cache/glmstack/failed"') == 2  # before and after the reporter
    assert '"$base/.cache/glmstack/failed"' in script and "10.0.0.11 failed to fetch them" in script
    # Nothing is taken from a server left running with other weights: it must name the same ones.
    fingerprint = worker.model.fingerprint
    assert f"printf '%s\\n' {fingerprint} > \"$dir/.cache/glmstack/weights\"" in head
    assert f'"$base/.cache/glmstack/weights" 2>/dev/null)" = {fingerprint} ]' in script
    assert script.index("until serving_ours && curl") < script.index("done < \"$list\"") < script.rindex(
        "serving_ours ||")


def test_a_group_names_the_host_that_fetches_for_the_others():
    plans = {plan.host: plan for plan in resolve_inventory(CPU_GROUP)}
    assert plans["cpu-1"].weights_seed is None
    assert plans["cpu-1"].weights_peers == (("cpu-2", "10.0.0.2"), ("cpu-3", "10.0.0.3"))
    assert [plans[name].weights_seed for name in ("cpu-2", "cpu-3")] == ["10.0.0.1", "10.0.0.1"]
    # The fetching host records every file's sum for the others to check against.
    seed = fetch_script(plans["cpu-1"])
    assert 'mv "$dir/.cache/glmstack/manifest.new" "$dir/.cache/glmstack/manifest"' in seed
    # Each file is listed as arrived once fetch() has checked it.
    assert '( fetch "$name" "$digest" && echo "$digest  $name" >> "$dir/.cache/glmstack/arrived" )' in seed
    assert "arrived" not in fetch_script(resolve_inventory([("cpu-9", CPU_MIRROR)])[0])
    assert plans["cpu-2"].model.fingerprint == plans["cpu-1"].model.fingerprint


def test_without_a_deployment_or_a_named_host_every_host_fetches_for_itself():
    plans = resolve_inventory([(f"cpu-{i}", CPU_MIRROR) for i in (1, 2)])
    assert all(plan.weights_seed is None and plan.weights_peers == () for plan in plans)


@pytest.mark.parametrize(("change", "message"), [
    ({"model_fetch_from": "cpu-9"}, "host cpu-2: field model_fetch_from: 'cpu-9' is not a host of this inventory"),
    ({"model_files": {"tiny.gguf": "cd" * 32}}, "host cpu-2: field model_fetch_from: cpu-1 fetches other weights"),
    ({"model_source": "/srv/nfs/glm", "model_entry": "tiny.gguf"},
     "host cpu-2: field model_fetch_from: cpu-1 fetches other weights"),
])
def test_a_host_that_cannot_pass_the_weights_on_is_refused(change, message):
    hosts = [CPU_GROUP[0], ("cpu-2", {**CPU_GROUP[1][1], **change})]
    with pytest.raises(InventoryError) as error:
        resolve_inventory(hosts)
    assert message in str(error.value)


def test_receiving_from_a_host_that_receives_itself_is_refused():
    hosts = [CPU_GROUP[0], ("cpu-2", {**CPU_GROUP[1][1], "model_fetch_from": "cpu-3"}), CPU_GROUP[2]]
    with pytest.raises(InventoryError, match="cpu-3 gets its weights from cpu-1 itself"):
        resolve_inventory(hosts)
