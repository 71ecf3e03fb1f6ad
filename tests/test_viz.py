"""The interactive viewers of the notebooks: the snapshot viewer (03) and the label explorer (05); the static figures are tested in test_export.py."""
import numpy as np
import pytest


def test_snapshot_viewer_scrubs_and_refuses_an_empty_history():
    from frepo_lite.viz import snapshot_viewer

    snaps = [{"step": s, "images": np.full((3, 8, 8, 1), s / 10, np.float32)} for s in (0, 5, 10)]
    labels = np.eye(3)
    seen = []
    viewer = snapshot_viewer(snaps, lambda x: (seen.append(float(x.mean())), x)[1], labels)
    assert viewer.children[0].max == 2 and viewer.children[0].value == 2  # opens on the last snapshot
    viewer.children[0].value = 0  # moving the slider redraws
    viewer.show(1)
    assert seen == [1.0, 0.0, 0.5]
    with pytest.raises(ValueError, match="snapshot_every"):
        snapshot_viewer([], lambda x: x)


def test_notebook_style_is_readable():
    import matplotlib.pyplot as plt

    from frepo_lite.viz import NOTEBOOK_STYLE, use_notebook_style

    use_notebook_style()
    assert plt.rcParams["figure.dpi"] >= 100 and NOTEBOOK_STYLE["figure.dpi"] >= 100
    assert min(plt.rcParams[k] for k in ("xtick.labelsize", "ytick.labelsize", "legend.fontsize")) >= 8


def test_transfer_matrix_figure_writes_each_cell_and_labels_the_axes():
    from frepo_lite.viz import plot_transfer_matrix

    rows = [{"set": s, "arch": a, "acc_mean": m, "acc_std": 0.01} for s, a, m in
            (("FRePo", "Conv-NN", 0.9), ("FRePo", "AlexNet", 0.8), ("random", "Conv-NN", 0.6))]
    fig = plot_transfer_matrix(rows)
    ax = fig.axes[0]
    assert sorted(t.get_text() for t in ax.texts) == ["60.0\n±1.0", "80.0\n±1.0", "90.0\n±1.0"]  # missing pair: no text
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Conv-NN", "AlexNet"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["FRePo", "random"]


def test_label_explorer_draws_the_chosen_image_and_checks_its_inputs():
    from frepo_lite.viz import label_explorer, plot_label_view

    rng = np.random.default_rng(0)
    pixels, labels = rng.uniform(size=(3, 8, 8, 1)), rng.normal(size=(3, 4))
    neighbours, predictions = rng.uniform(size=(3, 2, 8, 8, 1)), rng.normal(size=(3, 4))
    names = ["a", "b", "c", "d"]
    fig = plot_label_view(pixels[1], labels[1], names, neighbours[1], predictions[1])
    bars = [ax for ax in fig.axes if ax.patches]
    assert [len(ax.patches) for ax in bars] == [4, 4]  # the label and the network's output, one bar per class
    assert [round(p.get_width(), 6) for p in bars[0].patches] == [round(v, 6) for v in labels[1]]
    assert len([ax for ax in fig.axes if ax.images]) == 3  # the image and its two neighbours
    widget = label_explorer(pixels, labels, names, neighbours, predictions)
    first = widget.children[1].value
    widget.children[0].value = 2  # moving the slider redraws
    assert widget.children[1].value != first and widget.children[1].value[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="one entry per image"):
        label_explorer(pixels, labels[:2], names, neighbours, predictions)
