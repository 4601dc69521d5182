"""The quantization notebook's dashboard: bits, scheme, granularity, range, activations.

Every setting is post-training quantization (PTQ) of the pretrained network;
"Quantization-aware training" trains with fake-quantized weights and adds its
point beside the PTQ one. Done once per dataset: the per-scheme curves (also
the k-means codebooks, the slow part), the measured-speedup points and the
baseline's timing. Each setting's network is kept, so going back is instant.
"""
from __future__ import annotations

import threading

import ipywidgets as widgets
import numpy as np

from ..metrics import evaluate, time_forward
from ..plots import QuantizationFigure
from ..quantization import (BIT_RANGES, activation_ranges, quantization_aware_training, quantize,
                            quantize_activations)
from .base import Dashboard, load_baseline, fmt_bytes, readout_table

DATASETS = ("mnist-5k", "digits")
BIT_OPTIONS = tuple(range(1, 17)) + (32, 64)
SCHEME_OPTIONS = ("symmetric", "affine", "kmeans", "binary")
ACTIVATION_OPTIONS = (("float", 0), ("16", 16), ("8", 8), ("6", 6), ("4", 4), ("3", 3), ("2", 2))
CURVE_BITS = {"symmetric": (2, 3, 4, 5, 6, 8, 12, 16), "affine": (2, 3, 4, 5, 6, 8, 12, 16),
              "kmeans": (1, 2, 3, 4, 6, 8), "binary": (1,), "ternary": (2,)}
CURVE_OPTIONS = dict(granularity="neuron", range_method="mse")


def effective_setting(scheme, bits):
    """(scheme, bits, note): 32 and 64 bits are float formats whatever the scheme;
    other bit-widths are clamped to what the scheme can do, and the note says so."""
    if bits == 64:
        return "float64", 64, ""
    if bits == 32:
        return "float32", 32, ""
    low, high = BIT_RANGES[scheme]
    if low <= bits <= high:
        return scheme, bits, ""
    used = min(max(bits, low), high)
    return scheme, used, f"{scheme} works with {low}-{high} bits: using {used}"


class QuantizationDashboard(Dashboard):
    """Dashboard of notebooks/02_quantization.ipynb (see module doc).

    ``controls``: dataset, bits, scheme, granularity, range, activation_bits,
    layer (whose histogram is shown), epochs, qat (a button).
    """

    def __init__(self, dataset="mnist-5k", bits=4, scheme="symmetric", qat_epochs=2):
        super().__init__()
        self.controls = {
            "dataset": widgets.Dropdown(options=DATASETS, value=dataset, description="dataset"),
            "bits": widgets.SelectionSlider(options=BIT_OPTIONS, value=bits, description="weight bits",
                                            continuous_update=False),
            "scheme": widgets.ToggleButtons(options=SCHEME_OPTIONS, value=scheme, description="scheme",
                                            style={"button_width": "90px", "description_width": "60px"}),
            "granularity": widgets.ToggleButtons(options=("tensor", "neuron"), value="tensor",
                                                 description="scale per",
                                                 style={"button_width": "90px", "description_width": "60px"}),
            "range": widgets.ToggleButtons(options=("minmax", "mse"), value="minmax", description="range",
                                           style={"button_width": "90px", "description_width": "60px"}),
            "activation_bits": widgets.SelectionSlider(options=ACTIVATION_OPTIONS, value=0,
                                                       description="activation bits", continuous_update=False,
                                                       style={"description_width": "initial"}),
            "layer": widgets.Dropdown(options=(("layer 1", 0), ("layer 2", 1), ("layer 3", 2)), value=0,
                                      description="histogram"),
            **self._trainer_controls("qat", "Quantization-aware training", qat_epochs, max_epochs=10),
        }
        self.readout = widgets.HTML(layout=widgets.Layout(margin="0 0 0 12px"))
        self.plot = QuantizationFigure()
        self.fig = self.plot.fig
        self.qat_report, self.qat_message = None, ""
        self.safely(self._load_dataset)(initial=True)
        self.controls["dataset"].observe(lambda _: self.safely(self._load_dataset)(), names="value")
        self.controls["layer"].observe(lambda _: self.safely(self._show_layer)(), names="value")
        self.controls["qat"].on_click(lambda _: self.safely(self.train_qat)())
        self._observe_controls(["bits", "scheme", "granularity", "range", "activation_bits"])
        self.safely(self.update)()
        left = widgets.VBox([self.controls[k] for k in ("dataset", "bits", "scheme", "granularity", "range",
                                                          "activation_bits", "layer")],
                            layout=widgets.Layout(min_width="420px"))
        self._assemble(left)

    # --- once per dataset ------------------------------------------------------------
    def _load_dataset(self, initial=False):
        name = self.controls["dataset"].value
        base = load_baseline(name)
        self.dataset, self.baseline = ds, net = base.dataset, base.network
        self.baseline_seconds, self.baseline_accuracy = base.seconds, base.accuracy
        self._networks = {}                # setting -> quantized network (PTQ is deterministic)
        self.activation_ranges = activation_ranges(net, ds.X_train)       # calibrated once
        curves, measured = {}, ([], [])
        for scheme, bit_list in CURVE_BITS.items():
            points = []
            for bits in bit_list:
                q = self.network_for(scheme, bits, **CURVE_OPTIONS)
                r = evaluate(q, ds, net, measure=False, count_file_bytes=False)
                points.append((r.alpha, r.accuracy))
                if bits in (1, 2, 4, 8) and scheme in ("symmetric", "binary"):
                    measured[0].append(r.alpha)
                    measured[1].append(self.baseline_seconds / time_forward(q, ds.X_test, repeats=3))
            curves[scheme] = tuple(zip(*points))
        floats = [self.network_for(f, b) for f, b in (("float32", 32), ("float16", 16))]
        float_reports = [evaluate(q, ds, net, measure=False, count_file_bytes=False) for q in floats]
        curves["float"] = ([1.0] + [r.alpha for r in float_reports],
                           [self.baseline_accuracy] + [r.accuracy for r in float_reports])
        self.plot.set_static(curves=curves, reference_accuracy=self.baseline_accuracy, measured_points=measured)
        self.qat_report = None
        self.warmup = threading.Thread(target=self._warm_networks, args=(self._networks, net), daemon=True)
        self.warmup.start()
        self._show_layer(redraw=False)
        if not initial:
            self.update()

    def _show_layer(self, redraw=True):
        layer = self.baseline.layers[self.controls["layer"].value]
        self.plot.set_histogram(layer.to_dense().weight.ravel())
        if redraw:
            self.update()

    def network_for(self, scheme, bits, granularity="tensor", range_method="minmax", activation_bits=0,
                    *, _cache=None, _baseline=None):
        """The PTQ network for one setting (cached: PTQ is deterministic)."""
        cache = self._networks if _cache is None else _cache
        baseline = self.baseline if _baseline is None else _baseline
        if scheme in ("kmeans", "binary", "ternary", "float16", "float32", "float64"):
            granularity, range_method = "tensor", "minmax"     # settings these schemes ignore
        key = (scheme, bits, granularity, range_method, activation_bits)
        if key not in cache:
            if activation_bits:          # the weights' network, its activations quantized on top
                weights = self.network_for(scheme, bits, granularity, range_method, 0, _cache=cache,
                                           _baseline=baseline)
                cache[key] = quantize_activations(weights, activation_bits, self.activation_ranges)
            elif scheme == "float64":
                cache[key] = baseline
            else:
                cache[key] = quantize(baseline, scheme, bits, granularity=granularity, range_method=range_method)
        return cache[key]

    def _warm_networks(self, cache, baseline):
        """Background: quantize the settings a slider can reach, so a first visit only evaluates.
        (NumPy releases the GIL in its array work; the cache and baseline are this dataset's.)"""
        for bits in range(2, 17):
            for scheme in ("symmetric", "affine"):
                for granularity in ("tensor", "neuron"):
                    for range_method in ("minmax", "mse"):
                        if cache is not self._networks:      # the dataset changed: stop
                            return
                        self.network_for(scheme, bits, granularity, range_method, _cache=cache,
                                         _baseline=baseline)
        for bits in (5, 7):
            self.network_for("kmeans", bits, _cache=cache, _baseline=baseline)

    # --- every move ------------------------------------------------------------------
    def setting(self):
        scheme, bits, note = effective_setting(self.controls["scheme"].value, self.controls["bits"].value)
        return dict(scheme=scheme, bits=bits, granularity=self.controls["granularity"].value,
                    range_method=self.controls["range"].value,
                    activation_bits=self.controls["activation_bits"].value), note

    def update(self):
        setting, self.note = self.setting()
        self.network = q = self.network_for(**setting)
        self._stop_file_size()
        self.report = evaluate(q, self.dataset, self.baseline, repeats=2,
                               baseline_seconds=self.baseline_seconds, count_file_bytes=False)
        shown = q.layers[self.controls["layer"].value]
        shown = getattr(shown, "inner", shown)                   # behind an activation quantizer
        weight = shown.encoded.get("weight") if hasattr(shown, "encoded") else None
        levels = weight.levels(self._widest_neuron(shown)) if hasattr(weight, "levels") else None
        per_neuron = setting["scheme"] in ("binary", "ternary") or (
            setting["granularity"] == "neuron" and setting["scheme"] in ("symmetric", "affine"))
        label = "levels of the widest neuron" if per_neuron else "levels"
        self.plot.update(alpha=self.report.alpha, accuracy=self.report.accuracy,
                         speedup_measured=self.report.speedup_measured, levels=levels, levels_label=label)
        self._show_readout()
        self._schedule_file_size(q, self.report, self.baseline)

    def _widest_neuron(self, layer):
        W = layer.to_dense().weight
        return int(np.argmax(W.max(axis=0) - W.min(axis=0)))

    def train_qat(self):
        """Quantization-aware training at the current setting, then its point beside PTQ's."""
        setting, _ = self.setting()
        if setting["scheme"] in ("float32", "float64"):
            self.qat_message = "QAT needs a quantized format: choose 16 bits or fewer"
            self._show_readout()
            return
        with self._training() as (epochs, on_epoch):
            q, history = quantization_aware_training(
                self.baseline, self.dataset.X_train, self.dataset.y_train, setting["scheme"], setting["bits"],
                granularity=setting["granularity"], range_method=setting["range_method"], epochs=epochs,
                progress=False, on_epoch=on_epoch)
        self.qat_network, self.qat_history = q, history
        self.qat_report = evaluate(q, self.dataset, self.baseline, measure=False,
                                   label=f"QAT {setting['scheme']} {setting['bits']} bit, {epochs} epochs")
        self.plot.show_qat(self.qat_report.alpha, self.qat_report.accuracy)
        self._show_readout()

    def _show_readout(self):
        r = self.report
        setting, _ = self.setting()
        activations = setting["activation_bits"] or "float"
        rows = [
            ("weights", f"{setting['scheme']}, {setting['bits']} bit"
             + ("" if setting["scheme"] in ("kmeans", "binary", "float32", "float64", "float16")
                else f", per {setting['granularity']}, {setting['range_method']}")),
            ("activations", f"{activations} bit" if activations != "float" else "float"),
            ("size (bits / 8)", fmt_bytes(r.storage_bits / 8)),
            ("size (.npz file)", "deflating..." if r.file_bytes is None else fmt_bytes(r.file_bytes)),
            ("alpha bits / file", f"{r.alpha:.2f} / " + ("..." if r.alpha_bytes is None else f"{r.alpha_bytes:.2f}")),
            ("beta (bits)", f"{r.beta:.2f}"),
            ("delta FLOPs / bytes moved", f"{r.speedup_theoretical:.2f} / {r.alpha:.2f}"),
            ("delta measured", f"{r.speedup_measured:.2f} (dequantize, then float matmul)"),
            ("test accuracy", f"{r.accuracy:.2%} (float64 {self.baseline_accuracy:.2%})"),
        ]
        if self.qat_report is not None:
            rows.append(("QAT", f"{self.qat_report.accuracy:.2%} ({self.qat_report.label})"))
        notes = [n for n in (self.note, self.qat_message) if n]
        self.qat_message = ""
        self.readout.value = readout_table(rows, notes=notes)
