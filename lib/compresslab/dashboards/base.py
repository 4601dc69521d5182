"""What every dashboard shares: the figure's widget, the error panel, readouts."""
from __future__ import annotations

import contextlib
import functools
import html
import traceback

import ipywidgets as widgets


def figure_widget(fig):
    """The widget that shows ``fig``: ipympl's canvas itself under
    ``%matplotlib widget``; otherwise (tests, other backends) a static image
    in an Output widget."""
    if isinstance(fig.canvas, widgets.DOMWidget):
        return fig.canvas
    out = widgets.Output()
    from IPython import get_ipython

    if get_ipython() is not None:      # outside IPython (scripts, tests) there is nothing to show
        with out:
            from IPython.display import display

            display(fig)
    return out


class Dashboard:
    """Base class: subclasses build ``controls`` and ``fig``, then call
    ``_finish(layout_children)``, and implement ``update()``."""

    controls: dict
    fig = None
    report = None

    def __init__(self):
        # ipywidgets swallows exceptions raised in callbacks; show them here instead.
        self.errors = widgets.Output(layout=widgets.Layout(max_height="12em", overflow="auto"))
        self.errors.add_class("compresslab-errors")
        self.last_error = None
        self._syncing = False       # True while the dashboard itself sets control values

    def _observe_controls(self, names=None):
        for name, control in self.controls.items():
            if (names is None or name in names) and hasattr(control, "value"):
                control.observe(self._on_change, names="value")

    def _on_change(self, change):
        if not self._syncing:
            self.safely(self.update)()

    @contextlib.contextmanager
    def syncing(self):
        """Set controls from code without each change triggering an update."""
        self._syncing = True
        try:
            yield
        finally:
            self._syncing = False

    def safely(self, fn):
        """Wrap a callback so an error is shown in the dashboard, not lost."""
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                self.last_error = None
                self.errors.clear_output()
                return fn(*args, **kwargs)
            except Exception as exc:   # shown to the user, and kept for tests
                self.last_error = exc
                with self.errors:
                    print("".join(traceback.format_exception_only(type(exc), exc)).strip())
        return wrapper

    def update(self):
        raise NotImplementedError


def readout_table(rows) -> str:
    """HTML for a two-column table of (label, value) pairs."""
    cells = "".join(f"<tr><td style='padding:1px 10px 1px 0;white-space:nowrap'>{html.escape(k)}</td>"
                    f"<td style='text-align:right;white-space:nowrap'><b>{html.escape(v)}</b></td></tr>" for k, v in rows)
    return f"<table style='font-family:monospace;font-size:13px'>{cells}</table>"


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
