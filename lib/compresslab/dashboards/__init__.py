"""Interactive dashboards, one module per notebook (the only place that imports ipywidgets).

The contract is ``Dashboard`` (an ABC, see ``base``): ``controls`` (name ->
widget), ``fig`` (a matplotlib figure updated in place), ``report`` (the latest
``metrics.Report``), ``widget`` (what the notebook displays), ``errors`` and
``last_error``, and ``update()``. Setting a control's ``.value`` updates
``report`` and the figure synchronously, so pytest drives a dashboard without a
browser; tests/test_dashboard_contract.py checks every dashboard exported here.
"""
from .base import Dashboard, LiveDashboard
from .distillation import DistillationDashboard
from .introduction import IntroductionDashboard
from .lowrank import LowRankDashboard
from .pruning import PruningDashboard
from .quantization import QuantizationDashboard

__all__ = ["Dashboard", "DistillationDashboard", "IntroductionDashboard", "LiveDashboard", "LowRankDashboard",
           "PruningDashboard", "QuantizationDashboard"]
