"""Membership inference: splits, the attacker's features, the five attacks and their measures, and the two
victims every attack suite must get right: one that memorises (found) and one that never saw the members
(AUC near 0.5)."""
import jax
import numpy as np
import pytest

from frepo_lite import privacy
from frepo_lite.data import Dataset, DatasetInfo, fit_preprocessing
from frepo_lite.evaluate import EvalConfig
from frepo_lite.kernels import centered_one_hot

VICTIM = EvalConfig(width=16, lr=3e-3, batch=64, augment=False)


def noise_dataset(n=200, num_classes=4, seed=0):
    """Pure noise images with random labels: only memorisation can fit them."""
    rng = np.random.RandomState(seed)
    info = DatasetInfo("noise", None, num_classes, 8, 1, "none")
    x = rng.randint(0, 256, (n, 8, 8, 1)).astype(np.uint8)
    y = (np.arange(n) % num_classes).astype(np.int32)
    pre = fit_preprocessing(info, x, cache=False)
    xs = pre.transform(x)
    return Dataset(info=info, preprocessing=pre, x_train=xs, y_train=y, x_val=xs[:8], y_val=y[:8],
                   x_test=xs[:40], y_test=y[:40])


def test_member_split_is_disjoint_and_class_balanced():
    y = np.arange(100) % 4
    members, nonmembers = privacy.member_split(y, 40, 20, 4, seed=1)
    assert len(members) == 40 and len(nonmembers) == 20 and not set(members) & set(nonmembers)
    assert np.bincount(y[members]).tolist() == [10] * 4 and np.bincount(y[nonmembers]).tolist() == [5] * 4
    with pytest.raises(ValueError, match="multiple of the 4 classes"):
        privacy.member_split(y, 42, 20, 4)
    with pytest.raises(ValueError, match="ask for fewer"):
        privacy.member_split(y, 80, 40, 4)


def test_attack_features_are_logits_loss_and_label():
    logits = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 2.0]], np.float32)
    y = np.array([0, 1])
    feats, loss = privacy.attack_features(logits, y, 3)
    target = np.asarray(centered_one_hot(y, 3, 1 / np.sqrt(0.3)))
    np.testing.assert_allclose(loss, 0.5 * ((logits - target) ** 2).sum(1), rtol=1e-6)
    np.testing.assert_allclose(feats[:, :3], logits)
    np.testing.assert_allclose(feats[:, 3], loss)
    np.testing.assert_array_equal(feats[:, 4:], np.eye(3)[y])


def test_measures_on_scores_with_known_answers():
    is_member = np.array([1, 1, 1, 1, 0, 0, 0, 0], bool)
    perfect = np.array([8, 7, 6, 5, 4, 3, 2, 1.0])
    report = privacy.attack_report(perfect, is_member)
    assert report["auc"] == 1.0 and report["advantage"] == 1.0 and report["tpr_at_1%"] == 1.0
    # one non-member scores highest: at FPR 0 no member is caught; at FPR 1/4 all are
    one_wrong = np.array([7, 6, 5, 4, 8, 3, 2, 1.0])
    assert privacy.tpr_at_fpr(one_wrong, is_member, 0.0) == 0.0
    assert privacy.tpr_at_fpr(one_wrong, is_member, 0.25) == 1.0
    assert privacy.attack_report(one_wrong, is_member)["auc"] == pytest.approx(0.75)
    with pytest.raises(ValueError, match="unknown attack"):
        privacy.attack_scores(np.zeros((8, 3)), np.zeros(8), is_member, "shadow")


def test_victim_checkpoints_are_one_run():
    data = noise_dataset(n=40)
    labels = np.asarray(centered_one_hot(data.y_train, 4))
    cfg = VICTIM.replace(width=4)
    _, kept = privacy.train_victim(data.x_train, labels, data, cfg, [5, 2], progress=False)
    _, alone = privacy.train_victim(data.x_train, labels, data, cfg, [2], progress=False)
    assert sorted(kept) == [2, 5]
    for a, b in zip(jax.tree.leaves(kept[2]), jax.tree.leaves(alone[2])):
        np.testing.assert_array_equal(a, b)
    assert any(np.abs(a - b).max() > 0 for a, b in zip(jax.tree.leaves(kept[2]), jax.tree.leaves(kept[5])))
    with pytest.raises(ValueError, match=">= 1"):
        privacy.train_victim(data.x_train, labels, data, cfg, [0], progress=False)


@pytest.fixture(scope="module")
def noise_victim():
    """A victim trained long on 100 noise images with random labels (it can only memorise them), and 100
    other noise images it never saw."""
    data = noise_dataset(n=300)
    members, nonmembers = np.arange(100), np.arange(100, 200)
    labels = np.asarray(centered_one_hot(data.y_train[members], 4))
    model, kept = privacy.train_victim(data.x_train[members], labels, data, VICTIM, [600], progress=False)
    return data, model, kept[600], members, nonmembers


def test_every_attack_finds_a_victim_that_memorised(noise_victim):
    data, model, variables, members, nonmembers = noise_victim
    feats, loss, is_member = privacy.victim_features(model, variables, data, members, nonmembers)
    assert is_member.sum() == 100 and loss[is_member].mean() < 0.2 * loss[~is_member].mean()
    reports = privacy.run_attacks(feats, loss, is_member)
    assert set(reports) == set(privacy.ATTACKS)
    for attack, report in reports.items():
        assert report["auc"] > 0.9, (attack, report)


def test_attacks_find_nothing_when_the_victim_never_saw_the_members(noise_victim):
    data, model, variables, _, _ = noise_victim
    members, nonmembers = np.arange(200, 250), np.arange(250, 300)  # both unseen: "members" in name only
    feats, loss, is_member = privacy.victim_features(model, variables, data, members, nonmembers)
    for attack, report in privacy.run_attacks(feats, loss, is_member).items():
        assert abs(report["auc"] - 0.5) < 0.2, (attack, report)


def test_evaluate_victims_rows():
    data = noise_dataset(n=80)
    members, nonmembers = privacy.member_split(data.y_train, 20, 20, 4)
    victims = {"members": (data.x_train[members], np.asarray(centered_one_hot(data.y_train[members], 4)))}
    rows = privacy.evaluate_victims(victims, data, members, nonmembers, VICTIM.replace(width=4), [1, 3],
                                    attacks=("threshold", "logistic"), progress=False)
    assert [(r["victim"], r["steps"]) for r in rows] == [("members", 1), ("members", 3)]
    assert set(rows[0]["attacks"]) == {"threshold", "logistic"} and 0 <= rows[0]["test_acc"] <= 1
