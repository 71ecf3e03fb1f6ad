"""Several devices: the sharded FRePo step and the parallel evaluation against the one-device path.

JAX fixes its device count when it starts, so the multi-device checks run in one subprocess with
XLA_FLAGS=--xla_force_host_platform_device_count=4 (four CPU "devices" on however many cores) and report
back as JSON; each test below asserts one part of that report.
"""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import pytest

from frepo_lite import sharding

SCRIPT = textwrap.dedent("""
    import json, sys
    import jax, numpy as np
    sys.path.insert(0, {tests!r})
    from conftest import make_dataset
    from frepo_lite import distill as D, evaluate as E, sharding

    assert len(jax.devices()) == 4, jax.devices()
    toy = make_dataset()
    cfg = D.DistillConfig(width=4, real_batch=16, pool_size=2, max_online_steps=4, steps=6, lr=1e-2,
                          images_per_class=2)
    one, four = jax.devices()[:1], jax.devices()
    out = {{}}

    def gap(a, b):
        return float(max(np.abs(a.images - b.images).max(), np.abs(a.labels - b.labels).max()))

    single = D.distill(toy, cfg, progress=False, devices=one)
    sharded = D.distill(toy, cfg, progress=False)  # default: all four devices
    out["step_gap"] = gap(single, sharded)
    out["image_scale"] = float(np.abs(single.images).max())
    mesh = sharding.data_mesh(four)
    hlo = D.make_step(toy, cfg, mesh).lower(D.init_state(toy, cfg), toy.x_train, toy.y_train).compile().as_text()
    out["sharded_step_all_reduces"] = hlo.count("all-reduce")

    for first, then, name in ((four, one, "resume_4_to_1"), (one, four, "resume_1_to_4")):
        ckpt = {tmp!r} + "/" + name + ".ckpt"
        D.distill(toy, cfg, checkpoint=ckpt, stop_after=3, progress=False, devices=first)
        resumed = D.distill(toy, cfg, checkpoint=ckpt, progress=False, devices=then)
        out[name] = {{"steps": resumed.steps_done, "gap": gap(single, resumed)}}

    try:
        D.distill(toy, cfg.replace(real_batch=18), progress=False)
    except ValueError as e:
        out["indivisible_error"] = str(e)

    # the parallel evaluation's compiled step, as train_many runs it: its collectives are counted once
    per_device = sharding.per_device
    def counted(fn, mesh, split):
        compiled = per_device(fn, mesh, split)
        def run(*args):
            if "parallel_step_collectives" not in out:
                hlo = compiled.lower(*args).compile().as_text()
                out["parallel_step_collectives"] = sum(hlo.count(op + "(") for op in
                    ("all-gather", "all-reduce", "all-to-all", "collective-permute"))
            return compiled(*args)
        return run
    sharding.per_device = counted

    support = E.random_subset(toy, 2)
    ecfg = E.EvalConfig(width=8, steps=20, num_models=4, norm="batch")
    _, train, train_many, _ = E._trainer_for(np.asarray(support[0]), toy, ecfg)
    keys = [jax.random.PRNGKey(i) for i in range(4)]
    stacked = train_many(keys, *support, mesh)
    leaf = jax.tree.leaves(stacked["params"])[0]
    out["networks_on_devices"] = len(leaf.sharding.device_set)
    gaps = []
    for j, key in enumerate(keys):
        alone = train(key, *support)
        gaps += [float(np.abs(np.asarray(a[j]) - np.asarray(b)).max())
                 for a, b in zip(jax.tree.leaves(stacked), jax.tree.leaves(alone))]
    out["parallel_eval_gap"] = max(gaps)
    seq = E.evaluate_support(*support, toy, ecfg, parallel=False, progress=False)
    par = E.evaluate_support(*support, toy, ecfg, parallel=True, progress=False)
    out["eval_accs"] = [seq["accs"], par["accs"]]
    print("REPORT" + json.dumps(out))
""")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sharding")
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu"}
    code = SCRIPT.format(tests=str(Path(__file__).parent), tmp=str(tmp))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("REPORT"))
    return json.loads(line[len("REPORT"):])


def test_a_sharded_step_equals_the_single_device_step(report):
    assert report["step_gap"] < 1e-4 * report["image_scale"]


def test_the_sharded_step_splits_the_real_batch(report):
    # the per-device partial results are summed across devices: without the split nothing would be
    assert report["sharded_step_all_reduces"] > 0


@pytest.mark.parametrize("name", ["resume_4_to_1", "resume_1_to_4"])
def test_resume_across_a_change_of_device_count(report, name):
    assert report[name]["steps"] == 6
    assert report[name]["gap"] < 1e-4 * report["image_scale"]


def test_a_batch_that_does_not_split_evenly_is_a_clear_error(report):
    assert "real_batch=18 does not split evenly across 4 devices" in report["indivisible_error"]


def test_the_parallel_evaluation_trains_the_same_networks_split_across_devices(report):
    assert report["networks_on_devices"] == 4
    assert report["parallel_eval_gap"] < 1e-4
    assert report["eval_accs"][0] == pytest.approx(report["eval_accs"][1], abs=1e-6)


def test_the_parallel_evaluation_passes_nothing_between_devices(report):
    # each device trains its own networks; a step partitioned by XLA alone all-gathers activations instead
    assert report["parallel_step_collectives"] == 0


def test_one_device_is_the_plain_path():
    assert sharding.data_mesh(jax.devices()[:1]) is None
    mesh, where = sharding.placement(jax.devices()[:1])
    assert mesh is None and where == jax.devices()[0]
    with pytest.raises(ValueError, match="no devices given"):
        sharding.data_mesh([])

