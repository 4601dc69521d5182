"""The quantization notebook's dashboard: bits, scheme, granularity, range, activations.

Every setting is post-training quantization (PTQ) of the pretrained network;
"Quantization-aware training" trains with fake-quantized weights and adds its
point beside the PTQ one. The per-scheme curves and measured-speedup points
are computed once per dataset by the library (``curves.sweep_schemes``);
which settings a scheme takes is the library's rule too
(``quantization.scheme_options``). The networks of the last few settings are
kept in a small LRU, so going back is instant and memory stays bounded.
"""
from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from ..curves import sweep_schemes
from ..metrics import evaluate
from ..plots import QuantizationFigure
from ..quantization import (activation_ranges, canonical_setting, quantization_aware_training, quantize,
                            quantize_activations, scheme_options)
from .base import LRU, LiveDashboard, accuracy_text, fmt_bytes, readout_table, shared_baseline, speed_text

DATASETS = ("mnist-5k", "digits")
BIT_OPTIONS = tuple(range(1, 17)) + (32, 64)
SCHEME_OPTIONS = ("symmetric", "affine", "kmeans", "binary")
ACTIVATION_OPTIONS = (("float", 0), ("16", 16), ("8", 8), ("6", 6), ("4", 4), ("3", 3), ("2", 2))
CURVE_BITS = {"symmetric": (2, 3, 4, 5, 6, 8, 12, 16), "affine": (2, 3, 4, 5, 6, 8, 12, 16),
              "kmeans": (1, 2, 3, 4, 6, 8), "binary": (1,), "ternary": (2,)}
MEASURED = {"symmetric": (2, 4, 8), "binary": (1,)}     # settings timed for the measured-speedup points
CURVE_OPTIONS = dict(granularity="neuron", range_method="mse")
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
    layer (whose histogram is shown), epochs, qat (a button).
    """

    def __init__(self, dataset="mnist-5k", bits=4, scheme="symmetric", qat_epochs=2):
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
                self.warmup = self.start_warmup(self._warmup_steps(key, base, curves), name="warm-up")
            self.qat_report = None
            self._set_histogram()

    def _warmup_steps(self, key, base, curves):
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
        kmeans = self._kmeans
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

    # --- every move ------------------------------------------------------------------
    def setting(self):
        """(setting, note) of the controls: the scheme's own rules applied (bits clamped,
        ignored options normalised by ``quantization.canonical_setting``)."""
        c = self.controls
        scheme, bits, note = effective_setting(c["scheme"].value, c["bits"].value)
        if scheme == "float64":
            weights = dict(scheme=scheme, bits=bits, granularity="tensor", range_method="minmax")
        else:
            weights = canonical_setting(scheme, bits, c["granularity"].value, c["range"].value)
        return dict(**weights, activation_bits=c["activation_bits"].value), note

    def update(self):
        setting, note = self.setting()
        self.controls["granularity"].disabled = not takes(setting["scheme"], "granularity")
        self.controls["range"].disabled = not takes(setting["scheme"], "range_method")
        q = self.network_for(**setting)
        key = (self.dataset.name, *setting.values())
        r = self.report_for(key, q, self.baseline)
        self.network, self._report, self._setting, self.note = q, r, setting, note
        shown = q.layers[self.controls["layer"].value]
        shown = getattr(shown, "inner", shown)                   # behind an activation quantizer
        weight = shown.encoded.get("weight") if hasattr(shown, "encoded") else None
        levels = weight.levels(self._widest_neuron(shown)) if hasattr(weight, "levels") else None
        per_neuron = setting["granularity"] == "neuron" or (
            setting["scheme"] not in ("float64",) and scheme_options(setting["scheme"])["granularity"] == ("neuron",))
        label = "levels of the widest neuron" if per_neuron else "levels"
        self.plot.update(alpha=r.alpha, accuracy=r.accuracy, speedup_measured=r.speedup_measured, levels=levels,
                         levels_label=label)
        self.schedule_measurement(q, self.baseline, key=key)
        self.render()

    @staticmethod
    def _widest_neuron(layer):
        W = layer.to_dense().weight
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
