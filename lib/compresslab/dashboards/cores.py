"""BLAS threads for a slider move: as many as the cores other processes leave free.

A classroom laptop is never idle. On two 2-core machines a quantization move
(first visit, back to back) took, as medians of 51 moves (and the slowest):

    BLAS threads        idle            another process keeps a core busy
    2-core VM, AVX2 (the suite's machine until 2026-11-30)
    2                  13.5 ms          25 ms
    1                  16.5 ms          16.8 ms
    2-core VM, AVX-512 (AMD EPYC, 2026-12-01)
    2                   5.8-6.1 ms      9.6-9.8 ms (slowest 64-67 ms)
    1                   7.6-7.9 ms      7.2-7.7 ms (slowest 12 ms)

Two threads win on an idle machine (the 1,000 x 784 x 300 product splits), and
lose by more on a busy one: the busy process, the kernel's thread and BLAS's
second thread then share two cores, and the kernel's thread, which runs all of
a move's Python and waits for the slowest thread of every product, gets about
two thirds of a core (on the AVX2 VM, 25 ms is 1.5 x 16.8 ms). Most of that
is OpenBLAS's second thread spinning after each product, waiting for the next
one: with OPENBLAS_THREAD_TIMEOUT=4 (no spin) two threads took 17.7 ms there
with a core busy, but that variable is read once, as NumPy loads, before any notebook
cell could set it. So before each move a dashboard asks how much CPU the other
processes used lately, and takes one BLAS thread fewer for each core they keep
busy (``CoreShare.threads``).

"Lately" is the last ``window`` seconds or more, between two readings of the
CPU time of the CPUs this process may run on (all processes; Linux's
/proc/stat, elsewhere ``psutil.cpu_times``) and of this process's own
(``time.process_time``, all its threads: its BLAS threads and background jobs
are not "others"). A reading is taken at most once a window, so a move
costs a clock read most of the time and ~0.05 ms otherwise. Where those CPU
times cannot be read (a sandbox hiding /proc/stat; psutil missing off Linux),
nothing is limited by others' load.

Only the cores this process may use count (``usable_cores``): the CPUs it may
run on (``taskset``, a container's cpuset), and at most its container's CPU
quota rounded down (cgroup v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``; Binder sets
one, a JupyterHub where its admin set a CPU limit). OpenBLAS starts a thread
per CPU it may run on and does not read the quota: a container allowed 1 core
on a 16-CPU host would run each product on 16 threads that the quota then
stops for most of every 100 ms period. Both are read once, as the module
loads: a later ``taskset -p`` or a resized container is not seen.
"""
from __future__ import annotations

import functools
import math
import os
import threading
import time

WINDOW = 0.5            # s: a shorter span is too coarse for the OS's CPU clock (10 ms ticks)
SHARED_CORE = 0.5       # a core counts as taken once others use half of it


def usable_cpus() -> list[int] | None:
    """The CPUs this process may run on (its affinity: ``taskset``, a container's
    cpuset), or None where the OS does not say (all of them)."""
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):       # macOS, Windows
        return None


def _read_text(path) -> str:
    """The file's text; "" where it cannot be read (no such file, no permission)."""
    try:
        with open(path, errors="replace") as f:        # a group's name need not be UTF-8
            return f.read()
    except OSError:
        return ""


def cpu_quota(cgroup_root="/sys/fs/cgroup", proc_cgroup="/proc/self/cgroup") -> float | None:
    """Cores this process's control group may use on average (its CPU quota over
    its period: cgroup v2 ``cpu.max``, v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``),
    the smallest along its path up to the root (a parent's quota binds its
    children); None without a quota (or a cgroup file system).

    A container usually sees its own group at the root of the mount, a host
    process at its path below it: both are read. A path that leaves the mount
    (``..``: a process outside its cgroup namespace) is not followed."""
    paths = {"v2": [], "v1": []}
    for line in _read_text(proc_cgroup).splitlines():
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hierarchy == "0" and controllers == "":
            paths["v2"].append(path)
        elif "cpu" in controllers.split(","):
            paths["v1"].append((controllers, path))
    quotas = []

    def read(folder, quota_file, period_file=None):
        if period_file is None:                                  # v2: "max 100000" or "150000 100000"
            values = _read_text(os.path.join(folder, quota_file)).split()
            quota, period = values if len(values) == 2 else (None, None)
        else:
            quota = _read_text(os.path.join(folder, quota_file)).strip()
            period = _read_text(os.path.join(folder, period_file)).strip()
        try:
            if float(quota) > 0 and float(period) > 0:            # "max" or -1: no quota
                quotas.append(float(quota) / float(period))
        except (TypeError, ValueError):
            pass

    def ancestors(path):
        parts = [p for p in path.split("/") if p]
        if ".." in parts:
            return []
        return ["/".join(parts[:i]) for i in range(len(parts), -1, -1)]

    for path in paths["v2"]:
        for folder in ancestors(path):
            read(os.path.join(cgroup_root, folder), "cpu.max")
    for controllers, path in paths["v1"]:
        for mount in (controllers, "cpu", "cpu,cpuacct"):
            for folder in ancestors(path):
                read(os.path.join(cgroup_root, mount, folder), "cpu.cfs_quota_us", "cpu.cfs_period_us")
    return min(quotas) if quotas else None


def usable_cores(n_cpus: int, quota: float | None = None) -> int:
    """Threads worth running on ``n_cpus`` CPUs: at most the CPU quota rounded down
    (a thread beyond it waits out the rest of each period); at least 1."""
    return max(1, n_cpus if quota is None else min(n_cpus, math.floor(quota)))


# Linux counts a virtual machine's time in user (guest) and nice (guest_nice) too: not busy twice
NOT_BUSY = ("idle", "iowait", "guest", "guest_nice")
PROC_STAT_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest", "guest_nice")


def _machine_cpu_seconds(cpus=None, proc_stat="/proc/stat"):
    """Seconds the CPUs numbered ``cpus`` spent busy so far, from /proc/stat's
    ``cpuN`` lines, by number (psutil's per-CPU list leaves offline CPUs out, and
    their numbers with them); ``cpus=None``: all CPUs, through psutil (any OS).
    None where they cannot be read."""
    if cpus is not None:
        wanted, busy, seen = {f"cpu{cpu}" for cpu in cpus}, 0, False
        for line in _read_text(proc_stat).splitlines():
            name, *ticks = line.split() or [""]
            if name in wanted:
                fields = dict(zip(PROC_STAT_FIELDS, map(int, ticks)))
                busy += sum(fields.values()) - sum(fields.get(field, 0) for field in NOT_BUSY)
                seen = True
        return busy / os.sysconf("SC_CLK_TCK") if seen else None
    try:
        import psutil
    except ImportError:       # pragma: no cover - ipykernel depends on psutil
        return None
    times = psutil.cpu_times()
    return sum(times) - sum(getattr(times, field, 0.0) for field in NOT_BUSY)


class CoreShare:
    """How many cores the other processes of the machine leave free, read at most
    once a ``window``; ``threads(most)`` is the BLAS thread count for a move.

    ``n_cores``: how many CPUs the machine clock covers (default: the CPUs this
    process may run on, and the default clock reads those; given without a
    ``machine_seconds``, the clock reads the whole machine); ``quota``: cores
    its container may use (``cpu_quota``; None: no quota). ``machine_seconds``,
    ``own_seconds`` and ``clock`` are the three clocks (injectable for tests):
    busy CPU seconds of those CPUs, CPU seconds of this process, and wall seconds."""

    def __init__(self, n_cores: int | None = None, *, quota: float | None = None, window: float = WINDOW,
                 machine_seconds=None, own_seconds=time.process_time, clock=time.monotonic):
        if not window > 0:
            raise ValueError(f"window must be a positive number of seconds; got {window!r}")
        if quota is not None and not (quota > 0 and math.isfinite(quota)):
            raise ValueError(f"quota must be a positive number of cores or None; got {quota!r}")
        cpus = usable_cpus() if n_cores is None else None       # None: the whole machine
        self.n_cores = n_cores or (len(cpus) if cpus else (os.cpu_count() or 1))
        self.quota = quota
        self.usable = usable_cores(self.n_cores, quota)     # the most threads worth running
        machine_seconds = machine_seconds or functools.partial(_machine_cpu_seconds, cpus)
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
        """Cores not taken by others (a core counts as taken from ``SHARED_CORE`` of it on),
        at most ``usable`` (the quota). At least 1."""
        return max(1, min(self.usable, self.n_cores - math.floor(self.update() + 1 - SHARED_CORE)))

    def threads(self, most: int) -> int:
        """BLAS threads for a move: ``most``, or fewer when others keep cores busy."""
        return max(1, min(most, self.free_cores()))


CORES = CoreShare(quota=cpu_quota())     # one machine, one reading: shared by every dashboard of the kernel
