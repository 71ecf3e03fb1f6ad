"""Cross-architecture evaluation: every transfer architecture trains on MNIST- and CIFAR-shaped inputs, and
evaluate_transfer returns one row per (set, architecture), resumable."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from frepo_lite.evaluate import EvalConfig
from frepo_lite.models import init_model, make_model, mse_train_step
from frepo_lite.transfer import TRANSFER_ARCHS, evaluate_transfer, transfer_matrix

from conftest import make_dataset


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3)], ids=["28px-1ch", "32px-3ch"])
@pytest.mark.parametrize("name", list(TRANSFER_ARCHS))
def test_every_transfer_architecture_trains_on_both_input_shapes(name, shape):
    arch, norm = TRANSFER_ARCHS[name]
    model = make_model(arch, 10, shape[0], width=8, norm=norm)
    variables = init_model(model, jax.random.PRNGKey(0), shape)
    x = jax.random.normal(jax.random.PRNGKey(1), (4, *shape))
    y = jax.nn.one_hot(jnp.arange(4), 10) - 0.1
    optimizer = optax.adam(1e-3)
    new, _ = mse_train_step(model, optimizer, variables, optimizer.init(variables["params"]), x, y)
    moved = [float(jnp.abs(a - b).max()) for a, b in zip(jax.tree.leaves(new["params"]),
                                                          jax.tree.leaves(variables["params"]))]
    assert max(moved) > 0 and all(np.isfinite(m) for m in moved)


def test_transfer_rows_matrix_and_resume(tmp_path, monkeypatch):
    data = make_dataset(num_classes=3, resolution=16)
    sets = {"a": (data.x_train[:3], np.eye(3, dtype=np.float32) - 1 / 3),
            "b": (data.x_train[3:6], np.eye(3, dtype=np.float32) - 1 / 3)}
    cfg = EvalConfig(width=8, steps=3, num_models=2, warmup_steps=1, augment=False)
    rows = evaluate_transfer(sets, data, ["Conv-NN", "Conv-BN"], cfg, resume_dir=tmp_path, progress=False)
    assert [(r["set"], r["arch"]) for r in rows] == [("a", "Conv-NN"), ("a", "Conv-BN"), ("b", "Conv-NN"),
                                                     ("b", "Conv-BN")]
    assert rows[1]["network"] == "Conv-BN width 8" and len(rows[0]["accs"]) == 2 and rows[0]["steps"] == 3
    names, archs, mean, std = transfer_matrix(rows)
    assert names == ["a", "b"] and archs == ["Conv-NN", "Conv-BN"] and mean[1, 1] == rows[3]["acc_mean"]

    import frepo_lite.evaluate as evaluate

    trainer_for = evaluate._trainer_for

    def no_training(*args, **kwargs):
        model, _, _, steps = trainer_for(*args, **kwargs)
        never = lambda *a, **k: pytest.fail("a resumed table trained a network again")  # noqa: E731
        return model, never, never, steps

    monkeypatch.setattr(evaluate, "_trainer_for", no_training)
    assert evaluate_transfer(sets, data, ["Conv-NN", "Conv-BN"], cfg, resume_dir=tmp_path, progress=False) == rows


def test_unknown_architecture_and_empty_sets_are_refused():
    data = make_dataset()
    with pytest.raises(ValueError, match="unknown architecture"):
        evaluate_transfer({"a": (data.x_train[:3], np.eye(3))}, data, ["LeNet"])
    with pytest.raises(ValueError, match="no sets"):
        evaluate_transfer({}, data)
