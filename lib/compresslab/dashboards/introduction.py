"""The introduction's dashboard: what does an architecture cost, and what does it buy?

Choose a dataset and the hidden layer sizes; see parameters, bytes, FLOPs,
measured latency and accuracy. The pretrained baseline (LeNet-300-100 on
mnist-5k, 64-32 on digits) is there at once; any other architecture can be
trained live behind the "Train" button (a progress bar shows the epochs),
and every trained architecture stays on the accuracy-against-size plot.

Compression rate alpha and speedup delta are against the pretrained float64
baseline of the chosen dataset: a smaller architecture *is* a compressed model.
"""
from __future__ import annotations

import ipywidgets as widgets

from ..models import DEFAULT_HIDDEN_LAYER_SIZES
from ..network import random_network
from ..plots import ArchitectureFigure
from ..training import train
from .base import LiveDashboard, accuracy_text, fmt_bytes, readout_table, shared_baseline, speed_text

FIRST_LAYER_SIZES = (8, 16, 32, 64, 100, 200, 300)
SECOND_LAYER_SIZES = (0, 10, 16, 32, 64, 100)        # 0: no second hidden layer
DATASETS = ("mnist-5k", "digits")


class IntroductionDashboard(LiveDashboard):
    """Dashboard of the introduction notebook (see module doc).

    ``controls``: dataset, hidden1, hidden2, dtype, epochs, train (a button).
    """

    def __init__(self, dataset="mnist-5k", epochs=10):
        self._baselines = {}    # dataset name -> Baseline (dataset, pretrained network, its time)
        self._trained = {}      # (dataset, sizes) -> (network, how it was trained, test accuracy)
        self.warmup = None      # the thread deflating every architecture's file (see _file_size_steps)
        h1, h2 = DEFAULT_HIDDEN_LAYER_SIZES[dataset]
        controls = {
            "dataset": widgets.Dropdown(options=DATASETS, value=dataset, description="dataset"),
            "hidden1": widgets.SelectionSlider(options=FIRST_LAYER_SIZES, value=h1,
                                               description="hidden 1", continuous_update=False),
            "hidden2": widgets.SelectionSlider(options=SECOND_LAYER_SIZES, value=h2,
                                               description="hidden 2", continuous_update=False),
            "dtype": widgets.ToggleButtons(options=("float64", "float32"), value="float64",
                                           description="stored as", style={"button_width": "70px"}),
            **self.trainer_controls("train", "Train this architecture", epochs, max_epochs=40),
        }
        super().__init__(controls, ArchitectureFigure(), ["dataset", "hidden1", "hidden2", "dtype"],
                         panel_width="360px", trainer="train")
        controls["train"].on_click(lambda _: self.safely(self.train_current)())
        self.watch(["dataset", "hidden1", "hidden2", "dtype"])
        self.refresh()

    # --- state ---------------------------------------------------------------
    @property
    def dataset(self):
        name = self.controls["dataset"].value
        if name not in self._baselines:
            base = self._baselines[name] = shared_baseline(name)
            self._trained[(name, base.network.hidden_layer_sizes)] = (
                base.network, "pretrained (scikit-learn)", base.accuracy)
            self.warmup = self.start_warmup(self._file_size_steps(base), name="file sizes")
        return self._baselines[name].dataset

    @property
    def hidden_layer_sizes(self) -> tuple:
        h1, h2 = self.controls["hidden1"].value, self.controls["hidden2"].value
        return (h1,) if h2 == 0 else (h1, h2)

    def current_network(self):
        """(network in float64, how it was trained or None if untrained)."""
        ds = self.dataset
        key = (ds.name, self.hidden_layer_sizes)
        if key in self._trained:
            return self._trained[key][:2]
        return self._untrained(ds, self.hidden_layer_sizes), None

    @staticmethod
    def _untrained(ds, hidden_layer_sizes):
        sizes = (ds.n_features, *hidden_layer_sizes, len(ds.classes))
        return random_network(sizes, random_state=sum(sizes))      # the same weights at every visit

    def _file_size_steps(self, base):
        """Compress every architecture's file once, in a background thread.

        The .npz size of a 784-300 layer takes ~75 ms to deflate: done on the
        first visit, that would make a slider move miss its 100 ms. zlib
        releases the GIL, so this runs beside the notebook; the sizes land in
        ``Network.serialized_bytes``'s memo, keyed by content. One step per
        architecture (``start_warmup``: under ``timing_guard``, paused while a
        move is handled or a measurement is pending)."""
        yield lambda: base.network.astype("float32").serialized_bytes()
        for h1 in FIRST_LAYER_SIZES:
            for h2 in SECOND_LAYER_SIZES:
                def step(h1=h1, h2=h2):
                    net = self._untrained(base.dataset, (h1,) if h2 == 0 else (h1, h2))
                    for dtype in ("float64", "float32"):
                        net.astype(dtype).serialized_bytes()
                yield step

    # --- callbacks -------------------------------------------------------------
    def update(self):
        ds = self.dataset
        network, how = self.current_network()
        stored = network.astype(self.controls["dtype"].value)
        base = self._baselines[ds.name]
        self.baseline = base.network
        key = (ds.name, self.hidden_layer_sizes, self.controls["dtype"].value, how)
        self._report = self.report_for(key, stored, base.network)
        self.trained = how is not None
        self._network, self._how, self._key = network, how, key
        self._draw(network, how)
        self.schedule_measurement(stored, base.network, key=key)
        self.render()

    def train_current(self):
        """Train the current architecture from scratch with the training engine."""
        ds = self.dataset
        network, _ = self.current_network()
        network = network.copy()
        with self.training() as (epochs, on_epoch):
            history = train(network, ds.X_train, ds.y_train, epochs=epochs, batch_size=64,
                            learning_rate=5e-3, progress=False, on_epoch=on_epoch)
        self._trained[(ds.name, self.hidden_layer_sizes)] = (
            network, f"trained here ({epochs} epochs, {history.seconds:.1f} s)",
            network.score(ds.X_test, ds.y_test))
        self.update()

    # --- drawing ----------------------------------------------------------------
    def _draw(self, network, how):
        r = self.report
        ds = self.dataset
        names = [f"{layer.n_inputs}x{layer.n_outputs}" for layer in network.layers]
        layer_bytes64 = [8 * layer.n_params for layer in network.layers]
        points = [(8 * net.n_params, accuracy)
                  for (name, _), (net, _, accuracy) in self._trained.items() if name == ds.name]
        accuracy = r.accuracy if self.trained else None
        self.plot.update(names, layer_bytes64, points, (8 * network.n_params, accuracy),
                         stored=self.controls["dtype"].value)

    def render(self):
        """The readout, from the report and the architecture it was computed for."""
        r, how, ds = self.report, self._how, self.dataset
        sizes = self._key[1]
        arch = " - ".join(str(s) for s in (ds.n_features, *sizes, len(ds.classes)))
        acc_text = accuracy_text(r) if how is not None else "untrained: press Train"
        self.readout.value = readout_table([
            ("architecture", arch),
            ("weights", how or "random (not trained)"),
            ("parameters", f"{r.params:,}"),
            ("size (values)", fmt_bytes(r.storage_bits / 8)),
            ("size (.npz file)", self.file_size_text(fmt_bytes)),
            ("FLOPs / sample", f"{r.flops / len(ds.y_test):,.0f}"),
            ("time, test set", "measuring…" if r.seconds is None else
             f"{1e3 * r.seconds:.2f} ms ({len(ds.y_test):,} samples, 1 thread)"),
            ("accuracy", acc_text),
            ("alpha (bits / params)", f"{r.alpha:.2f} / {r.alpha_params:.2f}"),
        ], speed=speed_text(r))
