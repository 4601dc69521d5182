"""The dashboard contract, and the machinery every dashboard shares.

``Dashboard`` is the contract (an ABC): what a notebook, a test or a future
dashboard may rely on. ``LiveDashboard`` implements the shared parts: the
layout, the error panel, the trainer row, and background work that never
touches a widget from its own thread.

Threads. A background job (the .npz deflate) only computes. It hands its
result, or its exception, to ``_post``, which queues a callback for the
kernel's thread: inside a kernel, the kernel's asyncio loop runs ``flush``
as soon as it is free (``call_soon_threadsafe``); outside one (tests,
scripts) nothing runs until someone calls ``flush()``. So widgets and the
figure are only ever changed on the kernel's thread, and a readout is always
rendered from one report and the settings that report was computed for.
Every wait on a background job is bounded.
"""
from __future__ import annotations

import abc
import asyncio
import contextlib
import dataclasses
import functools
import html
import queue
import threading
import traceback
import weakref
from concurrent import futures

import ipywidgets as widgets

from .. import metrics

FILE_SIZE_DELAY = 0.3          # seconds of stillness before the file is deflated
BACKGROUND_WAIT = 2.0          # longest a slider move waits for a running deflate (it then ignores it)


class Dashboard(abc.ABC):
    """What every dashboard is (DESIGN.md, "Dashboards: testable without a browser").

    Setting a control's ``.value`` updates ``report`` and the figure
    synchronously, on the calling thread, so pytest drives a dashboard
    without a browser. An exception raised by an update is shown in
    ``errors`` and kept in ``last_error`` (ipywidgets would swallow it).
    """

    @property
    @abc.abstractmethod
    def controls(self) -> dict:
        """Name -> widget: every control a user can move or click."""

    @property
    @abc.abstractmethod
    def live_controls(self) -> tuple:
        """Names of the controls whose change updates ``report`` at once (the
        others, such as an epochs slider, only feed a button)."""

    @property
    @abc.abstractmethod
    def fig(self):
        """The one matplotlib figure, updated in place."""

    @property
    @abc.abstractmethod
    def report(self):
        """The ``metrics.Report`` of the current settings."""

    @property
    @abc.abstractmethod
    def widget(self):
        """What the notebook displays."""

    @property
    @abc.abstractmethod
    def errors(self) -> widgets.Output:
        """The error panel."""

    @property
    @abc.abstractmethod
    def last_error(self) -> BaseException | None:
        """The exception of the latest failed callback, None after a clean one."""

    @abc.abstractmethod
    def update(self) -> None:
        """Recompute ``report`` from the controls and redraw."""


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


def _kernel_loop():
    """The event loop of the thread building the dashboard, if one is running (in
    a Jupyter kernel, cells and widget callbacks run inside it); else None."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


_LIVE = {}      # dashboard class -> weak reference to its latest instance


class LiveDashboard(Dashboard):
    """The shared implementation. A subclass builds its controls and figure,
    calls ``super().__init__`` with them, computes what it needs, and ends
    its ``__init__`` with ``self.refresh()``. Its ``update`` sets ``self._report``
    and calls ``render()``; ``render`` draws the readout from ``self._report``.

    Building a dashboard closes the previous one of the same class (its
    widgets, figure and background work): re-running a cell never piles up
    figures or cached networks.
    """

    def __init__(self, controls: dict, plot, panel: list, *, panel_width="400px", trainer: str | None = None):
        previous = _LIVE.get(type(self))
        if previous is not None and previous() is not None:
            previous().close()
        _LIVE[type(self)] = weakref.ref(self)
        self._controls, self.plot, self._report = controls, plot, None
        self._live = []                 # what watch() observes
        # ipywidgets swallows exceptions raised in callbacks; show them here instead.
        self._errors = widgets.Output(layout=widgets.Layout(max_height="12em", overflow="auto"))
        self._errors.add_class("compresslab-errors")
        self._last_error = None
        self._syncing = False           # True while the dashboard itself sets control values
        self.readout = widgets.HTML(layout=widgets.Layout(margin="0 0 0 12px"))
        self.file_size_delay = FILE_SIZE_DELAY
        self.file_size_job = None       # a concurrent.futures.Future, always completed or cancelled
        self._file_size_timer = None
        self._file_size_failed = False
        self._generation = 0            # bumped by every update: stale background results are dropped
        self._inbox = queue.SimpleQueue()
        self._loop = _kernel_loop()
        self._trainer = trainer
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="training",
                                            layout=widgets.Layout(visibility="hidden"))
        rows = [widgets.HBox([widgets.VBox([controls[k] for k in panel], layout=widgets.Layout(min_width=panel_width)),
                              self.readout])]
        if trainer is not None:
            rows.append(widgets.HBox([controls["epochs"], controls[trainer], self.progress]))
        self._widget = widgets.VBox([*rows, figure_widget(plot.fig), self._errors])

    # --- the contract -------------------------------------------------------------------
    controls = property(lambda self: self._controls, doc=Dashboard.controls.__doc__)
    live_controls = property(lambda self: tuple(self._live), doc=Dashboard.live_controls.__doc__)
    fig = property(lambda self: self.plot.fig, doc=Dashboard.fig.__doc__)
    report = property(lambda self: self._report, doc=Dashboard.report.__doc__)
    widget = property(lambda self: self._widget, doc=Dashboard.widget.__doc__)
    errors = property(lambda self: self._errors, doc=Dashboard.errors.__doc__)
    last_error = property(lambda self: self._last_error, doc=Dashboard.last_error.__doc__)

    def refresh(self):
        """``update()``, with any error shown in the panel."""
        self.safely(self.update)()

    def render(self):
        """Redraw the readout from ``report`` (again when the file size arrives)."""

    # --- callbacks --------------------------------------------------------------------------
    def watch(self, names, action=None):
        """Run ``action`` (default: ``update``) safely whenever one of these controls changes."""
        for name in names:
            self._live.append(name)
            self._controls[name].observe(functools.partial(self._on_change, action), names="value")

    def _on_change(self, action, change):
        if not self._syncing:
            self.safely(action or self.update)()

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
            self._last_error = None
            self._errors.outputs = ()
            try:
                return fn(*args, **kwargs)
            except Exception as exc:   # shown to the user, and kept for tests
                self.show_error(exc)
        return wrapper

    def show_error(self, exc, where=""):
        """Put ``exc`` in the error panel. ``append_stderr`` (not ``with output:``),
        which does not depend on which cell or thread is current."""
        self._last_error = exc
        text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        self._errors.append_stderr(f"{where}{text}\n")

    # --- handing background results to the kernel's thread ------------------------------
    def _post(self, callback):
        """Called from a background thread: run ``callback`` on the kernel's thread."""
        self._inbox.put(callback)
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):       # the loop has closed: flush() still works
                self._loop.call_soon_threadsafe(self.flush)

    def flush(self) -> int:
        """Run the callbacks background jobs have posted (on this, the kernel's,
        thread); returns how many ran. Inside a kernel this happens by itself."""
        ran = 0
        while True:
            try:
                callback = self._inbox.get_nowait()
            except queue.Empty:
                return ran
            try:
                callback()
            except Exception as exc:
                self.show_error(exc)
            ran += 1

    poll = flush

    def settle(self, timeout=30.0):
        """Wait (at most ``timeout`` s) for the background file-size job, then ``flush``.
        For tests and benchmarks; raises TimeoutError if it does not finish."""
        job = self.file_size_job
        if job is not None:
            done, _ = futures.wait([job], timeout=timeout)
            if not done:
                raise TimeoutError(f"the file-size job did not finish within {timeout} s")
        return self.flush()

    def _background_failed(self, what, exc):
        self._file_size_failed = True
        self.show_error(exc, where=f"{what} (background): ")
        self.render()

    # --- the .npz file size, deflated in the background -----------------------------------
    def _stop_file_size(self):
        """Cancel a deflate that has not started; wait (bounded) for one that has:
        a deflate running beside the next move's timing would slow it. A late or
        failed one is harmless: its result carries a stale generation."""
        if self._file_size_timer is not None:
            self._file_size_timer.cancel()
            if not self.file_size_job.cancel():          # already running (or done)
                futures.wait([self.file_size_job], timeout=BACKGROUND_WAIT)

    def file_size_text(self, fmt):
        r = self._report
        if r.file_bytes is not None:
            return fmt(r.file_bytes)
        return "failed (see the error below)" if self._file_size_failed else "deflating..."

    def _schedule_file_size(self, network, baseline):
        """Deflate the .npz file (30-75 ms for LeNet-sized layers) in a background
        thread once the controls have been still for ``file_size_delay`` seconds;
        the kernel's thread then puts the bytes in ``report`` and redraws."""
        self._stop_file_size()
        self._generation += 1
        self._file_size_failed = False
        generation, report = self._generation, self._report
        job = self.file_size_job = futures.Future()

        def run():
            if not job.set_running_or_notify_cancel():
                return
            try:      # on a private copy: the shared report is the kernel thread's
                filled = metrics.with_file_bytes(dataclasses.replace(report), network, baseline)
            except BaseException as exc:        # MemoryError too: the kernel must hear of it
                job.set_exception(exc)
                self._post(functools.partial(self._background_failed, "file size", exc))
            else:
                job.set_result(filled.file_bytes)
                self._post(functools.partial(self._file_size_arrived, generation, filled))

        self._file_size_timer = threading.Timer(self.file_size_delay, run)
        self._file_size_timer.daemon = True
        self._file_size_timer.start()

    def _file_size_arrived(self, generation, filled):
        if generation == self._generation:         # still the settings it was computed for
            self._report = filled
            self.render()

    # --- long work behind a button, with a progress bar -----------------------------------
    @staticmethod
    def trainer_controls(button_name, description, epochs, max_epochs):
        """The epochs slider and the button, for a subclass's ``controls``."""
        return {"epochs": widgets.IntSlider(value=epochs, min=1, max=max_epochs, description="epochs",
                                            continuous_update=False),
                button_name: widgets.Button(description=description, icon="play", button_style="primary",
                                            layout=widgets.Layout(width="auto"))}

    @contextlib.contextmanager
    def training(self):
        """Show the progress bar and disable the button while training runs; yields
        (epochs, on_epoch) where ``on_epoch`` is the training engine's callback
        (training runs on the kernel's thread, so it may set the bar)."""
        epochs = self._controls["epochs"].value
        button = self._controls[self._trainer]
        self.progress.max, self.progress.value = epochs, 0
        self.progress.layout.visibility = "visible"
        button.disabled = True
        try:
            yield epochs, lambda epoch, history: setattr(self.progress, "value", epoch + 1)
        finally:
            button.disabled = False

    # --- the end ---------------------------------------------------------------------------
    def close(self):
        """Stop background work, close the figure and every widget (frees their memory)."""
        import matplotlib.pyplot as plt

        self._stop_file_size()
        plt.close(self.fig)
        for w in [*self._controls.values(), self.readout, self.progress, self._errors, self._widget]:
            w.close()


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


class LRU:
    """A small least-recently-used cache with a fixed size (memory stays bounded
    however long a student plays with the sliders). Thread-safe."""

    def __init__(self, maxsize: int):
        from collections import OrderedDict

        self.maxsize, self._items, self._lock = maxsize, OrderedDict(), threading.Lock()

    def get(self, key, make):
        """The value for ``key``, made by ``make()`` (outside the lock) if absent."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)
        return value

    def __contains__(self, key):
        with self._lock:
            return key in self._items

    def __len__(self):
        with self._lock:
            return len(self._items)

    def clear(self):
        with self._lock:
            self._items.clear()


_BASELINES = LRU(maxsize=2)


def shared_baseline(name: str):
    """``load_baseline(name)``, loaded once per kernel and shared by the dashboards
    (they never train it in place: fine-tuning and QAT work on copies). Sharing
    the network object also shares what is cached per network (its SVDs)."""
    from ..baseline import load_baseline

    return _BASELINES.get(name, lambda: load_baseline(name))
