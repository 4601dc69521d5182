"""Compression Lab: model compression, taught live on scikit-learn MLPs.

    from compresslab import load_dataset, load_pretrained, from_sklearn, evaluate

The submodules are imported on first use (PEP 562), so ``import compresslab``
is instant and never pulls in matplotlib or ipywidgets.
"""
import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "load_dataset": "data", "Dataset": "data", "DATASETS": "data",
    "load_pretrained": "models", "train_baseline": "models",
    "load_baseline": "baseline", "Baseline": "baseline",
    "Network": "network", "Dense": "network", "from_sklearn": "network",
    "train": "training", "History": "training",
    "compression_rate": "metrics", "index_space_saving": "metrics", "speedup": "metrics",
    "evaluate": "metrics", "sweep": "metrics", "Report": "metrics",
    "measure_speedup": "metrics", "Speedup": "metrics", "timing_guard": "metrics", "wait_until_quiet": "metrics",
    "accuracy_se": "stats", "mean_sd": "stats", "mcnemar": "stats", "paired_bootstrap": "stats",
    "Verdict": "stats", "compare_accuracies": "stats", "compare_paired": "stats",
    "factorize": "lowrank", "allocate_ranks": "lowrank", "sweep_energy": "curves", "sweep_budget": "curves",
    "quantize": "quantization", "quantization_aware_training": "quantization", "sweep_schemes": "curves",
    "quantize_array": "quantization",
    "integer_network": "integer",
    "prune": "pruning", "fine_tune": "pruning", "iterative_prune": "pruning", "Sparse": "pruning",
    "distill": "distillation", "soften": "distillation", "Ensemble": "distillation",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'compresslab' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
