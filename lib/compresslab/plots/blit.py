"""Redraw only the artists a slider moves (matplotlib's blitting pattern)."""
from __future__ import annotations


class Blitter:
    """The static part of the figure (axes, ticks, precomputed curves) is drawn
    once and kept as a background image; a slider move restores it, draws the
    moving ("animated") artists on top and blits. A full redraw of a three-axes
    figure costs ~80 ms in Agg; this costs a few. ipympl sends the changed pixels.

    Canvases that cannot blit (PDF, SVG, PostScript: ``fig.savefig``) get a plain
    full draw with the moving artists on it, and no background is captured from
    a figure being saved (it may be at another dpi).
    """

    def __init__(self, fig, artists):
        self.fig, self.artists, self.background = fig, list(artists), None
        for artist in self.artists:
            artist.set_animated(True)            # left out of full draws: drawn by _on_draw
        fig.canvas.mpl_connect("draw_event", self._on_draw)

    @staticmethod
    def _can_blit(canvas) -> bool:
        return getattr(canvas, "supports_blit", False) and hasattr(canvas, "copy_from_bbox")

    def _on_draw(self, event):
        canvas = event.canvas
        live = canvas is self.fig.canvas and self._can_blit(canvas) and not canvas.is_saving()
        if live:
            self.background = canvas.copy_from_bbox(self.fig.bbox)
        for artist in self.artists:              # on the renderer of this draw: Agg, PDF or SVG
            artist.draw(event.renderer)

    def redraw_static(self):
        """After the static part changed (new dataset): a full redraw."""
        self.background = None
        self.fig.canvas.draw_idle()

    def update(self):
        canvas = self.fig.canvas
        if self.background is None or not self._can_blit(canvas):   # first draw captures it
            canvas.draw_idle()
            return
        canvas.restore_region(self.background)
        for artist in self.artists:
            self.fig.draw_artist(artist)
        canvas.blit(self.fig.bbox)
