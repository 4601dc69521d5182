"""CoreShare: a move's BLAS threads follow the cores other processes leave free.

The arithmetic is checked on fake clocks (every case exact); one test reads the
real machine while another process keeps a core busy; two check that a
dashboard move runs with the count CoreShare gives and leaves BLAS as it found it.
"""
import os
import subprocess
import sys
import time

import pytest

from compresslab.dashboards import cores
from compresslab.dashboards.cores import CoreShare
from compresslab.metrics import _blas_threads_limited, blas_threads

pytestmark = pytest.mark.usefixtures("suite_quiet")     # tests read BLAS's own thread count


class FakeClocks:
    """Busy CPU seconds of the machine, of this process, and wall seconds, set by hand."""

    def __init__(self):
        self.machine, self.own, self.wall = 100.0, 10.0, 1000.0

    def advance(self, seconds, *, others, own=1.0):
        """``seconds`` pass; other processes use ``others`` cores, this one ``own``."""
        self.wall += seconds
        self.own += own * seconds
        self.machine += (others + own) * seconds

    def share(self, n_cores=2, window=0.5, quota=None):
        return CoreShare(n_cores, quota=quota, window=window, machine_seconds=lambda: self.machine,
                         own_seconds=lambda: self.own, clock=lambda: self.wall)


@pytest.mark.parametrize("others, own", [(0.0, 1.0), (1.0, 1.0), (0.3, 2.0), (1.7, 0.2)])
def test_others_is_the_machines_cpu_less_this_processes_over_the_window(others, own):
    clocks = FakeClocks()
    share = clocks.share()
    assert share.update() == 0.0                      # a first reading: nothing known yet
    clocks.advance(0.8, others=others, own=own)
    assert share.update() == pytest.approx(others)


def test_a_reading_waits_for_a_whole_window_and_keeps_the_last_value_meanwhile():
    clocks = FakeClocks()
    share = clocks.share(window=0.5)
    share.update()
    clocks.advance(0.6, others=1.0)
    assert share.update() == pytest.approx(1.0)
    clocks.advance(0.3, others=2.0)                   # under a window since the last reading
    assert share.update() == pytest.approx(1.0)
    clocks.advance(0.3, others=0.0)                   # 0.6 s since it: one reading of both spans
    assert share.update() == pytest.approx(1.0)
    clocks.advance(0.5, others=0.0)
    assert share.update() == 0.0


@pytest.mark.parametrize("n_cores, others, threads", [
    (2, 0.0, 2), (2, 0.49, 2), (2, 0.5, 1), (2, 1.0, 1), (2, 2.0, 1),
    (4, 0.0, 4), (4, 0.6, 3), (4, 1.49, 3), (4, 1.5, 2), (4, 3.9, 1),
    (1, 0.0, 1), (1, 1.0, 1)])
def test_a_core_counts_as_taken_once_others_use_half_of_it(n_cores, others, threads):
    clocks = FakeClocks()
    share = clocks.share(n_cores)
    share.update()
    clocks.advance(1.0, others=others)
    assert share.threads(n_cores) == threads
    assert share.threads(1) == 1                      # never more than asked
    assert share.free_cores() == threads


@pytest.mark.parametrize("machine_delta, own_delta, expected", [
    (0.0, 0.02, 0.0),          # the clocks tick in 10 ms steps: this process's may lead the machine's
    (9.0, 0.0, 2.0),           # never more than the machine has
])
def test_readings_are_clipped_to_what_the_machine_has(machine_delta, own_delta, expected):
    clocks = FakeClocks()
    share = clocks.share(2)
    share.update()
    clocks.machine += machine_delta
    clocks.own += own_delta
    clocks.wall += 1.0
    assert share.update() == expected


@pytest.mark.parametrize("window", [0, -1.0, float("nan")])
def test_a_window_must_be_positive(window):
    with pytest.raises(ValueError, match="window must be a positive number of seconds; got"):
        CoreShare(2, window=window)


def _hidden():
    raise PermissionError("/proc/stat: permission denied")


@pytest.mark.parametrize("machine_seconds", [lambda: None, _hidden], ids=["no psutil", "hidden by a sandbox"])
def test_without_a_machine_clock_nothing_is_limited(machine_seconds):
    share = CoreShare(2, window=0.001, machine_seconds=machine_seconds)
    share.update()
    time.sleep(0.01)
    assert share.update() == 0.0 and share.threads(2) == 2


def test_the_machine_clock_counts_busy_cpu_seconds():
    before = cores._machine_cpu_seconds()
    deadline = time.process_time() + 0.2
    while time.process_time() < deadline:             # this process keeps a core busy for 0.2 s
        pass
    assert cores._machine_cpu_seconds() - before >= 0.15


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs a second core for the other process")
def test_another_process_keeping_a_core_busy_is_seen_and_takes_a_thread():
    share = CoreShare(window=0.5)
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        share.update()
        time.sleep(1.0)
        others = share.update()
    finally:
        spinner.kill()
        spinner.wait()
    assert others >= 0.6                              # ~1.0; more if the machine is busy otherwise too
    assert share.threads(share.n_cores) <= share.n_cores - 1


def test_a_limit_below_its_own_count_never_raises_blas():
    own = blas_threads()
    with _blas_threads_limited(own + 3, below_own=True) as threads:
        assert threads == own and blas_threads() == own
    with _blas_threads_limited(1, below_own=True) as threads:
        assert threads == 1 and blas_threads() == 1
    assert blas_threads() == own


def test_the_blas_library_list_is_read_again_only_after_an_import():
    from compresslab import metrics

    with metrics._blas_lock:
        first = metrics._blas_setters()
        assert metrics._blas_setters() is first           # ~3 ms saved on every move that limits BLAS
    sys.modules["_compresslab_test_import"] = type(sys)("_compresslab_test_import")
    try:
        with metrics._blas_lock:
            again = metrics._blas_setters()
    finally:
        del sys.modules["_compresslab_test_import"]
    assert again is not first and len(again[0]) == len(first[0])


CPUS = os.cpu_count() or 1
ALL_BUT_ONE = CPUS - 1.0          # others keep every core but one busy


def _dashboards_see(monkeypatch, others, quota=None):
    """The dashboards' CoreShare replaced by one that saw other processes use ``others``
    of this machine's cores over the last second (``quota``: the container's CPU quota)."""
    from compresslab.dashboards import base

    clocks = FakeClocks()
    share = clocks.share(CPUS, quota=quota)
    share.update()
    clocks.advance(1.0, others=others)
    monkeypatch.setattr(base, "CORES", share)


def _threads_inside_moves(dash, moves):
    """BLAS's thread count as each move computes (read inside ``update``)."""
    seen, update = [], dash.update

    def recording_update():
        seen.append(blas_threads())
        update()

    dash.update = recording_update
    for name, value in moves:
        dash.controls[name].value = value
        assert dash.last_error is None, dash.last_error
    return seen


@pytest.mark.skipif(blas_threads() < 2, reason="BLAS runs one thread here: nothing to take away")
def test_a_move_on_a_busy_machine_runs_blas_at_one_thread_and_gives_it_back(monkeypatch):
    from compresslab.dashboards import QuantizationDashboard

    _dashboards_see(monkeypatch, others=ALL_BUT_ONE)
    dash = QuantizationDashboard(bits=4, prefetch=False)
    try:
        if dash.warmup is not None:
            dash.warmup.join(60)                        # its steps hold BLAS at 1 too
        dash.settle(60)
        own = blas_threads()
        assert _threads_inside_moves(dash, [("bits", 3), ("bits", 6)]) == [1, 1]
        assert dash.move_threads == 1
        assert blas_threads() == own
        ds = dash.dataset                               # the same numbers at any thread count
        assert dash.report.accuracy == dash.network_for("symmetric", 6).score(ds.X_test, ds.y_test)
    finally:
        dash.close()


@pytest.mark.skipif(blas_threads() < 2, reason="BLAS runs one thread here: nothing to take away")
def test_a_move_on_an_idle_machine_keeps_blas_at_its_own_count(monkeypatch):
    from compresslab.dashboards import LowRankDashboard

    _dashboards_see(monkeypatch, others=0.1)
    dash = LowRankDashboard()
    try:
        if dash.warmup is not None:
            dash.warmup.join(60)                        # its steps hold BLAS at 1 meanwhile
        dash.settle(60)
        own = blas_threads()
        assert _threads_inside_moves(dash, [("rank0", 7)]) == [own]
        assert dash.move_threads is None
    finally:
        dash.close()


def test_guest_time_is_counted_once(monkeypatch):
    """Linux counts a virtual machine's CPU time in user (and guest) and in nice (and guest_nice)."""
    import collections

    import psutil

    Times = collections.namedtuple("Times", "user nice system idle iowait irq softirq steal guest guest_nice")
    monkeypatch.setattr(psutil, "cpu_times", lambda: Times(5.0, 1.0, 2.0, 50.0, 1.0, 0, 0, 0, 3.0, 1.0))
    assert cores._machine_cpu_seconds() == 8.0


def test_an_old_openblas_is_never_limited_from_the_kernels_thread(monkeypatch):
    """Before OpenBLAS 0.3.27 (numpy < 2) a limit set from the main thread makes OpenBLAS
    ignore the background threads' limits: a move then leaves it alone."""
    from compresslab import metrics

    _dashboards_see(monkeypatch, others=ALL_BUT_ONE)
    monkeypatch.setattr(metrics, "_blas_limits_from_the_main_thread_are_safe", lambda: False)
    from compresslab.dashboards import LowRankDashboard

    dash = LowRankDashboard()
    try:
        dash.controls["rank0"].value = 9
        assert dash.last_error is None and dash.move_threads is None
    finally:
        dash.close()


def test_a_move_inside_a_move_gives_the_outer_count_back(monkeypatch):
    from compresslab.dashboards import LowRankDashboard

    _dashboards_see(monkeypatch, others=ALL_BUT_ONE)
    dash = LowRankDashboard()
    try:
        with dash.moving():
            outer = dash.move_threads
            _dashboards_see(monkeypatch, others=0.0)      # the inner move limits nothing
            with dash.moving():
                assert dash.move_threads is None
            assert dash.move_threads == outer
    finally:
        dash.close()


# --- the cores this process may use: affinity and the container's CPU quota ----------------
def _cgroup(tmp_path, proc_lines, files):
    """A fake cgroup file system: /proc/self/cgroup's lines, and {path under the root: text}."""
    for path, text in files.items():
        (tmp_path / "fs" / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "fs" / path).write_text(text)
    (tmp_path / "cgroup").write_text("".join(line + "\n" for line in proc_lines))
    return dict(cgroup_root=str(tmp_path / "fs"), proc_cgroup=str(tmp_path / "cgroup"))


@pytest.mark.parametrize("proc_lines, files, quota", [
    (["0::/"], {"cpu.max": "100000 100000\n"}, 1.0),                      # a container (Binder): its own group at the root
    (["0::/"], {"cpu.max": "max 100000\n"}, None),                        # no quota
    (["0::/user.slice/app"], {"user.slice/app/cpu.max": "150000 100000", "user.slice/cpu.max": "max 100000"}, 1.5),
    (["0::/a/b"], {"a/b/cpu.max": "300000 100000", "a/cpu.max": "50000 100000"}, 0.5),   # the parent's is smaller
    (["4:cpu,cpuacct:/docker/x"], {"cpu,cpuacct/docker/x/cpu.cfs_quota_us": "200000",
                                   "cpu,cpuacct/docker/x/cpu.cfs_period_us": "100000"}, 2.0),   # cgroup v1
    (["4:cpu,cpuacct:/docker/x"], {"cpu/cpu.cfs_quota_us": "50000", "cpu/cpu.cfs_period_us": "100000"}, 0.5),
    (["4:cpu,cpuacct:/"], {"cpu/cpu.cfs_quota_us": "-1", "cpu/cpu.cfs_period_us": "100000"}, None),
    (["4:memory:/x"], {"memory/x/cpu.cfs_quota_us": "100000"}, None),      # not the cpu controller
    (["0::/"], {"cpu.max": "garbage"}, None),
    (["3:cpuset:/x"], {"cpuset/x/cpu.cfs_quota_us": "100000", "cpuset/x/cpu.cfs_period_us": "100000"}, None),
    (["4:cpuacct,cpu:/d"], {"cpu,cpuacct/d/cpu.cfs_quota_us": "300000",      # CentOS 7 names them this way round
                            "cpu,cpuacct/d/cpu.cfs_period_us": "100000"}, 3.0),
    (["0::/../outside"], {"outside/cpu.max": "10000 100000"}, None),          # outside the namespace's root
    ([], {}, None),                                                       # no cgroup file system (macOS)
])
def test_the_cpu_quota_is_read_from_the_processes_control_group(tmp_path, proc_lines, files, quota):
    assert cores.cpu_quota(**_cgroup(tmp_path, proc_lines, files)) == quota


@pytest.mark.parametrize("n_cpus, quota, usable", [
    (16, None, 16), (16, 1.0, 1), (16, 1.5, 1), (16, 0.5, 1), (16, 2.0, 2), (2, 4.0, 2), (1, None, 1)])
def test_threads_worth_running_stop_at_the_quota(n_cpus, quota, usable):
    assert cores.usable_cores(n_cpus, quota) == usable


@pytest.mark.parametrize("quota, others, threads", [(None, 0.0, 16), (1.0, 0.0, 1), (4.0, 0.0, 4),
                                                    (4.0, 14.0, 2), (None, 14.0, 2), (2.5, 15.0, 1)])
def test_free_cores_are_at_most_the_quota(quota, others, threads):
    clocks = FakeClocks()
    share = clocks.share(16, quota=quota)
    share.update()
    clocks.advance(1.0, others=others)
    assert share.threads(16) == threads


def test_a_group_name_that_is_not_utf8_is_read(tmp_path):
    (tmp_path / "fs").mkdir()
    (tmp_path / "fs" / "cpu.max").write_text("200000 100000")
    (tmp_path / "cgroup").write_bytes(b"0::/\n1:name=\xff\xfe:/x\n")
    assert cores.cpu_quota(cgroup_root=str(tmp_path / "fs"), proc_cgroup=str(tmp_path / "cgroup")) == 2.0


@pytest.mark.parametrize("quota", [0, -1.0, float("nan"), float("inf")])
def test_a_quota_must_be_positive(quota):
    with pytest.raises(ValueError, match="quota must be a positive number of cores"):
        CoreShare(2, quota=quota)


def test_the_reading_covers_the_cpus_this_process_may_run_on(monkeypatch):
    """A process pinned to some CPUs (``taskset``) counts those, and reads their times only."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {1}, raising=False)
    seen = []
    monkeypatch.setattr(cores, "_machine_cpu_seconds", lambda cpus=None: seen.append(cpus) or 0.0)
    share = CoreShare()
    share.update()
    assert share.n_cores == 1 and share.usable == 1 and seen == [[1]]


def test_per_cpu_readings_add_up_to_the_machines():
    cpus = cores.usable_cpus() or list(range(os.cpu_count() or 1))
    each = sum(cores._machine_cpu_seconds([cpu]) for cpu in cpus)
    whole = cores._machine_cpu_seconds(cpus)
    assert each == pytest.approx(whole, abs=0.1 * len(cpus))      # read a moment apart: clock ticks between


PROC_STAT = """cpu  900 0 300 5000 10 0 0 0 0 0
cpu0 100 0 50 1000 5 0 0 0 0 0
cpu2 200 10 30 1000 5 1 2 3 40 10
cpu3 400 0 100 1000 0 0 0 0 0 0
intr 12345 0 1
ctxt 999
"""      # CPU 1 offline: no line


@pytest.mark.parametrize("cpus, ticks", [([0], 150), ([2], 246), ([0, 2], 396), ([3], 500), ([1], None),
                                         ([0, 1], 150)])
def test_each_cpu_is_read_by_its_number(tmp_path, cpus, ticks):
    """Busy ticks: all fields but idle, iowait, guest and guest_nice (guest time is in user too).
    An offline CPU has no line: it adds nothing; with no line at all, nothing is known."""
    (tmp_path / "stat").write_text(PROC_STAT)
    seconds = cores._machine_cpu_seconds(cpus, proc_stat=str(tmp_path / "stat"))
    assert seconds == (None if ticks is None else pytest.approx(ticks / os.sysconf("SC_CLK_TCK")))


def test_an_unreadable_proc_stat_limits_nothing(tmp_path):
    assert cores._machine_cpu_seconds([0], proc_stat=str(tmp_path / "missing")) is None


@pytest.mark.skipif(blas_threads() < 2, reason="BLAS runs one thread here: nothing to take away")
def test_a_move_under_a_one_core_quota_runs_blas_at_one_thread(monkeypatch):
    """OpenBLAS starts a thread per CPU whatever the quota: an idle machine, but a container allowed one core."""
    from compresslab.dashboards import LowRankDashboard

    _dashboards_see(monkeypatch, others=0.0, quota=1.0)
    dash = LowRankDashboard()
    try:
        if dash.warmup is not None:
            dash.warmup.join(60)
        dash.settle(60)
        own = blas_threads()
        assert _threads_inside_moves(dash, [("rank0", 7)]) == [1]
        assert dash.move_threads == 1 and blas_threads() == own
    finally:
        dash.close()


@pytest.mark.skipif(blas_threads() < 2, reason="BLAS runs one thread here: nothing to take away")
def test_a_move_of_a_kernel_pinned_to_one_cpu_runs_blas_at_one_thread(monkeypatch):
    """``taskset -c 0``: an idle machine, but the kernel may run on one CPU only."""
    from compresslab.dashboards import LowRankDashboard, base

    monkeypatch.setattr(base, "CORES", FakeClocks().share(1))
    dash = LowRankDashboard()
    try:
        if dash.warmup is not None:
            dash.warmup.join(60)
        dash.settle(60)
        assert _threads_inside_moves(dash, [("rank0", 6)]) == [1]
        assert dash.move_threads == 1
    finally:
        dash.close()
