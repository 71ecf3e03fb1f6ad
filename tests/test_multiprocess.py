"""Several processes (README "Across machines"): the same script, started once per process with
jax.distributed.initialize(), gives what one process with as many devices gives.

Two processes on 127.0.0.1 talk through JAX's coordination service and its CPU collectives (gloo over TCP);
the reference is one process with as many CPU devices as the two together. All run the same user code: a few
FRePo steps on all visible devices (the real batch split across them, the gradients summed by an all-reduce
that here crosses processes) and one evaluation with its networks split across the devices.

- One device per process (against one process with two): exact equality. The runs compile the same programs
  for a two-device mesh, and the only arithmetic across devices is a sum of two parts, the same float sum
  in whatever order a collective adds them (a + b == b + a).
- Two devices per process (against one process with four): the distilled set and the losses to float
  rounding (within 1e-4 of their largest magnitude, as in tests/test_sharding.py), since an all-reduce of
  four parts adds them in another order in XLA's in-process collectives than in gloo's (measured: 3e-5 on
  images of magnitude 1.5 after 3 steps); the evaluation's accuracies exactly, as each network trains on one
  device and nothing is summed across devices (its support set is a fixed real subset, not the distilled set).

JAX fixes its devices when it starts, so each run is a subprocess; all six run at once, and all are killed
if any fails or they take longer than TIMEOUT seconds (a process waiting for a peer that died would hang).
Nearly all of a run's time is XLA compiling some 160 small programs, so every run compiles with LLVM's
optimisations off (about three times faster) and runs on one thread (six processes share the CPU cores):
the same XLA_FLAGS for the runs compared.
"""
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

TIMEOUT = 300  # seconds for the six processes together; about 60 on a 2-core CPU
FAST = "--xla_backend_optimization_level=0 --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"

WORKER = textwrap.dedent("""
    import json, os, sys, traceback
    process_id, num_processes, port, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    import jax

    def main():
        if num_processes > 1:
            jax.config.update("jax_cpu_collectives_implementation", "gloo")  # already the default in jax 0.10.2
            jax.distributed.initialize(coordinator_address=f"127.0.0.1:{{port}}", num_processes=num_processes,
                                       process_id=process_id, initialization_timeout=60)

        # ---- from here on the same code whatever the number of processes ----
        sys.path.insert(0, {tests!r})
        from conftest import make_dataset
        from frepo_lite import distill as D, evaluate as E, sharding

        toy = make_dataset()
        cfg = D.DistillConfig(width=8, real_batch=16, pool_size=2, max_online_steps=4, steps=3, lr=1e-2,
                              images_per_class=2)
        result = D.distill(toy, cfg, progress=False, log_every=1)
        ecfg = E.EvalConfig(width=8, steps=5, num_models=len(jax.devices()))  # one network per device
        evaluation = E.evaluate_support(*E.random_subset(toy, 2), toy, ecfg, parallel=True, progress=False)
        # ----

        mesh = sharding.data_mesh()
        report = {{"process_count": jax.process_count(), "devices": len(jax.devices()),
                  "local_devices": len(jax.local_devices()),
                  "mesh_processes": sorted({{d.process_index for d in mesh.devices.flat}}) if mesh else None,
                  "images": result.images.tolist(), "labels": result.labels.tolist(),
                  "loss": result.history["loss"], "krr_loss": result.history["krr_loss"],
                  "accs": evaluation["accs"], "krr_accs": evaluation["krr_accs"]}}
        with open(out, "w") as f:
            json.dump(report, f)

    try:
        main()
    except BaseException:
        # exit at once: a normal exit would wait in jax.distributed's shutdown barrier for the other process
        traceback.print_exc()
        sys.stdout.flush()
        os._exit(1)
""")


def _free_ports(k: int) -> list[int]:
    """k distinct ports free now on 127.0.0.1 (all held open until all are chosen)."""
    sockets = [socket.socket() for _ in range(k)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _run_together(runs, tmp: Path) -> list[dict]:
    """Start every (process_id, num_processes, port, local_devices) run at once; their reports, in order.
    Any failure or the deadline kills every process still running."""
    code = WORKER.format(tests=str(Path(__file__).parent))
    procs, logs = [], []
    for k, (pid, nproc, port, ndev) in enumerate(runs):
        env = {**os.environ, "JAX_PLATFORMS": "cpu",
               "XLA_FLAGS": f"--xla_force_host_platform_device_count={ndev} {FAST}"}
        log = open(tmp / f"run{k}.log", "w")
        logs.append(log)
        procs.append(subprocess.Popen([sys.executable, "-c", code, str(pid), str(nproc), str(port),
                                       str(tmp / f"run{k}.json")], env=env, stdout=log,
                                      stderr=subprocess.STDOUT))
    deadline = time.monotonic() + TIMEOUT
    try:
        while None in (codes := [p.poll() for p in procs]):  # poll every one (any() would stop early)
            failed = [k for k, code in enumerate(codes) if code not in (None, 0)]
            if failed or time.monotonic() > deadline:
                why = f"run {failed[0]} failed" if failed else f"timed out after {TIMEOUT} s"
                pytest.fail(why + ":\n" + "\n".join(
                    f"--- run {k}:\n" + (tmp / f"run{k}.log").read_text()[-2000:] for k in range(len(procs))))
            time.sleep(0.2)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for log in logs:
            log.close()
    for k, p in enumerate(procs):
        assert p.returncode == 0, f"run {k}:\n" + (tmp / f"run{k}.log").read_text()[-3000:]
    return [json.loads((tmp / f"run{k}.json").read_text()) for k in range(len(procs))]


LAYOUTS = (1, 2)  # devices per process


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """{devices per process: (process 0's report, process 1's, the one-process reference's)}"""
    runs = []
    for n, port in zip(LAYOUTS, _free_ports(len(LAYOUTS))):
        runs += [(0, 2, port, n), (1, 2, port, n), (0, 1, 0, 2 * n)]
    done = _run_together(runs, tmp_path_factory.mktemp("multiprocess"))
    return {n: tuple(done[3 * i:3 * i + 3]) for i, n in enumerate(LAYOUTS)}


@pytest.mark.parametrize("n", LAYOUTS)
def test_the_two_processes_see_one_mesh_across_both(reports, n):
    first, second, reference = reports[n]
    for report in (first, second):
        assert (report["process_count"], report["devices"], report["local_devices"]) == (2, 2 * n, n)
        assert report["mesh_processes"] == [0, 1]
    assert (reference["process_count"], reference["devices"], reference["mesh_processes"]) == (1, 2 * n, [0])


@pytest.mark.parametrize("n", LAYOUTS)
def test_both_processes_end_with_the_same_results(reports, n):
    assert reports[n][0] == reports[n][1]


@pytest.mark.parametrize("key", ["images", "labels", "loss", "krr_loss"])
def test_distillation_across_processes_equals_one_process_with_as_many_devices(reports, key):
    first, _, reference = reports[1]
    assert first[key] == reference[key]
    first, _, reference = reports[2]
    reference = np.asarray(reference[key])
    np.testing.assert_allclose(first[key], reference, rtol=0, atol=1e-4 * np.abs(reference).max())


@pytest.mark.parametrize("n", LAYOUTS)
@pytest.mark.parametrize("key", ["accs", "krr_accs"])
def test_parallel_evaluation_across_processes_equals_one_process(reports, key, n):
    first, _, reference = reports[n]
    assert len(first[key]) == 2 * n
    assert first[key] == reference[key]
