"""The static figures: one style, every figure within 900 px, savable as PNG, PDF and SVG."""
import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from compresslab import plots  # noqa: E402
from compresslab.lowrank import layer_svds  # noqa: E402
from compresslab.training import History  # noqa: E402


def _histories(rng):
    out = []
    for _ in range(2):
        h = History()
        h.loss.extend(rng.random(4) + 0.1)
        out.append(h)
    return out


FIGURES = {
    "svd_factors": lambda net, rng: plots.plot_svd_factors(net.layers[0].weight, layer_svds(net)[0], k=5),
    "rebuilt_filters": lambda net, rng: plots.plot_rebuilt_filters(layer_svds(net)[0], [1, 5, 20, 40, 64],
                                                                   [0, 1], (8, 8)),
    "spectra": lambda net, rng: plots.plot_spectra(layer_svds(net), ["a", "b", "c"]),
    "break_even": lambda net, rng: plots.plot_break_even(300, 100),
    "curves": lambda net, rng: plots.plot_curves({"x": ([1, 2], [0.5, 0.7]), "y": ([1, 3], [0.4, 0.9])},
                                                 xlabel="a", ylabel="b", title="c", reference=("r", 0.8)),
    "levels": lambda net, rng: plots.plot_levels(rng.normal(size=500), {"a": [-1, 0, 1], "b": [0.5]}),
    "training_curves": lambda net, rng: plots.plot_training_curves({"run": _histories(rng)}),
}


@pytest.mark.parametrize("name", FIGURES)
def test_static_figures_fit_and_save_in_every_format(name, digits_net, rng):
    fig = FIGURES[name](digits_net, rng)
    try:
        assert fig.get_figwidth() * fig.dpi <= plots.MAX_WIDTH_PX
        for fmt in ("png", "pdf", "svg"):
            buffer = io.BytesIO()
            fig.savefig(buffer, format=fmt)
            assert buffer.getbuffer().nbytes > 500, fmt
    finally:
        plt.close(fig)


def test_new_figure_clamps_the_width_and_replaces_by_key():
    before = len(plt.get_fignums())
    fig, _ = plots.new_figure(figsize=(14, 3), replace="test")
    assert fig.get_figwidth() * fig.dpi == plots.MAX_WIDTH_PX
    again, _ = plots.new_figure(figsize=(5, 3), replace="test")
    assert len(plt.get_fignums()) == before + 1 and again is not fig
    plt.close(again)


def test_palette_series_differ_in_colour_and_marker():
    colours, markers = zip(*plots.SERIES)
    assert len(set(colours)) == len(colours) and len(set(markers)) == len(markers)


def test_blitter_survives_vector_formats():
    fig, ax = plots.new_figure(figsize=(4, 3))
    (line,) = ax.plot([0, 1], [0, 1])
    blitter = plots.Blitter(fig, [line])
    fig.canvas.draw()
    assert blitter.background is not None
    for fmt in ("pdf", "svg", "png"):
        fig.savefig(io.BytesIO(), format=fmt)          # no AttributeError: copy_from_bbox
    line.set_data([0, 1], [1, 0])
    blitter.update()
    plt.close(fig)


# --- the PNG ipympl sends after each update (plots.blit.send_fast_png) ------------------------
@pytest.mark.parametrize("shape", [(1, 1), (7, 13), (440, 900)])
def test_png_bytes_decode_to_the_same_pixels(shape):
    import io

    from PIL import Image

    from compresslab.plots.blit import png_bytes

    rgba = np.random.default_rng(0).integers(0, 256, (*shape, 4), dtype=np.uint8)
    rgba[: shape[0] // 2] = 0                                   # a diff image is mostly zeros
    rgba[shape[0] * 3 // 4:] = rgba[shape[0] * 3 // 4 - 1]       # and repeated rows ("Up" filter)
    decoded = np.asarray(Image.open(io.BytesIO(png_bytes(rgba))).convert("RGBA"))
    np.testing.assert_array_equal(decoded, rgba)


@pytest.mark.parametrize("shape", [(4, 4), (4, 4, 3), (2, 3, 4, 1), (0, 5, 4), (5, 0, 4)])
def test_png_bytes_rejects_what_is_not_rgba(shape):
    from compresslab.plots.blit import png_bytes

    with pytest.raises(ValueError, match=r"rgba must have shape \(height, width, 4\)"):
        png_bytes(np.zeros(shape, np.uint8))


def test_fast_canvas_sends_what_matplotlib_would_send():
    """Two identical figures on web canvases, one with ``send_fast_png``: for the
    first (full) image and for a change (diff), the same mode and the same pixels
    (a diff is cut after its last changed row and column: drawn at the top-left
    corner, it paints the same pixels)."""
    import io
    import types

    from matplotlib.backends.backend_webagg_core import FigureCanvasWebAggCore
    from matplotlib.figure import Figure
    from PIL import Image

    from compresslab.plots.blit import send_fast_png

    canvases = []
    for fast in (False, True):
        fig = Figure(figsize=(3, 2), dpi=50)
        ax = fig.add_subplot()
        line, = ax.plot([0, 1, 2], [0, 1, 0])
        canvas = FigureCanvasWebAggCore(fig)
        canvas.manager = types.SimpleNamespace(refresh_all=lambda: None)    # no browser to send to
        if fast:
            send_fast_png(canvas)
        modes = []
        canvas.set_image_mode = modes.append
        canvases.append((canvas, line, modes))

    def sent(canvas):
        canvas.draw()
        return np.asarray(Image.open(io.BytesIO(canvas.get_diff_image())).convert("RGBA"))

    for step in range(3):
        images = []
        for canvas, line, _ in canvases:
            if step == 2:
                line.set_ydata([1, 0, 1])                         # a change: only some pixels differ
            images.append(sent(canvas))
        fast = np.zeros_like(images[0])
        fast[:images[1].shape[0], :images[1].shape[1]] = images[1]     # drawn at (0, 0), as the browser does
        np.testing.assert_array_equal(fast, images[0])
        assert images[1].shape[:2] <= images[0].shape[:2]
    assert canvases[1][2] == canvases[0][2] == ["full", "diff", "diff"]
    assert canvases[1][0].get_diff_image() is None                # nothing new since: nothing sent


def test_blitted_text_put_back_from_its_pixels_looks_as_drawn():
    """A moving label drawn once per string, then put back from its kept pixels:
    the canvas is the same, pixel for pixel, as when the label is drawn each time."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from compresslab.plots.blit import Blitter

    images = []
    for keep in (False, True):
        fig = Figure(figsize=(3, 2), dpi=60)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        line, = ax.plot([0, 1], [0, 1])
        label = ax.text(0.5, 1.03, "", transform=ax.transAxes, ha="center", va="bottom")
        blitter = Blitter(fig, [line], labels=[label])
        if not keep:
            blitter.MAX_TEXTS_KEPT = 0                             # every label drawn again
        fig.canvas.draw()
        seen = []
        for string, y in (("15 levels", 0.2), ("3 levels", 0.8), ("15 levels", 0.5)):
            label.set_text(string)
            line.set_ydata([y, 1 - y])
            blitter.update()
            seen.append(np.array(fig.canvas.buffer_rgba()))
        assert len(blitter._text_pixels) == (2 if keep else 0)
        images.append(seen)
    for drawn, kept in zip(*images):
        np.testing.assert_array_equal(kept, drawn)
    assert not np.array_equal(images[1][0], images[1][1])          # the label and line did change


def test_blitter_blits_on_a_web_canvas_without_asking_the_browser_for_a_draw():
    """ipympl's canvas (a WebAgg canvas) says ``supports_blit = False``; the Blitter
    blits on it anyway: a move sends the changed pixels at once (one refresh, a
    "diff" image) and never a "draw" event (which makes the browser ask for a
    full redraw: a round trip and ~240 ms of Agg). The pixels sent are those of a
    full draw of the same state."""
    import types

    from matplotlib.backends.backend_webagg_core import FigureCanvasWebAggCore
    from matplotlib.figure import Figure

    from compresslab.plots.blit import Blitter, send_fast_png

    fig = Figure(figsize=(3, 2), dpi=50)
    ax = fig.add_subplot()
    line, = ax.plot([0, 1, 2], [0, 1, 0])
    canvas = FigureCanvasWebAggCore(fig)
    refreshes, events, modes = [], [], []
    canvas.manager = types.SimpleNamespace(refresh_all=lambda: refreshes.append(canvas.get_diff_image()))
    canvas.send_event = lambda kind, **kwargs: events.append(kind)
    canvas.set_image_mode = modes.append
    send_fast_png(canvas)
    blitter = Blitter(fig, [line])
    canvas.draw()                                   # the first full draw keeps the background
    refreshes.clear(), events.clear(), modes.clear()
    for y in ([1, 0, 1], [0.5, 0.2, 0.9]):
        line.set_ydata(y)
        blitter.update()
        blitted = np.array(canvas.buffer_rgba())
        canvas.draw()                               # a full draw of the same state
        np.testing.assert_array_equal(blitted, np.asarray(canvas.buffer_rgba()))
    assert "draw" not in events
    assert len(refreshes) == 4 and all(png is not None for png in refreshes)   # 2 blits, 2 full draws
    assert modes[0] == "diff"


@pytest.mark.parametrize("pattern", ["zeros", "full", "sparse rows", "alternate", "first and last", "one pixel",
                                     "repeated rows", "bands"])
@pytest.mark.parametrize("shape", [(1, 1), (2, 3), (7, 13), (460, 900)])
def test_png_bytes_zlib_stream_is_exact(pattern, shape):
    """The IDAT stream inflates (zlib checks its Adler-32) to exactly the filtered
    rows, whatever mix of all-zero, changed and repeated rows the image has: a row
    equal to the one above is filter type 2 ("Up": all zeros after it), any other
    filter type 0 (the pixels as they are)."""
    import struct
    import zlib

    from compresslab.plots.blit import png_bytes

    h, w = shape
    rng = np.random.default_rng(h * 1000 + w)
    rgba = np.zeros((h, w, 4), np.uint8)
    rows = {"zeros": [], "full": range(h), "sparse rows": rng.choice(h, size=max(1, h // 20), replace=False),
            "alternate": range(0, h, 2), "first and last": sorted({0, h - 1}), "one pixel": [h // 2],
            "repeated rows": range(h), "bands": range(h)}[pattern]
    for r in rows:
        if pattern == "one pixel":
            rgba[r, w // 2] = (1, 2, 3, 255)
        elif pattern == "repeated rows":            # a histogram's vertical lines: every row the same
            rgba[r] = rgba[0] if r else rng.integers(0, 256, (w, 4), dtype=np.uint8)
        elif pattern == "bands":                    # runs of equal rows, zero rows, new rows, mixed
            rgba[r] = (rgba[r - 1] if r % 7 not in (0, 5) else 0 if r % 7 == 5 else
                       rng.integers(0, 256, (w, 4), dtype=np.uint8))
        else:
            rgba[r] = rng.integers(0, 256, (w, 4), dtype=np.uint8)
    png = png_bytes(rgba)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    at, idat = 8, b""
    while at < len(png):
        (length,), kind = struct.unpack(">I", png[at:at + 4]), png[at + 4:at + 8]
        data = png[at + 8:at + 8 + length]
        assert struct.unpack(">I", png[at + 8 + length:at + 12 + length])[0] == zlib.crc32(kind + data)
        idat += data if kind == b"IDAT" else b""
        at += 12 + length
    same = np.zeros(h, bool)
    same[1:] = (rgba[1:] == rgba[:-1]).all(axis=(1, 2)) & rgba[1:].any(axis=(1, 2))
    filtered = np.zeros((h, 1 + 4 * w), np.uint8)
    filtered[:, 0] = np.where(same, 2, 0)
    filtered[~same, 1:] = rgba[~same].reshape(-1, 4 * w)
    assert zlib.decompress(idat) == filtered.tobytes()
    if pattern in ("repeated rows", "bands") and h > 2:
        assert same.sum() > h // 2                      # the case this pattern is for


@pytest.mark.parametrize("first_byte, row_bytes, n_rows", [(0, 3601, 1), (0, 1, 10**6), (2, 3601, 260), (2, 5, 1),
                                                           (255, 7, 70000), (0, 3601, 0)])
def test_adler32_of_constant_rows_is_zlibs(first_byte, row_bytes, n_rows):
    import zlib

    from compresslab.plots.blit import _adler32_rows

    row = bytes([first_byte]) + bytes(row_bytes - 1)
    start = zlib.adler32(b"abc")
    assert _adler32_rows(start, first_byte, row_bytes, n_rows) == zlib.adler32(row * n_rows, start)


@pytest.mark.parametrize("alpha", [255, 254, 0])
def test_diff_image_sends_full_when_any_pixel_is_transparent(alpha):
    """matplotlib's rule: a transparent pixel could not be overlaid, so the whole
    image is sent; an opaque change is sent as a diff of the changed pixels."""
    from compresslab.plots.blit import diff_image

    before = np.full((5, 7, 4), 255, np.uint8)
    _, _, last = diff_image(before, None)
    after = before.copy()
    after[2, 3] = (10, 20, 30, alpha)
    mode, rgba, _ = diff_image(after, last)
    assert mode == ("diff" if alpha == 255 else "full")
    if mode == "diff":
        expected = np.zeros_like(after)
        expected[2, 3] = after[2, 3]
        np.testing.assert_array_equal(rgba, expected)
    else:
        np.testing.assert_array_equal(rgba, after)


@pytest.mark.parametrize("change", ["resize", "dpi"])
def test_blitter_redraws_fully_after_a_resize_or_a_new_pixel_ratio(change):
    """A browser resize or a new device-pixel ratio changes the canvas and asks for a
    draw later. A move in between must not paste the old background on the new,
    blank buffer: it asks for the full draw instead, and the draw that follows
    blits again."""
    import types

    from matplotlib.backends.backend_webagg_core import FigureCanvasWebAggCore
    from matplotlib.figure import Figure

    from compresslab.plots.blit import Blitter

    fig = Figure(figsize=(3, 2), dpi=50)
    line, = fig.add_subplot().plot([0, 1, 2], [0, 1, 0])
    canvas = FigureCanvasWebAggCore(fig)
    sent, events = [], []
    canvas.manager = types.SimpleNamespace(refresh_all=lambda: sent.append(1), resize=lambda *a, **k: None)
    canvas.send_event = lambda kind, **kwargs: events.append(kind)
    blitter = Blitter(fig, [line])
    canvas.draw()
    sent.clear(), events.clear()
    if change == "resize":
        fig.set_size_inches(4, 2)
    else:
        fig.set_dpi(100)
    line.set_ydata([1, 0, 1])
    blitter.update()
    assert events == ["draw"] and sent == [] and blitter.background is None
    canvas.draw()                                   # the draw the browser asks for
    events.clear(), sent.clear()
    line.set_ydata([0, 0, 1])
    blitter.update()
    assert events == [] and sent == [1]             # blitting again


def _counting_draws(artist, counts):
    """Wrap ``artist.draw`` to count its calls in ``counts[artist]``."""
    draw = artist.draw

    def counted(renderer):
        counts[artist] = counts.get(artist, 0) + 1
        return draw(renderer)

    artist.draw = counted


def test_slow_artists_are_drawn_only_when_they_change_and_the_pixels_stay_right():
    """A slow artist is kept with the background: a move that leaves it alone does
    not draw it, a move that changes it (or its visibility) draws it once, and after
    every move the canvas is, pixel for pixel, a full draw of the same state."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from compresslab.plots.blit import Blitter

    fig = Figure(figsize=(3, 2), dpi=60)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    curve, = ax.plot([0, 1, 2], [0, 1, 0], lw=3)
    image = ax.imshow(np.zeros((4, 4)), extent=(0, 1, 0, 1), vmin=0, vmax=1)
    point, = ax.plot([0.5], [0.5], "o", ms=12)
    ax.set_xlim(-0.5, 2.5), ax.set_ylim(-0.5, 1.5)
    blitter = Blitter(fig, [point], slow=[curve, image])
    fig.canvas.draw()
    counts = {}
    for artist in (curve, image, point):
        _counting_draws(artist, counts)
    moves = [(None, None, 0.2), (None, None, 0.9), ([1, 0, 1], None, 0.4), (None, np.eye(4), 0.4),
             (None, None, 1.2), ("hide", None, 0.3), (None, None, 0.6), ("show", None, 0.6)]
    expected_slow_draws = [0, 0, 1, 1, 0, 1, 0, 1]
    for (curve_y, pixels, y), slow_draws in zip(moves, expected_slow_draws):
        counts.clear()
        if isinstance(curve_y, str):
            curve.set_visible(curve_y == "show")
        elif curve_y is not None:
            curve.set_ydata(curve_y)
        if pixels is not None:
            image.set_data(pixels)
        point.set_ydata([y])
        blitter.update()
        assert counts.get(point) == 1
        assert counts.get(curve, 0) == counts.get(image, 0) == slow_draws
        blitted = np.array(fig.canvas.buffer_rgba())
        fig.canvas.draw()                                # a full draw of the same state
        np.testing.assert_array_equal(blitted, np.asarray(fig.canvas.buffer_rgba()))
        blitter.update()                                 # from the new backgrounds: the same pixels
        np.testing.assert_array_equal(blitted, np.asarray(fig.canvas.buffer_rgba()))


def test_slow_artists_keep_their_drawing_order_under_the_fast_ones():
    """A slow artist is drawn before every fast one, in a full draw as in a blit:
    a fast marker on top of a slow line stays on top."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from compresslab.plots.blit import Blitter

    fig = Figure(figsize=(2, 2), dpi=50)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_xlim(0, 1), ax.set_ylim(0, 1)
    marker, = ax.plot([0.5], [0.5], "s", ms=30, color="red")
    line, = ax.plot([0, 1], [0.5, 0.5], lw=4, color="blue")
    blitter = Blitter(fig, [marker], slow=[line])     # kept: the canvas holds its callback weakly
    fig.canvas.draw()
    blitter.update()
    x, y = (int(v) for v in ax.transData.transform((0.5, 0.5)))
    height = fig.canvas.get_width_height()[1]
    red = np.asarray(fig.canvas.buffer_rgba())[height - y, x]
    assert tuple(red[:3]) == (255, 0, 0)


def test_set_data_helpers_mark_an_artist_stale_only_when_its_data_change():
    from matplotlib.figure import Figure

    from compresslab.plots.blit import set_image_data, set_line_data

    ax = Figure().add_subplot()
    line, = ax.plot([1.0, 2.0], [np.nan, 3.0])
    image = ax.imshow(np.arange(4.0).reshape(2, 2))
    for artist in (line, image):
        artist.set_animated(True)                        # as a Blitter makes them: no stale callbacks
        artist.stale = False
    set_line_data(line, [1, 2], [np.nan, 3])             # the same numbers (NaN equals NaN), as ints and lists
    set_image_data(image, np.arange(4.0).reshape(2, 2))
    assert not line.stale and not image.stale
    set_line_data(line, [1, 2], [1, 3])
    set_image_data(image, np.arange(4.0).reshape(4, 1))  # the same numbers, another shape
    assert line.stale and image.stale
    np.testing.assert_array_equal(line.get_ydata(), [1, 3])
    assert image.get_array().shape == (4, 1)


@pytest.mark.parametrize("changed", [[], [(0, 0)], [(3, 1), (1, 5)], [(6, 9)], [(2, 2), (6, 0)]])
def test_cropped_diff_keeps_every_changed_pixel_where_the_browser_draws_it(changed):
    """Cut after the last changed row and column, never before the first: drawn at the
    top-left corner it paints exactly the diff; nothing changed gives one clear pixel."""
    from compresslab.plots.blit import cropped_diff

    rng = np.random.default_rng(len(changed))
    diff = np.zeros((7, 10, 4), np.uint8)
    for r, c in changed:
        diff[r, c] = rng.integers(1, 256, 4)
    cut = cropped_diff(diff)
    if not changed:
        assert cut.shape == (1, 1, 4) and not cut.any()
        return
    assert cut.shape == (max(r for r, _ in changed) + 1, max(c for _, c in changed) + 1, 4)
    painted = np.zeros_like(diff)
    painted[:cut.shape[0], :cut.shape[1]] = cut
    np.testing.assert_array_equal(painted, diff)


def test_diff_encoder_keeps_the_browsers_picture_right_frame_after_frame():
    """A browser that pastes each image at the top-left corner (a "full" one replacing
    everything, a "diff" one over what it shows) always shows the current frame,
    while the encoder reuses its arrays: changes anywhere, no change, a new size, a
    transparent pixel. The scratch rows give the same PNG bytes as fresh ones."""
    import io

    from PIL import Image

    from compresslab.plots.blit import DiffEncoder, png_bytes

    rng = np.random.default_rng(3)
    encoder, shown = DiffEncoder(), None
    frame = np.full((6, 9, 4), 255, np.uint8)
    modes = []
    for step in range(10):
        frame = frame.copy()
        if step == 5:
            frame = np.full((7, 5, 4), 255, np.uint8)                 # the canvas was resized
        elif step == 7:
            frame[2, 3, 3] = 128                                     # a transparent pixel: full image
        elif step == 8:
            frame[:, :, 3] = 255
        elif step != 3:                                              # step 3: nothing changed
            r, c = rng.integers(0, frame.shape[0]), rng.integers(0, frame.shape[1])
            frame[r, c, :3] = rng.integers(0, 255, 3)
        mode, png = encoder.encode(frame)
        image = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))
        if mode == "full":
            shown = image.copy()
        else:
            h, w = image.shape[:2]
            region = shown[:h, :w]
            region[image[:, :, 3] > 0] = image[image[:, :, 3] > 0]
        modes.append(mode)
        np.testing.assert_array_equal(shown, frame)
    assert modes[0] == modes[5] == modes[7] == "full" and modes.count("diff") == 7
    rgba = rng.integers(0, 256, (5, 7, 4), dtype=np.uint8)
    assert png_bytes(rgba, scratch=np.full(500, 9, np.uint8)) == png_bytes(rgba) == png_bytes(
        rgba, scratch=np.zeros(3, np.uint8))                             # too small: not used


@pytest.mark.parametrize("seed", range(4))
def test_diff_encoder_sends_what_diff_image_then_cropped_diff_give(seed):
    """The encoder's one-pass diff and cut: the same PNG as the two functions it stands for."""
    from compresslab.plots.blit import DiffEncoder, cropped_diff, diff_image, png_bytes

    rng = np.random.default_rng(seed)
    encoder = DiffEncoder()
    frame = np.full((46, 90, 4), 255, np.uint8)
    encoder.encode(frame)
    for _ in range(6):
        last = encoder.last.copy()
        frame = frame.copy()
        n = rng.integers(0, 40)
        rows, cols = rng.integers(0, 46, n), rng.integers(0, 90, n)
        frame[rows, cols, :3] = rng.integers(0, 256, (n, 3))
        if rng.random() < 0.5:                                    # a band of equal rows (level lines)
            frame[10:30, rng.integers(0, 90)] = (1, 2, 3, 255)
        mode, png = encoder.encode(frame)
        expected_mode, rgba, _ = diff_image(frame, last)
        assert mode == expected_mode == "diff"
        assert png == png_bytes(cropped_diff(rgba))


def test_expected_label_strings_are_drawn_ahead_and_look_as_drawn_on_the_move():
    """A label given with the strings it will show: all of them are rendered at the
    full draw (none is laid out on a move), and the canvas after each move is the
    same, pixel for pixel, as when each string is drawn on the move."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from compresslab.plots.blit import Blitter

    strings = ("levels", "levels: float format", "levels of the widest neuron")
    images = []
    for ahead in (False, True):
        fig = Figure(figsize=(3, 2), dpi=60)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        line, = ax.plot([0, 1], [0, 1])
        label = ax.text(0.5, 1.03, strings[0], transform=ax.transAxes, ha="center", va="bottom")
        blitter = Blitter(fig, [line], labels={label: strings} if ahead else [label])
        fig.canvas.draw()
        assert len(blitter._text_pixels) == (len(strings) - 1 if ahead else 0)   # the shown one: on its move
        assert label.get_text() == strings[0]                                   # the label still says its own
        seen = []
        for string, y in zip(strings[::-1], (0.2, 0.8, 0.5)):
            label.set_text(string)
            line.set_ydata([y, 1 - y])
            blitter.update()
            seen.append(np.array(fig.canvas.buffer_rgba()))
        images.append(seen)
    for drawn, kept in zip(*images):
        np.testing.assert_array_equal(kept, drawn)


@pytest.mark.parametrize("n_levels", [16, 63, 255])
def test_painted_level_lines_look_as_agg_draws_them(n_levels, monkeypatch):
    """LevelLines paints many lines with numpy (Agg takes ~10 ms for 255): the picture
    is Agg's within antialiasing (no pixel off by more than 48 of 255, 99.9 % of
    them within 8), nothing is painted outside the axes, and a PDF gets real lines."""
    from compresslab.plots.quantization import LevelLines, QuantizationFigure

    weights = np.random.default_rng(0).normal(scale=0.1, size=20_000)
    fig = QuantizationFigure()
    fig.set_histogram(weights)
    fig.fig.canvas.draw()
    levels = np.linspace(-0.35, 0.35, n_levels)           # some outside the axes: clipped
    images = []
    for paint_from in (10**9, LevelLines.PAINT_FROM):
        monkeypatch.setattr(LevelLines, "PAINT_FROM", paint_from)
        fig.update(alpha=4.0, accuracy=0.9, speedup_measured=None, levels=levels, levels_label="levels")
        images.append(np.array(fig.fig.canvas.buffer_rgba()).astype(int))
    drawn, painted = images
    difference = np.abs(drawn - painted).max(axis=2)
    assert difference.max() <= 48 and np.mean(difference <= 8) >= 0.999
    changed = np.argwhere((painted != images[0]).any(axis=2) | (difference > 0))
    box = fig.ax_hist.bbox
    height = painted.shape[0]
    if len(changed):
        rows, cols = changed[:, 0], changed[:, 1]
        assert cols.min() >= np.floor(box.x0) and cols.max() <= np.ceil(box.x1)
        assert rows.min() >= np.floor(height - box.y1) and rows.max() <= np.ceil(height - box.y0)
    buffer = io.BytesIO()
    fig.fig.savefig(buffer, format="pdf")                  # not Agg: matplotlib draws the lines
    assert buffer.getvalue().startswith(b"%PDF")
    x = fig.levels.get_xdata()
    assert np.array_equal(np.unique(x[~np.isnan(x)]), levels)   # the data stay the levels
    plt.close(fig.fig)


@pytest.mark.parametrize("case", ["dashed", "thick", "png at 300 dpi", "transparent", "butt caps"])
def test_level_lines_matplotlib_must_draw_are_drawn_by_matplotlib(case, monkeypatch):
    """Where painting would not give Agg's picture (a dashed, thick or butt-capped line,
    a PNG at a high dpi, a transparent background) LevelLines leaves the drawing to
    matplotlib: the pixels equal those with painting switched off."""
    from compresslab.plots.quantization import LevelLines, QuantizationFigure

    images = []
    for paint_from in (10**9, LevelLines.PAINT_FROM):
        monkeypatch.setattr(LevelLines, "PAINT_FROM", paint_from)
        fig = QuantizationFigure()
        fig.set_histogram(np.random.default_rng(0).normal(scale=0.1, size=5_000))
        style = {"dashed": dict(linestyle="--"), "thick": dict(linewidth=3),
                 "butt caps": dict(solid_capstyle="butt")}.get(case, {})
        fig.levels.set(**style)
        fig.fig.canvas.draw()
        fig.update(alpha=4.0, accuracy=0.9, speedup_measured=None, levels=np.linspace(-0.3, 0.3, 63),
                   levels_label="levels")
        buffer = io.BytesIO()
        fig.fig.savefig(buffer, format="png", dpi=300 if case == "png at 300 dpi" else 100,
                        transparent=case == "transparent")
        images.append(plt.imread(io.BytesIO(buffer.getvalue())))
        plt.close(fig.fig)
    np.testing.assert_array_equal(images[0], images[1])


def test_level_lines_skip_non_finite_levels_and_follow_an_inverted_axis():
    from compresslab.plots.quantization import QuantizationFigure

    fig = QuantizationFigure()
    fig.set_histogram(np.random.default_rng(0).normal(scale=0.1, size=5_000))
    fig.ax_hist.invert_yaxis()
    fig.fig.canvas.draw()
    before = np.array(fig.fig.canvas.buffer_rgba())
    levels = np.r_[np.nan, np.linspace(-0.3, 0.3, 40), np.inf]
    fig.update(alpha=4.0, accuracy=0.9, speedup_measured=None, levels=levels, levels_label="levels")
    after = np.array(fig.fig.canvas.buffer_rgba())
    box = fig.ax_hist.bbox
    height = after.shape[0]
    inside = (slice(int(height - box.y1) + 2, int(height - box.y0) - 2), slice(int(box.x0) + 2, int(box.x1) - 2))
    assert (after[inside] != before[inside]).any(axis=2).sum() > 1000       # the lines are there
    plt.close(fig.fig)
