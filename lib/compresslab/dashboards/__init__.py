"""Interactive dashboards, one module per notebook (the only place that imports ipywidgets).

The contract (DESIGN.md): a dashboard has ``controls`` (name -> widget),
``fig`` (a matplotlib figure updated in place), ``report`` (the latest
``metrics.Report``) and ``widget`` (what the notebook displays). Setting a
control's ``.value`` updates ``report`` and the figure synchronously, so
pytest can drive a dashboard without a browser.
"""
from .base import Dashboard
from .introduction import IntroductionDashboard
from .lowrank import LowRankDashboard
from .quantization import QuantizationDashboard

__all__ = ["Dashboard", "IntroductionDashboard", "LowRankDashboard", "QuantizationDashboard"]
