"""Each notebook in a real JupyterLab, in Debian's headless Chromium, driven by Playwright.

Runs all cells, waits for the kernel, checks no cell shows an error, then
drives every control of the notebook's dashboard (DASHBOARD_STEPS): moves
each slider with the keyboard and presses each toggle, checking that the
figure's canvas image changed; sets the epochs of a training button and
presses it, checking that the progress bar reached its end, the readout
reports the run and the figure changed. A screenshot per notebook goes to
artifacts/.
Without /usr/bin/chromium the tests skip, except in CI (CI=true), where they fail.
"""
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# What to do in each notebook's dashboard, in order, naming each control as the user sees it:
#   ("slider", description)     move it with the keyboard: the figure must change;
#   ("toggle", text)            press that toggle button: the figure must change;
#   ("set", description, n)     set an integer slider that only feeds a button (epochs) to n;
#   ("button", text, pattern)   press a training button: it must finish (bounded wait), its
#                               progress bar end full, the readout change and match the
#                               regular expression ``pattern``, and the figure change.
# Epochs are set to 1 before each button: a browser test checks wiring, not convergence.
DASHBOARD_STEPS = {
    "00_introduction.ipynb": [("slider", "hidden 1"), ("slider", "hidden 2")],
    "01_low_rank_factorization.ipynb": [
        ("slider", "rank 1"), ("slider", "rank 2"), ("slider", "rank 3"),
        ("toggle", "energy"), ("slider", "energy"),
        ("toggle", "global budget"), ("slider", "budget %"),
    ],
    "02_quantization.ipynb": [
        ("slider", "weight bits"), ("toggle", "affine"), ("toggle", "neuron"), ("toggle", "mse"),
        ("slider", "activation bits"),
    ],
    "03_pruning.ipynb": [
        ("slider", "sparsity"), ("toggle", "taylor"), ("toggle", "layer"), ("toggle", "spare"),
        ("toggle", "bitmask"), ("toggle", "relative"), ("toggle", "dense"), ("toggle", "1"), ("toggle", "neurons"),
        ("set", "epochs", 1), ("button", "Fine-tune", r"fine-tuned.*after 1 epoch\b"),       # the smaller dense net
        ("toggle", "weights"), ("toggle", "csr"), ("button", "Fine-tune", r"fine-tuned.*after 1 epoch\b"),  # masks
    ],
    "04_distillation.ipynb": [
        ("slider", "temperature T"), ("slider", "soft weight w"), ("toggle", "100"), ("toggle", "tanh"),
        ("toggle", "2 layers"), ("toggle", "no hidden"), ("toggle", "relu"), ("slider", "test image"),
        ("set", "epochs", 1),
        ("button", "Train this student", r"trained here.*best of 1 epoch"),
    ],
}

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _need_chromium():
    if not Path(CHROMIUM).exists():
        message = f"Chromium not found at {CHROMIUM} (Debian package 'chromium')"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message + ": CI must run the browser tests")
        pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on a free loopback port, with a token and clean settings."""
    _need_chromium()
    home = tmp_path_factory.mktemp("jupyter")
    settings = home / "settings"
    # Classic rendering (no windowing) so off-screen cells exist in the DOM.
    tracker = settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True)
    tracker.write_text(json.dumps({"windowingMode": "none"}))
    # The settings `make lab` and Binder install (tools/lab-overrides.json), as user settings:
    # widget messages on the main shell, so ipympl never draws while a cell runs (matplotlib
    # is not thread-safe: JupyterLab >= 4.4 with ipykernel >= 7 otherwise races, ipympl#610).
    overrides = json.loads((ROOT / "tools" / "lab-overrides.json").read_text())
    for plugin, values in overrides.items():
        package, name = plugin.split(":")
        path = settings / package / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    # No autosave, and a copy of the notebooks: running them must never write into the repo.
    docmanager = settings / "@jupyterlab" / "docmanager-extension" / "plugin.jupyterlab-settings"
    docmanager.parent.mkdir(parents=True, exist_ok=True)
    docmanager.write_text(json.dumps({"autosave": False}))
    root = home / "root"
    shutil.copytree(ROOT / "notebooks", root / "notebooks")
    config = home / "config"
    (config / "labconfig").mkdir(parents=True)
    # No "get notified about Jupyter news?" prompt.
    (config / "labconfig" / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(settings), "JUPYTER_CONFIG_DIR": str(config),
           "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces")}
    port, token = _free_port(), secrets.token_hex(16)
    log = open(home / "lab.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         "--LabApp.expose_app_in_browser=True", "--ServerApp.port_retries=0"]
        + (["--allow-root"] if os.geteuid() == 0 else []),
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if server.poll() is not None:
                raise RuntimeError((home / "lab.log").read_text())
            time.sleep(0.5)
    else:
        server.kill()
        raise RuntimeError("JupyterLab did not start in 60 s:\n" + (home / "lab.log").read_text())
    yield base, token, home / "lab.log"
    server.terminate()
    try:
        server.wait(10)
    except subprocess.TimeoutExpired:
        server.kill()
    log.close()


@pytest.fixture(scope="module")
def browser():
    _need_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


NOTEBOOK_STATE_JS = """() => {
  const widget = window.jupyterapp.shell.currentWidget;
  if (!widget || !widget.content || !widget.content.model) return null;
  const cells = widget.content.model.cells;
  const state = {n: 0, done: 0, errors: [], kernel: widget.sessionContext.kernelDisplayStatus};
  for (let i = 0; i < cells.length; i++) {
    const cell = cells.get(i);
    if (cell.type !== 'code') continue;
    state.n += 1;
    if (cell.executionCount !== null) state.done += 1;
    for (const out of cell.outputs.toJSON()) {
      if (out.output_type === 'error') state.errors.push(out.ename + ': ' + out.evalue);
    }
  }
  return state;
}"""


def _dismiss_dialogs(page):
    """Kernel selection or other modal dialogs: accept the default."""
    dialog = page.locator(".jp-Dialog")
    if dialog.count():
        page.locator(".jp-Dialog .jp-mod-accept").first.click()


def _wait_for_run(page, timeout=900):           # a hang guard: a busy machine may take minutes
    deadline = time.time() + timeout
    state = None
    while time.time() < deadline:
        _dismiss_dialogs(page)
        state = page.evaluate(NOTEBOOK_STATE_JS)
        if state and state["n"] and state["done"] == state["n"] and state["kernel"] == "idle":
            return state
        if state and state["errors"]:
            return state
        time.sleep(0.5)
    raise AssertionError(f"notebook did not finish in {timeout} s: {state}")


def _canvas_png(canvas):
    canvas.scroll_into_view_if_needed()
    return canvas.screenshot()


def _wait_for_canvas_change(canvas, before, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        time.sleep(0.5)
        after = _canvas_png(canvas)
        if after != before:
            return after
    return None


def _slider(page, dashboard, description):
    return dashboard.locator(".widget-slider").filter(
        has=page.locator(".widget-label", has_text=re.compile(f"^{re.escape(description)}$"))).first


def _move_slider(page, dashboard, canvas, description):
    slider = _slider(page, dashboard, description)
    slider.scroll_into_view_if_needed()
    before = _canvas_png(canvas)
    handle = slider.locator(".noUi-handle").first
    after = None
    for key in ["ArrowLeft"] * 4 + ["ArrowRight"] * 8:      # a one-step move may move no pixel
        handle.focus()
        page.keyboard.press(key)
        after = _wait_for_canvas_change(canvas, before, timeout=15)
        if after is not None:
            break
    assert after is not None, f"moving slider {description!r} did not change the figure"


def _set_slider(page, dashboard, description, value, timeout=30):
    """Set an integer slider with the keyboard (Home, then arrows) until its readout shows ``value``."""
    slider = _slider(page, dashboard, description)
    slider.scroll_into_view_if_needed()
    handle, readout = slider.locator(".noUi-handle").first, slider.locator(".widget-readout").first
    handle.focus()
    page.keyboard.press("Home")
    deadline = time.time() + timeout
    while time.time() < deadline:
        shown = readout.inner_text().strip()
        if shown == str(value):
            return
        if shown.isdigit():
            handle.focus()
            page.keyboard.press("ArrowRight" if int(shown) < value else "ArrowLeft")
        time.sleep(0.2)
    raise AssertionError(f"slider {description!r} shows {readout.inner_text()!r}, not {value}")


def _error_panels(page):
    return [t for t in (p.inner_text().strip() for p in page.locator(".compresslab-errors").all()) if t]


READOUT_JS = "(el) => Array.from(el.querySelectorAll('.widget-html')).map(h => h.innerText).join('\\n')"
BAR_WIDTH_JS = "(el) => el.querySelector('.widget-hprogress .progress-bar').style.width"
# Records that the button went disabled and then enabled again: a run's start and end, however
# short (polling could miss a one-second run, and the readout also changes when a timing lands).
WATCH_BUTTON_JS = """(button) => {
  if (window.compresslabWatch) window.compresslabWatch.disconnect();
  const run = window.compresslabRun = {started: false, ended: false};
  window.compresslabWatch = new MutationObserver(() => {
    if (button.disabled) run.started = true; else if (run.started) run.ended = true;
  });
  window.compresslabWatch.observe(button, {attributes: true, attributeFilter: ['disabled']});
}"""


def _press_button(page, dashboard, canvas, text, pattern, timeout=600):
    """Press a training button and wait (bounded, generous: the machine is shared) until the
    run ended (the button disabled, then enabled again); then the progress bar must be full,
    the readout changed and matching ``pattern``, and the figure changed (the new point)."""
    button = dashboard.locator("button.jupyter-button").filter(has_text=text).first
    button.scroll_into_view_if_needed()
    assert button.is_enabled(), f"button {text!r} is disabled before it was pressed"
    readout_before, before = dashboard.evaluate(READOUT_JS), _canvas_png(canvas)
    button.evaluate(WATCH_BUTTON_JS)
    button.click()
    deadline = time.time() + timeout
    while not page.evaluate("() => window.compresslabRun.ended"):
        assert not _error_panels(page), _error_panels(page)
        assert time.time() < deadline, (f"button {text!r}: run not over after {timeout} s "
                                        f"({page.evaluate('() => window.compresslabRun')})")
        time.sleep(0.5)
    deadline, readout = time.time() + 60, readout_before      # the readout is rendered after the run
    while not (readout != readout_before and re.search(pattern, readout, re.S)) and time.time() < deadline:
        time.sleep(0.5)
        readout = dashboard.evaluate(READOUT_JS)
    assert not _error_panels(page), _error_panels(page)
    assert re.search(pattern, readout, re.S) and readout != readout_before, (
        f"button {text!r}: readout did not gain {pattern!r}: {readout!r}")
    assert dashboard.evaluate(BAR_WIDTH_JS) == "100%", f"button {text!r}: progress bar not full"
    assert _wait_for_canvas_change(canvas, before) is not None, f"button {text!r} changed nothing in the figure"


@pytest.mark.parametrize("notebook", sorted(DASHBOARD_STEPS))
def test_notebook_in_jupyterlab(notebook, lab, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        _drive_notebook(page, notebook, lab)
    except BaseException:
        ARTIFACTS.mkdir(exist_ok=True)        # what the user would have seen, and the server's log
        page.screenshot(path=str(ARTIFACTS / f"{Path(notebook).stem}-failure.png"), full_page=True)
        shutil.copy(lab[2], ARTIFACTS / f"{Path(notebook).stem}-failure-lab.log")
        raise
    finally:
        page.close()


def _drive_notebook(page, notebook, lab):
    base, token, _ = lab
    console_errors = []
    page.on("pageerror", lambda exc: console_errors.append(str(exc)))
    # A workspace of its own: nothing restored from the previous notebook's page.
    workspace = Path(notebook).stem.replace("_", "-")
    page.goto(f"{base}/lab/workspaces/{workspace}/tree/notebooks/{notebook}?token={token}",
              wait_until="domcontentloaded")
    page.wait_for_selector(".jp-Notebook", timeout=300_000)
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                           " && window.jupyterapp.shell.currentWidget.sessionContext.session", timeout=300_000)
    _dismiss_dialogs(page)
    page.wait_for_function(f"() => window.jupyterapp.shell.currentWidget.context.path.endsWith({notebook!r})"
                           " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
                           " && window.jupyterapp.shell.currentWidget.sessionContext.kernelDisplayStatus"
                           " === 'idle'", timeout=300_000)
    page.evaluate("() => window.jupyterapp.shell.currentWidget.activate()")
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    state = _wait_for_run(page)
    assert state["errors"] == [], state["errors"]
    assert state["done"] == state["n"]

    page.wait_for_selector(".jupyter-matplotlib-canvas-div canvas", timeout=30_000)
    # the dashboard: the output that holds both sliders and a figure
    dashboard = page.locator(".jp-OutputArea-output").filter(has=page.locator(".widget-slider")).filter(
        has=page.locator(".jupyter-matplotlib-canvas-div")).first
    canvas = dashboard.locator(".jupyter-matplotlib-canvas-div canvas").first
    for kind, name, *arg in DASHBOARD_STEPS[notebook]:
        if kind == "slider":
            _move_slider(page, dashboard, canvas, name)
        elif kind == "set":
            _set_slider(page, dashboard, name, *arg)
        elif kind == "button":
            _press_button(page, dashboard, canvas, name, *arg)
        else:
            before = _canvas_png(canvas)
            dashboard.locator(".widget-toggle-button").filter(
                has_text=re.compile(f"^{re.escape(name)}$")).first.click()
            assert _wait_for_canvas_change(canvas, before) is not None, f"toggle {name!r} changed nothing"
    state = page.evaluate(NOTEBOOK_STATE_JS)
    assert state["errors"] == [], state["errors"]
    assert not _error_panels(page), _error_panels(page)          # the dashboards' error panels

    ARTIFACTS.mkdir(exist_ok=True)
    dashboard.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / f"{Path(notebook).stem}.png"))
    assert not console_errors, console_errors
