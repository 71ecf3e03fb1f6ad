"""The benchmark scripts that choose (the preset's selection, the screening) read the validation split."""
import argparse
import dataclasses
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import make_dataset

from frepo_lite.evaluate import EvalConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import common  # noqa: E402
import paper_continual  # noqa: E402
import paper_cost  # noqa: E402
import paper_labels  # noqa: E402
import paper_membership  # noqa: E402
import paper_table1  # noqa: E402
import paper_transfer  # noqa: E402
import select_krr_support  # noqa: E402
import select_paper_gpu  # noqa: E402
import select_plus  # noqa: E402
import select_preset  # noqa: E402
import select_screen  # noqa: E402


class FakeResult:
    def __init__(self, n=10):
        self.images = np.zeros((n, 28, 28, 1), np.float32)
        self.labels = np.zeros((n, 10), np.float32)
        self.steps_done, self.seconds = 1, 1.0
        self.history = {"seconds": 1.0, "krr_fallbacks": 0, "krr_loss": [0.1]}


def fake_evaluation(calls):
    def evaluate_support(images, labels, data, cfg, split="test", **kw):
        calls.append(split)
        return {"acc_mean": 0.5 + 0.01 * len(calls), "acc_std": 0.0, "krr_acc_mean": 0.5, "krr_acc_std": 0.0,
                "accs": [0.5], "krr_accs": [0.5], "steps": 1, "split": split, "network": "Conv-NN width 32"}
    return evaluate_support


@pytest.fixture
def selection(tmp_path, monkeypatch, toy):
    """select_preset with its distillation and evaluation faked, writing into tmp_path."""
    calls = []
    monkeypatch.setattr(select_preset, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(select_preset, "RUNS", tmp_path / "runs")
    monkeypatch.setattr(select_preset, "load_dataset", lambda name: toy)
    monkeypatch.setattr(select_preset, "distill", lambda data, cfg, **kw: FakeResult())
    monkeypatch.setattr(select_preset, "save_distilled", lambda *a, **k: None)
    monkeypatch.setattr(select_preset, "evaluate_support", fake_evaluation(calls))
    monkeypatch.setattr(select_preset, "machine", lambda: "test machine")
    return calls


def test_every_selection_phase_reads_only_the_validation_split(selection):
    select_preset.cmd_bn_momentum(None, {})
    select_preset.cmd_cpu_tuned(None, {})
    select_preset.cmd_others(None, {})
    assert selection and set(selection) == {"val"}
    rows = json.loads((select_preset.RESULTS / "selection.json").read_text())
    assert {r["split"] for r in rows} == {"val"}
    assert "| val |" in (select_preset.RESULTS / "selection.md").read_text()


def test_choose_picks_the_best_mean_validation_accuracy_and_ignores_test_rows():
    rows = [{"trial": "a", "dataset": "d", "ipc": 1, "split": "val", "acc_mean": 0.80},
            {"trial": "b", "dataset": "d", "ipc": 1, "split": "val", "acc_mean": 0.82},
            {"trial": "a", "dataset": "d", "ipc": 1, "split": "test", "acc_mean": 0.99}]
    assert select_preset.choose(rows, ["a", "b"]) == "b"


def test_screening_evaluates_on_the_validation_split(tmp_path, monkeypatch, toy):
    calls = []
    monkeypatch.setattr(select_screen, "SCREEN", tmp_path)
    (tmp_path / "steps.json").write_text(json.dumps({"t": {"overrides": {}, "steps": 3, "ms_per_step": 1.0}}))
    monkeypatch.setattr(select_screen, "load_dataset", lambda name: toy)
    monkeypatch.setattr(select_screen, "distill", lambda data, cfg, **kw: FakeResult())
    monkeypatch.setattr(select_screen, "evaluate_support", fake_evaluation(calls))
    monkeypatch.setattr(select_screen, "machine", lambda: "test machine")

    class Args:
        dataset, ipc = "mnist", 1
    select_screen.cmd_run(Args, {"t": {}})
    assert calls == ["val"]
    assert json.loads((tmp_path / "screen.json").read_text())[0]["frepo"]["split"] == "val"


def patch_paper_transfer(monkeypatch, tmp_path, toy, distill, evaluate_transfer):
    """Point benchmarks/paper_transfer.py at tmp_path and the toy dataset, with the given distill and evaluation."""
    monkeypatch.setattr(paper_transfer, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(paper_transfer, "RUNS", tmp_path / "runs")
    monkeypatch.setattr(paper_transfer, "load_dataset", lambda name: toy)
    monkeypatch.setattr(paper_transfer, "distill", distill)
    monkeypatch.setattr(paper_transfer, "evaluate_transfer", evaluate_transfer)
    monkeypatch.setattr(paper_transfer, "machine", lambda: "test machine")
    monkeypatch.setattr(paper_transfer, "shipped_set", lambda dataset, ipc: (None, None))  # no shipped set


def test_paper_transfer_benchmark_distills_one_set_per_pool_and_writes_its_table(tmp_path, monkeypatch, toy):
    configs, evaluated = [], []

    def fake_distill(data, cfg, **kw):
        configs.append((cfg.arch, cfg.norm, cfg.images_per_class))
        return FakeResult(n=3)

    def fake_transfer(sets, data, archs, cfg, split, resume_dir):
        evaluated.append((list(sets), archs, split, cfg.width, cfg.num_models, cfg.steps))
        return [{"set": s, "arch": a, "network": a, "acc_mean": 0.5, "acc_std": 0.01, "accs": [0.5], "split": split,
                 "steps": cfg.steps} for s in sets for a in archs]

    patch_paper_transfer(monkeypatch, tmp_path, toy, fake_distill, fake_transfer)
    paper_transfer.main(["--datasets", "mnist", "--ipc", "1", "--archs", "Conv-NN", "AlexNet",
                         "--eval-width", "32", "--eval-models", "2", "--eval-steps", "300"])
    assert configs == [("conv", "batch", 1), ("conv", "instance", 1), ("conv", "none", 1), ("dc_conv", "instance", 1)]
    assert evaluated == [(["Conv-BN", "Conv-IN", "Conv-NN", "DC ConvNet-IN", "random real subset"],
                          ["Conv-NN", "AlexNet"], "test", 32, 2, 300)]
    table = (tmp_path / "results" / "transfer_mnist.md").read_text()
    assert "| random real subset | 50.0 ± 1.0 | 50.0 ± 1.0 |" in table and "test machine" in table
    assert "for 300 steps (width 32;" in table
    saved = json.loads((tmp_path / "results" / "transfer_mnist.json").read_text())
    assert len(saved["rows"]) == 10 and saved["eval_width"] == 32 and "--eval-width 32" in saved["command"]
    assert "minutes in all" in table and "Resumed" not in table


def test_paper_transfer_evaluates_the_shipped_preset_set_for_the_preset_pool_and_distills_the_others(
        tmp_path, monkeypatch, toy):
    distilled, evaluated = [], {}
    patch_paper_transfer(monkeypatch, tmp_path, toy, lambda data, cfg, **kw: (distilled.append(cfg.norm),
                                                                               FakeResult(n=3))[1],
                         lambda sets, data, archs, cfg, split, resume_dir: evaluated.update(sets) or [
                             {"set": s, "arch": a, "network": a, "acc_mean": 0.5, "acc_std": 0.0, "accs": [0.5],
                              "split": split, "steps": 10} for s in sets for a in archs])
    shipped = SimpleNamespace(images=np.full((1, 28, 28, 1), 7.0), labels=np.eye(10)[:1])
    asked = []
    monkeypatch.setattr(paper_transfer, "shipped_set", lambda dataset, ipc: asked.append((dataset, ipc)) or (
        (Path("/x/cpu_mnist_ipc1.npz"), shipped), {"distill_seconds": 321.0}))
    paper_transfer.main(["--datasets", "mnist", "--ipc", "1", "--archs", "Conv-NN"])
    assert asked == [("mnist", 1)]  # only the preset's own pool (Conv-BN) is looked up
    assert distilled == ["instance", "none", "instance"]  # Conv-IN, Conv-NN, DC ConvNet-IN
    assert evaluated["Conv-BN"][0] is shipped.images
    saved = json.loads((tmp_path / "results" / "transfer_mnist.json").read_text())
    assert saved["recipes"]["Conv-BN"]["seconds"] == 321.0
    assert "`frepo_lite/results/distilled/cpu_mnist_ipc1.npz`" in (tmp_path / "results" / "transfer_mnist.md").read_text()


def test_paper_transfer_benchmark_gives_no_total_time_for_a_resumed_run(tmp_path, monkeypatch, toy):
    patch_paper_transfer(monkeypatch, tmp_path, toy, lambda data, cfg, **kw: FakeResult(n=3),
                         lambda sets, data, archs, cfg, split, resume_dir: [
                             {"set": s, "arch": a, "network": a, "acc_mean": 0.5, "acc_std": 0.0, "accs": [0.5],
                              "split": split, "steps": 10} for s in sets for a in archs])
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "mnist_ipc1_Conv-BN_2000.ckpt").write_bytes(b"")  # an earlier, interrupted run's checkpoint
    paper_transfer.main(["--datasets", "mnist", "--ipc", "1", "--archs", "Conv-NN"])
    table = (tmp_path / "results" / "transfer_mnist.md").read_text()
    saved = json.loads((tmp_path / "results" / "transfer_mnist.json").read_text())
    assert "minutes in all" not in table and "Resumed" in table
    assert saved["resumed"] and "wall_minutes" not in saved


def test_paper_labels_benchmark_pairs_the_preset_with_its_fixed_label_twin(selection, tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(select_preset, "distill", lambda data, cfg, **kw: (seen.append(cfg), FakeResult())[1])
    monkeypatch.setattr(paper_labels, "RESULTS", tmp_path / "results")
    paper_labels.main(["--rows", "fashion_mnist:10", "mnist:1"])
    # each row: the package's cpu preset (Fashion-MNIST 10/cls with its tuned settings) and the same without
    # label learning, evaluated on the test split only
    assert [(c.images_per_class, c.learn_labels, c.lambda0) for c in seen] == \
        [(10, True, 1e-2), (10, False, 1e-2), (1, True, 1e-6), (1, False, 1e-6)]
    assert set(selection) == {"test"}
    table = (tmp_path / "results" / "labels_fashion_mnist.md").read_text()
    assert "| 10 | 51.0 ± 0.0 (50.0) | 52.0 ± 0.0 (50.0) | -1.0 | 86.2 | 86.0 | 1 x Conv-NN width 32 |" in table
    rows = json.loads((tmp_path / "results" / "labels_mnist.json").read_text())["rows"]
    assert [r["ipc"] for r in rows] == [1] and rows[0]["fixed"]["settings"]["learn_labels"] is False


def test_paper_continual_benchmark_runs_every_buffer_over_the_orders_and_writes_its_table(tmp_path, monkeypatch):
    from conftest import make_dataset
    from frepo_lite.configs import DistillConfig

    tiny = DistillConfig(steps=1, width=8, real_batch=8, pool_size=1, max_online_steps=2, online_batch=4)
    monkeypatch.setattr(paper_continual, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(paper_continual, "RUNS", tmp_path / "runs")
    monkeypatch.setattr(paper_continual, "load_dataset", lambda name: make_dataset(num_classes=4, n_train=80))
    monkeypatch.setattr(paper_continual, "preset", lambda name, dataset, **kw: tiny.replace(**kw))
    monkeypatch.setattr(paper_continual, "machine", lambda: "test machine")
    paper_continual.main(["--datasets", "mnist", "--steps", "2", "--ipc", "1", "--orders", "2",
                          "--eval-width", "8", "--eval-models", "1", "--eval-steps", "2"])
    saved = json.loads((tmp_path / "results" / "continual_mnist.json").read_text())
    assert saved["orders"] == 2 and sorted(saved["by_order"]) == ["0", "1"]
    assert set(saved["summary"]) == set(paper_continual.NAMES)
    for seed, by_buffer in saved["by_order"].items():
        first = by_buffer["random"][0]["classes"]
        assert first == [int(c) for c in np.random.RandomState(int(seed)).permutation(4)[:2]]
        assert [r["buffer_size"] for r in by_buffer["frepo"]] == [2, 4]
    table = (tmp_path / "results" / "continual_mnist.md").read_text()
    assert "| FRePo, all classes at once |" in table and "| step 2 |" in table and "test machine" in table
    assert "mean ± std over 2 class orders" in table
    groups = {tuple(np.random.RandomState(seed).permutation(4)[i:i + 2]) for seed in (0, 1) for i in (0, 2)}
    assert len(list((tmp_path / "runs").glob("*.ckpt"))) == len(groups) + 1  # each class pair, and all classes


def test_continual_summary_averages_over_class_orders():
    rows = lambda accs: [{"acc_mean": a} for a in accs]  # noqa: E731
    orders = {0: {"random": rows([1.0, 0.5])}, 1: {"random": rows([0.8, 0.3])}}
    summary = paper_continual.summarise(orders)["random"]
    np.testing.assert_allclose(summary["mean"], [0.9, 0.4])
    np.testing.assert_allclose(summary["std"], [0.1, 0.1])


def test_paper_membership_benchmark_trains_each_victim_on_its_own_set_and_caches_it(tmp_path, monkeypatch):
    """The distilled victim trains on the distilled images (which come from the members only), not on the real
    images the distillation started from; a finished victim is not trained again."""
    from conftest import make_dataset
    from frepo_lite import privacy

    data = make_dataset(num_classes=4, n_train=200)
    distilled_from, trained_on = [], {}

    class Distilled:
        images = np.full((8, 16, 16, 1), 7.0, np.float32)
        labels = np.eye(4, dtype=np.float32).repeat(2, 0)
        history = {"seconds": 60.0}

    def fake_distill(d, cfg, **kw):
        distilled_from.append(d.x_train)
        return Distilled()

    def fake_victims(victims, d, members, nonmembers, cfg, checkpoints, seed=0):
        (name, (images, labels)), = victims.items()
        trained_on[name] = images
        auc = lambda s: 0.5 + (0.1 * s if name.startswith("real") else 0.0)  # noqa: E731  the real one leaks at 2
        return [{"victim": name, "steps": s, "test_acc": 0.5,
                 "attacks": {a: {"auc": auc(s), "advantage": 0.0, "tpr_at_1%": 0.01, "tpr_at_0.1%": 0.0}
                             for a in privacy.ATTACKS}} for s in sorted(checkpoints)]

    monkeypatch.setattr(paper_membership, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(paper_membership, "RUNS", tmp_path / "runs")
    monkeypatch.setattr(paper_membership, "load_dataset", lambda name: data)
    monkeypatch.setattr(paper_membership, "distill", fake_distill)
    monkeypatch.setattr(paper_membership.privacy, "evaluate_victims", fake_victims)
    monkeypatch.setattr(paper_membership, "machine", lambda: "test machine")
    argv = ["--datasets", "mnist", "--members", "40", "--nonmembers", "40", "--ipc", "2", "--checkpoints", "5", "2"]
    paper_membership.main(argv)
    members, _ = privacy.member_split(data.y_train, 40, 40, 4, 0)
    np.testing.assert_array_equal(distilled_from[0], data.x_train[members])
    np.testing.assert_array_equal(trained_on["FRePo"], Distilled.images)
    np.testing.assert_array_equal(trained_on["real (all members)"], data.x_train[members])
    assert len(trained_on["random subset"]) == 8
    table = (tmp_path / "results" / "membership_mnist.md").read_text()
    assert "## After 5 training steps" in table and "| FRePo | 8 images distilled" in table
    assert "| real (10 000 members) | 99.2 |" in table and "test machine" in table
    assert "| real (all members) | 50.0 / 0.70 / 1.0 % | 50.0 / 1.00 / 1.0 % |" in table  # steps 2 and 5
    assert "The real victim leaks from step 2 on (largest AUC 0.70" in table and "FRePo victim at step 2: AUC 0.50" in table
    assert paper_membership.leak_sentence({(v, 5): {"auc": 0.55} for v in paper_membership.VICTIMS}, [5]).startswith(
        "The real victim never leaks here (largest AUC 0.55 at 5 steps")
    trained_on.clear()
    paper_membership.main(argv)
    assert trained_on == {}  # every victim came from the cache


def test_select_krr_support_benchmark_compares_supports_on_the_validation_split_only(selection, tmp_path, monkeypatch):
    runs = []
    monkeypatch.setattr(select_preset, "distill", lambda data, cfg, checkpoint, **kw: runs.append(
        (cfg.krr_support, cfg.images_per_class, cfg.steps, checkpoint)) or FakeResult())
    monkeypatch.setattr(select_krr_support, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(select_krr_support, "machine", lambda: "test machine")
    select_krr_support.main(["--datasets", "mnist", "--ipc", "50", "--supports", "250", "100", "--steps", "4"])
    assert [r[:3] for r in runs] == [(None, 50, 4), (100, 50, 4), (250, 50, 4)] and selection == ["val"] * 3
    assert len({r[3] for r in runs}) == 3  # each support its own checkpoint
    table = (tmp_path / "results" / "krr_support_mnist.md").read_text()
    assert "| all 500 |" in table and "| random 100 |" in table and "**validation** split" in table
    assert "| random 250 | 0.25 | 0.0 | 53.00 ± 0.00 | +2.00 points, 1.0x the steps per second |" in table
    assert "Best on the validation split: random 250." in table


def test_the_50_images_per_class_report_takes_the_full_support_run_of_krr_support(selection, tmp_path,
                                                                                  monkeypatch):
    checkpoints = []
    monkeypatch.setattr(select_krr_support, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(select_krr_support, "machine", lambda: "test machine")
    monkeypatch.setattr(select_preset, "distill", lambda data, cfg, checkpoint, **kw: checkpoints.append(
        (cfg.krr_support, checkpoint)) or FakeResult())
    monkeypatch.setattr(select_preset, "evaluate_random_subset",
                        lambda *a, **k: {"acc_mean": 0.4, "acc_std": 0.0, "accs": [0.4]})
    monkeypatch.setattr(select_preset, "chosen_changes", lambda dataset, ipc: ("chosen", {}))
    monkeypatch.setattr(select_preset, "DISTILLED", tmp_path / "distilled")
    monkeypatch.setattr(select_preset, "save_distilled", lambda path, *a, **k: Path(path).write_text("a set"))
    select_krr_support.main(["--datasets", "mnist", "--supports", "100"])
    select_preset.cmd_report(argparse.Namespace(rows=["mnist:50"], eval=select_preset.SELECTION_EVAL), {})
    assert [support for support, _ in checkpoints] == [None, 100, None] and selection == ["val", "val", "test"]
    (_, full), (_, bounded), (_, reported) = checkpoints
    assert reported == full != bounded
    assert (tmp_path / "distilled" / "cpu_mnist_ipc50.npz").read_text() == "a set"  # the set the package ships
    table = (select_preset.RESULTS.parent / "table1_cpu.md").read_text()
    assert "| mnist | 50 | 53.0 ± 0.0 (50.0) | 40.0 ± 0.0 | 99.2 | 97.9 | 1 x Conv-NN width 32, 1 steps | 3 |" in table
    assert "trains each network 1000 steps at 10 images, 2000 steps at 100 images, 5000 steps at 500 images" in table
def _shipped_set(path, cfg, seed=1, version=None):
    """A stored set of mnist distilled with cfg (random images, so that an evaluation can tell it apart) whose
    metadata gives the protocol version that distilled it (None: says nothing, as sets of before version 3)."""
    from frepo_lite.data import dataset_info
    from frepo_lite.export import build_metadata, save_distilled
    images = np.random.RandomState(seed).rand(10, 28, 28, 1).astype(np.float32)
    meta = build_metadata(dataset_info("mnist"), dataclasses.asdict(cfg), None)
    meta["provenance"]["protocol_version"] = version
    if version is None:
        del meta["provenance"]["protocol_version"]
    save_distilled(path, images, np.eye(10, dtype=np.float32), make_dataset().preprocessing, meta)
    return images


def test_a_report_under_a_newer_protocol_evaluates_the_shipped_set_again_without_distilling(selection, tmp_path,
                                                                                          monkeypatch):
    monkeypatch.setattr(select_preset, "DISTILLED", tmp_path / "distilled")
    monkeypatch.setattr(select_preset, "chosen_changes", lambda dataset, ipc: ("chosen", {}))
    monkeypatch.setattr(select_preset, "evaluate_random_subset",
                        lambda *a, **k: {"acc_mean": 0.4, "acc_std": 0.0, "accs": [0.4]})
    monkeypatch.setattr(select_preset, "distill", lambda *a, **k: pytest.fail("the stored set was distilled again"))
    seen = []
    monkeypatch.setattr(select_preset, "evaluate_support", lambda images, *a, **k: seen.append(np.asarray(images))
                        or fake_evaluation([])(images, *a, **k))
    images = _shipped_set(tmp_path / "distilled" / "cpu_mnist_ipc1.npz", select_preset.trial_config(1, {}))
    old = {"trial": "preset_w32", "dataset": "mnist", "ipc": 1, "split": "test", "changes": {}, "accs": [0.9],
           "network": "Conv-NN width 32", "eval_steps": 1000, "acc_mean": 0.9, "acc_std": 0.0, "krr_acc_mean": 0.9,
           "distill_seconds": 234.5, "krr_fallbacks": 0, "steps": 3000, "protocol_version": 2, "machine": "m",
           "random_subset": {"acc_mean": 0.6, "acc_std": 0.0, "accs": [0.6]}}
    select_preset.RESULTS.mkdir(parents=True)
    (select_preset.RESULTS / "selection.json").write_text(json.dumps([old]))
    select_preset.cmd_report(argparse.Namespace(rows=["mnist:1"], eval=select_preset.SELECTION_EVAL), {})
    assert len(seen) == 1 and np.array_equal(seen[0], images)  # the shipped set, as it is
    rows = json.loads((select_preset.RESULTS / "selection.json").read_text())
    assert len(rows) == 1 and rows[0]["protocol_version"] == select_preset.PROTOCOL_VERSION
    assert rows[0]["distill_seconds"] == 234.5 and rows[0]["set"].endswith("cpu_mnist_ipc1.npz")
    table = (select_preset.RESULTS.parent / "table1_cpu.md").read_text()
    # beside the paper's learned-label run (Table 7: 92.5), Table 1's better-of-two (93.0) last
    assert (f"| mnist | 1 | 51.0 ± 0.0 (50.0) | 40.0 ± 0.0 | 92.5 | 64.9 | 1 x Conv-NN width 32, 1 steps | "
            f"{select_preset.PROTOCOL_VERSION} | 3000 | 3.9 min | 93.0 |") in table
    # a shipped set of other settings is distilled again, never reused
    other = select_preset.trial_config(1, {"lr": 1e-3})
    assert common.stored_set(tmp_path / "distilled" / "cpu_mnist_ipc1.npz", other, make_dataset().info) is None


def test_paper_labels_evaluates_the_shipped_learned_label_set_and_distills_only_its_fixed_label_twin(
        selection, tmp_path, monkeypatch):
    monkeypatch.setattr(select_preset, "DISTILLED", tmp_path / "distilled")
    monkeypatch.setattr(paper_labels, "RESULTS", tmp_path / "results")
    distilled = []
    monkeypatch.setattr(select_preset, "distill", lambda data, cfg, **kw: (distilled.append(cfg), FakeResult())[1])
    seen = []
    monkeypatch.setattr(select_preset, "evaluate_support", lambda images, *a, **k: seen.append(np.asarray(images))
                        or fake_evaluation([])(images, *a, **k))
    images = _shipped_set(tmp_path / "distilled" / "cpu_mnist_ipc1.npz", select_preset.trial_config(1, {}), version=2)
    old = {"trial": "preset_w32", "dataset": "mnist", "ipc": 1, "split": "test", "distill_seconds": 234.5,
           "krr_fallbacks": 0, "protocol_version": 2}
    select_preset.RESULTS.mkdir(parents=True)
    (select_preset.RESULTS / "selection.json").write_text(json.dumps([old]))
    paper_labels.main(["--rows", "mnist:1"])
    assert [c.learn_labels for c in distilled] == [False]  # only the fixed-label twin is distilled
    assert np.array_equal(seen[0], images)  # the learned-label set is the shipped one, as it is
    row = json.loads((tmp_path / "results" / "labels_mnist.json").read_text())["rows"][0]
    assert row["learned"]["distill_seconds"] == 234.5 and row["learned"]["set"].endswith("cpu_mnist_ipc1.npz")
    assert row["protocol_version"] == select_preset.PROTOCOL_VERSION


@pytest.mark.parametrize("recorded, made_by, rgb, reused", [
    (None, 2, False, True), (None, 1, False, False), (None, None, False, False), (3, None, False, True),
    (None, 2, True, False), (3, None, True, True)])
def test_a_stored_set_is_reused_only_when_its_distillation_is_this_protocols(tmp_path, recorded, made_by, rgb, reused):
    from frepo_lite.configs import preset
    from frepo_lite.data import DatasetInfo
    cfg = preset("cpu", "mnist", images_per_class=1)
    _shipped_set(tmp_path / "set.npz", cfg, version=recorded)
    info = DatasetInfo("mnist", None, 10, 28, 3 if rgb else 1, "none")  # rgb: as if its distillation had flips
    assert (common.stored_set(tmp_path / "set.npz", cfg, info, made_by) is not None) == reused
    assert common.stored_set(tmp_path / "set.npz", cfg.replace(seed=1), info, made_by) is None


def test_paper_table1_evaluates_the_stored_set_of_an_older_protocol_without_distilling(tmp_path, monkeypatch):
    from frepo_lite.configs import preset
    from frepo_lite.data import dataset_info
    monkeypatch.setattr(paper_table1, "RESULTS", tmp_path)
    monkeypatch.setattr(paper_table1, "RUNS", tmp_path / "runs")
    monkeypatch.setattr(paper_table1, "load_dataset", lambda name: type("D", (), {"info": dataset_info(name)})())
    monkeypatch.setattr(paper_table1, "distill", lambda *a, **k: pytest.fail("the stored set was distilled again"))
    monkeypatch.setattr(paper_table1, "machine", lambda: "cpu machine")
    seen = []
    monkeypatch.setattr(paper_table1, "evaluate_support", lambda images, *a, **k: seen.append(np.asarray(images))
                        or fake_evaluation([])(images, *a, **k))
    monkeypatch.setattr(paper_table1, "evaluate_random_subset", lambda *a, **k: fake_evaluation([])(None, None, None, None))
    images = _shipped_set(tmp_path / "distilled" / "paper_mnist_ipc1.npz",
                          preset("paper", "mnist", images_per_class=1, steps=30000))
    (tmp_path / "table1_paper_mnist_ipc1.json").write_text(json.dumps(
        {"protocol_version": 2, "distill_seconds": 90.0, "krr_fallbacks": 0}))
    row = paper_table1.run_row("mnist", 1, "paper", 30000, 5, 0)
    assert len(seen) == 1 and np.array_equal(seen[0], images)
    assert row["protocol_version"] == paper_table1.PROTOCOL_VERSION and row["distill_seconds"] == 90.0
    assert row["machine"] == "cpu machine" and row["paper_frepo"] == 92.5 and row["paper_table1"] == 93.0
    table = paper_table1.write_markdown("paper").read_text()
    assert f"| 5 | {paper_table1.PROTOCOL_VERSION} | 93.0 |" in table


def test_the_gpu_suspects_are_chosen_on_validation_and_only_the_winner_and_the_preset_read_test(tmp_path,
                                                                                             monkeypatch, toy):
    import jax
    monkeypatch.setattr(select_paper_gpu, "OUT", tmp_path)
    monkeypatch.setattr(select_paper_gpu, "load_dataset", lambda name: toy)
    monkeypatch.setattr(select_paper_gpu, "machine", lambda: "gpu")
    distilled = []
    monkeypatch.setattr(select_paper_gpu, "distill", lambda data, cfg, **k: distilled.append(
        (cfg.bn_momentum, cfg.steps, jax.config.jax_default_matmul_precision)) or FakeResult())
    score = {0.9: 0.80, 0.1: 0.85}  # bn0.1 wins on validation
    monkeypatch.setattr(select_paper_gpu, "evaluate_support", lambda images, labels, data, cfg, split, **k: {
        **fake_evaluation([])(images, labels, data, cfg, split), "acc_mean": score[distilled[-1][0]]})
    select_paper_gpu.main(["--steps", "7"])
    assert distilled == [(0.9, 7, None), (0.1, 7, None), (0.9, 7, "highest"), (0.1, 7, None), (0.9, 7, None)]
    rows = json.loads((tmp_path / "paper_gpu.json").read_text())
    assert [(r["trial"], r["split"]) for r in rows] == [("as_now", "val"), ("bn0.1", "val"),
                                                       ("precision_highest", "val"), ("bn0.1", "test"),
                                                       ("as_now", "test")]
    assert "`bn0.1`" in (tmp_path / "paper_gpu.md").read_text()
    select_paper_gpu.main(["--steps", "7"])  # a rerun distils nothing again
    assert len(distilled) == 5


def test_paper_cost_benchmark_resumes_and_stops_a_series_past_its_limit(tmp_path, monkeypatch, toy):
    measured = []

    def fake_sweep(data, points, repeats, parts_of, progress, max_bytes):
        (x, label, method, cfg), = points
        assert max_bytes == 2**30  # --max-memory-gb 1
        measured.append((x, label, parts_of))
        return [{"x": x, "label": label, "method": method, "ms": 100.0 * cfg.width, "mb": 9.0, "temp_mb": 1.0}]

    monkeypatch.setattr(paper_cost, "RESULTS", tmp_path)
    monkeypatch.setattr(paper_cost, "load_dataset", lambda name: toy)
    monkeypatch.setattr(paper_cost.cost, "sweep", fake_sweep)
    argv = ["--widths", "4", "16", "32", "--sizes", "10", "--size-width", "4", "--bptt", "1", "--krr-support", "5",
            "--max-seconds", "1.0", "--max-memory-gb", "1"]
    paper_cost.main(argv)
    # widths: 4 (0.4 s), 16 (1.6 s: over the limit, so 32 is skipped), for FRePo and BPTT alike
    assert [m[:2] for m in measured] == [(4, "FRePo"), (16, "FRePo"), (4, "BPTT T=1"), (16, "BPTT T=1"),
                                         (10, "FRePo"), (10, "FRePo, krr_support 5"), (10, "BPTT T=1")]
    assert [m[2] for m in measured] == [()] * 4 + [("FRePo",)] * 3  # FRePo's parts in the size sweep only
    measured.clear()
    paper_cost.main(argv)  # everything measured is kept: nothing runs again
    assert measured == []
    saved = json.loads((tmp_path / "cost_cpu.json").read_text())
    assert len(saved["rows"]) == 7 and "| 16 | 1600 / 1 | 1600 / 1 | 7.7 / 0.036 |" in (tmp_path / "cost_cpu.md").read_text()


def test_paper_cost_benchmark_stops_a_series_whose_program_does_not_fit(tmp_path, monkeypatch, toy):
    measured = []

    def fake_sweep(data, points, repeats, parts_of, progress, max_bytes):
        (x, label, method, cfg), = points
        measured.append((x, label))
        if label == "BPTT T=1" and x >= 8:  # as cost.sweep does when a program needs more than max_bytes
            return []
        return [{"x": x, "label": label, "method": method, "ms": 1.0, "mb": 9.0, "temp_mb": 1.0}]

    monkeypatch.setattr(paper_cost, "RESULTS", tmp_path)
    monkeypatch.setattr(paper_cost, "load_dataset", lambda name: toy)
    monkeypatch.setattr(paper_cost.cost, "sweep", fake_sweep)
    paper_cost.main(["--widths", "4", "8", "16", "--sizes", "10", "--size-width", "4", "--bptt", "1"])
    assert [m for m in measured if m[1] == "BPTT T=1"][:3] == [(4, "BPTT T=1"), (8, "BPTT T=1"), (10, "BPTT T=1")]
    saved = json.loads((tmp_path / "cost_cpu.json").read_text())
    assert {(r["x"], r["label"]) for r in saved["rows"] if r["label"] == "BPTT T=1"} == {(4, "BPTT T=1")}
    assert 0 < saved["max_memory_gb"] and "| 8 | 1 / 1 | - |" in (tmp_path / "cost_cpu.md").read_text()


def test_a_results_file_says_what_its_wall_time_holds_besides_the_run():
    provenance = common.provenance

    meta = {"machine": "m", "protocol_version": 2, "command": "python x.py", "wall_minutes": 33.4}
    assert provenance(meta)[0] == "Machine: m. Protocol version 2; 33 minutes in all."
    noted = provenance({**meta, "wall_note": "about 5 of them beside another job"})[0]
    assert noted == "Machine: m. Protocol version 2; 33 minutes in all (about 5 of them beside another job)."
    untimed = {k: v for k, v in meta.items() if k != "wall_minutes"}
    assert provenance({**untimed, "wall_note": "paused"}) == ["Machine: m. Protocol version 2.", "",
                                                              "Reproduce: `python x.py`."]


def test_table1_leaves_the_cpu_preset_table_to_the_selection_report(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(paper_table1, "RESULTS", tmp_path)
    monkeypatch.setattr(paper_table1, "run_row", lambda *a, **k: pytest.fail("a cpu row was run"))
    monkeypatch.setattr(sys, "argv", ["paper_table1.py", "--preset", "cpu", "--rows", "mnist:50"])
    with pytest.raises(SystemExit):
        paper_table1.main()
    assert "select_preset.py report" in capsys.readouterr().err and not list(tmp_path.iterdir())


def test_the_scripts_are_grouped_by_question_and_named_unlike_the_package_modules():
    bench = Path(__file__).resolve().parents[1] / "benchmarks"
    package = {p.stem for p in (bench.parent / "frepo_lite").glob("*.py")}
    scripts = {p.stem for p in bench.glob("*.py")}
    assert not scripts & package
    assert {s for s in scripts if not s.startswith(("paper_", "select_", "speed_"))} == {"common", "update_readme"}


def test_every_script_evaluates_with_the_same_defaults(tmp_path):
    p = argparse.ArgumentParser()
    common.add_eval_args(p)
    assert common.eval_config(p.parse_args([])) == common.CPU_EVAL == select_preset.SELECTION_EVAL
    assert common.eval_config(p.parse_args(["--eval-width", "128", "--eval-models", "5"])).replace(
        width=32, num_models=2) == common.CPU_EVAL
    path = common.write_results(tmp_path, "x", {"a": 1}, "# x")
    assert json.loads(path.read_text()) == {"a": 1} and (tmp_path / "x.md").read_text() == "# x\n"


def test_a_script_whose_networks_take_the_distillation_width_offers_no_width_to_ignore():
    p = argparse.ArgumentParser()
    common.add_eval_args(p, width=False)
    with pytest.raises(SystemExit):
        p.parse_args(["--eval-width", "64"])
    assert common.eval_config(p.parse_args([]), width=48).width == 48


def test_select_plus_tries_each_option_within_the_budget_on_the_validation_split(selection, tmp_path, monkeypatch,
                                                                                 toy):
    """Each option is the row's cpu preset with its changes; a dearer step keeps the preset's steps only while
    they fit the 15 minutes (the budget trial takes all they allow); the winners are combined; no test split."""
    runs = []
    monkeypatch.setattr(select_preset, "distill", lambda data, cfg, **kw: runs.append(cfg) or FakeResult())
    monkeypatch.setattr(select_plus, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(select_preset, "DISTILLED", tmp_path / "distilled")  # nothing shipped: the preset distils
    monkeypatch.setattr(select_plus, "load_dataset", lambda name: toy)
    monkeypatch.setattr(select_plus, "RUNS", tmp_path / "runs")
    ms = {"pool": 600.0}  # ms per step: the pool's visits of several steps make its step dearer
    monkeypatch.setattr(select_plus, "ms_per_step",
                        lambda data, cfg, **kw: ms["pool"] if cfg.online_steps > 1 else 100.0)
    select_plus.main(["alone", "--rows", "fashion_mnist:10", "mnist:1"])
    assert set(selection) == {"val"}
    by_trial = {(r["trial"], r["dataset"]): r for r in json.loads((tmp_path / "results" / "plus.json").read_text())}
    assert by_trial["pool", "mnist"]["steps"] == 1500  # 15 min at 600 ms < the preset's 3000 steps
    assert by_trial["ema", "mnist"]["steps"] == 3000 and by_trial["budget", "mnist"]["steps"] == 9000
    fm = [c for c in runs if c.images_per_class == 10]
    assert all(c.lambda0 == 1e-2 and c.label_scale == 0.5 for c in fm)  # the row's own preset values
    assert {c.meta_loss for c in runs} == {"mse", "cross_entropy"} and any(c.ema_decay == 0.99 for c in runs)
    # the fake evaluation gives each later trial a better score: every option beats the preset
    assert select_plus.winners(list(by_trial.values())) == list(select_plus.OPTIONS)
    runs.clear()
    select_plus.main(["combine", "--rows", "mnist:1"])
    (cfg,) = runs
    # two optimisers both win: only the one with the larger gain (adam, tried later, so scored higher) is taken
    assert (cfg.meta_loss, cfg.ema_decay, cfg.online_steps, cfg.meta_optimizer, cfg.lr, cfg.activation) == (
        "cross_entropy", 0.99, 15, "adam", 1e-3, "softplus")
    assert cfg.steps == 1500  # all the budget allows at the combination's 600 ms per step
    table = (tmp_path / "results" / "plus.md").read_text()
    assert "| mnist | 1 | cpu | (none) |" in table and "**validation** split" in table
    row = table.split("| mnist | 1 | combined:cross_entropy+ema+pool+adam+softplus |")[1].splitlines()[0]
    assert "(budget) |" in row  # like for like
    # a trial run again (interrupted, say) keeps the steps it chose, whatever a new timing says
    ms["pool"] = 60.0
    runs.clear()
    rows = [r for r in json.loads((tmp_path / "results" / "plus.json").read_text()) if r["trial"] != "pool"]
    (tmp_path / "results" / "plus.json").write_text(json.dumps(rows))
    select_plus.main(["alone", "--rows", "mnist:1", "--options", "pool"])
    assert [c.steps for c in runs] == [1500]


def test_select_plus_reports_the_chosen_plus_preset_once_on_the_test_split(selection, tmp_path, monkeypatch, toy):
    """report evaluates the combination's own run (the package's plus preset must be exactly it) by the protocol's
    networks on the test split, beside the cpu preset's test row by the same networks, the paper and RCIG."""
    from frepo_lite import configs
    runs, evals = [], []
    monkeypatch.setattr(select_preset, "distill", lambda data, cfg, **kw: runs.append(cfg) or FakeResult())
    monkeypatch.setattr(select_preset, "evaluate_support",
                        lambda images, labels, data, cfg, split="test", **kw: evals.append((split, cfg)) or {
                            "acc_mean": 0.9 + 0.01 * len(evals), "acc_std": 0.0, "krr_acc_mean": 0.5,
                            "krr_acc_std": 0.0, "accs": [0.9] * cfg.num_models, "krr_accs": [0.5], "steps": 1,
                            "split": split, "network": f"Conv-NN width {cfg.width}"})
    for module in (select_plus, select_preset):
        monkeypatch.setattr(module, "RESULTS", tmp_path / "results" / "selection")
    monkeypatch.setattr(select_preset, "DISTILLED", tmp_path / "distilled")
    monkeypatch.setattr(select_plus, "load_dataset", lambda name: toy)
    monkeypatch.setattr(select_plus, "RUNS", tmp_path / "runs")
    monkeypatch.setattr(select_plus, "ms_per_step", lambda data, cfg, **kw: 100.0)
    select_plus.main(["alone", "--rows", "mnist:1", "--options", "ema"])
    with pytest.raises(SystemExit, match="budget rows are needed first"):
        select_plus.main(["combine", "--rows", "mnist:1"])
    select_plus.main(["alone", "--rows", "mnist:1", "--options", "budget"])
    plus_json = tmp_path / "results" / "selection" / "plus.json"
    rows = json.loads(plus_json.read_text())
    for r in rows:  # the preset given the whole budget scored below the preset at its own steps
        r["acc_mean"] = 0.8 if r["trial"] == "budget" else r["acc_mean"]
    plus_json.write_text(json.dumps(rows))
    select_plus.main(["combine", "--rows", "mnist:1"])  # one winner: still a run of its own
    combination = select_plus.done("combined:ema", "mnist", 1)
    assert combination["steps"] == 3000 and not combination["fill"]  # the preset's steps: more did not help
    with pytest.raises(SystemExit, match="plus preset differs"):  # the package's preset is not the choice yet
        monkeypatch.setitem(configs.PLUS_ROWS, ("mnist", 1), configs.CPU_ROWS["mnist", 1].replace(ema_decay=0.9))
        select_plus.main(["report", "--rows", "mnist:1"])
    monkeypatch.setitem(configs.PLUS_ROWS, ("mnist", 1),
                        configs.CPU_ROWS["mnist", 1].replace(ema_decay=0.99, steps=3000))
    with pytest.raises(SystemExit, match="select_preset.py report --protocol --rows mnist:1"):
        select_plus.main(["report", "--rows", "mnist:1"])
    cpu = {"trial": "preset_w128", "dataset": "mnist", "ipc": 1, "split": "test", "protocol_version":
           select_plus.PROTOCOL_VERSION, "acc_mean": 0.928, "acc_std": 0.001, "accs": [0.928] * 5, "steps": 3000,
           "distill_seconds": 234.0, "network": "Conv-NN width 128"}
    (tmp_path / "results" / "selection" / "selection.json").write_text(json.dumps([cpu]))
    runs.clear(), evals.clear()
    select_plus.main(["report", "--rows", "mnist:1"])
    assert [split for split, _ in evals] == ["test"] and evals[0][1] == select_plus.REPORT_EVAL == EvalConfig()
    assert [c.ema_decay for c in runs] == [0.99] and runs[0].steps == 3000  # the combination's own run
    (row,) = json.loads((tmp_path / "results" / "plus_test.json").read_text())
    assert (row["trial"], row["goal"], row["rcig"], row["paper_frepo"], row["cpu"]["acc_mean"]) == (
        "combined:ema", 94.0, 94.7, 92.5, 0.928)
    table = (tmp_path / "results" / "plus_test.md").read_text()
    assert "| mnist | 1 | 91.0 ± 0.0 | 92.8 ± 0.1 | -1.8 | 92.5 | 94.7 | 94.0 | -3.0 | combined:ema |" in table
    select_plus.main(["report", "--rows", "mnist:1"])  # read once: a second report evaluates nothing
    assert len(evals) == 1
    monkeypatch.delitem(configs.PLUS_ROWS, ("fashion_mnist", 10), raising=False)
    select_plus.main(["report", "--rows", "fashion_mnist:10"])  # no plus preset chosen there: skipped, not run
    assert len(evals) == 1 and len(runs) == 1
