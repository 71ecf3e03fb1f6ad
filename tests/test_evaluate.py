import json

import jax
import numpy as np
import pytest

from frepo_lite.evaluate import EvalConfig, eval_steps_for, evaluate_random_subset, evaluate_support, random_subset

FAST = EvalConfig(width=8, steps=60, num_models=2, warmup_steps=10, lr=3e-3)


@pytest.mark.parametrize("n,steps", [(10, 1000), (100, 2000), (200, 20000), (500, 5000), (1000, 10000),
                                     (5000, 40000)])
def test_steps_by_support_size(n, steps):
    assert eval_steps_for(n) == steps


def test_training_on_a_real_subset_beats_chance(toy):
    r = evaluate_random_subset(toy, 3, FAST, progress=False)
    assert len(r["accs"]) == 2 and r["steps"] == 60
    assert r["acc_mean"] > 0.6 and r["krr_acc_mean"] > 0.6  # 3 classes: chance is 1/3


def test_random_subset_labels(toy):
    x, y = random_subset(toy, 2)
    assert x.shape == (6, 16, 16, 1) and y.shape == (6, 3)
    assert (y.argmax(1) == np.repeat(np.arange(3), 2)).all()


def test_bad_support_sets_are_refused(toy):
    x, y = random_subset(toy, 2)
    with pytest.raises(ValueError, match="support images must be"):
        evaluate_support(x[:, :8], y, toy, FAST)
    with pytest.raises(ValueError, match="support labels must be"):
        evaluate_support(x, y[:, :2], toy, FAST)
    with pytest.raises(ValueError, match="floating point"):
        evaluate_support(x.astype(np.uint8), y, toy, FAST)
    bad = x.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        evaluate_support(bad, y, toy, FAST)


def test_train_network_returns_a_network_that_fits_its_support(toy):
    from frepo_lite.evaluate import EvalConfig, features_and_logits, random_subset, train_network

    images, labels = random_subset(toy, 5)
    model, variables = train_network(images, labels, toy, EvalConfig(width=8, steps=150, augment=False))
    feats, logits = features_and_logits(model, variables, images, batch=4)
    assert feats.shape[0] == logits.shape[0] == len(images)
    assert np.mean(np.argmax(logits, -1) == np.argmax(labels, -1)) > 0.9


def test_an_interrupted_evaluation_resumes_with_the_networks_it_had(toy, tmp_path):
    x, y = random_subset(toy, 2)
    whole = evaluate_support(x, y, toy, FAST, progress=False)
    first = evaluate_support(x, y, toy, FAST.replace(num_models=1), progress=False, resume_dir=tmp_path)
    assert first["accs"] == whole["accs"][:1]  # network i has the same seed in an evaluation of 1 or of 2
    resumed = evaluate_support(x, y, toy, FAST, progress=False, resume_dir=tmp_path)
    assert resumed["accs"] == whole["accs"] and resumed["krr_accs"] == whole["krr_accs"]
    # the kept networks are taken, not retrained: a forged value shows through
    [kept] = tmp_path.glob("eval_*.json")
    saved = json.loads(kept.read_text())
    kept.write_text(json.dumps({**saved, "accs": [0.5, saved["accs"][1]]}))
    assert evaluate_support(x, y, toy, FAST, progress=False, resume_dir=tmp_path)["accs"][0] == 0.5
    # another support set, or other settings, in the same folder: its own file, nothing taken over
    evaluate_support(*random_subset(toy, 2, seed=1), toy, FAST.replace(num_models=1), progress=False,
                     resume_dir=tmp_path)
    assert len(list(tmp_path.glob("eval_*.json"))) == 2
    evaluate_support(x, y, toy, FAST.replace(lr=1e-3), progress=False, resume_dir=tmp_path)
    assert len(list(tmp_path.glob("eval_*.json"))) == 3


@pytest.mark.parametrize("field,value", [("width", 0), ("batch", -1), ("num_models", 0), ("steps", 0),
                                         ("lr", 0.0), ("warmup_steps", -1), ("final_lr_ratio", 2.0)])
def test_eval_config_range_checks(field, value):
    with pytest.raises(ValueError, match=field):
        EvalConfig(**{field: value})


def test_the_split_is_checked_and_reported(toy):
    x, y = random_subset(toy, 2)
    with pytest.raises(ValueError, match="split must be one of"):
        evaluate_support(x, y, toy, FAST, split="train", progress=False)
    r = evaluate_support(x, y, toy, FAST.replace(num_models=1), split="val", progress=False)
    assert r["split"] == "val" and r["network"] == "Conv-NN width 8"


def test_the_validation_split_is_what_val_measures(toy, monkeypatch):
    """split='val' tests on x_val / y_val, split='test' on x_test / y_test."""
    from frepo_lite import evaluate as E
    seen = []
    real = E.features_and_logits
    monkeypatch.setattr(E, "features_and_logits", lambda m, v, x, **k: seen.append(x.shape[0]) or real(m, v, x, **k))
    x, y = random_subset(toy, 2)
    evaluate_support(x, y, toy, FAST.replace(num_models=1), split="val", progress=False)
    evaluate_support(x, y, toy, FAST.replace(num_models=1), split="test", progress=False)
    assert seen == [len(toy.x_val), len(x), len(toy.x_test), len(x)] and len(toy.x_val) != len(toy.x_test)


def test_resume_files_carry_the_protocol_version(toy, tmp_path, monkeypatch):
    from frepo_lite import evaluate as E
    x, y = random_subset(toy, 2)
    evaluate_support(x, y, toy, FAST.replace(num_models=1), progress=False, resume_dir=tmp_path)
    monkeypatch.setattr(E, "PROTOCOL_VERSION", E.PROTOCOL_VERSION + 1)
    evaluate_support(x, y, toy, FAST.replace(num_models=1), progress=False, resume_dir=tmp_path)
    assert len(list(tmp_path.glob("eval_*.json"))) == 2  # the old results are not taken for the new protocol
    evaluate_support(x, y, toy, FAST.replace(num_models=1), progress=False, resume_dir=tmp_path, krr_lambda0=0.1)
    assert len(list(tmp_path.glob("eval_*.json"))) == 3  # nor for other KRR settings


def test_the_default_path_is_the_one_measured_faster_on_the_backend(toy, monkeypatch):
    from frepo_lite import evaluate as E
    images, labels = E.random_subset(toy, 2)
    cfg = E.EvalConfig(width=4, steps=2, num_models=2, augment=False)
    model, train, train_many, steps = E._trainer_for(np.asarray(images), toy, cfg)
    used = []
    fake = (model, lambda *a: used.append("sequential") or train(*a),
            lambda keys, *a: used.append("parallel") or train_many(keys, *a), steps)
    monkeypatch.setattr(E, "_trainer_for", lambda *a: fake)
    for faster, path in ((False, ["sequential", "sequential"]), (True, ["parallel"])):
        monkeypatch.setattr(E, "PARALLEL_EVAL", {jax.default_backend(): faster})
        used.clear()
        E.evaluate_support(images, labels, toy, cfg, progress=False)
        assert used == path
