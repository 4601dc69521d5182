"""The quantization notebook's dashboard: bits, scheme, granularity, range, activations.

Every setting is post-training quantization (PTQ) of the pretrained network;
"Quantization-aware training" trains with fake-quantized weights and adds its
point beside the PTQ one. The per-scheme curves and measured-speedup points
are computed once per dataset by the library (``curves.sweep_schemes``);
which settings a scheme takes is the library's rule too
(``quantization.scheme_options``). The networks of the last few settings are
kept in a small LRU, so going back is instant and memory stays bounded; the
settings one move away are scored in the background while the user looks, so a
first visit after a pause is instant too. Scoring runs the first two layers in
float32 (the first over the pixels some test image lights) and proves each
prediction is float64's (``CertifiedLogits``): ~40 % of the float64 passes' cost,
the same accuracy to the last image.
"""
from __future__ import annotations

import functools
import time

import ipywidgets as widgets
import numpy as np

from ..curves import sweep_schemes
from ..metrics import evaluate
from ..plots import QuantizationFigure
from ..quantization import (activation_ranges, canonical_setting, quantization_aware_training, quantize,
                            quantize_activations, scheme_options)
from .._validation import check_bool
from .base import LRU, LiveDashboard, accuracy_text, fmt_bytes, readout_table, shared_baseline, speed_text
from .certified import CertifiedLogits

DATASETS = ("mnist-5k", "digits")
BIT_OPTIONS = tuple(range(1, 17)) + (32, 64)
SCHEME_OPTIONS = ("symmetric", "affine", "kmeans", "binary")
ACTIVATION_OPTIONS = (("float", 0), ("16", 16), ("8", 8), ("6", 6), ("4", 4), ("3", 3), ("2", 2))
CURVE_BITS = {"symmetric": (2, 3, 4, 5, 6, 8, 12, 16), "affine": (2, 3, 4, 5, 6, 8, 12, 16),
              "kmeans": (1, 2, 3, 4, 6, 8), "binary": (1,), "ternary": (2,)}
MEASURED = {"symmetric": (2, 4, 8), "binary": (1,)}     # settings timed for the measured-speedup points
CURVE_OPTIONS = dict(granularity="neuron", range_method="mse")
PREFETCH_QUIET = 0.3       # seconds without a move before the prefetch scores another setting
PREFETCH_KEPT = 32         # settings one move away scored ahead (~28 exist), kept as codes (~0.3 MB each)
CONTROLS_PREFETCHED = ("bits", "activation_bits", "scheme", "granularity", "range")
CACHED_NETWORKS = 20       # settings kept (codes and decoded weights, ~2.5 MB each): going back is instant

# (dataset, network content) -> what the warm-up computed: the k-means networks
# (a few hundred KB each), the full curves and the measured points. Kept across
# re-built dashboards (a re-run cell, a test): k-means takes seconds.
_CURVES = LRU(maxsize=len(DATASETS))
_QUICK = LRU(maxsize=len(DATASETS))
KMEANS_BITS = tuple(range(1, 9))


def quick_curves(base):
    """The curves that cost little, for the build: {scheme: (alphas, accuracies)}
    of every scheme but k-means (whose codebooks take seconds: warmed up later)."""
    net, ds = base.network, base.dataset
    bits = {scheme: b for scheme, b in CURVE_BITS.items() if scheme != "kmeans"}
    reports = sweep_schemes(net, ds, bits, measure=False, count_file_bytes=False, **CURVE_OPTIONS)
    curves = {scheme: ([r.alpha for r in rs], [r.accuracy for r in rs]) for scheme, rs in reports.items()}
    floats = sweep_schemes(net, ds, {"float32": (32,), "float16": (16,)}, measure=False, count_file_bytes=False)
    curves["float"] = ([1.0] + [rs[0].alpha for rs in floats.values()],
                       [base.accuracy] + [rs[0].accuracy for rs in floats.values()])
    return curves


def measured_points(base):
    """(alphas, deltas) of the ``MEASURED`` settings: throughput on the test set,
    baseline and network interleaved (a quick measurement: points of a picture)."""
    timed = sweep_schemes(base.network, base.dataset, MEASURED, repeats=3, latency=False, max_seconds=0.2,
                          count_file_bytes=False, **CURVE_OPTIONS)
    points = [r for rs in timed.values() for r in rs]
    return [r.alpha for r in points], [r.speedup_measured for r in points]


def effective_setting(scheme, bits):
    """(scheme, bits, note): 32 and 64 bits are float formats whatever the scheme;
    other bit-widths are clamped to what the scheme can do (``scheme_options``),
    and the note says so."""
    if bits == 64:
        return "float64", 64, ""
    if bits == 32:
        return "float32", 32, ""
    low, high = scheme_options(scheme)["bits"]
    if low <= bits <= high:
        return scheme, bits, ""
    used = min(max(bits, low), high)
    return scheme, used, f"{scheme} works with {low}-{high} bits: using {used}"


def takes(scheme, option) -> bool:
    """Whether the user has a choice of ``option`` ("granularity", "range_method") for ``scheme``."""
    if scheme == "float64":
        return False
    choices = scheme_options(scheme)[option]
    return choices is not None and len(choices) > 1


class QuantizationDashboard(LiveDashboard):
    """Dashboard of notebooks/02_quantization.ipynb (see module doc).

    ``controls``: dataset, bits, scheme, granularity, range, activation_bits,
    layer (whose histogram is shown), epochs, qat (a button). ``prefetch``: score
    the settings one move away in the background while the user looks (``_prefetch``).
    """

    def __init__(self, dataset="mnist-5k", bits=4, scheme="symmetric", qat_epochs=2, prefetch=True):
        toggle_style = {"button_width": "90px", "description_width": "60px"}
        controls = {
            "dataset": widgets.Dropdown(options=DATASETS, value=dataset, description="dataset"),
            "bits": widgets.SelectionSlider(options=BIT_OPTIONS, value=bits, description="weight bits",
                                            continuous_update=False),
            "scheme": widgets.ToggleButtons(options=SCHEME_OPTIONS, value=scheme, description="scheme",
                                            style=toggle_style),
            "granularity": widgets.ToggleButtons(options=("tensor", "neuron"), value="tensor",
                                                 description="scale per", style=toggle_style),
            "range": widgets.ToggleButtons(options=("minmax", "mse"), value="minmax", description="range",
                                           style=toggle_style),
            "activation_bits": widgets.SelectionSlider(options=ACTIVATION_OPTIONS, value=0,
                                                       description="activation bits", continuous_update=False,
                                                       style={"description_width": "initial"}),
            "layer": widgets.Dropdown(options=(("layer 1", 0), ("layer 2", 1), ("layer 3", 2)), value=0,
                                      description="histogram"),
            **self.trainer_controls("qat", "Quantization-aware training", qat_epochs, max_epochs=10),
        }
        settings = ["bits", "scheme", "granularity", "range", "activation_bits"]
        super().__init__(controls, QuantizationFigure(), ["dataset", *settings, "layer"], panel_width="420px",
                         trainer="qat")
        self.qat_report, self.qat_message, self.note = None, "", ""
        self.levels_shown = None      # (how many levels the histogram draws, of what), None for a float format
        # the thread scoring the settings one move away; around which controls; what it scored
        self.prefetch_enabled = check_bool("prefetch", prefetch)   # False: first visits computed on the move
        self.prefetch, self._prefetch_target, self._prefetch_done = None, None, None
        self._prefetch_data = None    # (base, activation ranges, k-means networks, scorer) of the dataset shown
        self.prefetch_errors = []     # (setting key, exception) of settings the prefetch could not score
        self._prefetched = LRU(PREFETCH_KEPT)
        self.warmup = None            # the thread fitting k-means and timing the curve points
        self._networks = LRU(CACHED_NETWORKS)     # setting -> PTQ network (PTQ is deterministic)
        self.safely(self._load_dataset)()
        self.watch(["dataset"], self._switch_dataset)
        self.watch(["layer"], self._show_layer)
        controls["qat"].on_click(lambda _: self.safely(self.train_qat)())
        self.watch(settings)
        self.refresh()

    # --- once per dataset ------------------------------------------------------------
    def _switch_dataset(self):
        self._load_dataset()
        self.update()

    def _load_dataset(self):
        name = self.controls["dataset"].value
        self.base = base = shared_baseline(name)
        self.dataset, self.baseline = base.dataset, base.network
        self.baseline_accuracy = base.accuracy
        self.base_report = evaluate(base.network, base.dataset, measure=False, count_file_bytes=False)
        self._networks.clear()
        self.activation_ranges = activation_ranges(base.network, base.dataset.X_train)    # calibrated once
        self.certified = CertifiedLogits(base.dataset.X_test)     # a move's scoring pass, two layers in float32
        key = (name, base.network._content_digest())
        warm = _CURVES.peek(key)
        with self.plot.blitter.hold():                  # one full draw for the curves and the histogram
            if warm is not None and "points" in warm:      # warmed up before (a re-run cell): all at once
                self._kmeans = warm["kmeans"]
                self.plot.set_static(curves=warm["curves"], reference_accuracy=base.accuracy,
                                     measured_points=warm["points"])
            else:
                self._kmeans = {}
                curves = _QUICK.peek(key)
                self.plot.set_static(curves=curves or {}, reference_accuracy=base.accuracy,
                                     measured_points=([], []))
                self.warmup = self.start_warmup(self._warmup_steps(key, base, curves, self._kmeans), name="warm-up")
            self.qat_report = None
            self._set_histogram()
        # what the prefetch thread reads, set at once when all of it belongs to this dataset
        self._prefetch_data = (base, self.activation_ranges, self._kmeans, self.certified)

    def _warmup_steps(self, key, base, curves, kmeans):
        """Off the build path, one step at a time (``start_warmup``): the one-shot
        curves of every scheme but k-means (~0.5 s: the dashboard appears first),
        the k-means network of every bit-width (then a move to k-means is a
        lookup), the k-means curve, then the measured-speedup points; each lands
        in the figure when it is ready."""
        if curves is None:
            curves = {}

            def quick():
                curves.update(_QUICK.get(key, lambda: quick_curves(base)))
                ready = dict(curves)
                return lambda: self._warm(base, lambda: self.plot.set_curves(ready))
            yield quick
        else:
            curves = dict(curves)
        # ``kmeans``: this dataset's dict, bound when the warm-up was made (the generator runs
        # later, on its thread: self._kmeans may be another dataset's by then)
        for bits in KMEANS_BITS:
            def fit(bits=bits):
                kmeans[bits] = quantize(base.network, "kmeans", bits)
            yield fit

        def curve():
            reports = [evaluate(kmeans[b], base.dataset, base.network, measure=False, count_file_bytes=False)
                       for b in CURVE_BITS["kmeans"]]
            curves["kmeans"] = ([r.alpha for r in reports], [r.accuracy for r in reports])
            return lambda: self._warm(base, lambda: self.plot.set_curve("kmeans", curves["kmeans"]))
        yield curve

        def points():
            measured = measured_points(base)
            _CURVES.put(key, dict(kmeans=kmeans, curves=curves, points=measured))
            return lambda: self._warm(base, lambda: self.plot.set_measured_points(measured))
        yield points

    def _warm(self, base, draw):
        """On the kernel's thread: draw what the warm-up computed, if that dataset is still shown."""
        if self.base is base:
            draw()

    def _set_histogram(self):
        layer = self.baseline.layers[self.controls["layer"].value]
        self.plot.set_histogram(layer.to_dense().weight.ravel())

    def _show_layer(self):
        self._set_histogram()
        self.update()

    def network_for(self, scheme, bits, granularity="tensor", range_method="minmax", activation_bits=0):
        """The PTQ network for one setting (``setting()``'s keys), from the LRU when it is there."""
        key = (scheme, bits, granularity, range_method, activation_bits)
        if activation_bits:            # the weights' network, its activations quantized on top (shares layers)
            weights = self.network_for(scheme, bits, granularity, range_method)
            return self._networks.get(key, lambda: quantize_activations(weights, activation_bits,
                                                                         self.activation_ranges))
        if scheme == "float64":
            return self.baseline
        if scheme == "kmeans" and bits in self._kmeans:      # warmed up
            return self._kmeans[bits]
        return self._networks.get(key, lambda: quantize(self.baseline, scheme, bits, granularity=granularity,
                                                         range_method=range_method))

    # --- the settings one move away, scored while the user looks --------------------------------
    def _prefetch(self):
        """Point the prefetch at the current controls: it scores, in the background, the
        settings one move away that have no report yet (any weight bit-width, any
        activation bit-width, another scheme, granularity or range; the nearest slider
        positions first), so a first move of a control after a pause is a lookup and
        a blit (~5-10 ms), not a quantization and a forward pass (~20-50 ms).

        One thread for the dashboard's life (a warm-up: ``start_warmup``): it waits
        for the build's warm-up, for ``PREFETCH_QUIET`` s without a move, and (the
        warm-up gate) while a move is handled or a measurement is pending; it scores
        at one BLAS thread. What it scored waits in its own small LRU until a move
        reaches it (``_take_prefetched``): it never pushes what the user visited
        out of the caches."""
        if not self.prefetch_enabled:
            return
        c = self.controls
        target = (self.dataset.name, *(c[name].value for name in CONTROLS_PREFETCHED))
        with self._gate:
            if self._prefetch_target == target:
                return
            self._prefetch_target = target
            self._gate.notify_all()
        if self.prefetch is None:
            self.prefetch = self.start_warmup(self._prefetch_steps(), name="prefetch")

    def wait_prefetched(self, timeout=120.0) -> bool:
        """Wait until the prefetch has scored the settings it scores ahead (``prefetch_keys``),
        then keep them (``flush``). For tests and benchmarks."""
        with self._gate:
            done = self._gate.wait_for(lambda: self._closed or self._prefetch_done == self._prefetch_target,
                                       timeout=timeout)
        self.flush()
        return done and not self._closed

    def _prefetch_steps(self):
        attempted, built = set(), LRU(4)          # keys tried for this target; weights networks, shared
        attempted_for = None
        while True:
            with self._gate:
                if self._closed:
                    return
                target, data = self._prefetch_target, self._prefetch_data
            warmup = self.warmup
            if warmup is not None and warmup.is_alive():     # the curves and k-means first
                warmup.join(timeout=1.0)
                continue
            quiet = PREFETCH_QUIET - (time.monotonic() - self.last_move)
            if quiet > 0:                                    # the user is moving: wait until still
                time.sleep(quiet)
                continue
            if attempted_for != target:
                attempted, attempted_for = set(), target
            step = self._next_prefetch(target, data, attempted, built)
            if step is not None:
                yield step
                continue
            with self._gate:                                 # all scored: sleep until the controls move
                if self._prefetch_target == target:
                    self._prefetch_done = target
                    self._gate.notify_all()
                    self._gate.wait_for(lambda: self._closed or self._prefetch_target != target, timeout=5.0)

    def one_move_away(self):
        """The control values one move from the current ones, nearest first: (distance,
        control, value) for every other position of the two sliders (distance in slider
        steps) and every other choice of scheme, granularity and range (distance 1)."""
        c = self.controls
        moves = []
        for name, options in (("bits", BIT_OPTIONS), ("activation_bits", [v for _, v in ACTIVATION_OPTIONS]),
                              ("scheme", SCHEME_OPTIONS), ("granularity", ("tensor", "neuron")),
                              ("range", ("minmax", "mse"))):
            here = list(options).index(c[name].value)
            for i, value in enumerate(options):
                if i != here:
                    moves.append((abs(i - here) if name in ("bits", "activation_bits") else 1, name, value))
        return sorted(moves, key=lambda m: (m[0], CONTROLS_PREFETCHED.index(m[1])))

    def prefetch_keys(self, data=None):
        """The setting keys the prefetch scores ahead: the ``PREFETCH_KEPT`` nearest
        distinct settings one move away (``one_move_away``) that a move would compute,
        k-means bit-widths the warm-up has not fitted yet left out (seconds each).
        ``data``: the dataset's (base, activation ranges, k-means networks)."""
        base, _, kmeans, _ = self._prefetch_data if data is None else data
        here = (base.dataset.name, *self.setting()[0].values())
        keys = {}
        for _, name, value in self.one_move_away():
            setting, _ = self.setting(**{name: value})
            key = (base.dataset.name, *setting.values())
            if key != here and not (setting["scheme"] == "kmeans" and setting["bits"] not in kmeans):
                keys.setdefault(key, setting)
            if len(keys) == PREFETCH_KEPT:
                break
        return keys

    def _next_prefetch(self, target, data, attempted, built):
        """The next setting one move from ``target`` to score, or None."""
        if self._prefetch_data is not data or self._prefetch_target != target:
            return None
        for key, setting in self.prefetch_keys(data).items():
            if key in attempted or key in self.reports or key in self._prefetched:
                continue                                 # scored already
            attempted.add(key)
            return functools.partial(self._prefetch_one, data, key, setting, built)
        return None

    def _prefetch_one(self, data, key, setting, built):
        """On the prefetch thread: build and score one setting (everything from ``data``,
        one dataset's); kept on the kernel's thread if that dataset is still shown.
        A failure reaches the error panel (if that dataset is still shown) and is kept
        in ``prefetch_errors``; the setting is skipped and the prefetch goes on (a
        move to that setting computes it on the move)."""
        try:
            return self._prefetch_compute(data, key, setting, built)
        except Exception as exc:            # not BaseException: an interrupt or MemoryError still stops it
            self.prefetch_errors.append((key, exc))
            if self._prefetch_data is data:
                self._post(functools.partial(self.show_error, exc, "prefetch (background): "))
            return None

    def _prefetch_compute(self, data, key, setting, built):
        base, ranges, kmeans, certified = data
        scheme, bits, granularity, range_method, activation_bits = setting.values()
        if scheme == "float64":
            weights = base.network
        elif scheme == "kmeans":
            weights = kmeans[bits]
        else:                                            # activation settings share their weights network
            weights = built.get((base.dataset.name, scheme, bits, granularity, range_method), lambda: quantize(
                base.network, scheme, bits, granularity=granularity, range_method=range_method))
        q = quantize_activations(weights, activation_bits, ranges) if activation_bits else weights
        report = evaluate(q, base.dataset, base.network, measure=False, count_file_bytes=False,
                          test_logits=certified.logits(q))
        if scheme not in ("float64", "kmeans"):         # kept as codes: the float64 weights are 8x their size
            for layer in weights.layers:                # (a move decodes the one layer it draws, ~1 ms)
                for encoded in getattr(layer, "encoded", {}).values():
                    encoded.forget_decoded()

        def keep():
            if self._prefetch_data is data:
                self._prefetched.put(key, (weights, q, report))
        return keep

    def _take_prefetched(self, key, setting):
        """Move a prefetched setting into the caches a move reads, when the move reaches it."""
        found = self._prefetched.peek(key)
        if found is None:
            return
        weights, q, report = found
        scheme, bits, granularity, range_method, activation_bits = setting.values()
        if scheme not in ("float64", "kmeans"):
            self._networks.put((scheme, bits, granularity, range_method, 0), weights)
        if activation_bits:
            self._networks.put(tuple(setting.values()), q)
        if key not in self.reports:                      # a move got there first: keep its report
            self.reports.put(key, report)

    def forget_visits(self):
        """Forget every setting computed or prefetched (reports, networks, first-layer
        products): the next visit of each computes it again, as a first one does. The
        k-means networks the warm-up fitted stay. For benchmarks that repeat first visits."""
        for cache in (self.reports, self._networks, self._prefetched, self.certified._first):
            cache.clear()

    # --- every move ------------------------------------------------------------------
    def setting(self, **values):
        """(setting, note) of the controls, or of them with some set otherwise (``values``:
        control name -> value, of ``CONTROLS_PREFETCHED``): the scheme's own rules
        applied (bits clamped, ignored options normalised by ``quantization.canonical_setting``)."""
        unknown = set(values) - set(CONTROLS_PREFETCHED)
        if unknown:
            raise ValueError(f"setting() takes values of {CONTROLS_PREFETCHED}; got {sorted(unknown)}")
        v = {name: values.get(name, self.controls[name].value) for name in CONTROLS_PREFETCHED}
        scheme, bits, note = effective_setting(v["scheme"], v["bits"])
        if scheme == "float64":
            weights = dict(scheme=scheme, bits=bits, granularity="tensor", range_method="minmax")
        else:
            weights = canonical_setting(scheme, bits, v["granularity"], v["range"])
        return dict(**weights, activation_bits=v["activation_bits"]), note

    def update(self):
        setting, note = self.setting()
        self.controls["granularity"].disabled = not takes(setting["scheme"], "granularity")
        self.controls["range"].disabled = not takes(setting["scheme"], "range_method")
        key = (self.dataset.name, *setting.values())
        self._take_prefetched(key, setting)
        q = self.network_for(**setting)
        r = self.report_for(key, q, self.baseline, compute_logits=lambda: self.certified.logits(q))
        self.network, self._report, self._setting, self.note = q, r, setting, note
        shown = q.layers[self.controls["layer"].value]
        shown = getattr(shown, "inner", shown)                   # behind an activation quantizer
        weight = shown.encoded.get("weight") if hasattr(shown, "encoded") else None
        per_column = getattr(weight, "scale", None) is not None and weight.scale.size > 1
        levels = (weight.levels(self._widest_neuron(shown) if per_column else 0)     # one scale: any column
                  if hasattr(weight, "levels") else None)
        per_neuron = setting["granularity"] == "neuron" or (
            setting["scheme"] not in ("float64",) and scheme_options(setting["scheme"])["granularity"] == ("neuron",))
        label = "levels of the widest neuron" if per_neuron else "levels"
        self.levels_shown = None if levels is None else (len(levels), label)
        self.plot.update(alpha=r.alpha, accuracy=r.accuracy, speedup_measured=r.speedup_measured, levels=levels,
                         levels_label=label)
        self.schedule_measurement(q, self.baseline, key=key)
        self._prefetch()
        self.render()

    @staticmethod
    def _widest_neuron(layer):
        W = layer.value("weight")         # the decoded weights the forward pass used (cached, no copy)
        return int(np.argmax(W.max(axis=0) - W.min(axis=0)))

    def train_qat(self):
        """Quantization-aware training at the current setting, then its point beside PTQ's."""
        setting, _ = self.setting()
        if setting["scheme"] in ("float32", "float64"):
            self.qat_message = "QAT needs a quantized format: choose 16 bits or fewer"
            self.render()
            return
        with self.training() as (epochs, on_epoch):
            q, history = quantization_aware_training(
                self.baseline, self.dataset.X_train, self.dataset.y_train, setting["scheme"], setting["bits"],
                granularity=setting["granularity"], range_method=setting["range_method"], epochs=epochs,
                progress=False, on_epoch=on_epoch)
        self.qat_network, self.qat_history = q, history
        self.qat_report = evaluate(q, self.dataset, self.baseline, measure=False,
                                   label=f"QAT {setting['scheme']} {setting['bits']} bit, {epochs} epochs")
        self.plot.show_qat(self.qat_report.alpha, self.qat_report.accuracy)
        self.render()

    def render(self):
        """The readout: the setting this report was computed for (not the controls'
        values now), then its numbers."""
        r, setting = self.report, self._setting
        scheme = setting["scheme"]
        options = "".join(f", {word} {setting[key]}" for key, word in (("granularity", "per"),
                                                                         ("range_method", "range"))
                          if takes(scheme, key))
        activations = setting["activation_bits"]
        rows = [
            ("weights", f"{scheme}, {setting['bits']} bit{options}"),
            ("activations", f"{activations} bit" if activations else "float"),
            ("size (bits / 8)", fmt_bytes(r.storage_bits / 8)),
            ("size (.npz file)", self.file_size_text(fmt_bytes)),
            ("alpha bits / file", f"{r.alpha:.2f} / " + ("..." if r.alpha_bytes is None else f"{r.alpha_bytes:.2f}")),
            ("beta (bits)", f"{r.beta:.2f}"),
            ("levels in the histogram", "none (float format)" if self.levels_shown is None
             else f"{self.levels_shown[0]:,} ({self.levels_shown[1]})"),
            ("bytes-moved bound, batch 1", f"δ ≤ {r.alpha:.2f}×"),
            ("accuracy", accuracy_text(r)),
            ("float64", accuracy_text(self.base_report)),
        ]
        if self.qat_report is not None:
            rows.append(("QAT", f"{accuracy_text(self.qat_report)} ({self.qat_report.label})"))
        notes = [n for n in (self.note, self.qat_message) if n]
        self.qat_message = ""
        self.readout.value = readout_table(rows, notes=notes,
                                           speed=speed_text(r) + " (dequantize, then float matmul)")
