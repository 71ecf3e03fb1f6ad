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
