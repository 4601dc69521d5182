"""The curves a notebook or dashboard draws: one ``metrics.Report`` per point.

Each technique module makes networks; ``metrics`` measures them. A curve needs
both, so it lives here, above the two (imports only point down: curves ->
metrics -> techniques).

- ``sweep_energy``: low-rank factorization layer by layer, one energy per point;
- ``sweep_budget``: low-rank with the global rank allocation, one parameter budget per point;
- ``sweep_schemes``: post-training quantization, one (scheme, bit-width) per point.
"""
from __future__ import annotations

from .lowrank import allocate_ranks, factorize, layer_svds
from .metrics import sweep
from .network import Network
from .quantization import canonical_setting, quantize


def sweep_energy(network: Network, dataset, energies, **evaluate_kwargs) -> list:
    """``metrics.Report`` of ``factorize(network, energy=e)`` for each energy e,
    against ``network``: the layer-by-layer curve. ``evaluate_kwargs`` go to
    ``metrics.evaluate`` (e.g. ``measure=False`` for accuracy and size only)."""
    svds = layer_svds(network)                  # once: every point slices the same SVDs
    return sweep(lambda e: factorize(network, energy=e, svds=svds).network, energies, dataset, network,
                 **evaluate_kwargs)


def sweep_budget(network: Network, dataset, budgets, **evaluate_kwargs) -> list:
    """``metrics.Report`` of the ``allocate_ranks`` network for each parameter
    budget: the global-allocation curve."""
    svds = layer_svds(network)
    return sweep(lambda b: factorize(network, ranks=allocate_ranks(network, int(b), svds=svds), svds=svds).network,
                 budgets, dataset, network, **evaluate_kwargs)


def sweep_schemes(network: Network, dataset, bits_per_scheme: dict, *, granularity="neuron",
                  range_method="mse", **evaluate_kwargs) -> dict:
    """{scheme: [metrics.Report per bit-width]} of PTQ at each (scheme, bits) in
    ``bits_per_scheme`` ({scheme: bit-widths}), against ``network``. Schemes that
    ignore ``granularity`` or ``range_method`` (see ``quantization.scheme_options``)
    ignore them here. ``evaluate_kwargs`` go to ``metrics.evaluate``."""
    curves = {}
    for scheme, bit_list in bits_per_scheme.items():
        def make(bits, scheme=scheme):
            return quantize(network, **canonical_setting(scheme, bits, granularity, range_method))
        curves[scheme] = sweep(make, bit_list, dataset, network, **evaluate_kwargs)
    return curves
