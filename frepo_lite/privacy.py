"""Membership inference: does a network leak whether an image was in its training data? (paper Sec. 5.2)

The setting of the paper's Tables 4 and 6: a set of *member* images (the private training set) and as
many *non-member* images from the same distribution. Victim networks are trained on (a) the members, (b) a
random subset of them, (c) a set distilled from them, at several training lengths. An attacker sees each
image's label and the victim's outputs on it and guesses "member or not".

Attacks (on scikit-learn; the paper used tensorflow-privacy): a threshold on the victim's loss (members
tend to have lower loss), and logistic regression, an MLP, a random forest and k-nearest neighbours trained
on (logits, loss, one-hot label) with out-of-fold scores (each image is scored by an attacker fitted on the
other folds). Measures: ROC AUC as in the paper; the attacker's advantage max(TPR - FPR); and the true-
positive rate at low false-positive rates (1 %, 0.1 %), which the membership-inference literature now asks
for (Carlini et al., "Membership Inference Attacks From First Principles", 2022).

An attack that fails shows only that *this* attack fails; it is not a privacy guarantee.
"""
from __future__ import annotations

import dataclasses
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
from sklearn.ensemble import RandomForestClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tqdm.auto import tqdm

from . import kernels
from .data import Dataset
from .configs import EvalConfig, label_scale
from .evaluate import batch_indices, features_and_logits
from .models import init_model, make_model, mse_train_step

ATTACKS = ("threshold", "logistic", "mlp", "random_forest", "knn")
LOW_FPRS = (0.01, 0.001)
LEAK_AUC = 0.6  # a victim "leaks" once its strongest attack's ROC AUC reaches this (the paper's real victims: 0.99)


def member_split(y: np.ndarray, num_members: int, num_nonmembers: int, num_classes: int, seed: int = 0):
    """Disjoint class-balanced index sets (members (num_members,), non-members (num_nonmembers,)) into y (N,).

    Both are drawn from the same pool (the training split), so they come from one distribution and differ
    only in whether the victim trained on them. Each count must be a multiple of num_classes.
    """
    for name, n in (("num_members", num_members), ("num_nonmembers", num_nonmembers)):
        if n < num_classes or n % num_classes:
            raise ValueError(f"{name}={n} must be a positive multiple of the {num_classes} classes")
    rng = np.random.RandomState(seed)
    m, nm = num_members // num_classes, num_nonmembers // num_classes
    members, nonmembers = [], []
    for c in range(num_classes):
        idx = rng.permutation(np.flatnonzero(y == c))
        if len(idx) < m + nm:
            raise ValueError(f"class {c} has {len(idx)} images, fewer than the {m + nm} a split of {m} members "
                             f"and {nm} non-members per class needs: ask for fewer")
        members.append(idx[:m])
        nonmembers.append(idx[m:m + nm])
    return np.sort(np.concatenate(members)), np.sort(np.concatenate(nonmembers))


def members_only(dataset: Dataset, members: np.ndarray) -> Dataset:
    """The dataset whose training split is only the member images (to distil a set from them)."""
    return dataclasses.replace(dataset, x_train=dataset.x_train[members], y_train=dataset.y_train[members])


def train_victim(images, labels, dataset: Dataset, cfg: EvalConfig, checkpoints, seed: int = 0,
                 progress: bool = True) -> dict:
    """Train one fresh cfg.arch network on (images (n,H,W,C), labels (n,C)) without augmentation, with
    Adam at the constant learning rate cfg.lr on random batches of min(n, cfg.batch), and keep its variables
    after each number of steps in `checkpoints` (one run: the victim at 100 steps is the same network as the
    one at 16 000 steps, earlier). Returns (model, {steps: variables}).
    """
    checkpoints = sorted(int(s) for s in checkpoints)
    if not checkpoints or checkpoints[0] < 1:
        raise ValueError(f"checkpoints must be step counts >= 1, got {checkpoints}")
    images, labels = jnp.asarray(images, jnp.float32), jnp.asarray(labels, jnp.float32)
    n = images.shape[0]
    model = make_model(cfg.arch, dataset.num_classes, dataset.info.resolution, cfg.width, cfg.norm)
    tx = optax.adam(cfg.lr)
    batch = min(n, cfg.batch)

    @jax.jit
    def step(variables, opt_state, key):
        idx = batch_indices(key, n, batch)
        return mse_train_step(model, tx, variables, opt_state, images[idx], labels[idx])

    k_init, k_loop = jax.random.split(jax.random.PRNGKey(seed))
    variables = init_model(model, k_init, images.shape[1:])
    opt_state = tx.init(variables["params"])
    kept = {}
    for t in tqdm(range(checkpoints[-1]), desc="victim", disable=not progress, leave=False):
        variables, opt_state = step(variables, opt_state, jax.random.fold_in(k_loop, t))
        if t + 1 in checkpoints:
            kept[t + 1] = variables
    return model, kept


def attack_features(logits, y, num_classes: int):
    """What the attacker sees of each image: (features (N, 2C+1) = [logits, loss, one-hot label], loss (N,)).

    logits (N, C) the victim's outputs, y (N,) int labels; the loss is the victim's own training loss,
    0.5 ||logits - centred one-hot(y) / sqrt(C/10)||^2.
    """
    logits = np.asarray(logits, np.float32)
    target = np.asarray(kernels.centered_one_hot(y, num_classes, label_scale(num_classes)))
    loss = 0.5 * np.sum((logits - target) ** 2, axis=1)
    return np.concatenate([logits, loss[:, None], np.eye(num_classes, dtype=np.float32)[y]], axis=1), loss


def victim_features(model, variables, dataset: Dataset, members: np.ndarray, nonmembers: np.ndarray):
    """(features (N, 2C+1), loss (N,), is_member (N,) bool) of a victim on the member and non-member images
    of the training split (members first)."""
    idx = np.concatenate([members, nonmembers])
    _, logits = features_and_logits(model, variables, dataset.x_train[idx])
    feats, loss = attack_features(logits, dataset.y_train[idx], dataset.num_classes)
    is_member = np.concatenate([np.ones(len(members), bool), np.zeros(len(nonmembers), bool)])
    return feats, loss, is_member


def _attacker(name: str, seed: int):
    models = {
        "logistic": lambda: LogisticRegression(max_iter=1000),
        "mlp": lambda: MLPClassifier(hidden_layer_sizes=(64,), max_iter=500,
                                     random_state=seed),
        "random_forest": lambda: RandomForestClassifier(n_estimators=100, min_samples_leaf=5, n_jobs=-1,
                                                        random_state=seed),
        "knn": lambda: KNeighborsClassifier(n_neighbors=15),
    }
    return make_pipeline(StandardScaler(), models[name]())


def attack_scores(features, loss, is_member, attack: str, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Membership scores (N,), higher = "member", from one attack.

    "threshold": -loss (nothing is fitted). The others: the attacker's out-of-fold probability of "member",
    from a model fitted on the other `folds` - 1 folds of (features, is_member).
    """
    if attack not in ATTACKS:
        raise ValueError(f"unknown attack {attack!r}; choose from {ATTACKS}")
    if attack == "threshold":
        return -np.asarray(loss, np.float64)
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        # an MLP that has not converged after max_iter epochs (small or unlearnable data: the attack finds
        # nothing to fit) still gives valid out-of-fold scores
        warnings.simplefilter("ignore", ConvergenceWarning)
        return cross_val_predict(_attacker(attack, seed), np.asarray(features), np.asarray(is_member), cv=cv,
                                 method="predict_proba")[:, 1]


def tpr_at_fpr(scores, is_member, fpr: float) -> float:
    """The largest true-positive rate of a threshold on `scores` whose false-positive rate is at most fpr."""
    fprs, tprs, _ = roc_curve(np.asarray(is_member), np.asarray(scores))
    return float(tprs[fprs <= fpr].max())


def attack_report(scores, is_member) -> dict:
    """{'auc', 'advantage' (max TPR - FPR), 'tpr_at_1%', 'tpr_at_0.1%'} of membership scores."""
    fprs, tprs, _ = roc_curve(np.asarray(is_member), np.asarray(scores))
    report = {"auc": float(roc_auc_score(is_member, scores)), "advantage": float(np.max(tprs - fprs))}
    for fpr in LOW_FPRS:
        report[f"tpr_at_{100 * fpr:g}%"] = tpr_at_fpr(scores, is_member, fpr)
    return report


def run_attacks(features, loss, is_member, attacks=ATTACKS, seed: int = 0) -> dict:
    """{attack: attack_report} for each attack on one victim's (features, loss, is_member)."""
    return {a: attack_report(attack_scores(features, loss, is_member, a, seed=seed), is_member) for a in attacks}


def victim_accuracy(model, variables, dataset: Dataset) -> float:
    """The victim's accuracy on the test split, in [0, 1]."""
    _, logits = features_and_logits(model, variables, dataset.x_test)
    return float(jnp.mean(jnp.argmax(logits, -1) == dataset.y_test))


def attack_victim(model, variables, dataset: Dataset, members: np.ndarray, nonmembers: np.ndarray,
                  attacks=ATTACKS, seed: int = 0) -> dict:
    """One victim at one moment, attacked: {'test_acc', 'member_loss', 'nonmember_loss' (means of the victim's
    loss), 'attacks': {attack: attack_report}, 'scores': {attack: (N,)}, 'loss' (N,), 'is_member' (N,)}, the
    arrays over the members then the non-members."""
    feats, loss, is_member = victim_features(model, variables, dataset, members, nonmembers)
    scores = {a: attack_scores(feats, loss, is_member, a, seed=seed) for a in attacks}
    return {"test_acc": victim_accuracy(model, variables, dataset), "member_loss": float(loss[is_member].mean()),
            "nonmember_loss": float(loss[~is_member].mean()),
            "attacks": {a: attack_report(s, is_member) for a, s in scores.items()},
            "scores": scores, "loss": loss, "is_member": is_member}


def evaluate_victims(victims: dict, dataset: Dataset, members: np.ndarray, nonmembers: np.ndarray,
                     cfg: EvalConfig, checkpoints, attacks=ATTACKS, seed: int = 0, progress: bool = True) -> list[dict]:
    """Train one victim per training set and attack it at each training length.

    victims: {name: (images, labels)}, e.g. the members, a random subset of them, a set distilled from them.
    Returns one row per (victim, steps): {'victim', 'steps', 'test_acc', 'member_loss', 'nonmember_loss',
    'attacks': {attack: report}} (attack_victim without its arrays).
    """
    rows = []
    for name, (images, labels) in tqdm(victims.items(), desc="victims", disable=not progress):
        model, kept = train_victim(images, labels, dataset, cfg, checkpoints, seed, progress)
        for steps, variables in kept.items():
            result = attack_victim(model, variables, dataset, members, nonmembers, attacks, seed)
            rows.append({"victim": name, "steps": steps, **{k: result[k] for k in (
                "test_acc", "member_loss", "nonmember_loss", "attacks")}})
    return rows
