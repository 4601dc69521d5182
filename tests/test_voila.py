"""Lecture mode in the browser: `make present` as the README says (port aside), each notebook
rendered by Voila in Debian's headless Chromium: no code, no traceback, every slider of every
dashboard moves its figure (the steps of test_browser.DASHBOARD_STEPS: toggles set a
mode, then that mode's sliders). A screenshot per notebook goes to artifacts/voila-<notebook>.png."""
import os
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from test_browser import (ARTIFACTS, DASHBOARD_STEPS, ROOT, _free_port, _need_chromium,  # noqa: F401
                          browser)  # a fixture

pytestmark = [pytest.mark.browser, pytest.mark.slow]
NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def present(tmp_path_factory):
    """`make present` started exactly as the README says, on a free port; yields (base, token)."""
    _need_chromium()
    log_path = tmp_path_factory.mktemp("voila") / "voila.log"
    log = open(log_path, "w")
    port = _free_port()
    server = subprocess.Popen(["make", "-s", "present", f"PRESENT_PORT={port}"], cwd=ROOT, stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    deadline, url = time.time() + 180, None
    while time.time() < deadline and url is None:
        match = re.search(r"(http://127\.0\.0\.1:\d+/)\?token=([0-9a-f]+)", log_path.read_text())
        if match:
            url = match.groups()
        elif server.poll() is not None:
            raise RuntimeError(log_path.read_text())
        time.sleep(0.5)
    if url is None:
        os.killpg(server.pid, signal.SIGTERM)
        raise RuntimeError("make present printed no URL in 180 s:\n" + log_path.read_text())
    yield url[0].rstrip("/"), url[1], log_path
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
    log.close()


CANVASES_JS = """() => Array.from(document.querySelectorAll('.jupyter-matplotlib-canvas-div canvas'))
  .map(c => { try { return c.toDataURL().length + ':' + c.toDataURL().slice(-200); } catch (e) { return ''; } })"""


def _figures(page):
    return page.evaluate(CANVASES_JS)


def _wait_for_change(page, before, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        time.sleep(0.4)
        if _figures(page) != before:
            return True
    return False


def test_present_opens_on_the_notebooks_in_teaching_order(present, browser):
    base, token, _ = present
    page = browser.new_page(viewport={"width": 1024, "height": 768})
    try:
        page.goto(f"{base}/?token={token}", wait_until="domcontentloaded", timeout=120_000)
        page.wait_for_function(f"() => document.body.innerText.includes({NOTEBOOKS[-1]!r})", timeout=120_000)
        text = page.inner_text("body")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "voila-tree.png"))
    finally:
        page.close()
    positions = [text.find(name) for name in NOTEBOOKS]
    assert all(p >= 0 for p in positions), (NOTEBOOKS, text[:500])
    assert positions == sorted(positions)                  # listed in teaching order (00, 01, ...)


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_notebook_in_voila(notebook, present, browser):
    base, token, log_path = present
    page = browser.new_page(viewport={"width": 1024, "height": 768})      # a projector
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"{base}/voila/render/{notebook}?token={token}", wait_until="domcontentloaded",
                  timeout=120_000)
        page.wait_for_selector("#rendered_cells", state="visible", timeout=240_000)
        page.wait_for_selector(".jupyter-matplotlib-canvas-div canvas", timeout=60_000)
        time.sleep(2)
        text = page.inner_text("body")
        # no traceback and no exception line ("ValueError: ..."); prose may name an error class
        assert "Traceback" not in text, text[-2000:]
        assert not re.search(r"\b[A-Z][A-Za-z]*(Error|Exception): ", text), re.findall(r".*Error: .*", text)[:3]
        # lecture mode shows no code
        assert page.locator(".jp-InputArea-editor, .jp-CodeMirrorEditor, .cm-editor").count() == 0
        # every dashboard step the JupyterLab test takes: toggles set a mode, sliders must move a figure
        assert page.locator(".widget-slider").count(), "no dashboard slider rendered"
        for kind, name, *_ in DASHBOARD_STEPS[notebook]:
            if kind not in ("slider", "toggle"):      # training buttons: the JupyterLab test presses them
                continue
            before = _figures(page)
            if kind == "slider":
                slider = page.locator(".widget-slider").filter(
                    has=page.locator(".widget-label", has_text=re.compile(f"^{re.escape(name)}$"))).first
                slider.scroll_into_view_if_needed()
                handle = slider.locator(".noUi-handle").first
                changed = False
                for key in ["ArrowLeft"] * 4 + ["ArrowRight"] * 8:   # a one-step move may move no pixel
                    handle.focus()
                    page.keyboard.press(key)
                    if _wait_for_change(page, before, timeout=15):
                        changed = True
                        break
                assert changed, f"{notebook}: moving slider {name!r} did not change any figure"
            else:
                button = page.locator(".widget-toggle-button").filter(
                    has_text=re.compile(f"^{re.escape(name)}$")).first
                button.scroll_into_view_if_needed()
                button.click()
                assert _wait_for_change(page, before), f"{notebook}: toggle {name!r} changed no figure"
        for panel in page.locator(".compresslab-errors").all():
            assert panel.inner_text().strip() == "", panel.inner_text()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"voila-{Path(notebook).stem}.png"), full_page=True)
        assert not errors, errors
    except BaseException:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"voila-{Path(notebook).stem}-failure.png"), full_page=True)
        (ARTIFACTS / "voila-failure.log").write_text(log_path.read_text())
        raise
    finally:
        page.close()
