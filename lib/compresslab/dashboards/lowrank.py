"""The low-rank notebook's dashboard: move the ranks, watch accuracy, size and speed.

Three ways to choose the ranks: one slider per layer; one energy slider
(every layer keeps the same share of its squared singular values); or one
global parameter budget that ``allocate_ranks`` spreads over the layers.
What does not depend on a slider is computed once per dataset by the library
(``curves.sweep_energy`` / ``sweep_budget``): the SVDs, the sweep curves, the
measured-speedup points; ``load_baseline`` times the baseline. A move then
slices the cached SVD, scores it (``PrefixForward``: only the layers from the
moved slider on are computed), and blits the moving artists. The .npz
file size is deflated in a background thread and filled in when ready.
"""
from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from ..curves import sweep_budget, sweep_energy
from ..lowrank import allocate_ranks, budget_range, factorize, layer_svds
from ..metrics import evaluate
from ..network import activate
from ..plots import LowRankFigure
from ..training import train
from .base import LRU, LiveDashboard, accuracy_text, fmt_bytes, readout_table, shared_baseline, speed_text

DATASETS = ("mnist-5k", "digits")
MODES = ("per layer", "energy", "global budget")
SWEEP_ENERGIES = (0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99, 0.995, 0.999)
N_BUDGETS = 14
N_LAYERS = 3

# (dataset, network content) -> the curves: a few hundred floats each, kept across
# re-built dashboards (a re-run cell, a test) so each is computed once per kernel.
_CURVES = LRU(maxsize=len(DATASETS))
_POINTS = LRU(maxsize=len(DATASETS))      # the same key -> measured points (timed in a warm-up)


class PrefixForward:
    """The test logits of factorized networks, reusing what earlier moves computed.

    A move changes one slider, so the layers before it are what they were: the
    activations after each layer are kept (an LRU keyed by the ranks up to that
    layer, ``None`` for a dense layer) and only the layers from the first
    changed one on are computed. Layer 1 at rank k is ``(X U_k S_k) V_k^T + b``,
    and ``X U_k S_k`` is the first k columns of ``X U S`` (computed once): a
    rank-1 move costs an (n, k) x (k, 300) product, not also (n, 784) x (784, k).
    The logits equal ``network.logits(X)`` up to rounding (a test checks them to
    1e-12 and the accuracy exactly). Only for networks ``factorize(..., svds=svds)``
    built from these SVDs (what the dashboard scores).
    """

    KEPT = 12          # activations kept: at most 12 x (n, 300) float64 (~29 MB for 1,000 samples)

    def __init__(self, network, svds, X):
        self.activation = network.activation
        self.X = network._check_X(X)
        first = svds[0]
        self.first_projected = self.X @ (first.U * first.s)     # (n, full rank): X U S
        self._kept = LRU(self.KEPT)

    def logits(self, result) -> np.ndarray:
        layers, ranks = result.network.layers, tuple(result.ranks)
        last = len(layers) - 1
        start, A = 0, self.X
        for i in range(last, 0, -1):                          # the longest prefix already computed
            kept = self._kept.peek(ranks[:i])
            if kept is not None:
                start, A = i, kept
                break
        for i in range(start, last + 1):
            if i == 0 and ranks[0] is not None:
                Z = self.first_projected[:, :ranks[0]] @ layers[0].value("right")
                Z += layers[0].value("bias")
            else:
                Z = layers[i].forward(A)
            if i == last:
                return Z
            A = activate(self.activation, Z)
            self._kept.put(ranks[:i + 1], A)


def sweep_curves(base):
    """What the figure draws for one baseline (scored, not timed): energy and budget curves."""
    net, ds = base.network, base.dataset
    energy = sweep_energy(net, ds, SWEEP_ENERGIES, measure=False, count_file_bytes=False)
    budgets = np.geomspace(*budget_range(net), N_BUDGETS).astype(int)
    global_ = sweep_budget(net, ds, budgets, measure=False, count_file_bytes=False)
    order = np.argsort([r.alpha for r in energy])
    return dict(energy_curve=([energy[i].alpha for i in order], [energy[i].accuracy for i in order]),
                global_curve=([r.alpha for r in global_], [r.accuracy for r in global_]),
                flops_curve=([energy[i].alpha for i in order], [energy[i].speedup_theoretical for i in order]))


def measured_points(base):
    """(alphas, deltas): throughput at a few energies, baseline and network timed
    interleaved (quick measurements: points of a picture, not a readout)."""
    timed = sweep_energy(base.network, base.dataset, SWEEP_ENERGIES[::2], repeats=3, latency=False,
                         max_seconds=0.2, count_file_bytes=False)
    return [r.alpha for r in timed], [r.speedup_measured for r in timed]


class LowRankDashboard(LiveDashboard):
    """Dashboard of notebooks/01_low_rank_factorization.ipynb (see module doc).

    ``controls``: dataset, mode, rank0..rank2, energy, budget (% of the dense
    parameters), epochs, fine_tune (a button).
    """

    def __init__(self, dataset="mnist-5k", ranks=(20, 20, 10), fine_tune_epochs=3):
        controls = {
            "dataset": widgets.Dropdown(options=DATASETS, value=dataset, description="dataset"),
            "mode": widgets.ToggleButtons(options=MODES, value="per layer", description="ranks by",
                                          style={"button_width": "112px", "description_width": "60px"}),
            **{f"rank{i}": widgets.IntSlider(value=1, min=1, max=2, description=f"rank {i + 1}",
                                             continuous_update=False) for i in range(N_LAYERS)},
            "energy": widgets.FloatSlider(value=0.9, min=0.2, max=1.0, step=0.005, readout_format=".3f",
                                          description="energy", continuous_update=False),
            "budget": widgets.FloatSlider(value=10.0, min=0.5, max=60.0, step=0.5, readout_format=".1f",
                                          description="budget %", continuous_update=False),
            **self.trainer_controls("fine_tune", "Fine-tune the factors", fine_tune_epochs, max_epochs=20),
        }
        sliders = ["mode", "energy", "budget"] + [f"rank{i}" for i in range(N_LAYERS)]
        super().__init__(controls, LowRankFigure(), ["dataset", *sliders], trainer="fine_tune")
        self.fine_tuned_report = None
        self.factorization = self.network = self.warmup = None
        self.safely(self._load_dataset)(ranks)
        self.watch(["dataset"], self._switch_dataset)
        controls["fine_tune"].on_click(lambda _: self.safely(self.fine_tune)())
        self.watch(sliders)
        self.refresh()

    # --- once per dataset ----------------------------------------------------------
    def _switch_dataset(self):
        self._load_dataset()
        self.update()

    def _load_dataset(self, ranks=None):
        """Everything that does not depend on a slider: SVDs, sweep curves, timings.
        ``ranks``: the initial rank sliders (default: 90 % energy per layer)."""
        name = self.controls["dataset"].value
        self.base = base = shared_baseline(name)
        self.dataset, self.baseline = base.dataset, base.network
        self.base_report = evaluate(base.network, base.dataset, measure=False, count_file_bytes=False)
        if len(base.network.layers) != N_LAYERS:
            raise ValueError(f"the dashboard shows {N_LAYERS} layers; {name} has {len(base.network.layers)}")
        self.svds = svds = layer_svds(base.network)                 # computed once, then sliced
        self.prefix_forward = PrefixForward(base.network, svds, base.dataset.X_test)
        self.budget_range = budget_range(base.network)
        with self.syncing():
            for i, svd in enumerate(svds):
                slider = self.controls[f"rank{i}"]
                slider.max = svd.full_rank
                slider.value = min(ranks[i], svd.full_rank) if ranks else svd.rank_for_energy(0.9)
        key = (name, base.network._content_digest())
        curves = _CURVES.get(key, lambda: sweep_curves(base))
        points = _POINTS.peek(key)
        if points is None:             # timed off the build path, when the controls are still
            self.warmup = self.start_warmup([lambda: self._time_points(key, base)], name="measured points")
        self.plot.set_static(**curves, measured_points=points or ([], []), reference_accuracy=base.accuracy, spectra=[svd.s for svd in svds],
                             layer_names=[f"layer {i + 1} ({m}x{n})" for i, (m, n) in
                                          enumerate(s.shape for s in svds)])
        self.fine_tuned_report = None

    def _time_points(self, key, base):
        points = measured_points(base)
        _POINTS.put(key, points)
        return lambda: self.plot.set_measured_points(points) if self.base is base else None

    # --- every move ------------------------------------------------------------------
    def current_factorization(self):
        mode = self.controls["mode"].value
        if mode == "per layer":
            return factorize(self.baseline, ranks=[self.controls[f"rank{i}"].value for i in range(N_LAYERS)],
                             svds=self.svds)
        if mode == "energy":
            return factorize(self.baseline, energy=self.controls["energy"].value, svds=self.svds)
        low, high = self.budget_range
        budget = int(np.clip(self.controls["budget"].value / 100 * self.baseline.n_params, low, high))
        return factorize(self.baseline, ranks=allocate_ranks(self.baseline, budget, svds=self.svds), svds=self.svds)

    def update(self):
        mode = self.controls["mode"].value
        for i in range(N_LAYERS):
            self.controls[f"rank{i}"].disabled = mode != "per layer"
        self.controls["energy"].disabled = mode != "energy"
        self.controls["budget"].disabled = mode != "global budget"
        result = self.current_factorization()
        if mode != "per layer":                      # show the ranks that were chosen
            with self.syncing():
                for i, k in enumerate(result.requested):
                    self.controls[f"rank{i}"].value = k
        key = (self.dataset.name, tuple(result.ranks))
        r = self.report_for(key, result.network, self.baseline,
                            compute_logits=lambda: self.prefix_forward.logits(result))
        self.factorization, self.network, self._report = result, result.network, r
        self.plot.update(alpha=r.alpha, accuracy=r.accuracy, speedup_flops=r.speedup_theoretical,
                         speedup_measured=r.speedup_measured, ranks=result.ranks)
        self.schedule_measurement(result.network, self.baseline, key=key)
        self.render()

    def fine_tune(self):
        """Train the current factors (not the dense weights) with the training engine."""
        network = self.network.copy()
        with self.training() as (epochs, on_epoch):
            # 5e-4: enough to recover low ranks, gentle enough not to hurt high ones
            train(network, self.dataset.X_train, self.dataset.y_train, epochs=epochs, learning_rate=5e-4,
                  progress=False, on_epoch=on_epoch)
        self.fine_tuned_network = network
        self.fine_tuned_report = evaluate(network, self.dataset, self.baseline, measure=False,
                                          label=f"fine-tuned {epochs} epochs")
        self.plot.show_fine_tuned(self.fine_tuned_report.alpha, self.fine_tuned_report.accuracy)
        self.render()

    def render(self):
        """The readout: the ranks this report was computed for, then its numbers."""
        r, result = self.report, self.factorization
        ranks = ", ".join("dense" if k is None else str(k) for k in result.ranks)
        rows = [
            ("ranks (layer 1, 2, 3)", ranks),
            ("parameters", f"{r.params:,} of {self.baseline.n_params:,}"),
            ("size (values)", fmt_bytes(r.storage_bits / 8)),
            ("size (.npz file)", self.file_size_text(fmt_bytes)),
            ("alpha bits / params / file", f"{r.alpha:.2f} / {r.alpha_params:.2f} / "
                                           + ("..." if r.alpha_bytes is None else f"{r.alpha_bytes:.2f}")),
            ("beta (bits)", f"{r.beta:.2f}"),
            ("accuracy", accuracy_text(r)),
            ("baseline", accuracy_text(self.base_report)),
        ]
        if self.fine_tuned_report is not None:
            t = self.fine_tuned_report
            rows.append(("fine-tuned", f"{accuracy_text(t)} at alpha {t.alpha:.2f}"))
        self.readout.value = readout_table(rows, notes=result.notes, speed=speed_text(r))
