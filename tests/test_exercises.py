"""Every exercise self-check accepts right answers (returning None) and rejects wrong ones with a message
that names the mistake."""
import json

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import rankdata

from sklearn.metrics import roc_auc_score

from frepo_lite import exercises, kernels, privacy
from frepo_lite.bptt import unrolled_meta_gradient
from frepo_lite.distill import update_average


def _dual(x_s, y_s, x_t, lam):
    return x_t @ x_s.T @ np.linalg.solve(x_s @ x_s.T + lam * np.eye(len(x_s)), y_s)


def _dual_cholesky(x_s, y_s, x_t, lam):  # notebook 01's worked solution
    chol = np.linalg.cholesky(x_s @ x_s.T + lam * np.eye(len(x_s)))
    return (x_t @ x_s.T) @ np.linalg.solve(chol.T, np.linalg.solve(chol, y_s))


def _dual_jnp(x_s, y_s, x_t, lam):
    return x_t @ x_s.T @ jnp.linalg.solve(x_s @ x_s.T + lam * jnp.eye(len(x_s)), y_s)


def _dual_jnp_converted(x_s, y_s, x_t, lam):
    x_s, y_s, x_t = jnp.asarray(x_s), jnp.asarray(y_s), jnp.asarray(x_t)
    return _dual_jnp(x_s, y_s, x_t, lam)


def _primal(x_s, y_s, x_t, lam):
    return x_t @ np.linalg.solve(x_s.T @ x_s + lam * np.eye(x_s.shape[1]), x_s.T @ y_s)


def _primal_jnp(x_s, y_s, x_t, lam):
    x_s, y_s, x_t = jnp.asarray(x_s), jnp.asarray(y_s), jnp.asarray(x_t)
    return x_t @ jnp.linalg.solve(x_s.T @ x_s + lam * jnp.eye(x_s.shape[1]), x_s.T @ y_s)


def _dual_lam_first_entry(x_s, y_s, x_t, lam):
    k = x_s @ x_s.T
    k[0, 0] += lam
    return x_t @ x_s.T @ np.linalg.solve(k, y_s)


def _read_set(path, clip=True, use_std=True, swap=False, standardised=False, refuse_zca=True):
    f = np.load(path)
    if refuse_zca and json.loads(str(f["metadata"]))["preprocessing"]["zca"] != "none":
        raise ValueError("this set uses ZCA whitening")
    mean, std = (f["pre_std"], f["pre_mean"]) if swap else (f["pre_mean"], f["pre_std"])
    x = f["images"] if standardised else f["images"] * (std if use_std else 1.0) + mean
    return (np.clip(x, 0, 1) if clip else x), f["labels"]


def _memory(model, steps, inner_lr, args, truncate=None, field="temp_size_in_bytes"):
    analysis = unrolled_meta_gradient(model, steps, inner_lr, truncate).lower(*args).compile().memory_analysis()
    return getattr(analysis, field)


def _krr_loss(f_s, y_s, f_t, y_t, lambda0):
    return kernels.mse_loss(kernels.krr_from_features(f_s, f_t, y_s, lambda0), y_t)


def _margin_np(labels):
    top2 = -np.sort(-labels, axis=-1)[:, :2]
    return np.mean(-np.minimum(top2[:, 0] - top2[:, 1], 1.0 / labels.shape[-1]))


# the worked solutions of the notebooks' larger exercises (02-08), and wrong answers a student could write

def _meta_step(features, x_s, y_s, x_t, y_t, lambda0, lr, krr_loss, argnums=(0, 1), sign=-1.0):
    import jax
    grads = jax.grad(lambda a, b: krr_loss(features(a), b, features(x_t), y_t, lambda0), argnums=argnums)(x_s, y_s)
    grads = dict(zip(argnums, grads))
    return (x_s + sign * lr * grads.get(0, 0.0), y_s + sign * lr * grads.get(1, 0.0))


def _pool_step(models, ages, i, K, train, init, reset_at=None, mutate=False, reset_then_train=False):
    models, ages = (models, ages) if mutate else (list(models), np.array(ages, copy=True))
    ages[i] += 1
    if ages[i] > K if reset_at is None else ages[i] >= reset_at:
        models[i], ages[i] = (train(init()) if reset_then_train else init()), 0
    else:
        models[i] = train(models[i])
    return models, ages


def _compare(a, b, ddof=1, quadrature=True, absolute=True):
    if min(len(a), len(b)) < 2:
        return 100 * (np.mean(a) - np.mean(b)), float("nan"), "no spread"
    se_a, se_b = (np.std(x, ddof=ddof) / np.sqrt(len(x)) for x in (a, b))
    diff = 100 * (np.mean(a) - np.mean(b))
    noise = 200 * (np.sqrt(se_a ** 2 + se_b ** 2) if quadrature else se_a + se_b)
    return diff, noise, "beyond" if (abs(diff) if absolute else diff) > noise else "within"


def _groups(labels, split=np.median):
    from frepo_lite.labels import GROUPS
    top2 = -np.sort(-labels, axis=-1)[:, :2]
    confidence, margin = top2[:, 0], top2[:, 0] - top2[:, 1]
    return np.where(confidence < split(confidence), GROUPS[2],
                    np.where(margin < split(margin), GROUPS[1], GROUPS[0]))


def _herding(x, k, greedy=True):
    mu, total, picked = x.mean(0), np.zeros(x.shape[1]), []
    for j in range(1, k + 1):
        dist = np.linalg.norm(mu - ((total + x) / j if greedy else x), axis=1)
        dist[picked] = np.inf
        picked.append(int(np.argmin(dist)))
        total += x[picked[-1]]
    return np.array(picked)


def _attack_scores(features, is_member, folds, seed, in_sample=False):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    if in_sample:
        return model.fit(features, is_member).predict_proba(features)[:, 1]
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    return cross_val_predict(model, features, is_member, cv=cv, method="predict_proba")[:, 1]


def _cost_fit(sizes, seconds, powers, log=False):
    design = np.asarray(sizes, float)[:, None] ** np.asarray(powers)[None, :]
    return np.linalg.lstsq(design, np.log(seconds) if log else seconds, rcond=None)[0]


def _tempered_ce(pred, classes, t, scale=np.exp, stable=True, reduce=np.mean):
    logits = pred * scale(t)
    if stable:
        logits = logits - logits.max(-1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    return -reduce(log_p[np.arange(len(pred)), classes])


def _debiased(x, d, debias=True, start_first=False):
    if start_first:
        avg = x[0]
        for xs in x[1:]:
            avg = d * avg + (1 - d) * xs
        return avg
    avg = np.zeros_like(x[0])
    for xs in x:
        avg = d * avg + (1 - d) * xs
    return avg / (1 - d ** len(x)) if debias else avg


def _debiased_package(x, d):
    avg = {"x": jnp.asarray(x[0], jnp.float32)}
    for t, xs in enumerate(x[1:], start=2):
        avg = update_average(avg, {"x": jnp.asarray(xs, jnp.float32)}, t, d)
    return avg["x"]


def _debiased_optax(x, d):
    import optax
    ema = optax.ema(d, debias=True)
    state = ema.init(jnp.zeros_like(x[0], jnp.float32))
    for xs in x:
        average, state = ema.update(jnp.asarray(xs, jnp.float32), state)
    return average


RIGHT = [
    (exercises.check_to_pixels, lambda x, m, s: np.clip(x * s + m, 0, 1)),
    (exercises.check_label_classes, lambda y: y.argmax(-1)),
    (exercises.check_label_classes, lambda y: jnp.argmax(y, axis=-1)),
    (exercises.check_numpy_loader, _read_set),
    (exercises.check_dual_ridge, _dual),
    (exercises.check_dual_ridge, _dual_cholesky),
    (exercises.check_dual_ridge, _dual_jnp),
    (exercises.check_dual_ridge, _dual_jnp_converted),
    (exercises.check_regularizer, lambda k, l0: l0 * np.trace(k) / len(k)),
    (exercises.check_regularizer, kernels.regularizer),
    (exercises.check_conjugate_kernel, lambda a, b: a @ b.T),
    (exercises.check_krr_loss, _krr_loss),
    (exercises.check_label_init, lambda y, c: (np.eye(c)[y] - 1 / c) / np.sqrt(c / 10)),
    (exercises.check_label_init, lambda y, c: kernels.centered_one_hot(y, c, 1 / np.sqrt(c / 10))),
    (exercises.check_margin_loss, kernels.label_margin_loss),
    (exercises.check_margin_loss, _margin_np),
    (exercises.check_pool_offsets, lambda m, k: (k // m) * np.arange(m)),
    (exercises.check_label_margin, lambda y: np.diff(np.sort(y, -1)[:, -2:], axis=-1)[:, 0]),
    (exercises.check_class_similarity, lambda y, cls, c: np.stack([y[cls == i].mean(0) for i in range(c)])),
    (exercises.check_spearman, lambda a, b: np.corrcoef(rankdata(a), rankdata(b))[0, 1]),
    (exercises.check_conv_params, lambda ci, co, k: k * k * ci * co + co),
    (exercises.check_instance_norm, lambda x, eps: (x - x.mean((1, 2), keepdims=True))
     / np.sqrt(x.var((1, 2), keepdims=True) + eps)),
    (exercises.check_class_steps, lambda order, k: list(np.asarray(order).reshape(k, -1))),
    (exercises.check_class_steps, lambda order, k: np.array_split(order, k)),
    (exercises.check_class_steps, lambda order, k: [g[::-1] for g in np.array_split(order, k)]),  # any order within
    (exercises.check_seen_accuracy, lambda lg, y, seen: np.mean(lg.argmax(1)[np.isin(y, seen)] == y[np.isin(y, seen)])),
    (exercises.check_threshold_auc, lambda a, b: roc_auc_score(np.r_[np.ones(len(a)), np.zeros(len(b))], -np.r_[a, b])),
    (exercises.check_threshold_auc, lambda a, b: np.mean((a[:, None] < b) + 0.5 * (a[:, None] == b))),
    (exercises.check_tpr_at_fpr, privacy.tpr_at_fpr),
    (exercises.check_growth_exponent, lambda n, t: np.polyfit(np.log(n), np.log(t), 1)[0]),
    (exercises.check_growth_exponent, lambda n, t: np.linalg.lstsq(
        np.c_[np.log(n), np.ones(len(n))], np.log2(t) / np.log2(np.e), rcond=None)[0][0]),
    (exercises.check_time_to_accuracy, lambda s, a, y: next((t for t, v in zip(s, a) if v >= y), float("inf"))),
    (exercises.check_meta_step, _meta_step),
    (exercises.check_pool_step, _pool_step),
    (exercises.check_compare_cell, _compare),
    (exercises.check_label_groups, _groups),
    (exercises.check_herding, _herding),
    (exercises.check_attack_scores, _attack_scores),
    (exercises.check_cost_fit, _cost_fit),
    (exercises.check_cost_fit, lambda n, t, p: np.polyfit(n, t, 3)[::-1]),
    (exercises.check_tempered_cross_entropy, _tempered_ce),
    (exercises.check_tempered_cross_entropy, lambda p, c, t: kernels.tempered_cross_entropy(
        jnp.asarray(p, jnp.float32), jnp.asarray(c), t)),
    (exercises.check_debiased_average, _debiased),
    (exercises.check_debiased_average, _debiased_package),
    (exercises.check_debiased_average, _debiased_optax),
]

WRONG = [
    (exercises.check_to_pixels, lambda x, m, s: x * s + m, "not clipped"),
    (exercises.check_to_pixels, lambda x, m, s: np.clip(x * s, 0, 1), "mean is not added back"),
    (exercises.check_label_classes, lambda y: y.argmin(-1), "argmin"),
    (exercises.check_label_classes, lambda y: y.max(-1), "largest scores themselves"),
    (exercises.check_numpy_loader, lambda p: _read_set(p, clip=False), "pixels: .*not clipped"),
    (exercises.check_numpy_loader, lambda p: _read_set(p, use_std=False), "std is forgotten"),
    (exercises.check_numpy_loader, lambda p: _read_set(p, swap=True), "swapped"),
    (exercises.check_numpy_loader, lambda p: _read_set(p, clip=False, standardised=True), "as they are stored"),
    (exercises.check_numpy_loader, lambda p: _read_set(p, standardised=True), "only clipped"),
    (exercises.check_numpy_loader, lambda p: _read_set(p, refuse_zca=False), "ZCA whitening was read without"),
    (exercises.check_instance_norm, lambda x, eps: (x - x.mean((1, 2), keepdims=True)) / x.std((1, 2), keepdims=True),
     "NaN or inf"),
    (exercises.check_instance_norm, lambda x, eps: (x - x.mean((1, 2), keepdims=True))
     / (x.std((1, 2), keepdims=True) + eps), "under the square root"),
    (exercises.check_seen_accuracy, lambda lg, y, seen: np.mean([np.mean(lg[y == c].argmax(1) == c) for c in seen]),
     "macro average"),
    (exercises.check_seen_accuracy, lambda lg, y, seen: round(
        float(np.mean(lg.argmax(1)[np.isin(y, seen)] == y[np.isin(y, seen)])), 2), "rounded"),
    (exercises.check_time_to_accuracy, lambda s, a, y: next(
        (s[i] for i in range(len(a)) if all(v >= y for v in a[i:])), float("inf")), "stays at or above"),
    (exercises.check_dual_ridge, _primal, r"formed a d x d matrix \(an array of shape \(30, 30\)\)"),
    (exercises.check_dual_ridge, _primal_jnp, "formed a d x d matrix"),
    (exercises.check_dual_ridge, lambda x_s, y_s, x_t, lam: x_t @ x_s.T @ np.linalg.solve(x_s @ x_s.T, y_s),
     "lam is missing"),
    (exercises.check_dual_ridge, _dual_lam_first_entry, "first diagonal entry only"),
    (exercises.check_regularizer, lambda k, l0: l0 * np.trace(k) / len(k) if l0 > 0.1 else 0.0,
     r"lambda0=1e-08\): expected .*, got 0\. It looks like lambda is 0"),
    (exercises.check_regularizer, lambda k, l0: l0 * np.trace(k), "not divided by n"),
    (exercises.check_regularizer, lambda k, l0: l0, "lambda0 alone"),
    (exercises.check_regularizer, lambda k, l0: l0 * np.trace(k) / len(k) ** 2, "divided by n twice"),
    (exercises.check_conjugate_kernel, lambda a, b: a @ b.T / a.shape[1], "divided by d"),
    (exercises.check_conjugate_kernel, lambda a, b: a.T @ b, r"expected shape \(5, 5\), got \(9, 9\).*f1.T @ f2"),
    (exercises.check_krr_loss, lambda *a: _krr_loss(*a) * 5, "summed over targets"),
    (exercises.check_krr_loss, lambda *a: _krr_loss(*a) * 2, "0.5 is missing"),
    (exercises.check_krr_loss, lambda fs, ys, ft, yt, l0: _krr_loss(fs, ys, ft, yt, 0.0), "no regulariser"),
    (exercises.check_truncation_cost, lambda model, steps, lr, args: {1: 1, 2: 2, 3: 3}[steps],
     r"T=1, in bytes\): expected \d+, got 1\. Expected .*temp_size_in_bytes"),
    (exercises.check_truncation_cost, lambda model, steps, lr, args: steps * 1e6, r"T=1, in bytes\): expected"),
    (exercises.check_truncation_cost, lambda *a: _memory(*a, truncate=1), r"T=3, in bytes\).*without truncate"),
    (exercises.check_truncation_cost, lambda *a: _memory(*a, field="argument_size_in_bytes"),
     "argument_size_in_bytes"),
    (exercises.check_label_init, lambda y, c: np.eye(c)[y], "plain one-hot"),
    (exercises.check_label_init, lambda y, c: np.eye(c)[y] - 1 / c, r"C=100.*centred but not divided"),
    (exercises.check_margin_loss, lambda y: -np.mean(np.max(y, -1)), "top score alone"),
    (exercises.check_margin_loss, lambda y: -np.mean(np.diff(np.sort(y, -1)[:, -2:], axis=-1)), "not clamped"),
    (exercises.check_pool_offsets, lambda m, k: np.arange(m), "0..m-1"),
    (exercises.check_pool_offsets, lambda m, k: (k / m) * np.arange(m), r"m=4, K=10.*K // m"),
    (exercises.check_label_margin, lambda y: y.max(-1) - y.min(-1), "minus the smallest"),
    (exercises.check_label_margin, lambda y: y.max(-1), "confidence"),
    (exercises.check_label_margin, lambda y: np.sort(y, -1)[:, -1] - np.sort(y, -1)[:, -3], "top1 - top2"),
    (exercises.check_class_similarity, lambda y, cls, c: np.stack([y[cls == i].sum(0) for i in range(c)]), "summed"),
    (exercises.check_class_similarity, lambda y, cls, c: np.stack([y[cls == i].mean(0) for i in range(c)]).T,
     "transposed"),
    (exercises.check_spearman, lambda a, b: np.corrcoef(a, b)[0, 1], "Pearson"),
    (exercises.check_spearman, lambda a, b: np.corrcoef(np.argsort(a), np.argsort(b))[0, 1], "argsort of argsort"),
    (exercises.check_spearman, lambda a, b: np.corrcoef(np.argsort(np.argsort(a, kind="stable")),
                                                        np.argsort(np.argsort(b, kind="stable")))[0, 1],
     r"ties in the second vector.*share their mean rank"),
    (exercises.check_conv_params, lambda ci, co, k: k * k * ci * co, "bias is missing"),
    (exercises.check_conv_params, lambda ci, co, k: k * ci * co + co, r"k=3\).*k x c_in x c_out"),
    (exercises.check_instance_norm, lambda x, eps: (x - x.mean((0, 1, 2), keepdims=True))
     / np.sqrt(x.var((0, 1, 2), keepdims=True) + eps), "batch norm"),
    (exercises.check_instance_norm, lambda x, eps: (x - x.mean((1, 2, 3), keepdims=True))
     / np.sqrt(x.var((1, 2, 3), keepdims=True) + eps), "layer norm"),
    (exercises.check_class_steps, lambda order, k: [order[i::k] for i in range(k)], "consecutive"),
    (exercises.check_class_steps, lambda order, k: list(np.sort(order).reshape(k, -1)), "sorted"),
    (exercises.check_class_steps, lambda order, k: list(np.asarray(order).reshape(-1, k)), "number of groups"),
    (exercises.check_class_steps, lambda order, k: [order[i:i + k] for i in range(0, len(order), k)],
     r"groups of sizes \[5, 5\]"),
    (exercises.check_seen_accuracy, lambda lg, y, seen: np.mean(lg.argmax(1) == y), "not seen yet"),
    (exercises.check_seen_accuracy, lambda lg, y, seen: np.mean(
        seen[lg[:, seen].argmax(1)][np.isin(y, seen)] == y[np.isin(y, seen)]), "task-incremental"),
    (exercises.check_threshold_auc, lambda a, b: np.mean(a[:, None] > b) + 0.5 * np.mean(a[:, None] == b), "-loss"),
    (exercises.check_threshold_auc, lambda a, b: np.mean(a[:, None] < b), "ties are not counted"),
    (exercises.check_tpr_at_fpr, lambda s, m, f: max(
        (np.mean(s[m] >= t) for t in s if np.mean(s >= t) - np.mean(s[m] >= t) * m.mean() <= f), default=0.0),
     "over all images"),
    (exercises.check_tpr_at_fpr, lambda s, m, f: max((np.mean(s[m] >= t) for t in s if np.mean(s[~m] >= t) < f),
                                                      default=0.0), "strictly below"),
    (exercises.check_tpr_at_fpr, lambda s, m, f: max(
        (tp / m.sum() for tp, fp in zip(np.cumsum(m[np.argsort(-s, kind="stable")]),
                                        np.cumsum(~m[np.argsort(-s, kind="stable")])) if fp / (~m).sum() <= f),
        default=0.0), "splitting tied scores"),
    (exercises.check_growth_exponent, lambda n, t: np.polyfit(n, t, 1)[0], "linear axes"),
    (exercises.check_growth_exponent, lambda n, t: np.polyfit(n, np.log(t), 1)[0], "take the log of the sizes"),
    (exercises.check_growth_exponent, lambda n, t: np.log(t[-1] / t[-2]) / np.log(n[-1] / n[-2]), "last two points"),
    (exercises.check_growth_exponent, lambda n, t: np.polyfit(np.log(n), np.log(t), 1)[1], "intercept"),
    (exercises.check_time_to_accuracy, lambda s, a, y: s[np.argmax(a)], "best accuracy"),
    (exercises.check_time_to_accuracy, lambda s, a, y: next((t for t, v in zip(s, a) if v > y), float("inf")),
     "strictly"),
    (exercises.check_time_to_accuracy, lambda s, a, y: next((t for t, v in zip(s[::-1], a[::-1]) if v >= y),
                                                             float("inf")), "last time"),
    (exercises.check_time_to_accuracy, lambda s, a, y: next((t for t, v in zip(s, a) if v >= y), None),
     "expected inf"),
    (exercises.check_time_to_accuracy, lambda s, a, y: next((int(t) for t, v in zip(s, a) if v >= y),
                                                             float("inf")), "37.5"),
    (exercises.check_meta_step, lambda *a: _meta_step(*a, argnums=(0,)), "labels did not move"),
    (exercises.check_meta_step, lambda *a: _meta_step(*a, argnums=(1,)), "images did not move"),
    (exercises.check_meta_step, lambda *a: _meta_step(*a, sign=1.0), "a step up the gradient"),
    (exercises.check_pool_step, lambda *a: _pool_step(*a, reset_at=a[3]), r"reaches K \(>=\)"),
    (exercises.check_pool_step, lambda *a: _pool_step(*a, reset_then_train=True), "reset, then train"),
    (exercises.check_pool_step, lambda *a: _pool_step(*a, mutate=True), "changed the lists it was given"),
    (exercises.check_compare_cell, lambda a, b: _compare(a, b, ddof=0), "ddof=1"),
    (exercises.check_compare_cell, lambda a, b: _compare(a, b, quadrature=False), "quadrature"),
    (exercises.check_compare_cell, lambda a, b: _compare(a, b, absolute=False), "either direction"),
    (exercises.check_label_groups, lambda y: _groups(y, split=np.mean), "means, not medians"),
    (exercises.check_herding, lambda x, k: _herding(x, k, greedy=False), "nearest to the mean"),
    (exercises.check_herding, lambda x, k: np.sort(_herding(x, k)), "sorted"),
    (exercises.check_attack_scores, lambda *a: _attack_scores(*a, in_sample=True), "in-sample"),
    (exercises.check_attack_scores, lambda *a: 1 - _attack_scores(*a), "column 0"),
    (exercises.check_cost_fit, lambda n, t, p: _cost_fit(n, t, p, log=True), "log"),
    (exercises.check_cost_fit, lambda n, t, p: np.r_[0.0, _cost_fit(n, t, p[1:])], "constant term"),
    (exercises.check_tempered_cross_entropy, lambda *a: _tempered_ce(*a, stable=False), "overflows"),
    (exercises.check_tempered_cross_entropy, lambda *a: _tempered_ce(*a, scale=lambda t: t), "as it is"),
    (exercises.check_tempered_cross_entropy, lambda *a: _tempered_ce(*a, scale=lambda t: np.exp(-t)), "divided"),
    (exercises.check_tempered_cross_entropy, lambda *a: _tempered_ce(*a, scale=lambda t: 1.0), "left out"),
    (exercises.check_tempered_cross_entropy, lambda *a: _tempered_ce(*a, reduce=np.sum), "summed"),
    (exercises.check_tempered_cross_entropy, lambda p, c, t: -np.mean(
        np.exp(_tempered_ce(p, c, t, reduce=lambda v: -v))), "probability of the true class"),
    (exercises.check_tempered_cross_entropy, lambda p, c, t: -np.mean(
        exercises._log_softmax((p * np.exp(t)).T).T[np.arange(len(p)), c]), "axis 0"),
    (exercises.check_debiased_average, lambda x, d: _debiased(x, d, debias=False), "not debiased"),
    (exercises.check_debiased_average, lambda x, d: _debiased(x, d, start_first=True), "started at the first"),
    (exercises.check_debiased_average, lambda x, d: _debiased(x[::-1], d), "wrong way"),
    (exercises.check_debiased_average, lambda x, d: _debiased(x, 1 - d), "swapped"),
    (exercises.check_debiased_average, lambda x, d: x.mean(0), "plain mean"),
]


def _name(case):
    return f"{case[0].__name__}-{getattr(case[1], '__name__', '')}"


@pytest.mark.parametrize("check, right", RIGHT, ids=[_name(c) for c in RIGHT])
def test_check_accepts_a_right_answer_and_returns_nothing(check, right, capsys):
    assert check(right) is None
    out = capsys.readouterr().out
    assert out.startswith("correct: ") and out.count("\n") == 1


SEEDED = [(c, r) for c, r in RIGHT if "seed" in c.__code__.co_varnames[:c.__code__.co_argcount]]


@pytest.mark.parametrize("check, right", SEEDED, ids=[_name(c) for c in SEEDED])
def test_a_check_with_other_inputs_accepts_the_right_answer(check, right, capsys):
    """seed=1 draws the inputs the course's hidden tests use: the right answers pass there too."""
    assert check(right, seed=1) is None


@pytest.mark.parametrize("check, wrong, match", WRONG, ids=[f"{c[0].__name__}-{c[2]}" for c in WRONG])
def test_check_rejects_a_wrong_answer_naming_the_mistake(check, wrong, match):
    with pytest.raises(AssertionError, match=match):
        check(wrong)


def test_truncation_cost_accepts_the_full_bptt_memory_and_reports_it_per_step(capsys):
    assert exercises.check_truncation_cost(_memory) is None
    out = capsys.readouterr().out
    assert out.startswith("correct: full BPTT keeps every inner step: about ") and out.endswith(
        " MB more per unrolled step\n")
