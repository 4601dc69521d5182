"""What every dashboard shares: the figure's widget, the error panel, readouts."""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import html
import threading
import traceback
from concurrent.futures import Future

import ipywidgets as widgets

FILE_SIZE_DELAY = 0.3          # seconds of stillness before the file is deflated


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

    def _assemble(self, controls_box):
        """The layout every dashboard shares: controls beside the readout, the
        trainer row, the figure, the error panel."""
        self.widget = widgets.VBox([widgets.HBox([controls_box, self.readout]), self._trainer_row(),
                                    figure_widget(self.fig), self.errors])

    # --- long work behind a button, with a progress bar ---------------------------------
    def _trainer_controls(self, button_name, description, epochs, max_epochs):
        """The epochs slider and the button (for ``controls``); builds ``self.progress``."""
        self.progress = widgets.IntProgress(value=0, min=0, max=epochs, description="training",
                                            layout=widgets.Layout(visibility="hidden"))
        self._trainer_button = button_name
        return {"epochs": widgets.IntSlider(value=epochs, min=1, max=max_epochs, description="epochs",
                                            continuous_update=False),
                button_name: widgets.Button(description=description, icon="play", button_style="primary",
                                            layout=widgets.Layout(width="auto"))}

    def _trainer_row(self):
        return widgets.HBox([self.controls["epochs"], self.controls[self._trainer_button], self.progress])

    @contextlib.contextmanager
    def _training(self):
        """Show the progress bar and disable the button while training runs; yields
        (epochs, on_epoch) where ``on_epoch`` is the training engine's callback."""
        epochs = self.controls["epochs"].value
        button = self.controls[self._trainer_button]
        self.progress.max, self.progress.value = epochs, 0
        self.progress.layout.visibility = "visible"
        button.disabled = True
        try:
            yield epochs, lambda epoch, history: setattr(self.progress, "value", epoch + 1)
        finally:
            button.disabled = False

    def _show_readout(self):
        """Redraw the readout (called again when the file size arrives)."""

    # --- the .npz file size, deflated in the background ------------------------------
    file_size_job = None
    _file_size_timer = None

    def _stop_file_size(self):
        """Cancel a deflate that has not started; wait for one that has (a deflate
        running beside the next move's timing would slow it)."""
        if self._file_size_timer is not None:
            self._file_size_timer.cancel()
            if not self.file_size_job.cancel():       # already running (or done)
                self.file_size_job.result()

    def _schedule_file_size(self, network, report, baseline):
        """Deflate the .npz file (30-75 ms for LeNet-sized layers) in a background
        thread once the controls have been still for ``FILE_SIZE_DELAY`` seconds,
        then fill in ``report.file_bytes`` and redraw the readout."""
        from ..metrics import with_file_bytes

        job = self.file_size_job = Future()

        def run():
            if job.set_running_or_notify_cancel():
                with_file_bytes(report, network, baseline)
                if job is self.file_size_job:
                    self._show_readout()
                job.set_result(report.file_bytes)

        self._file_size_timer = threading.Timer(FILE_SIZE_DELAY, run)
        self._file_size_timer.daemon = True
        self._file_size_timer.start()


@dataclasses.dataclass
class Baseline:
    """A dataset and its pretrained float64 network, timed and scored once."""

    dataset: object
    network: object
    seconds: float           # forward pass over the test set (time_forward)
    accuracy: float


def load_baseline(name: str) -> Baseline:
    from ..data import load_dataset
    from ..metrics import time_forward
    from ..models import load_pretrained
    from ..network import from_sklearn

    dataset = load_dataset(name)
    network = from_sklearn(load_pretrained(name))
    return Baseline(dataset, network, time_forward(network, dataset.X_test),
                    network.score(dataset.X_test, dataset.y_test))


def readout_table(rows, notes=()) -> str:
    """HTML for a two-column table of (label, value) pairs, then free-text notes
    (which wrap, so a long note never pushes the numbers out of view)."""
    cells = "".join(f"<tr><td style='padding:1px 10px 1px 0;white-space:nowrap'>{html.escape(k)}</td>"
                    f"<td style='text-align:right;white-space:nowrap'><b>{html.escape(v)}</b></td></tr>" for k, v in rows)
    paragraphs = "".join(f"<div style='margin-top:4px;max-width:34em'>Note: {html.escape(n)}</div>" for n in notes)
    return f"<table style='font-family:monospace;font-size:13px'>{cells}</table>{paragraphs}"


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
