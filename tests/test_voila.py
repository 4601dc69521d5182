"""Lecture mode in the browser: `make present` as the README says (port aside), each notebook
rendered by Voila in Debian's headless Chromium: no code, no traceback, every slider of every
dashboard moves its figure. A screenshot per notebook goes to artifacts/voila-<notebook>.png."""
import os
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from test_browser import ARTIFACTS, ROOT, _free_port, _need_chromium, browser  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
# Sliders that set up a button's work (how many epochs) change no figure until the button is pressed.
NOT_LIVE = {"epochs"}


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


def _wait_for_change(page, before, timeout=20):
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
        assert "Traceback" not in text and "Error" not in text.replace("error panel", ""), text[-2000:]
        # lecture mode shows no code
        assert page.locator(".jp-InputArea-editor, .jp-CodeMirrorEditor, .cm-editor").count() == 0
        sliders = page.locator(".widget-slider").all()
        assert sliders, "no dashboard slider rendered"
        moved = 0
        for slider in sliders:
            label = slider.locator(".widget-label").first.inner_text().strip()
            handle = slider.locator(".noUi-handle").first
            if label in NOT_LIVE or not handle.is_visible() or slider.get_attribute("disabled") is not None:
                continue
            if "disabled" in (slider.get_attribute("class") or ""):
                continue
            slider.scroll_into_view_if_needed()
            before = _figures(page)
            handle.focus()
            page.keyboard.press("ArrowLeft")
            changed = _wait_for_change(page, before)
            if not changed:                         # at the left end already: go right instead
                handle.focus()
                page.keyboard.press("ArrowRight")
                page.keyboard.press("ArrowRight")
                changed = _wait_for_change(page, before)
            assert changed, f"{notebook}: moving slider {label!r} did not change any figure"
            moved += 1
        assert moved, f"{notebook}: no live slider moved"
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
