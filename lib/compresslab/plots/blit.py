"""Redraw only the artists a slider moves (matplotlib's blitting pattern)."""
from __future__ import annotations

import contextlib
import struct
import zlib

import numpy as np


class Blitter:
    """The static part of the figure (axes, ticks, precomputed curves) is drawn
    once and kept as a background image; a slider move restores it, draws the
    moving ("animated") artists on top and blits. A full redraw of a three-axes
    figure costs ~80 ms in Agg; this costs a few. ipympl sends the changed pixels.

    Canvases that cannot blit (PDF, SVG, PostScript: ``fig.savefig``) get a plain
    full draw with the moving artists on it, and no background is captured from
    a figure being saved (it may be at another dpi).
    """

    MAX_TEXTS_KEPT = 64

    def __init__(self, fig, artists, *, labels=(), slow=()):
        """``artists``: what moves, drawn in this order. ``labels``: moving texts
        that nothing else moving overlaps (a label above an axes): drawn before
        ``artists``, and from their kept pixels when their string was drawn before.
        ``labels`` may be a dict {text: the strings it will show}: those are rendered
        at every full draw and kept, so the first move to each string puts pixels back
        instead of laying out glyphs (~5-7 ms a new string, once a background).
        ``slow``: moving artists most moves leave alone (curves that change with a
        storage format, an image only its own control picks): drawn first, and
        kept with the background in a second image that a move restores; they are
        drawn again only when one of them changed (a setter marked it stale).
        Drawing each on every move cost ~0.4 ms a line and ~3 ms an image."""
        self.expected = {text: tuple(strings) for text, strings in labels.items()} if isinstance(labels, dict) else {}
        self.labels, self.slow = list(labels), list(slow)
        self.fig, self.artists, self.background = fig, self.slow + self.labels + list(artists), None
        self.slow_background = None              # the background with the slow artists drawn on it
        self._captured_at = None
        self._held, self._stale = 0, False
        self._text_pixels = {}                   # (text, string, position) -> its pixels over the background
        for artist in self.artists:
            artist.set_animated(True)            # left out of full draws: drawn by _on_draw
        fig.canvas.mpl_connect("draw_event", self._on_draw)

    @staticmethod
    def _can_blit(canvas) -> bool:
        """Agg canvases, and web canvases (ipympl's, WebAgg's). A web canvas says
        ``supports_blit = False`` ("bugs in practice"), yet its ``blit`` is sound
        for what this class does: restore the whole figure's background, draw on
        the Agg buffer, send the changed pixels (the same diff image a full draw
        sends). Without it each move in a browser costs a round trip to the
        browser and a full Agg draw: ~240 ms of a ~340 ms key-to-pixels step."""
        if not hasattr(canvas, "copy_from_bbox"):
            return False
        return bool(getattr(canvas, "supports_blit", False)) or _is_web_canvas(canvas)

    def _on_draw(self, event):
        canvas = event.canvas
        live = canvas is self.fig.canvas and self._can_blit(canvas) and not canvas.is_saving()
        if live:
            self.background = canvas.copy_from_bbox(self.fig.bbox)
            self._captured_at = self._geometry()
            self._text_pixels.clear()
            self.slow_background = None
            self._prerender_labels(canvas)
        self._draw_slow(event.renderer, capture=live)   # on the renderer of this draw: Agg, PDF or SVG
        for artist in self.artists[len(self.slow):]:
            artist.draw(event.renderer)

    def _prerender_labels(self, canvas):
        """Each label's expected strings drawn once over the fresh background and
        kept (``_draw_label``); then the background is put back and the label
        shows its own string again."""
        for text, strings in self.expected.items():
            shown = text.get_text()
            for string in strings:
                if string != shown:
                    canvas.restore_region(self.background)      # no other string under this one
                    text.set_text(string)
                    self._draw_label(canvas, text)
            text.set_text(shown)
            canvas.restore_region(self.background)

    def _draw_slow(self, renderer, *, capture):
        """The slow artists, then (``capture``) the background with them on it: the
        image a move restores. Before the labels, so that image holds no label (and
        a label's kept pixels hold no slow artist: nothing moving overlaps a label)."""
        for artist in self.slow:
            artist.draw(renderer)
            artist.stale = False                 # an invisible artist returns before clearing it
        if capture:
            self.slow_background = self.fig.canvas.copy_from_bbox(self.fig.bbox)

    def redraw_static(self):
        """After the static part changed (new dataset): a full redraw (one, at the
        end, inside ``hold``)."""
        self.background = None
        if self._held:
            self._stale = True
        else:
            self.fig.canvas.draw_idle()

    @contextlib.contextmanager
    def hold(self):
        """Several static changes, one full redraw (a full draw costs ~0.1-0.3 s)."""
        self._held += 1
        try:
            yield self
        finally:
            self._held -= 1
            if not self._held and self._stale:
                self._stale = False
                self.fig.canvas.draw_idle()

    def _geometry(self):
        """The pixel size and dpi the background was captured at. A browser resize or
        a new device-pixel ratio changes them and only asks for a draw later: until
        that draw, the old background would be pasted on a new, blank buffer."""
        return self.fig.canvas.get_width_height(physical=True), self.fig.dpi

    def update(self):
        canvas = self.fig.canvas
        if (self.background is None or not self._can_blit(canvas)           # the first draw captures it
                or self._captured_at != self._geometry()):
            self.background = self.slow_background = None
            self._text_pixels.clear()
            canvas.draw_idle()
            return
        if self.slow and (self.slow_background is None or any(a.stale for a in self.slow)):
            canvas.restore_region(self.background)
            self._draw_slow(canvas.get_renderer(), capture=True)
        else:
            canvas.restore_region(self.background if self.slow_background is None else self.slow_background)
        for label in self.labels:          # first: putting a label's pixels back covers nothing that moves
            self._draw_label(canvas, label)
        for artist in self.artists[len(self.slow) + len(self.labels):]:
            self.fig.draw_artist(artist)
        canvas.blit(self.fig.bbox)

    def _draw_label(self, canvas, text):
        """A moving text's pixels are kept per string: rendering a label's glyphs
        costs ~3-5 ms a move, putting back the pixels of a string drawn before
        ~0.05 ms. Kept until the next full draw (the background may change)."""
        key = (id(text), text.get_text(), text.get_position())
        region = self._text_pixels.get(key)
        if region is not None:
            canvas.restore_region(region)
            return
        self.fig.draw_artist(text)
        if text.get_text() and len(self._text_pixels) < self.MAX_TEXTS_KEPT:
            box = text.get_window_extent(canvas.get_renderer()).padded(2)    # antialiased edges too
            self._text_pixels[key] = canvas.copy_from_bbox(box)


def set_line_data(line, xs, ys) -> None:
    """``line.set_data(xs, ys)``, only when that changes the data: a setter marks
    the line stale, and a stale slow artist is drawn again (``Blitter(slow=...)``)."""
    old_x, old_y = line.get_data(orig=True)
    if not (_same(old_x, xs) and _same(old_y, ys)):
        line.set_data(xs, ys)


def set_image_data(image, data) -> None:
    """``image.set_data(data)``, only when that changes the pixels (see ``set_line_data``)."""
    if not _same(image.get_array(), data):
        image.set_data(data)


def _same(old, new) -> bool:
    """The same numbers in the same shape (NaN equals NaN; 1 equals 1.0)."""
    old, new = np.asarray(old), np.asarray(new)
    if old.shape != new.shape or "O" in (old.dtype.kind, new.dtype.kind):
        return False
    return bool(np.array_equal(old, new, equal_nan=True))


def _is_web_canvas(canvas) -> bool:
    """ipympl's canvas or matplotlib's WebAgg: one that sends its pixels to a browser."""
    from matplotlib.backends.backend_webagg_core import FigureCanvasWebAggCore

    return isinstance(canvas, FigureCanvasWebAggCore)


# --- the image ipympl sends after each redraw ---------------------------------------------
PNG_DEFLATE_LEVEL = 1


def png_bytes(rgba, level: int = PNG_DEFLATE_LEVEL, *, scratch=None) -> bytes:
    """An (h, w, 4) uint8 RGBA image as PNG bytes, deflated at ``level``: a row
    equal to the one above it is sent as PNG's "Up" filter (type 2: every byte
    minus the byte above, so all zeros), any other row unfiltered (type 0).

    Why not PIL: after each move ipympl sends the changed pixels as a PNG the
    size of the figure, mostly transparent zeros. PIL tries five row filters
    per row and deflates at level 6; on a 900 x 440 diff that is ~15 ms, more
    than the move's own computation. Here only the rows with a changed pixel
    that differ from the row above are deflated. A run of rows that are all
    zeros, or all repeats of the row above (a histogram's vertical lines: a
    band of 260 equal rows), is put together from deflate blocks of 2^j such
    rows, made once per width (``_constant_rows``), and its Adler-32 is
    computed, not scanned (``_adler32_rows``): a diff costs ~0.3 ms, not the
    ~5 ms of deflating 1.6 MB. ``scratch``: a 1-D uint8 array the rows are
    assembled in when it is large enough (``DiffEncoder`` keeps one: a fresh
    megabyte each move costs its page faults). PNG layout: the 8-byte signature, then IHDR,
    IDAT and IEND chunks (length, type, data, CRC-32); IDAT is a zlib stream
    (RFC 1950: header, deflate blocks, Adler-32 of the filtered rows). Each run's
    deflate blocks end byte-aligned (a sync flush) and refer to nothing before
    them, so the runs can follow each other; an empty final block ends them.
    """
    rgba = np.ascontiguousarray(rgba, dtype=np.uint8)
    if rgba.ndim != 3 or rgba.shape[2] != 4 or 0 in rgba.shape:
        raise ValueError(f"rgba must have shape (height, width, 4) with height, width >= 1; got {rgba.shape}")
    height, width, _ = rgba.shape
    row_bytes = 1 + 4 * width                                       # the filter-type byte, then the pixels
    pixels = rgba.view(np.uint32).reshape(height, width)            # a pixel at a time: 4x fewer
    changed = pixels.any(axis=1)
    repeat = np.zeros(height, bool)
    repeat[1:] = changed[1:] & (pixels[1:] == pixels[:-1]).all(axis=1)
    kind = np.where(repeat, UP, np.where(changed, NONE, ZERO))
    edges = [0, *(np.flatnonzero(kind[1:] != kind[:-1]) + 1).tolist(), height]
    deflated, adler = [b"\x78\x01"], 1                             # zlib header: deflate, 32 KB window
    for start, stop in zip(edges[:-1], edges[1:]):
        if kind[start] == NONE:
            n = (stop - start) * row_bytes
            if scratch is not None and scratch.size >= n:
                rows = scratch[:n].reshape(stop - start, row_bytes)
            else:
                rows = np.empty((stop - start, row_bytes), np.uint8)
            rows[:, 0] = 0                                           # filter type 0 ("none")
            rows[:, 1:] = rgba[start:stop].reshape(stop - start, 4 * width)
            compressor = zlib.compressobj(level, zlib.DEFLATED, -15)   # raw deflate, no header
            deflated.append(compressor.compress(rows) + compressor.flush(zlib.Z_SYNC_FLUSH))
            adler = zlib.adler32(rows, adler)
        else:                                                      # zeros, or "Up" rows: the filter byte, then zeros
            filter_type = 2 if kind[start] == UP else 0
            deflated.append(_constant_rows(filter_type, row_bytes, stop - start, level))
            adler = _adler32_rows(adler, filter_type, row_bytes, stop - start)
    deflated += [b"\x03\x00", struct.pack(">I", adler)]         # an empty final block, then Adler-32

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)     # 8 bits, RGBA, deflate, no interlace
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", b"".join(deflated)) + chunk(b"IEND", b""))


ZERO, NONE, UP = 0, 1, 2         # a row of png_bytes: all zeros, sent as it is, or equal to the row above
_CONSTANT_BLOCKS: dict = {}      # (filter type, row bytes, 2^j rows, level) -> their raw deflate blocks


def _constant_rows(filter_type: int, row_bytes: int, n_rows: int, level: int) -> bytes:
    """Deflate blocks for ``n_rows`` filtered rows that are the byte ``filter_type``
    then zeros: one cached piece per set bit of n_rows, each sync-flushed."""
    pieces, size = [], 1
    while n_rows:
        if n_rows & 1:
            key = (filter_type, row_bytes, size, level)
            blocks = _CONSTANT_BLOCKS.get(key)
            if blocks is None:                                     # built locally: another thread may clear
                row = bytes([filter_type]) + bytes(row_bytes - 1)
                compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
                blocks = compressor.compress(row * size) + compressor.flush(zlib.Z_SYNC_FLUSH)
                if len(_CONSTANT_BLOCKS) > 512:                     # many figure widths: start again
                    _CONSTANT_BLOCKS.clear()
                _CONSTANT_BLOCKS[key] = blocks
            pieces.append(blocks)
        n_rows >>= 1
        size <<= 1
    return b"".join(pieces)


def _adler32_rows(adler: int, first_byte: int, row_bytes: int, n_rows: int) -> int:
    """``zlib.adler32((bytes([first_byte]) + bytes(row_bytes - 1)) * n_rows, adler)``
    without the bytes (RFC 1950: each byte d does A += d, then B += A, mod 65521).
    A row adds f to A, then R times the new A to B; over n rows
    A_n = A + f n and B_n = B + R (n A + f n (n + 1) / 2)."""
    a, b = adler & 0xFFFF, adler >> 16
    n, f = n_rows, first_byte
    b = (b + row_bytes * (n * a + f * n * (n + 1) // 2)) % 65521
    return (b << 16) | ((a + f * n) % 65521)


def diff_image(buffer, last):
    """What a web canvas sends: ("full", every pixel) when there is no previous
    image of this size or any pixel is transparent (``_sends_full``), else
    ("diff", the changed pixels, zero elsewhere). ``buffer``: the canvas's
    (h, w, 4) uint8 RGBA pixels; ``last``: the previous (h, w) uint32 view or None.
    Returns (mode, rgba, a copy of this buffer as (h, w) uint32 for the next call).
    (``DiffEncoder`` computes the same diff, cut as ``cropped_diff`` cuts it, in one pass.)"""
    pixels = np.asarray(buffer)
    current = pixels.view(np.uint32).squeeze(2)
    if _sends_full(pixels, current, last):
        mode, output = "full", current
    else:
        mode, output = "diff", np.zeros_like(current)
        np.copyto(output, current, where=current != last)       # ~3x faster than np.where here
    return mode, output.view(np.uint8).reshape((*output.shape, 4)), current.copy()


def _sends_full(pixels, current, last) -> bool:
    """The whole image, not a diff: no previous image of this size, or a transparent
    pixel (a diff is drawn over what the browser shows: it could not clear it)."""
    return last is None or current.shape != last.shape or _any_transparent(pixels, current)


def cropped_diff(rgba):
    """A diff image cut after its last changed row and column (at least 1 x 1).

    The browser draws a diff image at the canvas's top-left corner, at its own
    size, over what it shows (ipympl's and matplotlib's WebAgg scripts both call
    ``drawImage(image, 0, 0)``), so the transparent margin on the right and at the
    bottom can go: less to encode, send and decode. (Not the top or left margin:
    the image would land there.) A bare echo of a 9 x 4.7 in figure took ~27 ms
    longer from key press to pixels than one of a 3 x 2 in figure with one core
    busy (99 vs 72 ms)."""
    changed = rgba.view(np.uint32).squeeze(2) != 0
    rows, cols = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
    if rows.size == 0:
        return rgba[:1, :1]
    return rgba[:rows[-1] + 1, :cols[-1] + 1]


def _any_transparent(pixels, as_uint32) -> bool:
    """Any alpha byte below 255. On a little-endian machine alpha is the top byte
    of each pixel's uint32: one contiguous comparison (~0.1 ms on a 900 x 460
    figure) instead of a strided one over the alpha bytes (~0.4 ms)."""
    if np.little_endian:
        return bool((as_uint32 < np.uint32(0xFF000000)).any())
    return bool((pixels[:, :, 3] != 255).any())


class DiffEncoder:
    """The image a web canvas sends after each redraw, as PNG bytes: ``diff_image``'s
    rule (the full image, or only the changed pixels), the diff cut as
    ``cropped_diff`` cuts it, encoded by ``png_bytes``. The diff and its cut come
    from one comparison, and only the corner that is sent is filled and copied
    (not the whole figure, then a second scan for the cut). It keeps the last image and its
    scratch arrays from one call to the next: allocating ~5 MB of fresh arrays a
    move cost ~3 ms of page faults (the allocator hands large freed blocks back to
    the system), more than the comparison itself (~0.5 ms)."""

    def __init__(self):
        self.last = None                      # the previous image, (h, w) uint32
        self._spare = self._out = self._rows = self._changed = None

    def encode(self, buffer) -> tuple[str, bytes]:
        """(mode, PNG bytes) for the canvas pixels ``buffer`` ((h, w, 4) uint8 RGBA)."""
        pixels = np.asarray(buffer)
        current = pixels.view(np.uint32).squeeze(2)
        if _sends_full(pixels, current, self.last):
            mode, rgba = "full", pixels
        else:
            mode, rgba = "diff", self._cropped_diff(current, self.last)
        keep = _reused(self._spare if self._spare is not self.last else None, current.shape, np.uint32)
        np.copyto(keep, current)
        self._spare, self.last = self.last, keep
        self._rows = _reused(self._rows, (keep.size * 4 + keep.shape[0],), np.uint8)
        return mode, png_bytes(rgba, scratch=self._rows)

    def _cropped_diff(self, current, last):
        """``cropped_diff(diff_image(...))``: the changed pixels (zero elsewhere) up to
        the last changed row and column, in a contiguous corner of a kept array."""
        changed = self._changed = _reused(self._changed, current.shape, np.bool_)
        np.not_equal(current, last, out=changed)
        rows = np.flatnonzero(changed.any(axis=1))
        if rows.size == 0:
            return np.zeros((1, 1, 4), np.uint8)
        height = rows[-1] + 1
        width = np.flatnonzero(changed[:height].any(axis=0))[-1] + 1
        self._out = _reused(self._out, current.shape, np.uint32)
        corner = self._out.reshape(-1)[:height * width].reshape(height, width)
        corner.fill(0)
        np.copyto(corner, current[:height, :width], where=changed[:height, :width])
        return corner.view(np.uint8).reshape(height, width, 4)


def _reused(array, shape, dtype):
    """``array`` if it has this shape and dtype, else a new empty one."""
    if array is not None and array.shape == shape and array.dtype == dtype:
        return array
    return np.empty(shape, dtype)


def send_fast_png(canvas) -> None:
    """Make a web canvas (ipympl's, matplotlib's WebAgg) encode its updates with a
    ``DiffEncoder``: matplotlib's ``FigureCanvasWebAggCore.get_diff_image`` with the
    same full/diff rule and a faster encoder. Only this canvas changes; other
    canvases (Agg, PDF, SVG) are left as they are."""
    if not _is_web_canvas(canvas):
        return
    encoder = canvas.compresslab_encoder = DiffEncoder()

    def get_diff_image():
        if not canvas._png_is_old:
            return None
        if canvas._force_full:                 # a resize or a new browser view: the whole image
            encoder.last = None
        mode, png = encoder.encode(canvas.get_renderer().buffer_rgba())
        canvas._last_buff = encoder.last         # what ipympl reads for its saved snapshot (_data_url)
        canvas.set_image_mode(mode)
        canvas._force_full = canvas._png_is_old = False
        return png

    canvas.get_diff_image = get_diff_image
