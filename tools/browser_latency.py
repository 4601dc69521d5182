"""Browser latency of a slider step, as a student's JupyterLab shows it (a measurement, not a test).

    CI=true .venv/bin/python -m pytest tools/browser_latency.py -s -p no:randomly

For each dashboard: run the notebook in JupyterLab in headless Chromium, wait 15 s
(warm-ups), then press an arrow key on one slider 18 times, 1.3 s apart, and
print the time from the key press (the page's own keydown event) to the first
canvas draw (a drawImage hook), to the first change of the readout's text (a
MutationObserver), and to both. The page stamps every time itself and is read
once per step, after it: polling it while a step runs (an earlier version, every
10 ms) ran on the renderer's main thread and in Playwright's driver, competing
with what it timed (LATENCY_POLL=1 measures that way, to compare). "both, from before Playwright's press" adds the press's own
delivery (a round trip through the driver), as the echo floor below counts it.
``test_echo_floor`` does the same for a bare ipywidgets slider and a small ipympl
figure, redrawn two ways: ``draw_idle`` (ipympl asks the browser, the browser asks
for a full draw: two round trips) and ``blit`` (compresslab's Blitter, what the
dashboards do: the pixels go out at once). The blit echo is the floor of this
method (Playwright's key press, the widget round trip, the PNG, the browser's
message handling); ``blit_big`` is the same at a dashboard's size (9 x 4.7 in,
a line across the whole axes): what a bigger diff image costs on its own;
``blit_corner`` the same figure with a small axes at its top-left corner (the
diff image is cropped to it, ``plots.blit.cropped_diff``). LATENCY_WINDOWING=none measures with every cell rendered (the
browser tests' setting); the default is JupyterLab's own (what `make lab` gives).
"""
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import nbformat  # noqa: E402
import pytest  # noqa: E402
from test_browser import _dismiss_dialogs, _slider, _wait_for_run, browser, lab  # noqa: E402,F401

HOOK = """() => {
  if (window.__hooked) return; window.__hooked = true; window.__draws = [];
  const orig = CanvasRenderingContext2D.prototype.drawImage;
  CanvasRenderingContext2D.prototype.drawImage = function(...a) { window.__draws.push(performance.now()); return orig.apply(this, a); };
}"""
STEP_SECONDS = 1.3      # one arrow-key step every 1.3 s, as the earlier polling version paced them
POLL = os.environ.get("LATENCY_POLL", "") == "1"    # LATENCY_POLL=1: the earlier polling method (to compare)
CASES = {"01_low_rank_factorization.ipynb": "rank 1", "02_quantization.ipynb": "weight bits",
         "03_pruning.ipynb": "sparsity", "04_distillation.ipynb": "temperature T"}

def _windowing(log):
    """The tests' lab renders every cell (windowing "none": off-screen cells exist in
    the DOM). A student's `make lab` has JupyterLab's default windowing; measure that
    unless LATENCY_WINDOWING=none. The server reads the settings file on each page load."""
    tracker = log.parent / "settings" / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    if os.environ.get("LATENCY_WINDOWING", "default") != "none" and tracker.exists():
        tracker.unlink()
    return "none" if tracker.exists() else "default"


@pytest.mark.parametrize("notebook", sorted(CASES))
def test_latency(notebook, lab, browser):
    base, token, log = lab
    windowing = _windowing(log)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    ws = notebook.split(".")[0].replace("_", "-") + "-lat"
    page.goto(f"{base}/lab/workspaces/{ws}/tree/notebooks/{notebook}?token={token}", wait_until="domcontentloaded")
    page.wait_for_selector(".jp-Notebook", timeout=300_000)
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget && window.jupyterapp.shell.currentWidget.sessionContext.kernelDisplayStatus === 'idle'", timeout=300_000)
    _dismiss_dialogs(page)
    page.evaluate("() => window.jupyterapp.shell.currentWidget.activate()")
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    _wait_for_run(page)
    time.sleep(15)                                    # warm-ups done, as a lecturer talks first
    page.evaluate(HOOK)
    dashboard = page.locator(".jp-OutputArea-output").filter(has=page.locator(".widget-slider")).filter(
        has=page.locator(".jupyter-matplotlib-canvas-div")).first
    slider = _slider(page, dashboard, CASES[notebook]); slider.scroll_into_view_if_needed()
    handle = slider.locator(".noUi-handle").first
    # the readout (numbers such as the entropy) answers too: the first change of its text
    dashboard.locator(".widget-html").filter(has=page.locator("table")).first.evaluate(
        "(el) => { window.__readouts = []; new MutationObserver(() => window.__readouts.push(performance.now()))"
        ".observe(el, {subtree: true, childList: true, characterData: true}); }")
    # the page stamps the key press itself (a capturing keydown listener): the time from there is what
    # a student waits for. No polling while a step runs: each page.evaluate runs on the renderer's main
    # thread (and in Playwright's driver), competing for the CPU with the work being timed
    page.evaluate("() => { window.__keys = []; "
                  "document.addEventListener('keydown', () => window.__keys.push(performance.now()), true); }")
    lat, readout, both, before = [], [], [], []
    for key in ["ArrowLeft"] * 6 + ["ArrowRight"] * 6 + ["ArrowLeft"] * 6:
        handle.focus()
        t0 = page.evaluate("() => performance.now()")
        page.keyboard.press(key)
        if POLL:                  # the earlier method, to compare: ask the page every 10 ms until both came
            deadline = time.time() + 5
            while time.time() < deadline and not page.evaluate(
                    f"() => window.__draws.some(t => t > {t0}) && window.__readouts.some(t => t > {t0})"):
                time.sleep(0.01)
            time.sleep(max(0.0, STEP_SECONDS - 0.1))
        else:
            time.sleep(STEP_SECONDS)
        down, first, text = page.evaluate(f"() => [window.__keys.find(t => t > {t0}) || null, "
                                          f"window.__draws.find(t => t > {t0}) || null, "
                                          f"window.__readouts.find(t => t > {t0}) || null]")
        down = down or t0
        if first: lat.append(first - down)
        if text: readout.append(text - down)
        if first and text:
            both.append(max(first, text) - down)
            before.append(max(first, text) - t0)
    assert lat, f"{notebook}: no step drew anything within {STEP_SECONDS} s"
    for what, values in (("canvas", lat), ("readout", readout), ("both", both),
                         ("both, from before Playwright's press", before)):
        values.sort()
        if values:
            print(f"\nLATENCY ({windowing} windowing) {notebook} {CASES[notebook]} {what}: n={len(values)} "
                  f"median {values[len(values) // 2]:.0f} ms max {values[-1]:.0f} ms all {[round(x) for x in values]}")
    page.close()


CODE = '''%matplotlib widget
import ipywidgets as w, matplotlib.pyplot as plt
s = w.IntSlider(0, 0, 100, description="echo", continuous_update=False); lab = w.Label("v0")
with plt.ioff():
    fig, ax = plt.subplots(figsize=(9, 4.7) if "{redraw}" in ("blit_big", "blit_corner") else (3, 2))
if "{redraw}" == "blit_corner":
    ax.set_position([0.03, 0.6, 0.3, 0.35])      # what moves sits top-left: the diff image is cropped small
line, = ax.plot([0, 1], [0, 0])
ax.set_ylim(0, 1)
from compresslab.plots import Blitter
blitter = Blitter(fig, [line]) if "{redraw}".startswith("blit") else None
def on(change):
    lab.value = f"v{change.new}"; line.set_ydata([0, change.new / 100])
    blitter.update() if blitter else fig.canvas.draw_idle()
s.observe(on, "value")
w.VBox([s, lab, fig.canvas])'''

@pytest.mark.parametrize("redraw", ["draw_idle", "blit", "blit_big", "blit_corner"])
def test_echo_floor(redraw, lab, browser):
    base, token, log = lab
    windowing = _windowing(log)
    root = log.parent / "root" / "notebooks"
    nb = nbformat.v4.new_notebook(); nb.cells = [nbformat.v4.new_code_cell(CODE.replace("{redraw}", redraw))]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, root / f"echo_{redraw}.ipynb")
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(f"{base}/lab/workspaces/echo-{redraw}/tree/notebooks/echo_{redraw}.ipynb?token={token}",
              wait_until="domcontentloaded")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget && window.jupyterapp.shell.currentWidget.sessionContext.kernelDisplayStatus === 'idle'", timeout=300_000)
    _dismiss_dialogs(page)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    _wait_for_run(page); time.sleep(3)
    page.evaluate("""() => { window.__draws = []; const o = CanvasRenderingContext2D.prototype.drawImage;
      CanvasRenderingContext2D.prototype.drawImage = function(...a) { window.__draws.push(performance.now()); return o.apply(this, a); };
      window.__labels = []; new MutationObserver(() => window.__labels.push(performance.now())).observe(document.body, {subtree: true, characterData: true, childList: true}); }""")
    page.evaluate("() => { window.__keys = []; "
                  "document.addEventListener('keydown', () => window.__keys.push(performance.now()), true); }")
    handle = page.locator(".widget-slider .noUi-handle").first
    draw_lat, before = [], []
    for key in ["ArrowRight"] * 10:
        handle.focus(); t0 = page.evaluate("() => performance.now()"); page.keyboard.press(key); time.sleep(1.0)
        down, d = page.evaluate(f"() => [window.__keys.find(t => t > {t0}) || null, "
                                f"window.__draws.find(t => t > {t0}) || null]")
        if d:
            draw_lat.append(round(d - (down or t0)))
            before.append(round(d - t0))
    draw_lat.sort(); before.sort()
    print(f"\nECHO ({windowing} windowing) {redraw}: median {draw_lat[len(draw_lat) // 2] if draw_lat else None} ms "
          f"from the keydown ({before[len(before) // 2] if before else None} ms from before Playwright's press), "
          f"all {draw_lat}")
