"""The pruning notebook's dashboard: sparsity, criterion, scope, structure, storage format.

What does not depend on a control is computed once per baseline: each
criterion's ranking of the weights (``pruning.rank_weights``: one sort, then a
mask at any sparsity is a slice), the neuron rankings, and the one-shot
accuracy curves for every criterion and scope. The speed curves (CSR at batch
1 and 1,000, neuron pruning) were measured once and ship in
data/pruning_experiments.npz (``python -m compresslab.pruning_experiments --regenerate``).

A move slices a ranking into masks, scores the masked dense network (the one
forward pass of a move: the stored format computes the same outputs, and a CSR
product over the test set would take longer than the dense one), and counts
the stored format's bits from the masks (``pruning.stored_size``, checked
against ``Sparse`` by the tests). Once the controls are still, the timing API
(``LiveDashboard.schedule_measurement``) deflates the real .npz of the stored
network and times it against the dense baseline, interleaved, at batch 1 and
at the 1,000 test images; the batch control says which one the readout shows.

First visits stay quick: a ranking with the output layer spared is derived from
the one without (``spared``: no second scoring pass), and a warm-up in the
background (``LiveDashboard.start_warmup``, paused while the user moves) scores
every slider position of every criterion, scope and output setting (288 forward
passes, ~15 ms each, the current setting's first), ranks the neurons and scores
the smaller networks: then a first visit costs what a revisit costs.
"""
from __future__ import annotations

import dataclasses
import functools

import ipywidgets as widgets
import numpy as np

from ..metrics import as_baseline, evaluate
from ..plots.pruning import PruningFigure
from ..pruning import (SPARSE_FORMATS, Ranking, apply_masks, dead_inputs, fine_tune, prune, rank_neurons,
                       rank_weights, shrink, stored_size, to_sparse)
from ..pruning_experiments import load_experiments
from .base import LRU, LiveDashboard, accuracy_text, fmt_bytes, readout_table, shared_baseline

DATASET = "mnist-5k"
# percent; fine steps near the top, where accuracy and speed change fastest
SPARSITY_PERCENT = (0, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 88, 90, 92, 93, 94, 95, 96, 97, 98, 98.5, 99,
                    99.2, 99.5)
CRITERIA = ("magnitude", "taylor", "random")
CURVE_SPARSITIES = (0.5, 0.7, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995)
NEURON_CURVE_FRACTIONS = (0.25, 0.5, 0.7, 0.8, 0.9, 0.95)
CACHED_RANKINGS = 12          # criterion x scope x output spared: ~2 MB each
READOUT_HEIGHT = "350px"      # as tall as the controls beside it: every row shows, fine-tuned included
WARMUP_BATCH = 4              # forward passes per warm-up step (~60 ms: a move waits at most that long)

# network content -> the one-shot curves: computed once per kernel, kept across re-built dashboards
_CURVES = LRU(maxsize=2)


def one_shot_curves(network, dataset, rankings) -> dict:
    """{(criterion, scope): {fmt: (alphas by bits, accuracies)}} of one-shot pruning at
    CURVE_SPARSITIES, plus ("neurons", "global"): L2-norm neuron pruning (a smaller dense
    network: the same alphas in every format). ``rankings(criterion, scope)`` gives a Ranking."""
    base_bits = as_baseline(network).storage_bits()
    curves = {}
    for criterion in CRITERIA:
        for scope in ("global", "layer"):
            ranking = rankings(criterion, scope, False)
            points = []
            for s in CURVE_SPARSITIES:
                try:
                    masks = ranking.masks(s)
                except ValueError:                 # s would empty a layer: no point there
                    continue
                accuracy = apply_masks(network, masks).score(dataset.X_test, dataset.y_test)
                points.append((accuracy, {f: base_bits / stored_size(masks, f)["bits"] for f in SPARSE_FORMATS}))
            curves[(criterion, scope)] = {f: ([p[1][f] for p in points], [p[0] for p in points])
                                          for f in SPARSE_FORMATS}
    neurons = rank_neurons(network, "magnitude", scope="global")
    points = []
    for fraction in NEURON_CURVE_FRACTIONS:
        small = shrink(network, neurons.kept_units(min(fraction, neurons.max_sparsity))).network
        points.append((base_bits / small.storage_bits(), small.score(dataset.X_test, dataset.y_test)))
    curves[("neurons", "global")] = {f: ([p[0] for p in points], [p[1] for p in points]) for f in SPARSE_FORMATS}
    return curves


def spared(ranking: Ranking) -> Ranking:
    """``ranking`` with the output layer spared: exactly what ``rank_weights(...,
    spare_output=True)`` returns, without scoring the weights again (taylor needs a
    pass over the training data, and every criterion a sort of 266,200 scores).

    Per layer, the orders are the same; only the output layer stops being prunable.
    Global, the output layer's weights come last in the concatenation, so the spared
    order is the full one without their indices: a stable sort restricted to a prefix
    keeps the prefix's (score, position) order."""
    if ranking.prunable != list(range(len(ranking.shapes))):
        raise ValueError(f"ranking must have every layer prunable; got prunable={ranking.prunable}")
    prunable = ranking.prunable[:-1]
    if ranking.scope == "global":
        n = sum(ranking.sizes[i] for i in prunable)
        order = [ranking.order[0][ranking.order[0] < n]]
    else:
        order = list(ranking.order)
    return dataclasses.replace(ranking, prunable=prunable, order=order)


def _request(scope, spare_output, s):
    """What ``Ranking.masks`` and ``prune`` are asked for at sparsity ``s``: one fraction
    (global), or one per layer (layer scope: 0 for a spared output layer)."""
    return s if scope == "global" else [s, s, 0.0 if spare_output else s]


def shipped_speed():
    """The shipped speed curves, or (None, why not)."""
    try:
        arrays = load_experiments()
    except (OSError, KeyError) as exc:
        return None, f"speed curves not shipped ({exc}); python -m compresslab.pruning_experiments --regenerate"
    speed = {k: v for k, v in arrays.items() if k.startswith("speed.")}
    if "speed.csr_b1" not in speed:
        return None, "speed curves missing from the shipped file: python -m compresslab.pruning_experiments --regenerate"
    return speed, str(arrays.get("machine", ""))


class PruningDashboard(LiveDashboard):
    """Dashboard of notebooks/03_pruning.ipynb (see module doc).

    ``controls``: sparsity, criterion, scope, output (prune or spare the output
    layer), structure (weights or neurons), format (storage), batch (which measured
    delta the readout shows), epochs, fine_tune (a button).
    """

    def __init__(self, sparsity=0.9, criterion="magnitude", scope="global", structure="weights", fmt="csr",
                 fine_tune_epochs=3):
        toggle = {"button_width": "82px", "description_width": "80px"}
        wide = {**toggle, "button_width": "96px"}          # "magnitude" fits without an ellipsis
        controls = {
            "sparsity": widgets.SelectionSlider(options=[(f"{p:g} %", p / 100) for p in SPARSITY_PERCENT],
                                                value=sparsity, description="sparsity", continuous_update=False,
                                                style={"description_width": "80px"}),
            "criterion": widgets.ToggleButtons(options=CRITERIA, value=criterion, description="criterion",
                                               style=wide),
            "scope": widgets.ToggleButtons(options=("global", "layer"), value=scope, description="scope",
                                           style=toggle),
            "output": widgets.ToggleButtons(options=(("prune", False), ("spare", True)), value=False,
                                            description="output layer", style=toggle),
            "structure": widgets.ToggleButtons(options=("weights", "neurons"), value=structure,
                                               description="remove", style=toggle),
            "format": widgets.ToggleButtons(options=SPARSE_FORMATS, value=fmt, description="stored as",
                                            style=toggle),
            "batch": widgets.ToggleButtons(options=(("1", 1), ("1,000", 1000)), value=1000,
                                           description="speed at batch", style=toggle),
            **self.trainer_controls("fine_tune", "Fine-tune (masks kept)", fine_tune_epochs, max_epochs=10),
        }
        settings = ["sparsity", "criterion", "scope", "output", "structure", "format", "batch"]
        super().__init__(controls, PruningFigure(), settings, panel_width="440px", trainer="fine_tune")
        self.readout.layout.height = READOUT_HEIGHT
        self.tuned, self.tuned_text, self.note = [], "", ""
        self.warmup = None            # the thread scoring every slider position (see _warmup_steps)
        self._rankings = LRU(CACHED_RANKINGS)
        self._neuron_rankings = LRU(2 * len(CRITERIA))
        # mask or neuron setting -> report of its forward pass (any format); room for every one (~1 KB each)
        self._scored = LRU(3 * 2 * len(CRITERIA) * len(SPARSITY_PERCENT))
        self.safely(self._load)()
        controls["fine_tune"].on_click(lambda _: self.safely(self.fine_tune)())
        self.watch(settings)
        self.refresh()

    # --- once per kernel ------------------------------------------------------------------
    def _load(self):
        self.base = base = shared_baseline(DATASET)
        self.dataset, self.baseline = base.dataset, base.network
        self.base_report = evaluate(base.network, base.dataset, measure=False, count_file_bytes=False)
        reference = as_baseline(base.network)
        self.base_bits, self.base_params = reference.storage_bits(), reference.n_params
        self.dead = dead_inputs(base.network, base.dataset.X_train)
        self.curves = _CURVES.get(base.network._content_digest(),
                                  lambda: one_shot_curves(base.network, base.dataset, self.ranking))
        speed, note = shipped_speed()
        self.plot.set_static(reference_accuracy=self.base_report.accuracy, speed=speed, speed_note=note)
        self.speed_note = note
        self.warmup = self.start_warmup(self._warmup_steps(), name="scores and neuron rankings")

    def _warmup_steps(self):
        """Off the build path, a few forward passes a step (``start_warmup``): the
        masked network's score at every slider position for the current criterion,
        scope and output setting (nearest sparsities first), then the neuron rankings
        (taylor: a gradient pass over the training data), then every other setting."""
        c = self.controls
        here = (c["criterion"].value, c["scope"].value, c["output"].value)
        settings = sorted(((criterion, scope, spare) for spare in (False, True) for criterion in CRITERIA
                           for scope in ("global", "layer")), key=lambda k: k != here)
        for i, setting in enumerate(settings):
            values = sorted((v / 100 for v in SPARSITY_PERCENT), key=lambda v: abs(v - c["sparsity"].value))
            for j in range(0, len(values), WARMUP_BATCH):
                yield lambda setting=setting, batch=values[j:j + WARMUP_BATCH]: [
                    self._score(*setting, v) for v in batch]
            if i == 0:                                   # then "neurons": rankings, the smaller networks
                for criterion in CRITERIA:
                    for scope in ("global", "layer"):
                        yield lambda criterion=criterion, scope=scope: [
                            self._score_neurons(criterion, scope, v / 100) for v in SPARSITY_PERCENT]

    def _score(self, criterion, scope, spare_output, s, network=None):
        """The report of the forward pass of the masked network at sparsity ``s`` (None if
        ``s`` would empty a layer), computed once per mask setting."""
        key = ("weights", criterion, scope, spare_output, s)
        if network is None and key not in self._scored:
            try:
                masks = self.ranking(criterion, scope, spare_output).masks(_request(scope, spare_output, s))
            except ValueError:                      # s would empty a layer (only this: other errors show)
                return None
            network = apply_masks(self.baseline, masks)
        return self._scored.get(key, lambda: evaluate(network, self.dataset, self.baseline, measure=False,
                                                      count_file_bytes=False))

    def _score_neurons(self, criterion, scope, s, network=None):
        """The report of the smaller dense network that removes a fraction ``s`` of the
        hidden units (at most what keeps a unit in every layer), computed once."""
        used = min(s, self.neuron_ranking(criterion, scope).max_sparsity)
        return self._scored.get(("neurons", criterion, scope, used), lambda: evaluate(
            self._shrunk(criterion, scope, used).network if network is None else network, self.dataset,
            self.baseline, measure=False, count_file_bytes=False))

    def _shrunk(self, criterion, scope, used):
        return shrink(self.baseline, self.neuron_ranking(criterion, scope).kept_units(used), criterion=criterion,
                      scope=scope, requested=used)

    def ranking(self, criterion, scope, spare_output):
        """The weights of the baseline ordered once by ``criterion`` (taylor: on training data);
        with the output layer spared, derived from the full ranking (``spared``)."""
        if spare_output:
            return self._rankings.get((criterion, scope, True),
                                      lambda: spared(self.ranking(criterion, scope, False)))
        return self._rankings.get((criterion, scope, False), lambda: rank_weights(
            self.baseline, criterion, scope=scope, X=self.dataset.X_train, y=self.dataset.y_train))

    def neuron_ranking(self, criterion, scope):
        return self._neuron_rankings.get((criterion, scope), lambda: rank_neurons(
            self.baseline, criterion, scope=scope, X=self.dataset.X_train, y=self.dataset.y_train))

    # --- every move ---------------------------------------------------------------------
    def setting(self) -> dict:
        c = self.controls
        return dict(sparsity=c["sparsity"].value, criterion=c["criterion"].value, scope=c["scope"].value,
                    spare_output=c["output"].value, structure=c["structure"].value, fmt=c["format"].value)

    def _masks(self, s):
        """Weight masks at sparsity ``s`` (the next lower slider value when ``s`` would empty a layer)."""
        st = self._setting
        ranking = self.ranking(st["criterion"], st["scope"], st["spare_output"])
        options = [v / 100 for v in SPARSITY_PERCENT if v / 100 <= s][::-1]
        for v in options:
            try:
                masks = ranking.masks(_request(st["scope"], st["spare_output"], v))
            except ValueError:
                continue
            if v != s:
                self.note = f"{s:.1%} would prune every weight of a layer: showing {v:.1%}"
            return masks, v
        raise ValueError(f"no sparsity up to {s:.1%} keeps a weight in every layer")  # pragma: no cover

    def _current(self):
        """(key, network that computes the outputs, masks or None, kept units or None, sparsity used)."""
        st = self._setting
        s = st["sparsity"]
        if st["structure"] == "neurons":
            ranking = self.neuron_ranking(st["criterion"], st["scope"])
            used = min(s, ranking.max_sparsity)
            if used < s:
                self.note = (f"removing {s:.1%} of the hidden units would empty a layer: "
                             f"removing {used:.1%}")
            result = self._shrunk(st["criterion"], st["scope"], used)
            key = ("neurons", st["criterion"], st["scope"], used)
            return key, result.network, None, result, used
        masks, used = self._masks(s)
        key = ("weights", st["criterion"], st["scope"], st["spare_output"], used, st["fmt"])
        return key, apply_masks(self.baseline, masks), masks, None, used

    def _report_of(self, network, masks, fmt, scored=None):
        """The report of ``network`` (its accuracy: one forward pass, or ``scored``, a report
        of the same masked network) with the sizes of the stored format: counted from the
        masks (weights), or the smaller dense network itself."""
        r = scored or evaluate(network, self.dataset, self.baseline, measure=False, count_file_bytes=False)
        if masks is None:
            return r
        size = stored_size(masks, fmt)
        n = r.n_test
        flops = n * (2 * size["weights_per_sample"] + size["biases"])
        return dataclasses.replace(r, params=size["params"], storage_bits=size["bits"], flops=flops,
                                   alpha=self.base_bits / size["bits"], beta=self.base_bits / size["bits"] - 1,
                                   alpha_params=self.base_params / size["params"],
                                   speedup_theoretical=self.baseline.flops(n) / flops)

    def update(self):
        self._setting, self.note = self.setting(), ""
        st = self._setting
        neurons = st["structure"] == "neurons"
        self.controls["format"].disabled = neurons          # a smaller dense network has no sparse format
        self.controls["output"].disabled = neurons          # the output layer keeps its 10 units anyway
        key, network, masks, result, used = self._current()
        # the masked network's accuracy does not depend on the format: scored once per mask
        scored = (self._score(*key[1:-1], network=network) if masks is not None
                  else self._score_neurons(*key[1:], network=network))
        cached = self.reports.get(key, lambda: self._report_of(network, masks, st["fmt"], scored))
        self._report = dataclasses.replace(cached)          # a new object per move; the cache keeps its own
        self.key, self.network, self.masks, self.neuron_result, self.used = key, network, masks, result, used
        if masks is None:
            self.kept = list(result.kept)
            pixels = np.full(network.n_features, result.network.layers[0].n_outputs)
        else:
            self.kept = [float(m.mean()) for m in masks]
            pixels = masks[0].sum(axis=1)                   # (784,) connections kept per input pixel
        self.plot.set_curves(st["fmt"], {k: v[st["fmt"]] for k, v in self.curves.items()})
        r = self._report
        self.plot.update(alpha=r.alpha, accuracy=r.accuracy, sparsity=self.weight_sparsity,
                         curve_key=self.curve_key, measured=self.measured_delta(r), pixels=pixels,
                         tuned=self.tuned)
        # the network as stored in the chosen format: built only if it is measured
        self.schedule_measurement(network if masks is None else functools.partial(to_sparse, network, st["fmt"]),
                                  self.baseline, key=key)
        self.render()

    @property
    def weight_sparsity(self) -> float:
        """Fraction of all original weights removed (biases not counted)."""
        sizes = [layer.n_inputs * layer.n_outputs for layer in self.baseline.layers]
        return 1.0 - sum(k * n for k, n in zip(self.kept, sizes)) / sum(sizes)

    @property
    def curve_key(self) -> str:
        kind = "neurons" if self._setting["structure"] == "neurons" else "csr"
        return f"{kind}_b{self.controls['batch'].value}"

    def measured_delta(self, report):
        timing = report.latency if self.controls["batch"].value == 1 else report.timing
        return None if timing is None else timing.measured

    # --- fine-tuning -----------------------------------------------------------------------
    def fine_tune(self):
        """Fine-tune the current pruned network with its masks re-applied after every step;
        its point joins the figure (and stays there)."""
        st, ds = self._setting, self.dataset
        if self.masks is None:
            result = self.neuron_result
        else:
            result = prune(self.baseline, _request(st["scope"], st["spare_output"], self.used),
                           criterion=st["criterion"], scope=st["scope"],
                           spare_output=st["spare_output"], X=ds.X_train, y=ds.y_train)
        with self.training() as (epochs, on_epoch):
            tuned = fine_tune(result, ds.X_train, ds.y_train, epochs, progress=False, on_epoch=on_epoch)
        r = self._report_of(tuned.network, None if self.masks is None else result.masks, st["fmt"])
        label = (f"{st['structure']}, {st['criterion']}, {st['scope']}, {self.weight_sparsity:.1%} sparse, "
                 f"{epochs} epochs")
        self.tuned.append((r.alpha, r.accuracy, label))
        self.tuned_text = (f"{100 * r.accuracy:.1f} % ± {100 * r.accuracy_se:.1f} at alpha {r.alpha:.1f}, "
                           f"after {epochs} epoch{'s' if epochs != 1 else ''}")
        self.tuned_report = r
        self.plot.update(alpha=self._report.alpha, accuracy=self._report.accuracy, sparsity=self.weight_sparsity,
                         curve_key=self.curve_key, measured=self.measured_delta(self._report),
                         pixels=self.plot.pixels, tuned=self.tuned)
        self.render()

    # --- the readout ------------------------------------------------------------------------
    def _speed_text(self, r):
        batch = self.controls["batch"].value
        timing = r.latency if batch == 1 else r.timing
        measured = "measuring…" if timing is None else (
            f"{timing.measured:.2f}× (spread {100 * timing.spread:.0f} %"
            + ("; suite busy" if not timing.quiet else "") + ")")
        return f"δ measured {measured} · FLOPs δ {r.speedup_theoretical:.1f}× · batch {batch:,}, 1 BLAS thread"

    def render(self):
        """The readout: the setting this report was computed for, then its numbers."""
        r, st = self.report, self._setting
        total = sum(layer.n_inputs * layer.n_outputs for layer in self.baseline.layers)
        nonzeros = round((1 - self.weight_sparsity) * total)
        fmt = "smaller dense net" if st["structure"] == "neurons" else st["fmt"]
        output = ", output spared" if st["spare_output"] and st["structure"] == "weights" else ""
        rows = [
            ("setting", f"{st['structure']}, {st['criterion']}, {st['scope']}{output}"),
            ("weights removed", f"{self.weight_sparsity:.2%}"),
            ("nonzero weights", f"{nonzeros:,} of {total:,}"),
            (f"bits ({fmt})", f"{r.storage_bits:,} = {fmt_bytes(r.storage_bits / 8)}"),
            ("size (.npz file)", self.file_size_text(fmt_bytes)),
            ("alpha params/bits/file", f"{r.alpha_params:.2f} / {r.alpha:.2f} / "
                                       + ("…" if r.alpha_bytes is None else f"{r.alpha_bytes:.2f}")),
            ("accuracy", accuracy_text(r)),
            ("unpruned", accuracy_text(self.base_report)),
            ("kept per layer", " · ".join(f"{k:.1%}" for k in self.kept)),
        ]
        if self.masks is not None:
            dead_rows = self.masks[0][self.dead.pixels]
            rows.append(("dead-pixel weights gone", f"{int((~dead_rows).sum()):,} of {dead_rows.size:,}"))
        if self.tuned_text:
            rows.append(("fine-tuned", self.tuned_text))
        self.readout.value = readout_table(rows, notes=[n for n in (self.note,) if n], speed=self._speed_text(r))
