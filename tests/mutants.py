"""Mutation pass over the protocol: apply plausible one-line mistakes, one at a time, and check a test fails.

    .venv/bin/python tests/mutants.py             # all mutants; writes tests/mutants.md
    .venv/bin/python tests/mutants.py 3 7         # only mutants 3 and 7 (numbers as in tests/mutants.md)

Each mutant replaces one exact line fragment of a module of the package (kernels, configs, distill, checkpoint,
models, evaluate, augment, continual, privacy, sharding) in a scratch copy of the package and the tests (the checkout is never touched), and runs the
tests named beside it (the ones meant to catch it; `-x`, so it stops at the first failure), after checking that all the named
tests pass on the unmutated copy. A mutant is "caught" when those tests fail, "survived" when they pass. Mutants
that cannot change a result are listed in HARMLESS with the reason, and are not run.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "frepo_lite"
T = "tests/"

# (file, exact fragment, replacement, what the mistake is, tests expected to catch it)
MUTANTS = [
    ("kernels.py", "return lambda0 * jnp.trace(k_ss) / k_ss.shape[0]", "return lambda0 * jnp.trace(k_ss)",
     "regulariser not divided by n", [T + "test_kernels.py::test_regularizer_is_scaled_by_trace",
                                      T + "test_protocol.py::test_meta_loss_equals_numpy"]),
    ("kernels.py", "return 0.5 * jnp.mean(jnp.sum((pred - target) ** 2, axis=-1))",
     "return jnp.mean(jnp.sum((pred - target) ** 2, axis=-1))", "MSE without the 0.5",
     [T + "test_protocol.py::test_meta_loss_equals_numpy"]),
    ("kernels.py", "return 0.5 * jnp.mean(jnp.sum((pred - target) ** 2, axis=-1))",
     "return 0.5 * jnp.mean((pred - target) ** 2)", "MSE averaged over classes instead of summed",
     [T + "test_protocol.py::test_meta_loss_equals_numpy"]),
    ("kernels.py", "return jnp.mean(-jnp.minimum(top2[:, 0] - top2[:, 1], 1.0 / y_s.shape[-1]))",
     "return jnp.mean(-jnp.minimum(top2[:, 0] - top2[:, 1], 1.0))", "label margin capped at 1 instead of 1/C",
     [T + "test_kernels.py::test_label_margin_loss", T + "test_protocol.py::test_meta_loss_equals_numpy"]),
    ("kernels.py", "return (jax.nn.one_hot(y, num_classes) - 1.0 / num_classes) * scale",
     "return jax.nn.one_hot(y, num_classes) * scale", "targets not centred",
     [T + "test_protocol.py::test_centred_one_hot_targets"]),
    ("kernels.py", "JITTER_GROWTH = 10.0", "JITTER_GROWTH = 1000.0", "regulariser escalated too fast",
     [T + "test_kernels.py::test_the_regulariser_escalates_tenfold_from_the_configured_one"]),
    ("kernels.py", "reg = jnp.where(tries == 0, lam, jnp.maximum(lam, floor) * scale)",
     "reg = lam + 1e-3 * jnp.trace(k_ss) / n * (tries > 0)", "the old fixed fallback jitter",
     [T + "test_kernels.py::test_the_regulariser_escalates_tenfold_from_the_configured_one"]),
    ("distill.py", "return optax.cosine_decay_schedule(cfg.lr, max(cfg.steps, 1), alpha=cfg.lr_final_ratio)",
     "return optax.constant_schedule(cfg.lr)", "LAMB schedule constant",
     [T + "test_protocol.py::test_meta_schedule_is_cosine_to_a_tenth"]),
    ("distill.py", "return optax.lamb(schedule, weight_decay=0.0)",
     "return optax.lamb(cfg.lr, weight_decay=0.0)", "LAMB ignores its schedule",
     [T + "test_protocol.py::test_lamb_uses_the_schedule_with_a_per_tensor_trust_ratio"]),
    ("distill.py", "return optax.lamb(schedule, weight_decay=0.0)",
     "return optax.adam(schedule)", "Adam instead of LAMB (no trust ratio)",
     [T + "test_protocol.py::test_lamb_uses_the_schedule_with_a_per_tensor_trust_ratio"]),
    ("distill.py", "xs, ys_support = jnp.concatenate([xs, xs[:, :, ::-1]]), jnp.concatenate([ys, ys])",
     "xs, ys_support = jnp.concatenate([xs, xs[:, ::-1]]), jnp.concatenate([ys, ys])", "vertical flip",
     [T + "test_protocol.py::test_meta_loss_equals_numpy"]),
    ("distill.py", "        if cfg.order == \"v1\":\n            variables, opt_i, online_steps = train_online(",
     "        if cfg.order == \"v0\":\n            variables, opt_i, online_steps = train_online(", "v1 without its online step first",
     [T + "test_protocol.py::test_orders_v1_and_v2_are_the_hand_written_sequences"]),
    ("distill.py", "        if cfg.order == \"v2\":\n            variables, opt_i, online_steps = train_online(",
     "        if cfg.order in (\"v1\", \"v2\"):\n            variables, opt_i, online_steps = train_online(",
     "v1 also trains after the meta-step", [T + "test_protocol.py::test_orders_v1_and_v2_are_the_hand_written_sequences"]),
    ("distill.py", "reset = steps_i > cfg.max_online_steps", "reset = steps_i >= cfg.max_online_steps",
     "reset after K steps instead of more than K",
     [T + "test_distill.py::test_pool_counters_start_staggered_and_reset_after_more_than_k"]),
    ("distill.py", "opt_i = pick(optimizer.init(fresh[\"params\"]), opt_i)", "opt_i = opt_i",
     "a reset keeps the old Adam state",
     [T + "test_distill.py::test_pool_counters_start_staggered_and_reset_after_more_than_k"]),
    ("distill.py", "steps = (jnp.arange(cfg.pool_size) * (cfg.max_online_steps // cfg.pool_size)).astype(jnp.int32)",
     "steps = jnp.zeros(cfg.pool_size, jnp.int32)", "pool counters not staggered",
     [T + "test_distill.py::test_pool_counters_start_staggered_and_reset_after_more_than_k"]),
    ("distill.py", "idx = jax.random.choice(key, n, (batch,), replace=False)",
     "idx = jax.random.choice(key, n, (batch,), replace=True)", "online subset drawn with replacement",
     [T + "test_protocol.py::test_online_update_takes_a_random_subset_without_replacement"]),
    ("distill.py", "    if n > batch:\n", "    if n > batch + 1000:\n", "online update ignores its batch size",
     [T + "test_protocol.py::test_online_update_takes_a_random_subset_without_replacement",
      T + "test_protocol.py::test_the_step_with_more_images_than_the_online_batch_matches_by_hand_over_steps"]),
    ("distill.py", "idx = jax.random.randint(k_batch, (cfg.real_batch,), 0, x_real.shape[0])",
     "idx = jnp.arange(cfg.real_batch)", "the same real batch every step",
     [T + "test_protocol.py::test_the_step_with_more_images_than_the_online_batch_matches_by_hand_over_steps"]),
    ("configs.py", "return 1.0 / np.sqrt(num_classes / 10.0)", "return np.sqrt(num_classes / 10.0)",
     "label scale inverted", [T + "test_configs.py::test_label_scale_for_many_classes"]),
    ("distill.py", "krr_fallbacks=state.krr_fallbacks + (metrics[\"krr_escalations\"] > 0),",
     "krr_fallbacks=state.krr_fallbacks,", "KRR fallbacks not counted",
     [T + "test_distill.py::test_krr_fallbacks_are_counted_and_warned_about_once"]),
    ("distill.py", "            check_finite(done, jax.device_get(metrics))  # never overwrite",
     "            pass  # never overwrite", "no finiteness check before a checkpoint",
     [T + "test_distill.py::test_a_diverged_state_is_never_written_over_a_good_checkpoint"]),
    ("checkpoint.py", "if version != CHECKPOINT_VERSION or payload.get(\"protocol_version\") != PROTOCOL_VERSION:",
     "if version != CHECKPOINT_VERSION:", "checkpoints of another protocol accepted",
     [T + "test_distill.py::test_a_checkpoint_of_another_protocol_version_is_refused"]),
    ("evaluate.py", "return optax.warmup_cosine_decay_schedule(0.0, cfg.lr, min(cfg.warmup_steps, steps // 2), steps,\n"
     "                                              end_value=cfg.lr * cfg.final_lr_ratio)",
     "return optax.warmup_cosine_decay_schedule(0.0, cfg.lr, min(cfg.warmup_steps, steps // 2), steps,\n"
     "                                              end_value=cfg.lr)", "no cosine decay in evaluation",
     [T + "test_protocol.py::test_evaluation_schedule_warms_up_then_decays_to_a_hundredth"]),
    ("evaluate.py", "min(cfg.warmup_steps, steps // 2), steps,", "0, steps,", "no warm-up in evaluation",
     [T + "test_protocol.py::test_evaluation_schedule_warms_up_then_decays_to_a_hundredth"]),
    ("evaluate.py", "return optax.adam(eval_lr_schedule(cfg, steps))", "return optax.adam(cfg.lr)",
     "evaluation Adam ignores the schedule", [T + "test_protocol.py::test_evaluation_adam_takes_the_scheduled_steps"]),
    ("evaluate.py", "return jax.random.permutation(key, n)[:batch]", "return jnp.arange(n)[:batch]",
     "evaluation batches not shuffled (the reference's mistake)",
     [T + "test_protocol.py::test_evaluation_batches_are_random_distinct_and_cover_the_set"]),
    ("evaluate.py", "        if cfg.augment:\n", "        if False:\n", "evaluation trains without augmentation",
     [T + "test_protocol.py::test_evaluation_training_uses_its_optimizer_and_augmentation"]),
    ("evaluate.py", "x_eval, y_eval = (dataset.x_test, dataset.y_test) if split == \"test\" else (dataset.x_val, dataset.y_val)",
     "x_eval, y_eval = (dataset.x_test, dataset.y_test)", "split='val' reads the test split",
     [T + "test_evaluate.py::test_the_validation_split_is_what_val_measures"]),
    ("evaluate.py", "support_x = jnp.concatenate([images, images[:, :, ::-1]]) if krr_flip else images",
     "support_x = images", "evaluation KRR ignores the flips",
     [T + "test_protocol.py::test_evaluation_krr_uses_the_sets_lambda0_and_flips"]),
    ("evaluate.py", "pred = kernels.krr_from_features(f_s, f_eval, support_y, krr_lambda0)",
     "pred = kernels.krr_from_features(f_s, f_eval, support_y)", "evaluation KRR with the default lambda0",
     [T + "test_protocol.py::test_evaluation_krr_uses_the_sets_lambda0_and_flips"]),
    ("evaluate.py", "**krr, \"protocol_version\": PROTOCOL_VERSION}", "**krr}", "resume key without the protocol version",
     [T + "test_evaluate.py::test_resume_files_carry_the_protocol_version"]),
    ("augment.py", "(ys < top + h // 4) & (xs >= left) & (xs < left + w // 4)",
     "(ys < top + h // 4 - 1) & (xs >= left) & (xs < left + w // 4 - 1)", "cutout one pixel short",
     [T + "test_protocol.py::test_cutout_zeroes_one_square_of_side_res_over_4_inside_the_image"]),
    ("augment.py", "jnp.array([h - h // 4 + 1, w - w // 4 + 1])", "jnp.array([h, w])",
     "cutout square clipped at the border (the old protocol)",
     [T + "test_protocol.py::test_cutout_zeroes_one_square_of_side_res_over_4_inside_the_image"]),
    ("augment.py", "\"mirror\": jax.random.bernoulli(keys[8])}", "\"mirror\": jnp.array(True)}",
     "the flip op mirrors every image (the old protocol)",
     [T + "test_protocol.py::test_augment_draws_one_op_per_batch_and_mirrors_half_of_a_flip_batch"]),
    ("augment.py", "op = jax.random.randint(k_op, (n if per == \"image\" else 1,), 0, num_ops)",
     "op = jax.random.randint(k_op, (n,), 0, num_ops)", "one op per image by default (the old protocol)",
     [T + "test_protocol.py::test_augment_draws_one_op_per_batch_and_mirrors_half_of_a_flip_batch"]),
    ("augment.py", "[params[\"crop_offset\"] * overflow, params[\"shift\"]]", "[jnp.zeros(2), params[\"shift\"]]",
     "crop-zoom always about the centre (the old protocol)",
     [T + "test_protocol.py::test_geometric_ops_move_pixels_as_named"]),
    ("evaluate.py", "x = augment(k_aug, x, rgb, cfg.augment_per)", "x = augment(k_aug, x, rgb)",
     "evaluation ignores augment_per", [T + "test_protocol.py::test_evaluation_draws_its_augmentation_per_batch_unless_told"]),
    ("distill.py", "return info.is_rgb and not (sizes is None or cfg.images_per_class in sizes)", "return info.is_rgb",
     "flips on for every RGB set (the authors' exceptions ignored)",
     [T + "test_protocol.py::test_flips_follow_the_authors_rule"]),
    ("augment.py", "\"brightness\": u(keys[3], -0.25, 0.25),", "\"brightness\": u(keys[3], -0.5, 0.5),",
     "brightness range doubled", [T + "test_protocol.py::test_augmentation_parameter_ranges_are_the_protocols"]),
    ("augment.py", "\"zoom\": jnp.exp(u(keys[0], jnp.log(0.8), jnp.log(1.25))),", "\"zoom\": u(keys[0], 0.8, 1.25),",
     "zoom uniform instead of log-uniform", [T + "test_protocol.py::test_augmentation_parameter_ranges_are_the_protocols"]),
    ("augment.py", "mirror = jnp.where(params[\"mirror\"], jnp.array([[1.0, 0.0], [0.0, -1.0]]), eye)",
     "mirror = jnp.where(params[\"mirror\"], jnp.array([[-1.0, 0.0], [0.0, 1.0]]), eye)", "augmentation flips vertically",
     [T + "test_protocol.py::test_geometric_ops_move_pixels_as_named"]),
    ("augment.py", "num_ops = len(OPS) if rgb else len(OPS) - 1", "num_ops = len(OPS)", "grayscale images flipped too",
     [T + "test_protocol.py::test_augment_never_flips_grayscale"]),
    ("augment.py", "col = (col - mean) * params[\"contrast\"] + mean", "col = col * params[\"contrast\"]",
     "contrast scales about 0 instead of the mean", [T + "test_protocol.py::test_colour_op_brightness_saturation_contrast"]),
    ("continual.py", "return list(order.reshape(num_steps, -1))", "return list(order.reshape(-1, num_steps).T)",
     "class steps take every num_steps-th class", [T + "test_continual.py::test_class_order_is_the_seeded_permutation_and_steps_cut_it_in_order"]),
    ("continual.py", "out[:, np.asarray(classes)] = labels_k + scale / k - scale / num_classes",
     "out[:, np.asarray(classes)] = labels_k", "per-step labels not shifted to the C-class one-hot",
     [T + "test_continual.py::test_expand_labels_maps_a_k_class_one_hot_to_the_c_class_one_hot"]),
    ("continual.py", "result = evaluate_support(images, labels, seen_classes_only(dataset, seen), cfg, split=split,",
     "result = evaluate_support(images, labels, dataset, cfg, split=split,", "GDumb tests on all classes, not the seen ones",
     [T + "test_continual.py::test_gdumb_tests_only_the_classes_seen_so_far"]),
    ("privacy.py", "nonmembers.append(idx[m:m + nm])", "nonmembers.append(idx[:nm])", "non-members overlap the members",
     [T + "test_privacy.py::test_member_split_is_disjoint_and_class_balanced"]),
    ("privacy.py", "if t + 1 in checkpoints:", "if t in checkpoints:", "victim snapshot one step early",
     [T + "test_privacy.py::test_victim_checkpoints_are_one_run"]),
    ("privacy.py", "return -np.asarray(loss, np.float64)", "return np.asarray(loss, np.float64)",
     "threshold attack scores the loss, not -loss",
     [T + "test_privacy.py::test_every_attack_finds_a_victim_that_memorised"]),
    ("privacy.py", "return float(tprs[fprs <= fpr].max())", "return float(tprs[fprs < fpr].max())",
     "TPR at FPR strictly below the limit", [T + "test_privacy.py::test_measures_on_scores_with_known_answers"]),
    ("distill.py", "        xs, ys = xs[support], ys[support]", "        xs, ys = xs, ys",
     "krr_support drawn but every image still used as support",
     [T + "test_distill.py::test_krr_support_subset_moves_only_the_chosen_images",
      T + "test_distill.py::test_krr_support_bounds_the_kernel_solved_each_step"]),
    ("checkpoint.py", "saved = {**_config_defaults(), **json.loads(payload[\"config\"])}",
     "saved = json.loads(payload[\"config\"])", "a checkpoint written before a setting existed is refused",
     [T + "test_distill.py::test_a_checkpoint_written_before_a_setting_existed_resumes_with_its_default"]),
    ("distill.py", "x_t, y_t = (jax.lax.with_sharding_constraint(a, sharding.split_rows(mesh)) for a in (x_t, y_t))",
     "pass", "the real batch not split across the devices (every device computes all of it)",
     [T + "test_sharding.py::test_the_sharded_step_splits_the_real_batch"]),
    ("evaluate.py", "k_loops = jax.vmap(init, in_axes=(0, None))(keys, images.shape[1:])",
     "k_loops = jax.vmap(init, in_axes=(0, None))(keys[::-1], images.shape[1:])",
     "the parallel evaluation's networks get other randomness than the sequential ones",
     [T + "test_sharding.py::test_the_parallel_evaluation_trains_the_same_networks_split_across_devices"]),
    ("sharding.py", "return jax.jit(jax.shard_map(fn, mesh=mesh, in_specs=specs, out_specs=PartitionSpec(DATA_AXIS)))",
     "return jax.jit(fn)", "the parallel evaluation's step partitioned by XLA (all-gathers every step)",
     [T + "test_sharding.py::test_the_parallel_evaluation_passes_nothing_between_devices"]),
    # the options from FRePo's successors (tests/test_plus.py)
    ("kernels.py", "logits = pred * jnp.exp(log_temperature)", "logits = pred / jnp.exp(log_temperature)",
     "temperature divides the KRR predictions", [T + "test_plus.py::test_cross_entropy_meta_loss_equals_numpy"]),
    ("distill.py", "\"temperature\": optax.adam(cfg.temperature_lr)", "\"temperature\": optax.adam(schedule)",
     "the temperature learned at the images' rate",
     [T + "test_plus.py::test_the_temperature_is_learned_by_adam_at_its_own_rate"]),
    ("distill.py", "weight = (1.0 - decay) / (1.0 - decay ** step)", "weight = 1.0 - decay",
     "moving average not debiased (pulled towards the first iterate)",
     [T + "test_plus.py::test_the_run_gives_the_debiased_moving_average_of_its_iterates"]),
    ("distill.py", "    images, labels = distilled_set(state)\n    return DistillResult(",
     "    images, labels = state.images, state.labels\n    return DistillResult(",
     "the run returns the last iterate, not its moving average",
     [T + "test_plus.py::test_the_run_gives_the_debiased_moving_average_of_its_iterates"]),
    ("distill.py", "(), 1, cfg.online_steps + 1)", "(), 1, cfg.online_steps)",
     "online steps drawn from 1..S-1", [T + "test_plus.py::test_each_visit_trains_its_model_a_uniform_1_to_s_steps"]),
    ("distill.py", "steps_i = state.pool.steps[i] + online_steps", "steps_i = state.pool.steps[i] + 1",
     "a visit of several steps ages its model by one",
     [T + "test_plus.py::test_each_visit_trains_its_model_a_uniform_1_to_s_steps"]),
    ("distill.py", "*carry, images, labels, jax.random.fold_in(k_online, j),", "*carry, images, labels, k_online,",
     "the same online subset at every step of a visit",
     [T + "test_plus.py::test_the_visit_is_that_many_hand_written_online_steps"]),
    ("distill.py", "\"adabelief\": optax.adabelief}", "\"adabelief\": optax.adam}", "AdaBelief is Adam",
     [T + "test_plus.py::test_the_images_take_the_named_optimiser"]),
    ("models.py", "return lambda x: jax.nn.softplus(beta * x) / beta", "return lambda x: jax.nn.softplus(x)",
     "softplus without its beta", [T + "test_plus.py::test_softplus_is_a_smooth_relu_within_log2_over_beta"]),
    ("distill.py", "activation = softplus(cfg.softplus_beta) if cfg.activation == \"softplus\" else flax.linen.relu",
     "activation = flax.linen.relu", "the pool ignores its activation",
     [T + "test_plus.py::test_the_pool_uses_the_smooth_activation_and_the_evaluation_relu"]),
    ("checkpoint.py", "saved_state.setdefault(name, initial[name])",
     "pass", "a checkpoint written before the options existed is refused",
     [T + "test_plus.py::test_a_checkpoint_written_before_the_options_existed_resumes"]),
    ("distill.py", "variables, opt_i, online_steps = train_online(variables, opt_i, state.images, state.labels)",
     "variables, opt_i, _ = train_online(variables, opt_i, state.images, state.labels)",
     "the v1 order's visits do not age the model", [T + "test_plus.py::test_the_v1_order_ages_its_models_too"]),
    ("distill.py", "lambda params: {k: \"temperature\" if k == \"log_temperature\" else \"set\"",
     "lambda params: {k: \"temperature\" if k != \"images\" else \"set\"",
     "the labels take the temperature's optimiser",
     [T + "test_plus.py::test_with_the_cross_entropy_the_set_keeps_its_optimiser_and_the_temperature_gets_adam"]),
    ("distill.py", 'history.setdefault("temperature", []).append(float(np.exp(m["log_temperature"])))',
     'history.setdefault("temperature", []).append(float(m["log_temperature"]))',
     "the history records the log-temperature as the temperature",
     [T + "test_plus.py::test_a_cross_entropy_run_records_its_temperature_each_step"]),
]

# Mutants considered and not run, because no result can change.
HARMLESS = [
    ("distill.py: pred = krr(..., jax.lax.stop_gradient(f_t), ...) -> without stop_gradient",
     "the target features depend on the model and the real batch, not on the distilled images or labels, so the "
     "meta-gradient with respect to the data is the same; the model's parameters are not differentiated here"),
    ("distill.py: `if n > batch:` -> `if n >= batch:` in online_update",
     "at n == batch the subset is a permutation of all n images; the Adam step on a batch is invariant to its "
     "order (mean loss, BatchNorm statistics over the batch), so the result is the same up to float round-off"),
]


def run(selection: list[int]) -> list[dict]:
    """Mutate a copy of the package and tests in a scratch folder, never the checkout itself (other runs
    may import the package meanwhile)."""
    results = []
    scratch = Path(tempfile.mkdtemp(prefix="frepo_mutants_"))
    for part in ("frepo_lite", "tests"):
        shutil.copytree(ROOT / part, scratch / part, ignore=shutil.ignore_patterns("__pycache__"))
    (scratch / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(scratch)}
    where = subprocess.run([sys.executable, "-c", "import frepo_lite; print(frepo_lite.__file__)"], cwd=scratch,
                           env=env, capture_output=True, text=True).stdout.strip()
    if not where.startswith(str(scratch)):
        raise SystemExit(f"the scratch copy is not the one imported ({where}); nothing was mutated")
    named = sorted({t for m in MUTANTS for t in m[4]})
    baseline = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *named], cwd=scratch,
                              env=env, capture_output=True, text=True, timeout=3600)
    if baseline.returncode != 0:  # a mutant counts as caught only if the same tests pass without it
        raise SystemExit("the named tests fail on the unmutated package:\n" + baseline.stdout[-3000:])
    for number, (name, old, new, what, tests) in enumerate(MUTANTS, 1):
        if selection and number not in selection:
            continue
        path = scratch / "frepo_lite" / name
        original = (PKG / name).read_text()
        if original.count(old) != 1:
            raise SystemExit(f"mutant {number} ({what}): its fragment occurs {original.count(old)} times in {name}")
        t0 = time.perf_counter()
        try:
            path.write_text(original.replace(old, new))
            proc = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests],
                                  cwd=scratch, env=env, capture_output=True, text=True, timeout=900)
        finally:
            path.write_text(original)
        caught = proc.returncode != 0
        failed = [line.split(" ")[1] for line in proc.stdout.splitlines() if line.startswith("FAILED")]
        results.append({"number": number, "file": name, "what": what, "caught": caught,
                        "by": failed[0].split("::")[-1] if failed else ("error" if caught else ""),
                        "seconds": round(time.perf_counter() - t0)})
        print(f"{number:2d} {'caught  ' if caught else 'SURVIVED'} {name}: {what} {results[-1]['by']}", flush=True)
    shutil.rmtree(scratch, ignore_errors=True)
    return results


def write_report(results: list[dict]) -> None:
    caught = sum(r["caught"] for r in results)
    lines = ["# Mutation pass over the protocol", "",
             "Command: `.venv/bin/python tests/mutants.py` (from the repository root). Each mutant is one plausible "
             "one-line mistake in a module of `frepo_lite/`; it is caught when the tests "
             "named beside it in `tests/mutants.py` fail.", "",
             f"Result: {caught} of {len(results)} mutants caught.", "",
             "| # | file | mistake | caught by |", "|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['number']} | {r['file']} | {r['what']} | "
                     f"{r['by'] if r['caught'] else '**survived**'} |")
    lines += ["", "Considered harmless (not run):", ""] + [f"- {m}: {why}." for m, why in HARMLESS]
    (ROOT / "tests" / "mutants.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    chosen = [int(a) for a in sys.argv[1:]]
    out = run(chosen)
    if not chosen:
        write_report(out)
    sys.exit(0 if all(r["caught"] for r in out) else 1)
