"""The version of the distillation and evaluation protocol that this frepo_lite implements.

Every stored result that depends on the algorithm carries it: the resume files of an evaluation
(their names are a hash that includes it) and the checkpoints of a distillation (refused when it differs).
Bump it whenever a change alters what a distillation or an evaluation computes, so that a resumed
benchmark never returns results of the old code.

History: 1, the first release; 2, cutout of side res/4 (was one pixel short at 16 and 32 px), pool models
reset after more than K online steps (was: after K), the KRR's fallback regulariser escalated tenfold from
the configured one (was: 1e-3 tr(K)/n at once), the KRR accuracy of an evaluation with the set's own
lambda0 and flips; 3, the evaluation's augmentation as the authors ran it (one op per batch, the crop-zoom's
window anywhere within the overflow, the cutout square wholly inside the image, the flip op mirroring each
image with probability 1/2) and the authors' rule for the KRR support's flips (distill.NO_FLIP).
"""
PROTOCOL_VERSION = 3
# The first protocol version whose distillation is this one's, for grayscale and for RGB data (version 3 changed
# the evaluation, and the flips of RGB distillations only): a set distilled since then is evaluated again as it
# is when only the evaluation changed.
SAME_DISTILLATION_SINCE = {"grayscale": 2, "rgb": 3}

# The paper's Table 1 (test accuracy %, FRePo's networks trained on its distilled sets), by (dataset, images/class).
# Each FRePo entry of Table 1 is the better of a learned-label and a fixed-label run (the paper's App. A.2): set a
# run of ours beside Table 7's column for its own label setting (paper_frepo), and Table 1's figure only as "the
# better of the two, as the paper reports it".
PAPER_TABLE1 = {("mnist", 1): 93.0, ("mnist", 10): 98.6, ("mnist", 50): 99.2,
                ("fashion_mnist", 1): 75.6, ("fashion_mnist", 10): 86.2, ("fashion_mnist", 50): 89.6,
                ("cifar10", 1): 46.8, ("cifar10", 10): 65.5, ("cifar10", 50): 71.7,
                ("cifar100", 1): 28.7, ("cifar100", 10): 42.5, ("cifar100", 50): 44.3}
# Random real subsets of the same size, as published by Zhao et al. (DC, ICLR 2021, Table 1): the baseline the
# distillation literature quotes for MNIST and Fashion-MNIST; the FRePo paper gives none for them.
PUBLISHED_RANDOM = {("mnist", 1): 64.9, ("mnist", 10): 95.1, ("mnist", 50): 97.9,
                    ("fashion_mnist", 1): 51.4, ("fashion_mnist", 10): 73.8, ("fashion_mnist", 50): 82.5}
# FRePo's successor RCIG (Loo, Hasani, Lechner & Rus, "Dataset Distillation with Convexified Implicit Gradients",
# ICML 2023, Table 1): test accuracy %, by (dataset, images/class).
PUBLISHED_RCIG = {("mnist", 1): 94.7, ("mnist", 10): 98.9, ("mnist", 50): 99.2,
                  ("fashion_mnist", 1): 79.8, ("fashion_mnist", 10): 88.5, ("fashion_mnist", 50): 90.2,
                  ("cifar10", 1): 53.9, ("cifar10", 10): 69.1, ("cifar10", 50): 73.5,
                  ("cifar100", 1): 39.3, ("cifar100", 10): 44.1}
# The paper's Table 7 (test accuracy %, networks trained on FRePo's sets with learned and with fixed labels;
# its MNIST and Fashion-MNIST rows): {(dataset, images/class): (learned, fixed)}.
PAPER_TABLE7 = {("mnist", 1): (92.5, 93.0), ("mnist", 10): (98.6, 98.6), ("mnist", 50): (99.2, 99.2),
                ("fashion_mnist", 1): (74.2, 75.6), ("fashion_mnist", 10): (86.2, 86.0),
                ("fashion_mnist", 50): (89.4, 89.6),
                ("cifar10", 1): (45.5, 46.8), ("cifar10", 10): (65.5, 65.4), ("cifar10", 50): (71.7, 71.7),
                ("cifar100", 1): (28.7, 25.4), ("cifar100", 10): (42.5, 39.6), ("cifar100", 50): (44.3, 40.1)}


def paper_frepo(dataset: str, images_per_class: int, learn_labels: bool = True) -> float | None:
    """The paper's FRePo accuracy (%) for a run of this label setting: Table 7's learned-label or fixed-label
    column; None where Table 7 has no such row."""
    row = PAPER_TABLE7.get((dataset, images_per_class))
    return None if row is None else row[0 if learn_labels else 1]


# The paper's Table 2 (CIFAR-10, 10 img/cls, test accuracy %): each method's set, distilled with its own
# architecture, trained on by each evaluation architecture; FRePo distils with Conv-BN, DSA/DM/MTT with Conv-IN.
PAPER_TABLE2_CIFAR10 = {
    "columns": ("Conv", "Conv-NN", "ResNet-DN", "ResNet-BN", "VGG-BN", "AlexNet"),
    "FRePo (Conv-BN)": (65.5, 65.5, 58.1, 57.7, 59.4, 61.9),
    "DSA (Conv-IN)": (53.2, 36.4, 42.1, 34.1, 46.3, 34.0),
    "DM (Conv-IN)": (49.2, 35.2, 36.8, 35.5, 41.2, 34.9),
    "MTT (Conv-IN)": (64.4, 41.6, 49.2, 42.9, 46.6, 34.2),
}
# The paper's Sec. 5.1 (CIFAR-100, 20 images/class, GDumb-style class-incremental learning; Fig. 5a-b): final
# test accuracy (%) on all 100 classes, by (number of steps, buffer); "FRePo, all classes" is a set of 10
# images/class (half the buffer's images) distilled from all classes at once, as the paper's text quotes it
# beside the 5-step buffer's 41.6 % (41.3 %; its Table 1 lists 42.5 % for that set).
PAPER_CONTINUAL_CIFAR100 = {(5, "FRePo"): 41.6, (5, "DM"): 33.9, (10, "FRePo"): 38.0, (10, "DM"): 34.0,
                            ("one-shot", "FRePo, all classes"): 41.3}
# The paper's Tables 4 (MNIST) and 6 (Fashion-MNIST): 10 000 members distilled to 500 images; test accuracy (%)
# of the victim and the ROC AUC of each attack: {dataset: {victim: (test acc, threshold, LR, MLP, RF, KNN)}}.
PAPER_MEMBERSHIP = {
    "mnist": {"real (10 000 members)": (99.2, 0.99, 0.99, 1.00, 1.00, 0.97),
              "random subset (500)": (96.8, 0.52, 0.50, 0.53, 0.55, 0.54),
              "FRePo (500)": (98.5, 0.52, 0.51, 0.53, 0.52, 0.51)},
    "fashion_mnist": {"real (10 000 members)": (89.7, 0.99, 0.99, 0.99, 0.99, 0.98),
                      "random subset (500)": (81.1, 0.53, 0.51, 0.52, 0.52, 0.53),
                      "FRePo (500)": (87.6, 0.52, 0.53, 0.53, 0.53, 0.52)},
}
# The paper's Tables 8-11 (Fig. 3c-d and 14a-b): time per step (ms, mean over 10 runs) and peak GPU memory (GB)
# of each method on an NVIDIA Quadro RTX 6000, the Conv of DSA (the same width in every layer), batch 256;
# against the width at 100 distilled images (Tables 8, 9) and against the number of distilled images (Tables
# 10, 11; the width is not stated: the 100-image row matches the width-64 row for DSA, DM and MTT); the dataset
# is not stated; MTT ran out of memory beyond 800 images. {sweep: {method: {x: (ms, GB)}}}.
_WIDTHS, _SIZES = (16, 32, 64, 128, 256, 512), (100, 200, 400, 800, 1600, 3200, 6400)
PAPER_COST = {
    "width": {
        "DSA": dict(zip(_WIDTHS, zip((1764.3, 1742.2, 2014.6, 2583.5, 4909.8, 8764.6),
                                     (0.800, 0.986, 1.488, 2.014, 4.594, 10.768)))),
        "DM": dict(zip(_WIDTHS, zip((569.1, 573.5, 669.8, 950.6, 1569.2, 3209.5),
                                    (0.678, 0.714, 0.888, 1.164, 1.718, 2.970)))),
        "MTT": dict(zip(_WIDTHS, zip((206.2, 268.6, 299.9, 485.6, 939.6, 2153.6),
                                     (0.650, 1.260, 2.462, 4.858, 9.790, 19.110)))),
        "FRePo": dict(zip(_WIDTHS, zip((7.7, 6.9, 8.5, 10.9, 20.8, 52.5),
                                       (0.036, 0.086, 0.178, 0.387, 0.814, 2.080)))),
    },
    "size": {
        "DSA": dict(zip(_SIZES, zip((2051.8, 2073.4, 1928.6, 1952.5, 1977.4, 2233.8, 2467.8),
                                    (1.488, 1.644, 1.916, 2.558, 3.776, 6.056, 10.482)))),
        "DM": dict(zip(_SIZES, zip((649.4, 662.9, 681.4, 722.7, 747.2, 727.3, 874.2),
                                   (0.888, 0.964, 1.116, 1.464, 2.076, 3.412, 6.060)))),
        "MTT": dict(zip(_SIZES[:4], zip((302.8, 575.0, 1077.5, 2169.1), (2.464, 4.848, 9.662, 19.700)))),
        "FRePo": dict(zip(_SIZES, zip((10.9, 9.6, 16.2, 23.4, 35.3, 59.6, 123.2),
                                      (0.178, 0.308, 0.563, 0.721, 1.210, 2.380, 4.740)))),
    },
}
