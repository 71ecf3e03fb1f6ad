"""frepo_lite: FRePo dataset distillation (Zhou, Nezhadarya & Ba, NeurIPS 2022) in JAX, small and tested.

Modules (one job each; docs/package.md says more): ``data`` (datasets, preprocessing), ``models`` (Conv and the
transfer architectures), ``conv`` (the models' convolution), ``kernels`` (conjugate kernel, KRR), ``configs``
(the settings of a run and every preset), ``distill`` (the FRePo step and loop), ``checkpoint`` (resumable run
files), ``bptt`` (unrolled meta-gradients, for comparison),
``evaluate`` (fresh-network evaluation), ``augment`` (evaluation augmentation), ``sharding`` (several devices),
``export`` (distilled-set files), ``stored`` (the results and sets that ship with the package), ``viz``
(figures and widgets), ``labels`` (learned-label statistics), ``transfer`` (cross-architecture evaluation),
``continual`` (replay buffers, class-incremental learning), ``privacy`` (membership-inference attacks),
``cost`` (time and memory of compiled steps), ``protocol`` (the protocol version and the paper's numbers),
``exercises`` (the notebooks' self-checks), ``grading`` (what the course's hidden tests use), ``cli`` (the command line).
"""
__version__ = "0.1.0"

from .data import load_dataset  # noqa: E402
from .configs import DistillConfig, EvalConfig, preset  # noqa: E402  (the loop itself: frepo_lite.distill.distill)
from .evaluate import evaluate_random_subset, evaluate_support  # noqa: E402
from .export import load_distilled, save_distilled  # noqa: E402

__all__ = ["load_dataset", "DistillConfig", "preset", "EvalConfig", "evaluate_support", "evaluate_random_subset",
           "load_distilled", "save_distilled"]
