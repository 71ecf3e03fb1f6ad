"""Class-incremental learning: class orders and steps, the four buffers, and the GDumb loop."""
import numpy as np
import pytest

from frepo_lite import continual
from frepo_lite.data import herding_indices
from frepo_lite.configs import DistillConfig
from frepo_lite.evaluate import EvalConfig
from frepo_lite.kernels import centered_one_hot

from conftest import make_dataset

TINY_DISTILL = DistillConfig(steps=0, width=8, real_batch=8, pool_size=1, max_online_steps=2, online_batch=4)


def test_class_order_is_the_seeded_permutation_and_steps_cut_it_in_order():
    order = continual.class_order(10, 3)
    np.testing.assert_array_equal(order, np.random.RandomState(3).permutation(10))
    steps = continual.class_steps(order, 5)
    assert len(steps) == 5 and all(len(s) == 2 for s in steps)
    np.testing.assert_array_equal(np.concatenate(steps), order)
    with pytest.raises(ValueError, match="divides 10"):
        continual.class_steps(order, 3)


@pytest.mark.parametrize("method", ["random", "herding"])
def test_real_buffer_holds_per_class_images_of_its_classes_only(method):
    data = make_dataset(num_classes=4, n_train=80)
    images, labels = continual.real_buffer(data, [2, 0], 3, method)
    assert images.shape == (6, 16, 16, 1) and labels.shape == (6, 4)
    np.testing.assert_allclose(labels, centered_one_hot(np.array([2] * 3 + [0] * 3), 4, 1 / np.sqrt(0.4)), atol=1e-6)
    rows = [int(np.flatnonzero((data.x_train == im).all(axis=(1, 2, 3)))[0]) for im in images]
    assert list(data.y_train[rows]) == [2] * 3 + [0] * 3
    if method == "herding":
        chosen = herding_indices(data.x_train, data.y_train, 3, 4)
        assert set(rows) == set(chosen[np.isin(data.y_train[chosen], [2, 0])])
    # a class's exemplars do not depend on the other classes of its step
    images_alone, _ = continual.real_buffer(data, [0], 3, method)
    np.testing.assert_array_equal(images_alone, images[3:])
    with pytest.raises(ValueError, match="'random' or 'herding'"):
        continual.real_buffer(data, [0], 3, "frepo")


def test_classes_only_relabels_in_the_order_given():
    data = make_dataset(num_classes=4, n_train=80)
    sub = continual.classes_only(data, [3, 1])
    assert sub.num_classes == 2 and sub.info.name == data.info.name
    assert set(sub.y_train) == {0, 1} and len(sub.y_train) == np.isin(data.y_train, [3, 1]).sum()
    np.testing.assert_array_equal(sub.x_train[sub.y_train == 0], data.x_train[data.y_train == 3])
    np.testing.assert_array_equal(sub.x_test[sub.y_test == 1], data.x_test[data.y_test == 1])


def test_expand_labels_maps_a_k_class_one_hot_to_the_c_class_one_hot():
    scale = 0.7
    k_labels = np.asarray(centered_one_hot(np.array([0, 1, 1]), 2, scale))
    out = continual.expand_labels(k_labels, [4, 2], 5, scale)
    np.testing.assert_allclose(out, centered_one_hot(np.array([4, 2, 2]), 5, scale), atol=1e-6)
    learned = k_labels + np.array([[0.3, -0.1], [0.0, 0.2], [0.1, 0.1]], np.float32)
    moved = continual.expand_labels(learned, [4, 2], 5, scale) - out
    np.testing.assert_allclose(moved[:, [4, 2]], learned - k_labels, atol=1e-6)  # learned changes kept
    np.testing.assert_allclose(moved[:, [0, 1, 3]], 0, atol=1e-6)
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        continual.expand_labels(np.zeros((3, 5)), [4, 2], 5, scale)


def test_distilled_buffers_start_from_their_classes_and_label_all_classes(tmp_path):
    data = make_dataset(num_classes=4, n_train=80)
    steps = [np.array([3, 1]), np.array([0, 2])]
    for method in ("frepo", "frepo_all"):
        buffers = continual.build_buffers(data, method, steps, 2, TINY_DISTILL, progress=False)
        for classes, (images, labels) in zip(steps, buffers):
            assert images.shape == (4, 16, 16, 1) and labels.shape == (4, 4)
            assert list(np.argmax(labels, 1)) == [classes[0]] * 2 + [classes[1]] * 2
            rows = [int(np.flatnonzero((data.x_train == im).all(axis=(1, 2, 3)))[0]) for im in images]
            assert list(data.y_train[rows]) == list(np.argmax(labels, 1))  # step 0: real images of the class
    for method in ("frepo", "frepo_all"):
        continual.build_buffers(data, method, steps, 2, TINY_DISTILL.replace(steps=1), runs_dir=tmp_path,
                                progress=False)
    assert len(list(tmp_path.glob("*.ckpt"))) == 3  # one per class group, and one for all classes
    with pytest.raises(ValueError, match="pass distill_cfg"):
        continual.build_buffers(data, "frepo", steps, 2)
    with pytest.raises(ValueError, match="unknown buffer"):
        continual.build_buffers(data, "icarl", steps, 2)


def test_distilled_buffer_learns_from_its_classes():
    data = make_dataset(num_classes=4, n_train=80)
    before, _ = continual.distilled_buffer(data, [3, 1], TINY_DISTILL, progress=False)
    after, labels = continual.distilled_buffer(data, [3, 1], TINY_DISTILL.replace(steps=3, lr=1e-2), progress=False)
    assert np.abs(after - before).max() > 0 and np.all(np.isfinite(labels))


def test_gdumb_tests_only_the_classes_seen_so_far():
    """After a step that saw one class, a network trained on that class alone predicts it everywhere: 100 %
    on the seen class (it would be 1/3 if the loop tested all classes)."""
    data = make_dataset(num_classes=3, n_train=60, n_test=30)
    steps = continual.class_steps(np.array([2, 0, 1]), 3)
    buffers = continual.build_buffers(data, "random", steps, 2)
    cfg = EvalConfig(width=8, steps=30, num_models=1, warmup_steps=1, lr=1e-2, augment=False)
    rows = continual.gdumb(data, buffers, steps, cfg, progress=False)
    assert [r["step"] for r in rows] == [1, 2, 3] and [r["buffer_size"] for r in rows] == [2, 4, 6]
    assert rows[0]["classes"] == [2] and rows[2]["classes"] == [2, 0, 1]
    assert rows[0]["acc_mean"] == 1.0
    with pytest.raises(ValueError, match="one buffer per step"):
        continual.gdumb(data, buffers[:2], steps, cfg)
