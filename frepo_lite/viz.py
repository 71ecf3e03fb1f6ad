"""Pictures of distilled sets, learned labels and training curves (matplotlib)."""
from __future__ import annotations

import numpy as np

# The notebooks' figure style: 100 dpi, with titles, ticks and legends readable at that size.
NOTEBOOK_STYLE = {"figure.dpi": 100, "savefig.dpi": 100, "font.size": 9, "axes.titlesize": 10,
                  "axes.labelsize": 9, "xtick.labelsize": 8, "ytick.labelsize": 8, "legend.fontsize": 8,
                  "legend.framealpha": 0.9, "figure.titlesize": 10}


def use_notebook_style() -> None:
    """Apply NOTEBOOK_STYLE to matplotlib (every notebook calls this once, after its imports)."""
    import matplotlib.pyplot as plt

    plt.rcParams.update(NOTEBOOK_STYLE)


def image_grid(pixels: np.ndarray, ncols: int, pad: int = 1) -> np.ndarray:
    """Tile (n,H,W,C) pixels in [0,1] into one (rows*(H+pad)-pad, ncols*(W+pad)-pad, C) image."""
    n, h, w, c = pixels.shape
    nrows = -(-n // ncols)
    grid = np.ones((nrows * (h + pad) - pad, ncols * (w + pad) - pad, c), np.float32)
    for k in range(n):
        r, q = divmod(k, ncols)
        grid[r * (h + pad):r * (h + pad) + h, q * (w + pad):q * (w + pad) + w] = pixels[k]
    return grid


def save_grid_png(path, pixels: np.ndarray, ncols: int, scale: int = 3) -> None:
    """Write pixels (n,H,W,C) in [0,1] as a PNG grid, each pixel upscaled by `scale`."""
    import matplotlib.pyplot as plt

    grid = image_grid(pixels, ncols)
    grid = np.kron(grid, np.ones((scale, scale, 1), np.float32))
    plt.imsave(path, grid[..., 0] if grid.shape[-1] == 1 else grid, cmap="gray", vmin=0, vmax=1)


def plot_distilled(pixels: np.ndarray, labels: np.ndarray, class_names=None, ncols: int | None = None,
                   title: str | None = None):
    """A figure of distilled images, each titled with its label's argmax (and the score)."""
    import matplotlib.pyplot as plt

    n, c = labels.shape
    ncols = ncols or min(n, c)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.2 * ncols, 1.35 * nrows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < n:
            img = pixels[k]
            ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=1)
            cls = int(np.argmax(labels[k]))
            name = class_names[cls] if class_names else str(cls)
            ax.set_title(f"{name} ({labels[k, cls]:.2f})", fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_labels(labels: np.ndarray, class_names=None, title: str = "learned labels"):
    """Heat map of a label matrix (n, C): rows are distilled images, columns classes."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, min(0.25 * labels.shape[0] + 1, 8)))  # rows get thinner past 28 images
    im = ax.imshow(labels, cmap="RdBu_r", vmin=-np.abs(labels).max(), vmax=np.abs(labels).max(), aspect="auto")
    ax.set_xlabel("class")
    ax.set_ylabel("distilled image")
    if class_names:
        ax.set_xticks(range(len(class_names)), class_names, rotation=90, fontsize=8)
    ax.set_title(title)
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    return fig


def plot_history(history: dict, keys=("loss", "krr_batch_acc", "image_norm", "image_grad_norm")):
    """One small panel per recorded quantity of a distillation history, against the step."""
    import matplotlib.pyplot as plt

    keys = [k for k in keys if history.get(k)]
    fig, axes = plt.subplots(1, len(keys), figsize=(3 * len(keys), 2.4), squeeze=False)
    for ax, k in zip(axes.flat, keys):
        ax.plot(history["step"], history[k])
        ax.set_title(k, fontsize=9)
        ax.set_xlabel("step")
    fig.tight_layout()
    return fig


def figure_slider(count: int, draw, start: int, description: str):
    """An ipywidgets slider over 0..count-1 that shows draw(k) (a matplotlib figure) for the chosen k.

    Each figure is drawn to a PNG shown by an Image widget (not captured through an Output widget, which can
    stall headless runs on large figures). Returns the widget; widget.show(k) draws k without a front end.
    """
    import io

    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    image = widgets.Image(format="png")

    def show(k: int) -> None:
        fig = draw(k)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        plt.close(fig)
        image.value = buffer.getvalue()

    slider = widgets.IntSlider(value=start, min=0, max=count - 1, description=description, continuous_update=False)
    slider.observe(lambda change: show(change["new"]), names="value")
    box = widgets.VBox([slider, image])
    box.show = show
    show(start)
    return box


def snapshot_viewer(snapshots: list[dict], to_pixels, labels: np.ndarray | None = None, ncols: int | None = None):
    """An ipywidgets slider that scrubs through a distillation's saved images (see figure_slider).

    snapshots: history['snapshots'] of frepo_lite.distill.distill, each {'step': int, 'images': (n,H,W,C)};
    to_pixels: maps model-space images to pixels in [0, 1] (e.g. dataset.preprocessing.inverse);
    labels (n,C): titles each image with its class. Returns the widget (display it, or call
    widget.show(k) to draw snapshot k without a front end).
    """
    if not snapshots:
        raise ValueError("no snapshots to show: run distill(..., snapshot_every=N) to record them")
    n = snapshots[0]["images"].shape[0]
    labels = labels if labels is not None else np.eye(n, 1)

    def draw(k: int):
        snap = snapshots[k]
        return plot_distilled(to_pixels(snap["images"]), labels, ncols=ncols, title=f"step {snap['step']}")

    return figure_slider(len(snapshots), draw, len(snapshots) - 1, "snapshot")


def plot_transfer_matrix(rows: list[dict], title: str = "test accuracy (%) by evaluation architecture"):
    """Heat map of evaluate_transfer's rows: sets down, architectures across, mean +- std (%) in each cell."""
    import matplotlib.pyplot as plt

    from .transfer import transfer_matrix

    sets, archs, mean, std = transfer_matrix(rows)
    fig, ax = plt.subplots(figsize=(1.1 * len(archs) + 2.5, 0.5 * len(sets) + 1.5))
    im = ax.imshow(100 * mean, cmap="viridis", aspect="auto")
    for i in range(len(sets)):
        for j in range(len(archs)):
            if np.isfinite(mean[i, j]):
                bright = mean[i, j] > np.nanmean(mean)
                ax.text(j, i, f"{100 * mean[i, j]:.1f}\n±{100 * std[i, j]:.1f}", ha="center", va="center",
                        fontsize=8, color="black" if bright else "white")
    ax.set_xticks(range(len(archs)), archs, rotation=30, ha="right")
    ax.set_yticks(range(len(sets)), sets)
    ax.set_title(title)
    fig.colorbar(im, ax=ax, label="accuracy (%)")
    fig.tight_layout()
    return fig


def plot_label_view(pixels: np.ndarray, label: np.ndarray, class_names, neighbours: np.ndarray,
                    prediction: np.ndarray, title: str = ""):
    """One distilled image explained: the image (H,W,C in [0,1]), its label (C,) as bars, its nearest real
    training images (k,H,W,C in [0,1]) and a fresh network's output for it (C,) as bars."""
    import matplotlib.pyplot as plt

    k = len(neighbours)
    fig = plt.figure(figsize=(2.2 * (2 + k) + 2, 2.6))
    grid = fig.add_gridspec(1, 3 + k, width_ratios=[1, 2] + [1] * k + [2])
    show = lambda ax, img: ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=1)  # noqa: E731
    ax = fig.add_subplot(grid[0])
    show(ax, pixels)
    ax.set_title(title or "distilled image")
    ax.axis("off")
    for col, (values, name) in ((1, (label, "its label")), (2 + k, (prediction, "fresh network's output"))):
        ax = fig.add_subplot(grid[col])
        ax.barh(range(len(values)), values, color=["tab:red" if v < 0 else "tab:blue" for v in values])
        ax.set_yticks(range(len(values)), class_names, fontsize=7)
        ax.invert_yaxis()
        ax.axvline(0, color="black", lw=0.5)
        ax.set_title(name)
    for j, img in enumerate(neighbours):
        ax = fig.add_subplot(grid[2 + j])
        show(ax, img)
        ax.set_title(f"nearest real #{j + 1}", fontsize=8)
        ax.axis("off")
    fig.tight_layout()
    return fig


def label_explorer(pixels: np.ndarray, labels: np.ndarray, class_names, neighbours: np.ndarray,
                   predictions: np.ndarray):
    """An ipywidgets explorer of learned labels: a slider picks a distilled image; it shows
    :func:`plot_label_view` for it (see figure_slider).

    pixels (n,H,W,C) in [0,1]; labels (n,C); neighbours (n,k,H,W,C) in [0,1], e.g. from
    labels.nearest_real_images; predictions (n,C), a fresh network's outputs on the distilled images.
    Returns the widget; widget.show(i) draws image i without a front end (as snapshot_viewer does).
    """
    n = len(pixels)
    if not (len(labels) == len(neighbours) == len(predictions) == n):
        raise ValueError(f"pixels, labels, neighbours and predictions need one entry per image, got "
                         f"{n}, {len(labels)}, {len(neighbours)} and {len(predictions)}")

    def draw(i: int):
        own = int(np.argmax(labels[i]))
        return plot_label_view(pixels[i], labels[i], class_names, neighbours[i], predictions[i],
                               title=f"image {i}: {class_names[own]}")

    return figure_slider(n, draw, 0, "image")
