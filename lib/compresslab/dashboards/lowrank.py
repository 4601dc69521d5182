"""The low-rank notebook's dashboard: move the ranks, watch accuracy, size and speed.

Three ways to choose the ranks: one slider per layer; one energy slider
(every layer keeps the same share of its squared singular values); or one
global parameter budget that ``allocate_ranks`` spreads over the layers.
What does not depend on a slider is computed once per dataset: the SVDs, the
sweep curves, the measured-speedup points, the baseline's timing. A move then
slices the cached SVD, evaluates, and blits the moving artists. The .npz
file size is deflated in a background thread and filled in when ready.
"""
from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from ..lowrank import allocate_ranks, factorize, factorized_params, layer_svds, max_useful_rank
from ..metrics import evaluate, time_forward
from ..plots import LowRankFigure
from ..training import train
from .base import Dashboard, load_baseline, fmt_bytes, readout_table

DATASETS = ("mnist-5k", "digits")
MODES = ("per layer", "energy", "global budget")
SWEEP_ENERGIES = (0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99, 0.995, 0.999)
N_LAYERS = 3


class LowRankDashboard(Dashboard):
    """Dashboard of notebooks/01_low_rank_factorization.ipynb (see module doc).

    ``controls``: dataset, mode, rank0..rank2, energy, budget (% of the dense
    parameters), epochs, fine_tune (a button).
    """

    def __init__(self, dataset="mnist-5k", ranks=(20, 20, 10), fine_tune_epochs=3):
        super().__init__()
        self.controls = {
            "dataset": widgets.Dropdown(options=DATASETS, value=dataset, description="dataset"),
            "mode": widgets.ToggleButtons(options=MODES, value="per layer", description="ranks by",
                                          style={"button_width": "112px", "description_width": "60px"}),
            **{f"rank{i}": widgets.IntSlider(value=1, min=1, max=2, description=f"rank {i + 1}",
                                             continuous_update=False) for i in range(N_LAYERS)},
            "energy": widgets.FloatSlider(value=0.9, min=0.2, max=1.0, step=0.005, readout_format=".3f",
                                          description="energy", continuous_update=False),
            "budget": widgets.FloatSlider(value=10.0, min=0.5, max=60.0, step=0.5, readout_format=".1f",
                                          description="budget %", continuous_update=False),
            **self._trainer_controls("fine_tune", "Fine-tune the factors", fine_tune_epochs, max_epochs=20),
        }
        self.readout = widgets.HTML(layout=widgets.Layout(margin="0 0 0 12px"))
        self.plot = LowRankFigure()
        self.fig = self.plot.fig
        self.fine_tuned_report = None
        self.safely(self._load_dataset)(ranks)
        self.controls["dataset"].observe(lambda _: self.safely(self._load_dataset)(), names="value")
        self.controls["fine_tune"].on_click(lambda _: self.safely(self.fine_tune)())
        self._observe_controls(["mode", "energy", "budget"] + [f"rank{i}" for i in range(N_LAYERS)])
        self.safely(self.update)()
        left = widgets.VBox([self.controls["dataset"], self.controls["mode"],
                             *[self.controls[f"rank{i}"] for i in range(N_LAYERS)],
                             self.controls["energy"], self.controls["budget"]],
                            layout=widgets.Layout(min_width="400px"))
        self._assemble(left)

    # --- once per dataset ----------------------------------------------------------
    def _load_dataset(self, ranks=None):
        """Everything that does not depend on a slider: SVDs, sweep curves, timings."""
        name = self.controls["dataset"].value
        base = load_baseline(name)
        self.dataset, self.baseline = ds, net = base.dataset, base.network
        self.baseline_seconds, self.baseline_accuracy = base.seconds, base.accuracy
        if len(net.layers) != N_LAYERS:
            raise ValueError(f"the dashboard shows {N_LAYERS} layers; {name} has {len(net.layers)}")
        self.svds = svds = layer_svds(net)                        # computed once, then sliced
        self.budget_range = (factorized_params(svds, [1] * N_LAYERS),
                             factorized_params(svds, [max_useful_rank(*s.shape) for s in svds]))
        with self.syncing():
            for i, svd in enumerate(svds):
                slider = self.controls[f"rank{i}"]
                slider.max = svd.full_rank
                slider.value = min(ranks[i], svd.full_rank) if ranks else svd.rank_for_energy(0.9)
        energy = [evaluate(factorize(net, energy=e).network, ds, net, measure=False, count_file_bytes=False)
                  for e in SWEEP_ENERGIES]
        budgets = np.geomspace(*self.budget_range, 14).astype(int)
        global_ = [evaluate(factorize(net, ranks=allocate_ranks(net, b)).network, ds, net, measure=False,
                            count_file_bytes=False) for b in budgets]
        measured = []
        for e in SWEEP_ENERGIES[::2]:
            low = factorize(net, energy=e).network
            measured.append((evaluate(low, ds, net, measure=False, count_file_bytes=False).alpha,
                             self.baseline_seconds / time_forward(low, ds.X_test, repeats=3)))
        self.sweep_energy, self.sweep_global = energy, global_
        order = np.argsort([r.alpha for r in energy])
        self.plot.set_static(
            energy_curve=([energy[i].alpha for i in order], [energy[i].accuracy for i in order]),
            global_curve=([r.alpha for r in global_], [r.accuracy for r in global_]),
            flops_curve=([energy[i].alpha for i in order], [energy[i].speedup_theoretical for i in order]),
            measured_points=tuple(np.array(measured).T),
            reference_accuracy=self.baseline_accuracy,
            spectra=[svd.s for svd in svds],
            layer_names=[f"layer {i + 1} ({m}x{n})" for i, (m, n) in enumerate(s.shape for s in svds)])
        self.fine_tuned_report = None
        if ranks is None:               # a later dataset switch: show it now
            self.update()

    # --- every move ------------------------------------------------------------------
    def current_factorization(self):
        mode = self.controls["mode"].value
        if mode == "per layer":
            return factorize(self.baseline, ranks=[self.controls[f"rank{i}"].value for i in range(N_LAYERS)])
        if mode == "energy":
            return factorize(self.baseline, energy=self.controls["energy"].value)
        low, high = self.budget_range
        dense_params = self.baseline.n_params
        budget = int(np.clip(self.controls["budget"].value / 100 * dense_params, low, high))
        return factorize(self.baseline, ranks=allocate_ranks(self.baseline, budget))

    def update(self):
        mode = self.controls["mode"].value
        for i in range(N_LAYERS):
            self.controls[f"rank{i}"].disabled = mode != "per layer"
        self.controls["energy"].disabled = mode != "energy"
        self.controls["budget"].disabled = mode != "global budget"
        self.factorization = result = self.current_factorization()
        if mode != "per layer":                      # show the ranks that were chosen
            with self.syncing():
                for i, k in enumerate(result.requested):
                    self.controls[f"rank{i}"].value = k
        self.network = result.network
        self._stop_file_size()            # a deflate running beside the timing would slow it
        self.report = evaluate(result.network, self.dataset, self.baseline, repeats=3,
                               baseline_seconds=self.baseline_seconds, count_file_bytes=False)
        r = self.report
        self.plot.update(alpha=r.alpha, accuracy=r.accuracy, speedup_flops=r.speedup_theoretical,
                         speedup_measured=r.speedup_measured, ranks=result.ranks)
        self._show_readout()
        self._schedule_file_size(result.network, r, self.baseline)

    def fine_tune(self):
        """Train the current factors (not the dense weights) with the training engine."""
        network = self.network.copy()
        with self._training() as (epochs, on_epoch):
            # 5e-4: enough to recover low ranks, gentle enough not to hurt high ones
            train(network, self.dataset.X_train, self.dataset.y_train, epochs=epochs, learning_rate=5e-4,
                  progress=False, on_epoch=on_epoch)
        self.fine_tuned_network = network
        self.fine_tuned_report = evaluate(network, self.dataset, self.baseline, measure=False,
                                          label=f"fine-tuned {epochs} epochs")
        self.plot.show_fine_tuned(self.fine_tuned_report.alpha, self.fine_tuned_report.accuracy)
        self._show_readout()

    def _show_readout(self):
        r, result = self.report, self.factorization
        ranks = ", ".join("dense" if k is None else str(k) for k in result.ranks)
        rows = [
            ("ranks (layer 1, 2, 3)", ranks),
            ("parameters", f"{r.params:,} of {self.baseline.n_params:,}"),
            ("size (values)", fmt_bytes(r.storage_bits / 8)),
            ("size (.npz file)", "deflating..." if r.file_bytes is None else fmt_bytes(r.file_bytes)),
            ("alpha bits / params / file", f"{r.alpha:.2f} / {r.alpha_params:.2f} / "
                                           + ("..." if r.alpha_bytes is None else f"{r.alpha_bytes:.2f}")),
            ("beta (bits)", f"{r.beta:.2f}"),
            ("delta FLOPs / measured", f"{r.speedup_theoretical:.2f} / {r.speedup_measured:.2f}"),
            ("test accuracy", f"{r.accuracy:.2%} (baseline {self.baseline_accuracy:.2%})"),
        ]
        if self.fine_tuned_report is not None:
            t = self.fine_tuned_report
            rows.append(("fine-tuned", f"{t.accuracy:.2%} at alpha {t.alpha:.2f}"))
        self.readout.value = readout_table(rows, notes=result.notes)
