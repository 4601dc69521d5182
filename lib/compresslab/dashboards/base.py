"""The dashboard contract, and the machinery every dashboard shares.

``Dashboard`` is the contract (an ABC): what a notebook, a test or a future
dashboard may rely on. ``LiveDashboard`` implements the shared parts: the
layout, the error panel, the trainer row, the per-setting report cache, and
background work that never touches a widget from its own thread.

The timing API (what a dashboard does on every control move)
------------------------------------------------------------
A move computes the network of the new setting and scores it: the scoring
pass is the only forward pass of a move. Timing waits until the controls are
still, runs in the background, and lands in the readout later::

    def update(self):
        key = (dataset_name, *setting)                 # everything the network depends on
        network = ...                                  # the setting's network (cache it too)
        self._report = self.report_for(key, network, self.baseline)   # cached, or
        #   evaluate(network, dataset, baseline, measure=False, count_file_bytes=False)
        self.plot.update(...)                          # blit the moving artists only
        self.schedule_measurement(network, self.baseline, key=key, X=self.dataset.X_test)
        self.render()                                  # speed_text(report) says "measuring..."

    def render(self):
        r = self.report
        rows = [("accuracy", accuracy_text(r)),                 # "94.0 % ± 0.8, test"
                ("size (.npz file)", self.file_size_text(fmt_bytes))]
        self.readout.value = readout_table(rows, notes, speed=speed_text(r))   # "measuring..." until it arrives

- ``report_for(key, network, baseline)``: the report of a setting, from an LRU
  keyed by ``key`` (``self.reports``), else ``metrics.evaluate(...,
  measure=False, count_file_bytes=False)``. A revisited setting costs a lookup
  and shows what was already measured for it. Clear ``self.reports`` when the
  baseline changes (another dataset) or put the dataset name in the key.
- ``schedule_measurement(network, baseline, key=..., X=...)``: once the
  controls have been still for ``measure_delay`` seconds, a background job
  deflates the .npz file (``report.file_bytes``), then measures delta with
  ``metrics.measure_speedup(baseline, network, X, threads=1)`` over all of X
  (``report.timing``, throughput) and at batch 1 (``report.latency``): the
  baseline and the network timed together, interleaved, never a baseline
  timed once at load. Whatever the cached report already has is not redone.
  Each result is handed to the kernel's thread (``_post`` / ``flush``), stored
  in the cache under ``key`` and shown only if the setting is still the
  current one; a move cancels a running measurement (its result is dropped).
- Background work of a dashboard (warm-ups, deflates) runs inside
  ``metrics.timing_guard(name)``, and ``measure_speedup`` waits until it is
  quiet (``metrics.wait_until_quiet``): no timing runs beside the suite's own
  work. ``start_warmup(steps)`` runs a warm-up that way, one step at a time,
  pausing while a move is handled or a measurement is pending.
- ``settle()`` (tests, benchmarks) waits for the pending measurement and flushes.
- ``speed_text(report)``, ``accuracy_text(report)``: the readout strings.

Threads. A background job only computes. It hands its result, or its
exception, to ``_post``, which queues a callback for the kernel's thread:
inside a kernel, the kernel's asyncio loop runs ``flush`` as soon as it is
free (``call_soon_threadsafe``); outside one (tests, scripts) nothing runs
until someone calls ``flush()``. So widgets and the figure are only ever
changed on the kernel's thread, and a readout is always rendered from one
report and the settings that report was computed for. Every wait on a
background job is bounded.
"""
from __future__ import annotations

import abc
import asyncio
import atexit
import contextlib
import copy
import dataclasses
import functools
import html
import os
import queue
import threading
import time
import traceback
import weakref
from concurrent import futures

import ipywidgets as widgets

from .. import metrics
from .cores import CORES

MEASURE_DELAY = 0.3            # seconds of stillness before the file is deflated and the speed timed
FILE_SIZE_DELAY = MEASURE_DELAY
MEASURE_SECONDS = 1.0          # measure_speedup's cap per measurement (throughput, then latency)
MEASURE_ATTEMPTS = 2           # a timing that overlapped the suite's own work is taken again, once
REPORTS_CACHED = 32            # settings whose reports (with their measurements) are kept
SLIDER_WIDTH = "480px"         # a 300-step slider moves ~1 step per px on a projector; arrow keys: 1 step
READOUT_HEIGHT = "324px"       # fixed: the figure below never jumps when a row or a note comes and goes
WARMUP_PAUSE_MAX = 10.0        # longest a warm-up waits for the user before going on anyway


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
        # fixed height (nothing below jumps); a row that does not fit scrolls, never disappears
        self.readout = widgets.HTML(layout=widgets.Layout(margin="0 0 0 12px", height=READOUT_HEIGHT,
                                                          width="430px", overflow="auto"))
        self.measure_delay = MEASURE_DELAY
        self.measure_seconds = MEASURE_SECONDS
        self.measure_speed = True        # False: file size only (no timing at all)
        self.measurement_job = None      # a concurrent.futures.Future, always completed or cancelled
        self._measure_timer = self._measure_cancel = None
        self._file_size_failed = False
        self.reports = LRU(REPORTS_CACHED)   # setting key -> Report (what was measured for it so far)
        self._gate = threading.Condition()   # warm-ups wait on it while moves and measurements run
        self._moves, self._pending, self._closed = 0, set(), False
        self.last_move = 0.0              # time.monotonic() when the last move was handled
        self.move_threads = None          # BLAS threads of the latest move if it limited them (``moving``)
        CORES.update()                    # a first reading: by the first move, a window has likely passed
        self._generation = 0            # bumped by every update: stale background results are dropped
        self._inbox = queue.SimpleQueue()
        self._loop = _kernel_loop()
        self._trainer = trainer
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="training",
                                            layout=widgets.Layout(visibility="hidden"))
        for control in controls.values():
            if isinstance(control, (widgets.IntSlider, widgets.FloatSlider, widgets.SelectionSlider)):
                control.layout.width = SLIDER_WIDTH
                control.style.description_width = "110px"
        rows = [widgets.HBox([widgets.VBox([controls[k] for k in panel], layout=widgets.Layout(min_width=panel_width)),
                              self.readout], layout=widgets.Layout(flex_flow="row wrap"))]
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

    # names the tests and notebooks used before the timing API
    file_size_job = property(lambda self: self.measurement_job)
    file_size_delay = property(lambda self: self.measure_delay,
                               lambda self, seconds: setattr(self, "measure_delay", seconds))

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
            with self.moving():
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
        """Wait (at most ``timeout`` s) for the pending measurement (file size, speedup),
        then ``flush``. For tests and benchmarks; raises TimeoutError if it does not finish."""
        timer, job = self._measure_timer, self.measurement_job
        if timer is not None:
            timer.join(timeout)                   # the job starts when the timer fires
        if job is not None:
            done, _ = futures.wait([job], timeout=timeout)
            if not done:
                raise TimeoutError(f"the measurement did not finish within {timeout} s")
        return self.flush()

    def file_size_text(self, fmt):
        r = self._report
        if r.file_bytes is not None:
            return fmt(r.file_bytes)
        return "failed (see the error below)" if self._file_size_failed else "deflating..."

    # --- the per-setting report cache -------------------------------------------------------
    def report_for(self, key, network, baseline, *, compute_logits=None):
        """The report of setting ``key``: from ``self.reports`` (with whatever was
        measured for it already), else scored now, with no timing and no file:
        ``evaluate(network, dataset, baseline, measure=False, count_file_bytes=False)``
        (one forward pass; ``schedule_measurement`` does the rest later).
        ``compute_logits``: a callable giving the network's test logits by a cheaper
        road than a full forward pass, passed on as ``evaluate(test_logits=...)``
        (called only when the setting is new)."""
        return self.reports.get(key, lambda: metrics.evaluate(
            network, self.dataset, baseline, measure=False, count_file_bytes=False,
            test_logits=None if compute_logits is None else compute_logits()))

    # --- file size and measured speedup, in the background once the controls are still ---
    def _stop_measurement(self):
        """Cancel the pending measurement: one that has not started never starts; a
        running one stops at its next forward pass (nothing is waited for: a move
        stays fast). Its results carry a stale generation and are dropped."""
        if self._measure_timer is not None:
            self._measure_timer.cancel()
        if self._measure_cancel is not None:
            self._measure_cancel.set()
        job = self.measurement_job
        if job is not None and job.cancel():
            self._holds_released(job)

    _stop_file_size = _stop_measurement          # the name before the timing API

    def _holds_released(self, job):
        with self._gate:
            self._pending.discard(id(job))
            self._gate.notify_all()

    def schedule_measurement(self, network, baseline=None, *, key=None, X=None, file_bytes=True, speed=True):
        """Measure the current report's missing numbers once the controls have been
        still for ``measure_delay`` seconds, in a background thread (see the module doc).

        ``network``: the current setting's network, or a function that builds it
        (called on the background thread, and only if something is measured: a
        move does not wait for a stored format it may never need); ``baseline``: what alpha and
        delta are against (counted as float64, as ``evaluate`` does; default
        ``self.baseline``); ``key``: the setting's key in ``self.reports`` (the
        filled report is stored there); ``X``: the samples timed (default the
        test set); ``file_bytes`` / ``speed``: what to measure.
        """
        self._stop_measurement()
        self._generation += 1
        self._file_size_failed = False
        baseline = self.baseline if baseline is None else baseline
        X = self.dataset.X_test if X is None else X
        generation, report = self._generation, self._report
        want_file = file_bytes and report.file_bytes is None
        want_speed = speed and self.measure_speed and (report.timing is None or report.latency is None)
        job = self.measurement_job = futures.Future()
        if not (want_file or want_speed):
            job.set_running_or_notify_cancel()
            job.set_result(report)
            return job
        cancel = self._measure_cancel = threading.Event()
        with self._gate:
            self._pending.add(id(job))
        reference = metrics.as_baseline(baseline)
        max_seconds, name = self.measure_seconds, type(self).__name__

        def run():
            try:
                if not job.set_running_or_notify_cancel():
                    return
                filled = dataclasses.replace(report)      # a private copy: the shared report is the kernel's
                measured = network() if callable(network) else network
                if want_file:
                    with metrics.timing_guard(f"{name}: .npz deflate"):
                        metrics.with_file_bytes(filled, measured, baseline)
                    self._post(functools.partial(self._measured, generation, key, dataclasses.replace(filled)))
                if want_speed and not cancel.is_set():
                    a, b = _cancellable(reference, cancel), _cancellable(measured, cancel)
                    for attempt in range(MEASURE_ATTEMPTS):      # re-measure when the suite was busy meanwhile
                        timing = metrics.measure_speedup(a, b, X, threads=1, max_seconds=max_seconds)
                        latency = metrics.measure_speedup(a, b, X, threads=1, batch_size=1, max_seconds=max_seconds)
                        if timing.quiet and latency.quiet:
                            break
                    filled.timing, filled.latency = timing, latency
                    filled.speedup_measured, filled.seconds = timing.measured, timing.seconds_compressed
                    self._post(functools.partial(self._measured, generation, key, filled))
                job.set_result(filled)
            except _Cancelled:
                job.set_result(None)
            except BaseException as exc:        # MemoryError too: the kernel must hear of it
                job.set_exception(exc)
                self._post(functools.partial(self._background_failed, "measurement", exc, generation))
            finally:
                self._holds_released(job)

        if self._measure_timer is None:
            self._measure_timer = _DelayedCall(f"compresslab {name} measurement")
        if not self._measure_timer.schedule(self.measure_delay, run):     # closed: run never runs,
            job.cancel()                                                  # so the job ends here
            job.set_running_or_notify_cancel()
            self._holds_released(job)
        return job

    _schedule_file_size = schedule_measurement   # the name before the timing API

    def _measured(self, generation, key, filled):
        """On the kernel's thread: keep what was measured for its setting (a move
        cancels a timing it would overlap, so a finished one is clean); show it
        only if that setting is still the current one."""
        if key is not None:
            self.reports.put(key, filled)
        if generation != self._generation:
            return                                 # the setting changed meanwhile: not shown
        self._report = filled
        self.render()

    def _background_failed(self, what, exc, generation=None):
        """A failure always reaches the panel; the readout says "failed" only if it
        is about the setting shown."""
        self.show_error(exc, where=f"{what} (background): ")
        if generation is None or generation == self._generation:
            self._file_size_failed = True
            self.render()

    # --- warm-ups yield to the user ---------------------------------------------------------
    @contextlib.contextmanager
    def moving(self):
        """Held while a move is handled: a running measurement stops (it would time
        the move too), warm-ups pause (``warmup_gate``), and BLAS takes one thread
        fewer for each core other processes keep busy, and no more than the container's
        CPU quota allows (``cores.CoreShare``: on a busy 2-core machine, two threads
        make a move 1.5x slower, one thread no slower)."""
        self._stop_measurement()
        with self._gate:
            self._moves += 1
            nested, outer = self._moves > 1, self.move_threads     # a move inside a move (training)
        try:
            threads = CORES.free_cores()
            # below every CPU's count: BLAS may run more threads than that (its own count is
            # one per CPU it may run on, whatever the container's CPU quota); the limit never raises it
            limit = (metrics._blas_threads_limited(threads, below_own=True)
                     if threads < max(CORES.n_cores, os.cpu_count() or 1)
                     and metrics._blas_limits_from_the_main_thread_are_safe()
                     else contextlib.nullcontext(None))
            with limit as self.move_threads:
                yield
        finally:
            if nested:
                self.move_threads = outer
            with self._gate:
                self._moves -= 1
                self.last_move = time.monotonic()
                self._gate.notify_all()

    def warmup_gate(self, timeout=WARMUP_PAUSE_MAX) -> bool:
        """Wait while a move is handled or a measurement is pending (at most
        ``timeout`` s, then go on). False once the dashboard is closed."""
        with self._gate:
            self._gate.wait_for(lambda: self._closed or (not self._moves and not self._pending), timeout=timeout)
            return not self._closed

    def start_warmup(self, steps, *, name="warm-up"):
        """Run the callables of ``steps`` (an iterable) one at a time in a daemon thread.

        Before each step the thread waits while a move is handled or a
        measurement is pending (``warmup_gate``); each step runs inside
        ``metrics.timing_guard`` (so no timing runs beside it) with BLAS at one
        thread (the other core stays with the user). A step may return a
        callable: it then runs on the kernel's thread (to draw what the step
        computed). A failure reaches the error panel. Returns the thread."""
        label = f"{type(self).__name__}: {name}"

        def run():
            try:
                for step in steps:
                    if _SHUTTING_DOWN.is_set() or not self.warmup_gate():
                        return                               # closed, or the interpreter is ending
                    with metrics.timing_guard(label), _one_blas_thread():
                        then = step()
                    if callable(then):
                        self._post(then)
            except BaseException as exc:        # MemoryError too
                self._post(functools.partial(self.show_error, exc, f"{name} (background): "))

        thread = threading.Thread(target=run, daemon=True, name=f"compresslab {name}")
        _WARMUPS.add(thread)
        thread.start()
        return thread

    # --- long work behind a button, with a progress bar -----------------------------------
    @staticmethod
    def trainer_controls(button_name, description, epochs, max_epochs):
        """The epochs slider and the button, for a subclass's ``controls``."""
        return {"epochs": widgets.IntSlider(value=epochs, min=1, max=max_epochs, description="epochs",
                                            continuous_update=False),
                button_name: widgets.Button(description=description, icon="play", button_style="primary",
                                            layout=widgets.Layout(width="auto", flex="0 0 auto"))}  # never cut

    @contextlib.contextmanager
    def training(self):
        """Long work on the kernel's thread, with a progress bar; yields (epochs,
        on_epoch) where ``on_epoch`` is the training engine's callback.

        Meanwhile every control is disabled (a slider moved during training would
        be applied silently when it ends), warm-ups pause, no timing runs
        (``timing_guard``); afterwards the controls get their state back and the
        bar hides."""
        epochs = self._controls["epochs"].value
        was_disabled = {name: c.disabled for name, c in self._controls.items() if hasattr(c, "disabled")}
        self.progress.max, self.progress.value = epochs, 0
        self.progress.layout.visibility = "visible"
        for c in self._controls.values():
            if hasattr(c, "disabled"):
                c.disabled = True
        try:
            with self.moving(), metrics.timing_guard(f"{type(self).__name__}: training"):
                yield epochs, lambda epoch, history: setattr(self.progress, "value", epoch + 1)
        finally:
            for name, disabled in was_disabled.items():
                self._controls[name].disabled = disabled
            self.progress.layout.visibility = "hidden"

    # --- the end ---------------------------------------------------------------------------
    def close(self):
        """Stop background work, close the figure and every widget (frees their memory)."""
        import matplotlib.pyplot as plt

        self._stop_measurement()
        if self._measure_timer is not None:
            self._measure_timer.close()
        with self._gate:
            self._closed = True
            self._gate.notify_all()
        plt.close(self.fig)
        for w in [*self._controls.values(), self.readout, self.progress, self._errors, self._widget]:
            w.close()


class _DelayedCall:
    """Runs the latest scheduled callable once ``delay`` seconds have passed without
    a newer one, in one long-lived daemon thread (started on first use).

    Why not ``threading.Timer`` per move: starting a thread costs the move
    1-2 ms on an idle machine and up to ~17 ms on a busy one (``start`` waits
    until the new thread has run). ``cancel`` drops the pending call (a running
    one is stopped by its own cancel event); ``join`` waits until nothing is
    pending or running."""

    def __init__(self, name: str):
        self._name, self._cv = name, threading.Condition()
        self._call, self._running, self._closed, self._thread = None, False, False, None

    def schedule(self, delay: float, fn) -> bool:
        """False (and ``fn`` never runs) once closed."""
        with self._cv:
            if self._closed:
                return False
            self._call = (time.monotonic() + delay, fn)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, daemon=True, name=self._name)
                self._thread.start()
            self._cv.notify_all()
            return True

    def cancel(self) -> None:
        with self._cv:
            self._call = None
            self._cv.notify_all()

    def join(self, timeout: float | None = None) -> bool:
        with self._cv:
            return self._cv.wait_for(lambda: self._call is None and not self._running, timeout)

    def close(self) -> None:
        with self._cv:
            self._closed, self._call = True, None
            self._cv.notify_all()

    def _loop(self):
        with self._cv:
            while not self._closed:
                if self._call is None:
                    self._cv.wait()
                    continue
                deadline, fn = self._call
                remaining = deadline - time.monotonic()
                if remaining > 0:
                    self._cv.wait(remaining)         # a newer call or a cancel wakes it early
                    continue
                self._call, self._running = None, True
                self._cv.release()
                try:
                    fn()
                except BaseException:                # the measurement reports its own errors: never
                    traceback.print_exc()            # reached by design, and the loop must live on
                finally:
                    fn = None                        # free what the call holds (a network, the data)
                    self._cv.acquire()
                    self._running = False
                    self._cv.notify_all()


# Warm-up threads still running when the interpreter ends would run NumPy during its
# finalization (seen: "free(): invalid pointer" at exit): stop them between steps and
# wait, bounded, for the step in progress.
_SHUTTING_DOWN = threading.Event()
_WARMUPS: "weakref.WeakSet[threading.Thread]" = weakref.WeakSet()


@atexit.register
def _stop_warmups(timeout=20.0):
    _SHUTTING_DOWN.set()
    for ref in list(_LIVE.values()):              # pending deflates and timings too
        dashboard = ref()
        if dashboard is not None:
            try:
                dashboard._stop_measurement()
            except Exception:                       # the interpreter is ending: best effort
                pass
    for thread in list(_WARMUPS):
        thread.join(timeout)


NOTES_HEIGHT = "4.2em"         # the notes' box: always there, always this high (three lines)


def readout_table(rows, notes=(), speed=None) -> str:
    """HTML for a two-column table of (label, value) pairs, then ``speed`` (one
    line that may wrap, e.g. ``speed_text``), then free-text notes in a box of
    fixed height that is there even when empty: nothing below it jumps."""
    cells = "".join(f"<tr><td style='padding:1px 10px 1px 0;white-space:nowrap'>{html.escape(k)}</td>"
                    f"<td style='text-align:right;white-space:normal;overflow-wrap:anywhere'><b>{html.escape(v)}</b></td></tr>"
                    for k, v in rows)     # a long value wraps inside the fixed-width readout, never cut off
    # room for three lines kept (the readout does not jump when "measuring…" becomes the measured line),
    # and more when a narrow panel wraps it further: a fixed height drew its third line over the notes
    line = "" if speed is None else (f"<div class='compresslab-speed' style='min-height:4.1em;margin-top:4px'>"
                                     f"{html.escape(speed)}</div>")
    # a bar beside each note (in any theme: the text keeps the theme's colour), so a note that changes
    # what the controls mean ("using 2 bits") is seen, not missed below the numbers (seen in a walk-through)
    paragraphs = "".join(f"<div class='compresslab-note' style='border-left:3px solid #f59e0b;padding-left:6px'>"
                         f"<b>Note:</b> {html.escape(n)}</div>" for n in notes)
    box = (f"<div class='compresslab-notes' style='height:{NOTES_HEIGHT};overflow:auto;margin-top:4px'>"
           f"{paragraphs}</div>")
    # line-height: an HTML widget's own (28 px, a button's height) spread the rows out of view
    return (f"<div style='font-family:monospace;font-size:13px;line-height:1.35'><table>{cells}</table>"
            f"{line}{box}</div>")


def _one_blas_thread():
    """BLAS at one thread while a background step runs (``metrics._blas_threads_limited``).
    The count is process-wide: the kernel's products run on one thread meanwhile too,
    on the other core; both cores come back when the last such step ends."""
    return metrics._blas_threads_limited(1)


class _Cancelled(Exception):
    """A measurement stopped because the controls moved."""


def _cancellable(network, cancel: threading.Event):
    """A shallow copy of ``network`` (its layers shared, no array copied) whose
    ``logits`` raises ``_Cancelled`` once ``cancel`` is set: a move stops a running
    timing at its next forward pass. Both networks of a timing get the same
    check (~0.1 us), so it favours neither."""
    proxy = copy.copy(network)
    logits = network.logits

    def checked(X):
        if cancel.is_set():
            raise _Cancelled
        return logits(X)

    proxy.logits = checked
    return proxy


def accuracy_text(report, split="test") -> str:
    """"94.0 % ± 0.8, test": the accuracy with its binomial standard error."""
    return f"{100 * report.accuracy:.1f} % ± {100 * report.accuracy_se:.1f}, {split}"


def speed_text(report, *, flops=True) -> str:
    """The measured speedup as a readout shows it, "measuring..." until it arrives:
    "δ measured 2.31× (1 thread, batch 1,000; spread 4 %) · batch-1 latency 1.6× · FLOPs δ 3.5×"."""
    parts = []
    t, lat = report.timing, report.latency
    if t is None:
        parts.append("δ measuring…")
    else:
        threads = f"{t.blas_threads} thread" + ("s" if t.blas_threads != 1 else "")
        busy = "; suite busy" if not t.quiet else ""
        parts.append(f"δ measured {t.measured:.2f}× ({threads}, batch {t.batch_size:,}; "
                     f"spread {100 * t.spread:.0f} %{busy})")
        if lat is not None:
            parts.append(f"batch-1 latency {lat.measured:.1f}×")
    if flops:
        parts.append(f"FLOPs δ {report.speedup_theoretical:.1f}×")
    return " · ".join(parts)


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

    def peek(self, key, default=None):
        """The value for ``key`` if present (then the most recent), else ``default``; stores nothing."""
        with self._lock:
            if key not in self._items:
                return default
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key, value):
        """Store ``value`` under ``key`` (the most recent now)."""
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)

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
