"""frepo_lite: FRePo dataset distillation (Zhou, Nezhadarya & Ba, NeurIPS 2022) in JAX, small and tested.

Modules: ``data`` (datasets, preprocessing), ``models`` (Conv and transfer architectures), ``kernels``
(conjugate kernel, KRR), ``distill`` (the FRePo loop), ``evaluate`` (fresh-network evaluation),
``augment`` (evaluation augmentation), ``export`` (distilled-set files), ``viz`` (figures), ``labels``
(learned-label statistics), ``transfer`` (cross-architecture evaluation), ``continual`` (replay buffers and
class-incremental learning), ``privacy`` (membership-inference attacks).
"""
__version__ = "0.1.0"

from .data import load_dataset  # noqa: E402
from .distill import DistillConfig, preset  # noqa: E402  (the loop itself: frepo_lite.distill.distill)
from .evaluate import EvalConfig, evaluate_random_subset, evaluate_support  # noqa: E402
from .export import load_distilled, save_distilled  # noqa: E402

__all__ = ["load_dataset", "DistillConfig", "preset", "EvalConfig", "evaluate_support", "evaluate_random_subset",
           "load_distilled", "save_distilled"]
