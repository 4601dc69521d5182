"""One style for every figure of the suite: readable on a projector, safe for
colour-blind readers, never wider than 900 px.

- ``STYLE``: matplotlib rc settings (fonts a back row can read at 100 dpi);
  ``suite_style()`` applies them while a figure is built (``@styled`` does it
  for a whole function).
- ``PALETTE``: the Okabe-Ito colours (distinguishable with every common colour
  vision deficiency); ``SERIES``: (colour, marker) pairs, so series also differ
  in shape and survive a black-and-white printout.
- ``new_figure``: a figure that does not display itself, clamped to 900 px.
"""
from __future__ import annotations

import contextlib
import functools

import matplotlib.pyplot as plt
from cycler import cycler

from .blit import send_fast_png

DPI = 100
MAX_WIDTH_PX = 900                     # a notebook column, a projector: wider figures get cut or shrunk

# Okabe & Ito (2008), "Color Universal Design".
PALETTE = {"blue": "#0072B2", "orange": "#E69F00", "green": "#009E73", "vermillion": "#D55E00",
           "purple": "#CC79A7", "sky": "#56B4E9", "yellow": "#F0E442", "black": "#000000", "grey": "#7F7F7F"}
MARKERS = ("o", "s", "^", "D", "v", "P", "X")
SERIES = tuple(zip((PALETTE[c] for c in ("blue", "orange", "green", "vermillion", "purple", "sky", "black")),
                   MARKERS))

STYLE = {
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "font.size": 11,                   # body text; labels and ticks are never smaller (issue 12)
    "axes.titlesize": 11,
    "axes.labelsize": 11,
    "xtick.labelsize": 11,
    "ytick.labelsize": 11,
    "legend.fontsize": 10,
    "lines.linewidth": 1.8,
    "lines.markersize": 6,
    "axes.prop_cycle": cycler(color=[color for color, _ in SERIES]),
    "axes.grid": False,                # style_axes adds a light grid where it helps
    "grid.alpha": 0.3,
    "image.cmap": "RdBu_r",            # diverging, symmetric about 0: weights
}


def suite_style():
    """A context in which new artists take the suite's style."""
    return plt.rc_context(STYLE)


def styled(fn):
    """Build ``fn``'s figure under the suite style (a decorator)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with suite_style():
            return fn(*args, **kwargs)
    return wrapper


def fit_width(figsize, dpi=DPI):
    """``figsize`` with its width clamped to ``MAX_WIDTH_PX`` at ``dpi`` (height kept)."""
    width, height = figsize
    return min(width, MAX_WIDTH_PX / dpi), height


_LIVE = {}       # key -> the figure a dashboard built last (one per dashboard for the life of the kernel)


def new_figure(nrows=1, ncols=1, figsize=(9, 3.6), *, replace=None, **kwargs):
    """A figure that does not display itself (the notebook or dashboard places it).

    ``replace``: a key (e.g. a figure class's name); the figure last made with
    it is closed first, so re-running a dashboard cell never piles up figures
    (pyplot warns past 20 and keeps them all in memory).
    """
    if replace is not None and replace in _LIVE:
        plt.close(_LIVE.pop(replace))
    with suite_style(), plt.ioff():
        fig, axes = plt.subplots(nrows, ncols, figsize=fit_width(figsize), dpi=DPI, **kwargs)
    fig.canvas.header_visible = False        # ipympl: no "Figure 1" title bar
    fig.canvas.toolbar_visible = False       # ipympl: its toolbar would cover titles and axis labels
    send_fast_png(fig.canvas)                # ipympl: each update's PNG in ~1 ms, not ~15 (see blit.py)
    if replace is not None:
        _LIVE[replace] = fig
    return fig, axes


def style_axes(ax, *, xlabel, ylabel, title, xlog=False, ylog=False, legend_loc=None, grid=True):
    """Labels, log scales, a title, an optional legend and a light grid, in one call."""
    if xlog:
        ax.set_xscale("log")
    if ylog:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if legend_loc:
        ax.legend(loc=legend_loc)
    if grid:
        ax.grid(True)


_LEGEND_ANCHORS = {"center": ("upper center", 0.5), "left": ("upper left", 0.0), "right": ("upper right", 1.0)}


def legend_outside(ax, *, ncol=2, handles=None, align="center"):
    """A legend below the axes (under its x label), where no moving artist goes.
    ``align``: "center" under the axes; "left" / "right" flush with the axes'
    left / right edge (a legend wider than an axes at the figure's edge is cut)."""
    kwargs = {} if handles is None else dict(handles=handles)
    loc, x = _LEGEND_ANCHORS[align]
    with suite_style():
        return ax.legend(loc=loc, bbox_to_anchor=(x, -0.28), ncol=ncol, frameon=False,
                         borderaxespad=0, handlelength=1.5, columnspacing=1.0, **kwargs)


def layout_with_legends_below(fig, room):
    """``tight_layout`` for the axes alone, leaving the bottom ``room`` (a fraction
    of the figure's height) to the legends that ``legend_outside`` put there: the
    axes keep their width however wide a legend is."""
    for ax in fig.axes:
        if ax.get_legend() is not None:
            ax.get_legend().set_in_layout(False)
    fig.tight_layout(rect=(0, room, 1, 1))


def kilobytes(n_bytes) -> float:
    return n_bytes / 1024
