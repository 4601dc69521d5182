"""BLAS threads for a slider move: as many as the cores other processes leave free.

A classroom laptop is never idle. On this suite's 2-core machine a
quantization move (first visit) took, as medians of 51 moves:

    BLAS threads        idle     another process keeps a core busy
    2                  13.5 ms   25 ms
    1                  16.5 ms   16.8 ms

Two threads win on an idle machine (the 1,000 x 784 x 300 product splits), and
lose by more on a busy one: the busy process, the kernel's thread and BLAS's
second thread then share two cores, and the kernel's thread, which runs all of
a move's Python and waits for the slowest thread of every product, gets about
two thirds of a core (25 ms is 1.5 x 16.8 ms). Most of that is OpenBLAS's
second thread spinning after each product, waiting for the next one: with
OPENBLAS_THREAD_TIMEOUT=4 (no spin) two threads took 17.7 ms on the busy
machine, but that variable is read once, as NumPy loads, before any notebook
cell could set it. So before each move a dashboard asks how much CPU the other
processes used lately, and takes one BLAS thread fewer for each core they keep
busy (``CoreShare.threads``).

"Lately" is the last ``window`` seconds or more, between two readings of the
machine's CPU time (``psutil.cpu_times``, all processes) and of this process's
own (``time.process_time``, all its threads: its BLAS threads and background
jobs are not "others"). A reading is taken at most once a window, so a move
costs a clock read most of the time and ~0.05 ms otherwise. Where psutil
is missing (ipykernel installs it) or cannot read the machine's CPU times,
nothing is limited.
"""
from __future__ import annotations

import math
import os
import threading
import time

WINDOW = 0.5            # s: a shorter span is too coarse for the OS's CPU clock (10 ms ticks)
SHARED_CORE = 0.5       # a core counts as taken once others use half of it


def _machine_cpu_seconds():
    """Seconds all CPUs spent busy so far (None without psutil)."""
    try:
        import psutil
    except ImportError:       # pragma: no cover - ipykernel depends on psutil
        return None
    times = psutil.cpu_times()
    # Linux counts a virtual machine's time in user (guest) and nice (guest_nice) too
    not_busy = sum(getattr(times, name, 0.0) for name in ("idle", "iowait", "guest", "guest_nice"))
    return sum(times) - not_busy


class CoreShare:
    """How many cores the other processes of the machine leave free, read at most
    once a ``window``; ``threads(most)`` is the BLAS thread count for a move.

    ``machine_seconds``, ``own_seconds`` and ``clock`` are the three clocks
    (injectable for tests): busy CPU seconds of the whole machine, CPU seconds
    of this process, and wall seconds."""

    def __init__(self, n_cores: int | None = None, *, window: float = WINDOW,
                 machine_seconds=_machine_cpu_seconds, own_seconds=time.process_time, clock=time.monotonic):
        if not window > 0:
            raise ValueError(f"window must be a positive number of seconds; got {window!r}")
        self.n_cores = n_cores or os.cpu_count() or 1
        self.window = window
        self._clocks = (machine_seconds, own_seconds, clock)
        self._lock = threading.Lock()
        self._last = None                  # (machine, own, wall) of the latest reading
        self.others = 0.0                  # cores the other processes used over the latest window

    def update(self) -> float:
        """Cores used by other processes over the latest whole window (the previous
        value until a window has passed since the latest reading)."""
        machine_seconds, own_seconds, clock = self._clocks
        with self._lock:
            wall = clock()
            if self._last is not None and wall - self._last[2] < self.window:
                return self.others
            try:
                machine = machine_seconds()
            except Exception:       # a sandbox that hides the machine's CPU times: a move must still run
                machine = None
            if machine is None:
                return self.others
            now = (machine, own_seconds(), wall)
            if self._last is not None:
                machine, own, elapsed = (a - b for a, b in zip(now, self._last))
                # others' share of the machine; the clocks tick in 10 ms steps: clip to what exists
                self.others = min(max((machine - own) / elapsed, 0.0), float(self.n_cores))
            self._last = now
            return self.others

    def free_cores(self) -> int:
        """Cores not taken by others (a core counts as taken from ``SHARED_CORE`` of it on). At least 1."""
        return max(1, self.n_cores - math.floor(self.update() + 1 - SHARED_CORE))

    def threads(self, most: int) -> int:
        """BLAS threads for a move: ``most``, or fewer when others keep cores busy."""
        return max(1, min(most, self.free_cores()))


CORES = CoreShare()     # one machine, one reading: shared by every dashboard of the kernel
